"""NITI (docs/SEMANTICS.md "NITI: dynamic scales"): integer weight training whose
per-tensor shifts are recomputed every step from each tensor's range."""
from __future__ import annotations

import numpy as np

from ..blob import DatasetBlob, Layer, QuantModel, RunConfig
from .ops import (INT32_MAX, INT32_MIN, _input_shape, argmax_first, backward, conv_acc,
                  conv_error_acc, conv_score_grad, evaluate, fc_acc, fc_error_acc,
                  fc_score_grad, gradient_shift, input_from_pixels, maxpool, round_shift, sat8,
                  session_limits, softmax_error, training_samples, weights_result)


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
    config.lr_shift holds the update bits b: w -= psto_shift(G, dyn_shift(max|G|, b)), or
    round_shift with config.grad_rounding 0."""
    xs, ys, z, d = forward_dynamic(model, image, weights)
    e = softmax_error(logits_to_static(z, d), int(label))
    new = list(weights)
    for li, layer, e_out in backward(model, xs, ys, e, weights, dynamic_error):
        g = conv_score_grad(e_out, xs[li]) if layer.kind == "conv" else fc_score_grad(e_out, xs[li])
        s = dyn_shift(_max_abs(g), config.lr_shift)
        step = gradient_shift(g, s, config.grad_rounding)
        new[li] = sat8(np.asarray(weights[li], dtype=np.int64) - step).astype(np.int8)
    return new


def predict_dynamic(model: QuantModel, images, weights) -> np.ndarray:
    """NITI inference: argmax of each image's dynamic-scale logits."""
    return np.array([argmax_first(forward_dynamic(model, img, weights)[2]) for img in images],
                    dtype=np.int64)


def run(model: QuantModel, dataset: DatasetBlob, config: RunConfig) -> dict:
    """priot_run for NITI: frozen (static) / before and after (dynamic forward) / weight CRC."""
    n_train, tx, ty = session_limits(dataset, config)
    _, frozen_pred = evaluate(model, tx, ty, None)
    weights = [l.weights.copy() for l in model.layers]
    before_pred = predict_dynamic(model, tx, weights)
    samples = 0
    for image, label in training_samples(dataset, config, n_train):
        weights = niti_step(model, weights, image, label, config)
        samples += 1
    after_pred = predict_dynamic(model, tx, weights)
    return weights_result(ty, samples, weights, frozen_pred, before_pred, after_pred)
