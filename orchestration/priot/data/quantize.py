"""Export a trained TinyCNN to an integer :class:`priot.blob.QuantModel` with static shifts.

Exponents (a value v is stored as the integer v * 2^f):
  * input ``fx = 7`` (x = pixel >> 1); layer i's input exponent is layer i-1's ``fy``;
  * weights: ``fw`` = largest integer with ``max|w| * 2^fw <= 127`` (per layer);
  * outputs: ``fy`` calibrated from a high percentile of the float activations on the
    pretraining data (:func:`priot.models.calibrate_activations`); logits are Q4 (fy = 4);
  * ``out_shift = fx + fw - fy``. Hidden layers lower ``fy`` to ``fx + fw`` when it would be
    negative (coarser output, no overflow) and raise it to ``fx + fw - 31`` when it would
    exceed 31; the last layer's Q4 is fixed, so there it is an error (:class:`QuantizeError`);
  * ``bias_int32 = round(b * 2^(fx + fw))`` (half up).

Backward shifts, from float autograd on calibration data: pretraining-split images (never
the device splits) each rotated by a random angle in 0..180 degrees, a plausible shift.
Per sample, ``L`` = cross-entropy, so the logits' error is ``dL/dz = p - y`` and in
integers it is Q7 (``fe_out = 7`` for the last layer). Going down the layers:
  * error at layer i's input (w.r.t. the float activation x): ``fe_in`` = largest integer
    with ``P99.9(|dL/dx|) * 2^fe_in <= 64`` (headroom up to 127);
    ``err_shift = fe_out + fw - fe_in``, clamped to 0..31; the clamped value fixes the
    effective ``fe_in = fe_out + fw - err_shift``, which is the ``fe_out`` of layer i-1.
    Layer 0 propagates no error: ``err_shift = 0``.
  * score gradient ``G = sum e_out_int * x_int`` has scale ``2^-(fe_out + fx)`` relative to
    the float ``dL/dw`` (per sample); ``fg`` = largest integer with
    ``P99.9(|dL/dw|) * 2^fg <= 2^12`` (int16 with 8x headroom);
    ``grad_shift = fe_out + fx - fg``, clamped to 0..31.
Here ``e_out`` is the error after pool routing and the ReLU mask, i.e. dL/d(pre-activation).
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core import blob
from . import rotate
from ..paths import atomic_write
from .models import INPUT_FRAC, LOGIT_FRAC, ChainCNN, input_from_pixels, quantize_weight

ERR_TARGET = 64.0  # |e| percentile maps here (int8, headroom to 127)
GRAD_TARGET = 2.0 ** 12  # |gq| percentile maps here (int16, headroom to 32767)
PERCENTILE = 99.9
LOGIT_ERR_FRAC = 7


class QuantizeError(ValueError):
    pass


def floor_exp(value: float, target: float) -> int:
    """Largest integer f with value * 2^f <= target (value 0 -> 31: no scaling needed)."""
    if not value > 0:
        return 31
    f = math.floor(math.log2(target / value))
    while value * 2.0 ** (f + 1) <= target:
        f += 1
    while value * 2.0 ** f > target:
        f -= 1
    return f


def _clamp_shift(v: int) -> int:
    return max(0, min(blob.MAX_SHIFT, int(v)))


def forward_shifts(model: ChainCNN) -> list[dict]:
    """Per layer fx, fw, fy and out_shift; QuantizeError if out_shift is not in 0..31."""
    exps = model.exponents()
    for i, e in enumerate(exps):
        e["out_shift"] = e["fx"] + e["fw"] - e["fy"]
        if not 0 <= e["out_shift"] <= blob.MAX_SHIFT:
            raise QuantizeError(f"layer {i}: out_shift {e['out_shift']} = fx {e['fx']} + fw "
                                f"{e['fw']} - fy {e['fy']} is outside 0..{blob.MAX_SHIFT}")
    return exps


def calibration_set(pretrain_x: np.ndarray, pretrain_y: np.ndarray, n: int = 512,
                    seed: int = 0, max_angle: float = 180.0) -> tuple[np.ndarray, np.ndarray]:
    """n pretraining images, each rotated by its own random angle in 0..max_angle."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(pretrain_x), size=min(n, len(pretrain_x)), replace=False)
    angles = rng.uniform(0.0, max_angle, size=len(idx))
    x = np.stack([rotate(pretrain_x[i], a) for i, a in zip(idx, angles)])
    return x, np.asarray(pretrain_y)[idx]


def _per_sample_weight_grad(conv: bool, x: torch.Tensor, gz: torch.Tensor) -> torch.Tensor:
    """Per-sample dL/dw from the layer input x and dL/dz (z = pre-activation output)."""
    if conv:  # 3x3 same: unfold the input, contract over positions
        cols = F.unfold(x, 3, padding=1)  # (B, in_c*9, H*W)
        return torch.einsum("bop,bkp->bok", gz.flatten(2), cols)
    return torch.einsum("bo,bk->bok", gz, x)


