"""Running priot firmware: backends (rp2040js now, Renode and a real board later) and the
UART line-protocol parser."""
from .base import (
    EmulatorBackend,
    EmulatorError,
    EmulatorTimeout,
    EmulatorUnavailable,
    FirmwareFault,
    FirmwareReportedError,
    ProtocolError,
    RunResult,
)
from .protocol import Eval, Record, Report, accuracy, parse_line
from .renode import RenodeBackend
from .rp2040js import Rp2040jsBackend

#: backends by name, as `invoke emulate --backend NAME` selects them
BACKENDS = {"rp2040js": Rp2040jsBackend, "renode": RenodeBackend}

__all__ = [
    "BACKENDS",
    "EmulatorBackend", "EmulatorError", "EmulatorTimeout", "EmulatorUnavailable",
    "FirmwareFault", "FirmwareReportedError", "ProtocolError", "RunResult",
    "Eval", "Record", "Report", "accuracy", "parse_line", "Rp2040jsBackend", "RenodeBackend",
]
