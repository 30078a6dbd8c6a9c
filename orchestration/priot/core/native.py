"""ctypes bindings of the C kernel library (firmware/priot, host build libpriot.so).

The library is built on demand with ``make -C firmware host`` (see :func:`build_library`);
every entry point of firmware/priot/include/priot/host.h has a numpy wrapper here, and
:func:`host_run` runs the exact ``priot_run`` flow of the firmware on three blobs.

C status codes become :class:`NativeError` carrying the code and its message.
"""
from __future__ import annotations

import contextlib
import ctypes as C
import os
import pathlib
import subprocess
import threading
from dataclasses import dataclass, field

import numpy as np

from . import blob as blobmod
from . import methods
from ..paths import DEFAULT_BUILD, FIRMWARE_DIR

API_VERSION = 2


class NativeError(RuntimeError):
    """A C function returned a non-zero priot_status_t."""

    def __init__(self, code: int, message: str, where: str = ""):
        super().__init__(f"{where + ': ' if where else ''}priot error {code} ({message})")
        self.code = code
        self.message = message


# ---------------------------------------------------------------- build and load


def build_library(san: bool = False, build_dir: os.PathLike | None = None) -> pathlib.Path:
    """Build (if out of date) and return the path of libpriot.so.

    Kept in one small function so that a project-wide builder can replace it."""
    build = pathlib.Path(build_dir) if build_dir else DEFAULT_BUILD
    cmd = ["make", "-s", "-C", str(FIRMWARE_DIR), "host", f"BUILD={build}"]
    if san:
        cmd.append("SAN=1")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building the host library failed:\n{proc.stdout}\n{proc.stderr}")
    return build / ("host-san" if san else "host") / "libpriot.so"


class Result(C.Structure):
    """Mirror of priot_host_result_t (host.h)."""
    _fields_ = [("status", C.c_int32)] + [(n, C.c_uint32) for n in (
        "frozen_correct", "before_correct", "after_correct", "test_total",
        "train_samples", "train_per_epoch", "score_crc",
        "arena_used", "n_edges", "n_layers", "n_classes")]


class HostState(C.Structure):
    """Mirror of priot_host_state_t (host.h)."""
    _fields_ = [(f"{event}_{name}", C.c_int32 if name == "status" else C.c_uint32)
                for event in ("restored", "saved")
                for name in ("status", "slot", "seq", "samples", "bytes", "crc")]


# status codes of the saved state (status.h) -> the STATE record's words
STATE_STATUS = {0: "ok", 90: "none", 91: "mismatch"}


def _state_event(hs: HostState, event: str) -> dict | None:
    """One STATE record's values, as Report.state holds them (None: not asked)."""
    code = getattr(hs, f"{event}_status")
    if code < 0:
        return None
    out = {"status": STATE_STATUS.get(code, "error")}
    if code in (0, 91):
        out.update({k: getattr(hs, f"{event}_{k}") for k in ("slot", "seq", "samples",
                                                              "bytes", "crc")})
    return out


_P = C.c_void_p
_U32 = C.c_uint32
_I32 = C.c_int32