def backward_stats(model: ChainCNN, images: np.ndarray, labels: np.ndarray,
                   percentile: float = PERCENTILE, batch: int = 128) -> list[dict]:
    """Per layer: percentile of |dL/dx| (layer input) and of per-sample |dL/dw|.

    Runs the fake-quantized model with the clamps passing gradients (the device's backward
    ignores saturation); per-sample loss, logits' error p - y.
    """
    qat, ste = model.qat, model.ste_clamp
    model.qat, model.ste_clamp = True, True
    n = len(model.layers)
    gx: list[list] = [[] for _ in range(n)]
    gw: list[list] = [[] for _ in range(n)]
    try:
        for s in range(0, len(images), batch):
            x = input_from_pixels(images[s:s + batch]).requires_grad_(True)
            y = torch.from_numpy(np.asarray(labels[s:s + batch]).astype(np.int64))
            trace: list = []
            logits = model(x, trace=trace)
            for t in trace:
                t["x"].retain_grad()
                t["z"].retain_grad()
            err = torch.softmax(logits.detach(), 1) - F.one_hot(y, logits.shape[1]).float()
            logits.backward(err)
            for i, t in enumerate(trace):
                gx[i].append(t["x"].grad.abs().flatten())
                g = _per_sample_weight_grad(model.is_conv(i), t["x"].detach(), t["z"].grad)
                gw[i].append(g.abs().flatten())
            model.zero_grad(set_to_none=True)
    finally:
        model.qat, model.ste_clamp = qat, ste
    return [{"dx": float(np.percentile(torch.cat(gx[i]).numpy(), percentile)),
             "dw": float(np.percentile(torch.cat(gw[i]).numpy(), percentile))}
            for i in range(n)]


def backward_shifts(exps: list[dict], stats: list[dict]) -> None:
    """Add fe_out, fe_in, fg, err_shift, grad_shift to each layer's exponent dict."""
    fe_out = LOGIT_ERR_FRAC
    for i in reversed(range(len(exps))):
        e, st = exps[i], stats[i]
        e["fe_out"] = fe_out
        e["fg"] = floor_exp(st["dw"], GRAD_TARGET)
        e["grad_shift"] = _clamp_shift(fe_out + e["fx"] - e["fg"])
        if i == 0:
            e["err_shift"], e["fe_in"] = 0, None
        else:
            e["err_shift"] = _clamp_shift(fe_out + e["fw"] - floor_exp(st["dx"], ERR_TARGET))
            e["fe_in"] = fe_out + e["fw"] - e["err_shift"]
            fe_out = e["fe_in"]


def to_quant_model(model: ChainCNN, calib_x: np.ndarray, calib_y: np.ndarray
                   ) -> tuple[blob.QuantModel, list[dict]]:
    """Integer model with all shifts, and the per-layer exponent report."""
    exps = forward_shifts(model)
    stats = backward_stats(model, calib_x, calib_y)
    backward_shifts(exps, stats)

    def integer_layer(i: int, mod, conv: bool) -> dict:
        e = exps[i]
        e.update({"p_dx": stats[i]["dx"], "p_dw": stats[i]["dw"]})
        w, fw = quantize_weight(mod.weight)
        assert fw == e["fw"]
        b = mod.bias.detach().double().numpy() * 2.0 ** (e["fx"] + fw)
        bias = np.clip(np.floor(b + 0.5), -2**31, 2**31 - 1).astype(np.int32)
        return dict(weights=w, bias=bias, out_shift=e["out_shift"], err_shift=e["err_shift"],
                    grad_shift=e["grad_shift"])

    return _chain(model, integer_layer), exps


def architecture_model(model: ChainCNN) -> blob.QuantModel:
    """The integer model's structure with zero weights and shifts: what the memory plan
    needs (sizes), known before any data is read or any training is done."""
    def zeros(i: int, mod, conv: bool) -> dict:
        w = np.zeros(tuple(mod.weight.shape), dtype=np.int8)
        return dict(weights=w, bias=np.zeros(w.shape[0], dtype=np.int32))

    return _chain(model, zeros)


def _chain(model: ChainCNN, layer_fields) -> blob.QuantModel:
    """The blob's layer chain of a float chain; layer_fields(i, module, conv) gives each
    layer's weights, bias and shifts."""
    layers = []
    shape = model.in_shape
    n = len(model.layers)
    for i, mod in enumerate(model.layers):
        conv = model.is_conv(i)
        fields = layer_fields(i, mod, conv)
        in_c, in_h, in_w = shape if conv else (int(np.prod(shape)), 1, 1)
        layer = blob.Layer("conv" if conv else "fc", in_c, in_h, in_w,
                           fields["weights"].shape[0], relu=i < n - 1,
                           pool=model.has_pool(i), **fields)
        layers.append(layer)
        shape = layer.next_shape
    c, h, w_ = model.in_shape
    qm = blob.QuantModel(layers, in_c=c, in_h=h, in_w=w_, n_classes=model.n_classes,
                         input_frac=INPUT_FRAC, logit_frac=LOGIT_FRAC)
    blob.validate_model(qm)
    return qm


def export_blob(qmodel: blob.QuantModel, path, provenance: dict | None = None) -> Path:
    """Write the model blob atomically and ``<path>.json`` with its provenance."""
    path = Path(path)
    data = blob.encode_model(qmodel)
    info = {"blob": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "n_edges": qmodel.n_edges,
            "layers": [{"kind": l.kind, "in": [l.in_c, l.in_h, l.in_w], "out_c": l.out_c,
                        "relu": l.relu, "pool": l.pool, "out_shift": l.out_shift,
                        "err_shift": l.err_shift, "grad_shift": l.grad_shift}
                       for l in qmodel.layers]}
    info.update(provenance or {})
    atomic_write(path, data)
    atomic_write(path.with_name(path.name + ".json"),
                  (json.dumps(info, indent=2, sort_keys=True, default=str) + "\n").encode())
    return path
