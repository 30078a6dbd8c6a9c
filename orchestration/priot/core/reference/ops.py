"""The integer operations every method shares (docs/SEMANTICS.md): saturation, rounding
shifts, the forward and backward ops, the softmax error, evaluation, and the helpers of a
whole session (its sample limits, its training samples).
"""
from __future__ import annotations

import contextlib
import dataclasses
import zlib

import numpy as np

from ..blob import DatasetBlob, Layer, QuantModel, RunConfig

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


def psto_shift(v, s: int):
    """NITI's pseudo-stochastic rounding of v / 2^s (SEMANTICS.md "Gradient rounding"):
    sign(v) * ((|v| >> s) + (p > r)), where p is the upper s - s//2 of the s bits the shift
    discards from |v| and r the lower s//2 (doubled for an odd s)."""
    v = np.asarray(v, dtype=np.int64)
    if not 0 <= s <= 31:
        raise ValueError(f"shift {s} not in 0..31")
    mag = np.abs(v)
    k = s // 2
    rem = mag & ((1 << s) - 1)
    up = (rem >> k) > ((rem & ((1 << k) - 1)) << (s % 2))
    return np.sign(v) * ((mag >> s) + up)


def gradient_shift(v, s: int, rounding: int):
    """The weight-gradient shift of the weight-training methods: round_shift (rounding 0,
    half up) or psto_shift (1, NITI's pseudo-stochastic rounding)."""
    return psto_shift(v, s) if rounding == 1 else round_shift(v, s)


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


def _input_shape(layer: Layer, batch: int | None = None) -> tuple:
    """The layer's input shape: (C, H, W) for conv, (features,) for fc (CHW flattened)."""
    shape = (layer.in_c, layer.in_h, layer.in_w) if layer.kind == "conv" else (layer.in_c,)
    return shape if batch is None else (batch, *shape)


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
            x = x.reshape(_input_shape(layer, x.shape[0]))
            _, x = layer_forward(layer, x, w_eff)
        out[start:start + batch] = x.reshape(x.shape[0], -1)
    return out[0] if single else out


def argmax_first(logits):
    """Index of the first maximum along the last axis."""
    return np.argmax(np.asarray(logits), axis=-1)


def predict(model: QuantModel, images_uint8, masks=None):
    """Predicted labels (first maximum logit) for (C, H, W) or (N, C, H, W) images."""
    return argmax_first(forward_logits(model, images_uint8, masks))


# ---------------------------------------------------------------- loss


def exp_table() -> np.ndarray:
    """T[0] = 65536, T[d] = (T[d-1] * 61565 + 32768) >> 16, d = 1..255 (~2^16 e^(-d/16))."""
    t = [65536]
    for _ in range(255):
        t.append((t[-1] * 61565 + 32768) >> 16)
    return np.array(t, dtype=np.int64)


EXP_TABLE = exp_table()


def softmax_probs_q15(z) -> np.ndarray:
    """p_i = (E_i << 15) // S with E_i = T[max(z) - z_i], S = sum E (Q15)."""
    z = np.asarray(z, dtype=np.int64)
    e = EXP_TABLE[z.max() - z]
    s = int(e.sum())
    return (e << 15) // s


def softmax_error(z, label: int) -> np.ndarray:
    """Error of the logits (Q7): sat8(round_shift(p - onehot*32768, 8))."""
    g = softmax_probs_q15(z)
    g[label] -= 32768
    return sat8(round_shift(g, 8))


# ---------------------------------------------------------------- backward ops


