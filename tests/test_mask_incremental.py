"""The incremental top-k mask (prune.h priot_mask_t: counts kept current by the score
update, threshold in O(bins), re-apply inside a window around the threshold) against the
C full recompute (priot_topk_threshold / priot_topk_mask) and numpy (reference.py) over
long runs of score updates: ties, bin edges (multiples of 256 around -32768, 0, 32767),
saturation, thresholds that leave their window and their bin, PRIOT-S (threshold only);
the fc layers' update with the gradient fused in (priot_fc_score_update_mask) against
the gradient row and priot_score_update_mask."""
import numpy as np
import pytest

from priot.core import native as N
from priot.core import reference as R


@pytest.fixture(scope="module", autouse=True)
def lib():
    return N.load()


def _scores(rng, n, kind):
    if kind == "ties":        # a handful of values: ties everywhere
        return rng.choice(np.array([-3, 0, 1, 2, 7], dtype=np.int16), n)
    if kind == "edges":       # the bin edges and the int16 limits
        v = np.array([-32768, -32767, -257, -256, -255, -1, 0, 1, 255, 256, 257, 511, 512,
                      32511, 32512, 32766, 32767], dtype=np.int16)
        return rng.choice(v, n) + rng.integers(-2, 3, n).astype(np.int16) * (
            rng.random(n) < 0.3)
    if kind == "narrow":      # one bin holds most scores
        return rng.integers(0, 300, n).astype(np.int16)
    return rng.integers(-32768, 32768, n).astype(np.int16)


def _gradients(rng, n, rows, density, scale):
    gq = np.zeros(n, dtype=np.int16)
    row = n // rows
    live = rng.random(rows) < 0.7         # some rows silent (the engine skips them)
    for r in np.flatnonzero(live):
        seg = slice(r * row, n if r == rows - 1 else (r + 1) * row)
        m = rng.random(seg.stop - seg.start) < density
        gq[seg] = np.where(m, rng.integers(-scale, scale + 1, m.size), 0)
    return gq


CASES = [(n, keep, kind, lr, scale)
         for n, keep, kind, lr, scale in [
             (1, 500, "random", 0, 100), (2, 1, "ties", 0, 3), (31, 900, "ties", 0, 2),
             (33, 999, "edges", 2, 300), (100, 900, "edges", 0, 32767),
             (257, 500, "narrow", 3, 400), (1000, 900, "narrow", 5, 2000),
             (1152, 900, "random", 5, 32767), (2500, 100, "ties", 0, 1),
             (4096, 900, "narrow", 4, 300), (777, 1000, "edges", 1, 5000)]]


