"""Stream mode (docs/STREAMING.md): frames over UART0, answered by the same C state machine
on the device and on the host. Framing round trips; every bad frame gets an error reply
and changes nothing; the emulated Pico's reply bytes equal the host library's; the serial
link's stop-and-wait and its timeouts; invoke stream end to end."""
import numpy as np
import pytest

from priot import settings
from priot import stream as streaming
from priot.core import blob, frames as F, native
from priot.device import stream_link
from priot.device.emulator import EmulatorTimeout
from priot.paths import DEFAULT_BUILD, DEFAULT_MODEL

MODEL = DEFAULT_MODEL.read_bytes()
CONFIG = blob.encode_config(blob.RunConfig(mode=1))
ERASED = b"\xff" * blob.STATE_MAX
RNG = np.random.default_rng(3)
IMAGES = RNG.integers(0, 256, (16, 784), dtype=np.uint8)
LABELS = RNG.integers(0, 10, 16)


def replies(data: bytes, **kw) -> list[F.Reply]:
    out = native.host_stream(MODEL, CONFIG, data, **kw).replies
    return [F.parse_reply(f) for f in F.split_frames(out)]


def train_frames(n: int) -> bytes:
    return b"".join(F.train(i, int(LABELS[i]), IMAGES[i].tobytes()) for i in range(n))


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00\x01", bytes(range(256)) * 3,
                                  b"\x11" * 254, b"\x11" * 255, b"\x11" * 253 + b"\x00"])
def test_cobs_round_trip(data):
    enc = F.cobs_encode(data)
    assert enc.endswith(b"\x00") and b"\x00" not in enc[:-1]
    assert F.cobs_decode(enc[:-1]) == data


def test_training_frames_are_answered_prequentially():
    got = replies(train_frames(6) + F.request(F.REPORT, 6))
    assert [r.command for r in got] == [F.TRAIN] * 6 + [F.REPORT]
    assert [r.seq for r in got] == list(range(7)) and all(r.ok for r in got)
    assert [r.fields()["seen"] for r in got[:6]] == [1, 2, 3, 4, 5, 6]
    correct = sum(r.fields()["predicted"] == LABELS[i] for i, r in enumerate(got[:6]))
    assert got[-1].fields()["correct"] == correct == got[5].fields()["correct"]
    assert got[-1].fields()["trained"] == 6


def _bad_frames() -> dict[str, bytes]:
    body = bytes([F.TRAIN, 40, 3]) + IMAGES[0].tobytes()
    good_crc = F.request(F.TRAIN, 40, bytes([3]) + IMAGES[0].tobytes())
    raw = bytearray(F.cobs_decode(good_crc[:-1]))
    raw[-1] ^= 0xFF
    return {
        "bad_crc": F.cobs_encode(bytes(raw)),
        "bad_length": F.request(F.TRAIN, 41, bytes([3]) + IMAGES[0].tobytes()[:100]),
        "unknown_command": F.request(0x33, 42),
        "bad_label": F.request(F.TRAIN, 43, bytes([10]) + IMAGES[0].tobytes()),
        "bad_frame": b"garbage\xff\x00",                # not COBS
        "vanished": F.train(44, 3, IMAGES[0].tobytes())[:300] + b"\x00",   # host gone
        "too_long": b"\x01" * 5000 + b"\x00",
        "short": F.cobs_encode(b"\x02\x01"),
        "body_without_crc": F.cobs_encode(body[:10]),
    }


@pytest.mark.parametrize("kind", list(_bad_frames()))
def test_a_bad_frame_gets_an_error_reply_and_changes_nothing(kind):
    bad = _bad_frames()[kind]
    clean = replies(train_frames(4) + F.request(F.REPORT, 9))
    dirty = replies(train_frames(2) + bad + b"\x00" + train_frames(4)[len(train_frames(2)):]
                    + F.request(F.REPORT, 9))
    errors = [r for r in dirty if not r.ok]
    assert len(errors) == 1, dirty
    expected = {"too_long": "bad_frame", "short": "bad_frame", "body_without_crc": "bad_crc",
                "vanished": "bad_frame"}.get(kind, kind)
    if kind == "vanished":
        expected = errors[0].status   # a cut TRAIN frame: bad CRC or not COBS at its end
        assert expected in ("bad_crc", "bad_frame")
    assert errors[0].status == expected
    assert [r for r in dirty if r.ok] == clean   # the same answers, the same final state


def test_predict_reset_and_save_without_a_store():
    got = replies(train_frames(3) + F.predict(7, IMAGES[0].tobytes()) + F.request(F.RESET, 8)
                  + F.request(F.REPORT, 9) + F.request(F.SAVE, 10))
    assert got[3].command == F.PREDICT and got[3].ok
    assert got[5].fields()["seen"] == 0 and got[5].fields()["trained"] == 0
    initial = replies(F.request(F.REPORT, 0))[0].fields()["state_crc"]
    assert got[5].fields()["state_crc"] == initial        # RESET: the initial state again
    assert got[6].status == "save_failed"                 # no flash slots given


