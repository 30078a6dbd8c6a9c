"""The C kernels (host build, via priot.native) agree bit for bit with the numpy
reference: seeded fuzzing of every kernel, whole training steps of random small models,
and whole runs (priot_run vs reference.run). Also runs the ASan/UBSan build."""
import os
import shutil
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

from conftest import skip_or_fail
from priot.core import blob as B
from priot.core import native as N
from priot.core import reference as R
from priot.core.blob import DatasetBlob, Layer, QuantModel, RunConfig
from priot.paths import REPO_ROOT

I8 = (-128, 127)


@pytest.fixture(scope="module", autouse=True)
def lib():
    return N.load()


def rand_i8(rng, shape, extremes=0.15):
    """int8 values, a fraction of them forced to -128 / 127."""
    a = rng.integers(-128, 128, shape)
    pick = rng.random(shape)
    a[pick < extremes / 2] = -128
    a[(pick >= extremes / 2) & (pick < extremes)] = 127
    return a.astype(np.int8)


# ---------------------------------------------------------------- scalars


def test_exp_table_matches_recurrence():
    assert np.array_equal(N.exp_table(), R.EXP_TABLE)


def test_round_shift_sat_scalars():
    rng = np.random.default_rng(0)
    vals = [0, 1, -1, 2**31 - 1, -2**31, 2**30, -2**30, 2**30 - 1, -2**30 - 1, 255, -255]
    vals += rng.integers(-2**31, 2**31, 300).tolist()
    for v in vals:
        for s in range(32):
            assert N.round_shift(v, s) == int(R.round_shift(v, s)), (v, s)
        assert N.sat8(v) == int(R.sat8(v))
        assert N.sat16(v) == int(R.sat16(v))


def test_rng():
    for seed in (0, 1, 2, 0xDEADBEEF, 0xFFFFFFFF):
        r = R.XorShift32(seed)
        assert N.rng(seed, 50).tolist() == [r.next() for _ in range(50)]


def test_crc32():
    rng = np.random.default_rng(1)
    for n in (0, 1, 2, 3, 100, 4097):
        data = rng.integers(0, 256, n).astype(np.uint8).tobytes()
        assert N.crc32(data) == zlib.crc32(data)
        assert N.crc32(data, 0x12345678) == zlib.crc32(data, 0x12345678)


def test_input_q7():
    p = np.arange(256, dtype=np.uint8)
    assert np.array_equal(N.input_q7(p), R.input_from_pixels(p))


# ---------------------------------------------------------------- layer kernels


def _shapes(rng, n):
    fixed = [(1, 1, 1, 1), (1, 1, 2, 1), (2, 3, 1, 5), (3, 2, 2, 2), (1, 8, 28, 28)[:4]]
    for c, h, w, oc in fixed:
        yield c, h, w, oc
    for _ in range(n):
        yield (int(rng.integers(1, 6)), int(rng.integers(1, 10)), int(rng.integers(1, 10)),
               int(rng.integers(1, 6)))


def test_conv_forward_fuzz():
    rng = np.random.default_rng(2)
    sat_hi = sat_lo = clipped_relu = 0
    for it, (c, h, w, oc) in enumerate(_shapes(rng, 150)):
        x = rand_i8(rng, (c, h, w))
        wt = rand_i8(rng, (oc, c, 3, 3))
        if it % 3 == 0:
            wt[rng.random(wt.shape) < 0.4] = 0  # pruned edges
        bias = None if it % 4 == 0 else rng.integers(-2**20, 2**20, oc).astype(np.int32)
        shift = int(rng.integers(0, 32)) if it % 2 else int(rng.integers(0, 10))
        relu = bool(it % 2)
        got = N.conv_forward(x, wt, bias, shift, relu)
        layer = Layer("conv", c, h, w, oc, wt, bias, relu, False, shift)
        want, _ = R.layer_forward(layer, x.astype(np.int64), wt.astype(np.int64))
        assert np.array_equal(got, want), (c, h, w, oc, shift, relu)
        sat_hi += int((want == 127).sum())
        sat_lo += int((want == -128).sum())
        clipped_relu += int(relu and (want == 0).sum())
    assert sat_hi and sat_lo and clipped_relu