@pytest.mark.parametrize("n,keep,kind,lr,scale", CASES)
def test_incremental_mask_equals_full_recompute_over_long_runs(n, keep, kind, lr, scale):
    rng = np.random.default_rng(n * 7919 + keep)
    w = rng.integers(-128, 128, n).astype(np.int8)
    w[rng.random(n) < 0.1] = 0
    k = R.n_keep(n, keep)
    s = _scores(rng, n, kind).astype(np.int16)
    sub = s.copy()                       # the same run, threshold only (PRIOT-S)
    inc, thr_only = N.IncrementalMask(s, k, w), N.IncrementalMask(sub, k)
    rows = max(1, min(16, n // 8))
    refreshed = set()
    for step in range(120):
        gq = _gradients(rng, n, rows, rng.choice([0.02, 0.3, 1.0]), scale)
        want = R.score_update(s, gq, w, lr)
        row = n // rows
        for r in range(rows):            # one output row per call, as the engine does
            a, b = r * row, n if r == rows - 1 else (r + 1) * row
            if np.any(gq[a:b]):
                inc.update(a, gq[a:b], w[a:b], lr)
        for j in range(n):               # PRIOT-S: one scored edge per call
            if gq[j]:
                thr_only.update(j, gq[j:j + 1], w[j:j + 1], lr)
        assert np.array_equal(s, want) and np.array_equal(sub, want), step
        before = inc.state
        inc.refresh()
        thr_only.refresh()
        full_thr = N.topk_threshold(s, k)
        assert inc.threshold == full_thr == thr_only.threshold, step
        assert np.array_equal(inc.w_eff, N.topk_mask(s, keep, w)), step
        assert np.array_equal(inc.w_eff, np.where(R.compute_mask(s, keep), w, 0)), step
        after = inc.state
        refreshed.add("bin" if after["bin"] != before["bin"] else
                      "window" if after["win_lo"] != before["win_lo"] else "inside")
        key = s.astype(np.int32) + 32768       # the counts the state keeps, all exact
        assert after["above"] == np.sum(key >> 8 > after["bin"])
        assert after["in_bin"] == np.sum(key >> 8 == after["bin"])
        assert np.array_equal(after["lo"], np.bincount(key[key >> 8 == after["bin"]] & 255,
                                                       minlength=256))
    if n >= 1000 and kind != "ties":     # the long runs exercise the incremental path
        assert "inside" in refreshed


def test_threshold_moves_between_bins_and_windows():
    """Scores pushed steadily down then up: the threshold crosses many bins and windows."""
    rng = np.random.default_rng(5)
    n, keep = 3000, 700
    w = rng.integers(1, 128, n).astype(np.int8)
    s = rng.integers(-600, 600, n).astype(np.int16)
    inc = N.IncrementalMask(s, R.n_keep(n, keep), w)
    seen = set()
    for step in range(80):
        sign = 1 if step < 40 else -1
        gq = (rng.integers(0, 40, n) * sign * (rng.random(n) < 0.5)).astype(np.int16)
        old_bin = inc.state["bin"]
        inc.update(0, gq, w, 2)
        inc.refresh()
        seen.add(inc.state["bin"] != old_bin)
        assert np.array_equal(inc.w_eff, np.where(R.compute_mask(s, keep), w, 0)), step
    assert seen == {True, False}


FC_CASES = [(n_in, n_out, kind, gs, lr)
            for n_in, n_out, kind, gs, lr in [
                (1, 1, "random", 0, 0), (7, 3, "ties", 1, 0), (32, 10, "edges", 0, 5),
                (33, 9, "narrow", 4, 2), (100, 12, "edges", 9, 0), (300, 8, "narrow", 15, 1),
                (784, 4, "random", 0, 5), (130, 20, "edges", 2, 12)]]


@pytest.mark.parametrize("n_in,n_out,kind,gs,lr", FC_CASES)
def test_fc_fused_update_equals_gradient_row_then_update(n_in, n_out, kind, gs, lr):
    """Over many steps: inputs and errors of both signs up to -128 / 127 with zeros (the
    skipped inputs, the silent rows), scores at bin edges and the int16 limits: the same
    scores, counts, threshold and w_eff as fc_score_grad + one update call per live row,
    with the bitmap (PRIOT) and threshold only."""
    rng = np.random.default_rng(n_in * 31 + n_out)
    n = n_in * n_out
    w = rng.integers(-128, 128, n).astype(np.int8)
    w[rng.random(n) < 0.1] = 0
    k = R.n_keep(n, 800)
    s0 = _scores(rng, n, kind).astype(np.int16)
    s_row, s_fused, s_thr = s0.copy(), s0.copy(), s0.copy()
    row_mask, fused = N.IncrementalMask(s_row, k, w), N.IncrementalMask(s_fused, k, w)
    thr_only = N.IncrementalMask(s_thr, k)

    def extreme(size, p_zero):
        v = rng.integers(-128, 128, size)
        v = np.where(rng.random(size) < 0.3, rng.choice([-128, 127], size), v)
        return np.where(rng.random(size) < p_zero, 0, v).astype(np.int8)

    for step in range(60):
        x, e = extreme(n_in, rng.choice([0.0, 0.5, 0.95])), extreme(n_out, 0.3)
        gq = N.fc_score_grad(e, x, gs).reshape(-1)
        assert np.array_equal(gq, R.sat16(R.round_shift(R.fc_score_grad(e, x), gs)).reshape(-1))
        for o in np.flatnonzero(e):
            a = o * n_in
            row_mask.update(a, gq[a:a + n_in], w[a:a + n_in], lr)
        fused.fc_update(e, x, gs, lr)
        thr_only.fc_update(e, x, gs, lr, w=w)
        want = R.score_update(s0, gq, w, lr)
        s0 = want
        assert np.array_equal(s_row, want) and np.array_equal(s_fused, want), step
        assert np.array_equal(s_thr, want), step
        a, b = row_mask.state, fused.state
        assert all(np.array_equal(a[f], b[f]) for f in a), step
        assert np.array_equal(row_mask.w_eff, fused.w_eff), step
        for m in (row_mask, fused, thr_only):
            m.refresh()
        assert row_mask.threshold == fused.threshold == thr_only.threshold, step
        assert np.array_equal(fused.w_eff, np.where(R.compute_mask(s_fused, 800), w, 0)), step
