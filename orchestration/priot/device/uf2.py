"""UF2 images for the RP2040's USB mass-storage bootloader (the RPI-RP2 drive).

One UF2 carries the firmware (with our boot2 and its CRC in the first 256 bytes) and the
three blobs at their flash addresses (docs/BLOBS.md), so a single drag-and-drop flashes a
complete run. Format (Microsoft's UF2 specification): 512-byte blocks, each with two start
magics, flags (0x2000: a family ID is present), the target address, a 256-byte payload,
the block number and count, the RP2040 family ID 0xE48BFF56, and an end magic.
"""
from __future__ import annotations

import struct

MAGIC_START0, MAGIC_START1, MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
FLAG_FAMILY_ID = 0x00002000
RP2040_FAMILY_ID = 0xE48BFF56
BLOCK, PAYLOAD, DATA_FIELD = 512, 256, 476
FLASH_BASE, FLASH_SIZE = 0x10000000, 2 * 1024 * 1024
_HEAD = struct.Struct("<IIIIIIII")


class UF2Error(ValueError):
    """A UF2 image or a region to put in one is invalid."""


def build(regions: dict[int, bytes]) -> bytes:
    """UF2 of {flash address: bytes}; each region starts on a 256-byte page and is padded
    with 0xFF to whole pages. Regions must not overlap and must lie in the 2 MiB flash."""
    pages: list[tuple[int, bytes]] = []
    spans = []
    for addr, data in sorted(regions.items()):
        if addr % PAYLOAD:
            raise UF2Error(f"region at 0x{addr:08x} is not 256-byte aligned")
        end = addr + -(-len(data) // PAYLOAD) * PAYLOAD
        if addr < FLASH_BASE or end > FLASH_BASE + FLASH_SIZE:
            raise UF2Error(f"region 0x{addr:08x}..0x{end:08x} lies outside the flash")
        if spans and addr < spans[-1][1]:
            raise UF2Error(f"region at 0x{addr:08x} overlaps the one at 0x{spans[-1][0]:08x}")
        spans.append((addr, end))
        padded = data + b"\xff" * (end - addr - len(data))
        pages += [(addr + o, padded[o:o + PAYLOAD]) for o in range(0, len(padded), PAYLOAD)]
    out = bytearray()
    for n, (addr, payload) in enumerate(pages):
        out += _HEAD.pack(MAGIC_START0, MAGIC_START1, FLAG_FAMILY_ID, addr, PAYLOAD, n,
                          len(pages), RP2040_FAMILY_ID)
        out += payload.ljust(DATA_FIELD, b"\x00")
        out += struct.pack("<I", MAGIC_END)
    return bytes(out)


def parse(image: bytes) -> dict[int, bytes]:
    """{address: bytes} of contiguous runs of pages; validates every block."""
    if not image or len(image) % BLOCK:
        raise UF2Error(f"{len(image)} bytes is not a whole number of 512-byte blocks")
    count = len(image) // BLOCK
    runs: dict[int, bytearray] = {}
    last_end = None
    for n in range(count):
        block = image[n * BLOCK:(n + 1) * BLOCK]
        m0, m1, flags, addr, size, number, total, family = _HEAD.unpack_from(block)
        (m_end,) = struct.unpack_from("<I", block, BLOCK - 4)
        where = f"block {n}"
        if (m0, m1, m_end) != (MAGIC_START0, MAGIC_START1, MAGIC_END):
            raise UF2Error(f"{where}: bad magic numbers")
        if not flags & FLAG_FAMILY_ID or family != RP2040_FAMILY_ID:
            raise UF2Error(f"{where}: family 0x{family:08x} is not the RP2040's")
        if (number, total) != (n, count):
            raise UF2Error(f"{where}: numbered {number} of {total}, expected {n} of {count}")
        if size != PAYLOAD or addr % PAYLOAD:
            raise UF2Error(f"{where}: payload {size} bytes at 0x{addr:08x}")
        if not FLASH_BASE <= addr < FLASH_BASE + FLASH_SIZE:
            raise UF2Error(f"{where}: address 0x{addr:08x} outside the flash")
        payload = block[32:32 + PAYLOAD]
        if last_end == addr:
            runs[max(runs)] += payload
        else:
            if last_end is not None and addr < last_end:
                raise UF2Error(f"{where}: address 0x{addr:08x} goes backwards")
            runs[addr] = bytearray(payload)
        last_end = addr + PAYLOAD
    return {a: bytes(b) for a, b in runs.items()}
