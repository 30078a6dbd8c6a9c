"""Blob codec round trips, and the C parser (firmware/priot/src/blob.c, via priot.native)
and the Python decoder (priot.blob) rejecting the same malformed blobs, each naming the
offending field (docs/BLOBS.md)."""
import ctypes as C
import re
import struct
import zlib

import numpy as np
import pytest

from priot.core import blob as B
from priot.core import native as N
from priot.core.blob import BlobError, DatasetBlob, Layer, QuantModel, RunConfig


def tiny_model(seed=0, bias_everywhere=False) -> QuantModel:
    rng = np.random.default_rng(seed)
    w = lambda *s: rng.integers(-128, 128, s).astype(np.int8)  # noqa: E731
    b = lambda n: rng.integers(-2**31, 2**31, n).astype(np.int32)  # noqa: E731
    return QuantModel([
        Layer("conv", 1, 28, 28, 8, w(8, 1, 3, 3), b(8), True, True, 8, 7, 6),
        Layer("conv", 8, 14, 14, 16, w(16, 8, 3, 3), b(16) if bias_everywhere else None,
              True, True, 9, 7, 5),
        Layer("fc", 784, 1, 1, 32, w(32, 784), b(32), True, False, 9, 7, 4),
        Layer("fc", 32, 1, 1, 10, w(10, 32), b(10) if bias_everywhere else None,
              False, False, 31, 0, 31),
    ])


def small_dataset(seed=0, n_train=5, n_test=3) -> DatasetBlob:
    rng = np.random.default_rng(seed)
    return DatasetBlob(rng.integers(0, 256, (n_train, 1, 28, 28)).astype(np.uint8),
                       rng.integers(0, 10, n_train).astype(np.uint8),
                       rng.integers(0, 256, (n_test, 1, 28, 28)).astype(np.uint8),
                       rng.integers(0, 10, n_test).astype(np.uint8), 10, -30)


# ---------------------------------------------------------------- round trips


def test_model_round_trip():
    for bias_everywhere in (False, True):
        m = tiny_model(1, bias_everywhere)
        blob = B.encode_model(m)
        back = B.decode_model(blob)
        assert back.n_edges == m.n_edges == 72 + 1152 + 25088 + 320
        assert (back.in_c, back.in_h, back.in_w, back.n_classes) == (1, 28, 28, 10)
        for a, b in zip(m.layers, back.layers):
            assert (a.kind, a.in_c, a.in_h, a.in_w, a.out_c, a.relu, a.pool) == \
                (b.kind, b.in_c, b.in_h, b.in_w, b.out_c, b.relu, b.pool)
            assert (a.out_shift, a.err_shift, a.grad_shift) == \
                (b.out_shift, b.err_shift, b.grad_shift)
            assert np.array_equal(a.weights, b.weights) and b.weights.dtype == np.int8
            assert (a.bias is None) == (b.bias is None)
            if a.bias is not None:
                assert np.array_equal(a.bias, b.bias)
        assert B.encode_model(back) == blob
        assert N.parse_status("model", blob) == 0
        # the flash region may be larger than the blob: trailing bytes are ignored
        assert N.parse_status("model", blob + b"\xff" * 99) == 0


def test_dataset_round_trip():
    d = small_dataset(2)
    blob = B.encode_dataset(d)
    back = B.decode_dataset(blob)
    for name in ("train_x", "train_y", "test_x", "test_y"):
        assert np.array_equal(getattr(d, name), getattr(back, name))
    assert (back.n_classes, back.angle_deg) == (10, -30)
    assert B.encode_dataset(back) == blob
    assert N.parse_status("dataset", blob) == 0
    empty = DatasetBlob(np.zeros((0, 1, 2, 2), np.uint8), np.zeros(0, np.uint8),
                        np.zeros((0, 1, 2, 2), np.uint8), np.zeros(0, np.uint8), 2)
    assert N.parse_status("dataset", B.encode_dataset(empty)) == 0
    assert B.decode_dataset(B.encode_dataset(empty)).train_x.shape == (0, 1, 2, 2)


