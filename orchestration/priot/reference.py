"""numpy reference implementation of docs/SEMANTICS.md (the specification in code).

Everything here is integer arithmetic on numpy int64 arrays, written for clarity; the C
kernels in firmware/priot/ must agree with it bit for bit (tests/test_native_vs_reference.py).

Conventions:
* activations are int8 values held in int64 arrays (CHW, optionally with a leading batch
  axis); weights ``layer.weights`` are int8 shaped (out_c, in_c, 3, 3) or (out, in);
* ``masks`` is a list with one bool array per layer shaped like the layer's weights, or
  ``None`` for the frozen model (every edge kept);
* ``scores`` is a list with one int16 array per layer shaped like the layer's weights.
"""
from __future__ import annotations

import zlib

import numpy as np

from .blob import DatasetBlob, Layer, QuantModel, RunConfig

# ---------------------------------------------------------------- arithmetic helpers

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def sat8(v):
    """min(127, max(-128, v))."""
    return np.clip(np.asarray(v, dtype=np.int64), -128, 127)


def sat16(v):
    """min(32767, max(-32768, v))."""
    return np.clip(np.asarray(v, dtype=np.int64), -32768, 32767)


def wrap32(v):
    """Reduce to int32 modulo 2**32 (two's complement), SEMANTICS.md 'Number formats'."""
    v = np.asarray(v, dtype=np.int64)
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def round_shift(v, s: int):
    """floor((v + 2^(s-1)) / 2^s) for s >= 1, v for s == 0 (round half up)."""
    v = np.asarray(v, dtype=np.int64)
    if not 0 <= s <= 31:
        raise ValueError(f"shift {s} not in 0..31")
    if s == 0:
        return v
    return (v >> s) + ((v >> (s - 1)) & 1)


def _imatmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer matrix product a @ b (int64 result).

    When every partial sum is provably below 2**53 in magnitude we let float64 BLAS do the
    work (exact for such integers, and far faster than numpy's int64 loops)."""
    a = np.asarray(a)
    b = np.asarray(b)
    k = a.shape[-1]
    amax = int(np.abs(a).max()) if a.size else 0
    bmax = int(np.abs(b).max()) if b.size else 0
    if amax * bmax * max(k, 1) < (1 << 52):
        return np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    return a.astype(np.int64) @ b.astype(np.int64)


def _requant(acc, layer: Layer):
    """y = sat8(round_shift(acc, out_shift)), then ReLU if flagged."""
    y = sat8(round_shift(wrap32(acc), layer.out_shift))
    if layer.relu:
        y = np.maximum(y, 0)
    return y


def input_from_pixels(pixels):
    """Network input x0 = pixel >> 1 (Q7, 0..127)."""
    return np.asarray(pixels, dtype=np.int64) >> 1


def effective_weights(layer: Layer, mask=None) -> np.ndarray:
    """w_eff = w where the mask bit is 1, else 0 (mask None: the frozen model)."""
    w = layer.weights.astype(np.int64)
    if mask is None:
        return w
    return np.where(np.asarray(mask, dtype=bool), w, 0)


# ---------------------------------------------------------------- forward ops


def _im2col(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, C*9, H*W): the 3x3 zero-padded neighbourhoods, rows ordered
    (c, ky, kx) like the weight layout."""
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2, w + 2), dtype=np.int64)
    xp[:, :, 1:h + 1, 1:w + 1] = x
    cols = np.empty((n, c, 3, 3, h, w), dtype=np.int64)
    for ky in range(3):
        for kx in range(3):
            cols[:, :, ky, kx] = xp[:, :, ky:ky + h, kx:kx + w]
    return cols.reshape(n, c * 9, h * w)


def conv_acc(x, w_eff, bias=None):
    """int32 accumulators of the 3x3 same conv. x: (C, H, W) or (N, C, H, W)."""
    x = np.asarray(x, dtype=np.int64)
    single = x.ndim == 3
    if single:
        x = x[None]
    n, c, h, w = x.shape
    oc = w_eff.shape[0]
    cols = _im2col(x)  # (N, C*9, HW)
    wm = np.asarray(w_eff, dtype=np.int64).reshape(oc, c * 9)
    acc = _imatmul(wm[None], cols)  # (N, OC, HW)
    acc = acc.reshape(n, oc, h, w)
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)[None, :, None, None]
    acc = wrap32(acc)
    return acc[0] if single else acc


def fc_acc(x, w_eff, bias=None):
    """int32 accumulators of an fc layer. x: (F,) or (N, F) (anything flattening to it)."""
    x = np.asarray(x, dtype=np.int64)
    w_eff = np.asarray(w_eff, dtype=np.int64)
    single = x.ndim == 1 or (x.ndim == 3)  # (F,) or one CHW tensor
    xf = x.reshape(1, -1) if single else x.reshape(x.shape[0], -1)
    acc = _imatmul(xf, w_eff.T)
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)[None, :]
    acc = wrap32(acc)
    return acc[0] if single else acc


def maxpool(y):
    """2x2 max pool, stride 2 (floor). Returns (pooled, argmax index 0..3 per window).

    Window order (0,0), (0,1), (1,0), (1,1); the first maximum wins (np.argmax)."""
    y = np.asarray(y, dtype=np.int64)
    *lead, h, w = y.shape
    h2, w2 = h // 2, w // 2
    win = y[..., :2 * h2, :2 * w2].reshape(*lead, h2, 2, w2, 2)
    win = np.moveaxis(win, -3, -2).reshape(*lead, h2, w2, 4)
    idx = np.argmax(win, axis=-1)
    return np.take_along_axis(win, idx[..., None], axis=-1)[..., 0], idx


def layer_forward(layer: Layer, x, w_eff):
    """One layer: returns (y pre-pool, next-layer input). x batched or not."""
    if layer.kind == "conv":
        acc = conv_acc(x, w_eff, layer.bias)
    else:
        acc = fc_acc(x, w_eff, layer.bias)
    y = _requant(acc, layer)
    out = maxpool(y)[0] if layer.pool else y
    return y, out


def forward_logits(model: QuantModel, images_uint8, masks=None, batch: int = 512):
    """int8 logits (Q4) for uint8 images shaped (C, H, W) or (N, C, H, W).

    ``masks``: None (frozen model, every edge) or one bool array per layer."""
    imgs = np.asarray(images_uint8)
    single = imgs.ndim == 3
    if single:
        imgs = imgs[None]
    imgs = imgs.reshape(imgs.shape[0], model.in_c, model.in_h, model.in_w)
    w_effs = [effective_weights(layer, None if masks is None else masks[i])
              for i, layer in enumerate(model.layers)]
    out = np.empty((imgs.shape[0], model.n_classes), dtype=np.int8)
    for start in range(0, imgs.shape[0], batch):
        x = input_from_pixels(imgs[start:start + batch])
        for layer, w_eff in zip(model.layers, w_effs):
            if layer.kind == "fc":
                x = x.reshape(x.shape[0], -1)
            _, x = layer_forward(layer, x, w_eff)
        out[start:start + batch] = x.reshape(x.shape[0], -1)
    return out[0] if single else out


def argmax_first(logits):
    """Index of the first maximum along the last axis."""
    return np.argmax(np.asarray(logits), axis=-1)


def predict(model: QuantModel, images_uint8, masks=None):
    """Predicted labels (first maximum logit) for (C, H, W) or (N, C, H, W) images."""
    return argmax_first(forward_logits(model, images_uint8, masks))
