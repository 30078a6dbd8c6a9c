"""VGG11 (width multiplier, batch norm folded) through the same quantization and integer
engine as the TinyCNN: float-QAT logits equal the integer reference bit for bit, and the
host C library runs PRIOT on it."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from priot.core import blob, native, reference
from priot.data.models import calibrate_activations, input_from_pixels, vgg11
from priot.data.quantize import to_quant_model

from conftest import run_device_and_host


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, 64).astype(np.uint8)
    m = vgg11(width=1 / 16)
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    xt, yt = input_from_pixels(x), torch.from_numpy(y.astype(np.int64))
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(m(xt), yt).backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        before = m(xt)
    m.fold_batchnorm()
    with torch.no_grad():
        after = m(xt)
    calibrate_activations(m, xt)
    m.qat = True
    qm, _ = to_quant_model(m, x[:32], y[:32])
    return m, qm, x, y, before, after


def test_vgg11_pattern_and_width():
    m = vgg11(width=1 / 8)
    assert [c.out_channels for c in m.convs] == [8, 16, 32, 32, 64, 64, 64, 64]
    assert m.pools == [True, True, False, True, False, True, False, True]
    assert [f.in_features for f in m.fcs] == [64] and m.n_classes == 10
    with pytest.raises(ValueError):
        vgg11(width=0)


def test_batchnorm_folding_keeps_the_function(trained):
    _, _, _, _, before, after = trained
    assert torch.allclose(before, after, atol=1e-4)


def test_quant_model_shape_and_reference_bit_exact(trained):
    m, qm, x, _, _, _ = trained
    assert (qm.in_c, qm.in_h, qm.in_w) == (3, 32, 32) and len(qm.layers) == 9
    assert [l.pool for l in qm.layers] == m.pools + [False]
    assert all(l.relu for l in qm.layers[:-1]) and not qm.layers[-1].relu
    back = blob.decode_model(blob.encode_model(qm))
    assert back.n_edges == qm.n_edges
    with torch.no_grad():
        fl = m(input_from_pixels(x)).numpy() * 16
    assert np.array_equal(fl, reference.forward_logits(qm, x).astype(np.float32))


def test_host_library_trains_vgg11_like_the_reference(trained):
    _, qm, x, y, _, _ = trained
    ds = blob.DatasetBlob(x[:16], y[:16], x[16:32], y[16:32], 10, 30)
    cfg = blob.RunConfig(seed=3, keep_permille=800, lr_shift=6, epochs=1)
    host = native.host_run(blob.encode_model(qm), blob.encode_dataset(ds),
                           blob.encode_config(cfg))
    ref = reference.run(qm, ds, cfg)
    assert (host.frozen_correct, host.before_correct, host.after_correct) == (
        ref["frozen_correct"], ref["before_correct"], ref["after_correct"])
    assert host.score_crc == ref["score_crc"]


@pytest.mark.emulator
def test_narrow_vgg11_in_the_emulator_equals_the_host_build(trained, arm_toolchain, backend,
                                                            tmp_path):
    from priot.device import firmware

    _, qm, x, y, _, _ = trained
    ds = blob.DatasetBlob(x[:8], y[:8], x[32:40], y[32:40], 10, 30)
    cfg = blob.RunConfig(seed=5, keep_permille=800, lr_shift=6, epochs=1)
    model_b, ds_b, cfg_b = blob.encode_model(qm), blob.encode_dataset(ds), blob.encode_config(cfg)
    image = firmware.build_firmware(tmp_path)
    rep, _ = run_device_and_host(backend, image.bin, model_b, ds_b, cfg_b)
    assert rep.model["layers"] == 9 and rep.data["train"] == 8
    assert rep.mem["arena_used"] == native.arena_need(model_b)
