#!/usr/bin/env node
// Run a priot RP2040 firmware image in rp2040js and stream its UART0 output.
//
//   node run.mjs --firmware fw.bin [--blob 0xADDR:file]... [--max-cycles N]
//                [--timeout SECONDS] [--stop-on "PRIOT DONE"] [--boot2]
//                [--instruction-clock] [--opcode-histogram FILE]
//                [--power-cut-after N] [--flash-out FILE] [--uart-feed FILE]
//
// The boot ROM's flash functions are emulated (flash_rom.mjs): firmware can erase and
// program flash as on silicon. --power-cut-after N stops the run half-way through the
// N+1-th flash erase/program (status power_cut); --flash-out writes the 2 MiB flash image
// as it is at the end (after a power cut too), to flash back as blobs on the next run.
// --uart-feed FILE: stream mode, frames fed to UART0 RX stop-and-wait (uart_feed.mjs);
// the replies come back as "FRAME <hex>" lines and the run ends when all are answered.
//
// stdout: UART0 lines as they arrive. stderr: at most a few EMU-* notes, then one line
//   EMU {"status":...,"cycles":...,"instructions":...,"wall_s":...,"clk_sys":...,"mips":...}
// Exit codes: 0 done/idle, 2 break/lockup, 3 timeout/cycle_limit, 4 bad arguments.
// See README.md for what is emulated beyond stock rp2040js (HardFault entry).
import { readFileSync, writeFileSync } from 'node:fs';
import { RP2040 } from 'rp2040js';
import { FlashRomError, installFlashRom } from './flash_rom.mjs';
import { UartFeedError, UartFeeder, parseFeed } from './uart_feed.mjs';

const FLASH_BASE = 0x10000000;
const FLASH_SIZE = 2 * 1024 * 1024; // the Pico's W25Q16 flash
const VECTOR_TABLE = FLASH_BASE + 0x100;
const SRAM_BASE = 0x20000000;
const BOOT2_SIZE = 256;
const BOOT2_RUN_ADDR = 0x20041f00; // where the bootrom copies boot2
const STACK_TOP = 0x20042000;
const EXC_NMI = 2;
const EXC_HARDFAULT = 3;
const BKPT_OPCODE_HIGH_BYTE = 0xbe;
const CHECK_EVERY = 100_000; // loop steps between wall-clock and cycle-limit checks
const MAX_WARNINGS = 20;
const EXIT_CODES = { done: 0, idle: 0, power_cut: 0, break: 2, lockup: 2, timeout: 3, cycle_limit: 3 };
const EXIT_BAD_ARGUMENTS = 4;
const USAGE =
  'usage: node run.mjs --firmware fw.bin [--blob 0xADDR:file]... [--max-cycles N] ' +
  '[--timeout SECONDS] [--stop-on TEXT] [--boot2] [--instruction-clock] [--opcode-histogram FILE] ' +
  '[--power-cut-after N] [--flash-out FILE] [--uart-feed FILE]';

class UsageError extends Error {}

const hex = (value) => '0x' + (value >>> 0).toString(16).padStart(8, '0');

function parsePositive(text, option) {
  const value = Number(text);
  if (!(value > 0)) {
    throw new UsageError(`${option} needs a positive number, got ${JSON.stringify(text)}`);
  }
  return value;
}

function parseArgs(argv) {
  const args = {
    firmware: null, blobs: [], maxCycles: null, timeoutS: null, stopOn: 'PRIOT DONE', boot2: false,
    instructionClock: false, opcodeHistogram: null, powerCutAfter: null, flashOut: null,
    uartFeed: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const option = argv[i];
    if (option === '--boot2') {
      args.boot2 = true;
      continue;
    }
    if (option === '--instruction-clock') {
      args.instructionClock = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) {
      throw new UsageError(`${option} needs a value`);
    }
    if (option === '--firmware') {
      args.firmware = value;
    } else if (option === '--blob') {
      const match = /^(0x[0-9a-fA-F]+|\d+):(.+)$/.exec(value);
      if (!match) {
        throw new UsageError(`--blob wants ADDR:file, got ${JSON.stringify(value)}`);
      }
      args.blobs.push({ addr: Number(match[1]), file: match[2] });
    } else if (option === '--max-cycles') {
      args.maxCycles = parsePositive(value, option);
    } else if (option === '--timeout') {
      args.timeoutS = parsePositive(value, option);
    } else if (option === '--stop-on') {
      args.stopOn = value;
    } else if (option === '--opcode-histogram') {
      args.opcodeHistogram = value;
    } else if (option === '--power-cut-after') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) {
        throw new UsageError(`--power-cut-after needs a whole number of flash operations, got ${JSON.stringify(value)}`);
      }
      args.powerCutAfter = n;
    } else if (option === '--flash-out') {
      args.flashOut = value;
    } else if (option === '--uart-feed') {
      args.uartFeed = value;
    } else {
      throw new UsageError(`unknown option ${option}`);
    }
  }
  if (!args.firmware) {
    throw new UsageError('--firmware is required');
  }
  return args;
}

