"""What every way of running firmware offers (rp2040js now; Renode and a real board later).

A backend takes a firmware image plus blobs (flash address -> bytes), runs it until the
firmware prints ``PRIOT DONE`` (or a limit hits) and returns the UART lines. Firmware that
faults raises :class:`FirmwareFault`; interpreting the lines is ``protocol.Report``'s job.
"""
from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class EmulatorError(RuntimeError):
    """Base of everything that goes wrong running firmware."""


class EmulatorUnavailable(EmulatorError):
    """The backend cannot run here (missing tool, package or device)."""


class EmulatorTimeout(EmulatorError):
    """The firmware did not finish within the wall-clock or cycle budget."""

    def __init__(self, message: str, lines: Sequence[str] = ()):
        super().__init__(message)
        self.lines = list(lines)


class FirmwareFault(EmulatorError):
    """The firmware took a HardFault (``PRIOT FAULT pc=... lr=... xpsr=...``)."""

    def __init__(self, pc: int, lr: int, xpsr: int, lines: Sequence[str] = (),
                 reason: str | None = None):
        what = "stack overflow (the stack guard band was overwritten)" \
            if reason == "stack_overflow" else "HardFault"
        super().__init__(f"firmware {what} at pc=0x{pc:08x} lr=0x{lr:08x} xpsr=0x{xpsr:08x}")
        self.pc, self.lr, self.xpsr = pc, lr, xpsr
        self.reason = reason
        self.lines = list(lines)


class FirmwareReportedError(EmulatorError):
    """The firmware rejected its input (``PRIOT ERROR code=... msg=...``)."""

    def __init__(self, code: int, msg: str):
        super().__init__(f"firmware error {code}: {msg.replace('_', ' ')}")
        self.code, self.msg = code, msg


class ProtocolError(EmulatorError):
    """Output that breaks docs/PROTOCOL.md (malformed line, missing record or key)."""


@dataclass
class RunResult:
    lines: list[str]
    status: str                  # done, idle, ... (backend specific, "done" = stop line seen)
    emulated_cycles: int | None  # clk_sys cycles the emulator executed, when it knows
    instructions: int | None
    wall_s: float
    backend: str
    clk_sys_hz: int | None = None
    # rp2040js with opcode_histogram=True: executed first halfword -> count, and how many
    # conditional branches were taken (priot.emulator.m0plus_cycles)
    opcode_histogram: dict[int, int] | None = None
    conditional_taken: int | None = None
    # Renode: M0+ cycles estimated from its opcode counters (m0plus_cycles.CycleEstimate)
    cycle_estimate: object | None = None
    # what the firmware's SysTick figures count on this backend: "cycles" (clk_sys) or
    # "instructions" (Renode: virtual time advances per instruction)
    systick_unit: str = "cycles"
    notes: list[str] = field(default_factory=list)
    # rp2040js: the flash image at the end (read_flash) and the emulated boot ROM's flash
    # work ({"erased": bytes, "programmed": bytes, "ops": erase + program calls})
    flash: bytes | None = None
    flash_ops: dict | None = None


class EmulatorBackend(abc.ABC):
    name: str

    def identity(self) -> str:
        """What makes this backend's runs what they are (its name, and the files and
        options that shape a run): part of the key under which finished runs are kept."""
        return self.name

    @abc.abstractmethod
    def available(self) -> tuple[bool, str]:
        """(True, "") when run() can work here, else (False, why not)."""

    @abc.abstractmethod
    def run(
        self,
        firmware_bin: Path,
        blobs: dict[int, bytes],
        timeout_s: float,
        max_cycles: int | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> RunResult:
        """Run until the firmware prints PRIOT DONE; on_line sees each UART line live."""