def test_fc_forward_fuzz():
    rng = np.random.default_rng(3)
    sat = 0
    for it in range(200):
        n, oc = int(rng.integers(1, 300)), int(rng.integers(1, 40))
        x = rand_i8(rng, n)
        wt = rand_i8(rng, (oc, n))
        bias = None if it % 5 == 0 else rng.integers(-2**24, 2**24, oc).astype(np.int32)
        shift = int(rng.integers(0, 32))
        relu = bool(it % 2)
        got = N.fc_forward(x, wt, bias, shift, relu)
        layer = Layer("fc", n, 1, 1, oc, wt, bias, relu, False, shift)
        want, _ = R.layer_forward(layer, x.astype(np.int64), wt.astype(np.int64))
        assert np.array_equal(got, want)
        sat += int(((want == 127) | (want == -128)).sum())
    assert sat


def test_accumulator_wraps_like_the_reference():
    # bias near INT32_MAX plus positive products wraps modulo 2^32 in both
    x = np.full(4, 127, np.int8)
    wt = np.full((1, 4), 127, np.int8)
    bias = np.array([2**31 - 10], np.int32)
    got = N.fc_forward(x, wt, bias, 24, False)
    want, _ = R.layer_forward(Layer("fc", 4, 1, 1, 1, wt, bias, out_shift=24), x, wt)
    assert np.array_equal(got, want) and int(want[0]) < 0


def test_maxpool_fuzz():
    rng = np.random.default_rng(4)
    for _ in range(150):
        c, h, w = int(rng.integers(1, 5)), int(rng.integers(2, 12)), int(rng.integers(2, 12))
        y = rng.integers(-2, 3, (c, h, w)).astype(np.int8)  # many ties
        if rng.random() < 0.3:
            y = rand_i8(rng, (c, h, w))
        pooled, _ = R.maxpool(y)
        assert np.array_equal(N.maxpool_forward(y), pooled)
        e = rand_i8(rng, pooled.shape)
        assert np.array_equal(N.maxpool_backward(e, y), R.maxpool_backward(e, y))


def test_relu_backward_fuzz():
    rng = np.random.default_rng(5)
    e, y = rand_i8(rng, 1000), rng.integers(-3, 4, 1000).astype(np.int8)
    assert np.array_equal(N.relu_backward(e, y), R.relu_backward(e, y))


def test_conv_error_backward_fuzz():
    rng = np.random.default_rng(6)
    sat = 0
    for it, (c, h, w, oc) in enumerate(_shapes(rng, 150)):
        e = rand_i8(rng, (oc, h, w))
        wt = rand_i8(rng, (oc, c, 3, 3))
        if it % 3 == 0:
            wt[rng.random(wt.shape) < 0.4] = 0
        shift = int(rng.integers(0, 32)) if it % 2 else int(rng.integers(0, 12))
        layer = Layer("conv", c, h, w, oc, wt, err_shift=shift)
        want = R.error_backward(layer, e, wt)
        assert np.array_equal(N.conv_error_backward(e, wt, shift), want)
        sat += int(((want == 127) | (want == -128)).sum())
    assert sat


def test_fc_error_backward_fuzz():
    rng = np.random.default_rng(7)
    sat = 0
    for it in range(200):
        n, oc = int(rng.integers(1, 200)), int(rng.integers(1, 40))
        e = rand_i8(rng, oc)
        e[rng.random(oc) < 0.3] = 0
        wt = rand_i8(rng, (oc, n))
        shift = int(rng.integers(0, 32))
        layer = Layer("fc", n, 1, 1, oc, wt, err_shift=shift)
        want = R.error_backward(layer, e, wt)
        assert np.array_equal(N.fc_error_backward(e, wt, shift), want)
        sat += int(((want == 127) | (want == -128)).sum())
    assert sat


