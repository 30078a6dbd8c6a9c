"""The run-config ranges at their boundaries: the C check (priot_config_check, used by the
blob parser and the session) and the Python one (blob.decode_config) accept and reject the
same values, and name the same field."""
import struct

import pytest

from priot.core import blob as B
from priot.core import native as N

FIELDS = ("seed", "keep_permille", "lr_shift", "score_init", "init_shift", "method", "epochs",
          "train_limit", "test_limit", "progress_every", "score_permille", "grad_rounding",
          "subset_rule", "last_layer_permille", "mode", "persist")
U32 = 0xFFFFFFFF
# field -> (lowest, highest) the C check accepts; per method where the method narrows it
RANGES = {"keep_permille": (1, 1000), "lr_shift": (0, 31), "score_init": (0, 1),
          "init_shift": (0, 14), "method": (0, 3), "epochs": (0, 1000), "seed": (0, U32),
          "train_limit": (0, U32), "test_limit": (0, U32), "progress_every": (0, U32),
          "persist": (0, 3), "mode": (0, 1)}
METHOD_RANGES = {("lr_shift", 3): (0, 15), ("score_permille", 1): (1, 1000),
                 ("grad_rounding", 2): (0, 1), ("grad_rounding", 3): (0, 1),
                 ("subset_rule", 1): (0, 1), ("last_layer_permille", 1): (0, 1000)}
# the field width in the blob: values past it cannot be encoded
WIDTH = {"seed": U32, "keep_permille": 0xFFFF, "lr_shift": 255, "score_init": 255,
         "init_shift": 255, "method": 255, "epochs": 0xFFFF, "train_limit": U32,
         "test_limit": U32, "progress_every": U32, "score_permille": 0xFFFF,
         "grad_rounding": 255, "subset_rule": 255, "last_layer_permille": 0xFFFF,
         "persist": 255, "mode": 255}


def _raw(values: dict) -> bytes:
    # byte 30 mode, byte 31 persist
    body = struct.pack("<IHBBBBHIIIHBBHBB", *(values[f] for f in FIELDS))
    return B.frame(B.CONFIG_MAGIC, body)


def _base(method: int) -> dict:
    return dict(seed=1, keep_permille=700, lr_shift=8, score_init=0, init_shift=6,
                method=method, epochs=1, train_limit=0, test_limit=0, progress_every=0,
                score_permille=100 if method == 1 else 0, grad_rounding=0, subset_rule=0,
                last_layer_permille=0, mode=0, persist=0)


def _cases():
    for method in range(4):
        for field in FIELDS:
            if field == "method":
                continue
            lo, hi = METHOD_RANGES.get((field, method),
                                       RANGES.get(field, (0, 0)))
            for v in {lo - 1, lo, hi, hi + 1}:
                if 0 <= v <= WIDTH[field]:
                    yield method, field, v, lo <= v <= hi
    for v in (3, 4, 255):
        yield v, "method", v, v <= 3


CASES = list(_cases())


@pytest.mark.parametrize("method,field,value,valid", CASES,
                         ids=[f"m{m}-{f}={v}" for m, f, v, _ in CASES])
def test_c_and_python_agree_at_the_boundaries(method, field, value, valid):
    values = _base(method)
    values[field] = value
    data = _raw(values)
    code = N.parse_status("config", data)
    try:
        B.decode_config(data)
        py_field = None
    except B.BlobError as e:
        py_field = e.field
    assert (code == 0) == valid, N.status_message(code)
    assert (py_field is None) == valid, py_field
    if not valid:
        assert py_field in N.status_message(code), (py_field, N.status_message(code))
