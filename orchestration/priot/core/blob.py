"""The binary blobs that carry model, dataset and run settings to the firmware.

Format: docs/BLOBS.md. The C reader is firmware/priot/src/blob.c; both reject the same
malformed inputs. Every decode error is a :class:`BlobError` naming the offending field.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import config_table

VERSION = 1
HEADER = struct.Struct("<4sHHII")  # magic, version, header_size, payload_size, reserved
MODEL_MAGIC, DATASET_MAGIC, CONFIG_MAGIC = b"PRMD", b"PRDS", b"PRCF"

# Flash layout (docs/BLOBS.md); firmware/board/rp2040/flash_layout.h holds the same values.
FLASH_BASE = 0x10000000
FIRMWARE_MAX = 124 * 1024
# the saved state (docs/BLOBS.md "Saved state"): two slots of STATE_SLOT bytes
STATE_ADDR, STATE_SLOT = 0x1001F000, 64 * 1024
STATE_MAX = 2 * STATE_SLOT
STATE_HEADER = 48          # the "PRST" header before the payload (priot/state.h)
CONFIG_ADDR, CONFIG_MAX = 0x1003F000, 4 * 1024
MODEL_ADDR, MODEL_MAX = 0x10040000, 768 * 1024
DATASET_ADDR, DATASET_MAX = 0x10100000, 1024 * 1024

CONV, FC = 1, 2
FLAG_RELU, FLAG_POOL = 1, 2
MAX_LAYERS, MAX_SHIFT = 16, 31

_MODEL_HDR = struct.Struct("<BBBBBBBBII")
_LAYER = struct.Struct("<BBBBHHHHBBBBIIII")
_DATASET_HDR = struct.Struct("<IIBBBBhH")
_CONFIG = struct.Struct("<IHBBBBHIIIHBBHBB")
assert _LAYER.size == 32 and _MODEL_HDR.size == 16 and _DATASET_HDR.size == 16
assert _CONFIG.size == 32


class BlobError(ValueError):
    """A blob is malformed. ``field`` names the offending field."""

    def __init__(self, kind: str, field_name: str, msg: str):
        super().__init__(f"{kind} blob: {field_name}: {msg}")
        self.kind = kind
        self.field = field_name


# ---------------------------------------------------------------- framing


def frame(magic: bytes, payload: bytes) -> bytes:
    """Wrap a payload in the common header and CRC trailer."""
    head = HEADER.pack(magic, VERSION, HEADER.size, len(payload), 0)
    body = head + payload
    return body + struct.pack("<I", zlib.crc32(body))


def unframe(data: bytes, magic: bytes, kind: str) -> bytes:
    """Validate header, size and CRC; return the payload."""
    data = bytes(data)
    if len(data) < HEADER.size + 4:
        raise BlobError(kind, "size", f"{len(data)} bytes is shorter than header + CRC")
    got_magic, version, header_size, payload_size, _ = HEADER.unpack_from(data)
    if got_magic != magic:
        raise BlobError(kind, "magic", f"expected {magic!r}, found {got_magic!r}")
    if version != VERSION:
        raise BlobError(kind, "version", f"expected {VERSION}, found {version}")
    if header_size != HEADER.size:
        raise BlobError(kind, "header_size", f"expected {HEADER.size}, found {header_size}")
    if HEADER.size + payload_size + 4 > len(data):
        raise BlobError(kind, "payload_size",
                        f"{payload_size} bytes announced, blob is truncated at {len(data)}")
    end = HEADER.size + payload_size
    (crc,) = struct.unpack_from("<I", data, end)
    if crc != zlib.crc32(data[:end]):
        raise BlobError(kind, "crc32", f"stored 0x{crc:08x}, computed 0x{zlib.crc32(data[:end]):08x}")
    return data[HEADER.size:end]


# ---------------------------------------------------------------- model


@dataclass
class Layer:
    kind: str  # "conv" (3x3 same) or "fc"
    in_c: int
    in_h: int
    in_w: int
    out_c: int
    weights: np.ndarray  # int8, (out_c, in_c, 3, 3) or (out_c, in_c)
    bias: np.ndarray | None = None  # int32 (out_c,)
    relu: bool = False
    pool: bool = False
    out_shift: int = 0
    err_shift: int = 0
    grad_shift: int = 0

    @property
    def out_h(self) -> int:
        return self.in_h if self.kind == "conv" else 1

    @property
    def out_w(self) -> int:
        return self.in_w if self.kind == "conv" else 1

    @property
    def next_shape(self) -> tuple[int, int, int]:
        """Shape (C, H, W) of the next layer's input (after the optional pool)."""
        if self.pool:
            return self.out_c, self.out_h // 2, self.out_w // 2
        return self.out_c, self.out_h, self.out_w

    @property
    def n_edges(self) -> int:
        return int(self.weights.size)