def test_score_grad_fuzz():
    rng = np.random.default_rng(8)
    sat = 0
    for it, (c, h, w, oc) in enumerate(_shapes(rng, 120)):
        e = rand_i8(rng, (oc, h, w), 0.5)
        x = rand_i8(rng, (c, h, w), 0.5)
        shift = int(rng.integers(0, 32)) if it % 2 else int(rng.integers(0, 6))
        layer = Layer("conv", c, h, w, oc, np.zeros((oc, c, 3, 3), np.int8), grad_shift=shift)
        want = R.score_grad(layer, e, x)
        assert np.array_equal(N.conv_score_grad(e, x, shift), want)
        sat += int(((want == 32767) | (want == -32768)).sum())
    assert sat
    for it in range(100):
        n, oc = int(rng.integers(1, 100)), int(rng.integers(1, 20))
        e, x = rand_i8(rng, oc), rand_i8(rng, n)
        e[rng.random(oc) < 0.3] = 0
        shift = int(rng.integers(0, 32))
        layer = Layer("fc", n, 1, 1, oc, np.zeros((oc, n), np.int8), grad_shift=shift)
        assert np.array_equal(N.fc_score_grad(e, x, shift), R.score_grad(layer, e, x))


def test_score_update_fuzz():
    rng = np.random.default_rng(9)
    hit = 0
    for it in range(100):
        n = int(rng.integers(1, 500))
        s = rng.integers(-32768, 32768, n).astype(np.int16)
        s[rng.random(n) < 0.1] = 32767
        s[rng.random(n) < 0.1] = -32768
        g = rng.integers(-32768, 32768, n).astype(np.int16)
        g[rng.random(n) < 0.1] = -32768
        w = rand_i8(rng, n)
        lr = int(rng.integers(0, 32))
        want = R.score_update(s, g, w, lr)
        assert np.array_equal(N.score_update(s, g, w, lr), want)
        hit += int(((want == 32767) | (want == -32768)).sum())
    assert hit


def test_softmax_fuzz():
    rng = np.random.default_rng(10)
    for it in range(500):
        n = int(rng.integers(2, 65))
        z = rand_i8(rng, n, 0.3)
        if it % 7 == 0:
            z[:] = z[0]
        label = int(rng.integers(0, n))
        e, p = N.softmax_error(z, label)
        assert np.array_equal(p, R.softmax_probs_q15(z))
        assert np.array_equal(e, R.softmax_error(z, label))
        assert N.argmax(z) == int(R.argmax_first(z))


def test_topk_mask_fuzz():
    rng = np.random.default_rng(11)
    for it in range(300):
        n = int(rng.integers(1, 3000))
        kind = it % 4
        if kind == 0:
            s = rng.integers(-32768, 32768, n)
        elif kind == 1:
            s = rng.integers(-3, 3, n)           # heavy ties inside one low-byte bin
        elif kind == 2:
            s = rng.choice([-32768, 32767, 255, 256, -256, -257, 0], n)  # bin edges
        else:
            s = rng.integers(-300, 300, n) * 256  # ties across high bins
        s = s.astype(np.int16)
        keep = int(rng.choice([1, 2, 100, 333, 500, 700, 999, 1000, int(rng.integers(1, 1001))]))
        want = R.compute_mask(s, keep)
        got = N.topk_mask(s, keep)
        assert np.array_equal(got, want), (n, keep, kind)
        assert N.n_keep(n, keep) == R.n_keep(n, keep)
        w = rand_i8(rng, n)
        assert np.array_equal(N.topk_mask(s, keep, w), np.where(want, w, 0))


