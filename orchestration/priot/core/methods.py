"""The training methods, each described once; every other module reads them from here.

A **method** is what the engine runs (firmware and host build): its name on the command
line, its code in the run-config blob, its label, the config knobs it reads (with the
narrower ranges some give them) and its per-edge SRAM state (the planner's figure).

An **experiment arm** is one row of `invoke experiment`: a method with a knob preset
(PRIOT-S 10% = priot-s with score_permille 100), or a reference that no integer method
trains (the frozen model, float fine-tuning). Each arm has its tuning grid per
architecture and the knobs `invoke experiment` chose for the tiny CNN (docs/results.md),
which the CI checks (robot_tests/methods.robot) run with.

Adding a method: a `Method` entry and its arm(s) here, its reference module
(priot/reference/), and the C engine's method table.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


# how the weight-training methods round their weight-gradient shift (the config's
# grad_rounding; docs/SEMANTICS.md "Gradient rounding")
GRAD_ROUNDINGS = {"half-up": 0, "pseudo-stochastic": 1}


def subset_size(n: int, score_permille: int) -> int:
    """PRIOT-S: the scored edges of an n-edge layer, k = max(1, floor(n p / 1000),
    ceil(n / 65536)), at most n."""
    return min(n, max(1, n * score_permille // 1000, -(-n // 65536)))


def scored_counts(edges: Sequence[int], score_permille: int,
                  last_layer_permille: int = 0) -> list[int]:
    """PRIOT-S: every layer's subset size; the last layer's fraction is
    last_layer_permille when it is not 0."""
    return [subset_size(n, last_layer_permille if i == len(edges) - 1 and last_layer_permille
                        else score_permille) for i, n in enumerate(edges)]


# PRIOT-S's subset rules (the run-config field subset_rule) and the default one
SUBSET_RULES = {"random": 0, "magnitude": 1}
DEFAULT_SUBSET = "magnitude"
SUBSET_BYTES = 8   # per layer: the rule's threshold and tie count (C priot_subset_t)


def _every_edge_scored(edges: Sequence[int], config) -> int:
    return 3 * sum(edges)   # int16 score + int8 masked-weight copy per edge


def _subset_scored(edges: Sequence[int], config) -> int:
    # int16 scores of the subset + one masked-weight buffer of the largest layer + each
    # layer's subset descriptor (no index array)
    return (max(edges) + SUBSET_BYTES * len(edges)
            + 2 * sum(scored_counts(edges, config.score_permille, config.last_layer_permille)))


def _weights_in_ram(edges: Sequence[int], config) -> int:
    return sum(edges)       # the RAM copy of the int8 weights


# the saved state's payload (docs/BLOBS.md "Saved state"): what the method trains
def _saved_scores(edges: Sequence[int], config) -> int:
    return 2 * sum(edges)   # int16 scores; the masks are rebuilt from them


def _saved_subset_scores(edges: Sequence[int], config) -> int:
    return 2 * sum(scored_counts(edges, config.score_permille, config.last_layer_permille))


@dataclass(frozen=True)
class Method:
    name: str                     # --method
    code: int                     # the run-config blob's `method` field
    label: str
    summary: str                  # one phrase for the --method help
    knobs: tuple[str, ...]        # run-config fields the method reads
    # per-edge SRAM state in bytes, from the layers' edge counts and the run config
    # (blob.RunConfig: score_permille, last_layer_permille)
    state_bytes: Callable[[Sequence[int], object], int]
    # knobs whose range is narrower for this method: name -> (lo, hi, why)
    limits: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    other_state: str = ""         # session state beyond the per-edge state, if any
    # the weight-gradient rounding (GRAD_ROUNDINGS) of a method that reads grad_rounding
    grad_rounding: str | None = None
    # payload bytes of its saved state (C: the method's state_layer), from the layers' edge
    # counts and the run config
    saved_state_bytes: Callable[[Sequence[int], object], int] = _weights_in_ram


PRIOT = Method("priot", 0, "PRIOT", "every edge scored, top-k edges kept",
               ("seed", "keep_permille", "lr_shift", "score_init", "init_shift"),
               _every_edge_scored, saved_state_bytes=_saved_scores)
PRIOT_S = Method("priot-s", 1, "PRIOT-S", "a subset of the edges scored (the largest |w| or "
                 "a seeded random one), see --score-permille, --subset",
                 ("seed", "keep_permille", "lr_shift", "score_init", "init_shift",
                  "score_permille", "subset_rule", "last_layer_permille"), _subset_scored,
                 saved_state_bytes=_saved_subset_scores)
STATIC_SGD = Method("static-sgd", 2, "static-scale SGD",
                    "integer SGD on the weights with the static shifts",
                    ("lr_shift", "grad_rounding"), _weights_in_ram, grad_rounding="half-up")
NITI = Method("niti", 3, "NITI", "integer SGD with per-step dynamic scales; --lr-shift "
              "holds its update bits", ("lr_shift", "grad_rounding"), _weights_in_ram,
              limits={"lr_shift": (0, 15, "NITI: the update bits; the largest weight change "
                                          "per step is about 2^bits")},
              other_state="an int32 buffer of its largest tensor",
              grad_rounding="pseudo-stochastic")

METHODS: dict[str, Method] = {m.name: m for m in (PRIOT, PRIOT_S, STATIC_SGD, NITI)}
BY_CODE: dict[int, Method] = {m.code: m for m in METHODS.values()}
assert len(BY_CODE) == len(METHODS), "two methods share a blob code"
assert all((m.grad_rounding is not None) == ("grad_rounding" in m.knobs)
           for m in METHODS.values()), "a method reading grad_rounding needs its default"


class UnknownMethod(ValueError):
    """A method name or code the registry does not hold."""


def by_name(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise UnknownMethod(f"method {name!r}: use one of {', '.join(METHODS)}") from None


def by_code(code: int) -> Method:
    try:
        return BY_CODE[int(code)]
    except (KeyError, TypeError, ValueError):
        raise UnknownMethod(f"method code {code!r}: the codes are "
                            f"{', '.join(f'{m.code} ({m.name})' for m in METHODS.values())}"
                            ) from None


# ---------------------------------------------------------------- experiment arms

FROZEN, FLOAT = "frozen", "float"   # Arm.trainer of the two references


@dataclass(frozen=True)
class Arm:
    name: str                        # the experiment's method column, e.g. "priot-s 10%"
    label: str
    trainer: str                     # a Method name, FROZEN or FLOAT
    grids: dict[str, dict[str, list]]    # architecture -> knob -> values searched
    preset: dict = field(default_factory=dict)   # knobs every grid point shares
    integer_baseline: bool = False   # PRIOT's gain is measured against these

    @property
    def method(self) -> Method | None:
        """The integer method that trains this arm (None: frozen, float)."""
        return METHODS.get(self.trainer)

    @property
    def on_device(self) -> bool:
        return self.method is not None

    def grid(self, arch: str) -> dict[str, list]:
        """Knob -> values searched on the validation part (the preset as 1-value lists)."""
        grid = self.grids.get(arch, self.grids["tiny_cnn"])
        return {**grid, **{k: [v] for k, v in self.preset.items()}}


def _same_grid(grid: dict) -> dict:
    return {"tiny_cnn": grid, "vgg11": grid}


# VGG11: its scores and weights move on another scale (larger learning-rate shifts win on
# validation, docs/vgg11.md), so its grids reach further; the same number of points.
# PRIOT-S tunes its subset rule too (names of SUBSET_RULES): DEFAULT_SUBSET is the one that
# validation chose on the tiny CNN (docs/results.md; VGG11's default, random, is in
# settings.ARCH_DEFAULTS)
_PRIOT_S_GRIDS = {"tiny_cnn": {"subset_rule": list(SUBSET_RULES), "keep_permille": [500, 700],
                               "lr_shift": [4, 5, 6]},
                  "vgg11": {"subset_rule": list(SUBSET_RULES), "keep_permille": [500, 700],
                            "lr_shift": [5, 7, 9]}}
ARMS: dict[str, Arm] = {a.name: a for a in (   # table order
    Arm("frozen", "frozen int8 (no training)", FROZEN, {}),
    # static SGD may take NITI's gradient rounding too: neither baseline lacks a choice
    # the other has (NITI keeps its own, pseudo-stochastic)
    Arm("static-sgd", "static-scale SGD (int8 weights)", "static-sgd",
        {"tiny_cnn": {"grad_rounding": list(GRAD_ROUNDINGS), "lr_shift": [7, 8, 9, 10, 11, 12]},
         "vgg11": {"grad_rounding": list(GRAD_ROUNDINGS), "lr_shift": [8, 9, 10, 11, 12, 13]}},
        integer_baseline=True),
    Arm("niti", "NITI (dynamic scales, pseudo-stochastic gradient rounding)", "niti",
        _same_grid({"lr_shift": [0, 1, 2, 3, 4, 5]}),
        {"grad_rounding": NITI.grad_rounding}, integer_baseline=True),
    Arm("priot", "PRIOT", "priot",
        {"tiny_cnn": {"keep_permille": [700, 900], "lr_shift": [4, 5, 6]},
         "vgg11": {"keep_permille": [700, 900], "lr_shift": [5, 7, 9]}}),
    Arm("priot-s 10%", "PRIOT-S 10%", "priot-s", _PRIOT_S_GRIDS, {"score_permille": 100}),
    Arm("priot-s 20%", "PRIOT-S 20%", "priot-s", _PRIOT_S_GRIDS, {"score_permille": 200}),
    Arm("float", "float fine-tuning (host, upper ref.)", FLOAT,
        _same_grid({"lr": [0.03, 0.1, 0.3, 1.0]})),
)}


def arms_of(method: str) -> tuple[str, ...]:
    """The arms a method trains, e.g. arms_of("priot-s") == ("priot-s 10%", "priot-s 20%")."""
    return tuple(a.name for a in ARMS.values() if a.trainer == method)
