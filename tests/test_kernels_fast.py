"""The optimised kernels (kernels.c) agree bit for bit with the plain reference kernels
(kernels_ref.c) and with the numpy reference, on shapes that hit every path of the
optimised code: odd/even sizes, 1x1 and 1xN planes, channel counts that are not a
multiple of any unroll factor, saturating inputs (-128/127 everywhere), zero and sparse
errors, pruned (zero) weights, every o_begin/o_end range of the score gradient.
Also the bench firmware in the emulator: opt == ref output CRCs, conv forward faster."""
import itertools

import numpy as np
import pytest

from conftest import skip_or_fail
from priot.core import native as N
from priot.core import reference as R

CONV_SHAPES = [(1, 1, 1, 1), (1, 1, 2, 3), (2, 3, 1, 2), (3, 2, 5, 1), (1, 5, 5, 2),
               (3, 4, 7, 5), (8, 6, 6, 16), (5, 7, 9, 3), (1, 28, 28, 8), (4, 3, 14, 7),
               (16, 8, 8, 3), (2, 2, 2, 2), (3, 1, 9, 4), (2, 9, 1, 3)]
FC_SHAPES = [(1, 1), (2, 1), (3, 5), (4, 4), (5, 3), (7, 9), (31, 10), (32, 10), (33, 7),
             (784, 3), (65, 13)]
FILLS = ("random", "max", "min", "alternate", "sparse")


@pytest.fixture(scope="module", autouse=True)
def lib():
    return N.load()


def fill(rng, shape, kind, lo=-128, hi=127):
    if kind == "max":
        return np.full(shape, hi, dtype=np.int8)
    if kind == "min":
        return np.full(shape, lo, dtype=np.int8)
    if kind == "alternate":
        a = np.full(int(np.prod(shape)), hi, dtype=np.int8)
        a[::2] = lo
        return a.reshape(shape)
    a = rng.integers(lo, hi + 1, shape).astype(np.int8)
    if kind == "sparse":
        a[rng.random(shape) < 0.75] = 0
    return a


def both(fn, *args):
    """(optimised, reference) results of a native single-kernel function."""
    opt = fn(*args)
    with N.reference_kernels():
        ref = fn(*args)
    return opt, ref


def np_conv_forward(x, w, bias, shift, relu):
    y = R.sat8(R.round_shift(R.conv_acc(x, w, bias), shift))
    return np.maximum(y, 0) if relu else y


def np_fc_forward(x, w, bias, shift, relu):
    y = R.sat8(R.round_shift(R.fc_acc(x, w, bias), shift))
    return np.maximum(y, 0) if relu else y


@pytest.mark.parametrize("c,h,w,oc", CONV_SHAPES)
def test_conv_kernels_opt_equal_ref_and_numpy(c, h, w, oc):
    rng = np.random.default_rng(c * 1000 + h * 100 + w * 10 + oc)
    for kx, kw, ke in itertools.product(("random", "max", "min"), ("random", "min", "sparse"),
                                        ("random", "sparse", "min")):
        x = fill(rng, (c, h, w), kx)
        wt = fill(rng, (oc, c, 3, 3), kw)
        e = fill(rng, (oc, h, w), ke)
        bias = rng.integers(-2**20, 2**20, oc).astype(np.int32)
        shift = int(rng.integers(0, 14))
        relu = bool(rng.integers(0, 2))
        opt, ref = both(N.conv_forward, x, wt, bias, shift, relu)
        assert np.array_equal(opt, ref)
        assert np.array_equal(opt, np_conv_forward(x, wt, bias, shift, relu))
        opt, ref = both(N.conv_error_backward, e, wt, shift)
        assert np.array_equal(opt, ref)
        assert np.array_equal(opt, R.sat8(R.round_shift(R.conv_error_acc(e, wt), shift)))
        opt, ref = both(N.conv_score_grad, e, x, shift)
        assert np.array_equal(opt, ref)
        assert np.array_equal(opt, R.sat16(R.round_shift(R.conv_score_grad(e, x), shift)))


def test_conv_zero_errors_and_weights():
    rng = np.random.default_rng(5)
    x = fill(rng, (3, 6, 5), "random")
    e = np.zeros((4, 6, 5), dtype=np.int8)
    wt = np.zeros((4, 3, 3, 3), dtype=np.int8)
    for fn, args in ((N.conv_forward, (x, wt, None, 3, False)),
                     (N.conv_error_backward, (e, fill(rng, (4, 3, 3, 3), "random"), 2)),
                     (N.conv_score_grad, (e, x, 0))):
        opt, ref = both(fn, *args)
        assert np.array_equal(opt, ref)
        assert not opt.any()


