"""Where the repository's folders are, and writing files atomically.

The bottom of the package: it imports nothing from priot, so every module may use it.
Atomic writes go to a temporary file in the target's directory, are fsynced, then renamed
over the target: a crash leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = REPO_ROOT / "firmware"
EMULATION_DIR = REPO_ROOT / "emulation"
DEFAULT_MODEL = REPO_ROOT / "models" / "tiny_cnn_mnist.prmd"
DEFAULT_CACHE = REPO_ROOT / ".priot"
DEFAULT_BUILD = REPO_ROOT / "build"
RESULTS_DIR = REPO_ROOT / "results"


def atomic_write(path: Path, data: bytes) -> Path:
    """Write bytes to path atomically (mode 0644); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    return atomic_write(path, text.encode())


def write_json_atomic(path: Path, obj) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str)
                             + "\n")
