"""Progress bars with an ETA for the steps that take more than a few seconds
(pretraining, npm ci, emulator runs, experiment jobs).

tqdm on standard error; it switches itself off when standard error is not a terminal
(CI logs, pipes), where the callers' own log lines tell the progress instead.
"""
from __future__ import annotations

import subprocess
import threading


def bar(total: int | None, desc: str, unit: str = "it", enabled: bool = True):
    """A tqdm bar (disabled off a terminal, or when enabled is False)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, mininterval=0.5,
                disable=None if enabled else True, dynamic_ncols=True)


def run_with_elapsed(command: list[str], desc: str, timeout_s: float, **kwargs
                     ) -> subprocess.CompletedProcess:
    """subprocess.run(capture_output=True, text=True) with a bar showing the elapsed time
    (for steps whose length is not known in advance, such as npm ci)."""
    shown = bar(None, desc, unit="s")
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            shown.update(1)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              **kwargs)
    finally:
        stop.set()
        ticker.join()
        shown.close()
