"""A real Raspberry Pi Pico as a backend (`invoke hw-run`): flash a UF2, read UART0.

Flashing: copy the UF2 (firmware + blobs, priot.uf2) to the RPI-RP2 drive the Pico mounts
when BOOTSEL is held at plug-in (found by its INFO_UF2.TXT), or `picotool load -x` when
picotool is installed. Reading: UART0 (GP0 = TX, GP1 = RX, 115200 8N1) through a USB-serial
adapter or a debug probe, with pyserial; the same line protocol as the emulators.
Every wait has a timeout; silence, garbled lines, a missing port or a permission problem
each raise an error that says what to check.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

from . import uf2
from .emulator.base import EmulatorBackend, EmulatorError, EmulatorTimeout, RunResult

BAUD = 115200
BOARD_TIMEOUT_S = 1800.0   # default wait for the DONE line (a real run takes minutes)
STOP = "PRIOT DONE"
GARBLED_LIMIT = 5  # undecodable lines tolerated before the link is declared broken


class HardwareError(EmulatorError):
    """No board, no port, no permission, or a broken serial link."""


def find_bootloader_drive(mounts: str = "/proc/mounts") -> Path | None:
    """The mounted RPI-RP2 drive (it holds INFO_UF2.TXT naming an RP2 board), if any."""
    candidates = []
    try:
        with open(mounts) as f:
            candidates = [Path(line.split()[1].replace("\\040", " ")) for line in f]
    except OSError:
        pass
    for base in (Path("/media"), Path("/run/media"), Path("/Volumes")):
        if base.is_dir():
            candidates += [p for p in base.glob("**/RPI-RP2") if p.is_dir()]
    for path in candidates:
        info = path / "INFO_UF2.TXT"
        try:
            if info.is_file() and "RP2" in info.read_text(errors="replace"):
                return path
        except OSError:
            continue
    return None


def flash(image: bytes, drive: Path | None = None, picotool: str | None = None) -> str:
    """Write a UF2 to the board; returns how. Raises HardwareError when no way is found."""
    drive = drive or find_bootloader_drive()
    if drive is not None:
        target = Path(drive) / "priot.uf2"
        try:
            target.write_bytes(image)  # the board reboots into the new image
        except PermissionError:
            raise HardwareError(f"no permission to write {target}: mount the RPI-RP2 drive "
                                "writable for your user") from None
        return f"copied to {target}"
    picotool = picotool or shutil.which("picotool")
    if picotool:
        tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"priot-{os.getpid()}.uf2"
        tmp.write_bytes(image)
        try:
            done = subprocess.run([picotool, "load", "-x", str(tmp)], capture_output=True,
                                  text=True, timeout=120)
        finally:
            tmp.unlink(missing_ok=True)
        if done.returncode != 0:
            raise HardwareError(f"picotool load failed: {done.stderr.strip()[-500:]}")
        return "loaded with picotool"
    raise HardwareError("no Pico found: hold BOOTSEL while plugging it in so that the "
                        "RPI-RP2 drive mounts (or pass --drive), or install picotool")


def open_port(port: str, baud: int = BAUD):
    import serial

    try:
        return serial.Serial(port, baud, timeout=0.2)
    except serial.SerialException as exc:
        text = str(exc)
        if "ermission" in text:
            raise HardwareError(f"permission denied on {port}: add yourself to the 'dialout' "
                                "group (then log in again) or run with access to it") from None
        if "No such file" in text or "could not open" in text:
            raise HardwareError(f"serial port {port} not found: check the USB-serial adapter "
                                "and the port name (e.g. /dev/ttyACM0, /dev/ttyUSB0)") from None
        raise HardwareError(f"cannot open {port}: {text}") from None


def read_lines(port: str, timeout_s: float, silence_s: float = 30.0,
               on_line: Callable[[str], None] | None = None, baud: int = BAUD) -> list[str]:
    """UART lines until the DONE line. Raises EmulatorTimeout on silence or overall
    timeout, HardwareError when lines are garbled (wrong baud rate or wiring)."""
    lines: list[str] = []
    buf, garbled = b"", 0
    start = last = time.monotonic()
    with open_port(port, baud) as ser:
        while True:
            now = time.monotonic()
            if now - start > timeout_s or now - last > silence_s:
                what = "silent for" if now - last > silence_s else "no DONE line within"
                wait = silence_s if now - last > silence_s else timeout_s
                raise EmulatorTimeout(f"board {what} {wait:g} s on {port}: check the UART "
                                      "wiring (GP0 -> adapter RX, GND) and that the board "
                                      "was flashed" + (f"; last line: {lines[-1]!r}"
                                                       if lines else ""), lines)
            chunk = ser.read(256)
            if not chunk:
                continue
            last = now
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                try:
                    line = raw.decode("ascii").rstrip("\r")
                except UnicodeDecodeError:
                    garbled += 1
                    if garbled > GARBLED_LIMIT:
                        raise HardwareError(f"garbled serial data on {port}: check the baud "
                                            f"rate ({baud} 8N1) and the wiring") from None
                    continue
                lines.append(line)
                if on_line:
                    on_line(line)
                if line.startswith(STOP):
                    return lines


class PicoBackend(EmulatorBackend):
    """The real board behind the emulator interface: run = flash the UF2, read UART0."""

    name = "pico"

    def __init__(self, port: str, drive: Path | None = None, silence_s: float = 30.0):
        self.port, self.drive, self.silence_s = port, drive, silence_s

    def available(self) -> tuple[bool, str]:
        try:
            import serial  # noqa: F401
        except ImportError:
            return False, "pyserial is not installed (pip install pyserial)"
        if not Path(self.port).exists():
            return False, f"serial port {self.port} does not exist"
        return True, ""

    def run(self, firmware_bin: Path, blobs: dict[int, bytes], timeout_s: float,
            max_cycles: int | None = None, on_line=None) -> RunResult:
        ok, why = self.available()
        if not ok:
            raise HardwareError(why)
        image = uf2.build({uf2.FLASH_BASE: Path(firmware_bin).read_bytes(), **blobs})
        t0 = time.monotonic()
        flash(image, self.drive)
        lines = read_lines(self.port, timeout_s, self.silence_s, on_line)
        return RunResult(lines, "done", None, None, time.monotonic() - t0, self.name)