_SIGNATURES = {
    "priot_host_api_version": (_I32, []),
    "priot_host_status_str": (C.c_char_p, [_I32]),
    "priot_host_sizeof_result": (_U32, []),
    "priot_host_arena_need": (_U32, [_P, _U32, _P]),
    "priot_host_arena_need_cfg": (_U32, [_P, _U32, _P, _U32, _P]),
    "priot_host_curve": (_I32, [_P, _U32, _P, _U32, _P, _U32, _P, _U32, _P, _U32, _P]),
    "priot_host_parse_model": (_I32, [_P, _U32]),
    "priot_host_parse_dataset": (_I32, [_P, _U32]),
    "priot_host_parse_config": (_I32, [_P, _U32]),
    "priot_host_run": (_I32, [_P, _U32, _P, _U32, _P, _U32, _P, _U32, _P, _P, _U32, _P, _U32]),
    "priot_host_stream": (_I32, [_P, _U32, _P, _U32, _P, _U32, _P, _U32, _P, _U32, _P, _P,
                                 _U32, _P]),
    "priot_host_run_persist": (_I32, [_P, _U32, _P, _U32, _P, _U32, _P, _U32, _P, _P, _U32,
                                      _P, _U32, _P, _U32, _P]),
    "priot_host_train": (_I32, [_P, _U32, _P, _U32, _P, _U32, _P, _P, _P, _U32, _P, _P]),
    "priot_host_predict": (_I32, [_P, _U32, _P, _U32, _P, _U32, _P, _I32, _P, _U32, _P, _P]),
    "priot_host_round_shift": (_I32, [_I32, _U32]),
    "priot_host_sat8": (_I32, [_I32]),
    "priot_host_sat16": (_I32, [_I32]),
    "priot_host_rng": (_U32, [_U32, _U32, _P]),
    "priot_host_subset": (None, [_P, _U32, _U32, _U32, _U32, _U32, _P]),
    "priot_host_conv_scratch_planes": (_U32, []),
    "priot_host_conv_forward": (None, [_U32, _U32, _U32, _U32, _U32, _U32, _P, _P, _P, _P, _P]),
    "priot_host_fc_forward": (None, [_U32, _U32, _U32, _U32, _P, _P, _P, _P]),
    "priot_host_maxpool_forward": (None, [_U32, _U32, _U32, _P, _P]),
    "priot_host_maxpool_backward": (None, [_U32, _U32, _U32, _P, _P, _P]),
    "priot_host_conv_error_backward": (None, [_U32, _U32, _U32, _U32, _U32, _P, _P, _P, _P]),
    "priot_host_fc_error_backward": (None, [_U32, _U32, _U32, _P, _P, _P, _P]),
    "priot_host_conv_score_grad": (None, [_U32, _U32, _U32, _U32, _U32, _P, _P, _P]),
    "priot_host_fc_score_grad": (None, [_U32, _U32, _U32, _P, _P, _P]),
    "priot_host_use_ref_kernels": (None, [_I32]),
    "priot_host_score_grad_range": (None, [_U32] * 8 + [_P, _P, _P]),
    "priot_host_score_update": (None, [_P, _P, _P, _U32, _U32]),
    "priot_host_weight_update": (None, [_P, _P, _U32, _U32, _U32]),
    "priot_host_niti_conv_acc": (None, [_U32] * 4 + [_I32, _P, _P, _P, _P, _P]),
    "priot_host_niti_fc_acc": (None, [_U32, _U32, _I32, _P, _P, _P, _P]),
    "priot_host_niti_conv_error_acc": (None, [_U32] * 4 + [_P, _P, _P]),
    "priot_host_niti_fc_error_acc": (None, [_U32, _U32, _P, _P, _P]),
    "priot_host_niti_grad": (None, [_U32] * 5 + [_P, _P, _P]),
    "priot_host_niti_max_abs": (_U32, [_P, _U32]),
    "priot_host_niti_requant": (None, [_P, _U32, _U32, _I32, _P]),
    "priot_host_niti_weight_update": (None, [_P, _P, _U32, _U32, _U32]),
    "priot_relu_backward": (None, [_P, _P, _U32]),
    "priot_score_update": (None, [_P, _P, _P, _U32, _U32]),
    "priot_softmax_ce_error": (None, [_P, _U32, _U32, _P, _P]),
    "priot_argmax_i8": (_U32, [_P, _U32]),
    "priot_input_q7": (None, [_P, _P, _U32]),
    "priot_n_keep": (_U32, [_U32, _U32]),
    "priot_topk_threshold": (None, [_P, _U32, _U32, _P, _P, _P]),
    "priot_topk_mask": (_U32, [_P, _P, _U32, _U32, _P, _P]),
    "priot_topk_threshold_hint": (None, [_P, _U32, _U32, _P, _P, _P, _P]),
    "priot_mask_bytes": (_U32, [_U32, C.c_int]),
    "priot_mask_init": (None, [_P, _P, _U32, _U32, _P, _P]),
    "priot_mask_refresh": (None, [_P, _P, _P, _P]),
    "priot_score_update_mask": (None, [_P, _P, _P, _U32, _U32, _P, _U32, _P]),
    "priot_host_fc_score_update_mask": (None, [_U32, _U32, _U32, _U32, _P, _P, _P, _P, _P,
                                                _P, _P]),
    "priot_crc32": (_U32, [_U32, _P, _U32]),
    "priot_status_str": (C.c_char_p, [C.c_int]),
}

_libs: dict[tuple, C.CDLL] = {}
_lock = threading.Lock()


def load(san: bool = False, path: os.PathLike | None = None) -> C.CDLL:
    """Build if needed, load and return the library (cached per variant)."""
    key = (san, str(path) if path else None)
    with _lock:
        if key not in _libs:
            lib = C.CDLL(str(path or build_library(san)))
            for name, (res, args) in _SIGNATURES.items():
                fn = getattr(lib, name)
                fn.restype = res
                fn.argtypes = args
            if lib.priot_host_api_version() != API_VERSION:
                raise RuntimeError("libpriot.so API version mismatch; rebuild it")
            if lib.priot_host_sizeof_result() != C.sizeof(Result):
                raise RuntimeError("priot_host_result_t layout differs from native.Result")
            _libs[key] = lib
        return _libs[key]


def status_message(code: int, lib: C.CDLL | None = None) -> str:
    return (lib or load()).priot_host_status_str(int(code)).decode()


def _check(code: int, where: str, lib: C.CDLL) -> None:
    if code != 0:
        raise NativeError(int(code), status_message(code, lib), where)


# ---------------------------------------------------------------- buffers


def _buf(a, dtype) -> np.ndarray:
    """Contiguous copy (or view) of a with the given dtype; values must already fit."""
    a = np.asarray(a)
    if a.dtype != dtype:
        info = np.iinfo(dtype)
        if a.size and (a.min() < info.min or a.max() > info.max):
            raise ValueError(f"values outside {np.dtype(dtype).name}")
        a = a.astype(dtype)
    return np.ascontiguousarray(a)


