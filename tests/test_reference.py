"""Hand-computed cases for the numpy reference (orchestration/priot/core/reference/), which is
docs/SEMANTICS.md in code. Values below are worked out by hand from the spec."""
import zlib

import numpy as np
import pytest

from priot.core import reference as R
from priot.core.blob import DatasetBlob, Layer, QuantModel, RunConfig

# ---------------------------------------------------------------- round_shift, sat


@pytest.mark.parametrize("v,s,want", [
    (5, 0, 5), (-5, 0, -5),
    (5, 1, 3),          # 2.5 -> 3 (half up)
    (-5, 1, -2),        # -2.5 -> -2 (half up, towards +inf)
    (-6, 1, -3), (7, 2, 2), (6, 2, 2), (5, 2, 1),
    (-6, 2, -1),        # -1.5 -> -1
    (-7, 2, -2),        # -1.75 -> -2
    (-10, 2, -2),       # -2.5 -> -2
    (255, 8, 1), (127, 8, 0), (128, 8, 1), (-128, 8, 0), (-129, 8, -1),
    (2**31 - 1, 1, 2**30),      # the case where ((v >> 0) + 1) would overflow int32
    (2**31 - 1, 31, 1),         # 0.99999 -> 1
    (2**30, 31, 1),             # 0.5 -> 1
    (2**30 - 1, 31, 0),
    (-2**31, 31, -1),
    (-2**30, 31, 0),            # -0.5 -> 0
    (-2**30 - 1, 31, -1),
    (-2**31, 1, -2**30),
    (-1, 31, 0), (1, 31, 0), (-1, 1, 0), (1, 1, 1),
])
def test_round_shift(v, s, want):
    assert int(R.round_shift(v, s)) == want


def test_round_shift_matches_floor_formula():
    rng = np.random.default_rng(0)
    v = rng.integers(-2**31, 2**31, 5000)
    for s in range(1, 32):
        want = np.floor_divide(v + (1 << (s - 1)), 1 << s)
        assert np.array_equal(R.round_shift(v, s), want)


def test_round_shift_rejects_bad_shift():
    with pytest.raises(ValueError):
        R.round_shift(1, 32)


def test_sat():
    assert R.sat8([-1000, -129, -128, 0, 127, 128, 1000]).tolist() == \
        [-128, -128, -128, 0, 127, 127, 127]
    assert R.sat16([-40000, -32769, -32768, 32767, 32768, 2**31 - 1]).tolist() == \
        [-32768, -32768, -32768, 32767, 32767, 32767]


def test_wrap32():
    assert R.wrap32([2**31, -2**31 - 1, 2**32 + 5, -1]).tolist() == [-2**31, 2**31 - 1, 5, -1]


# ---------------------------------------------------------------- loss


def test_exp_table():
    t = R.EXP_TABLE
    assert t[0] == 65536 and t[1] == 61565 and t[16] == 24107
    assert t[255] == 8  # the recurrence settles at 8
    assert all(t[i] >= t[i + 1] for i in range(255))
    assert int(t.max()) << 15 < 2**32  # E << 15 fits in uint32


def test_softmax_error_equal_logits():
    # E = [65536, 65536], S = 131072, p = [16384, 16384]; g = [-16384, 16384]; >> 8
    assert R.softmax_error([3, 3], 0).tolist() == [-64, 64]
    assert R.softmax_probs_q15([3, 3]).tolist() == [16384, 16384]


def test_softmax_error_worked_example():
    # z = [16, 0]: E = [65536, T[16] = 24107], S = 89643
    # p0 = 65536*32768 // 89643 = 23955, p1 = 24107*32768 // 89643 = 8812
    # label 1: g = [23955, 8812 - 32768 = -23956]
    # round_shift(23955, 8) = floor(24083 / 256) = 94; round_shift(-23956, 8) = -94
    assert R.softmax_probs_q15([16, 0]).tolist() == [23955, 8812]
    assert R.softmax_error([16, 0], 1).tolist() == [94, -94]
    # label 0: g = [23955 - 32768 = -8813, 8812] -> [-34, 34]
    assert R.softmax_error([16, 0], 0).tolist() == [-34, 34]


def test_softmax_error_saturates():
    # z = [127, -128]: E = [65536, T[255] = 8], p0 = 65536*32768 // 65544 = 32764
    # label 1: g0 = 32764 -> round_shift = 128 -> sat8 -> 127; g1 = 3 - 32768 -> -128
    assert R.softmax_error([127, -128], 1).tolist() == [127, -128]


