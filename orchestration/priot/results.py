"""Result files: atomic JSON, keyed by settings and git revision.

A result is written to ``<root>/<kind>/<key>.json`` where ``key`` hashes the settings and
the git revision of the code that produced it, so re-running never mixes results of
different settings or revisions (the same settings on the same revision replace their own
file). Writes go to a temporary file in the same directory, are fsynced, then renamed over
the target: a crash leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def git_revision(repo: Path = REPO_ROOT) -> str:
    """HEAD's commit, with "-dirty" when tracked files have uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                                "--untracked-files=no"], check=True, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def result_key(settings: dict, revision: str) -> str:
    text = json.dumps({"settings": settings, "revision": revision}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def results_root() -> Path:
    """results/ of the repository, or $PRIOT_RESULTS_DIR."""
    return Path(os.environ.get("PRIOT_RESULTS_DIR", REPO_ROOT / "results"))


def write_json_atomic(path: Path, obj) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str)
                             + "\n")


def write_text_atomic(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save(kind: str, settings: dict, result: dict, root: Path | None = None,
         revision: str | None = None) -> Path:
    """Store one result; returns its path."""
    root = Path(root) if root is not None else results_root()
    revision = revision or git_revision()
    key = result_key(settings, revision)
    return write_json_atomic(root / kind / f"{key}.json", {
        "kind": kind, "key": key, "revision": revision, "settings": settings,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "result": result})
