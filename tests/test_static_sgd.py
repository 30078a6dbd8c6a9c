"""Static-scale SGD (the weight-training baseline): host C == numpy == emulator."""
import numpy as np
import pytest

from priot.core import blob, native, reference
from priot.device import firmware
from priot.settings import DEFAULT_MODEL

from conftest import run_device_and_host

MODEL = DEFAULT_MODEL.read_bytes()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(8)
    x = rng.integers(0, 256, (28, 1, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 28).astype(np.uint8)
    return blob.DatasetBlob(x[:20], y[:20], x[20:], y[20:], 10, 45)


ROUNDINGS = [0, 1]   # grad_rounding: half up (static SGD's default), NITI's pseudo-stochastic
ROUNDING_IDS = ["half-up", "pseudo-stochastic"]


def sgd(lr, seed=1, epochs=1, rounding=0):
    return blob.RunConfig(seed=seed, keep_permille=1000, lr_shift=lr, method=2, epochs=epochs,
                          grad_rounding=rounding)


@pytest.mark.parametrize("rounding", ROUNDINGS, ids=ROUNDING_IDS)
@pytest.mark.parametrize("lr", [0, 3, 9, 31])
def test_host_equals_reference(data, lr, rounding):
    cfg = sgd(lr, epochs=2, rounding=rounding)
    host = native.host_run(MODEL, blob.encode_dataset(data), blob.encode_config(cfg))
    ref = reference.run(blob.decode_model(MODEL), data, cfg)
    assert (host.frozen_correct, host.before_correct, host.after_correct) == (
        ref["frozen_correct"], ref["before_correct"], ref["after_correct"])
    assert host.frozen_correct == host.before_correct
    assert host.score_crc == ref["score_crc"]


def test_weights_train_in_ram_only(data):
    cfg = blob.encode_config(sgd(6))
    _, w_ram = native.host_train(MODEL, cfg, data.train_x[:5], data.train_y[:5])
    model = blob.decode_model(MODEL)
    ref = reference.run(model, blob.DatasetBlob(data.train_x[:5], data.train_y[:5],
                                                data.test_x, data.test_y, 10, 45), sgd(6))
    for layer, w, r in zip(model.layers, w_ram, ref["weights"]):
        assert np.array_equal(w, r)
    assert any(not np.array_equal(w, layer.weights) for layer, w in zip(model.layers, w_ram))
    assert blob.decode_model(MODEL).layers[0].weights.tobytes() == model.layers[0].weights.tobytes()
    # no scores: the arena holds the RAM weights instead of scores + masked copy
    need = native.arena_need(MODEL, cfg)
    assert need < native.arena_need(MODEL, blob.encode_config(blob.RunConfig())) - 2 * model.n_edges + 64


def test_lr_31_is_a_no_op_at_the_extremes(data):
    host = native.host_run(MODEL, blob.encode_dataset(data), blob.encode_config(sgd(31)))
    assert host.after_correct == host.frozen_correct


@pytest.mark.parametrize("lr", [0, 5, 15])
def test_pseudo_stochastic_update_kernels(lr):
    """Optimised == plain == numpy for the pseudo-stochastic update at int16 edges."""
    rng = np.random.default_rng(lr)
    g = rng.integers(-2**15, 2**15, 777)
    g[:6] = [-32768, 32767, 0, -1, min(1 << lr, 32767), -(1 << lr)]
    for w in (rng.integers(-128, 128, g.size).astype(np.int8), np.full(g.size, 127, np.int8),
              np.full(g.size, -128, np.int8)):
        want = reference.weight_update(w, g, lr, 1)
        assert np.array_equal(native.weight_update(w, g, lr, 1), want)
        with native.reference_kernels():
            assert np.array_equal(native.weight_update(w, g, lr, 1), want)


def test_the_roundings_train_differently(data):
    weights = [native.host_train(MODEL, blob.encode_config(sgd(6, rounding=r)),
                                 data.train_x[:5], data.train_y[:5])[1] for r in ROUNDINGS]
    assert any(not np.array_equal(a, b) for a, b in zip(*weights))


@pytest.mark.emulator
@pytest.mark.parametrize("rounding", ROUNDINGS, ids=ROUNDING_IDS)
def test_emulator_equals_host(data, arm_toolchain, backend, tmp_path, rounding):
    ds = blob.encode_dataset(blob.DatasetBlob(data.train_x[:8], data.train_y[:8],
                                              data.test_x[:6], data.test_y[:6], 10, 45))
    image = firmware.build_firmware(tmp_path)
    cfg = sgd(8, rounding=rounding)
    rep, host = run_device_and_host(backend, image.bin, MODEL, ds, blob.encode_config(cfg))
    assert rep.config["method"] == 2 and rep.mem["score_bytes"] == 0
    assert rep.config["grad_rounding"] == rounding
    assert host.score_crc == reference.run(blob.decode_model(MODEL), blob.decode_dataset(ds),
                                           cfg)["score_crc"]
