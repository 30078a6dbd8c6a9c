"""`invoke bench --vgg11-data`: which widths and methods it measures (the memory planner),
its ratios and table, and its refusal of a directory that is not CIFAR-10. The sessions
themselves are faked here (one real VGG11 session costs minutes: docs/performance.md has
the measured figures)."""
import pytest

from priot.core import methods as method_registry
from priot.data import DataError
from priot.device import firmware
from priot.studies import bench, bench_vgg11


@pytest.fixture(scope="module")
def elf(arm_toolchain, tmp_path_factory):
    return firmware.build_firmware(tmp_path_factory.mktemp("fw")).elf


@pytest.fixture
def cifar_dir(tmp_path):
    (tmp_path / "airplane").mkdir()   # what source_of_dir looks at: a class folder
    return tmp_path


def test_common_width_is_the_widest_where_every_method_fits(elf, cifar_dir, tmp_path):
    ms = bench.methods()
    w = bench_vgg11.widest_common_width(ms, cifar_dir, 20, 2, tmp_path, elf)
    k = round(w * 64)
    assert w == k / 64 and 2 <= k < 8
    fit = bench_vgg11.fitting_methods(w, ms, cifar_dir, 20, 2, tmp_path, elf)
    assert fit == list(ms)
    wider = bench_vgg11.fitting_methods((k + 1) / 64, ms, cifar_dir, 20, 2, tmp_path, elf)
    assert len(wider) < len(ms)


def test_at_one_eighth_priot_s_fits_and_priot_does_not(elf, cifar_dir, tmp_path):
    fit = bench_vgg11.fitting_methods(0.125, bench.methods(), cifar_dir, 20, 2, tmp_path,
                                      elf)
    assert "priot-s" in fit and "priot" not in fit


def test_settings_are_emulate_s_vgg11_defaults(cifar_dir, tmp_path):
    s = bench_vgg11.settings_for("priot-s", 5 / 64, cifar_dir, 20, 2, tmp_path)
    assert (s.arch, s.width, s.source, s.subset) == ("vgg11", 5 / 64, "cifar10", "random")
    assert (s.n_train, s.n_test, s.method) == (20, 2, "priot-s")


def test_ratios_divide_the_cycles_of_each_pair():
    steps = [{"method": "priot", "cycles_per_sample": 30.0},
             {"method": "niti", "cycles_per_sample": 40.0},
             {"method": "static-sgd", "cycles_per_sample": 20.0}]
    r = bench_vgg11.ratios(steps)
    assert r == {"priot/niti": 0.75, "priot/static-sgd": 1.5, "niti/static-sgd": 2.0}


def _fake_step(calls):
    def step(s, ref=False, log=None, prepare_log=None):
        calls.append(s)
        cycles = {"priot": 3e6, "priot-s": 4e6, "static-sgd": 2e6, "niti": 5e6}[s.method]
        return {"method": s.method, "kernels": "opt", "samples": s.n_train,
                "cycles_per_sample": cycles * s.width * 8, "phases_per_sample": {},
                "cycles_per_inference": 1e6, "scores_crc": 0x1234, "after_correct": 1}
    return step


def test_run_measures_both_widths_with_the_same_samples(monkeypatch, elf, cifar_dir,
                                                         tmp_path):
    calls = []
    monkeypatch.setattr(firmware, "build_firmware",
                        lambda *a, **k: type("Image", (), {"elf": elf})())
    logged = []
    out = bench_vgg11.run(cifar_dir, bench.methods(), False, tmp_path, logged.append,
                          _fake_step(calls))
    common, reference = out["widths"]
    assert [s.method for s in calls[:4]] == list(bench.methods())
    assert {s.width for s in calls[:4]} == {common["width"]}
    assert reference["width"] == 0.125 and "priot" in reference["not_fitting"]
    assert {(s.n_train, s.n_test) for s in calls} == {bench_vgg11.N_SAMPLES[False]}
    assert common["ratios"]["priot/niti"] == pytest.approx(0.6)
    table = "\n".join(bench_vgg11.format_section(out))
    assert "PRIOT/NITI 0.60" in table and f"| {common['width_64ths']}/64 | niti |" in table
    assert "priot do not fit" in table or "priot, niti do not fit" in table
    assert any("step ratios" in m for m in logged)


def test_a_directory_that_is_not_cifar10_is_refused_before_any_run(monkeypatch, tmp_path):
    def no_run(*a, **k):
        raise AssertionError("the bench started before checking --vgg11-data")
    monkeypatch.setattr(bench, "run_kernels", no_run)
    with pytest.raises(DataError, match="--vgg11-data .*not a CIFAR-10 directory"):
        bench.run(vgg11_data=tmp_path, out=tmp_path / "b.json")
    with pytest.raises(DataError, match="not a CIFAR-10"):
        bench.run(vgg11_data=tmp_path / "missing", out=tmp_path / "b.json")


def test_without_vgg11_data_the_section_says_how_to_get_it():
    lines = bench_vgg11.format_section({"skipped": "give --vgg11-data DIR"})
    assert "VGG11 steps: skipped (give --vgg11-data DIR)" in lines


def test_every_registered_method_is_benchmarked():
    assert set(bench.methods()) == set(method_registry.METHODS)