@dataclass
class QuantModel:
    layers: list[Layer]
    in_c: int = 1
    in_h: int = 28
    in_w: int = 28
    n_classes: int = 10
    input_frac: int = 7
    logit_frac: int = 4

    @property
    def n_edges(self) -> int:
        return sum(layer.n_edges for layer in self.layers)


def validate_model(m: QuantModel, kind: str = "model") -> None:
    """Raise BlobError unless the model obeys docs/BLOBS.md's checks."""
    if not 1 <= len(m.layers) <= MAX_LAYERS:
        raise BlobError(kind, "n_layers", f"{len(m.layers)} not in 1..{MAX_LAYERS}")
    if not 2 <= m.n_classes <= 64:
        raise BlobError(kind, "n_classes", f"{m.n_classes} not in 2..64")
    shape = (m.in_c, m.in_h, m.in_w)
    for i, layer in enumerate(m.layers):
        name = f"layer[{i}]"
        if layer.kind not in ("conv", "fc"):
            raise BlobError(kind, f"{name}.type", f"unknown layer type {layer.kind!r}")
        for s in ("out_shift", "err_shift", "grad_shift"):
            v = getattr(layer, s)
            if not 0 <= v <= MAX_SHIFT:
                raise BlobError(kind, f"{name}.{s}", f"{v} not in 0..{MAX_SHIFT}")
        if layer.kind == "conv":
            if (layer.in_c, layer.in_h, layer.in_w) != shape:
                raise BlobError(kind, f"{name}.in_shape",
                                f"{(layer.in_c, layer.in_h, layer.in_w)} != previous output {shape}")
            want = (layer.out_c, layer.in_c, 3, 3)
        else:
            if layer.pool:
                raise BlobError(kind, f"{name}.flags", "POOL is only allowed on conv layers")
            feat = shape[0] * shape[1] * shape[2]
            if (layer.in_c, layer.in_h, layer.in_w) != (feat, 1, 1):
                raise BlobError(kind, f"{name}.in_shape",
                                f"fc expects in_c={feat}, in_h=in_w=1, got "
                                f"{(layer.in_c, layer.in_h, layer.in_w)}")
            want = (layer.out_c, layer.in_c)
        if min(layer.in_c, layer.in_h, layer.in_w, layer.out_c) < 1 or max(
                layer.in_c, layer.in_h, layer.in_w, layer.out_c) > 65535:
            raise BlobError(kind, f"{name}.shape", "dimensions must be in 1..65535")
        if tuple(layer.weights.shape) != want:
            raise BlobError(kind, f"{name}.weight_count",
                            f"weights shaped {tuple(layer.weights.shape)}, expected {want}")
        if layer.bias is not None and tuple(layer.bias.shape) != (layer.out_c,):
            raise BlobError(kind, f"{name}.bias_count", f"bias shaped {layer.bias.shape}")
        shape = layer.next_shape
    last = m.layers[-1]
    if last.kind != "fc" or last.relu or last.pool:
        raise BlobError(kind, f"layer[{len(m.layers) - 1}].type",
                        "the last layer must be fc without RELU/POOL")
    if last.out_c != m.n_classes:
        raise BlobError(kind, "n_classes", f"last layer has {last.out_c} outputs, "
                                          f"model declares {m.n_classes}")