def test_config_round_trip():
    c = RunConfig(seed=0xFFFFFFFF, keep_permille=1000, lr_shift=31, score_init=1,
                  init_shift=14, epochs=1000, train_limit=7, test_limit=9, progress_every=3)
    blob = B.encode_config(c)
    assert len(blob) == 16 + 32 + 4
    back = B.decode_config(blob)
    for f in ("seed", "keep_permille", "lr_shift", "score_init", "init_shift", "method",
              "epochs", "train_limit", "test_limit", "progress_every"):
        assert getattr(back, f) == getattr(c, f)
    assert N.parse_status("config", blob) == 0
    assert N.parse_status("config", B.encode_config(RunConfig(keep_permille=1, epochs=0))) == 0


def test_flash_layout_matches_header(repo_root):
    text = (repo_root / "firmware/board/rp2040/flash_layout.h").read_text()
    vals = {}
    for name, expr in re.findall(r"#define PRIOT_(\w+)[ \t]+(.+)", text):
        if name.endswith("_H"):
            continue
        vals[name] = eval(expr.replace("u", "").split("/*")[0])  # noqa: S307 (constants)
    assert vals["FLASH_BASE"] == B.FLASH_BASE
    assert vals["FIRMWARE_MAX"] == B.FIRMWARE_MAX
    assert (vals["CONFIG_ADDR"], vals["CONFIG_MAX"]) == (B.CONFIG_ADDR, B.CONFIG_MAX)
    assert (vals["MODEL_ADDR"], vals["MODEL_MAX"]) == (B.MODEL_ADDR, B.MODEL_MAX)
    assert (vals["DATASET_ADDR"], vals["DATASET_MAX"]) == (B.DATASET_ADDR, B.DATASET_MAX)


# ---------------------------------------------------------------- corruption helpers

MODEL_BLOB = B.encode_model(tiny_model(3))
DATASET_BLOB = B.encode_dataset(small_dataset(4))
CONFIG_BLOB = B.encode_config(RunConfig())
MAGIC = {"model": B.MODEL_MAGIC, "dataset": B.DATASET_MAGIC, "config": B.CONFIG_MAGIC}
GOOD = {"model": MODEL_BLOB, "dataset": DATASET_BLOB, "config": CONFIG_BLOB}
# layer table entry: B B B B H H H H B B B B I I I I
L_OFF = {"type": 0, "flags": 1, "kernel": 2, "pad": 3, "in_c": 4, "in_h": 6, "in_w": 8,
         "out_c": 10, "out_shift": 12, "err_shift": 13, "grad_shift": 14,
         "w_off": 16, "w_cnt": 20, "b_off": 24, "b_cnt": 28}
L_FMT = {k: ("<B" if v < 4 or 12 <= v < 16 else "<H" if v < 12 else "<I")
         for k, v in L_OFF.items()}


def payload(kind):
    return bytearray(B.unframe(GOOD[kind], MAGIC[kind], kind))


def reframe(kind, p):
    return B.frame(MAGIC[kind], bytes(p))


def header(kind, magic=None, version=1, header_size=16, payload_size=None, body=None):
    body = bytes(payload(kind) if body is None else body)
    head = struct.pack("<4sHHII", magic or MAGIC[kind], version, header_size,
                       len(body) if payload_size is None else payload_size, 0)
    return head + body + struct.pack("<I", zlib.crc32(head + body))


def set_layer(i, field, value, p=None):
    p = payload("model") if p is None else p
    struct.pack_into(L_FMT[field], p, 16 + 32 * i + L_OFF[field], value)
    return p


def get_layer(i, field):
    return struct.unpack_from(L_FMT[field], payload("model"), 16 + 32 * i + L_OFF[field])[0]


def model_with(**fields):
    p = payload("model")
    offs = {"n_layers": (0, "<B"), "in_c": (1, "<B"), "n_classes": (4, "<B"),
            "input_frac": (5, "<B"), "logit_frac": (6, "<B"), "n_edges": (8, "<I")}
    for k, v in fields.items():
        o, f = offs[k]
        struct.pack_into(f, p, o, v)
    return reframe("model", p)


def flip_crc(blob):
    b = bytearray(blob)
    b[-1] ^= 0x01
    return bytes(b)


