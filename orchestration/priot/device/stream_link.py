"""The host side of stream mode's stop-and-wait link (docs/STREAMING.md): chunks of
request bytes, each sent after the replies to the one before have arrived. On rp2040js
the emulator runs the link itself (run.mjs --uart-feed); on a real Pico this module does,
over the serial port. Every wait has a timeout."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

from ..core import frames
from . import uf2
from .emulator.base import EmulatorTimeout
from .emulator.rp2040js import Rp2040jsBackend
from .hw import HardwareError, flash, open_port

READY = b"PRIOT STREAM status=ready"
Chunk = tuple[bytes, int]          # request bytes, reply frames to wait for


def emulator_exchange(firmware_bin: Path, blobs: dict[int, bytes], chunks: Sequence[Chunk],
                      timeout_s: float, on_reply: Callable[[bytes], None] | None = None,
                      read_flash: bool = False):
    """(the reply bytes, frames ended by 0x00; the RunResult) of a stream on rp2040js."""
    backend = Rp2040jsBackend(uart_feed=frames.feed_file(list(chunks)), read_flash=read_flash)

    def on_line(line: str) -> None:
        if line.startswith("FRAME ") and on_reply is not None:
            on_reply(bytes.fromhex(line[6:]))

    result = backend.run(firmware_bin, blobs, timeout_s=timeout_s, on_line=on_line)
    replies = b"".join(bytes.fromhex(l[6:]) + b"\x00" for l in result.lines
                       if l.startswith("FRAME "))
    return replies, result


def serial_exchange(ser, chunks: Sequence[Chunk], timeout_s: float,
                    on_reply: Callable[[bytes], None] | None = None,
                    ready_timeout_s: float = 30.0) -> tuple[list[str], bytes]:
    """Over an open serial port (read(n) returning b"" on its own timeout, write(b)):
    the text lines up to the ready line, then the reply bytes. Each wait for a reply is
    bounded by timeout_s."""
    lines, buf = [], b""
    deadline = time.monotonic() + ready_timeout_s
    while True:                                     # the text lines, up to "ready"
        if time.monotonic() > deadline:
            raise EmulatorTimeout(f"no '{READY.decode()}' line within {ready_timeout_s:g} s "
                                  "(is the config blob's mode 1? is the board flashed?)",
                                  lines)
        buf += ser.read(256)
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = raw.decode("ascii", "replace").rstrip("\r")
            lines.append(line)
            if line.startswith("PRIOT ERROR"):
                raise HardwareError(f"the board refused the stream: {line}")
            if raw.startswith(READY):
                break
        else:
            continue
        break
    replies = bytearray()
    for data, wanted in chunks:
        ser.write(data)
        got = 0
        deadline = time.monotonic() + timeout_s
        while got < wanted:
            if time.monotonic() > deadline:
                raise EmulatorTimeout(f"no reply within {timeout_s:g} s (after "
                                      f"{len(replies)} reply bytes)", lines)
            chunk = buf or ser.read(256)
            buf = b""
            for b in chunk:
                replies.append(b)
                if b == 0:
                    got += 1
                    if on_reply is not None:
                        on_reply(bytes(replies[:-1].split(b"\x00")[-1]))
    return lines, bytes(replies)


def board_exchange(port: str, drive: Path | None, firmware_bin: Path,
                   blobs: dict[int, bytes], chunks: Sequence[Chunk], timeout_s: float,
                   on_reply: Callable[[bytes], None] | None = None) -> bytes:
    """Flash the UF2 (firmware + model + config), then the stream over the serial port."""
    image = uf2.build({uf2.FLASH_BASE: Path(firmware_bin).read_bytes(), **blobs})
    with open_port(port) as ser:
        flash(image, drive)
        _, replies = serial_exchange(ser, chunks, timeout_s, on_reply)
    return replies