# ---------------------------------------------------------------- pool, relu


def test_maxpool_tie_rule():
    y = np.array([[
        [3, 3, 1, 2, 0, 1],
        [3, 3, 2, 1, 2, 2],
    ]])
    pooled, idx = R.maxpool(y)
    # window 0: all equal -> (0,0); window 1: max 2 at (0,1) and (1,0) -> (0,1);
    # window 2: max 2 at (1,0) and (1,1) -> (1,0)
    assert pooled.tolist() == [[[3, 2, 2]]]
    assert idx.tolist() == [[[0, 1, 2]]]
    e = R.maxpool_backward(np.array([[[10, 20, 30]]]), y)
    assert e.tolist() == [[[10, 0, 0, 20, 0, 0], [0, 0, 0, 0, 30, 0]]]


def test_maxpool_odd_sizes_floor():
    y = np.arange(1, 26).reshape(1, 5, 5)
    pooled, _ = R.maxpool(y)
    assert pooled.tolist() == [[[7, 9], [17, 19]]]
    e = R.maxpool_backward(np.array([[[1, 2], [3, 4]]]), y)
    want = np.zeros((1, 5, 5), dtype=int)
    want[0, 1, 1], want[0, 1, 3], want[0, 3, 1], want[0, 3, 3] = 1, 2, 3, 4
    assert np.array_equal(e, want)  # the last row and column get 0


def test_maxpool_negative_ties():
    y = np.array([[[-5, -5], [-5, -6]]])
    _, idx = R.maxpool(y)
    assert idx.tolist() == [[[0]]]


def test_relu_backward():
    assert R.relu_backward([5, -3, 7, 9], [1, 0, -2, 127]).tolist() == [5, 0, 0, 9]


# ---------------------------------------------------------------- conv / fc


def _layer(kind, in_c, h, w, out_c, weights, bias=None, relu=False, pool=False,
           out_shift=0, err_shift=0, grad_shift=0):
    return Layer(kind, in_c, h, w, out_c, np.asarray(weights, dtype=np.int8),
                 None if bias is None else np.asarray(bias, dtype=np.int32),
                 relu, pool, out_shift, err_shift, grad_shift)


def test_conv_hand_cases():
    x = np.array([[[1, 2], [3, 4]]])
    ones = np.ones((1, 1, 3, 3), dtype=np.int8)
    # every output sees the whole 2x2 input through the padded 3x3 window
    assert R.conv_acc(x, ones).tolist() == [[[10, 10], [10, 10]]]
    centre = np.zeros((1, 1, 3, 3), dtype=np.int8)
    centre[0, 0, 1, 1] = 1
    assert R.conv_acc(x, centre, [100]).tolist() == [[[101, 102], [103, 104]]]
    right = np.zeros((1, 1, 3, 3), dtype=np.int8)
    right[0, 0, 1, 2] = 1  # w[ky=1][kx=2] reads x[y][x+1]
    assert R.conv_acc(x, right).tolist() == [[[2, 0], [4, 0]]]
    layer = _layer("conv", 1, 2, 2, 1, -ones * 100, out_shift=2, relu=False)
    y, _ = R.layer_forward(layer, x, layer.weights)
    # -1000 >> 2 = -250 -> sat8 -> -128
    assert y.tolist() == [[[-128, -128], [-128, -128]]]


def test_fc_hand_case():
    layer = _layer("fc", 3, 1, 1, 2, [[1, -2, 3], [127, 127, 127]], bias=[10, -5],
                   out_shift=1, relu=True)
    y, _ = R.layer_forward(layer, np.array([4, 5, 6]), layer.weights)
    # acc = [10 + 4 - 10 + 18 = 22, -5 + 127 * 15 = 1900] >> 1 -> [11, 950 -> 127]
    assert y.tolist() == [11, 127]


def test_conv_error_is_the_transpose():
    rng = np.random.default_rng(1)
    for _ in range(20):
        c, oc, h, w = rng.integers(1, 5, 4)
        h, w = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        x = rng.integers(-128, 128, (c, h, w))
        e = rng.integers(-128, 128, (oc, h, w))
        wt = rng.integers(-128, 128, (oc, c, 3, 3))
        lhs = int(np.sum(e * R.conv_acc(x, wt)))
        rhs = int(np.sum(R.conv_error_acc(e, wt) * x))
        assert lhs == rhs
        # and the score gradient is d<e, acc>/dw
        assert int(np.sum(R.conv_score_grad(e, x) * wt)) == lhs