def maxpool_backward(e_pooled, y):
    """Route the pooled error to each window's argmax in y (first maximum); 0 elsewhere."""
    y = np.asarray(y, dtype=np.int64)
    e_pooled = np.asarray(e_pooled, dtype=np.int64)
    c, h, w = y.shape
    h2, w2 = h // 2, w // 2
    _, idx = maxpool(y)
    out = np.zeros((c, h, w), dtype=np.int64)
    cc, yy, xx = np.meshgrid(np.arange(c), np.arange(h2), np.arange(w2), indexing="ij")
    out[cc, 2 * yy + idx // 2, 2 * xx + idx % 2] = e_pooled.reshape(c, h2, w2)
    return out


def relu_backward(e, y):
    """e = 0 where y <= 0."""
    e = np.asarray(e, dtype=np.int64)
    return np.where(np.asarray(y) > 0, e, 0)


def conv_error_acc(e_out, w_eff):
    """acc[i][y][x] = sum_{o,ky,kx} e_out[o][y-ky+1][x-kx+1] * w_eff[o][i][ky][kx]."""
    e_out = np.asarray(e_out, dtype=np.int64)
    oc, h, w = e_out.shape
    w_eff = np.asarray(w_eff, dtype=np.int64)
    c = w_eff.shape[1]
    cols = _imatmul(w_eff.reshape(oc, c * 9).T, e_out.reshape(oc, h * w))
    cols = cols.reshape(c, 3, 3, h, w)
    accp = np.zeros((c, h + 2, w + 2), dtype=np.int64)
    for ky in range(3):
        for kx in range(3):
            accp[:, ky:ky + h, kx:kx + w] += cols[:, ky, kx]
    return wrap32(accp[:, 1:h + 1, 1:w + 1])


def fc_error_acc(e_out, w_eff):
    """acc_j = sum_o e_out[o] * w_eff[o][j]."""
    return wrap32(_imatmul(np.asarray(e_out, dtype=np.int64)[None], w_eff)[0])


def error_backward(layer: Layer, e_out, w_eff):
    """e_in = sat8(round_shift(acc, err_shift)), shaped like the layer input
    (an fc layer returns the flat vector)."""
    if layer.kind == "conv":
        acc = conv_error_acc(e_out, w_eff)
    else:
        acc = fc_error_acc(e_out, w_eff)
    return sat8(round_shift(acc, layer.err_shift))


def conv_score_grad(e_out, x):
    """G[o][i][ky][kx] = sum_{y,x} e_out[o][y][x] * x[i][y+ky-1][x+kx-1] (zero padded)."""
    e_out = np.asarray(e_out, dtype=np.int64)
    x = np.asarray(x, dtype=np.int64)
    oc = e_out.shape[0]
    c = x.shape[0]
    cols = _im2col(x[None])[0]  # (C*9, HW)
    g = _imatmul(e_out.reshape(oc, -1), cols.T)
    return wrap32(g).reshape(oc, c, 3, 3)


def fc_score_grad(e_out, x):
    """G[o][j] = e_out[o] * x[j]."""
    return wrap32(np.outer(np.asarray(e_out, dtype=np.int64),
                           np.asarray(x, dtype=np.int64).reshape(-1)))


def score_grad(layer: Layer, e_out, x):
    """gq = sat16(round_shift(G, grad_shift))."""
    g = conv_score_grad(e_out, x) if layer.kind == "conv" else fc_score_grad(e_out, x)
    return sat16(round_shift(g, layer.grad_shift))


# ---------------------------------------------------------------- one training step


def forward_saved(model: QuantModel, image_uint8, w_effs):
    """Forward one image, returning (inputs of each layer, y of each layer)."""
    x = input_from_pixels(image_uint8).reshape(model.in_c, model.in_h, model.in_w)
    xs, ys = [], []
    for layer, w_eff in zip(model.layers, w_effs):
        x = x.reshape(_input_shape(layer))
        xs.append(x)
        y, x = layer_forward(layer, x, w_eff)
        ys.append(y)
    return xs, ys


_error_observers: list = []


@contextlib.contextmanager
def observing_errors(callback):
    """Within the block, callback(layer index, e_out) sees every output error that
    backward() yields, of every method's session (for measurements such as
    priot.studies.error_density; the arithmetic is untouched)."""
    _error_observers.append(callback)
    try:
        yield
    finally:
        _error_observers.remove(callback)


def backward(model: QuantModel, xs, ys, e, w_effs, error_fn=None):
    """Yield (layer index, layer, e_out) from the last layer to the first, e_out being the
    layer's output error after pool routing and the ReLU mask (SEMANTICS.md "Backward
    pass"); the error propagates to the layer below through w_effs, this step's weights,
    by error_fn(layer, e_out, w) (default: error_backward, the static err_shift)."""
    error_fn = error_fn or error_backward
    for li in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[li]
        y = ys[li]
        if layer.pool:
            e = maxpool_backward(e.reshape(layer.next_shape), y)
        e = e.reshape(y.shape)
        if layer.relu:
            e = relu_backward(e, y)
        for observe in _error_observers:
            observe(li, e)
        yield li, layer, e
        if li > 0:
            e = error_fn(layer, e, w_effs[li]).reshape(xs[li].shape)


# ---------------------------------------------------------------- a whole session


def session_limits(dataset: DatasetBlob, config: RunConfig):
    """(training samples per epoch, test images, test labels) of a session: the dataset's
    splits cut to the config's train_limit / test_limit (0: all)."""
    n_train = min(len(dataset.train_x), config.train_limit) if config.train_limit \
        else len(dataset.train_x)
    n_test = min(len(dataset.test_x), config.test_limit) if config.test_limit \
        else len(dataset.test_x)
    return n_train, dataset.test_x[:n_test], dataset.test_y[:n_test]


def training_samples(dataset: DatasetBlob, config: RunConfig, n_train: int):
    """(image, label) of every training step: config.epochs passes over n_train samples."""
    for _ in range(config.epochs):
        for i in range(n_train):
            yield dataset.train_x[i], dataset.train_y[i]


def evaluate(model: QuantModel, images, labels, masks=None) -> tuple[int, np.ndarray]:
    """(correct count, predictions)."""
    pred = predict(model, images, masks) if len(images) else np.zeros(0, dtype=np.int64)
    return int(np.sum(pred == np.asarray(labels))), pred


def weights_crc(weights) -> int:
    """zlib CRC-32 over every layer's RAM weights (int8), layer order."""
    crc = 0
    for w in weights:
        crc = zlib.crc32(np.ascontiguousarray(w, dtype=np.int8).tobytes(), crc)
    return crc


def with_weights(model: QuantModel, weights) -> QuantModel:
    """The model with every layer's weights replaced (trained RAM weights)."""
    return dataclasses.replace(model, layers=[dataclasses.replace(l, weights=w)
                                              for l, w in zip(model.layers, weights)])


def weights_result(labels, samples: int, weights, frozen_pred, before_pred,
                   after_pred) -> dict:
    """priot_run's result for a method that trains the weights (no scores): the correct
    counts of the three evaluations, the weight CRC in place of the score CRC."""
    labels = np.asarray(labels)
    correct = {name: int(np.sum(np.asarray(pred) == labels)) for name, pred in
               (("frozen", frozen_pred), ("before", before_pred), ("after", after_pred))}
    return {
        "frozen_correct": correct["frozen"], "before_correct": correct["before"],
        "after_correct": correct["after"], "test_total": len(labels),
        "train_samples": samples, "score_crc": weights_crc(weights),
        "scores": [], "weights": weights,
        "frozen_pred": frozen_pred, "before_pred": before_pred, "after_pred": after_pred,
    }
