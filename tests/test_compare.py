"""The quick method comparison: tuning never sees the test split; table arithmetic."""
import numpy as np

from priot import compare, data
from priot.settings import DEFAULT_MODEL


def test_tuning_uses_validation_only_and_table_reports_claims(monkeypatch):
    prepared = data.prepare_data()
    small = data.PreparedData(prepared.pretrain_x[:10], prepared.pretrain_y[:10],
                              prepared.device_train_x[:60], prepared.device_train_y[:60],
                              prepared.test_x[:40], prepared.test_y[:40], dict(prepared.meta))
    monkeypatch.setattr(compare, "GRIDS", {"priot": {"lr_shift": [5, 6]},
                                           "static-sgd": {"lr_shift": [9]}})
    seen = []
    real = compare._accuracy

    def spy(model, dataset, config):
        seen.append(len(dataset))
        return real(model, dataset, config)

    monkeypatch.setattr(compare, "_accuracy", spy)
    frozen, results = compare.compare(small, DEFAULT_MODEL.read_bytes(), seeds=2,
                                      tune_seeds=1, n_tune=40, log=lambda *_: None)
    assert [r.method for r in results] == ["priot", "static-sgd"]
    assert all(len(r.test_accuracies) == 2 for r in results)
    assert results[0].chosen["lr_shift"] in (5, 6)
    # tuning runs see the 40/20 validation blob; only the final runs see the test blob
    val_size, test_size = seen[0], seen[-1]
    assert val_size != test_size and seen.count(val_size) == 3
    text = compare.table(frozen, results, 45)
    diff = (results[0].mean - results[1].mean) * 100
    assert f"PRIOT minus tuned static-scale SGD: {diff:+.2f} points" in text
    assert np.isclose(results[0].mean, np.mean(results[0].test_accuracies))


def test_table_shows_device_costs_when_measured():
    r = compare.MethodResult("priot", {"lr_shift": 5}, {"lr_shift": [5]}, 0.9, [0.8, 0.82],
                             {"train_cycles": 10_500_000, "infer_cycles": 3_680_000,
                              "arena_used": 110756, "score_bytes": 53264, "stack_peak": 540,
                              "bit_exact": True})
    text = compare.table(0.4, [r], 45)
    assert "| priot | 10,500,000 | 84.0 | 3,680,000 | 29.4 | 110,756 | 53,264 | 540 | True |" \
        in text
