"""PRIOT-S: the scored subset, and host C == numpy reference == emulator bit for bit."""
import numpy as np
import pytest

from priot.core import blob, native, reference
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
    saved = (2 * (model.n_edges - sum(s.size for s in scores)) + model.n_edges - largest
             + bitmaps)
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
