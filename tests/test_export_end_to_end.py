"""A third architecture (tests/fixtures/small_cnn.py: three convs, one with batch norm,
dropout dropped, two linears) through `invoke export` and the normal run flow: the blob
runs in rp2040js bit for bit like the host build and the numpy reference, and the
pipeline uses it as given (no pretraining of its own)."""
import json

import pytest

from priot import export, pipeline
from priot.core import blob, reference
from priot.settings import RunSettings

from conftest import run_device_and_host

pytestmark = pytest.mark.emulator

FIXTURE = "tests/fixtures/small_cnn.py"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, repo_root, arm_toolchain):
    work = tmp_path_factory.mktemp("export")
    lines: list[str] = []
    result = export.export_model(
        f"{repo_root / FIXTURE}:make", work / "out" / "small.prmd", epochs=3, qat_epochs=1,
        max_train=1000, build_dir=work / "build", cache_dir=work / "cache",
        log=lines.append, progress=False)
    return work, result, lines


def test_export_writes_blob_provenance_accuracy_and_plan(exported):
    work, result, lines = exported
    raw = result.path.read_bytes()
    m = blob.decode_model(raw)
    assert [(l.kind, l.out_c, l.relu, l.pool) for l in m.layers] == [
        ("conv", 8, True, True), ("conv", 16, True, True), ("conv", 16, True, False),
        ("fc", 32, True, False), ("fc", 10, False, False)]
    prov = json.loads(result.path.with_name("small.prmd.json").read_text())
    assert prov["generator"] == "priot.export.export_model"
    assert prov["user_model"]["chain"] == "conv8-pool conv16-pool conv16 fc32 fc10"
    assert "Dropout" in prov["user_model"]["notes"][0]
    assert prov["metrics"]["int8_upright"] == result.metrics["int8_upright"]
    # 3 short epochs on 1000 digits: far above chance (10%), far from converged
    assert result.metrics["int8_upright"] > 0.5, result.metrics
    print(f"\nthird architecture: int8 upright {result.metrics['int8_upright']:.1%}, rotated "
          f"{result.metrics['int8_rotated']:.1%}, export {result.metrics['seconds']} s")
    assert any(l.startswith("int8 accuracy: upright") for l in lines)
    assert result.plan is not None and result.plan.fits and "priot" in result.fits_with
    assert any(l.strip() == "fits" for l in lines)


@pytest.fixture(scope="module")
def run_settings(exported):
    work, result, _ = exported
    return RunSettings(model=result.path, n_train=20, n_test=20, timeout_s=300,
                       build_dir=work / "build", cache_dir=work / "run-cache")


def test_the_blob_runs_in_the_emulator_like_host_and_numpy(run_settings, backend):
    from priot.device import firmware

    blobs = pipeline.make_blobs(run_settings, log=lambda *_: None)
    assert blobs.model == run_settings.model.read_bytes()
    assert not (run_settings.cache_dir / "models").exists(), "the pipeline pretrained"
    image = firmware.build_firmware(run_settings.build_dir)
    report, host = run_device_and_host(backend, image.bin, blobs.model, blobs.dataset,
                                       blobs.config)
    assert report.agrees_with(host) == []
    print(f"\nemulator == host: frozen {host.frozen_correct}, after {host.after_correct} of "
          f"20, score crc 0x{host.score_crc:08x}")
    assert report.train["samples"] == 20 and report.evals["after"].total == 20
    ref = reference.run(blob.decode_model(blobs.model), blob.decode_dataset(blobs.dataset),
                        blob.decode_config(blobs.config))
    ev = report.evals
    assert (ev["frozen"].correct, ev["before"].correct, ev["after"].correct) == (
        ref["frozen_correct"], ref["before_correct"], ref["after_correct"])
    assert report.scores_crc == ref["score_crc"]


def test_host_run_and_plan_take_the_blob(run_settings, exported):
    _, result, _ = exported
    summary = pipeline.host_run(run_settings, log=lambda *_: None)
    assert summary.result["evals"]["after"][1] == 20
    p = pipeline.plan(run_settings)
    assert p.fits and p.n_edges == blob.decode_model(result.path.read_bytes()).n_edges
    assert p.arena_need == result.plan.arena_need   # arena need: model and method only
