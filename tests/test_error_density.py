"""priot.studies.error_density: the count of output errors per layer that `invoke bench`
prints beside the backward phase, read from the numpy reference without changing it."""
import numpy as np
import pytest

from priot import pipeline
from priot.core import blob, reference
from priot.core.reference import ops
from priot.settings import RunSettings
from priot.studies import error_density


@pytest.fixture(scope="module", params=["priot", "niti"])
def blobs(request):
    return pipeline.make_blobs(RunSettings(n_train=4, n_test=2, method=request.param),
                               log=lambda *_: None)


def test_counts_are_those_of_the_errors_backward_yields(blobs, monkeypatch):
    direct = {}
    original = ops.backward

    def counting(*args, **kw):
        for li, layer, e in original(*args, **kw):
            direct.setdefault(li, []).append(int(np.count_nonzero(e)))
            yield li, layer, e
    for module in (reference.scores, reference.niti, reference.sgd):
        monkeypatch.setattr(module, "backward", counting)
    d = error_density.measure(blobs)
    model = blob.decode_model(blobs.model)
    assert len(d["layers"]) == len(model.layers)
    for li, e in enumerate(d["layers"]):
        assert e["nonzero"] == pytest.approx(np.mean(direct[li]))
        L = model.layers[li]
        assert e["size"] == L.out_c * L.out_h * L.out_w
        assert 0 <= e["live_rows"] <= e["rows"] == L.out_c
        assert e["nonzero"] >= e["live_rows"]
    assert d["layers"][-1]["nonzero"] > 0      # the softmax error is never all zero here


def test_observing_changes_no_result_and_ends_with_the_block(blobs):
    args = (blob.decode_model(blobs.model), blob.decode_dataset(blobs.dataset),
            blob.decode_config(blobs.config))
    def comparable(r):
        return {k: (v.tolist() if isinstance(v, np.ndarray) else
                    [np.asarray(a).tolist() for a in v] if isinstance(v, list) else v)
                for k, v in r.items()}
    plain = comparable(reference.run(*args))
    error_density.measure(blobs)
    assert comparable(reference.run(*args)) == plain
    assert ops._error_observers == []
    with pytest.raises(RuntimeError):
        with ops.observing_errors(lambda li, e: None):
            raise RuntimeError("inside")
    assert ops._error_observers == []


def test_format_line_names_every_layer():
    d = {"layers": [{"nonzero": 3.4, "size": 10, "live_rows": 1.5, "rows": 2}] * 2}
    assert error_density.format_line("niti", d) == \
        "  niti        3/10 (1.5/2 rows)  3/10 (1.5/2 rows)"
