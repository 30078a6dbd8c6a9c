"""Finished emulator runs, kept so that the same run is not emulated twice.

A run is the same when the backend (its identity: name, runner files, options), the
firmware image and every blob are byte for byte the same (the emulators are deterministic: the same inputs give the same UART lines and
counts). Stored as one JSON file per run under <cache>/runs/, written atomically.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

from ..paths import write_json_atomic
from .emulator.base import RunResult
from .emulator.m0plus_cycles import CycleEstimate

VERSION = 1
_KEPT = ("lines", "status", "emulated_cycles", "instructions", "wall_s", "backend",
         "clk_sys_hz", "notes", "systick_unit")


def run_key(backend_identity: str, firmware_bin: bytes, blobs: dict[int, bytes]) -> str:
    h = hashlib.sha256(f"v{VERSION}:{backend_identity}".encode())
    h.update(hashlib.sha256(firmware_bin).digest())
    for addr, data in sorted(blobs.items()):
        h.update(addr.to_bytes(4, "little") + hashlib.sha256(data).digest())
    return h.hexdigest()[:24]


def load(cache_dir: Path, key: str) -> tuple[RunResult, str] | None:
    """(the stored run, when it was made) or None."""
    path = Path(cache_dir) / "runs" / f"{key}.json"
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    fields = {k: stored[k] for k in _KEPT}
    est = stored.get("cycle_estimate")
    fields["cycle_estimate"] = CycleEstimate(**{k: est[k] for k in (
        "instructions", "cycles", "cycles_low", "cycles_high", "conditional_branches",
        "taken_fraction")}) if est else None
    return RunResult(**fields), stored["created"]


def save(cache_dir: Path, key: str, result: RunResult) -> Path:
    record = {k: getattr(result, k) for k in _KEPT}
    record["cycle_estimate"] = (dataclasses.asdict(result.cycle_estimate)
                                if result.cycle_estimate else None)
    record["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return write_json_atomic(Path(cache_dir) / "runs" / f"{key}.json", record)