def _layer_blob(*edits):
    p = payload("model")
    for i, field, value in edits:
        set_layer(i, field, value, p)
    return reframe("model", p)


def _fc_chain_blob():
    # layer 2 claims 783 inputs (and 32 * 783 weights): the counts agree, the chain does not
    return _layer_blob((2, "in_c", 783), (2, "w_cnt", 32 * 783))


def _truncated_table():
    p = payload("model")[:16 + 40]
    return reframe("model", p)


def _dataset_with(fmt_off_val):
    p = payload("dataset")
    for fmt, off, val in fmt_off_val:
        struct.pack_into(fmt, p, off, val)
    return reframe("dataset", p)


def _dataset_label(split):
    d = small_dataset(4)
    p = payload("dataset")
    img = 28 * 28
    if split == "train":
        off = 16 + len(d.train_y) * img + 2
    else:
        off = 16 + len(d.train_y) * (img + 1) + len(d.test_y) * img + 1
    p[off] = 10
    return reframe("dataset", p)


def _config_raw(**over):
    vals = dict(seed=1, keep=700, lr=8, init=0, init_shift=6, method=0, epochs=1,
                tr=0, te=0, prog=0, score_permille=0, grad_rounding=0)
    vals.update(over)
    body = struct.pack("<IHBBBBHIIIHBBI", vals["seed"], vals["keep"], vals["lr"], vals["init"],
                       vals["init_shift"], vals["method"], vals["epochs"], vals["tr"],
                       vals["te"], vals["prog"], vals["score_permille"],
                       vals["grad_rounding"], 0, 0)
    return B.frame(B.CONFIG_MAGIC, body)