def test_fc_error_and_gradient():
    e = np.array([2, -3])
    w = np.array([[1, 2, 3], [4, 5, 6]])
    assert R.fc_error_acc(e, w).tolist() == [2 - 12, 4 - 15, 6 - 18]
    assert R.fc_score_grad(e, np.array([1, 0, -1])).tolist() == [[2, 0, -2], [-3, 0, 3]]


def test_score_grad_and_update_saturate():
    layer = _layer("fc", 2, 1, 1, 1, [[1, 1]], grad_shift=0)
    gq = R.score_grad(layer, np.array([-128]), np.array([-128, 127]))
    assert gq.tolist() == [[16384, -16256]]
    layer.grad_shift = 1
    # 127*127 = 16129 -> 8064.5 -> 8065; -127 -> -63.5 -> -63
    assert R.score_grad(layer, np.array([127]), np.array([127, -1])).tolist() == [[8065, -63]]
    conv = _layer("conv", 1, 2, 2, 1, np.ones((1, 1, 3, 3)), grad_shift=0)
    full = np.full((1, 2, 2), 127)
    gq = R.score_grad(conv, full, full)
    # centre tap: 4 * 16129 = 64516 -> 32767; corner taps see one product: 16129
    assert gq[0, 0, 1, 1] == 32767 and gq[0, 0, 0, 0] == 16129 and gq[0, 0, 0, 1] == 32258
    assert R.score_grad(conv, -full, full)[0, 0, 1, 1] == -32768
    # s - round_shift(gq * w, lr): 32767 - (-32768 * -128 = 4194304) -> -32768
    s = R.score_update(np.array([32767, -32768, 100]), np.array([-32768, -32768, 3]),
                       np.array([-128, 127, -1]), 0)
    assert s.tolist() == [-32768, 32767, 103]
    # lr_shift 2: round_shift(3 * 5, 2) = 4 (3.75); round_shift(-15, 2) = -4 (-3.75)
    s = R.score_update(np.array([0, 0]), np.array([3, -3]), np.array([5, 5]), 2)
    assert s.tolist() == [-4, 4]


# ---------------------------------------------------------------- PRNG, scores, masks


def test_xorshift32():
    r = R.XorShift32(1)
    # 1 ^ 1<<13 = 8193; ^ 8193 >> 17 = 8193; ^ 8193 << 5 = 8193 ^ 262176 = 270369
    assert r.next() == 270369
    assert R.XorShift32(0).x == 0x9E3779B9


def test_init_scores_magnitude_and_uniform():
    layer = _layer("fc", 4, 1, 1, 1, [[-128, 0, 5, 127]])
    m = QuantModel([layer], 4, 1, 1, n_classes=1)
    rng = R.XorShift32(7)
    r = [rng.next() for _ in range(4)]
    s = R.init_scores(m, RunConfig(seed=7, score_init=0, init_shift=6))[0][0].tolist()
    assert s == [(128 << 6) | (r[0] & 63), r[1] & 63, (5 << 6) | (r[2] & 63),
                 (127 << 6) | (r[3] & 63)]
    s = R.init_scores(m, RunConfig(seed=7, score_init=0, init_shift=8))[0][0].tolist()
    assert s[0] == 32767  # (128 << 8) | r saturates
    assert s[3] == (127 << 8) | (r[3] & 255)
    s = R.init_scores(m, RunConfig(seed=7, score_init=1))[0][0].tolist()
    assert s == [((v >> 20) & 0xFFF) - 2048 for v in r]


def test_mask_tie_rule():
    s = np.array([5, 3, 5, 5, 1])
    assert R.n_keep(5, 600) == 3
    assert R.compute_mask(s, 600).tolist() == [True, False, True, True, False]
    assert R.compute_mask(s, 400).tolist() == [True, False, True, False, False]
    assert R.compute_mask(s, 1).tolist() == [True, False, False, False, False]  # max(1, 0)
    assert R.compute_mask(s, 1000).all()
    s = np.array([-32768, 32767, -32768, 0, 32767, -1])
    assert R.compute_mask(s, 500).tolist() == [False, True, False, True, True, False]
    assert R.compute_mask(s, 700).tolist() == [False, True, False, True, True, True]
    # n_keep(6, 700) = 4: -1 beats both -32768s


