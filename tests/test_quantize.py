"""priot.data.models / quantize / pretrain: exponents, shifts, export, accuracy."""
import json

import numpy as np
import pytest
import torch

from priot.core import blob, reference
from priot import data
from priot.data.models import (TinyCNN, activation_exponent, input_from_pixels,
                               quantize_weight, weight_exponent)
from priot.data.pretrain import pretrain
from priot.data.quantize import (QuantizeError, backward_shifts, export_blob, floor_exp,
                                 forward_shifts)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return data.prepare_data(cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def small_run(prepared):
    """A short pretraining on 300 images: 1 float epoch, 1 QAT epoch."""
    return pretrain(prepared, seed=0, epochs=1, qat_epochs=1, max_train=300, n_calib=64,
                    verbose=False)


# ---------------------------------------------------------------- exponents


@pytest.mark.parametrize("max_abs, fw", [(1.0, 6), (0.99, 7), (127.0, 0), (128.0, -1),
                                         (0.01, 13), (127 / 64, 6), (0.0, 7)])
def test_weight_exponent(max_abs, fw):
    assert weight_exponent(max_abs) == fw
    if max_abs > 0:
        assert max_abs * 2.0 ** fw <= 127 < max_abs * 2.0 ** (fw + 1)


def test_quantize_weight_uses_int8_range():
    w = torch.randn(16, 8, 3, 3) * 0.3
    q, fw = quantize_weight(w)
    assert q.dtype == np.int8 and 64 <= np.abs(q).max() <= 127
    assert np.abs(q * 2.0 ** -fw - w.numpy()).max() <= 2.0 ** -(fw + 1) + 1e-7
    assert activation_exponent(3.0) == 5  # 3 * 32 = 96 <= 127 < 192
    assert floor_exp(1.0, 64) == 6 and floor_exp(0.5, 4096) == 13 and floor_exp(0.0, 64) == 31


def test_out_shift_nonnegative_and_clamped():
    torch.manual_seed(0)
    m = TinyCNN()
    m.act_exp[:] = torch.tensor([20, 20, 20, 4])  # absurdly fine hidden outputs
    exps = forward_shifts(m)
    for e in exps:
        assert e["out_shift"] == e["fx"] + e["fw"] - e["fy"] >= 0
    assert exps[0]["out_shift"] == 0 and exps[0]["fy"] == 7 + exps[0]["fw"]
    assert exps[0]["fx"] == 7 and exps[3]["fy"] == 4
    m.act_exp[:] = torch.tensor([-40, 4, 4, 4])  # absurdly coarse: out_shift capped at 31
    assert forward_shifts(m)[0]["out_shift"] == 31
    with torch.no_grad():  # logits cannot be Q4 when fx + fw < 4
        m.fc2.weight.mul_(1e4)
    m.act_exp[:] = torch.tensor([4, 4, 0, 4])
    with pytest.raises(QuantizeError, match="layer 3: out_shift"):
        forward_shifts(m)


def test_backward_shift_formulas():
    exps = [{"fx": 7, "fw": 7}, {"fx": 5, "fw": 7}, {"fx": 4, "fw": 8}, {"fx": 2, "fw": 8}]
    stats = [{"dx": 1.0, "dw": 1.0}, {"dx": 0.5, "dw": 0.25}, {"dx": 3.0, "dw": 2.0},
             {"dx": 0.2, "dw": 1e-30}]
    backward_shifts(exps, stats)
    last = exps[3]
    assert last["fe_out"] == 7
    fe_in3 = floor_exp(0.2, 64)  # 0.2 * 256 = 51.2
    assert fe_in3 == 8 and last["err_shift"] == 7 + 8 - 8 and last["fe_in"] == 8
    assert last["grad_shift"] == 0  # tiny gradients: clamped at 0
    assert exps[2]["fe_out"] == 8
    assert exps[2]["err_shift"] == 8 + 8 - floor_exp(3.0, 64)
    assert exps[2]["fg"] == floor_exp(2.0, 4096) == 11
    assert exps[2]["grad_shift"] == 8 + 4 - 11
    assert exps[0]["err_shift"] == 0 and exps[0]["fe_in"] is None
    for e in exps:
        assert 0 <= e["err_shift"] <= 31 and 0 <= e["grad_shift"] <= 31


# ---------------------------------------------------------------- export


def test_short_pretraining_gives_valid_blob(small_run, tmp_path):
    qm = small_run.qmodel
    assert [l.kind for l in qm.layers] == ["conv", "conv", "fc", "fc"]
    assert [l.n_edges for l in qm.layers] == [72, 1152, 25088, 320]
    raw = blob.encode_model(qm)
    back = blob.decode_model(raw)
    assert blob.encode_model(back) == raw
    for a, b in zip(qm.layers, back.layers):
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
        assert (a.out_shift, a.err_shift, a.grad_shift) == (b.out_shift, b.err_shift,
                                                            b.grad_shift)
        assert a.out_shift >= 0
    for e, l in zip(small_run.layers, qm.layers):
        assert l.out_shift == e["fx"] + e["fw"] - e["fy"]

    path = export_blob(qm, tmp_path / "m.prmd", small_run.provenance)
    assert path.read_bytes() == raw
    info = json.loads((tmp_path / "m.prmd.json").read_text())
    assert info["bytes"] == len(raw) and info["metrics"]["n_train"] == 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.prmd", "m.prmd.json"]


def test_fake_quant_matches_integer_reference(small_run, prepared):
    """The QAT model's logits are the reference's int8 logits / 16, bit for bit."""
    imgs = prepared.test_x[:200]
    with torch.no_grad():
        fl = small_run.model(input_from_pixels(imgs)).numpy() * 16
    il = reference.forward_logits(small_run.qmodel, imgs)
    assert np.array_equal(fl, il.astype(np.float32))


def test_pretraining_is_deterministic(prepared, small_run):
    again = pretrain(prepared, seed=0, epochs=1, qat_epochs=1, max_train=300, n_calib=64,
                     verbose=False)
    assert blob.encode_model(again.qmodel) == blob.encode_model(small_run.qmodel)


@pytest.mark.slow
def test_int8_accuracy_close_to_float(prepared):
    r = pretrain(prepared, seed=0, epochs=6, qat_epochs=2, max_train=1500, n_calib=128,
                 verbose=False)
    m = r.metrics
    assert m["float_upright"] > 0.88
    assert abs(m["int8_upright"] - m["float_upright"]) < 0.03
    assert m["int8_rotated"] < m["int8_upright"] - 0.2  # the domain shift hurts
    assert abs(m["int8_upright"] - m["qat_upright"]) < 1e-9  # exact by construction
