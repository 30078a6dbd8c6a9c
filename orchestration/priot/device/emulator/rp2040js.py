"""Backend that runs firmware in rp2040js via emulation/rp2040js/run.mjs (Node)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ...paths import EMULATION_DIR
from .base import EmulatorBackend, EmulatorError, EmulatorTimeout, EmulatorUnavailable, RunResult
from .protocol import find_fault

RUNNER_DIR = EMULATION_DIR / "rp2040js"
EXIT_TIMEOUT = 3        # run.mjs: wall timeout or cycle limit
KILL_MARGIN_S = 5.0     # run.mjs enforces the timeout itself; this is the backstop


def _tail(lines: Sequence[str], n: int = 8) -> str:
    return "\n".join(lines[-n:]) if lines else "(nothing)"


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Rp2040jsBackend(EmulatorBackend):
    name = "rp2040js"

    def __init__(self, runner_dir: Path = RUNNER_DIR, boot2: bool = False,
                 instruction_clock: bool = False, opcode_histogram: bool = False,
                 read_flash: bool = False, power_cut_after: int | None = None,
                 uart_feed: bytes | None = None):
        self.runner_dir = Path(runner_dir)
        self.boot2 = boot2  # enter through the image's boot2, as the bootrom does
        # time advances one cycle per instruction (SysTick counts instructions, as in Renode)
        self.instruction_clock = instruction_clock
        self.opcode_histogram = opcode_histogram  # count executed opcodes (slower)
        # the 2 MiB flash image at the end of the run in RunResult.flash (e.g. the saved
        # state the firmware wrote through the emulated boot ROM)
        self.read_flash = read_flash
        # stop half-way through the N+1-th flash erase/program (RunResult.status
        # "power_cut"), as a power cut would
        self.power_cut_after = power_cut_after
        # stream mode: run.mjs --uart-feed chunks (priot.core.frames.feed_file), fed to
        # UART0 RX stop-and-wait; the replies come back as "FRAME <hex>" lines
        self.uart_feed = uart_feed

    def identity(self) -> str:
        files = [self.runner_dir / "run.mjs", self.runner_dir / "flash_rom.mjs",
                 self.runner_dir / "uart_feed.mjs",
                 self.runner_dir / "package-lock.json"]
        digest = hashlib.sha256(b"".join(f.read_bytes() for f in files if f.is_file()))
        return (f"{self.name}:{digest.hexdigest()[:16]}:boot2={self.boot2}:"
                f"instruction_clock={self.instruction_clock}:"
                f"power_cut_after={self.power_cut_after}")

    def available(self) -> tuple[bool, str]:
        if shutil.which("node") is None:
            return False, "node is not installed (priot.toolchain.ensure_node())"
        if not (self.runner_dir / "node_modules" / "rp2040js").is_dir():
            return False, (f"rp2040js is not installed in {self.runner_dir} "
                           "(priot.toolchain.ensure_emulator_packages())")
        return True, ""

    def run(
        self,
        firmware_bin: Path,
        blobs: dict[int, bytes],
        timeout_s: float,
        max_cycles: int | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> RunResult:
        ok, why = self.available()
        if not ok:
            raise EmulatorUnavailable(why)
        with tempfile.TemporaryDirectory(prefix="priot-rp2040js-") as tmp:
            command = [shutil.which("node"), str(self.runner_dir / "run.mjs"),
                       "--firmware", str(firmware_bin), "--timeout", str(timeout_s)]
            for addr, data in sorted(blobs.items()):
                path = Path(tmp) / f"blob_{addr:08x}.bin"
                path.write_bytes(data)
                command += ["--blob", f"0x{addr:08x}:{path}"]
            if max_cycles is not None:
                command += ["--max-cycles", str(max_cycles)]
            if self.boot2:
                command.append("--boot2")
            if self.instruction_clock:
                command.append("--instruction-clock")
            histogram = Path(tmp) / "opcodes.json"
            if self.opcode_histogram:
                command += ["--opcode-histogram", str(histogram)]
            flash = Path(tmp) / "flash.bin"
            if self.read_flash:
                command += ["--flash-out", str(flash)]
            if self.power_cut_after is not None:
                command += ["--power-cut-after", str(int(self.power_cut_after))]
            if self.uart_feed is not None:
                feed = Path(tmp) / "uart_feed.bin"
                feed.write_bytes(self.uart_feed)
                command += ["--uart-feed", str(feed)]
            result = self._execute(command, timeout_s, on_line)
            if self.read_flash:
                result.flash = flash.read_bytes()
            if self.opcode_histogram:
                data = json.loads(histogram.read_text())
                result.opcode_histogram = {int(k): int(v) for k, v in data["opcodes"].items()}
                result.conditional_taken = int(data["conditional_taken"])
            return result

    def _execute(self, command: list[str], timeout_s: float,
                 on_line: Callable[[str], None] | None) -> RunResult:
        started = time.monotonic()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, encoding="utf-8", errors="replace",
                                start_new_session=True)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            _kill_group(proc)

        # The try starts right after Popen: a signal that arrives while the helper threads
        # start (Thread.start waits on an Event) must still kill the emulator. The timer is
        # a daemon so that a run unwinding on a signal does not wait for it at exit.
        killer = threading.Timer(timeout_s + KILL_MARGIN_S, kill)
        killer.daemon = True
        stderr: list[str] = []
        stderr_reader = threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True)
        lines: list[str] = []
        try:
            killer.start()
            stderr_reader.start()
            for raw in proc.stdout:
                line = raw.rstrip("\r\n")
                lines.append(line)
                if on_line is not None:
                    on_line(line)
            proc.wait()
        finally:
            killer.cancel()
            if proc.poll() is None:
                _kill_group(proc)
                proc.wait()
            if stderr_reader.ident is not None:   # started
                stderr_reader.join()
            proc.stdout.close()
            proc.stderr.close()
        wall_s = time.monotonic() - started
        return self._result(proc.returncode, killed.is_set(), lines,
                            [s.rstrip("\n") for s in stderr], timeout_s, wall_s)

    def _result(self, returncode: int, killed: bool, lines: list[str], stderr: list[str],
                timeout_s: float, wall_s: float) -> RunResult:
        fault = find_fault(lines)
        if fault is not None:
            raise fault
        summary = next((json.loads(s[4:]) for s in reversed(stderr) if s.startswith("EMU {")), None)
        if killed:
            raise EmulatorTimeout(
                f"rp2040js runner killed after {timeout_s} s + {KILL_MARGIN_S} s margin; "
                f"last lines:\n{_tail(lines)}", lines)
        if returncode == EXIT_TIMEOUT and summary is not None:
            raise EmulatorTimeout(
                f"firmware did not finish ({summary['status']} after {summary['cycles']} cycles, "
                f"{summary['wall_s']} s); last lines:\n{_tail(lines)}", lines)
        if returncode != 0 or summary is None:
            raise EmulatorError(
                f"rp2040js runner failed (exit {returncode}):\n{_tail(stderr, 12)}\n"
                f"last UART lines:\n{_tail(lines)}")
        return RunResult(lines=lines, status=summary["status"],
                         emulated_cycles=summary["cycles"], instructions=summary["instructions"],
                         wall_s=wall_s, backend=self.name, clk_sys_hz=int(summary["clk_sys"]),
                         flash_ops=summary.get("flash"))
