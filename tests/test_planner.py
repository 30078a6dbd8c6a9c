"""The memory planner against the linked firmware image and the firmware's own figures."""
import numpy as np
import pytest

from priot.core import blob, native
from priot.device import firmware, planner
from priot.device.emulator.protocol import Report
from priot.data.models import vgg11
from priot.settings import DEFAULT_MODEL


@pytest.fixture(scope="module")
def image(arm_toolchain, tmp_path_factory):
    return firmware.build_firmware(tmp_path_factory.mktemp("fw"))


def small_dataset(n=4, shape=(1, 28, 28)):
    x = np.zeros((n, *shape), np.uint8)
    y = np.arange(n, dtype=np.uint8) % 10
    return blob.encode_dataset(blob.DatasetBlob(x, y, x, y, 10, 45))


def random_vgg_blob(width):
    m = vgg11(width=width, batchnorm=False)
    rng = np.random.default_rng(0)
    layers, shape = [], m.in_shape
    for i, mod in enumerate(m.layers):
        conv = m.is_conv(i)
        w = rng.integers(-127, 128, tuple(mod.weight.shape)).astype(np.int8)
        in_c, in_h, in_w = shape if conv else (int(np.prod(shape)), 1, 1)
        layer = blob.Layer("conv" if conv else "fc", in_c, in_h, in_w, w.shape[0], w, None,
                           relu=i < len(m.layers) - 1, pool=m.has_pool(i), out_shift=9,
                           err_shift=7, grad_shift=4)
        layers.append(layer)
        shape = layer.next_shape
    return blob.encode_model(blob.QuantModel(layers, 3, 32, 32, 10))


def test_arena_capacity_is_the_linked_array(image):
    cap = planner.arena_capacity(image.elf)
    mem = firmware.elf_memory(image.elf)
    assert 100 * 1024 <= cap < mem["sram_bytes"] <= 256 * 1024


def test_default_model_fits_and_matches_the_c_engine(image):
    model = DEFAULT_MODEL.read_bytes()
    p = planner.plan(model, small_dataset(), blob.encode_config(blob.RunConfig()), image.elf)
    assert p.fits and p.arena_need == native.arena_need(model)
    assert p.flash["model blob"] == (len(model), blob.MODEL_MAX)
    assert p.per_edge_bytes == 3 * blob.decode_model(model).n_edges < p.arena_need


def test_too_wide_vgg11_is_refused_with_the_shortfall(image):
    model = random_vgg_blob(0.25)
    p = planner.plan(model, small_dataset(shape=(3, 32, 32)),
                     blob.encode_config(blob.RunConfig()), image.elf)
    assert not p.fits
    short = p.arena_need - p.arena_capacity
    assert p.flash["model blob"][0] <= blob.MODEL_MAX and len(p.problems) == 1
    assert short > 0 and f"{short:,} too many" in p.problems[0]
    assert "narrower model" in p.problems[0]
    with pytest.raises(planner.PlanError, match="SRAM arena"):
        p.require_fit()
    assert "DOES NOT FIT" in p.format()


def test_oversized_dataset_is_refused(image):
    p = planner.plan(DEFAULT_MODEL.read_bytes(), small_dataset(n=1400),
                     blob.encode_config(blob.RunConfig()), image.elf)
    assert any("dataset blob" in q and "fewer --n-train" in q for q in p.problems)


@pytest.mark.emulator
def test_plan_equals_what_the_firmware_measures(image, backend):
    model = random_vgg_blob(1 / 16)
    ds, cfg = small_dataset(n=2, shape=(3, 32, 32)), blob.encode_config(
        blob.RunConfig(epochs=1, keep_permille=900))
    p = planner.plan(model, ds, cfg, image.elf)
    run = backend.run(image.bin, {blob.CONFIG_ADDR: cfg, blob.MODEL_ADDR: model,
                                  blob.DATASET_ADDR: ds}, timeout_s=120)
    report = Report.from_lines(run.lines)
    assert planner.verify(p, report.mem) == []


def test_dataset_blob_size_is_the_encoded_size():
    for n, shape in ((4, (1, 28, 28)), (7, (3, 32, 32))):
        x = np.zeros((n, *shape), np.uint8)
        y = np.zeros(n, np.uint8)
        assert len(blob.encode_dataset(blob.DatasetBlob(x, y, x[:2], y[:2]))) == \
            blob.dataset_blob_size(n, 2, shape)


@pytest.mark.parametrize("method", ["priot", "priot-s", "static-sgd", "niti"])
def test_architecture_plan_needs_what_the_trained_model_needs(method):
    """The plan made before any training (zero weights) sizes the arena exactly as the
    committed, trained model does."""
    from priot.data.models import TinyCNN
    from priot.data.quantize import architecture_model
    from priot.settings import RunSettings

    cfg = blob.encode_config(RunSettings(method=method).run_config())
    shape_only = blob.encode_model(architecture_model(TinyCNN()))
    assert len(shape_only) == len(DEFAULT_MODEL.read_bytes())
    assert native.arena_need(shape_only, cfg) == native.arena_need(DEFAULT_MODEL.read_bytes(),
                                                                  cfg)


def _no_data(*args, **kwargs):
    raise AssertionError("the plan must not read data or pretrain")


def test_invoke_plan_for_vgg11_answers_without_data_or_pretraining(image, monkeypatch,
                                                                   tmp_path):
    from priot import data, pipeline
    from priot.settings import ARCH_DEFAULTS, RunSettings

    monkeypatch.setattr(data, "prepare_data", _no_data)
    monkeypatch.setattr(pipeline, "pretrain_model", _no_data)
    defaults = RunSettings(arch="vgg11", build_dir=tmp_path, **ARCH_DEFAULTS["vgg11"])
    p = pipeline.plan(defaults)
    assert p.fits, p.format()          # the VGG11 defaults fit the Pico
    wide = RunSettings(arch="vgg11", width=0.25, build_dir=tmp_path,
                       **{**ARCH_DEFAULTS["vgg11"], "method": "priot"})
    p = pipeline.plan(wide)
    assert not p.fits and "SRAM arena" in p.format() and "too many" in p.format()


def test_vgg11_without_data_says_what_to_give_and_how_to_download():
    from priot.settings import ARCH_DEFAULTS, RunSettings, SettingsError

    with pytest.raises(SettingsError) as err:
        RunSettings(arch="vgg11", **ARCH_DEFAULTS["vgg11"]).validate()
    text = str(err.value)
    assert "CIFAR-10" in text and "get-cifar10" in text
    assert "source" not in text and "MNIST" not in text