def test_mask_count_exact():
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 999, 1000, 1001, 4321):
        s = rng.integers(-3, 3, n)  # heavy ties
        for keep in (1, 250, 333, 500, 700, 999, 1000):
            k = R.n_keep(n, keep)
            assert k == max(1, n * keep // 1000)
            m = R.compute_mask(s, keep)
            assert m.sum() == k
            kept, dropped = s[m], s[~m]
            if dropped.size:
                assert kept.min() >= dropped.max()
                t = kept.min()
                # among the scores equal to the threshold, the kept ones come first
                eq = np.flatnonzero(s == t)
                assert m[eq].tolist() == sorted(m[eq].tolist(), reverse=True)


def test_score_crc():
    s = [np.array([[1, -1]], dtype=np.int16), np.array([-32768], dtype=np.int16)]
    assert R.score_crc(s) == zlib.crc32(bytes([1, 0, 0xFF, 0xFF, 0x00, 0x80]))


# ---------------------------------------------------------------- model level


def _tiny_model(seed=0):
    rng = np.random.default_rng(seed)
    w = lambda *s: rng.integers(-128, 128, s).astype(np.int8)  # noqa: E731
    return QuantModel([
        _layer("conv", 1, 6, 5, 2, w(2, 1, 3, 3), rng.integers(-500, 500, 2), True, True, 7, 7, 5),
        _layer("fc", 2 * 3 * 2, 1, 1, 5, w(5, 12), None, True, False, 8, 7, 5),
        _layer("fc", 5, 1, 1, 3, w(3, 5), rng.integers(-500, 500, 3), False, False, 6, 7, 5),
    ], 1, 6, 5, n_classes=3)


def test_forward_batched_equals_single():
    m = _tiny_model()
    rng = np.random.default_rng(5)
    imgs = rng.integers(0, 256, (9, 1, 6, 5)).astype(np.uint8)
    batch = R.forward_logits(m, imgs)
    assert batch.dtype == np.int8 and batch.shape == (9, 3)
    for i in range(9):
        assert np.array_equal(R.forward_logits(m, imgs[i]), batch[i])
    assert np.array_equal(R.predict(m, imgs), np.argmax(batch, axis=1))
    # batching in chunks changes nothing
    assert np.array_equal(R.forward_logits(m, imgs, batch=2), batch)


def test_forward_with_full_masks_is_frozen():
    m = _tiny_model()
    imgs = np.random.default_rng(6).integers(0, 256, (4, 1, 6, 5)).astype(np.uint8)
    masks = [np.ones(layer.weights.shape, bool) for layer in m.layers]
    assert np.array_equal(R.forward_logits(m, imgs, masks), R.forward_logits(m, imgs))
    zero = [np.zeros(layer.weights.shape, bool) for layer in m.layers]
    # with every edge pruned only the biases remain
    out = R.forward_logits(m, imgs, zero)
    assert (out == out[0]).all()


def test_train_step_changes_scores_and_keeps_mask_size():
    m = _tiny_model()
    cfg = RunConfig(keep_permille=600, lr_shift=2)
    scores = R.init_scores(m, cfg)
    masks = R.compute_masks(m, scores, cfg.keep_permille)
    img = np.random.default_rng(8).integers(0, 256, (1, 6, 5)).astype(np.uint8)
    changed = False
    for label in (0, 1, 2, 1):
        new, masks = R.train_step(m, scores, masks, img, label, cfg)
        changed |= any((a != b).any() for a, b in zip(new, scores))
        scores = new
        for s, mk in zip(scores, masks):
            assert mk.sum() == R.n_keep(s.size, 600)
            assert s.dtype == np.int16
    assert changed


def test_run_counts():
    m = _tiny_model()
    rng = np.random.default_rng(9)
    d = DatasetBlob(rng.integers(0, 256, (12, 1, 6, 5)).astype(np.uint8),
                    rng.integers(0, 3, 12).astype(np.uint8),
                    rng.integers(0, 256, (7, 1, 6, 5)).astype(np.uint8),
                    rng.integers(0, 3, 7).astype(np.uint8), n_classes=3)
    r = R.run(m, d, RunConfig(epochs=2, train_limit=5, test_limit=6, keep_permille=500))
    assert r["train_samples"] == 10 and r["test_total"] == 6
    assert r["frozen_correct"] == int(np.sum(R.predict(m, d.test_x[:6]) == d.test_y[:6]))
    # the checksum as docs/PROTOCOL.md defines it: CRC-32 of every score, int16 LE, in order
    assert r["score_crc"] == zlib.crc32(b"".join(s.astype("<i2").tobytes()
                                                 for s in r["scores"]))
    r0 = R.run(m, d, RunConfig(epochs=0, keep_permille=500))
    assert r0["before_correct"] == r0["after_correct"] and r0["train_samples"] == 0