function readInput(file) {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${err.message}`);
  }
}

/** Firmware at flash offset 0, blobs at their addresses; no overlaps, all inside flash. */
function loadFlash(mcu, args) {
  const firmware = readInput(args.firmware);
  const regions = [{ start: 0, end: firmware.length, name: `firmware ${args.firmware}` }];
  if (firmware.length > FLASH_SIZE) {
    throw new UsageError(`firmware ${args.firmware} (${firmware.length} bytes) exceeds the 2 MiB flash`);
  }
  for (const { addr, file } of args.blobs) {
    const data = readInput(file);
    const start = addr - FLASH_BASE;
    const region = { start, end: start + data.length, name: `blob ${file}` };
    const span = `${hex(addr)}..${hex(addr + data.length)}`;
    if (start < 0 || region.end > FLASH_SIZE) {
      throw new UsageError(
        `blob ${file} at ${span} lies outside the 2 MiB flash ${hex(FLASH_BASE)}..${hex(FLASH_BASE + FLASH_SIZE)}`,
      );
    }
    for (const other of regions) {
      if (region.start < other.end && other.start < region.end) {
        throw new UsageError(
          `blob ${file} at ${span} overlaps ${other.name} at ` +
            `${hex(FLASH_BASE + other.start)}..${hex(FLASH_BASE + other.end)}`,
        );
      }
    }
    regions.push(region);
    mcu.flash.set(data, start);
  }
  mcu.flash.set(firmware, 0);
}

/** Enter the image like the bootrom + boot2 would (--boot2), or directly via its vectors. */
function enterImage(mcu, boot2) {
  const { core } = mcu;
  if (boot2) {
    mcu.sram.set(mcu.flash.subarray(0, BOOT2_SIZE), BOOT2_RUN_ADDR - SRAM_BASE);
    core.SP = STACK_TOP;
    core.LR = 0;
    core.PC = BOOT2_RUN_ADDR;
  } else {
    core.VTOR = VECTOR_TABLE;
    core.SP = mcu.readUint32(VECTOR_TABLE);
    core.PC = mcu.readUint32(VECTOR_TABLE + 4) & ~1;
  }
}

function run(args) {
  const mcu = new RP2040();
  mcu.reset();
  loadFlash(mcu, args);
  const rom = installFlashRom(mcu, { powerCutAfter: args.powerCutAfter, flashSize: FLASH_SIZE });
  enterImage(mcu, args.boot2);
  const { core, clock } = mcu;

  let status = null;
  let lastPC = core.PC;
  let breakCode = null;
  let fault = null; // {pc, what}: an access or instruction the M0+ would fault on
  let warnings = 0;
  const note = (text) => process.stderr.write(`EMU-NOTE ${text}\n`);

  // rp2040js logs (and then ignores) what silicon turns into a HardFault; catch those.
  mcu.logger = {
    debug() {},
    info() {},
    warn(component, message) {
      const undefinedInstruction = /Instruction at ([0-9a-f]+) is not implemented/.exec(message);
      if (undefinedInstruction) {
        fault ??= { pc: parseInt(undefinedInstruction[1], 16), what: 'undefined instruction' };
      } else if (/^(Read from invalid memory address|Write to undefined address)/.test(message)) {
        fault ??= { pc: lastPC, what: message };
      } else if (!message.startsWith('Opcode:') && warnings++ < MAX_WARNINGS) {
        note(`[${component}] ${message}`);
      }
    },
    error(component, message) {
      fault ??= { pc: lastPC, what: message }; // e.g. unaligned word access
    },
  };
  mcu.onBreak = (code) => {
    breakCode = code;
  };

  let feeder = null;
  if (args.uartFeed !== null) {
    try {
      feeder = new UartFeeder(parseFeed(args.uartFeed));
    } catch (err) {
      if (err instanceof UartFeedError || err.code === 'ENOENT') throw new UsageError(err.message);
      throw err;
    }
  }
  let line = '';
  mcu.uart[0].onByte = (byte) => {
    if (feeder !== null && feeder.ready) {
      const frame = feeder.onTx(byte);
      if (frame !== null) process.stdout.write(frame + '\n');
      return;
    }
    if (byte === 0x0a) {
      if (feeder !== null && line.startsWith('PRIOT STREAM status=ready')) {
        feeder.ready = true;
      }
      process.stdout.write(line + '\n');
      if (line.startsWith(args.stopOn)) {
        status = 'done';
      }
      line = '';
    } else if (byte !== 0x0d) {
      line += String.fromCharCode(byte);
    }
  };

  let nsPerCycle = 1e9 / mcu.clkSys;
  mcu.addClockListener((hz) => {
    nsPerCycle = 1e9 / hz;
  });

  // BKPT stops the run; UDF is an undefined instruction: HardFault, as on silicon.
  const handleBreak = () => {
    const at = ((core.PC & ~1) - core.breakRewind) >>> 0;
    try {
      if (rom.handle(at, breakCode)) {
        breakCode = null;
        if (rom.state.powerCut) {
          note(`power cut during flash operation ${rom.state.ops + 1}`);
          status = 'power_cut';
        }
        return;
      }
    } catch (err) {
      if (!(err instanceof FlashRomError)) throw err;
      fault ??= { pc: (core.LR & ~1) >>> 0, what: err.message };
      breakCode = null;
      return;
    }
    if (mcu.readUint16(at) >> 8 === BKPT_OPCODE_HIGH_BYTE) {
      note(`BKPT #${breakCode} at ${hex(at)}`);
      status = 'break';
    } else {
      fault ??= { pc: at, what: `UDF #${breakCode}` };
    }
    breakCode = null;
  };
  const enterHardFault = () => {
    note(`HardFault: ${fault.what} at ${hex(fault.pc)}`);
    if (core.IPSR === EXC_HARDFAULT || core.IPSR === EXC_NMI) {
      note('fault inside the HardFault/NMI handler: core lockup');
      status = 'lockup';
    } else {
      core.PC = fault.pc & ~1;
      core.exceptionEntry(EXC_HARDFAULT);
    }
    fault = null;
  };

  // --opcode-histogram: executed first halfwords, and how many conditional branches were
  // taken (what Renode's opcode counters cannot tell; priot.emulator.m0plus_cycles)
  const histogram = args.opcodeHistogram === null ? null : new Float64Array(1 << 16);
  let pendingBranchPC = -1;
  let conditionalTaken = 0;
  const countOpcode = (pc) => {
    if (pendingBranchPC >= 0 && pc !== pendingBranchPC + 2) {
      conditionalTaken++;
    }
    const opcode = mcu.readUint16(pc & ~1);
    histogram[opcode]++;
    pendingBranchPC = opcode >> 12 === 0b1101 && ((opcode >> 9) & 0x7) !== 0b111 ? pc & ~1 : -1;
  };

  const timeoutMs = args.timeoutS === null ? Infinity : args.timeoutS * 1000;
  const started = performance.now();
  let instructions = 0;
  let sleptCycles = 0;
  while (status === null) {
    for (let step = 0; step < CHECK_EVERY && status === null; step++) {
      if (core.waiting) {
        if (core.interruptsUpdated && core.checkForInterrupts()) {
          core.waiting = false;
        } else if (clock.nextAlarm === null) {
          status = 'idle'; // WFI with nothing left that could wake the core
        } else {
          const nanos = clock.nanosToNextAlarm;
          sleptCycles += nanos / nsPerCycle;
          clock.tick(nanos);
        }
        continue;
      }
      lastPC = core.registers[15];
      if (histogram !== null) {
        countOpcode(lastPC);
      }
      const cycles = core.executeInstruction();
      // --instruction-clock: time advances one cycle per instruction, as in Renode
      clock.tick((args.instructionClock ? 1 : cycles) * nsPerCycle);
      instructions++;
      if (breakCode !== null) {
        handleBreak();
      }
      if (feeder !== null && (step & 15) === 0 && feeder.pump(mcu.uart[0])) {
        status = 'done';
      }
      if (rom.state.fault !== null) {
        fault ??= { pc: lastPC, what: rom.state.fault };
        rom.state.fault = null;
      }
      if (fault !== null) {
        enterHardFault();
      }
    }
    if (status === null && performance.now() - started > timeoutMs) {
      status = 'timeout';
    } else if (status === null && args.maxCycles !== null && core.cycles + sleptCycles >= args.maxCycles) {
      status = 'cycle_limit';
    }
  }
  const wallS = (performance.now() - started) / 1000;
  if (line) {
    process.stdout.write(line + '\n');
  }
  const summary = {
    status,
    cycles: core.cycles + Math.round(sleptCycles),
    instructions,
    wall_s: Number(wallS.toFixed(3)),
    clk_sys: mcu.clkSys,
    mips: Number((instructions / wallS / 1e6).toFixed(2)),
  };
  summary.flash = { erased: rom.state.erased, programmed: rom.state.programmed, ops: rom.state.ops };
  if (args.flashOut !== null) {
    writeFileSync(args.flashOut, mcu.flash.subarray(0, FLASH_SIZE));
  }
  if (histogram !== null) {
    const counts = {};
    histogram.forEach((n, opcode) => {
      if (n > 0) counts[opcode] = n;
    });
    writeFileSync(args.opcodeHistogram, JSON.stringify({ opcodes: counts, conditional_taken: conditionalTaken }));
  }
  process.stderr.write(`EMU ${JSON.stringify(summary)}\n`);
  return EXIT_CODES[status];
}

try {
  process.exitCode = run(parseArgs(process.argv.slice(2)));
} catch (err) {
  if (!(err instanceof UsageError)) {
    throw err;
  }
  process.stderr.write(`run.mjs: ${err.message}\n${USAGE}\n`);
  process.exitCode = EXIT_BAD_ARGUMENTS;
}
