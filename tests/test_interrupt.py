"""A run stopped from outside (SIGTERM, SIGHUP, Ctrl-C) ends its emulator, removes its
temporary files and says so in one line."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from priot.core import blob
from priot.device import firmware

SCRIPT = """
import sys
from pathlib import Path
from priot import interrupt
from priot.device.emulator import Rp2040jsBackend
interrupt.install()
print("running", flush=True)
Rp2040jsBackend().run(Path(sys.argv[1]), {{{addr}: b"HANG"}}, timeout_s=120)
"""


def _emulators_using(folder: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(folder) in (proc / "cmdline").read_text():
                pids.append(int(proc.name))
        except OSError:
            pass
    return pids


@pytest.fixture(scope="module")
def selftest(arm_toolchain, tmp_path_factory):
    return firmware.build_firmware(tmp_path_factory.mktemp("fw"), app="selftest")


@pytest.mark.emulator
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_stops_the_emulator_and_removes_its_files(signum, selftest, backend,
                                                           tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(addr=blob.CONFIG_ADDR), str(selftest.bin)],
        env={**os.environ, "TMPDIR": str(tmp)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "running"
    deadline = time.monotonic() + 30
    while not _emulators_using(tmp) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _emulators_using(tmp), "the emulator did not start"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    time.sleep(0.5)
    assert not _emulators_using(tmp), "the emulator outlived the run"
    assert list(tmp.iterdir()) == [], "temporary files were left behind"
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and "emulator was stopped" in lines[0], err[-2000:]
    assert proc.returncode != 0
