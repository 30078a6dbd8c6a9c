// The boot ROM's flash functions for a run without the real bootrom (datasheet 2.8.3):
// rp2040js models no SPI flash programming, so run.mjs puts a tiny ROM at 0x00000000 whose
// function table (pointer at 0x14) and rom_table_lookup (pointer at 0x18) lead to stubs
// `bkpt #n; bx lr`; the BKPT lands here and does what the ROM function would, on
// mcu.flash, with NOR semantics:
//   connect_internal_flash 'IF', flash_exit_xip 'EX', flash_flush_cache 'FC',
//   flash_enter_cmd_xip 'CX': XIP off between EX and CX; any instruction fetch or data
//     read of flash in between is a fault (on silicon it would read garbage or hang), so
//     code that writes flash must run from SRAM, as firmware/board/rp2040/flash.c does.
//   flash_range_erase(addr, count, block_size, cmd) 'RE': addr, count multiples of 4096;
//     bytes become 0xFF.
//   flash_range_program(addr, data, count) 'RP': addr, count multiples of 256; each byte
//     ANDed with data (programming only clears bits).
// A power cut (powerCutAfter = N): the N+1-th erase or program stops the run half-way
// through (half the bytes written), as pulling the plug mid-write would.
// Not modelled: the real ROM's timing (erase ~45 ms per sector, program ~1 ms per page on
// the Pico's W25Q16: the emulated clock does not advance), flash wear, XIP cache effects.

const FLASH_BASE = 0x10000000;
const FLASH_END = 0x14000000; // XIP aliases included
const FUNC_TABLE = 0x100;
const STUBS = 0x200;
const BKPT_BASE = 0x50; // bkpt #0x50 .. #0x56
const SECTOR = 4096;
const PAGE = 256;

const code = (a, b) => a.charCodeAt(0) | (b.charCodeAt(0) << 8);
const FUNCTIONS = [
  ['lookup', null],
  ['connect', code('I', 'F')],
  ['exit_xip', code('E', 'X')],
  ['erase', code('R', 'E')],
  ['program', code('R', 'P')],
  ['flush_cache', code('F', 'C')],
  ['enter_cmd_xip', code('C', 'X')],
];

export class FlashRomError extends Error {}

export function installFlashRom(mcu, { powerCutAfter = null, flashSize = 2 * 1024 * 1024 } = {}) {
  const rom = new Uint8Array(mcu.bootrom.buffer);
  const view = new DataView(mcu.bootrom.buffer);
  rom.fill(0);
  rom.set([0x4d, 0x75, 0x01, 0x01], 0x10); // 'M' 'u' 0x01, version
  view.setUint16(0x14, FUNC_TABLE, true);
  view.setUint16(0x16, 0, true);
  view.setUint16(0x18, STUBS | 1, true);
  FUNCTIONS.forEach(([, c], i) => {
    view.setUint16(STUBS + 4 * i, 0xbe00 | (BKPT_BASE + i), true); // bkpt #n
    view.setUint16(STUBS + 4 * i + 2, 0x4770, true); // bx lr
    if (c !== null) {
      view.setUint16(FUNC_TABLE + 4 * (i - 1), c, true);
      view.setUint16(FUNC_TABLE + 4 * (i - 1) + 2, (STUBS + 4 * i) | 1, true);
    }
  });
  view.setUint32(FUNC_TABLE + 4 * (FUNCTIONS.length - 1), 0, true); // table end

  const state = { xipOff: false, ops: 0, erased: 0, programmed: 0, powerCut: false, fault: null };
  const inFlash = (addr) => addr >= FLASH_BASE && addr < FLASH_END;
  // reads of flash while XIP is off (instruction fetches included: the core fetches through
  // these methods): a fault the run reports
  for (const name of ['readUint8', 'readUint16', 'readUint32']) {
    const original = mcu[name].bind(mcu);
    mcu[name] = (address) => {
      if (state.xipOff && inFlash(address >>> 0)) {
        state.fault ??= `flash read at 0x${(address >>> 0).toString(16)} while XIP is off ` +
          '(code writing flash must run from SRAM and read only SRAM)';
      }
      return original(address);
    };
  }

  const offset = (addr) => {
    // the ROM takes flash offsets; accept XIP addresses too
    const off = inFlash(addr) ? (addr - FLASH_BASE) & 0xffffff : addr;
    return off >>> 0;
  };
  const cut = () => {
    if (powerCutAfter !== null && state.ops >= powerCutAfter) {
      state.powerCut = true;
      return true;
    }
    state.ops++;
    return false;
  };
  const regs = mcu.core.registers;
  const actions = {
    lookup() {
      // rom_table_lookup(table, code): walk the (code, pointer) u16 pairs
      let at = regs[0] >>> 0;
      for (;;) {
        const c = mcu.readUint16(at);
        if (c === 0) {
          regs[0] = 0;
          return;
        }
        if (c === (regs[1] & 0xffff)) {
          regs[0] = mcu.readUint16(at + 2);
          return;
        }
        at += 4;
      }
    },
    connect() {},
    exit_xip() {
      state.xipOff = true;
    },
    flush_cache() {},
    enter_cmd_xip() {
      state.xipOff = false;
    },
    erase() {
      const off = offset(regs[0]);
      const count = regs[1] >>> 0;
      if (!state.xipOff) throw new FlashRomError('flash_range_erase called with XIP on');
      if (off % SECTOR || count % SECTOR || off + count > flashSize) {
        throw new FlashRomError(`flash_range_erase(0x${off.toString(16)}, ${count}): not whole sectors inside flash`);
      }
      const n = cut() ? count / 2 : count;
      mcu.flash.fill(0xff, off, off + n);
      state.erased += n;
    },
    program() {
      const off = offset(regs[0]);
      const data = regs[1] >>> 0;
      const count = regs[2] >>> 0;
      if (!state.xipOff) throw new FlashRomError('flash_range_program called with XIP on');
      if (off % PAGE || count % PAGE || off + count > flashSize) {
        throw new FlashRomError(`flash_range_program(0x${off.toString(16)}, ${count}): not whole pages inside flash`);
      }
      if (inFlash(data)) {
        throw new FlashRomError('flash_range_program reads its data from flash with XIP off');
      }
      const n = cut() ? count / 2 : count;
      state.xipOff = false; // the data is read from SRAM by the ROM, not by the program
      for (let i = 0; i < n; i++) {
        mcu.flash[off + i] &= mcu.readUint8(data + i);
      }
      state.xipOff = true;
      state.programmed += n;
    },
  };
  return {
    state,
    /** Handle a BKPT at `pc` if it is one of the ROM's stubs: true when handled. */
    handle(pc, imm) {
      const i = imm - BKPT_BASE;
      if (pc !== STUBS + 4 * i || i < 0 || i >= FUNCTIONS.length) {
        return false;
      }
      actions[FUNCTIONS[i][0]]();
      return true;
    },
  };
}
