"""PRIOT-S: the scored subset, and host C == numpy reference == emulator bit for bit."""
import numpy as np
import pytest

from priot.core import blob, methods, native, reference
from priot.device import firmware
from priot.settings import DEFAULT_MODEL

from conftest import run_device_and_host

MODEL = DEFAULT_MODEL.read_bytes()


@pytest.mark.parametrize("n, permille", [(72, 100), (1152, 50), (25088, 200), (320, 1000),
                                         (7, 1), (100_003, 3), (200_000, 1)])
def test_subset_has_exact_count_one_per_bucket(n, permille):
    k = reference.subset_size(n, permille)
    assert k == min(n, max(1, n * permille // 1000, -(-n // 65536)))
    idx = reference.subset_indices(n, k, seed=11, layer=2)
    assert len(idx) == k and np.all(np.diff(idx) > 0) and 0 <= idx[0] and idx[-1] < n
    bounds = np.arange(k + 1) * n // k
    assert np.all((idx >= bounds[:-1]) & (idx < bounds[1:]))


def test_subset_is_seeded_and_differs_across_seeds_and_layers():
    a = reference.subset_indices(25088, 2508, seed=1, layer=2)
    assert np.array_equal(a, reference.subset_indices(25088, 2508, seed=1, layer=2))
    assert not np.array_equal(a, reference.subset_indices(25088, 2508, seed=2, layer=2))
    assert not np.array_equal(a, reference.subset_indices(25088, 2508, seed=1, layer=1))


@pytest.fixture(scope="module")
def small_data():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (24, 1, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 24).astype(np.uint8)
    return blob.DatasetBlob(x[:16], y[:16], x[16:], y[16:], 10, 45)


@pytest.mark.parametrize("permille, keep, seed, init", [(100, 800, 1, 0), (37, 500, 9, 1),
                                                         (250, 900, 3, 0), (1, 1000, 5, 0)])
def test_host_equals_reference(small_data, permille, keep, seed, init):
    cfg = blob.RunConfig(seed=seed, keep_permille=keep, lr_shift=3, score_init=init,
                         method=1, score_permille=permille)
    host = native.host_run(MODEL, blob.encode_dataset(small_data), blob.encode_config(cfg))
    ref = reference.run(blob.decode_model(MODEL), small_data, cfg)
    assert (host.frozen_correct, host.before_correct, host.after_correct) == (
        ref["frozen_correct"], ref["before_correct"], ref["after_correct"])
    assert host.score_crc == ref["score_crc"]
    for h, r in zip(host.scores, ref["scores"]):
        assert np.array_equal(h, r)


def test_full_fraction_equals_priot(small_data):
    ds = blob.encode_dataset(small_data)
    s = native.host_run(MODEL, ds, blob.encode_config(
        blob.RunConfig(seed=2, keep_permille=700, method=1, score_permille=1000)))
    p = native.host_run(MODEL, ds, blob.encode_config(blob.RunConfig(seed=2, keep_permille=700)))
    assert (s.after_correct, s.score_crc) == (p.after_correct, p.score_crc)


def test_unscored_edges_are_always_kept_and_memory_shrinks(small_data):
    cfg = blob.encode_config(blob.RunConfig(seed=3, keep_permille=100, method=1,
                                            score_permille=100))
    model = blob.decode_model(MODEL)
    scores, w_eff = native.host_train(MODEL, cfg, small_data.train_x[:4],
                                      small_data.train_y[:4])
    for layer, s, we, i in zip(model.layers, scores, w_eff, range(len(model.layers))):
        idx = reference.subset_indices(layer.n_edges, s.size, 3, i)
        unscored = np.setdiff1d(np.arange(layer.n_edges), idx)
        assert np.array_equal(we.reshape(-1)[unscored], layer.weights.reshape(-1)[unscored])
        assert np.count_nonzero(we.reshape(-1)[idx] == 0) >= s.size - max(1, s.size // 10)
    full = native.arena_need(MODEL, blob.encode_config(blob.RunConfig()))
    subset = native.arena_need(MODEL, cfg)
    # scores for the subset only; one masked-weight buffer of the largest layer (refilled
    # layer by layer) instead of a copy of every layer, and no edge bitmap of the
    # incremental mask (PRIOT keeps one bit per edge, prune.h priot_mask_t)
    largest = max(layer.n_edges for layer in model.layers)
    bitmaps = sum(4 * -(-layer.n_edges // 32) for layer in model.layers)
    # minus each layer's subset descriptor (threshold and tie count, no index array)
    saved = (2 * (model.n_edges - sum(s.size for s in scores)) + model.n_edges - largest
             + bitmaps - methods.SUBSET_BYTES * len(model.layers))
    assert abs((full - subset) - saved) <= 2 * len(model.layers)  # 4-byte alignment


@pytest.mark.emulator
def test_emulator_equals_host(small_data, arm_toolchain, backend, tmp_path):
    cfg = blob.encode_config(blob.RunConfig(seed=6, keep_permille=800, lr_shift=5, method=1,
                                            score_permille=100))
    ds = blob.encode_dataset(blob.DatasetBlob(small_data.train_x[:10], small_data.train_y[:10],
                                              small_data.test_x[:6], small_data.test_y[:6],
                                              10, 45))
    image = firmware.build_firmware(tmp_path)
    rep, host = run_device_and_host(backend, image.bin, MODEL, ds, cfg)
    assert rep.config["method"] == 1 and rep.config["score_permille"] == 100
    assert rep.mem["arena_used"] == native.arena_need(MODEL, cfg)
    assert rep.mem["score_bytes"] == 2 * sum(s.size for s in host.scores)


# ---------------------------------------------------------------- the magnitude subset

def _brute_force_magnitude(w, k):
    """The k largest |w|, lower index first among equal |w|: by comparison of every pair."""
    a = np.abs(w.astype(np.int64))
    rank = [(int(-a[i]), i) for i in range(a.size)]
    return np.array(sorted(i for _, i in sorted(rank)[:k]), dtype=np.int64)


def _weights(kind, n, rng):
    if kind == "all_equal":
        return np.full(n, -7, dtype=np.int8)
    if kind == "zeros":
        return np.zeros(n, dtype=np.int8)
    if kind == "few_values":   # many ties in every bin, both signs
        return rng.choice(np.array([-3, -1, 0, 1, 3, -128, 127], dtype=np.int8), n)
    if kind == "extremes":     # |w| 128 (only -128), 127 and 0: the scan's limits
        return rng.choice(np.array([-128, -127, 127, 0, -128], dtype=np.int8), n)
    return rng.integers(-128, 128, n).astype(np.int8)


@pytest.mark.parametrize("kind", ["random", "few_values", "extremes", "all_equal", "zeros"])
@pytest.mark.parametrize("n, permille", [(72, 100), (1152, 50), (320, 1000), (7, 1), (3, 1000),
                                         (5, 400), (9, 600),
                                         (5000, 1), (2000, 999), (200_000, 1)])
def test_magnitude_subset_is_the_k_largest_and_c_agrees(kind, n, permille):
    rng = np.random.default_rng(n + permille)
    w = _weights(kind, n, rng)
    k = reference.subset_size(n, permille)
    idx = reference.magnitude_subset(w, k)
    assert len(idx) == k and np.all(np.diff(idx) > 0)
    if n <= 5000:
        assert np.array_equal(idx, _brute_force_magnitude(w, k))
    a = np.abs(w.astype(np.int64))
    t = np.sort(a)[::-1][k - 1]                     # the k-th largest |w|
    ties = idx[a[idx] == t]
    assert np.all(a[idx] >= t) and np.count_nonzero(a > t) + ties.size == k
    assert np.array_equal(ties, np.flatnonzero(a == t)[:ties.size])   # lower index first
    assert np.array_equal(native.subset(w, k, 1, seed=5, layer=1), idx)


def test_magnitude_subset_where_k_ends_inside_a_tie_bin():
    w = np.array([5, -9, 5, 2, -5, 9, 5, 0], dtype=np.int8)   # |w| 9, 9, then four 5s
    assert list(reference.magnitude_subset(w, 4)) == [0, 1, 2, 5]
    assert list(native.subset(w, 4, 1, seed=1, layer=0)) == [0, 1, 2, 5]


def test_magnitude_subset_worked_example_of_semantics_md():
    w = np.array([3, -7, 7, 0, -3, 5], dtype=np.int8)   # docs/SEMANTICS.md "PRIOT-S"
    for k, expected in ((3, [1, 2, 5]), (4, [0, 1, 2, 5])):
        assert list(reference.magnitude_subset(w, k)) == expected
        assert list(native.subset(w, k, 1, seed=1, layer=0)) == expected


def test_random_rule_of_the_c_iterator_equals_reference():
    w = np.zeros(25088, dtype=np.int8)
    assert np.array_equal(native.subset(w, 2508, 0, seed=3, layer=2),
                          reference.subset_indices(25088, 2508, seed=3, layer=2))


MAGNITUDE_CONFIGS = [dict(score_permille=100), dict(score_permille=1),
                     dict(score_permille=1000), dict(score_permille=100, last_layer_permille=1000),
                     dict(score_permille=37, last_layer_permille=5, score_init=1)]


@pytest.mark.parametrize("knobs", MAGNITUDE_CONFIGS, ids=lambda k: str(sorted(k.items())))
def test_magnitude_host_equals_reference(small_data, knobs):
    cfg = blob.RunConfig(**{"seed": 4, "keep_permille": 700, "lr_shift": 3, "method": 1,
                            "subset_rule": 1, **knobs})
    host = native.host_run(MODEL, blob.encode_dataset(small_data), blob.encode_config(cfg))
    ref = reference.run(blob.decode_model(MODEL), small_data, cfg)
    assert (host.frozen_correct, host.before_correct, host.after_correct) == (
        ref["frozen_correct"], ref["before_correct"], ref["after_correct"])
    assert host.score_crc == ref["score_crc"]
    for h, r in zip(host.scores, ref["scores"]):
        assert np.array_equal(h, r)
    model = blob.decode_model(MODEL)
    counts = methods.scored_counts([l.n_edges for l in model.layers], cfg.score_permille,
                                   cfg.last_layer_permille)
    assert [s.size for s in host.scores] == counts


def test_magnitude_full_fraction_equals_priot(small_data):
    ds = blob.encode_dataset(small_data)
    s = native.host_run(MODEL, ds, blob.encode_config(
        blob.RunConfig(seed=2, keep_permille=700, method=1, score_permille=1000, subset_rule=1)))
    p = native.host_run(MODEL, ds, blob.encode_config(blob.RunConfig(seed=2, keep_permille=700)))
    assert (s.after_correct, s.score_crc) == (p.after_correct, p.score_crc)


def test_magnitude_memory_counts_the_last_layer_fraction():
    base = dict(seed=1, method=1, score_permille=100, subset_rule=1)
    a = native.arena_need(MODEL, blob.encode_config(blob.RunConfig(**base)))
    b = native.arena_need(MODEL, blob.encode_config(blob.RunConfig(**base,
                                                                   last_layer_permille=1000)))
    last = blob.decode_model(MODEL).layers[-1].n_edges
    extra = 2 * (last - reference.subset_size(last, 100))
    assert abs((b - a) - extra) <= 4    # 4-byte alignment


@pytest.mark.emulator
def test_magnitude_emulator_equals_host(small_data, arm_toolchain, backend, tmp_path):
    cfg = blob.encode_config(blob.RunConfig(seed=6, keep_permille=800, lr_shift=5, method=1,
                                            score_permille=100, subset_rule=1,
                                            last_layer_permille=500))
    ds = blob.encode_dataset(blob.DatasetBlob(small_data.train_x[:10], small_data.train_y[:10],
                                              small_data.test_x[:6], small_data.test_y[:6],
                                              10, 45))
    image = firmware.build_firmware(tmp_path)
    rep, host = run_device_and_host(backend, image.bin, MODEL, ds, cfg)
    assert (rep.config["subset_rule"], rep.config["last_layer_permille"]) == (1, 500)
    assert rep.mem["arena_used"] == native.arena_need(MODEL, cfg)
    assert rep.mem["score_bytes"] == 2 * sum(s.size for s in host.scores)
