"""`invoke stream`: samples arriving at run time (docs/STREAMING.md). The rotated
on-device split of the run settings is sent one labelled sample at a time to the device in
stream mode (emulated Pico, or a real one with --port); each TRAIN frame is answered with
the prediction made *before* the sample is learned (prequential accuracy), then REPORT
(and SAVE with --save-state). The same byte stream through the host library must give
the same reply bytes, bit for bit."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import pipeline, progress, results
from .core import blob, frames, native
from .device import firmware, planner, toolchain
from .device.stream_link import board_exchange, emulator_exchange
from .paths import atomic_write
from .settings import RunSettings, SettingsError

REPLY_TIMEOUT_S = 30.0     # a real board: the longest wait for one reply


@dataclass
class StreamSummary:
    settings: RunSettings
    n_samples: int
    backend: str
    replies: list[frames.Reply]
    prequential: list[float]          # accuracy of the predictions so far, per sample
    report: dict
    host_agrees: bool | None
    saved: dict | None = None
    restore: str | None = None
    state_file: Path | None = None
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"n_samples": self.n_samples, "backend": self.backend,
                "prequential": self.prequential, "report": self.report,
                "host_agrees": self.host_agrees, "saved": self.saved,
                "restore": self.restore, "wall_s": self.wall_s, "errors": self.errors,
                "state_file": None if self.state_file is None else str(self.state_file)}

    def format(self) -> str:
        r = self.report
        lines = [f"PRIOT stream mode on {self.backend}: {self.n_samples} rotated samples "
                 f"({self.settings.angle:g} deg), {self.settings.method}, {self.wall_s:.1f} s",
                 f"  prequential accuracy (predicted before learning each sample): "
                 f"{r['correct']}/{r['seen']} = {r['correct'] / max(1, r['seen']):.2%}"]
        for k in (10, 50, 100, 200, 500):
            if k < len(self.prequential):
                first = self.prequential[k - 1]
                last = (r["correct"] - round(first * k)) / max(1, r["seen"] - k)
                lines.append(f"    first {k}: {first:.1%}, the rest: {last:.1%}")
                break
        if self.restore is not None:
            lines.append(f"  saved state at start: {self.restore}")
        lines.append(f"  trained this session {r['trained']}, over all sessions "
                     f"{r['trained_total']}; state CRC 0x{r['state_crc']:08x}")
        if self.saved is not None:
            lines.append(f"  saved: save #{self.saved['sequence']} in slot "
                         f"{self.saved['slot']}, {self.saved['bytes']:,} B"
                         + (f" -> {self.state_file}" if self.state_file else ""))
        if self.host_agrees is not None:
            lines.append("  host build on the same byte stream: " + (
                "the same reply bytes (bit for bit)" if self.host_agrees else "MISMATCH"))
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def requests(images, labels, save: bool) -> list[tuple[bytes, int]]:
    """The stream's chunks: a TRAIN frame per sample, then REPORT (and SAVE)."""
    chunks = [(frames.train(i, int(y), bytes(x.reshape(-1))), 1)
              for i, (x, y) in enumerate(zip(images, labels))]
    chunks.append((frames.request(frames.REPORT, len(chunks)), 1))
    if save:
        chunks.append((frames.request(frames.SAVE, len(chunks)), 1))
    return chunks


def stream(s: RunSettings, n_samples: int = 200, port: str | None = None,
           drive: Path | None = None, log=pipeline._log) -> StreamSummary:
    """Stream n_samples of the rotated device-train split through the device."""
    s.validate()
    if n_samples < 1:
        raise SettingsError("--n-samples must be at least 1")
    prepared = pipeline.prepare_data(s, log)
    have = len(prepared.device_train_x)
    if n_samples > have:
        raise SettingsError(f"--n-samples {n_samples}: the rotated split holds {have}")
    model = pipeline.model_blob(s, prepared, log)
    cfg = s.run_config()
    cfg.mode, cfg.persist = 1, (1 if s.resume_state is not None else 0)
    config = blob.encode_config(cfg)
    state = (Path(s.resume_state).read_bytes() if s.resume_state is not None
             else b"\xff" * blob.STATE_MAX)
    blobs = {blob.CONFIG_ADDR: config, blob.MODEL_ADDR: model}
    if s.resume_state is not None or s.save_state:
        blobs[blob.STATE_ADDR] = state
    chunks = requests(prepared.device_train_x[:n_samples], prepared.device_train_y[:n_samples],
                      s.save_state)
    toolchain.ensure_arm_toolchain(install=True)
    image = firmware.build_firmware(s.build_dir)
    plan = planner.plan(model, 0, config, image.elf)
    plan.require_fit()

    shown = progress.bar(n_samples, f"streaming to {'the board' if port else 'rp2040js'}",
                         "sample")
    seen = {"n": 0, "ok": 0}

    def on_reply(raw: bytes) -> None:
        rep = frames.parse_reply(raw)
        if rep.command == frames.TRAIN and rep.ok:
            f = rep.fields()
            seen["n"], seen["ok"] = f["seen"], f["correct"]
            shown.update(1)
            shown.set_postfix_str(f"prequential {f['correct'] / f['seen']:.1%}")
            if shown.disable and (f["seen"] % max(1, n_samples // 10) == 0):
                log(f"  {f['seen']}/{n_samples} samples, prequential accuracy "
                    f"{f['correct'] / f['seen']:.1%}")

    t0 = time.monotonic()
    flash_image = None
    try:
        if port is None:
            toolchain.ensure_emulator_packages()
            replies, result = emulator_exchange(image.bin, blobs, chunks, s.timeout_s,
                                                on_reply, read_flash=s.save_state)
            flash_image, backend = result.flash, "rp2040js"
            lines = result.lines
        else:
            replies = board_exchange(port, drive, image.bin, blobs, chunks, REPLY_TIMEOUT_S,
                                     on_reply)
            backend, lines = "pico", []
    finally:
        shown.close()
    wall = time.monotonic() - t0
    parsed = [frames.parse_reply(f) for f in frames.split_frames(replies)]
    errors = [f"{frames.COMMANDS.get(r.command, r.command)} #{r.seq}: {r.status}"
              for r in parsed if not r.ok]
    train_ok = [r.fields() for r in parsed if r.command == frames.TRAIN and r.ok]
    report = next((r.fields() for r in parsed if r.command == frames.REPORT and r.ok), None)
    if report is None:
        raise SettingsError("the device sent no REPORT reply: " + "; ".join(errors or ["?"]))
    saved = next((r.fields() for r in parsed if r.command == frames.SAVE and r.ok), None)
    restore = next((l.split("status=")[1].split()[0] for l in lines
                    if l.startswith("PRIOT STATE event=restored")), None)

    log("the same byte stream on the host build ...")
    host = native.host_stream(model, config, b"".join(c for c, _ in chunks),
                              state_region=state)
    agrees = host.replies == replies
    summary = StreamSummary(s, n_samples, backend, parsed,
                            [f["correct"] / f["seen"] for f in train_ok], report, agrees,
                            saved, restore, wall_s=wall, errors=errors)
    if flash_image is not None and saved is not None:
        region = pipeline.state_region(flash_image)
        if region != host.state_region:
            summary.host_agrees = False
            summary.errors.append("saved-state slots: device and host differ")
    path = results.save("stream", {**s.describe(), "n_samples": n_samples, "port": port},
                        summary.as_dict())
    if flash_image is not None and saved is not None:
        summary.state_file = atomic_write(path.with_suffix(".state.bin"),
                                          pipeline.state_region(flash_image))
    log(f"results: {path}")
    return summary
