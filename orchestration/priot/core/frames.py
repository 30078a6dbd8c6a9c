"""Stream-mode frames (docs/STREAMING.md; C: firmware/priot/src/stream.c): COBS-encoded,
0x00-terminated; decoded = u8 command, u8 sequence, payload, u32 CRC-32 (LE) of the rest.
Replies: command | 0x80, the sequence, a u8 status, a payload, the CRC."""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

PREDICT, TRAIN, REPORT, SAVE, RESET, BAD = 1, 2, 3, 4, 5, 0x7F
COMMANDS = {PREDICT: "predict", TRAIN: "train", REPORT: "report", SAVE: "save",
            RESET: "reset", BAD: "bad-frame"}
STATUS = {0: "ok", 1: "bad_crc", 2: "bad_length", 3: "unknown_command", 4: "bad_frame",
          5: "bad_label", 6: "save_failed"}


class FrameError(ValueError):
    """A reply that is not a well-formed frame."""


def cobs_encode(data: bytes) -> bytes:
    """COBS of data plus the 0x00 delimiter."""
    out, block = bytearray(), bytearray()
    for b in data:
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254:
                out += b"\xff" + block
                block = bytearray()
    out += bytes([len(block) + 1]) + block
    return bytes(out) + b"\x00"


def cobs_decode(data: bytes) -> bytes:
    """The bytes of one COBS frame (without its delimiter)."""
    out, i = bytearray(), 0
    while i < len(data):
        code = data[i]
        if code == 0 or i + code > len(data):
            raise FrameError(f"not COBS at byte {i} of {data.hex()}")
        out += data[i + 1:i + code]
        i += code
        if code < 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


def request(command: int, seq: int, payload: bytes = b"") -> bytes:
    """An encoded request frame."""
    body = bytes([command & 0xFF, seq & 0xFF]) + payload
    return cobs_encode(body + struct.pack("<I", zlib.crc32(body)))


def train(seq: int, label: int, image: bytes) -> bytes:
    return request(TRAIN, seq, bytes([label]) + bytes(image))


def predict(seq: int, image: bytes) -> bytes:
    return request(PREDICT, seq, bytes(image))


@dataclass
class Reply:
    command: int
    seq: int
    status: str
    payload: bytes

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def fields(self) -> dict:
        """The payload's values by command (docs/STREAMING.md)."""
        p = self.payload
        if not self.ok:
            return {}
        if self.command == TRAIN:
            label, seen, correct = struct.unpack("<BII", p)
            return {"predicted": label, "seen": seen, "correct": correct}
        if self.command == PREDICT:
            return {"predicted": p[0]}
        if self.command == REPORT:
            return dict(zip(("seen", "correct", "trained", "trained_total", "state_crc"),
                            struct.unpack("<5I", p)))
        if self.command == SAVE:
            seq, slot, size = struct.unpack("<IBI", p)
            return {"sequence": seq, "slot": slot, "bytes": size}
        return {}


def parse_reply(encoded: bytes) -> Reply:
    """A reply frame's bytes without the delimiter."""
    raw = cobs_decode(encoded)
    if len(raw) < 7:
        raise FrameError(f"reply of {len(raw)} bytes: {raw.hex()}")
    body, crc = raw[:-4], struct.unpack("<I", raw[-4:])[0]
    if zlib.crc32(body) != crc:
        raise FrameError(f"reply CRC mismatch: {raw.hex()}")
    if not body[0] & 0x80:
        raise FrameError(f"not a reply (command 0x{body[0]:02x}): {raw.hex()}")
    return Reply(body[0] & 0x7F, body[1], STATUS.get(body[2], f"status_{body[2]}"), body[3:])


def split_frames(stream: bytes) -> list[bytes]:
    """The 0x00-terminated frames of a byte stream (a trailing partial frame is dropped)."""
    parts = stream.split(b"\x00")
    return [p for p in parts[:-1]]


def feed_file(chunks: list[tuple[bytes, int]]) -> bytes:
    """run.mjs --uart-feed: (bytes, replies to wait for) chunks."""
    return b"".join(struct.pack("<IH", len(b), n) + b for b, n in chunks)
