import os
import pathlib

import pytest

from priot.device import toolchain
from priot.device.emulator import Rp2040jsBackend

REPO = pathlib.Path(__file__).resolve().parents[1]
IN_CI = bool(os.environ.get("CI"))


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine; in CI a missing tool is a failure, not a skip."""
    if IN_CI:
        pytest.fail(f"CI must have this: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return REPO


@pytest.fixture(scope="session")
def arm_toolchain():
    try:
        toolchain.ensure_arm_toolchain(install=False)
    except toolchain.ToolchainError as err:
        skip_or_fail(f"no ARM toolchain: {err}")


@pytest.fixture(scope="session")
def backend():
    try:
        toolchain.ensure_emulator_packages()
    except toolchain.ToolchainError as err:
        skip_or_fail(f"rp2040js not installable: {err}")
    emulator = Rp2040jsBackend()
    ok, why = emulator.available()
    if not ok:
        skip_or_fail(why)
    return emulator


def run_device_and_host(backend, firmware_bin, model: bytes, dataset: bytes, config: bytes):
    """Run one session in the emulator and on the host build; assert they agree bit for bit
    (every evaluation's correct count and the score checksum). Returns (report, host)."""
    from priot.core import blob, native
    from priot.device.emulator.protocol import Report

    run = backend.run(firmware_bin, {blob.CONFIG_ADDR: config, blob.MODEL_ADDR: model,
                                     blob.DATASET_ADDR: dataset}, timeout_s=300)
    report = Report.from_lines(run.lines)
    host = native.host_run(model, dataset, config)
    assert report.agrees_with(host) == []
    return report, host