def test_topk_threshold_hint_equals_the_full_search():
    """The hinted one-pass search (the engine's mask, hint = the layer's previous bin)
    returns exactly the two-level search's threshold for every hint, right or wrong."""
    rng = np.random.default_rng(12)
    for it in range(120):
        n = int(rng.integers(1, 2000))
        s = [rng.integers(-32768, 32768, n), rng.integers(-3, 3, n),
             rng.choice([-32768, 32767, 255, 256, -256, -257, 0], n),
             rng.integers(-300, 300, n) * 256][it % 4].astype(np.int16)
        k = int(rng.integers(1, n + 1))
        want = N.topk_threshold(s, k)
        true_bin = ((int(want[0]) + 32768) >> 8)
        for hint in {0, 255, 256, true_bin, max(0, true_bin - 1), min(255, true_bin + 1),
                     int(rng.integers(0, 257))}:
            thr, eq, new_hint = N.topk_threshold_hint(s, k, hint)
            assert (thr, eq) == want, (n, k, hint)
            assert new_hint == true_bin


def test_n_keep_large():
    for n in (4294967, 4294967295, 786432, 999, 1):
        for k in (1, 7, 999, 1000):
            assert N.n_keep(n, k) == max(1, n * k // 1000)


# ---------------------------------------------------------------- whole models


def random_model(rng, *, pool_odd=True) -> QuantModel:
    """conv (odd plane, RELU+POOL) -> conv (RELU) -> fc (RELU) -> fc."""
    h, w = (7, 9) if pool_odd else (8, 6)
    c1, c2, f = int(rng.integers(1, 4)), int(rng.integers(2, 5)), int(rng.integers(3, 9))
    ncls = int(rng.integers(2, 7))
    h2, w2 = h // 2, w // 2
    L = [
        Layer("conv", 1, h, w, c1, rand_i8(rng, (c1, 1, 3, 3)),
              rng.integers(-3000, 3000, c1).astype(np.int32), True, True,
              int(rng.integers(5, 9)), int(rng.integers(5, 9)), int(rng.integers(2, 8))),
        Layer("conv", c1, h2, w2, c2, rand_i8(rng, (c2, c1, 3, 3)), None, True, False,
              int(rng.integers(6, 10)), int(rng.integers(5, 9)), int(rng.integers(2, 8))),
        Layer("fc", c2 * h2 * w2, 1, 1, f, rand_i8(rng, (f, c2 * h2 * w2)),
              rng.integers(-3000, 3000, f).astype(np.int32), True, False,
              int(rng.integers(6, 10)), int(rng.integers(5, 9)), int(rng.integers(2, 8))),
        Layer("fc", f, 1, 1, ncls, rand_i8(rng, (ncls, f)), None, False, False,
              int(rng.integers(4, 8)), int(rng.integers(5, 9)), int(rng.integers(2, 8))),
    ]
    return QuantModel(L, 1, h, w, ncls)


def unusual_model(rng, variant: int) -> QuantModel:
    """Chains the CNN does not exercise: fc first, conv on 1x1 planes, conv without ReLU,
    two pooling convs in a row, a single fc layer."""
    sh = lambda: int(rng.integers(3, 9))  # noqa: E731
    if variant == 0:  # fc -> conv (1x1 planes) -> fc
        return QuantModel([
            Layer("fc", 12, 1, 1, 5, rand_i8(rng, (5, 12)), None, True, False, sh(), sh(), sh()),
            Layer("conv", 5, 1, 1, 3, rand_i8(rng, (3, 5, 3, 3)), None, False, False, sh(), sh(),
                  sh()),
            Layer("fc", 3, 1, 1, 4, rand_i8(rng, (4, 3)), None, False, False, sh(), sh(), sh()),
        ], 3, 2, 2, 4)
    if variant == 1:  # conv pool -> conv (no relu) pool -> fc
        return QuantModel([
            Layer("conv", 2, 9, 11, 3, rand_i8(rng, (3, 2, 3, 3)),
                  rng.integers(-900, 900, 3).astype(np.int32), True, True, sh(), sh(), sh()),
            Layer("conv", 3, 4, 5, 2, rand_i8(rng, (2, 3, 3, 3)), None, False, True, sh(), sh(),
                  sh()),
            Layer("fc", 2 * 2 * 2, 1, 1, 3, rand_i8(rng, (3, 8)), None, False, False, sh(), sh(),
                  sh()),
        ], 2, 9, 11, 3)
    return QuantModel([  # a single fc layer
        Layer("fc", 20, 1, 1, 5, rand_i8(rng, (5, 20)), rng.integers(-500, 500, 5).astype(np.int32),
              False, False, sh(), sh(), sh()),
    ], 1, 4, 5, 5)


def tiny_cnn(seed=0) -> QuantModel:
    """The project's model shape with random int8 weights."""
    rng = np.random.default_rng(seed)
    b = lambda n: rng.integers(-2000, 2000, n).astype(np.int32)  # noqa: E731
    return QuantModel([
        Layer("conv", 1, 28, 28, 8, rand_i8(rng, (8, 1, 3, 3), 0.02), b(8), True, True, 8, 7, 6),
        Layer("conv", 8, 14, 14, 16, rand_i8(rng, (16, 8, 3, 3), 0.02), b(16), True, True, 9, 7, 5),
        Layer("fc", 784, 1, 1, 32, rand_i8(rng, (32, 784), 0.02), b(32), True, False, 9, 7, 6),
        Layer("fc", 32, 1, 1, 10, rand_i8(rng, (10, 32), 0.02), b(10), False, False, 8, 7, 4),
    ])


def random_images(rng, model, n):
    return rng.integers(0, 256, (n, model.in_c, model.in_h, model.in_w)).astype(np.uint8)


def random_dataset(rng, model, n_train, n_test):
    return DatasetBlob(random_images(rng, model, n_train),
                       rng.integers(0, model.n_classes, n_train).astype(np.uint8),
                       random_images(rng, model, n_test),
                       rng.integers(0, model.n_classes, n_test).astype(np.uint8),
                       n_classes=model.n_classes, angle_deg=45)


def test_forward_logits_fuzz():
    rng = np.random.default_rng(12)
    for it in range(30):
        m = random_model(rng, pool_odd=bool(it % 2))
        cfg = RunConfig(seed=it, keep_permille=int(rng.integers(1, 1001)),
                        score_init=it % 2)
        imgs = random_images(rng, m, 6)
        mb, cb = B.encode_model(m), B.encode_config(cfg)
        logits, pred = N.host_predict(mb, cb, imgs, use_mask=False)
        assert np.array_equal(logits, R.forward_logits(m, imgs))
        assert np.array_equal(pred, R.predict(m, imgs))
        scores = R.init_scores(m, cfg)
        masks = R.compute_masks(m, scores, cfg.keep_permille)
        logits, _ = N.host_predict(mb, cb, imgs)  # masks of the initial scores
        assert np.array_equal(logits, R.forward_logits(m, imgs, masks))


def test_init_scores_and_masks():
    rng = np.random.default_rng(13)
    for it in range(12):
        m = random_model(rng)
        cfg = RunConfig(seed=int(rng.integers(0, 2**32)), keep_permille=int(rng.integers(1, 1001)),
                        score_init=it % 2, init_shift=int(rng.integers(0, 15)))
        s, weff = N.host_train(B.encode_model(m), B.encode_config(cfg), np.zeros((0, 1, 1, 1)),
                               np.zeros(0))
        want = R.init_scores(m, cfg)
        masks = R.compute_masks(m, want, cfg.keep_permille)
        for a, b, wf, mk, layer in zip(s, want, weff, masks, m.layers):
            assert np.array_equal(a, b)
            assert np.array_equal(wf, np.where(mk, layer.weights, 0))


def test_training_steps_fuzz():
    """Sequences of training steps from random scores (incl. int16 extremes)."""
    rng = np.random.default_rng(14)
    moved = 0
    for it in range(25):
        m = random_model(rng, pool_odd=bool(it % 2))
        cfg = RunConfig(seed=it, keep_permille=int(rng.integers(1, 1001)),
                        lr_shift=int(rng.integers(0, 10)), score_init=it % 2)
        scores = [rng.integers(-32768, 32768, layer.weights.shape).astype(np.int16)
                  for layer in m.layers]
        for s in scores:
            s.reshape(-1)[rng.random(s.size) < 0.05] = 32767
            s.reshape(-1)[rng.random(s.size) < 0.05] = -32768
        n = int(rng.integers(1, 6))
        imgs = random_images(rng, m, n)
        labels = rng.integers(0, m.n_classes, n)
        got_s, got_w = N.host_train(B.encode_model(m), B.encode_config(cfg), imgs, labels, scores)
        ref_s = scores
        ref_m = R.compute_masks(m, ref_s, cfg.keep_permille)
        for i in range(n):
            ref_s, ref_m = R.train_step(m, ref_s, ref_m, imgs[i], labels[i], cfg)
        for li, layer in enumerate(m.layers):
            assert np.array_equal(got_s[li], ref_s[li]), (it, li)
            assert np.array_equal(got_w[li], np.where(ref_m[li], layer.weights, 0)), (it, li)
            moved += int((got_s[li] != scores[li]).sum())
    assert moved


def _compare_run(m, d, cfg, san=False):
    mb, db, cb = B.encode_model(m), B.encode_dataset(d), B.encode_config(cfg)
    got = N.host_run(mb, db, cb, san=san)
    want = R.run(m, d, cfg)
    assert got.frozen_correct == want["frozen_correct"]
    assert got.before_correct == want["before_correct"]
    assert got.after_correct == want["after_correct"]
    assert got.test_total == want["test_total"]
    assert got.train_samples == want["train_samples"]
    assert np.array_equal(got.frozen_pred, want["frozen_pred"])
    assert np.array_equal(got.before_pred, want["before_pred"])
    assert np.array_equal(got.after_pred, want["after_pred"])
    for a, b in zip(got.scores, want["scores"]):
        assert np.array_equal(a, b)
    assert got.score_crc == want["score_crc"]
    return got, want


def test_full_run_tiny_cnn():
    rng = np.random.default_rng(15)
    m = tiny_cnn(1)
    d = random_dataset(rng, m, 70, 40)
    cfg = RunConfig(seed=5, keep_permille=700, lr_shift=6, epochs=2, train_limit=50,
                    test_limit=30, progress_every=7)
    got, want = _compare_run(m, d, cfg)
    assert got.train_samples == 100 and got.test_total == 30
    assert sum((a != b).sum() for a, b in zip(want["scores"], R.init_scores(m, cfg))) > 0


def test_full_run_random_models():
    rng = np.random.default_rng(16)
    for it in range(6):
        m = random_model(rng, pool_odd=bool(it % 2))
        d = random_dataset(rng, m, int(rng.integers(0, 25)), int(rng.integers(0, 20)))
        cfg = RunConfig(seed=it, keep_permille=int(rng.integers(1, 1001)),
                        lr_shift=int(rng.integers(0, 8)), score_init=it % 2,
                        init_shift=int(rng.integers(0, 15)), epochs=int(rng.integers(0, 3)))
        _compare_run(m, d, cfg)


def test_unusual_models():
    rng = np.random.default_rng(18)
    for it in range(12):
        m = unusual_model(rng, it % 3)
        d = random_dataset(rng, m, 8, 6)
        cfg = RunConfig(seed=it, keep_permille=int(rng.integers(1, 1001)),
                        lr_shift=int(rng.integers(0, 6)), score_init=it % 2, epochs=2)
        _compare_run(m, d, cfg)
        scores = [rng.integers(-32768, 32768, layer.weights.shape).astype(np.int16)
                  for layer in m.layers]
        imgs, labels = d.train_x[:3], d.train_y[:3]
        got_s, _ = N.host_train(B.encode_model(m), B.encode_config(cfg), imgs, labels, scores)
        ref_s, ref_m = scores, R.compute_masks(m, scores, cfg.keep_permille)
        for i in range(3):
            ref_s, ref_m = R.train_step(m, ref_s, ref_m, imgs[i], labels[i], cfg)
        for a, b in zip(got_s, ref_s):
            assert np.array_equal(a, b)


def test_host_run_errors():
    rng = np.random.default_rng(17)
    m = random_model(rng)
    d = random_dataset(rng, m, 3, 3)
    mb, db, cb = B.encode_model(m), B.encode_dataset(d), B.encode_config(RunConfig())
    with pytest.raises(N.NativeError) as ei:
        N.host_run(mb, db, cb, arena_size=100)
    assert ei.value.code == 3 and ei.value.message == "arena_too_small"
    other = DatasetBlob(d.train_x[:, :, :-1], d.train_y, d.test_x[:, :, :-1], d.test_y,
                        n_classes=m.n_classes)
    with pytest.raises(N.NativeError) as ei:
        N.host_run(mb, B.encode_dataset(other), cb)
    assert ei.value.message == "dataset_shape_does_not_match_model"
    with pytest.raises(N.NativeError) as ei:
        N.host_run(mb, db[:-1], cb)
    assert "dataset_crc32" in ei.value.message or "payload_size" in ei.value.message


# ---------------------------------------------------------------- sanitizers

SAN_SCRIPT = textwrap.dedent("""
    import numpy as np, sys
    sys.path[:0] = {paths!r}
    from priot.core import blob as B, native as N
    from test_native_vs_reference import random_model, random_dataset, tiny_cnn
    rng = np.random.default_rng(3)
    for it in range(3):
        m = random_model(rng, pool_odd=bool(it % 2)) if it else tiny_cnn(2)
        d = random_dataset(rng, m, 12, 8)
        cfg = B.RunConfig(seed=it, epochs=2, keep_permille=600, lr_shift=3)
        r = N.host_run(B.encode_model(m), B.encode_dataset(d), B.encode_config(cfg), san=True)
        assert r.train_samples == 24, r
    # malformed blobs through the parser
    mb = B.encode_model(random_model(rng))
    for cut in range(0, len(mb), 7):
        N.parse_status("model", mb[:cut], san=True)
    print("SAN-OK")
""")


def _asan_runtime():
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    out = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True, text=True)
    path = out.stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


@pytest.mark.slow
def test_sanitizer_build_runs_clean(tmp_path):
    asan = _asan_runtime()
    if not asan:
        skip_or_fail("no libasan.so next to the host C compiler")
    try:
        N.build_library(san=True)
    except RuntimeError as exc:
        skip_or_fail(f"cannot build the sanitizer variant: {exc}")
    here = os.path.dirname(os.path.abspath(__file__))
    paths = [str(REPO_ROOT / "orchestration"), here]
    env = dict(os.environ, LD_PRELOAD=asan,
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    proc = subprocess.run([sys.executable, "-c", SAN_SCRIPT.format(paths=paths)],
                          capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0 and "SAN-OK" not in proc.stdout and \
            "AddressSanitizer" not in proc.stderr and "runtime error" not in proc.stderr \
            and "ASan runtime does not come first" in proc.stderr:
        skip_or_fail("ASan cannot be preloaded into this Python")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "SAN-OK" in proc.stdout
    assert "runtime error" not in proc.stderr
    assert "AddressSanitizer" not in proc.stderr