@pytest.mark.parametrize("n_before", [250, 256, 300])
def test_score_grad_error_list_overflow_in_the_last_row(n_before):
    """More non-zero errors than the gradient's list holds (256), the overflow met inside
    the plane's last row of a large unpooled plane: the kernels must fall back to the
    sweep, not use the incomplete list (a bug the first optimised version had)."""
    rng = np.random.default_rng(n_before)
    x = fill(rng, (3, 32, 32), "random")
    e = np.zeros((2, 32, 32), dtype=np.int8)
    for c in range(2):
        idx = rng.choice(32 * 31, n_before, replace=False)
        e[c].reshape(-1)[idx] = rng.integers(1, 100, n_before)
        e[c, 31, :10] = 5
    g = R.conv_score_grad(e, x)
    opt, ref = both(N.conv_score_grad, e, x, 2)
    assert np.array_equal(opt, ref)
    assert np.array_equal(opt, R.sat16(R.round_shift(g, 2)))
    assert np.array_equal(N.niti_grad(e, x), g)


@pytest.mark.parametrize("n,oc", FC_SHAPES)
def test_fc_kernels_opt_equal_ref_and_numpy(n, oc):
    rng = np.random.default_rng(n * 100 + oc)
    for kind in FILLS:
        x = fill(rng, n, kind)
        wt = fill(rng, (oc, n), kind if kind != "sparse" else "random")
        e = fill(rng, oc, kind)
        bias = rng.integers(-2**20, 2**20, oc).astype(np.int32)
        shift = int(rng.integers(0, 16))
        relu = bool(rng.integers(0, 2))
        opt, ref = both(N.fc_forward, x, wt, bias, shift, relu)
        assert np.array_equal(opt, ref)
        assert np.array_equal(opt, np_fc_forward(x, wt, bias, shift, relu))
        opt, ref = both(N.fc_error_backward, e, wt, shift)
        assert np.array_equal(opt, ref)
        assert np.array_equal(opt, R.sat8(R.round_shift(R.fc_error_acc(e, wt), shift)))
        opt, ref = both(N.fc_score_grad, e, x, shift)
        assert np.array_equal(opt, ref)
        assert np.array_equal(opt, R.sat16(R.round_shift(R.fc_score_grad(e, x), shift)))


@pytest.mark.parametrize("kind", ["conv", "fc"])
def test_score_grad_every_channel_range(kind):
    rng = np.random.default_rng(11)
    oc = 5
    x = fill(rng, (3, 4, 5) if kind == "conv" else 13, "random")
    e = fill(rng, (oc, 4, 5) if kind == "conv" else oc, "sparse")
    e[1] = 0  # one all-zero channel
    full = (N.conv_score_grad(e, x, 2) if kind == "conv" else N.fc_score_grad(e, x, 2))
    full = full.reshape(oc, -1)
    for ob in range(oc + 1):
        for oe in range(ob, oc + 1):
            opt, ref = both(N.score_grad_range, e, x, 2, ob, oe)
            assert np.array_equal(opt, ref), (ob, oe)
            assert np.array_equal(opt, full[ob:oe].reshape(-1)), (ob, oe)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 72, 784, 1001])
def test_updates_opt_equal_ref_and_numpy(n):
    rng = np.random.default_rng(n)
    for kind in FILLS:
        w = fill(rng, n, kind)
        s = rng.integers(-2**15, 2**15, n).astype(np.int16)
        if kind in ("max", "min"):
            s[:] = 32767 if kind == "max" else -32768
        g = rng.integers(-2**15, 2**15, n).astype(np.int16)
        if kind == "alternate":
            g[::2] = -32768
            g[1::2] = 32767
        for lr in (0, 1, 5, 9, 15, 31):
            opt, ref = both(N.score_update, s, g, w, lr)
            assert np.array_equal(opt, ref)
            assert np.array_equal(opt, R.score_update(s, g, w, lr))
            opt, ref = both(N.weight_update, w, g, lr)
            assert np.array_equal(opt, ref)
            assert np.array_equal(opt, R.weight_update(w, g, lr))


