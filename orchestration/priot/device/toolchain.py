"""Finding the tools priot builds and emulates with, installing them when we may.

As root on a Debian-like system the ensure_* functions install what is missing with
apt-get (announcing each command); otherwise they raise ToolchainError naming the exact
command to run.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .. import progress
from ..paths import EMULATION_DIR

ARM_TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-objcopy", "arm-none-eabi-nm", "make")
ARM_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "binutils-arm-none-eabi", "make")
NODE_TOOLS = ("node", "npm")
NODE_PACKAGES = ("nodejs", "npm")
EMULATOR_DIR = EMULATION_DIR / "rp2040js"
NPM_TIMEOUT_S = 600.0
NPM_STAMP = ".priot-npm-ci.stamp"  # inside node_modules: written after a successful npm ci

_apt_updated = False


class ToolchainError(RuntimeError):
    """A tool is missing (the message says how to install it) or failed to install."""


def find_tool(name: str) -> str | None:
    return shutil.which(name)


def _install_command(packages: tuple[str, ...]) -> str:
    return "sudo apt-get install -y --no-install-recommends " + " ".join(packages)


def _run_announced(command: list[str]) -> None:
    print(f"priot: running {shlex.join(command)}", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    code = subprocess.run(command, env=env).returncode
    if code != 0:
        raise ToolchainError(f"{shlex.join(command)} failed with exit code {code}")


def _apt_install(packages: tuple[str, ...]) -> None:
    global _apt_updated
    if not _apt_updated:
        _run_announced(["apt-get", "update"])
        _apt_updated = True
    _run_announced(["apt-get", "install", "-y", "--no-install-recommends", *packages])


def _can_apt_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def _ensure(tools: tuple[str, ...], packages: tuple[str, ...], install: bool,
            ready=lambda: True) -> None:
    def missing() -> list[str]:
        return [t for t in tools if find_tool(t) is None] + ([] if ready() else ["newlib-nano"])

    if missing() and install and _can_apt_install():
        _apt_install(packages)
    if missing():
        raise ToolchainError(f"missing {', '.join(missing())}; install with: "
                             f"{_install_command(packages)}")


def _newlib_nano_present() -> bool:
    gcc = find_tool("arm-none-eabi-gcc")
    if gcc is None:
        return False
    found = subprocess.run([gcc, "-mcpu=cortex-m0plus", "-mthumb", "--specs=nano.specs",
                            "-print-file-name=libc_nano.a"], capture_output=True, text=True)
    return Path(found.stdout.strip()).is_absolute()


def ensure_arm_toolchain(install: bool = True) -> str:
    """Path of arm-none-eabi-gcc, with binutils, newlib-nano and make present."""
    _ensure(ARM_TOOLS, ARM_PACKAGES, install, _newlib_nano_present)
    return find_tool("arm-none-eabi-gcc")


def ensure_node(install: bool = True) -> str:
    """Path of node, with npm present."""
    _ensure(NODE_TOOLS, NODE_PACKAGES, install)
    return find_tool("node")


def ensure_emulator_packages(install_node: bool = True) -> Path:
    """Install rp2040js (npm ci) unless node_modules matches package-lock.json already."""
    ensure_node(install_node)
    modules = EMULATOR_DIR / "node_modules"
    stamp = modules / NPM_STAMP
    lock = EMULATOR_DIR / "package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return modules
    command = [find_tool("npm"), "ci", "--no-audit", "--no-fund"]
    print(f"priot: running npm ci in {EMULATOR_DIR}", file=sys.stderr, flush=True)
    try:
        done = progress.run_with_elapsed(command, "npm ci (rp2040js)", NPM_TIMEOUT_S,
                                         cwd=EMULATOR_DIR)
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"npm ci in {EMULATOR_DIR} took over {NPM_TIMEOUT_S:g} s "
                             "(registry unreachable?)") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise ToolchainError(f"npm ci in {EMULATOR_DIR} failed (offline? registry unreachable?):"
                             f"\n{tail}")
    stamp.touch()
    return modules
