"""Float backbones (chains of 3x3 convs and fcs) and their power-of-two fake quantization.

TinyCNN (CHW, the chain docs/SEMANTICS.md describes):
  conv 1->8 3x3 pad 1, ReLU, maxpool 2 -> conv 8->16 3x3 pad 1, ReLU, maxpool 2
  -> flatten (CHW, 16*7*7 = 784) -> fc 784->32, ReLU -> fc 32->10 (logits).
VGG11 (:func:`vgg11`): 8 convs with batch norm (folded before QAT) and 5 max pools, a
width multiplier, one fc classifier; for rotated CIFAR-10.

Fake quantization mirrors the integer pipeline exactly in value:
  * input ``x = (pixel >> 1) / 128`` (Q7);
  * weights: per layer ``fw`` = the largest integer with ``max|w| * 2^fw <= 127``,
    ``w_q = clamp(floor(w * 2^fw + 0.5), -127, 127) * 2^-fw``;
  * bias at the accumulator scale: ``b_q = floor(b * 2^(fx+fw) + 0.5) * 2^-(fx+fw)``;
  * layer output (before ReLU/pool) at the static exponent ``fy``:
    ``y_q = clamp(floor(z * 2^fy + 0.5), -128, 127) * 2^-fy`` -- ``round_shift`` rounds
    half up, so floor(v + 0.5) matches it (the accumulator ``z * 2^(fx+fw)`` is an integer);
  * ``fy`` of hidden layers is calibrated (buffer ``act_exp``), the logits are Q4;
    hidden ``fy`` are moved into ``fx + fw - 31 .. fx + fw`` so that ``out_shift = fx + fw - fy``
    is a valid shift (0..31).
Rounding uses straight-through estimators; clamping passes no gradient outside the range
(``ste_clamp=False``, for training) or passes it through (``True``, for calibrating the
backward pass, which on the device ignores saturation).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

INPUT_FRAC = 7
LOGIT_FRAC = 4
DEFAULT_FW = 7  # for an all-zero weight tensor


def weight_exponent(max_abs: float) -> int:
    """Largest integer fw with max_abs * 2^fw <= 127."""
    if not max_abs > 0 or not math.isfinite(max_abs):
        return DEFAULT_FW
    fw = math.floor(math.log2(127.0 / max_abs))
    while max_abs * 2.0 ** (fw + 1) <= 127:
        fw += 1
    while max_abs * 2.0 ** fw > 127:
        fw -= 1
    return fw


def activation_exponent(max_abs: float, limit: float = 127.0) -> int:
    """Largest integer f with max_abs * 2^f <= limit (calibrated activation exponent)."""
    return weight_exponent(max_abs * 127.0 / limit)


def quantize_weight(w: np.ndarray | torch.Tensor) -> tuple[np.ndarray, int]:
    """int8 weights and their exponent fw (w ~ w_int * 2^-fw)."""
    if isinstance(w, torch.Tensor):
        w = w.detach().cpu().double().numpy()
    w = np.asarray(w, np.float64)
    fw = weight_exponent(float(np.abs(w).max()) if w.size else 0.0)
    q = np.clip(np.floor(w * 2.0 ** fw + 0.5), -127, 127)
    return q.astype(np.int8), fw


def input_from_pixels(images) -> torch.Tensor:
    """uint8 images (N,C,H,W) -> float network input (pixel >> 1) / 128."""
    a = np.asarray(images)
    if a.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {a.dtype}")
    return torch.from_numpy((a >> 1).astype(np.float32) / 128.0)


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.floor(x + 0.5)

    @staticmethod
    def backward(ctx, g):
        return g


def fake_quant(x: torch.Tensor, exp: int, lo: int, hi: int, ste_clamp: bool = False):
    scale = 2.0 ** exp
    v = _RoundSTE.apply(x * scale)
    v = v + (v.clamp(lo, hi) - v).detach() if ste_clamp else v.clamp(lo, hi)
    return v / scale


class ChainCNN(nn.Module):
    """A chain of 3x3 "same" convs (each ReLU, optionally 2x2 max-pooled, optionally with
    batch norm for float training) followed by fully connected layers (ReLU on all but
    the last, whose outputs are the Q4 logits) -- exactly the layer chain the blob format
    and the integer engine run. ``convs``: [(out_c, pool), ...]; ``fcs``: [out, ...].

    Batch norm (``batchnorm=True``) is for float training only: :meth:`fold_batchnorm`
    folds it into the conv weights and biases before QAT and export."""

    def __init__(self, in_shape: tuple[int, int, int], convs, fcs, batchnorm: bool = False):
        super().__init__()
        c, h, w = in_shape
        self.in_shape = tuple(in_shape)
        self.pools = []
        convs_m, bns = [], []
        for out_c, pool in convs:
            convs_m.append(nn.Conv2d(c, out_c, 3, padding=1))
            bns.append(nn.BatchNorm2d(out_c) if batchnorm else nn.Identity())
            self.pools.append(bool(pool))
            c = out_c
            if pool:
                h, w = h // 2, w // 2
        feats, fcs_m = c * h * w, []
        for out in fcs:
            fcs_m.append(nn.Linear(feats, out))
            feats = out
        self.convs, self.bns, self.fcs = nn.ModuleList(convs_m), nn.ModuleList(bns), nn.ModuleList(fcs_m)
        self.n_classes = feats
        n = len(convs_m) + len(fcs_m)
        # calibrated output exponents fy per layer (last = Q4 logits)
        self.register_buffer("act_exp", torch.tensor([4] * (n - 1) + [LOGIT_FRAC],
                                                     dtype=torch.int64))
        self.qat = False
        self.ste_clamp = False

    @property
    def layers(self) -> list[nn.Module]:
        return [*self.convs, *self.fcs]

    def is_conv(self, i: int) -> bool:
        return i < len(self.convs)

    def has_pool(self, i: int) -> bool:
        return self.is_conv(i) and self.pools[i]

    @property
    def has_batchnorm(self) -> bool:
        return any(isinstance(b, nn.BatchNorm2d) for b in self.bns)

    @torch.no_grad()
    def fold_batchnorm(self) -> None:
        """Fold each conv's batch norm (running statistics) into its weights and bias."""
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            if not isinstance(bn, nn.BatchNorm2d):
                continue
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
            conv.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
            self.bns[i] = nn.Identity()

    def exponents(self) -> list[dict]:
        """Per layer: fx (input), fw (weights), fy (output), as the export uses them."""
        out, fx = [], INPUT_FRAC
        layers = self.layers
        for i, layer in enumerate(layers):
            fw = weight_exponent(float(layer.weight.detach().abs().max()))
            fy = int(self.act_exp[i])
            if i < len(layers) - 1:  # keep 0 <= out_shift = fx + fw - fy <= 31
                fy = max(min(fy, fx + fw), fx + fw - 31)
            out.append({"fx": fx, "fw": fw, "fy": fy})
            fx = fy
        return out

    def _layer(self, i: int, x: torch.Tensor, e: dict | None) -> torch.Tensor:
        layer = self.layers[i]
        w, b = layer.weight, layer.bias
        if e is not None:
            w = fake_quant(w, e["fw"], -127, 127)
            b = fake_quant(b, e["fx"] + e["fw"], -2**31, 2**31 - 1)
        if self.is_conv(i):
            z = self.bns[i](F.conv2d(x, w, b, padding=1))
        else:
            z = F.linear(x, w, b)
        if e is not None:
            z = fake_quant(z, e["fy"], -128, 127, self.ste_clamp)
        return z

    def forward(self, x: torch.Tensor, trace: list | None = None) -> torch.Tensor:
        """Logits (float). With ``trace`` a list, appends per layer {"x": input, "z": output
        before ReLU/pool} for calibration."""
        n = len(self.layers)
        if self.qat and self.has_batchnorm:
            raise RuntimeError("fold_batchnorm() before quantization-aware training")
        exps = self.exponents() if self.qat else [None] * n
        for i in range(n):
            if i == len(self.convs):
                x = x.flatten(1)
            z = self._layer(i, x, exps[i])
            if trace is not None:
                trace.append({"x": x, "z": z})
            x = z
            if i < n - 1:
                x = F.relu(x)
            if self.has_pool(i):
                x = F.max_pool2d(x, 2)
        return x