def test_save_then_restore_across_a_reboot():
    first = native.host_stream(MODEL, CONFIG, train_frames(8) + F.request(F.SAVE, 8),
                               state_region=ERASED)
    saved = F.parse_reply(F.split_frames(first.replies)[-1]).fields()
    assert saved == {"sequence": 1, "slot": 0, "bytes": 53312}
    resume = blob.encode_config(blob.RunConfig(mode=1, persist=1))
    again = native.host_stream(MODEL, resume, F.request(F.REPORT, 0),
                               state_region=first.state_region)
    assert again.restore_status == "ok"
    report = F.parse_reply(F.split_frames(again.replies)[0]).fields()
    before = replies(train_frames(8) + F.request(F.REPORT, 8))[-1].fields()
    assert report["state_crc"] == before["state_crc"]
    assert report["trained_total"] == 8 and report["trained"] == 0


# ---------------------------------------------------------------- the serial link


class FakeBoard:
    """A serial port whose far end is the host library: what it answers to everything
    written so far (the protocol is deterministic, so a prefix's replies are a prefix)."""

    def __init__(self, mute_after: int | None = None):
        self.sent, self.given, self.mute_after = b"", 0, mute_after
        self.pending = b"PRIOT BOOT fw=1\r\nPRIOT STREAM status=ready image_bytes=784\r\n"

    def write(self, data: bytes) -> None:
        self.sent += data
        out = native.host_stream(MODEL, CONFIG, self.sent).replies
        if self.mute_after is not None:
            out = b"\x00".join(out.split(b"\x00")[:self.mute_after])
        self.pending += out[self.given:]
        self.given = len(out)

    def read(self, n: int) -> bytes:
        out, self.pending = self.pending[:n], self.pending[n:]
        return out


def test_serial_link_is_stop_and_wait_and_bit_exact():
    chunks = streaming.requests(IMAGES[:5].reshape(5, 1, 28, 28), LABELS[:5], save=False)
    seen = []
    lines, got = stream_link.serial_exchange(FakeBoard(), chunks, timeout_s=5,
                                             on_reply=seen.append)
    assert lines[-1].startswith("PRIOT STREAM status=ready")
    assert got == native.host_stream(MODEL, CONFIG, b"".join(c for c, _ in chunks)).replies
    assert len(seen) == 6 and F.parse_reply(seen[-1]).command == F.REPORT


def test_serial_link_times_out_when_the_board_stops_answering():
    chunks = streaming.requests(IMAGES[:3].reshape(3, 1, 28, 28), LABELS[:3], save=False)
    with pytest.raises(EmulatorTimeout, match="no reply within"):
        stream_link.serial_exchange(FakeBoard(mute_after=1), chunks, timeout_s=0.5)


# ---------------------------------------------------------------- on the emulator


@pytest.fixture(scope="module")
def firmware_bin(arm_toolchain, backend):
    from priot.device import firmware
    return firmware.build_firmware(DEFAULT_BUILD).bin


def test_emulator_answers_like_the_host_with_garbage_and_a_vanished_host(firmware_bin):
    bad = _bad_frames()
    chunks = [(F.train(i, int(LABELS[i]), IMAGES[i].tobytes()), 1) for i in range(10)]
    chunks[3:3] = [(b"\x17\x99garbage\x00", 1), (bad["vanished"][:-1], 0), (b"\x00", 1),
                   (bad["bad_crc"], 1)]
    chunks += [(F.request(F.REPORT, 11), 1), (F.request(F.SAVE, 12), 1)]
    got, result = stream_link.emulator_exchange(
        firmware_bin, {blob.CONFIG_ADDR: CONFIG, blob.MODEL_ADDR: MODEL,
                       blob.STATE_ADDR: ERASED}, chunks, timeout_s=120, read_flash=True)
    assert result.status == "done"
    host = native.host_stream(MODEL, CONFIG, b"".join(c for c, _ in chunks),
                              state_region=ERASED)
    assert got == host.replies
    parsed = [F.parse_reply(f) for f in F.split_frames(got)]
    assert [r.status for r in parsed if not r.ok] == ["bad_frame", "bad_frame", "bad_crc"]
    assert parsed[-2].fields()["trained"] == 10 and parsed[-1].ok
    from priot import pipeline
    assert pipeline.state_region(result.flash) == host.state_region


def test_invoke_stream_end_to_end(firmware_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIOT_RESULTS_DIR", str(tmp_path))
    s = settings.RunSettings(save_state=True)
    summary = streaming.stream(s, 20, log=lambda *_: None)
    assert summary.host_agrees and not summary.errors
    assert summary.report["seen"] == 20 and len(summary.prequential) == 20
    assert summary.saved["sequence"] == 1 and summary.state_file.is_file()
    again = streaming.stream(settings.RunSettings(resume_state=summary.state_file), 20,
                             log=lambda *_: None)
    assert again.restore == "ok" and again.report["trained_total"] == 40
    assert again.host_agrees
