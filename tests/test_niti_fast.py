"""The optimised NITI kernels (niti.c) agree bit for bit with their plain twins (niti_ref.c)
and with the numpy reference, through the host library: odd/even sizes, 1x1 and 1xN
planes, channel counts that are not a multiple of any unroll factor, -128/127 everywhere,
zero, pool-routed (sparse) and dense errors, error lists that overflow the sparse kernels'
lists (their dense fallbacks), pruned weights, int32 edge values for the max search, the
requantisation and the weight update, bias rescaling in both directions."""
import zlib

import numpy as np
import pytest

from priot.core import native as N
from priot.core import reference as R

CONV_SHAPES = [(1, 1, 1, 1), (1, 1, 2, 3), (2, 3, 1, 2), (3, 2, 5, 1), (1, 5, 5, 2),
               (3, 4, 7, 5), (8, 6, 6, 16), (5, 7, 9, 3), (1, 28, 28, 8), (4, 3, 14, 7),
               (16, 8, 8, 3), (2, 2, 2, 2), (3, 1, 9, 4), (2, 9, 1, 3), (8, 14, 14, 16),
               (2, 34, 34, 3), (1, 4, 4, 65)]
FC_SHAPES = [(1, 1), (2, 1), (3, 5), (4, 4), (5, 3), (7, 9), (31, 10), (32, 10), (33, 7),
             (784, 3), (65, 13), (784, 32)]
FILLS = ("random", "max", "min", "alternate", "sparse")
ERRORS = ("pooled", "random", "max", "min", "sparse", "zero", "single")


@pytest.fixture(scope="module", autouse=True)
def lib():
    return N.load()