def encode_model(m: QuantModel) -> bytes:
    validate_model(m)
    n = len(m.layers)
    data_start = HEADER.size + _MODEL_HDR.size + n * _LAYER.size
    data = bytearray()
    table = bytearray()
    for layer in m.layers:
        w = np.ascontiguousarray(layer.weights, dtype=np.int8)
        w_off = data_start + len(data)
        data += w.tobytes()
        while (data_start + len(data)) % 4:
            data.append(0)
        if layer.bias is not None:
            b_off = data_start + len(data)
            data += np.ascontiguousarray(layer.bias, dtype="<i4").tobytes()
            b_cnt = layer.out_c
        else:
            b_off, b_cnt = 0, 0
        flags = (FLAG_RELU if layer.relu else 0) | (FLAG_POOL if layer.pool else 0)
        conv = layer.kind == "conv"
        table += _LAYER.pack(CONV if conv else FC, flags, 3 if conv else 1, 1 if conv else 0,
                             layer.in_c, layer.in_h, layer.in_w, layer.out_c,
                             layer.out_shift, layer.err_shift, layer.grad_shift, 0,
                             w_off, w.size, b_off, b_cnt)
    head = _MODEL_HDR.pack(n, m.in_c, m.in_h, m.in_w, m.n_classes, m.input_frac,
                           m.logit_frac, 0, m.n_edges, 0)
    return frame(MODEL_MAGIC, head + bytes(table) + bytes(data))


def decode_model(blob: bytes) -> QuantModel:
    kind = "model"
    payload = unframe(blob, MODEL_MAGIC, kind)
    full = bytes(blob)
    if len(payload) < _MODEL_HDR.size:
        raise BlobError(kind, "payload_size", "too small for the model header")
    n, in_c, in_h, in_w, n_classes, input_frac, logit_frac, _, n_edges, _ = \
        _MODEL_HDR.unpack_from(payload)
    if not 1 <= n <= MAX_LAYERS:
        raise BlobError(kind, "n_layers", f"{n} not in 1..{MAX_LAYERS}")
    if input_frac != 7 or logit_frac != 4:
        raise BlobError(kind, "input_frac/logit_frac",
                        f"expected 7/4, found {input_frac}/{logit_frac}")
    if len(payload) < _MODEL_HDR.size + n * _LAYER.size:
        raise BlobError(kind, "layer_table", "truncated layer table")
    end = HEADER.size + len(payload)
    layers = []
    for i in range(n):
        (typ, flags, kernel, pad, lc, lh, lw, oc, o_sh, e_sh, g_sh, _, w_off, w_cnt,
         b_off, b_cnt) = _LAYER.unpack_from(payload, _MODEL_HDR.size + i * _LAYER.size)
        name = f"layer[{i}]"
        if typ == CONV:
            if (kernel, pad) != (3, 1):
                raise BlobError(kind, f"{name}.kernel", "conv must be 3x3 with pad 1")
            shape = (oc, lc, 3, 3)
        elif typ == FC:
            if (kernel, pad) != (1, 0):
                raise BlobError(kind, f"{name}.kernel", "fc must have kernel 1, pad 0")
            shape = (oc, lc)
        else:
            raise BlobError(kind, f"{name}.type", f"unknown layer type {typ}")
        if flags & ~(FLAG_RELU | FLAG_POOL):
            raise BlobError(kind, f"{name}.flags", f"unknown flag bits 0x{flags:02x}")
        if w_cnt != int(np.prod(shape)):
            raise BlobError(kind, f"{name}.weight_count",
                            f"{w_cnt} does not match shape {shape}")
        data_start = HEADER.size + _MODEL_HDR.size + n * _LAYER.size
        if w_off < data_start or w_off + w_cnt > end:
            raise BlobError(kind, f"{name}.weight_offset", "weights lie outside the payload")
        weights = np.frombuffer(full, np.int8, w_cnt, w_off).reshape(shape).copy()
        bias = None
        if b_cnt:
            if b_cnt != oc:
                raise BlobError(kind, f"{name}.bias_count", f"{b_cnt} != out_c {oc}")
            if b_off % 4 or b_off < data_start or b_off + 4 * b_cnt > end:
                raise BlobError(kind, f"{name}.bias_offset", "biases misaligned or outside the payload")
            bias = np.frombuffer(full, "<i4", b_cnt, b_off).astype(np.int32)
        layers.append(Layer("conv" if typ == CONV else "fc", lc, lh, lw, oc, weights, bias,
                            bool(flags & FLAG_RELU), bool(flags & FLAG_POOL), o_sh, e_sh, g_sh))
    m = QuantModel(layers, in_c, in_h, in_w, n_classes, input_frac, logit_frac)
    validate_model(m, kind)
    if n_edges != m.n_edges:
        raise BlobError(kind, "n_edges", f"header says {n_edges}, layers hold {m.n_edges}")
    return m


