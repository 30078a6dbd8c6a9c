"""Robot keywords for stream mode (docs/STREAMING.md): a stream of rotated digits with
garbage and a half-sent frame in it, on the emulated Pico and on the host library."""
from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword, library

from priot import pipeline, settings
from priot import stream as streaming
from priot.core import blob, frames, native
from priot.device import firmware, stream_link


@library(scope="SUITE")
class StreamLibrary:
    def __init__(self) -> None:
        self.device: bytes = b""
        self.host: bytes = b""
        self.replies: list[frames.Reply] = []

    @keyword("Stream ${n} Rotated Digits With Garbage On The Line")
    def run(self, n: int) -> None:
        n = int(n)
        s = settings.RunSettings()
        prepared = pipeline.prepare_data(s, log=logger.info)
        model = pipeline.model_blob(s, prepared, log=logger.info)
        config = blob.encode_config(blob.RunConfig(mode=1, keep_permille=s.keep_permille,
                                                   lr_shift=s.lr_shift))
        chunks = streaming.requests(prepared.device_train_x[:n], prepared.device_train_y[:n],
                                    save=True)
        half = chunks[n // 2][0]
        chunks[n // 2:n // 2] = [(b"\x42 line noise \x07\x00", 1),   # garbage
                                 (half[:len(half) // 3], 0),         # a host that vanished
                                 (b"\x00", 1)]                       # the next one resyncs
        erased = b"\xff" * blob.STATE_MAX
        image = firmware.build_firmware(s.build_dir)
        self.device, result = stream_link.emulator_exchange(
            image.bin, {blob.CONFIG_ADDR: config, blob.MODEL_ADDR: model,
                        blob.STATE_ADDR: erased}, chunks, timeout_s=300)
        self.host = native.host_stream(model, config, b"".join(c for c, _ in chunks),
                                       state_region=erased).replies
        self.replies = [frames.parse_reply(f) for f in frames.split_frames(self.device)]
        logger.info(f"{len(self.replies)} replies in {result.wall_s:.1f} s")

    @keyword("The Device Replies Should Equal The Host Library's")
    def bit_exact(self) -> None:
        if self.device != self.host:
            raise AssertionError("device and host replies differ")

    @keyword("Exactly ${n} Frames Should Be Refused")
    def refused(self, n: int) -> None:
        bad = [r for r in self.replies if not r.ok]
        logger.info("refused: " + ", ".join(r.status for r in bad))
        if len(bad) != int(n):
            raise AssertionError(f"{len(bad)} refused frames, expected {n}: {bad}")

    @keyword("Every Sample Should Be Learned And The State Saved")
    def learned(self) -> None:
        report = next(r.fields() for r in self.replies if r.command == frames.REPORT)
        trains = [r for r in self.replies if r.command == frames.TRAIN and r.ok]
        saved = [r for r in self.replies if r.command == frames.SAVE and r.ok]
        logger.info(f"prequential {report['correct']}/{report['seen']}, saved {saved}")
        if report["trained"] != len(trains) or not saved:
            raise AssertionError(f"report {report}, {len(trains)} TRAIN replies, {saved}")
