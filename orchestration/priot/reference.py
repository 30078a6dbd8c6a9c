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

import dataclasses
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


def weight_update(weights, gq, lr_shift: int):
    """Static-scale SGD: w = sat8(w - round_shift(gq, lr_shift))."""
    w = np.asarray(weights, dtype=np.int64)
    return sat8(w - round_shift(np.asarray(gq, dtype=np.int64), lr_shift)).astype(np.int8)


def score_update(scores, gq, weights, lr_shift: int):
    """s = sat16(s - round_shift(gq * w, lr_shift)) with w the stored weight."""
    s = np.asarray(scores, dtype=np.int64)
    step = round_shift(np.asarray(gq, dtype=np.int64) * np.asarray(weights, dtype=np.int64),
                       lr_shift)
    return sat16(s - step).astype(np.int16)


# ---------------------------------------------------------------- PRIOT: PRNG, scores, masks


class XorShift32:
    """xorshift32; a seed of 0 is replaced by 0x9E3779B9."""

    def __init__(self, seed: int):
        self.x = (seed & 0xFFFFFFFF) or 0x9E3779B9

    def next(self) -> int:
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        return x


PRIOT_S = 1
STATIC_SGD = 2
NITI = 3


def subset_size(n: int, score_permille: int) -> int:
    """PRIOT-S: k = max(1, floor(n p / 1000), ceil(n / 65536)), at most n."""
    return min(n, max(1, n * score_permille // 1000, -(-n // 65536)))


def subset_indices(n: int, k: int, seed: int, layer: int) -> np.ndarray:
    """The k scored edges of a layer: bucket j = [floor(j n / k), floor((j+1) n / k)), one
    edge per bucket at offset ((r >> 16) * size) >> 16, r from a per-layer xorshift32
    seeded with seed ^ (0x9E3779B9 * (layer + 1)) (mod 2^32)."""
    rng = XorShift32((seed ^ (0x9E3779B9 * (layer + 1))) & 0xFFFFFFFF)
    r = np.fromiter((rng.next() for _ in range(k)), dtype=np.int64, count=k)
    j = np.arange(k + 1, dtype=np.int64)
    bounds = j * n // k
    size = np.diff(bounds)
    return bounds[:-1] + (((r >> 16) * size) >> 16)


def scored_subsets(model: QuantModel, config: RunConfig) -> list[np.ndarray | None]:
    """Per layer: the scored edge indices (PRIOT-S) or None (PRIOT scores every edge)."""
    if config.method != PRIOT_S:
        return [None] * len(model.layers)
    return [subset_indices(l.n_edges, subset_size(l.n_edges, config.score_permille),
                           config.seed, i) for i, l in enumerate(model.layers)]


def init_scores(model: QuantModel, config: RunConfig) -> list[np.ndarray]:
    """Initial int16 scores: one PRNG draw per scored edge, layer order, weight-layout
    order (PRIOT: every edge, shaped like the weights; PRIOT-S: the subset, 1-D).

    magnitude (0): sat16((|w| << init_shift) | (r & ((1 << init_shift) - 1)))
    uniform   (1): ((r >> 20) & 0xFFF) - 2048"""
    rng = XorShift32(config.seed)
    out = []
    for layer, idx in zip(model.layers, scored_subsets(model, config)):
        w = layer.weights.astype(np.int64).reshape(-1)
        if idx is not None:
            w = w[idx]
        n = w.size
        r = np.fromiter((rng.next() for _ in range(n)), dtype=np.int64, count=n)
        if config.score_init == 0:
            low = r & ((1 << config.init_shift) - 1)
            s = sat16((np.abs(w) << config.init_shift) | low)
        elif config.score_init == 1:
            s = ((r >> 20) & 0xFFF) - 2048
        else:
            raise ValueError(f"score_init {config.score_init}")
        s = s.astype(np.int16)
        out.append(s if idx is not None else s.reshape(layer.weights.shape))
    return out


def n_keep(n: int, keep_permille: int) -> int:
    """max(1, floor(n * keep_permille / 1000))."""
    return max(1, n * keep_permille // 1000)


def compute_mask(scores, keep_permille: int) -> np.ndarray:
    """Top-k mask of one layer: the n_keep largest scores, lower index first on ties."""
    s = np.asarray(scores, dtype=np.int64)
    flat = s.reshape(-1)
    k = n_keep(flat.size, keep_permille)
    order = np.lexsort((np.arange(flat.size), -flat))  # by score desc, then index asc
    mask = np.zeros(flat.size, dtype=bool)
    mask[order[:k]] = True
    return mask.reshape(s.shape)


def compute_masks(model: QuantModel, scores, keep_permille: int,
                  subsets=None) -> list[np.ndarray]:
    """Per layer mask shaped like the weights. With PRIOT-S subsets, the top-k rule runs
    over the scored edges only and every unscored edge is kept."""
    subsets = subsets or [None] * len(model.layers)
    out = []
    for layer, s, idx in zip(model.layers, scores, subsets):
        if idx is None:
            out.append(compute_mask(s, keep_permille))
            continue
        mask = np.ones(layer.n_edges, dtype=bool)
        mask[idx] = compute_mask(s, keep_permille)
        out.append(mask.reshape(layer.weights.shape))
    return out


def score_crc(scores) -> int:
    """zlib CRC-32 over every layer's scores, layer order, little-endian int16."""
    crc = 0
    for s in scores:
        crc = zlib.crc32(np.ascontiguousarray(s, dtype="<i2").tobytes(), crc)
    return crc


# ---------------------------------------------------------------- training


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


def train_step(model: QuantModel, scores, masks, image, label: int, config: RunConfig,
               subsets=None):
    """One PRIOT / PRIOT-S step (SEMANTICS.md 'One training step'); returns (new scores,
    new masks). ``subsets``: scored_subsets(model, config) (computed if None)."""
    if subsets is None:
        subsets = scored_subsets(model, config)
    w_effs = [effective_weights(layer, m) for layer, m in zip(model.layers, masks)]
    xs, ys = forward_saved(model, image, w_effs)
    new_scores = list(scores)
    for li, layer, e in backward(model, xs, ys, softmax_error(ys[-1], int(label)), w_effs):
        gq = score_grad(layer, e, xs[li])
        idx = subsets[li]
        if idx is None:
            new_scores[li] = score_update(scores[li], gq, layer.weights, config.lr_shift)
        else:
            new_scores[li] = score_update(scores[li], gq.reshape(-1)[idx],
                                          layer.weights.reshape(-1)[idx], config.lr_shift)
    return new_scores, compute_masks(model, new_scores, config.keep_permille, subsets)


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
        yield li, layer, e
        if li > 0:
            e = error_fn(layer, e, w_effs[li]).reshape(xs[li].shape)


def sgd_step(model: QuantModel, weights, image, label: int, config: RunConfig):
    """One static-scale SGD step on the RAM weights (list per layer); returns new weights.
    Errors propagate through this step's weights; biases stay frozen."""
    xs, ys = forward_saved(model, image, weights)
    new = list(weights)
    for li, layer, e in backward(model, xs, ys, softmax_error(ys[-1], int(label)), weights):
        new[li] = weight_update(weights[li], score_grad(layer, e, xs[li]), config.lr_shift)
    return new


# ---------------------------------------------------------------- NITI: dynamic scales


def dyn_shift(max_abs: int, bits: int) -> int:
    """max(0, bitlength(max_abs) - bits): the shift that fits a tensor into `bits` bits."""
    return max(0, int(max_abs).bit_length() - bits)


def _max_abs(acc) -> int:
    acc = np.asarray(acc, dtype=np.int64)
    return int(np.abs(acc).max()) if acc.size else 0


def bias_rescale(bias, d: int):
    """The bias for an input whose exponent is d above its static one: round_shift(b, d)
    for d > 0, sat32(b * 2^-d) for d < 0."""
    b = np.asarray(bias, dtype=np.int64)
    if d > 0:
        return round_shift(b, min(d, 31))
    return np.clip(b * (1 << min(-d, 32)), INT32_MIN, INT32_MAX)


def _dynamic_requant(acc, bits: int = 7):
    """(sat8(round_shift(acc, s)), s) with s = dyn_shift(max |acc|, bits)."""
    s = dyn_shift(_max_abs(acc), bits)
    return sat8(round_shift(acc, s)), s


def forward_dynamic(model: QuantModel, image_uint8, weights):
    """NITI forward of one image: (layer inputs, layer y, logits, logit exponent offset)."""
    x = input_from_pixels(image_uint8).reshape(model.in_c, model.in_h, model.in_w)
    d = 0
    xs, ys = [], []
    for layer, w in zip(model.layers, weights):
        x = x.reshape(_input_shape(layer))
        xs.append(x)
        bias = None if layer.bias is None else bias_rescale(layer.bias, d)
        acc = conv_acc(x, w, bias) if layer.kind == "conv" else fc_acc(x, w, bias)
        y, s = _dynamic_requant(acc)
        if layer.relu:
            y = np.maximum(y, 0)
        ys.append(y)
        x = maxpool(y)[0] if layer.pool else y
        d += s - layer.out_shift
    return xs, ys, x.reshape(-1), d


def logits_to_static(z, d: int):
    """Logits of exponent offset d at the static logit scale."""
    z = np.asarray(z, dtype=np.int64)
    if d >= 0:
        return sat8(z * (1 << min(d, 8)))
    return round_shift(z, min(-d, 31))


def dynamic_error(layer: Layer, e_out, w):
    """NITI error propagation: the int32 accumulators shifted by their own range."""
    acc = conv_error_acc(e_out, w) if layer.kind == "conv" else fc_error_acc(e_out, w)
    return _dynamic_requant(acc)[0]


def niti_step(model: QuantModel, weights, image, label: int, config: RunConfig):
    """One NITI step (SEMANTICS.md "NITI: dynamic scales"); returns new weights.
    config.lr_shift holds the update bits b: w -= round_shift(G, dyn_shift(max|G|, b))."""
    xs, ys, z, d = forward_dynamic(model, image, weights)
    e = softmax_error(logits_to_static(z, d), int(label))
    new = list(weights)
    for li, layer, e_out in backward(model, xs, ys, e, weights, dynamic_error):
        g = conv_score_grad(e_out, xs[li]) if layer.kind == "conv" else fc_score_grad(e_out, xs[li])
        s = dyn_shift(_max_abs(g), config.lr_shift)
        new[li] = sat8(np.asarray(weights[li], dtype=np.int64) - round_shift(g, s)).astype(np.int8)
    return new


def predict_dynamic(model: QuantModel, images, weights) -> np.ndarray:
    """NITI inference: argmax of each image's dynamic-scale logits."""
    return np.array([argmax_first(forward_dynamic(model, img, weights)[2]) for img in images],
                    dtype=np.int64)


def weights_crc(weights) -> int:
    """zlib CRC-32 over every layer's RAM weights (int8), layer order."""
    crc = 0
    for w in weights:
        crc = zlib.crc32(np.ascontiguousarray(w, dtype=np.int8).tobytes(), crc)
    return crc


def _limit(n: int, limit: int) -> int:
    return min(n, limit) if limit else n


def evaluate(model: QuantModel, images, labels, masks=None) -> tuple[int, np.ndarray]:
    """(correct count, predictions)."""
    pred = predict(model, images, masks) if len(images) else np.zeros(0, dtype=np.int64)
    return int(np.sum(pred == np.asarray(labels))), pred


def run(model: QuantModel, dataset: DatasetBlob, config: RunConfig) -> dict:
    """The whole priot_run flow: eval frozen -> eval before -> train -> eval after -> CRC."""
    if config.method not in (0, PRIOT_S, STATIC_SGD, NITI):
        raise ValueError(f"method {config.method}")
    if config.method == NITI:
        return _run_niti(model, dataset, config)
    if config.method == STATIC_SGD:
        return _run_sgd(model, dataset, config)
    subsets = scored_subsets(model, config)
    n_tr = _limit(len(dataset.train_x), config.train_limit)
    n_te = _limit(len(dataset.test_x), config.test_limit)
    tx, ty = dataset.test_x[:n_te], dataset.test_y[:n_te]
    frozen, frozen_pred = evaluate(model, tx, ty, None)
    scores = init_scores(model, config)
    masks = compute_masks(model, scores, config.keep_permille, subsets)
    before, before_pred = evaluate(model, tx, ty, masks)
    samples = 0
    for _ in range(config.epochs):
        for i in range(n_tr):
            scores, masks = train_step(model, scores, masks, dataset.train_x[i],
                                       dataset.train_y[i], config, subsets)
            samples += 1
    after, after_pred = evaluate(model, tx, ty, masks)
    return {
        "frozen_correct": frozen, "before_correct": before, "after_correct": after,
        "test_total": n_te, "train_samples": samples, "score_crc": score_crc(scores),
        "scores": scores, "masks": masks,
        "frozen_pred": frozen_pred, "before_pred": before_pred, "after_pred": after_pred,
    }


def _run_sgd(model: QuantModel, dataset: DatasetBlob, config: RunConfig) -> dict:
    """priot_run for static-scale SGD: frozen / before (the RAM copy) / after, weight CRC."""
    n_tr = _limit(len(dataset.train_x), config.train_limit)
    n_te = _limit(len(dataset.test_x), config.test_limit)
    tx, ty = dataset.test_x[:n_te], dataset.test_y[:n_te]
    frozen, frozen_pred = evaluate(model, tx, ty, None)
    weights = [l.weights.copy() for l in model.layers]
    samples = 0
    for _ in range(config.epochs):
        for i in range(n_tr):
            weights = sgd_step(model, weights, dataset.train_x[i], dataset.train_y[i], config)
            samples += 1
    trained = QuantModel([dataclasses.replace(l, weights=w) for l, w in
                          zip(model.layers, weights)], model.in_c, model.in_h, model.in_w,
                         model.n_classes, model.input_frac, model.logit_frac)
    after, after_pred = evaluate(trained, tx, ty, None)
    return {
        "frozen_correct": frozen, "before_correct": frozen, "after_correct": after,
        "test_total": n_te, "train_samples": samples, "score_crc": weights_crc(weights),
        "scores": [], "weights": weights,
        "frozen_pred": frozen_pred, "before_pred": frozen_pred, "after_pred": after_pred,
    }


def _run_niti(model: QuantModel, dataset: DatasetBlob, config: RunConfig) -> dict:
    """priot_run for NITI: frozen (static) / before and after (dynamic forward) / weight CRC."""
    n_tr = _limit(len(dataset.train_x), config.train_limit)
    n_te = _limit(len(dataset.test_x), config.test_limit)
    tx, ty = dataset.test_x[:n_te], dataset.test_y[:n_te]
    frozen, frozen_pred = evaluate(model, tx, ty, None)
    weights = [l.weights.copy() for l in model.layers]
    before_pred = predict_dynamic(model, tx, weights)
    samples = 0
    for _ in range(config.epochs):
        for i in range(n_tr):
            weights = niti_step(model, weights, dataset.train_x[i], dataset.train_y[i], config)
            samples += 1
    after_pred = predict_dynamic(model, tx, weights)
    ty = np.asarray(ty)
    return {
        "frozen_correct": frozen, "before_correct": int(np.sum(before_pred == ty)),
        "after_correct": int(np.sum(after_pred == ty)),
        "test_total": n_te, "train_samples": samples, "score_crc": weights_crc(weights),
        "scores": [], "weights": weights,
        "frozen_pred": frozen_pred, "before_pred": before_pred, "after_pred": after_pred,
    }