# (id, kind, blob factory, Python field substring, C status code, C message keyword)
CASES = [
    # framing, all three kinds
    *[(f"{k}-magic", k, lambda k=k: header(k, magic=b"PRXX"), "magic", base + 1, "magic")
      for k, base in (("model", 10), ("dataset", 40), ("config", 60))],
    *[(f"{k}-version", k, lambda k=k: header(k, version=2), "version", base + 2, "version")
      for k, base in (("model", 10), ("dataset", 40), ("config", 60))],
    *[(f"{k}-header-size", k, lambda k=k: header(k, header_size=20), "header_size", base + 3,
       "header_size") for k, base in (("model", 10), ("dataset", 40), ("config", 60))],
    *[(f"{k}-truncated", k, lambda k=k: GOOD[k][:-9], "payload_size", base + 4, "payload_size")
      for k, base in (("model", 10), ("dataset", 40), ("config", 60))],
    *[(f"{k}-huge-payload-size", k, lambda k=k: header(k, payload_size=0xFFFFFFF0),
       "payload_size", base + 4, "payload_size")
      for k, base in (("model", 10), ("dataset", 40), ("config", 60))],
    *[(f"{k}-crc", k, lambda k=k: flip_crc(GOOD[k]), "crc32", base + 5, "crc32")
      for k, base in (("model", 10), ("dataset", 40), ("config", 60))],
    *[(f"{k}-tiny", k, lambda k=k: GOOD[k][:12], "size", base, "too_small")
      for k, base in (("model", 10), ("dataset", 40), ("config", 60))],
    # model payload
    ("model-short-payload", "model", lambda: reframe("model", b"\x04" * 8), "payload_size", 16,
     "payload"),
    ("model-n-layers-0", "model", lambda: model_with(n_layers=0), "n_layers", 17, "n_layers"),
    ("model-n-layers-17", "model", lambda: model_with(n_layers=17), "n_layers", 17, "n_layers"),
    ("model-n-classes", "model", lambda: model_with(n_classes=65), "n_classes", 18, "n_classes"),
    ("model-frac", "model", lambda: model_with(input_frac=6), "input_frac", 19, "frac"),
    ("model-table-truncated", "model", _truncated_table, "layer_table", 20, "layer_table"),
    ("model-layer-type", "model", lambda: _layer_blob((1, "type", 3)), "type", 21, "type"),
    ("model-layer-kernel", "model", lambda: _layer_blob((0, "kernel", 5)), "kernel", 22,
     "kernel"),
    ("model-fc-pad", "model", lambda: _layer_blob((3, "pad", 1)), "kernel", 22, "pad"),
    ("model-flags-unknown", "model", lambda: _layer_blob((0, "flags", 0x07)), "flags", 23,
     "flags"),
    ("model-flags-pool-on-fc", "model", lambda: _layer_blob((2, "flags", 3)), "flags", 23,
     "flags"),
    ("model-out-shift", "model", lambda: _layer_blob((0, "out_shift", 32)), "out_shift", 24,
     "shift"),
    ("model-err-shift", "model", lambda: _layer_blob((1, "err_shift", 40)), "err_shift", 24,
     "shift"),
    ("model-grad-shift", "model", lambda: _layer_blob((2, "grad_shift", 255)), "grad_shift",
     24, "shift"),
    ("model-chain-conv", "model", lambda: _layer_blob((1, "in_h", 13)), "in_shape", 26, "chain"),
    ("model-chain-fc", "model", _fc_chain_blob, "in_shape", 26, "chain"),
    ("model-weight-count", "model",
     lambda: _layer_blob((2, "w_cnt", get_layer(2, "w_cnt") - 1)), "weight_count", 27,
     "weight_count"),
    ("model-weight-offset-past-end", "model",
     lambda: _layer_blob((3, "w_off", len(MODEL_BLOB) - 4 - 100)), "weight_offset", 28,
     "weight_offset"),
    ("model-weight-offset-in-header", "model", lambda: _layer_blob((0, "w_off", 16)),
     "weight_offset", 28, "weight_offset"),
    ("model-weight-offset-overflow", "model", lambda: _layer_blob((0, "w_off", 0xFFFFFFFF)),
     "weight_offset", 28, "weight_offset"),
    ("model-bias-count", "model", lambda: _layer_blob((0, "b_cnt", 3)), "bias_count", 29,
     "bias_count"),
    ("model-bias-misaligned", "model",
     lambda: _layer_blob((0, "b_off", get_layer(0, "b_off") + 2)), "bias_offset", 30,
     "bias_offset"),
    ("model-bias-past-end", "model", lambda: _layer_blob((2, "b_off", len(MODEL_BLOB) - 4 - 64)),
     "bias_offset", 30, "bias_offset"),
    ("model-last-layer-relu", "model", lambda: _layer_blob((3, "flags", 1)), "type", 31,
     "last_layer"),
    ("model-last-out-c", "model", lambda: model_with(n_classes=9), "n_classes", 32, "n_classes"),
    ("model-n-edges", "model", lambda: model_with(n_edges=26623), "n_edges", 33, "n_edges"),
    # dataset payload
    ("dataset-short-payload", "dataset", lambda: reframe("dataset", b"\0" * 10),
     "payload_size", 46, "payload"),
    ("dataset-zero-channels", "dataset", lambda: _dataset_with([("<B", 8, 0)]), "shape", 47,
     "shape"),
    ("dataset-one-class", "dataset", lambda: _dataset_with([("<B", 11, 1)]), "shape", 47,
     "n_classes"),
    ("dataset-count-mismatch", "dataset", lambda: _dataset_with([("<I", 0, 6)]), "payload_size",
     48, "payload_size"),
    ("dataset-count-overflow", "dataset", lambda: _dataset_with([("<I", 4, 0xFFFFFFFF)]),
     "payload_size", 48, "payload_size"),
    ("dataset-train-label", "dataset", lambda: _dataset_label("train"), "train_labels", 49,
     "train_label"),
    ("dataset-test-label", "dataset", lambda: _dataset_label("test"), "test_labels", 50,
     "test_label"),
    # config values
    ("config-length", "config", lambda: reframe("config", payload("config")[:31]),
     "payload_size", 66, "payload_size"),
    ("config-keep-0", "config", lambda: _config_raw(keep=0), "keep_permille", 67,
     "keep_permille"),
    ("config-keep-1001", "config", lambda: _config_raw(keep=1001), "keep_permille", 67,
     "keep_permille"),
    ("config-lr-shift", "config", lambda: _config_raw(lr=32), "lr_shift", 68, "lr_shift"),
    ("config-score-init", "config", lambda: _config_raw(init=2), "score_init", 69,
     "score_init"),
    ("config-init-shift", "config", lambda: _config_raw(init_shift=15), "init_shift", 70,
     "init_shift"),
    ("config-method", "config", lambda: _config_raw(method=4), "method", 71, "method"),
    ("config-priot-s-without-fraction", "config", lambda: _config_raw(method=1),
     "score_permille", 73, "score_permille"),
    ("config-priot-s-fraction-1001", "config",
     lambda: _config_raw(method=1, score_permille=1001), "score_permille", 73, "score_permille"),
    ("config-priot-with-fraction", "config", lambda: _config_raw(score_permille=100),
     "score_permille", 73, "score_permille"),
    ("config-epochs", "config", lambda: _config_raw(epochs=1001), "epochs", 72, "epochs"),
    ("config-priot-with-rounding", "config", lambda: _config_raw(grad_rounding=1),
     "grad_rounding", 74, "grad_rounding"),
    ("config-niti-rounding-2", "config", lambda: _config_raw(method=3, grad_rounding=2),
     "grad_rounding", 74, "grad_rounding"),
]