def _ptr(a: np.ndarray | None):
    return None if a is None else a.ctypes.data_as(C.c_void_p)


def _blob(data) -> np.ndarray:
    """Blob bytes in a fresh, 16-byte aligned buffer (the C parser needs 4-byte alignment)."""
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    out = np.empty(len(raw) + 16, dtype=np.uint8)
    off = (-out.ctypes.data) % 16
    out = out[off:off + len(raw)]
    out[:] = raw
    return out


# ---------------------------------------------------------------- whole runs


@dataclass
class HostRunResult:
    frozen_correct: int
    before_correct: int
    after_correct: int
    test_total: int
    train_samples: int
    train_per_epoch: int
    score_crc: int
    arena_used: int
    n_edges: int
    scores: list[np.ndarray] = field(default_factory=list)  # per layer, shaped like weights
    frozen_pred: np.ndarray | None = None
    before_pred: np.ndarray | None = None
    after_pred: np.ndarray | None = None
    # with state_region: {"restored": {...}, "saved": {...}} like Report.state, and the
    # slots' bytes after the run
    state: dict = field(default_factory=dict)
    state_region: bytes | None = None


def parse_status(kind: str, data: bytes, san: bool = False) -> int:
    """Status code of the C parser for a "model", "dataset" or "config" blob (0 = valid)."""
    lib = load(san)
    b = _blob(data)
    fn = getattr(lib, f"priot_host_parse_{kind}")
    return int(fn(_ptr(b), len(b)))


def check_blob(kind: str, data: bytes, san: bool = False) -> None:
    """Raise NativeError unless the C parser accepts the blob."""
    lib = load(san)
    _check(parse_status(kind, data, san), f"parse_{kind}", lib)


def arena_need(model_blob: bytes, config_blob: bytes | None = None, san: bool = False) -> int:
    """Arena bytes a session needs: for PRIOT without a config, else for that config."""
    lib = load(san)
    mb = _blob(model_blob)
    st = C.c_int32(0)
    if config_blob is None:
        n = lib.priot_host_arena_need(_ptr(mb), len(mb), C.byref(st))
    else:
        cb = _blob(config_blob)
        n = lib.priot_host_arena_need_cfg(_ptr(mb), len(mb), _ptr(cb), len(cb), C.byref(st))
    _check(st.value, "arena_need", lib)
    return int(n)


def _split_scores(model_blob: bytes, flat: np.ndarray, config_blob: bytes | None = None
                  ) -> list[np.ndarray]:
    """Per-layer arrays: shaped like the weights, or 1-D subsets for a PRIOT-S config."""
    model = blobmod.decode_model(model_blob)
    cfg = blobmod.decode_config(config_blob) if config_blob is not None else None
    edges = [layer.n_edges for layer in model.layers]
    subset = cfg is not None and cfg.method == methods.PRIOT_S.code
    counts = (methods.scored_counts(edges, cfg.score_permille, cfg.last_layer_permille)
              if subset else edges)
    out, off = [], 0
    for layer, n in zip(model.layers, counts):
        part = flat[off:off + n].copy()
        out.append(part if subset else part.reshape(layer.weights.shape))
        off += n
    return out


def host_run(model_blob: bytes, dataset_blob: bytes, config_blob: bytes, *,
             san: bool = False, arena_size: int | None = None,
             want_scores: bool = True, want_predictions: bool = True,
             state_region: bytes | None = None,
             state_slot: int = blobmod.STATE_SLOT) -> HostRunResult:
    """priot_run (eval frozen -> eval before -> train -> eval after -> score CRC) in C.
    state_region: the saved-state slots as the device's flash holds them (2 * state_slot
    bytes, erased = 0xFF; the config's persist bits say what is read and written); the
    result then carries the STATE events and the slots' bytes after the run."""
    lib = load(san)
    mb, db, cb = _blob(model_blob), _blob(dataset_blob), _blob(config_blob)
    if arena_size is None:
        st = C.c_int32(0)   # the config's own need; a bad config is left to priot_run
        arena_size = int(lib.priot_host_arena_need_cfg(_ptr(mb), len(mb), _ptr(cb), len(cb),
                                                       C.byref(st)))
        if st.value != 0:
            arena_size = int(lib.priot_host_arena_need(_ptr(mb), len(mb), C.byref(st)))
        _check(st.value, "host_run", lib)
    arena = np.zeros(max(arena_size, 1), dtype=np.uint8)
    res = Result()
    scores = pred = None
    try:  # sizes of the optional outputs; malformed blobs are left to the C parser
        if want_scores:
            scores = np.zeros(blobmod.decode_model(model_blob).n_edges, dtype=np.int16)
        if want_predictions:
            cfg = blobmod.decode_config(config_blob)
            n_test = blobmod.decode_dataset(dataset_blob).test_y.size
            n_te = min(n_test, cfg.test_limit) if cfg.test_limit else n_test
            pred = np.zeros(3 * n_te, dtype=np.uint8)
    except blobmod.BlobError:
        scores = pred = None
    outputs = (_ptr(scores), 0 if scores is None else len(scores),
               _ptr(pred), 0 if pred is None else len(pred))
    region = hs = None
    if state_region is None:
        code = lib.priot_host_run(_ptr(mb), len(mb), _ptr(db), len(db), _ptr(cb), len(cb),
                                  _ptr(arena), arena_size, C.byref(res), *outputs)
    else:
        if len(state_region) != 2 * state_slot:
            raise ValueError(f"state_region is {len(state_region)} bytes, expected two slots "
                             f"of {state_slot}")
        region = np.frombuffer(bytes(state_region), dtype=np.uint8).copy()
        hs = HostState()
        code = lib.priot_host_run_persist(_ptr(mb), len(mb), _ptr(db), len(db), _ptr(cb),
                                          len(cb), _ptr(arena), arena_size, C.byref(res),
                                          *outputs, _ptr(region), state_slot, C.byref(hs))
    _check(code, "host_run", lib)
    out = HostRunResult(res.frozen_correct, res.before_correct, res.after_correct,
                        res.test_total, res.train_samples, res.train_per_epoch,
                        res.score_crc, res.arena_used, res.n_edges)
    if hs is not None:
        out.state = {e: v for e in ("restored", "saved") if (v := _state_event(hs, e))}
        out.state_region = region.tobytes()
    if scores is not None:
        out.scores = _split_scores(model_blob, scores, config_blob)
    if pred is not None:
        n = res.test_total
        out.frozen_pred, out.before_pred, out.after_pred = (pred[:n], pred[n:2 * n],
                                                            pred[2 * n:3 * n])
    return out


