"""The real-board path without a board: UF2 round trips, and the serial reader fed through
a pseudo-terminal by a recorded firmware run (standing in for the Pico's UART)."""
import os
import pty
import struct
import threading
import time

import pytest

from priot.core import blob
from priot.device import hw, uf2
from priot.device.emulator import EmulatorTimeout
from priot.device.emulator.protocol import Report

RECORDED = """PRIOT BOOT fw=1 clk_hz=125000000
PRIOT MODEL layers=4 edges=26632 crc=0x1a2b3c4d
PRIOT DATA train=2 test=2 angle=45
PRIOT CONFIG method=0 score_permille=0 grad_rounding=0 subset_rule=0 last_layer_permille=0 keep_permille=900 lr_shift=5 score_init=0 init_shift=6 epochs=1 seed=1 persist=0 train=2 test=2
PRIOT EVAL phase=frozen correct=1 total=2 cycles=7000000
PRIOT EVAL phase=before correct=1 total=2 cycles=7000000
PRIOT TRAIN samples=2 cycles=21000000 forward=7000000 loss=3000 backward=10000000 update=600000 mask=2700000 scale=0
PRIOT EVAL phase=after correct=2 total=2 cycles=7000000
PRIOT SCORES crc=0x0badf00d
PRIOT MEM arena_used=110756 score_bytes=53264 arena_size=229376 stack_peak=540 stack_size=8192
PRIOT DONE status=ok
"""


def test_uf2_round_trip_with_firmware_and_blobs():
    fw = bytes(range(256)) * 3 + b"\x01\x02"
    regions = {uf2.FLASH_BASE: fw, blob.CONFIG_ADDR: b"C" * 48, blob.MODEL_ADDR: b"M" * 600}
    image = uf2.build(regions)
    assert len(image) % 512 == 0
    back = uf2.parse(image)
    assert set(back) == set(regions)
    for addr, data in regions.items():
        assert back[addr][:len(data)] == data and set(back[addr][len(data):]) <= {0xFF}
    first = struct.unpack_from("<IIIIIIII", image)
    assert first[0] == uf2.MAGIC_START0 and first[7] == uf2.RP2040_FAMILY_ID


@pytest.mark.parametrize("regions, words", [
    ({uf2.FLASH_BASE + 3: b"x"}, "aligned"),
    ({0x20000000: b"x"}, "outside"),
    ({uf2.FLASH_BASE: b"x" * 600, uf2.FLASH_BASE + 512: b"y"}, "overlaps"),
])
def test_uf2_refuses_bad_regions(regions, words):
    with pytest.raises(uf2.UF2Error, match=words):
        uf2.build(regions)


@pytest.mark.parametrize("offset, value, words", [(0, 0, "magic"), (28, 0x12345678, "family"),
                                                  (20, 7, "numbered"), (12, 0x10000001, "payload")])
def test_uf2_parser_validates_blocks(offset, value, words):
    image = bytearray(uf2.build({uf2.FLASH_BASE: b"a" * 600}))
    struct.pack_into("<I", image, 512 + offset, value)
    with pytest.raises(uf2.UF2Error, match=words):
        uf2.parse(bytes(image))


@pytest.fixture
def serial_pty():
    """(path of the 'board' serial port, writer fd)."""
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    yield path, master
    os.close(master)
    os.close(slave)


def feed(fd, data: bytes, delay: float = 0.5):
    """Write to the pty's master side after `delay` (pyserial flushes input on open)."""
    def run():
        time.sleep(delay)
        for i in range(0, len(data), 64):
            os.write(fd, data[i:i + 64])
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_serial_reader_parses_a_board_run(serial_pty):
    path, master = serial_pty
    feed(master, RECORDED.replace("\n", "\r\n").encode())
    seen = []
    lines = hw.read_lines(path, timeout_s=10, silence_s=5, on_line=seen.append)
    assert lines == seen and lines[-1] == "PRIOT DONE status=ok"
    report = Report.from_lines(lines)
    assert report.evals["after"].correct == 2 and report.scores_crc == 0x0BADF00D


def test_silent_board_times_out(serial_pty):
    path, _ = serial_pty
    t0 = time.monotonic()
    with pytest.raises(EmulatorTimeout, match="silent"):
        hw.read_lines(path, timeout_s=30, silence_s=1.0)
    assert time.monotonic() - t0 < 5


def test_garbled_lines_are_reported(serial_pty):
    path, master = serial_pty
    feed(master, b"PRIOT BOOT fw=1\r\n" + b"\xff\xfe\x80 noise\r\n" * 10)
    with pytest.raises(hw.HardwareError, match="garbled"):
        hw.read_lines(path, timeout_s=10, silence_s=3)


def test_missing_port_and_missing_board_are_clear(tmp_path, monkeypatch):
    with pytest.raises(hw.HardwareError, match="not found"):
        hw.read_lines(str(tmp_path / "ttyACM9"), timeout_s=1)
    monkeypatch.setattr(hw, "find_bootloader_drive", lambda: None)
    monkeypatch.setattr(hw.shutil, "which", lambda name: None)
    with pytest.raises(hw.HardwareError, match="BOOTSEL"):
        hw.flash(b"x" * 512)


@pytest.mark.emulator
def test_emulator_uart_stream_through_a_pty(serial_pty, arm_toolchain, backend, tmp_path):
    """The emulator's UART output of the real firmware, replayed through a pty as if it
    came from a board, parses to the same report."""
    from priot.device import firmware
    from priot.settings import DEFAULT_MODEL

    image = firmware.build_firmware(tmp_path)
    rng = __import__("numpy").random.default_rng(0)
    x = rng.integers(0, 256, (4, 1, 28, 28), dtype="uint8")
    y = rng.integers(0, 10, 4).astype("uint8")
    blobs = {blob.CONFIG_ADDR: blob.encode_config(blob.RunConfig()),
             blob.MODEL_ADDR: DEFAULT_MODEL.read_bytes(),
             blob.DATASET_ADDR: blob.encode_dataset(blob.DatasetBlob(x[:2], y[:2], x[2:], y[2:]))}
    run = backend.run(image.bin, blobs, timeout_s=120)
    path, master = serial_pty
    feed(master, "".join(line + "\r\n" for line in run.lines).encode())
    lines = hw.read_lines(path, timeout_s=20, silence_s=5)
    assert Report.from_lines(lines) == Report.from_lines(run.lines)


def test_flash_copies_to_a_bootloader_drive(tmp_path):
    (tmp_path / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\n")
    image = uf2.build({uf2.FLASH_BASE: b"fw"})
    assert "copied" in hw.flash(image, drive=tmp_path)
    assert uf2.parse((tmp_path / "priot.uf2").read_bytes())[uf2.FLASH_BASE][:2] == b"fw"
