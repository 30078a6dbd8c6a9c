"""A finished emulator run is kept and reused for the same backend, firmware and blobs."""
from pathlib import Path

from priot import pipeline
from priot.core import blob
from priot.device import run_store
from priot.device.emulator import Rp2040jsBackend, RunResult
from priot.device.emulator.m0plus_cycles import estimate
from priot.settings import RunSettings

LOG = Path(__file__).resolve().parent / "fixtures" / "renode_uart0.log"


def test_key_changes_with_every_input():
    blobs = {1: b"a", 2: b"b"}
    base = run_store.run_key("rp2040js:x", b"fw", blobs)
    assert base == run_store.run_key("rp2040js:x", b"fw", dict(blobs))
    assert base != run_store.run_key("rp2040js:y", b"fw", blobs)
    assert base != run_store.run_key("rp2040js:x", b"fw2", blobs)
    assert base != run_store.run_key("rp2040js:x", b"fw", {1: b"a", 2: b"c"})


def test_store_round_trip(tmp_path):
    est = estimate({"other": 10, "b_cond": 2})
    run = RunResult(["PRIOT DONE status=ok"], "done", 123, 100, 1.5, "renode", None,
                    cycle_estimate=est, notes=["n"], systick_unit="instructions")
    run_store.save(tmp_path, "k", run)
    back, created = run_store.load(tmp_path, "k")
    assert back == run and created.endswith("Z")
    assert run_store.load(tmp_path, "missing") is None


class CountingBackend(Rp2040jsBackend):
    """rp2040js by name, answering with a recorded log, counting its runs."""
    runs = 0

    def available(self):
        return True, ""

    def run(self, firmware_bin, blobs, timeout_s, max_cycles=None, on_line=None):
        CountingBackend.runs += 1
        return RunResult(LOG.read_text().splitlines()[2:], "done", 1000, 900, 0.1, self.name)


def test_the_same_run_is_not_emulated_twice(tmp_path, arm_toolchain):
    s = RunSettings(n_train=4, n_test=2, cache_dir=tmp_path, build_dir=tmp_path / "build")
    blobs = pipeline.make_blobs(s, log=lambda *_: None)
    messages = []
    backend = CountingBackend()
    first = pipeline.run_firmware(s, blobs, messages.append, backend=backend)
    second = pipeline.run_firmware(s, blobs, messages.append, backend=backend)
    assert CountingBackend.runs == 1 and second[0].scores_crc == first[0].scores_crc
    assert any("reusing the rp2040js run" in m and "--rerun" in m for m in messages)
    pipeline.run_firmware(s, blobs, messages.append, backend=backend, rerun=True)
    assert CountingBackend.runs == 2
    other = pipeline.Blobs(blobs.model, blobs.dataset,
                           blob.encode_config(RunSettings(n_train=4, n_test=2,
                                                          seed=9).run_config()))
    pipeline.run_firmware(s, other, messages.append, backend=backend)
    assert CountingBackend.runs == 3