@dataclass
class HostStreamResult:
    replies: bytes            # every reply byte, frames ended by 0x00 (as UART0 sends them)
    restore_status: str       # "ok", "none", "mismatch" (of the saved state at start)
    state_region: bytes | None


def host_stream(model_blob: bytes, config_blob: bytes, stream: bytes, *,
                state_region: bytes | None = None, state_slot: int = blobmod.STATE_SLOT,
                san: bool = False) -> HostStreamResult:
    """Stream mode (priot_host_stream): the device's answer to a byte stream, bit for bit."""
    lib = load(san)
    mb, cb = _blob(model_blob), _blob(config_blob)
    st = C.c_int32(0)
    need = int(lib.priot_host_arena_need_cfg(_ptr(mb), len(mb), _ptr(cb), len(cb), C.byref(st)))
    _check(st.value, "host_stream", lib)
    arena = np.zeros(need + 16 * 1024, dtype=np.uint8)     # the session + the frame buffer
    data = np.frombuffer(bytes(stream) or b"\0", dtype=np.uint8).copy()
    out = np.zeros(64 + 64 * len(stream), dtype=np.uint8)
    out_len, restore = C.c_uint32(0), C.c_int32(0)
    region = None
    if state_region is not None:
        region = np.frombuffer(bytes(state_region), dtype=np.uint8).copy()
    code = lib.priot_host_stream(_ptr(mb), len(mb), _ptr(cb), len(cb), _ptr(arena), arena.size,
                                 _ptr(data), len(stream), _ptr(out), out.size,
                                 C.byref(out_len), _ptr(region), state_slot, C.byref(restore))
    _check(code, "host_stream", lib)
    return HostStreamResult(out[:out_len.value].tobytes(),
                            STATE_STATUS.get(restore.value, "error"),
                            None if region is None else region.tobytes())


def host_curve(model_blob: bytes, dataset_blob: bytes, config_blob: bytes, points,
               *, san: bool = False) -> list[float]:
    """Test accuracy after each of `points` training samples (ascending), in one training
    pass; equal to host_run(..., train_limit=p).after accuracy for every p."""
    lib = load(san)
    mb, db, cb = _blob(model_blob), _blob(dataset_blob), _blob(config_blob)
    need = arena_need(model_blob, config_blob, san=san)
    arena = np.zeros(max(need, 1), dtype=np.uint8)
    pts = np.ascontiguousarray(points, dtype=np.uint32)
    out = np.zeros(len(pts), dtype=np.uint32)
    code = lib.priot_host_curve(_ptr(mb), len(mb), _ptr(db), len(db), _ptr(cb), len(cb),
                                _ptr(arena), need, _ptr(pts), len(pts), _ptr(out))
    _check(code, "host_curve", lib)
    cfg = blobmod.decode_config(config_blob)
    n_test = blobmod.decode_dataset(dataset_blob).test_y.size
    total = min(n_test, cfg.test_limit) if cfg.test_limit else n_test
    return [int(c) / total for c in out]


