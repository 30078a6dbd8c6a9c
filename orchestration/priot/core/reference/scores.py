"""PRIOT and PRIOT-S (docs/SEMANTICS.md): integer scores per edge (PRIOT-S: per edge of a
seeded subset), the top-k mask of each layer, the score update of one step, a session."""
from __future__ import annotations

import zlib

import numpy as np

from ..blob import DatasetBlob, QuantModel, RunConfig
from ..methods import PRIOT_S, SUBSET_RULES, scored_counts, subset_size  # noqa: F401
from .ops import (backward, effective_weights, evaluate, forward_saved, round_shift, sat16,
                  score_grad, session_limits, softmax_error, training_samples)


def score_update(scores, gq, weights, lr_shift: int):
    """s = sat16(s - round_shift(gq * w, lr_shift)) with w the stored weight."""
    s = np.asarray(scores, dtype=np.int64)
    step = round_shift(np.asarray(gq, dtype=np.int64) * np.asarray(weights, dtype=np.int64),
                       lr_shift)
    return sat16(s - step).astype(np.int16)


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


def magnitude_subset(weights, k: int) -> np.ndarray:
    """The k edges of largest |w|, the lower edge index first among equal |w|, in
    increasing edge index."""
    a = np.abs(np.asarray(weights, dtype=np.int64).reshape(-1))
    order = np.lexsort((np.arange(a.size), -a))   # by |w| desc, then index asc
    return np.sort(order[:k])


def scored_subsets(model: QuantModel, config: RunConfig) -> list[np.ndarray | None]:
    """Per layer: the scored edge indices (PRIOT-S) or None (PRIOT scores every edge)."""
    if config.method != PRIOT_S.code:
        return [None] * len(model.layers)
    counts = scored_counts([l.n_edges for l in model.layers], config.score_permille,
                           config.last_layer_permille)
    if config.subset_rule == SUBSET_RULES["magnitude"]:
        return [magnitude_subset(l.weights, k) for l, k in zip(model.layers, counts)]
    if config.subset_rule == SUBSET_RULES["random"]:
        return [subset_indices(l.n_edges, k, config.seed, i)
                for i, (l, k) in enumerate(zip(model.layers, counts))]
    raise ValueError(f"subset_rule {config.subset_rule}")


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


def run(model: QuantModel, dataset: DatasetBlob, config: RunConfig) -> dict:
    """priot_run for PRIOT / PRIOT-S: eval frozen -> initial mask -> train -> eval -> CRC."""
    subsets = scored_subsets(model, config)
    n_train, tx, ty = session_limits(dataset, config)
    frozen, frozen_pred = evaluate(model, tx, ty, None)
    scores = init_scores(model, config)
    masks = compute_masks(model, scores, config.keep_permille, subsets)
    before, before_pred = evaluate(model, tx, ty, masks)
    samples = 0
    for image, label in training_samples(dataset, config, n_train):
        scores, masks = train_step(model, scores, masks, image, label, config, subsets)
        samples += 1
    after, after_pred = evaluate(model, tx, ty, masks)
    return {
        "frozen_correct": frozen, "before_correct": before, "after_correct": after,
        "test_total": len(ty), "train_samples": samples, "score_crc": score_crc(scores),
        "scores": scores, "masks": masks,
        "frozen_pred": frozen_pred, "before_pred": before_pred, "after_pred": after_pred,
    }
