"""The run configuration's fields: range, run default and meaning, in one table.

Read by the run settings (priot.settings: what a user may ask for, the invoke help) and by
the config blob (priot.blob: what an encoded config may hold). The blob ranges are the
ones the C parser accepts (firmware/priot/src/blob.c); tests/test_config_table.py checks
every boundary against the host build. Methods narrow some ranges (priot.methods:
NITI's lr_shift holds its update bits, 0..15), and a knob only some methods read
(``score_permille``, ``grad_rounding``, ``subset_rule``, ``last_layer_permille``) must be 0
in the blob of every other method.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral

from .methods import DEFAULT_SUBSET, GRAD_ROUNDINGS, METHODS, SUBSET_RULES, Method, by_code

U32_MAX = 0xFFFFFFFF
SCORE_INITS = {"magnitude": 0, "uniform": 1}


@dataclass(frozen=True)
class Field:
    name: str
    lo: int
    hi: int
    default: int | None     # the run default (None: the field has no user-facing default)
    help: str               # one phrase; the invoke help appends the default
    in_blob: bool = True    # a run-config blob field (else a run setting only)
    blob_zero_unless_read: bool = False   # the blob holds 0 for methods not reading it


FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("seed", 0, U32_MAX, 1, "seed of the score initialisation and of PRIOT-S's "
          "scored subset"),
    Field("keep_permille", 1, 1000, 900,
          "edges kept per layer (PRIOT-S: per scored subset), per mille"),
    Field("lr_shift", 0, 31, 5, "learning rate 2^-lr_shift of the scores (PRIOT, PRIOT-S) "
          "or weights (static-sgd); NITI: its update bits, 0..15"),
    Field("score_init", 0, max(SCORE_INITS.values()), SCORE_INITS["magnitude"],
          "initial scores: " + " or ".join(SCORE_INITS)),
    Field("init_shift", 0, 14, 6, "magnitude score init: |w| << init_shift plus random "
          "low bits"),
    Field("method", min(m.code for m in METHODS.values()),
          max(m.code for m in METHODS.values()), METHODS["priot"].code, "training method"),
    Field("epochs", 0, 1000, 1, "passes over the training samples"),
    Field("train_limit", 0, U32_MAX, 0, "training samples used (0: all of the dataset blob)"),
    Field("test_limit", 0, U32_MAX, 0, "test samples used (0: all of the dataset blob)"),
    Field("progress_every", 0, U32_MAX, 0, "a PROGRESS line every N samples (0: none)"),
    Field("score_permille", 1, 1000, 100, "PRIOT-S: scored edges per layer, per mille",
          blob_zero_unless_read=True),
    Field("grad_rounding", 0, max(GRAD_ROUNDINGS.values()), None,
          "weight-gradient rounding of static-sgd and niti: " + " or ".join(GRAD_ROUNDINGS),
          blob_zero_unless_read=True),
    Field("subset_rule", 0, max(SUBSET_RULES.values()), SUBSET_RULES[DEFAULT_SUBSET],
          "PRIOT-S: which edges are scored: " + " or ".join(
              f"{name} ({code})" for name, code in SUBSET_RULES.items()),
          blob_zero_unless_read=True),
    Field("last_layer_permille", 0, 1000, 0, "PRIOT-S: scored edges of the last "
          "(classifier) layer, per mille (0: as --score-permille)",
          blob_zero_unless_read=True),
    Field("persist", 0, 3, 0, "the saved state (docs/BLOBS.md): 1 restore it at the start, "
          "2 save it after training, 3 both"),
    Field("mode", 0, 1, 0, "0 the batch run on the dataset blob, 1 stream mode: samples "
          "arrive as frames on UART0 (docs/STREAMING.md)"),
    Field("n_train", 1, 100000, 500, "on-device training samples", in_blob=False),
    Field("n_test", 1, 100000, 300, "rotated test samples evaluated on the device",
          in_blob=False),
    Field("data_seed", 0, U32_MAX, 0, "seed of the data split", in_blob=False),
)}
BLOB_FIELDS = tuple(f.name for f in FIELDS.values() if f.in_blob)


def field_range(name: str, method: Method | None = None) -> tuple[int, int, str]:
    """(lo, hi, why) of a field for a method: the method's narrower limit, else the table's."""
    f = FIELDS[name]
    if method is not None and name in method.limits and name in method.knobs:
        return method.limits[name]
    return f.lo, f.hi, ""


def _is_int(v) -> bool:
    return isinstance(v, Integral)   # int or a numpy integer


def setting_problem(name: str, value, method: Method | None = None) -> str | None:
    """Why a run setting's value is out of range (None: it is fine)."""
    lo, hi, why = field_range(name, method)
    if not _is_int(value) or not lo <= value <= hi:
        return f"{name}={value!r} is out of range: use {lo}..{hi}" + (f" ({why})" if why
                                                                       else "")
    return None


def blob_problem(values: Mapping[str, object]) -> tuple[str, str] | None:
    """The first config-blob field outside its range as (field, what is wrong), or None.
    ``values`` holds every blob field (BLOB_FIELDS)."""
    m = FIELDS["method"]
    code = values["method"]
    if not _is_int(code) or not m.lo <= code <= m.hi:
        return "method", f"{code!r} not in {m.lo}..{m.hi}"
    method = by_code(code)
    for name in BLOB_FIELDS:
        v = values[name]
        f = FIELDS[name]
        if f.blob_zero_unless_read and name not in method.knobs:
            if v != 0:
                readers = ", ".join(n for n, x in METHODS.items() if name in x.knobs)
                return name, (f"{v!r}: must be 0 for {method.name} (only {readers} read "
                              f"{name})")
            continue
        lo, hi, why = field_range(name, method)
        if not _is_int(v) or not lo <= v <= hi:
            return name, f"{v!r} not in {lo}..{hi}" + (f" ({why})" if why else "")
    return None
