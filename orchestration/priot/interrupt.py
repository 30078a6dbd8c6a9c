"""Ending a run from outside (Ctrl-C, SIGTERM, a closed terminal's SIGHUP) cleanly.

Python's default for SIGTERM and SIGHUP is to die at once: no ``finally`` runs, so an
emulator started in its own process group (node for rp2040js, Renode) would run on until
its own timeout and its temporary folder would stay behind. :func:`install` turns these
signals into :class:`Interrupted` (a KeyboardInterrupt, so ``except Exception`` does not
swallow it): the backends' ``finally`` blocks kill the emulator's process group and the
temporary folders are removed on the way out, and one line says what happened.
"""
from __future__ import annotations

import atexit
import signal
import sys

_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}
_received: list[str] = []


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; cleanup runs as the exception unwinds."""


def _raise(signum, _frame) -> None:
    what = _SIGNALS.get(signum, f"signal {signum}")
    if not _received:
        _received.append(what)
    raise Interrupted(what)


def _report() -> None:
    if _received:
        print(f"[priot] interrupted ({_received[0]}): the emulator was stopped and its "
              "temporary files removed; finished results are kept, nothing half-written",
              file=sys.stderr, flush=True)


def install() -> None:
    """Make Ctrl-C, SIGTERM and SIGHUP unwind the run (call once, from the main thread)."""
    for signum in _SIGNALS:
        signal.signal(signum, _raise)
    atexit.register(_report)