# ---------------------------------------------------------------- dataset


@dataclass
class DatasetBlob:
    train_x: np.ndarray  # uint8 (N, C, H, W)
    train_y: np.ndarray  # uint8 (N,)
    test_x: np.ndarray
    test_y: np.ndarray
    n_classes: int = 10
    angle_deg: int = 0


def encode_dataset(d: DatasetBlob) -> bytes:
    kind = "dataset"
    for name in ("train_x", "test_x"):
        a = getattr(d, name)
        if a.ndim != 4 or a.dtype != np.uint8:
            raise BlobError(kind, name, f"need uint8 (N, C, H, W), got {a.dtype} {a.shape}")
    if d.train_x.shape[1:] != d.test_x.shape[1:]:
        raise BlobError(kind, "shape", "train and test images differ in shape")
    for xs, ys, name in ((d.train_x, d.train_y, "train_y"), (d.test_x, d.test_y, "test_y")):
        if ys.shape != (xs.shape[0],):
            raise BlobError(kind, name, f"{ys.shape} labels for {xs.shape[0]} images")
        if ys.size and (ys.min() < 0 or ys.max() >= d.n_classes):
            raise BlobError(kind, name, f"labels must be in 0..{d.n_classes - 1}")
    c, h, w = d.train_x.shape[1:]
    if max(c, h, w) > 255:
        raise BlobError(kind, "shape", "C, H, W must each be <= 255")
    head = _DATASET_HDR.pack(len(d.train_x), len(d.test_x), c, h, w, d.n_classes,
                             int(d.angle_deg), 0)
    payload = b"".join([head, d.train_x.tobytes(), d.train_y.astype(np.uint8).tobytes(),
                        d.test_x.tobytes(), d.test_y.astype(np.uint8).tobytes()])
    return frame(DATASET_MAGIC, payload)


def dataset_blob_size(n_train: int, n_test: int, image_shape: tuple[int, int, int]) -> int:
    """Bytes of the dataset blob of n_train + n_test images of (C, H, W), uint8 + label."""
    c, h, w = image_shape
    return len(frame(DATASET_MAGIC, b"")) + _DATASET_HDR.size + (n_train + n_test) * (
        c * h * w + 1)


