"""Building the firmware and host library (via firmware/Makefile) and inspecting images."""
from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ..core.blob import FIRMWARE_MAX, FLASH_BASE
from ..paths import FIRMWARE_DIR
from .toolchain import ensure_arm_toolchain
SRAM_BASE = 0x20000000
SCRATCH_BASE = 0x20040000     # SCRATCH_X + SCRATCH_Y: the stack, not counted as static SRAM
BOOT2_SIZE = 256
BOOT2_CODE_SIZE = BOOT2_SIZE - 4
# Soft-float helpers (the Makefile rejects the same names at link time)
FLOAT_SYMBOL = re.compile(r"^__aeabi_([fd]|c[fd]|[iul]+2[fd])|^__[a-z0-9_]*[sd]f[a-z0-9_]*$")


class BuildError(RuntimeError):
    """make failed (the message ends with the compiler output) or an image is malformed."""


@dataclass(frozen=True)
class FirmwareImage:
    elf: Path
    bin: Path


def _make(target: str, build_dir: Path, **variables: object) -> None:
    command = ["make", "-C", str(FIRMWARE_DIR), target, f"BUILD={Path(build_dir).resolve()}",
               *(f"{key}={value}" for key, value in variables.items())]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise BuildError(f"{shlex.join(command)} failed:\n{tail}")


def build_firmware(build_dir: Path, app: str = "main", *, lib_dir: Path | None = None,
                   app_dir: Path | None = None, ref: bool = False) -> FirmwareImage:
    """Build firmware/app/<app>.c (or app_dir/<app>.c) for the RP2040. ref: with the plain
    reference kernels (make REF=1, into <build_dir>/rp2040-ref; see kernels_ref.h)."""
    ensure_arm_toolchain(install=False)
    variables: dict[str, object] = {"APP": app}
    if lib_dir is not None:
        variables["LIB_DIR"] = Path(lib_dir).resolve()
    if app_dir is not None:
        variables["APP_DIR"] = Path(app_dir).resolve()
    if ref:
        variables["REF"] = 1
    _make("firmware", build_dir, **variables)
    out = Path(build_dir).resolve() / ("rp2040-ref" if ref else "rp2040")
    return FirmwareImage(elf=out / f"{app}.elf", bin=out / f"{app}.bin")


def build_host_library(build_dir: Path, sanitize: bool = False) -> Path:
    """Build the kernel library as a host shared object; returns its path."""
    _make("host", build_dir, **({"SAN": 1} if sanitize else {}))
    return Path(build_dir).resolve() / ("host-san" if sanitize else "host") / "libpriot.so"


def elf_memory(elf: Path) -> dict[str, int]:
    """flash_bytes: image bytes in flash (code, read-only data, load images of SRAM code and
    .data); sram_bytes: static SRAM (SRAM code, .data, .bss; the stack excluded);
    stack_bytes: the reserved stack; flash_max: the firmware region."""
    with open(elf, "rb") as f:
        image = ELFFile(f)
        flash = sum(seg["p_filesz"] for seg in image.iter_segments()
                    if seg["p_type"] == "PT_LOAD"
                    and FLASH_BASE <= seg["p_paddr"] < FLASH_BASE + FIRMWARE_MAX)
        sram = sum(sec["sh_size"] for sec in image.iter_sections()
                   if sec["sh_flags"] & 0x2 and SRAM_BASE <= sec["sh_addr"] < SCRATCH_BASE)
        stack = image.get_section_by_name(".stack")
        return {"flash_bytes": flash, "flash_max": FIRMWARE_MAX, "sram_bytes": sram,
                "stack_bytes": stack["sh_size"] if stack is not None else 0}


def elf_symbols(elf: Path) -> dict[str, int]:
    """Name -> address of every named symbol (Thumb bit cleared)."""
    with open(elf, "rb") as f:
        table = ELFFile(f).get_section_by_name(".symtab")
        if not isinstance(table, SymbolTableSection):
            raise BuildError(f"{elf} has no symbol table")
        return {sym.name: sym["st_value"] & ~1 for sym in table.iter_symbols() if sym.name}


def floating_point_symbols(elf: Path) -> list[str]:
    """Soft-float routines linked into the image (must be empty: integer-only firmware)."""
    return sorted(name for name in elf_symbols(elf) if FLOAT_SYMBOL.search(name))


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, unreflected, no final xor): the
    checksum the RP2040 bootrom expects after boot2."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def check_boot2(bin_path: Path) -> int:
    """Verify the boot2 checksum in a flash image; returns the CRC."""
    head = Path(bin_path).read_bytes()[:BOOT2_SIZE]
    if len(head) < BOOT2_SIZE:
        raise BuildError(f"{bin_path}: {len(head)} bytes, shorter than boot2")
    stored = int.from_bytes(head[BOOT2_CODE_SIZE:], "little")
    computed = crc32_mpeg2(head[:BOOT2_CODE_SIZE])
    if stored != computed:
        raise BuildError(f"{bin_path}: boot2 CRC is 0x{stored:08x}, should be 0x{computed:08x}")
    return stored
