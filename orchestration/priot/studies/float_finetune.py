"""Float fine-tuning on the host: the upper reference of the comparison (not on device).

The starting point is the same pretrained int8 model the device methods start from, read
back as a float network: layer l computes ``(W_l * x + b_l) * 2^-out_shift_l`` with ``W_l``
and ``b_l`` initialised to the int8 weights and int32 biases, input ``pixel >> 1``, logits
scaled by ``2^-logit_frac`` before the softmax. Without rounding and saturation this is
exactly the quantized model, so the only difference from the device methods is that every
weight and bias trains freely in float32 (Adam, mini-batches of ``batch``), one pass over
the same on-device training samples in the same order.
"""
from __future__ import annotations

import numpy as np

from ..core.blob import QuantModel


def _network(model: QuantModel):
    import torch

    params = []
    for layer in model.layers:
        w = torch.tensor(layer.weights.astype(np.float32), requires_grad=True)
        b = torch.tensor((layer.bias if layer.bias is not None else
                          np.zeros(layer.out_c)).astype(np.float32), requires_grad=True)
        params.append((layer, w, b))
    return params


def _forward(params, model: QuantModel, x):
    import torch.nn.functional as F

    h = x
    for layer, w, b in params:
        if layer.kind == "conv":
            h = h.reshape(-1, layer.in_c, layer.in_h, layer.in_w)
            h = F.conv2d(h, w, b, padding=1)
        else:
            h = F.linear(h.reshape(h.shape[0], -1), w, b)
        h = h * 2.0 ** -layer.out_shift
        if layer.relu:
            h = F.relu(h)
        if layer.pool:
            h = F.max_pool2d(h, 2)
    return h.reshape(h.shape[0], -1) * 2.0 ** -model.logit_frac


def _accuracy(params, model, x, y) -> float:
    import torch

    with torch.no_grad():
        pred = _forward(params, model, x).argmax(1).numpy()
    return float(np.mean(pred == y))


def finetune(model: QuantModel, train_x, train_y, test_x, test_y, lr: float, seed: int,
             checkpoints, batch: int = 8) -> list[float]:
    """Test accuracy after each checkpoint (number of training samples seen); the seed
    fixes torch's state (the sample order is the caller's)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    params = _network(model)
    opt = torch.optim.Adam([p for _, w, b in params for p in (w, b)], lr=lr)
    tx = torch.from_numpy((np.asarray(train_x, dtype=np.int64) >> 1).astype(np.float32))
    ty = torch.from_numpy(np.asarray(train_y, dtype=np.int64))
    ex = torch.from_numpy((np.asarray(test_x, dtype=np.int64) >> 1).astype(np.float32))
    ey = np.asarray(test_y)
    out, seen = [], 0   # samples in the given order, like the device
    for c in sorted(checkpoints):
        while seen < c:
            idx = torch.arange(seen, min(c, seen + batch))
            opt.zero_grad()
            loss = F.cross_entropy(_forward(params, model, tx[idx]), ty[idx])
            loss.backward()
            opt.step()
            seen += len(idx)
        out.append(_accuracy(params, model, ex, ey))
    return out