DECODE = {"model": B.decode_model, "dataset": B.decode_dataset, "config": B.decode_config}


@pytest.mark.parametrize("case_id,kind,make,py_field,c_code,c_word", CASES,
                         ids=[c[0] for c in CASES])
def test_both_parsers_reject(case_id, kind, make, py_field, c_code, c_word):
    data = make()
    with pytest.raises(BlobError) as ei:
        DECODE[kind](data)
    assert ei.value.kind == kind
    assert py_field in ei.value.field, (ei.value.field, str(ei.value))
    code = N.parse_status(kind, data)
    msg = N.status_message(code)
    assert (code, msg) == (c_code, N.status_message(c_code))
    assert msg.startswith(kind) and c_word in msg, msg
    assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", msg)  # prints as one msg= token
    with pytest.raises(N.NativeError) as ne:
        N.check_blob(kind, data)
    assert ne.value.code == c_code and ne.value.message == msg


def test_zero_dimension_rejected_by_both():
    data = _layer_blob((3, "out_c", 0))
    with pytest.raises(BlobError):
        B.decode_model(data)
    assert N.status_message(N.parse_status("model", data)) == "model_layer_shape_zero"


def test_pool_on_one_pixel_plane_rejected():
    m = QuantModel([
        Layer("conv", 1, 2, 2, 2, np.ones((2, 1, 3, 3), np.int8), None, True, True, 4),
        Layer("fc", 2, 1, 1, 2, np.ones((2, 2), np.int8)),
    ], 1, 2, 2, 2)
    p = bytearray(B.unframe(B.encode_model(m), B.MODEL_MAGIC, "model"))
    p[2] = 1                                   # model in_h
    struct.pack_into("<H", p, 16 + 6, 1)       # layer 0 in_h: pooling leaves 0 rows
    data = B.frame(B.MODEL_MAGIC, bytes(p))
    with pytest.raises(BlobError) as ei:
        B.decode_model(data)
    assert "in_shape" in ei.value.field
    assert N.status_message(N.parse_status("model", data)) == "model_layer_chain_inconsistent"


def test_misaligned_blob_rejected_by_c():
    lib = N.load()
    raw = np.zeros(len(CONFIG_BLOB) + 8, dtype=np.uint8)
    base = (-raw.ctypes.data) % 4
    buf = raw[base + 1: base + 1 + len(CONFIG_BLOB)]
    buf[:] = np.frombuffer(CONFIG_BLOB, np.uint8)
    code = lib.priot_host_parse_config(buf.ctypes.data_as(C.c_void_p), len(buf))
    assert N.status_message(code) == "blob_not_4_byte_aligned"


def test_every_status_has_a_message(repo_root):
    text = (repo_root / "firmware/priot/include/priot/status.h").read_text()
    codes = {int(v): msg for v, msg in re.findall(r"= (\d+),?\s*/\* \"([a-z0-9_]+)\" \*/", text)}
    assert len(codes) > 40
    for code, msg in codes.items():
        assert N.status_message(code) == msg
    assert N.status_message(0) == "ok"
    assert N.status_message(9999) == "unknown_error"
    assert len(set(codes.values())) == len(codes)