class TinyCNN(ChainCNN):
    """The default backbone for rotated MNIST: conv 1->8 (pool), conv 8->16 (pool),
    fc 784->32, fc 32->10."""

    def __init__(self):
        super().__init__((1, 28, 28), [(8, True), (16, True)], [32, 10])

    conv1 = property(lambda self: self.convs[0])
    conv2 = property(lambda self: self.convs[1])
    fc1 = property(lambda self: self.fcs[0])
    fc2 = property(lambda self: self.fcs[1])


VGG11_CONVS = ((64, True), (128, True), (256, False), (256, True), (512, False),
               (512, True), (512, False), (512, True))


def vgg11(width: float = 1.0, in_shape=(3, 32, 32), n_classes: int = 10,
          batchnorm: bool = True) -> ChainCNN:
    """VGG11 (configuration "A": 8 convs, 5 max pools) with a width multiplier, and a
    single fc classifier on the 1x1 feature map (the common CIFAR-10 variant)."""
    if not 0 < width <= 1:
        raise ValueError(f"width multiplier {width} must be in (0, 1]")
    convs = [(max(1, int(round(c * width))), pool) for c, pool in VGG11_CONVS]
    return ChainCNN(in_shape, convs, [n_classes], batchnorm=batchnorm)


@torch.no_grad()
def calibrate_activations(model: ChainCNN, x: torch.Tensor, percentile: float = 99.99,
                          batch: int = 500) -> list[int]:
    """Set the hidden layers' fy from a high percentile of their float outputs (ReLU'd:
    only non-negative values matter, negatives become 0 after ReLU)."""
    qat = model.qat
    model.qat = False
    traces = []
    for s in range(0, len(x), batch):
        t: list = []
        model(x[s:s + batch], trace=t)
        traces.append(t)
    model.qat = qat
    n = len(model.layers)
    for i in range(n - 1):
        z = torch.cat([t[i]["z"].flatten() for t in traces]).clamp(min=0)
        p = float(np.percentile(z.numpy(), percentile))
        model.act_exp[i] = activation_exponent(p)
    model.act_exp[n - 1] = LOGIT_FRAC
    return [int(v) for v in model.act_exp]
