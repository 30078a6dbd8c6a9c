"""The Renode backend: the same firmware and blobs on Renode's Cortex-M0+ model.

It writes the blobs to files, a small .resc that sets the variables of
emulation/renode/priot.resc and includes it, runs ``renode --disable-xwt --console`` with it,
follows the UART0 file backend until ``PRIOT DONE`` (or the timeout) and stops Renode.

What Renode counts: it advances virtual time per executed instruction
(instructions / PerformanceInMips), so the firmware's SysTick figures under Renode are
instruction counts scaled to 125 MHz, not Cortex-M0+ cycles; the executed-instruction
count equals rp2040js's for the same program. See docs/ARCHITECTURE.md.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from ...paths import EMULATION_DIR, REPO_ROOT
from .base import EmulatorBackend, EmulatorError, EmulatorTimeout, EmulatorUnavailable, RunResult

RENODE_DIR = EMULATION_DIR / "renode"
STOP = "PRIOT DONE"
INSTALL_HINT = ("Renode is not installed: get it from the Renode releases (renode.io) or "
                "'pip install renode-run && renode-run download', and put 'renode' on PATH. "
                "The default backend (rp2040js) needs none of this.")


def find_renode() -> str | None:
    return shutil.which("renode") or shutil.which("renode-run")


def script(firmware_elf: Path, blob_files: dict[str, Path], uart_log: Path) -> str:
    """The .resc that sets priot.resc's variables, includes it and starts the machine."""
    lines = [f"$elf=@{firmware_elf}"]
    lines += [f"${name}=@{path}" for name, path in sorted(blob_files.items())]
    lines += [f"$uart_log=@{uart_log}", f"include @{RENODE_DIR / 'priot.resc'}", "start"]
    return "\n".join(lines) + "\n"


class RenodeBackend(EmulatorBackend):
    name = "renode"

    def available(self) -> tuple[bool, str]:
        return (True, "") if find_renode() else (False, INSTALL_HINT)

    def run(self, firmware_bin: Path, blobs: dict[int, bytes], timeout_s: float,
            max_cycles: int | None = None, on_line=None) -> RunResult:
        renode = find_renode()
        if renode is None:
            raise EmulatorUnavailable(INSTALL_HINT)
        from ...core.blob import CONFIG_ADDR, DATASET_ADDR, MODEL_ADDR

        names = {CONFIG_ADDR: "config", MODEL_ADDR: "model", DATASET_ADDR: "dataset"}
        elf = Path(firmware_bin).with_suffix(".elf")
        if not elf.is_file():
            raise EmulatorError(f"Renode loads the ELF: {elf} is missing next to {firmware_bin}")
        # Renode deletes renode-* folders in $TMPDIR when it starts: use another prefix
        with tempfile.TemporaryDirectory(prefix="priot-renode.") as tmp:
            files = {}
            for addr, data in blobs.items():
                if addr not in names:
                    raise EmulatorError(f"no Renode variable for a blob at 0x{addr:08x}")
                files[names[addr]] = Path(tmp) / f"{names[addr]}.bin"
                files[names[addr]].write_bytes(data)
            log = Path(tmp) / "uart0.log"
            resc = Path(tmp) / "run.resc"
            resc.write_text(script(elf, files, log))
            return self._follow(renode, resc, log, timeout_s, on_line)

    def _follow(self, renode, resc, log, timeout_s, on_line) -> RunResult:
        t0 = time.monotonic()
        proc = subprocess.Popen([renode, "--disable-xwt", "--console", "-e",
                                 f"include @{resc}"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True, cwd=REPO_ROOT)
        lines: list[str] = []
        seen = 0
        try:
            while True:
                text = log.read_text(errors="replace") if log.exists() else ""
                complete = text.replace("\r", "").split("\n")[:-1]
                for line in complete[seen:]:
                    lines.append(line)
                    if on_line:
                        on_line(line)
                    if line.startswith(STOP):
                        return RunResult(lines, "done", None, None, time.monotonic() - t0,
                                         self.name)
                seen = len(complete)
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace")[-2000:]
                    raise EmulatorError(f"renode exited ({proc.returncode}) before "
                                        f"{STOP!r}: {err}")
                if time.monotonic() - t0 > timeout_s:
                    raise EmulatorTimeout(f"no {STOP!r} from Renode within {timeout_s:g} s",
                                          lines)
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