def decode_dataset(blob: bytes) -> DatasetBlob:
    kind = "dataset"
    p = unframe(blob, DATASET_MAGIC, kind)
    if len(p) < _DATASET_HDR.size:
        raise BlobError(kind, "payload_size", "too small for the dataset header")
    n_tr, n_te, c, h, w, n_cls, angle, _ = _DATASET_HDR.unpack_from(p)
    if min(c, h, w) < 1 or n_cls < 2:
        raise BlobError(kind, "shape", f"C,H,W={c},{h},{w} classes={n_cls}")
    img = c * h * w
    need = _DATASET_HDR.size + (n_tr + n_te) * (img + 1)
    if need != len(p):
        raise BlobError(kind, "payload_size", f"{len(p)} bytes, header implies {need}")
    off = _DATASET_HDR.size

    def take(count: int, shape):
        nonlocal off
        a = np.frombuffer(p, np.uint8, count, off).reshape(shape).copy()
        off += count
        return a

    tx = take(n_tr * img, (n_tr, c, h, w))
    ty = take(n_tr, (n_tr,))
    vx = take(n_te * img, (n_te, c, h, w))
    vy = take(n_te, (n_te,))
    for ys, name in ((ty, "train_labels"), (vy, "test_labels")):
        if ys.size and ys.max() >= n_cls:
            raise BlobError(kind, name, f"label {ys.max()} >= n_classes {n_cls}")
    return DatasetBlob(tx, ty, vx, vy, n_cls, angle)


# ---------------------------------------------------------------- run config

@dataclass
class RunConfig:
    seed: int = 1
    keep_permille: int = 700
    lr_shift: int = 8
    score_init: int = 0
    init_shift: int = 6
    method: int = 0
    epochs: int = 1
    train_limit: int = 0
    test_limit: int = 0
    progress_every: int = 0
    score_permille: int = 0    # PRIOT-S: scored fraction of each layer's edges (1..1000)
    grad_rounding: int = 0     # static SGD, NITI: 0 round half up, 1 pseudo-stochastic
    subset_rule: int = 0       # PRIOT-S: 0 random stratified, 1 largest |w|
    last_layer_permille: int = 0   # PRIOT-S: the last layer's fraction (0: score_permille)
    persist: int = 0           # the saved state: bit 0 restore at start, bit 1 save after
    mode: int = 0              # 0 the batch run flow, 1 stream mode (docs/STREAMING.md)
    extra: dict = field(default_factory=dict)  # not encoded; for bookkeeping

    def validate(self, kind: str = "config") -> None:
        """Raise BlobError unless every field is in its range (priot.config_table, the
        ranges the C parser accepts)."""
        problem = config_table.blob_problem({name: getattr(self, name)
                                             for name in config_table.BLOB_FIELDS})
        if problem is not None:
            raise BlobError(kind, *problem)


def encode_config(c: RunConfig) -> bytes:
    c.validate()
    return pack_config(c)


def pack_config(c: RunConfig) -> bytes:
    """The config blob of c without validating it (for tests of the parsers)."""
    payload = _CONFIG.pack(c.seed, c.keep_permille, c.lr_shift, c.score_init, c.init_shift,
                           c.method, c.epochs, c.train_limit, c.test_limit,
                           c.progress_every, c.score_permille, c.grad_rounding, c.subset_rule,
                           c.last_layer_permille, c.mode, c.persist)
    return frame(CONFIG_MAGIC, payload)


def decode_config(blob: bytes) -> RunConfig:
    p = unframe(blob, CONFIG_MAGIC, "config")
    if len(p) != _CONFIG.size:
        raise BlobError("config", "payload_size", f"{len(p)} bytes, expected {_CONFIG.size}")
    (seed, keep, lr, init, init_shift, method, epochs, tr, te, prog, score_permille,
     grad_rounding, subset_rule, last_layer_permille, mode, persist) = _CONFIG.unpack(p)
    c = RunConfig(seed, keep, lr, init, init_shift, method, epochs, tr, te, prog,
                  score_permille, grad_rounding, subset_rule, last_layer_permille, persist,
                  mode)
    c.validate()
    return c
