"""Static-scale SGD (docs/SEMANTICS.md): the int8 weights themselves trained with the
static shifts of the model; errors propagate through this step's weights."""
from __future__ import annotations

import numpy as np

from ..blob import DatasetBlob, QuantModel, RunConfig
from .ops import (backward, evaluate, forward_saved, gradient_shift, sat8, score_grad,
                  session_limits, softmax_error, training_samples, weights_result,
                  with_weights)


def weight_update(weights, gq, lr_shift: int, rounding: int = 0):
    """Static-scale SGD: w = sat8(w - round_shift(gq, lr_shift)), or psto_shift with
    rounding 1 (the config's grad_rounding)."""
    w = np.asarray(weights, dtype=np.int64)
    return sat8(w - gradient_shift(gq, lr_shift, rounding)).astype(np.int8)


def sgd_step(model: QuantModel, weights, image, label: int, config: RunConfig):
    """One static-scale SGD step on the RAM weights (list per layer); returns new weights.
    Errors propagate through this step's weights; biases stay frozen."""
    xs, ys = forward_saved(model, image, weights)
    new = list(weights)
    for li, layer, e in backward(model, xs, ys, softmax_error(ys[-1], int(label)), weights):
        new[li] = weight_update(weights[li], score_grad(layer, e, xs[li]), config.lr_shift,
                                config.grad_rounding)
    return new


def run(model: QuantModel, dataset: DatasetBlob, config: RunConfig) -> dict:
    """priot_run for static-scale SGD: frozen / before (the RAM copy) / after, weight CRC."""
    n_train, tx, ty = session_limits(dataset, config)
    _, frozen_pred = evaluate(model, tx, ty, None)
    weights = [l.weights.copy() for l in model.layers]
    samples = 0
    for image, label in training_samples(dataset, config, n_train):
        weights = sgd_step(model, weights, image, label, config)
        samples += 1
    _, after_pred = evaluate(with_weights(model, weights), tx, ty, None)
    return weights_result(ty, samples, weights, frozen_pred, frozen_pred, after_pred)