@pytest.mark.emulator
def test_bench_firmware_opt_matches_ref_and_is_faster(tmp_path):
    from priot.studies import bench
    from priot.device.emulator import Rp2040jsBackend

    ok, why = Rp2040jsBackend().available()
    if not ok:
        skip_or_fail(why)
    table = bench.run_kernels(tmp_path / "build", timeout_s=120, log=lambda *_: None)
    assert {e["kernel"] for e in table} >= set(bench.MAC_KERNELS) | {"score_update",
                                                                     "mask_threshold"}
    for e in table:
        if e["bit_exact"] is not None:
            assert e["bit_exact"], e
    for e in table:
        if e["kernel"] == "conv3x3_forward":
            assert e["opt"] < e["ref"], e


def _rows_with_sums(rng, sums, sign):
    """Kernel rows (n, 3) int8 of one sign whose |w| sum to the given values."""
    out = np.zeros((len(sums), 3), dtype=np.int64)
    for r, s in enumerate(sums):
        left = int(s)
        for t in rng.permutation(3):
            out[r, t] = min(left, 127)
            left -= out[r, t]
        assert left == 0
    return (sign * out).astype(np.int8)


@pytest.mark.parametrize("nonneg", [False, True])
def test_conv_forward_deferred_split_at_the_group_bound(nonneg):
    """The packed rows of a channel pair share one plane (kernels_opt.h "deferred split")
    while each channel's weights over the group stay within the bound: |w| sum <= 255 for
    any input, positive and negative sums <= 258 each when every input is >= 0. Row sums
    are drawn so that greedy groups land on the bound and one past it, with the inputs that
    bring a group's sums to the int16 limits (127 * 258 = 32766, 128 * 255 = 32640: one
    more wraps a half); the int32 accumulators of NITI's conv_acc show any wrap that a
    requantised output would saturate away. Bounds of 256 / 259 make it fail."""
    rng = np.random.default_rng(258 if nonneg else 255)
    c, h, w = 6, 4, 5
    sums = [0, 1, 2, 42, 43, 85, 86, 87, 127, 128, 129, 170, 172, 255, 256, 258, 259]
    for trial in range(40):
        oc = 4 + trial % 2
        wt = np.zeros((oc, c, 3, 3), dtype=np.int8)
        for o in range(oc):
            sign = rng.choice([-1, 1]) if nonneg else -1
            wt[o] = _rows_with_sums(rng, rng.choice(sums, c * 3), sign).reshape(c, 3, 3)
        if nonneg:
            x = np.full((c, h, w), 127, dtype=np.int8)
            if trial % 3 == 2:
                x[:, ::2, ::3] = 0
        else:
            x = np.full((c, h, w), -128, dtype=np.int8)   # with w <= 0: S = +128 sum |w|
        bias = rng.integers(-2**10, 2**10, oc).astype(np.int32)
        acc = R.conv_acc(x, wt, bias)
        assert np.array_equal(N.niti_conv_acc(x, wt, bias, 0), acc), trial
        for shift, relu in ((13, False), (7, True)):
            opt, ref = both(N.conv_forward, x, wt, bias, shift, relu)
            assert np.array_equal(opt, ref), trial
            assert np.array_equal(opt, np_conv_forward(x, wt, bias, shift, relu)), trial


@pytest.mark.parametrize("oc", [2, 5, 6])
def test_conv_forward_channel_pairs_at_the_packed_bound(oc):
    """The conv forward packs two output channels' kernel rows into one multiply when each
    row's three |w| sum to at most 255 (kernels_opt.h "output-channel pairs"): rows at 255
    and 256, both orders in a pair, an odd channel count, activations of -128 / 127 (the
    sums closest to the int16 halves' limits)."""
    rng = np.random.default_rng(oc)
    rows = np.array([[-128, -127, 0], [-128, -128, 0], [127, 127, 1], [-128, 0, -128],
                     [85, -85, 85], [0, -128, 127], [0, 0, 0], [-1, 128 - 1, -127]],
                    dtype=np.int8)
    for trial in range(6):
        wt = rows[rng.integers(0, len(rows), (oc, 3, 3))]          # (oc, c=3, ky, kx)
        x = np.where(rng.random((3, 7, 9)) < 0.5, -128, 127).astype(np.int8)
        if trial % 2:
            x[:, :, ::3] = 0
        bias = rng.integers(-2**20, 2**20, oc).astype(np.int32)
        opt, ref = both(N.conv_forward, x, wt, bias, 7, bool(trial % 3 == 0))
        assert np.array_equal(opt, ref)
        assert np.array_equal(opt, np_conv_forward(x, wt, bias, 7, trial % 3 == 0))
        acc = R.conv_acc(x, wt, bias)
        assert np.array_equal(N.niti_conv_acc(x, wt, bias, 0), acc)
