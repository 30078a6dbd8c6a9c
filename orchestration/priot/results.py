"""Result files: atomic JSON, keyed by settings and git revision.

A result is written to ``<root>/<kind>/<key>.json`` where ``key`` hashes the settings and
the git revision of the code that produced it, so re-running never mixes results of
different settings or revisions (the same settings on the same revision replace their own
file). Writes are atomic (priot.paths.write_json_atomic).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from .paths import REPO_ROOT, RESULTS_DIR, write_json_atomic


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
    return Path(os.environ.get("PRIOT_RESULTS_DIR", RESULTS_DIR))


def save(kind: str, settings: dict, result: dict, root: Path | None = None,
         revision: str | None = None) -> Path:
    """Store one result; returns its path."""
    root = Path(root) if root is not None else results_root()
    revision = revision or git_revision()
    key = result_key(settings, revision)
    return write_json_atomic(root / kind / f"{key}.json", {
        "kind": kind, "key": key, "revision": revision, "settings": settings,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "result": result})
