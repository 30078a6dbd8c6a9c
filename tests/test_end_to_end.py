"""The whole path on a short session: blobs -> firmware in rp2040js -> UART report, checked
bit for bit against the host build of the C library and the numpy reference."""
import dataclasses

import numpy as np
import pytest

from priot.core import blob, native, reference
from priot.device import firmware
from priot import pipeline
from priot.device.emulator import FirmwareReportedError
from priot.device.emulator.protocol import Report
from priot.settings import RunSettings, SettingsError

pytestmark = pytest.mark.emulator

SHORT = dict(n_train=40, n_test=40, angle=45.0, keep_permille=900, lr_shift=5)


@pytest.fixture(scope="module")
def settings(tmp_path_factory, repo_root):
    return RunSettings(**SHORT, timeout_s=300, build_dir=tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def blobs(settings):
    return pipeline.make_blobs(settings, log=lambda *_: None)


@pytest.fixture(scope="module")
def image(settings, arm_toolchain):
    return firmware.build_firmware(settings.build_dir)


@pytest.fixture(scope="module")
def device_report(image, blobs, backend):
    result = backend.run(image.bin, blobs.at_addresses(), timeout_s=300)
    return Report.from_lines(result.lines)


def test_firmware_links_no_floating_point_routines(image):
    assert firmware.floating_point_symbols(image.elf) == []


def test_emulator_equals_host_build_bit_for_bit(device_report, blobs):
    host = native.host_run(blobs.model, blobs.dataset, blobs.config)
    ev = device_report.evals
    assert (ev["frozen"].correct, ev["before"].correct, ev["after"].correct) == (
        host.frozen_correct, host.before_correct, host.after_correct)
    assert ev["after"].total == host.test_total == SHORT["n_test"]
    assert device_report.train["samples"] == host.train_samples == SHORT["n_train"]
    assert device_report.scores_crc == host.score_crc


def test_emulator_equals_numpy_reference(device_report, blobs):
    ref = reference.run(blob.decode_model(blobs.model), blob.decode_dataset(blobs.dataset),
                        blob.decode_config(blobs.config))
    ev = device_report.evals
    assert (ev["frozen"].correct, ev["before"].correct, ev["after"].correct) == (
        ref["frozen_correct"], ref["before_correct"], ref["after_correct"])
    assert device_report.scores_crc == ref["score_crc"]


def test_report_has_costs_and_memory(device_report):
    t = device_report.train
    phases = sum(t[k] for k in ("forward", "loss", "backward", "update", "mask"))
    assert 0.9 * t["cycles"] <= phases <= t["cycles"]
    assert 1_000_000 < t["cycles"] / t["samples"] < 50_000_000
    mem = device_report.mem
    assert 0 < mem["arena_used"] <= mem["arena_size"]
    assert 0 < mem["stack_peak"] < mem["stack_size"]


def test_corrupt_model_blob_is_reported_by_the_firmware(image, blobs, backend):
    bad = bytearray(blobs.model)
    bad[100] ^= 0xFF
    addrs = dataclasses.replace(blobs, model=bytes(bad)).at_addresses()
    result = backend.run(image.bin, addrs, timeout_s=60)
    with pytest.raises(FirmwareReportedError) as err:
        Report.from_lines(result.lines)
    assert "crc" in str(err.value).lower()


@pytest.mark.parametrize("change, words", [
    (dict(angle=float("nan")), "angle"),
    (dict(angle=400.0), "angle"),
    (dict(keep_permille=0), "keep_permille"),
    (dict(keep_permille=1001), "keep_permille"),
    (dict(lr_shift=40), "lr_shift"),
    (dict(score_init="zeros"), "score_init"),
    (dict(source="cifar"), "source"),
])
def test_bad_settings_are_refused_before_work(change, words, tmp_path):
    s = RunSettings(**{**SHORT, **change}, cache_dir=tmp_path)
    with pytest.raises(SettingsError, match=words):
        pipeline.make_blobs(s, log=lambda *_: None)
    assert not any(tmp_path.iterdir()), "nothing may be written for refused settings"


def test_more_samples_than_the_split_holds_is_refused(tmp_path):
    s = RunSettings(**{**SHORT, "n_train": 5000}, cache_dir=tmp_path)
    with pytest.raises(SettingsError, match="n_train=5000 but the prepared split holds 1000"):
        pipeline.make_blobs(s, log=lambda *_: None)


def test_flash_addresses_agree_between_python_and_c(repo_root):
    header = (repo_root / "firmware/board/rp2040/flash_layout.h").read_text()
    values = {}
    for line in header.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#define":
            values[parts[1]] = eval(" ".join(parts[2:]).replace("u", ""))  # noqa: S307
    assert values["PRIOT_CONFIG_ADDR"] == blob.CONFIG_ADDR
    assert values["PRIOT_MODEL_ADDR"] == blob.MODEL_ADDR
    assert values["PRIOT_DATASET_ADDR"] == blob.DATASET_ADDR
    assert values["PRIOT_MODEL_MAX"] == blob.MODEL_MAX
    assert values["PRIOT_DATASET_MAX"] == blob.DATASET_MAX
    assert values["PRIOT_FIRMWARE_MAX"] == blob.FIRMWARE_MAX
    assert np.all(np.diff([blob.CONFIG_ADDR, blob.MODEL_ADDR, blob.DATASET_ADDR]) > 0)


@pytest.mark.parametrize("args, words", [
    (["--keep-permille", "0"], "keep_permille=0 is out of range"),
    (["--angle", "abc"], "--angle 'abc' is not a number"),
    (["--n-train", "1.5"], "--n-train '1.5' is not a whole number"),
    (["--method", "sgd"], "method 'sgd'"),
    (["--model", "/nonexistent.prmd"], "does not exist"),
])
def test_cli_refuses_bad_options_in_one_line(args, words, repo_root):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "invoke", "emulate", *args], cwd=repo_root,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert words in done.stderr and "Traceback" not in done.stderr