def host_train(model_blob: bytes, config_blob: bytes, images, labels, scores=None, *,
               san: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Training steps in C from `scores` (list per layer; None: the initial scores).

    Returns (scores, w_eff) per layer after len(labels) steps (0 steps: the initial state)."""
    lib = load(san)
    mb, cb = _blob(model_blob), _blob(config_blob)
    model = blobmod.decode_model(model_blob)
    need = arena_need(model_blob, config_blob, san=san)
    arena = np.zeros(need, dtype=np.uint8)
    imgs = _buf(images, np.uint8)
    labs = _buf(labels, np.uint8).reshape(-1)
    s_in = None
    if scores is not None:
        s_in = np.concatenate([_buf(s, np.int16).reshape(-1) for s in scores])
    s_out = np.zeros(model.n_edges, dtype=np.int16)
    w_out = np.zeros(model.n_edges, dtype=np.int8)
    code = lib.priot_host_train(_ptr(mb), len(mb), _ptr(cb), len(cb), _ptr(arena), need,
                                _ptr(s_in), _ptr(imgs), _ptr(labs), len(labs),
                                _ptr(s_out), _ptr(w_out))
    _check(code, "host_train", lib)
    return _split_scores(model_blob, s_out, config_blob), _split_scores(model_blob, w_out)


def host_predict(model_blob: bytes, config_blob: bytes, images, scores=None,
                 use_mask: bool = True, *, san: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(logits int8 (N, n_classes), predictions (N,)) from the C forward pass."""
    lib = load(san)
    mb, cb = _blob(model_blob), _blob(config_blob)
    model = blobmod.decode_model(model_blob)
    need = arena_need(model_blob, config_blob, san=san)
    arena = np.zeros(need, dtype=np.uint8)
    imgs = _buf(images, np.uint8)
    n = imgs.shape[0] if imgs.ndim == 4 else 1
    s_in = None
    if scores is not None:
        s_in = np.concatenate([_buf(s, np.int16).reshape(-1) for s in scores])
    logits = np.zeros((n, model.n_classes), dtype=np.int8)
    pred = np.zeros(n, dtype=np.uint8)
    code = lib.priot_host_predict(_ptr(mb), len(mb), _ptr(cb), len(cb), _ptr(arena), need,
                                  _ptr(s_in), int(use_mask), _ptr(imgs), n,
                                  _ptr(logits), _ptr(pred))
    _check(code, "host_predict", lib)
    return logits, pred


# ---------------------------------------------------------------- single kernels


def round_shift(v: int, s: int) -> int:
    return load().priot_host_round_shift(int(v), int(s))


def sat8(v: int) -> int:
    return load().priot_host_sat8(int(v))


def sat16(v: int) -> int:
    return load().priot_host_sat16(int(v))


def rng(seed: int, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.uint32)
    load().priot_host_rng(seed & 0xFFFFFFFF, n, _ptr(out))
    return out


def subset(weights, k: int, rule: int, seed: int, layer: int) -> np.ndarray:
    """The C iterator's scored edges of a PRIOT-S layer (priot_host_subset)."""
    w = _buf(np.asarray(weights).reshape(-1), np.int8)
    out = np.zeros(k, dtype=np.uint32)
    load().priot_host_subset(_ptr(w), w.size, k, rule, seed & 0xFFFFFFFF, layer, _ptr(out))
    return out.astype(np.int64)


def input_q7(pixels) -> np.ndarray:
    p = _buf(pixels, np.uint8)
    out = np.zeros(p.shape, dtype=np.int8)
    load().priot_input_q7(_ptr(p), _ptr(out), p.size)
    return out


def _conv_scratch_words(h: int, w: int) -> int:
    """Scratch of the conv forward / NITI conv_acc for one h x w plane (kernels.h
    PRIOT_CONV_SCRATCH_PLANES planes: an output-channel pair and its packed sums)."""
    return int(load().priot_host_conv_scratch_planes()) * h * w


def conv_forward(x, w, bias, out_shift: int, relu: bool) -> np.ndarray:
    """x (C, H, W) int8, w (OC, C, 3, 3) int8, bias (OC,) int32 or None -> y (OC, H, W)."""
    x = _buf(x, np.int8)
    w = _buf(w, np.int8)
    c, h, wd = x.shape
    oc = w.shape[0]
    assert w.shape == (oc, c, 3, 3)
    b = None if bias is None else _buf(bias, np.int32)
    y = np.zeros((oc, h, wd), dtype=np.int8)
    acc = np.zeros(_conv_scratch_words(h, wd), dtype=np.uint32)
    load().priot_host_conv_forward(c, h, wd, oc, out_shift, int(relu), _ptr(x), _ptr(w), _ptr(b),
                                   _ptr(y), _ptr(acc))
    return y


def fc_forward(x, w, bias, out_shift: int, relu: bool) -> np.ndarray:
    x = _buf(x, np.int8).reshape(-1)
    w = _buf(w, np.int8)
    oc, n = w.shape
    assert x.size == n
    b = None if bias is None else _buf(bias, np.int32)
    y = np.zeros(oc, dtype=np.int8)
    load().priot_host_fc_forward(n, oc, out_shift, int(relu), _ptr(x), _ptr(w), _ptr(b), _ptr(y))
    return y


def maxpool_forward(y) -> np.ndarray:
    y = _buf(y, np.int8)
    c, h, w = y.shape
    out = np.zeros((c, h // 2, w // 2), dtype=np.int8)
    load().priot_host_maxpool_forward(c, h, w, _ptr(y), _ptr(out))
    return out


def maxpool_backward(e_pooled, y) -> np.ndarray:
    y = _buf(y, np.int8)
    c, h, w = y.shape
    e = _buf(e_pooled, np.int8).reshape(c, h // 2, w // 2)
    out = np.zeros_like(y)
    load().priot_host_maxpool_backward(c, h, w, _ptr(e), _ptr(y), _ptr(out))
    return out


def relu_backward(e, y) -> np.ndarray:
    e = _buf(e, np.int8).copy()
    y = _buf(y, np.int8)
    assert e.size == y.size
    load().priot_relu_backward(_ptr(e), _ptr(y), e.size)
    return e


def conv_error_backward(e_out, w, err_shift: int) -> np.ndarray:
    e = _buf(e_out, np.int8)
    w = _buf(w, np.int8)
    oc, h, wd = e.shape
    c = w.shape[1]
    out = np.zeros((c, h, wd), dtype=np.int8)
    acc = np.zeros(h * wd, dtype=np.uint32)
    load().priot_host_conv_error_backward(c, h, wd, oc, err_shift, _ptr(e), _ptr(w), _ptr(out),
                                          _ptr(acc))
    return out


def fc_error_backward(e_out, w, err_shift: int) -> np.ndarray:
    e = _buf(e_out, np.int8).reshape(-1)
    w = _buf(w, np.int8)
    oc, n = w.shape
    out = np.zeros(n, dtype=np.int8)
    acc = np.zeros(n, dtype=np.uint32)
    load().priot_host_fc_error_backward(n, oc, err_shift, _ptr(e), _ptr(w), _ptr(out), _ptr(acc))
    return out


def conv_score_grad(e_out, x, grad_shift: int) -> np.ndarray:
    e = _buf(e_out, np.int8)
    x = _buf(x, np.int8)
    oc, h, w = e.shape
    c = x.shape[0]
    gq = np.zeros((oc, c, 3, 3), dtype=np.int16)
    load().priot_host_conv_score_grad(c, h, w, oc, grad_shift, _ptr(e), _ptr(x), _ptr(gq))
    return gq


def score_grad_range(e_out, x, grad_shift: int, o_begin: int, o_end: int) -> np.ndarray:
    """gq of output channels o_begin..o_end-1 only (conv if x is CHW, else fc)."""
    e = _buf(e_out, np.int8)
    x = _buf(x, np.int8)
    if x.ndim == 3:
        c, h, w = x.shape
        oc, row, kind = e.shape[0], x.shape[0] * 9, 1
    else:
        c, h, w = x.size, 1, 1
        oc, row, kind = e.size, x.size, 2
    gq = np.zeros((o_end - o_begin) * row, dtype=np.int16)
    load().priot_host_score_grad_range(kind, c, h, w, oc, grad_shift, o_begin, o_end,
                                       _ptr(e), _ptr(x), _ptr(gq))
    return gq


def fc_score_grad(e_out, x, grad_shift: int) -> np.ndarray:
    e = _buf(e_out, np.int8).reshape(-1)
    x = _buf(x, np.int8).reshape(-1)
    gq = np.zeros((e.size, x.size), dtype=np.int16)
    load().priot_host_fc_score_grad(x.size, e.size, grad_shift, _ptr(e), _ptr(x), _ptr(gq))
    return gq


def score_update(scores, gq, w, lr_shift: int) -> np.ndarray:
    s = _buf(scores, np.int16).copy()
    g = _buf(gq, np.int16)
    w = _buf(w, np.int8)
    assert s.size == g.size == w.size
    load().priot_host_score_update(_ptr(s), _ptr(w), _ptr(g), s.size, lr_shift)
    return s


def weight_update(w, gq, lr_shift: int, rounding: int = 0) -> np.ndarray:
    """Static-scale SGD step on a copy of w: sat8(w - round_shift(gq, lr_shift)), or
    psto_shift with rounding 1."""
    w = _buf(w, np.int8).copy()
    g = _buf(gq, np.int16)
    assert w.size == g.size
    load().priot_host_weight_update(_ptr(w), _ptr(g), w.size, lr_shift, rounding)
    return w


# ---------------------------------------------------------------- NITI kernels (niti.h)
# int32 accumulators are returned as int32 arrays (the uint32 words reinterpreted).

def niti_conv_acc(x, w, bias, d: int) -> np.ndarray:
    """x (C, H, W), w (OC, C, 3, 3), bias (OC,) or None, exponent offset d -> (OC, H, W)."""
    x = _buf(x, np.int8)
    w = _buf(w, np.int8)
    c, h, wd = x.shape
    oc = w.shape[0]
    assert w.shape == (oc, c, 3, 3)
    b = None if bias is None else _buf(bias, np.int32)
    acc = np.zeros((oc, h, wd), dtype=np.uint32)
    pair = np.zeros(_conv_scratch_words(h, wd), dtype=np.uint32)
    load().priot_host_niti_conv_acc(c, h, wd, oc, d, _ptr(x), _ptr(w), _ptr(b), _ptr(acc),
                                    _ptr(pair))
    return acc.view(np.int32)


def niti_fc_acc(x, w, bias, d: int) -> np.ndarray:
    x = _buf(x, np.int8).reshape(-1)
    w = _buf(w, np.int8)
    oc = w.shape[0]
    assert w.shape == (oc, x.size)
    b = None if bias is None else _buf(bias, np.int32)
    acc = np.zeros(oc, dtype=np.uint32)
    load().priot_host_niti_fc_acc(x.size, oc, d, _ptr(x), _ptr(w), _ptr(b), _ptr(acc))
    return acc.view(np.int32)


def niti_conv_error_acc(e_out, w) -> np.ndarray:
    e = _buf(e_out, np.int8)
    w = _buf(w, np.int8)
    oc, h, wd = e.shape
    c = w.shape[1]
    acc = np.full((c, h, wd), 0xDEADBEEF, dtype=np.uint32)
    load().priot_host_niti_conv_error_acc(c, h, wd, oc, _ptr(e), _ptr(w), _ptr(acc))
    return acc.view(np.int32)


def niti_fc_error_acc(e_out, w) -> np.ndarray:
    e = _buf(e_out, np.int8).reshape(-1)
    w = _buf(w, np.int8)
    acc = np.full(w.shape[1], 0xDEADBEEF, dtype=np.uint32)
    load().priot_host_niti_fc_error_acc(w.shape[1], e.size, _ptr(e), _ptr(w), _ptr(acc))
    return acc.view(np.int32)


def niti_grad(e_out, x) -> np.ndarray:
    """Weight gradient of every output channel, int32: conv (x CHW) -> (OC, C, 3, 3),
    fc -> (OC, N); one kernel call per output channel, as the engine does."""
    e = _buf(e_out, np.int8)
    x = _buf(x, np.int8)
    if x.ndim == 3:
        c, h, wd = x.shape
        oc, kind, shape = e.shape[0], 1, (e.shape[0], c, 3, 3)
    else:
        e, x = e.reshape(-1), x.reshape(-1)
        c, h, wd = x.size, 1, 1
        oc, kind, shape = e.size, 2, (e.size, x.size)
    g = np.full(shape, 0xDEADBEEF, dtype=np.uint32)
    load().priot_host_niti_grad(kind, c, h, wd, oc, _ptr(e), _ptr(x), _ptr(g))
    return g.view(np.int32)


def niti_max_abs(a) -> int:
    a = np.ascontiguousarray(np.asarray(a, dtype=np.int32).reshape(-1)).view(np.uint32)
    return int(load().priot_host_niti_max_abs(_ptr(a), a.size))


def niti_requant(a, shift: int, relu: bool) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(a, dtype=np.int32).reshape(-1)).view(np.uint32)
    y = np.zeros(a.size, dtype=np.int8)
    load().priot_host_niti_requant(_ptr(a), a.size, shift, int(relu), _ptr(y))
    return y


def niti_weight_update(w, g, shift: int, rounding: int = 0) -> np.ndarray:
    """sat8(w - round_shift(g, shift)), or psto_shift with rounding 1, on a copy of w
    (g int32)."""
    w = _buf(w, np.int8).copy()
    g = np.ascontiguousarray(np.asarray(g, dtype=np.int32).reshape(-1)).view(np.uint32)
    assert w.size == g.size
    load().priot_host_niti_weight_update(_ptr(w), _ptr(g), w.size, shift, rounding)
    return w


@contextlib.contextmanager
def reference_kernels(on: bool = True, san: bool = False):
    """Within the block, the single-kernel functions of this module (conv_forward, ...,
    score_update, weight_update, niti_*) run the plain reference kernels (kernels_ref.c,
    niti_ref.c)."""
    lib = load(san)
    lib.priot_host_use_ref_kernels(int(on))
    try:
        yield
    finally:
        lib.priot_host_use_ref_kernels(0)


def softmax_error(z, label: int) -> tuple[np.ndarray, np.ndarray]:
    """(error int8, probabilities Q15 uint32)."""
    z = _buf(z, np.int8).reshape(-1)
    e = np.zeros(z.size, dtype=np.int8)
    p = np.zeros(z.size, dtype=np.uint32)
    load().priot_softmax_ce_error(_ptr(z), z.size, label, _ptr(e), _ptr(p))
    return e, p


def argmax(z) -> int:
    z = _buf(z, np.int8).reshape(-1)
    return int(load().priot_argmax_i8(_ptr(z), z.size))


def exp_table() -> np.ndarray:
    lib = load()
    return np.ctypeslib.as_array((C.c_uint32 * 256).in_dll(lib, "priot_exp_table")).copy()


def n_keep(n: int, keep_permille: int) -> int:
    return int(load().priot_n_keep(n, keep_permille))


def topk_threshold(scores, k: int) -> tuple[int, int]:
    s = _buf(scores, np.int16).reshape(-1)
    hist = np.zeros(256, dtype=np.uint32)
    thr = C.c_int16(0)
    eq = C.c_uint32(0)
    load().priot_topk_threshold(_ptr(s), s.size, k, _ptr(hist), C.byref(thr), C.byref(eq))
    return thr.value, eq.value


def topk_threshold_hint(scores, k: int, hint: int) -> tuple[int, int, int]:
    """(threshold, n_eq_keep, new hint) of the hinted search (prune.h)."""
    s = _buf(scores, np.int16).reshape(-1)
    hist = np.zeros(256, dtype=np.uint32)
    thr, eq, h = C.c_int16(0), C.c_uint32(0), C.c_uint32(hint)
    load().priot_topk_threshold_hint(_ptr(s), s.size, k, _ptr(hist), C.byref(thr),
                                     C.byref(eq), C.byref(h))
    return thr.value, eq.value, h.value


def topk_mask(scores, keep_permille: int, w=None) -> np.ndarray:
    """w_eff (int8, shaped like scores); with w None the bool mask itself."""
    s = _buf(scores, np.int16)
    ww = np.ones(s.shape, dtype=np.int8) if w is None else _buf(w, np.int8)
    out = np.zeros(s.shape, dtype=np.int8)
    hist = np.zeros(256, dtype=np.uint32)
    load().priot_topk_mask(_ptr(s), _ptr(ww), s.size, keep_permille, _ptr(hist), _ptr(out))
    return out.astype(bool) if w is None else out


class _MaskHead(C.Structure):
    """The fixed part of priot_mask_t (prune.h)."""
    _fields_ = [(n, C.c_uint32) for n in ("n", "k", "bin", "win_lo", "win_span", "budget")] + [
        ("thr", C.c_int16), ("dirty", C.c_uint16), ("eq", C.c_uint32), ("has_win", C.c_uint32),
        ("above", C.c_uint32), ("in_bin", C.c_uint32), ("lo", C.c_uint32 * 256)]


class IncrementalMask:
    """One layer's incremental top-k mask (prune.h priot_mask_t) over the int16 array
    ``scores`` (updated in place by :meth:`update`). With ``w`` it keeps ``w_eff`` (PRIOT);
    without, only the threshold (PRIOT-S)."""

    def __init__(self, scores: np.ndarray, k: int, w=None):
        lib = load()
        self.scores = scores
        self.n = scores.size
        self.w = None if w is None else _buf(w, np.int8).reshape(-1)
        self.w_eff = None if w is None else np.zeros(self.n, dtype=np.int8)
        nbytes = lib.priot_mask_bytes(self.n, int(w is not None))
        if lib.priot_mask_bytes(0, 0) != C.sizeof(_MaskHead):
            raise RuntimeError("priot_mask_t layout differs from native._MaskHead")
        self._mem = np.zeros(-(-nbytes // 4), dtype=np.uint32)
        self._head = _MaskHead.from_address(self._mem.ctypes.data)
        lib.priot_mask_init(_ptr(self._mem), _ptr(scores), self.n, k,
                            None if w is None else _ptr(self.w),
                            None if w is None else _ptr(self.w_eff))

    def update(self, first: int, gq, w, lr_shift: int) -> None:
        """priot_score_update_mask on scores[first:first + len(gq)] (w: their weights)."""
        g, ww = _buf(gq, np.int16).reshape(-1), _buf(w, np.int8).reshape(-1)
        s = self.scores.reshape(-1)[first:]
        load().priot_score_update_mask(_ptr(s), _ptr(ww), _ptr(g), g.size, lr_shift,
                                       _ptr(self._mem), first,
                                       None if self.w_eff is None else _ptr(self.w_eff[first:]))

    def fc_update(self, e_out, x, grad_shift: int, lr_shift: int, w=None) -> None:
        """The scores are an fc layer's (out x in; w its weights, default self.w): its
        gradient (fc_score_grad of e_out, x) fused into the update of every row with
        e_out != 0 (prune.h priot_fc_score_update_mask)."""
        e, xx = _buf(e_out, np.int8).reshape(-1), _buf(x, np.int8).reshape(-1)
        ww = self.w if w is None else _buf(w, np.int8).reshape(-1)
        if ww is None or ww.size != self.n or e.size * xx.size != self.n:
            raise ValueError("fc_update needs the layer's weights and out x in scores")
        scratch = np.zeros(max(xx.size, 1), dtype=np.uint32)
        load().priot_host_fc_score_update_mask(
            xx.size, e.size, grad_shift, lr_shift, _ptr(e), _ptr(xx), _ptr(ww),
            _ptr(self.scores), _ptr(self._mem),
            None if self.w_eff is None else _ptr(self.w_eff), _ptr(scratch))

    def refresh(self) -> None:
        load().priot_mask_refresh(_ptr(self._mem), _ptr(self.scores),
                                  None if self.w is None else _ptr(self.w),
                                  None if self.w_eff is None else _ptr(self.w_eff))

    @property
    def threshold(self) -> tuple[int, int]:
        return self._head.thr, self._head.eq

    @property
    def state(self) -> dict:
        h = self._head
        return {"bin": h.bin, "win_lo": h.win_lo, "win_span": h.win_span, "above": h.above,
                "in_bin": h.in_bin, "lo": np.array(h.lo)}


def crc32(data: bytes, crc: int = 0) -> int:
    b = np.frombuffer(bytes(data), dtype=np.uint8)
    return int(load().priot_crc32(crc, _ptr(b) if len(b) else None, len(b)))