def seed(*key) -> np.random.Generator:
    """A generator seeded from the test's parameters (stable across processes)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def fill(rng, shape, kind, lo=-128, hi=127):
    if kind == "max":
        return np.full(shape, hi, dtype=np.int8)
    if kind == "min":
        return np.full(shape, lo, dtype=np.int8)
    if kind == "zero":
        return np.zeros(shape, dtype=np.int8)
    if kind == "alternate":
        a = np.full(int(np.prod(shape)), hi, dtype=np.int8)
        a[::2] = lo
        return a.reshape(shape)
    a = rng.integers(lo, hi + 1, shape).astype(np.int8)
    if kind == "sparse":
        a[rng.random(shape) < 0.75] = 0
    return a


def errors(rng, shape, kind):
    """Conv errors (OC, H, W): 'pooled' has one non-zero per 2x2 window (as after the
    max-pool routing), 'single' one non-zero in the whole tensor."""
    if kind == "pooled":
        oc, h, w = shape
        e = np.zeros(shape, dtype=np.int8)
        for o in range(oc):
            for y in range(0, h, 2):
                for x in range(0, w, 2):
                    yy = min(h - 1, y + int(rng.integers(0, 2)))
                    xx = min(w - 1, x + int(rng.integers(0, 2)))
                    e[o, yy, xx] = rng.integers(-128, 128)
        return e
    if kind == "single":
        e = np.zeros(shape, dtype=np.int8)
        e.reshape(-1)[int(rng.integers(0, e.size))] = -128
        return e
    return fill(rng, shape, kind)


def both(fn, *args):
    """(optimised, reference) results of a native single-kernel function."""
    opt = fn(*args)
    with N.reference_kernels():
        ref = fn(*args)
    return opt, ref


def weights(rng, shape, kind):
    w = fill(rng, shape, kind)
    if kind == "random":
        w[rng.random(shape) < 0.3] = 0      # pruned taps
        if w.ndim == 4 and w.shape[0] > 1:
            w[0, :, 1, :] = 0               # a whole pruned kernel row
    return w


@pytest.mark.parametrize("shape", CONV_SHAPES, ids=lambda s: "c%dx%dx%d-o%d" % s)
@pytest.mark.parametrize("kind", FILLS)
def test_conv_acc(shape, kind):
    c, h, w, oc = shape
    rng = seed(shape, kind)
    x = fill(rng, (c, h, w), kind)
    wt = weights(rng, (oc, c, 3, 3), kind)
    for d, bias in ((0, None), (3, rng.integers(-2**31, 2**31, oc)),
                    (-5, rng.integers(-2**20, 2**20, oc)),
                    (-2, np.array([2**31 - 1, -2**31] * oc)[:oc])):
        opt, ref = both(N.niti_conv_acc, x, wt, bias, d)
        assert np.array_equal(opt, ref)
        b = None if bias is None else R.bias_rescale(bias, d)
        assert np.array_equal(opt, R.conv_acc(x, wt, b))


@pytest.mark.parametrize("shape", FC_SHAPES, ids=lambda s: "n%d-o%d" % s)
@pytest.mark.parametrize("kind", FILLS)
def test_fc_acc(shape, kind):
    n, oc = shape
    rng = seed(shape, kind)
    x = fill(rng, n, kind)
    wt = weights(rng, (oc, n), kind)
    for d, bias in ((0, None), (7, rng.integers(-2**31, 2**31, oc)),
                    (-1, rng.integers(-2**31, 2**31, oc))):
        opt, ref = both(N.niti_fc_acc, x, wt, bias, d)
        assert np.array_equal(opt, ref)
        b = None if bias is None else R.bias_rescale(bias, d)
        assert np.array_equal(opt, R.fc_acc(x, wt, b))


@pytest.mark.parametrize("shape", CONV_SHAPES, ids=lambda s: "c%dx%dx%d-o%d" % s)
@pytest.mark.parametrize("ekind", ERRORS)
def test_conv_error_acc(shape, ekind):
    c, h, w, oc = shape
    rng = seed(shape, ekind, 1)
    e = errors(rng, (oc, h, w), ekind)
    for wkind in ("random", "min", "alternate"):
        wt = weights(rng, (oc, c, 3, 3), wkind)
        opt, ref = both(N.niti_conv_error_acc, e, wt)
        assert np.array_equal(opt, ref)
        assert np.array_equal(opt, R.conv_error_acc(e, wt))


@pytest.mark.parametrize("shape", FC_SHAPES, ids=lambda s: "n%d-o%d" % s)
@pytest.mark.parametrize("ekind", ("random", "max", "min", "sparse", "zero", "single"))
def test_fc_error_acc(shape, ekind):
    n, oc = shape
    rng = seed(shape, ekind, 2)
    e = errors(rng, oc, ekind)
    for wkind in ("random", "min", "alternate"):
        wt = weights(rng, (oc, n), wkind)
        opt, ref = both(N.niti_fc_error_acc, e, wt)
        assert np.array_equal(opt, ref)
        assert np.array_equal(opt, R.fc_error_acc(e, wt))


@pytest.mark.parametrize("shape", CONV_SHAPES, ids=lambda s: "c%dx%dx%d-o%d" % s)
@pytest.mark.parametrize("ekind", ERRORS)
def test_conv_grad(shape, ekind):
    c, h, w, oc = shape
    rng = seed(shape, ekind, 3)
    e = errors(rng, (oc, h, w), ekind)
    for xkind in ("sparse", "min", "alternate"):
        x = fill(rng, (c, h, w), xkind)
        opt, ref = both(N.niti_grad, e, x)
        assert np.array_equal(opt, ref)
        assert np.array_equal(opt, R.conv_score_grad(e, x))


@pytest.mark.parametrize("shape", FC_SHAPES, ids=lambda s: "n%d-o%d" % s)
@pytest.mark.parametrize("ekind", ("random", "min", "sparse", "zero"))
def test_fc_grad(shape, ekind):
    n, oc = shape
    rng = seed(shape, ekind, 4)
    e = errors(rng, oc, ekind)
    for xkind in ("random", "min", "max"):
        x = fill(rng, n, xkind)
        opt, ref = both(N.niti_grad, e, x)
        assert np.array_equal(opt, ref)
        assert np.array_equal(opt, R.fc_score_grad(e, x))


EDGES = np.array([0, 1, -1, 127, -128, 128, -129, 2**31 - 1, -2**31, -2**31 + 1, 2**30,
                  -2**30, 0x7FFF, -0x8000, 255, -255], dtype=np.int64)


def int32s(rng, n, kind):
    if kind == "edges":
        return np.resize(EDGES, n).astype(np.int32)
    if kind == "small":
        return rng.integers(-300, 300, n).astype(np.int32)
    if kind == "wide":
        return rng.integers(-2**31, 2**31, n).astype(np.int32)
    if kind == "min_last":
        a = rng.integers(-1000, 1000, n).astype(np.int32)
        a[-1] = -2**31
        return a
    if kind == "max_first":
        a = rng.integers(-1000, 1000, n).astype(np.int32)
        a[0] = -5000
        return a
    return np.zeros(n, dtype=np.int32)


KINDS32 = ("edges", "small", "wide", "min_last", "max_first", "zero")
SIZES = (1, 2, 3, 4, 5, 7, 8, 9, 33, 1152, 6272)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", KINDS32)
def test_max_abs(n, kind):
    a = int32s(np.random.default_rng(n), n, kind)
    opt, ref = both(N.niti_max_abs, a)
    assert opt == ref == int(np.abs(a.astype(np.int64)).max())


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", KINDS32)
def test_requant(n, kind):
    a = int32s(np.random.default_rng(n + 1), n, kind)
    for shift in (0, 1, 2, 7, 8, 15, 24, 25, 31):
        for relu in (False, True):
            opt, ref = both(N.niti_requant, a, shift, relu)
            assert np.array_equal(opt, ref)
            y = R.sat8(R.round_shift(a, shift))
            assert np.array_equal(opt, np.maximum(y, 0) if relu else y)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", KINDS32)
@pytest.mark.parametrize("rounding", [0, 1], ids=["half-up", "pseudo-stochastic"])
def test_weight_update(n, kind, rounding):
    rng = np.random.default_rng(n + 2)
    g = int32s(rng, n, kind).astype(np.int64)
    for wkind in ("random", "max", "min"):
        w = fill(rng, n, wkind)
        for bits in (1, 3, 8, 15):
            # the engine's shift: the gradient brought into `bits` magnitude bits, so
            # w - round_shift(g, shift) never overflows int32
            shift = R.dyn_shift(int(np.abs(g).max()), bits)
            opt, ref = both(N.niti_weight_update, w, g.astype(np.int32), shift, rounding)
            assert np.array_equal(opt, ref)
            assert np.array_equal(opt, R.sat8(w.astype(np.int64)
                                              - R.gradient_shift(g, shift, rounding)))
        for shift in range(32):
            gg = np.clip(g, -2**30, 2**30) if shift == 0 else g
            opt, ref = both(N.niti_weight_update, w, gg.astype(np.int32), shift, rounding)
            assert np.array_equal(opt, ref)
            assert np.array_equal(opt, R.sat8(w.astype(np.int64)
                                              - R.gradient_shift(gg, shift, rounding)))
