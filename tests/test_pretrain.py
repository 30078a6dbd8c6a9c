"""Pretraining's building blocks: the batched random shift and early stopping."""
import numpy as np
import torch
import torch.nn.functional as F

from priot.data.models import TinyCNN
from priot.data.pretrain import _train, random_shift


def _shift_one_by_one(x, k, gen):
    h, w = x.shape[-2:]
    xp = F.pad(x, (k, k, k, k))
    d = torch.randint(0, 2 * k + 1, (len(x), 2), generator=gen).tolist()
    return torch.stack([xp[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(d)])


def test_batched_shift_equals_shifting_image_by_image():
    x = torch.randn(37, 3, 9, 7)
    for k in (1, 2, 3):
        assert torch.equal(random_shift(x, k, torch.Generator().manual_seed(k)),
                           _shift_one_by_one(x, k, torch.Generator().manual_seed(k)))
    assert random_shift(x, 0, torch.Generator()) is x


def _data(n=64, seed=0):
    """Random images and labels; the validation part is the training images themselves,
    so its accuracy rises while the model memorises them."""
    from priot.data.models import input_from_pixels

    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, n)
    return input_from_pixels(images), torch.from_numpy(y.astype(np.int64)), (images, y)


def _run(epochs, patience, lr, log=lambda *_: None):
    torch.manual_seed(0)
    model = TinyCNN()
    x, y, val = _data()
    done = _train(model, x, y, epochs, lr, 16, 0, torch.Generator().manual_seed(0), "t",
                  log, 0.0, val, patience, progress=False)
    return done, model, val


def test_early_stopping_stops_when_validation_stalls_and_fixed_schedule_does_not():
    # lr 0: the validation accuracy never improves after the first epoch
    assert _run(10, 2, 0.0)[0] == 3
    assert _run(4, 0, 0.0)[0] == 4      # patience 0: the fixed number of epochs


def test_early_stopping_keeps_the_best_epochs_weights():
    import re

    from priot.data.pretrain import float_accuracy

    lines = []
    done, model, val = _run(12, 2, 0.003, lines.append)
    accuracies = [float(m.group(1)) for line in lines if (m := re.search(r"val (\S+)", line))]
    assert len(accuracies) == done and len(set(accuracies)) > 1
    assert round(float_accuracy(model, *val), 4) == max(accuracies)   # logged to 4 digits
