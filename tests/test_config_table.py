"""One config table (priot.config_table) for the run settings and the config blob, and
the C parser agreeing with it at every boundary of every field, for every method."""
import dataclasses

import pytest

from priot.core import blob, config_table, methods, native
from priot.settings import RunSettings, SettingsError

# bytes of each config-blob field (blob._CONFIG): values outside cannot be encoded
WIDTH = {"seed": 32, "keep_permille": 16, "lr_shift": 8, "score_init": 8, "init_shift": 8,
         "method": 8, "epochs": 16, "train_limit": 32, "test_limit": 32,
         "progress_every": 32, "score_permille": 16, "grad_rounding": 8,
         "subset_rule": 8, "last_layer_permille": 16, "persist": 8,
         "mode": 8}
assert set(WIDTH) == set(config_table.BLOB_FIELDS)


def _valid(method: methods.Method) -> blob.RunConfig:
    return blob.RunConfig(method=method.code, score_permille=100 if "score_permille"
                          in method.knobs else 0)


def _boundaries(name: str, method: methods.Method) -> list[int]:
    lo, hi, _ = config_table.field_range(name, method)
    f = config_table.FIELDS[name]
    if f.blob_zero_unless_read and name not in method.knobs:
        lo, hi = 0, 0
    values = {lo, hi, lo - 1, hi + 1, f.lo, f.hi, f.lo - 1, f.hi + 1}
    return sorted(v for v in values if 0 <= v < 1 << WIDTH[name])


CASES = [(m.name, name, value) for m in methods.METHODS.values()
         for name in config_table.BLOB_FIELDS if name != "method"
         for value in _boundaries(name, m)]
CASES += [(m.name, "method", v) for m in list(methods.METHODS.values())[:1]
          for v in _boundaries("method", m)]


@pytest.mark.parametrize("method,name,value", CASES)
def test_python_table_and_c_parser_agree(method, name, value):
    cfg = dataclasses.replace(_valid(methods.METHODS[method]), **{name: value})
    if name == "method" and value in methods.BY_CODE:
        cfg = _valid(methods.BY_CODE[value])
    python_accepts = config_table.blob_problem(
        {n: getattr(cfg, n) for n in config_table.BLOB_FIELDS}) is None
    c_status = native.parse_status("config", blob.pack_config(cfg))
    assert python_accepts == (c_status == 0), (
        f"{method} {name}={value}: Python {'accepts' if python_accepts else 'rejects'}, "
        f"C says {native.status_message(c_status)}")


def test_boundaries_reach_both_sides():
    """Each field is tested where it is accepted and where it is refused."""
    for m in methods.METHODS.values():
        for name in config_table.BLOB_FIELDS:
            if name in ("seed", "train_limit", "test_limit", "progress_every"):
                continue   # their whole 32-bit range is valid
            assert len(_boundaries(name, m)) >= 3, (m.name, name)


def test_settings_read_the_same_ranges():
    for name in ("keep_permille", "lr_shift", "init_shift", "epochs", "score_permille",
                 "n_train", "n_test"):
        f = config_table.FIELDS[name]
        assert getattr(RunSettings(), name) == f.default
        for bad in (f.lo - 1, f.hi + 1):
            with pytest.raises(SettingsError, match=f"{name}={bad} is out of range: "
                                                    f"use {f.lo}..{f.hi}"):
                RunSettings(**{name: bad}).validate()


def test_niti_narrows_lr_shift_in_settings_and_blob():
    lo, hi, why = config_table.field_range("lr_shift", methods.NITI)
    assert (lo, hi) == (0, 15) and "update bits" in why
    RunSettings(method="niti", lr_shift=15).run_config().validate()
    with pytest.raises(SettingsError, match="use 0..15"):
        RunSettings(method="niti", lr_shift=16).validate()
    RunSettings(method="priot", lr_shift=16).validate()
    with pytest.raises(blob.BlobError, match="update bits"):
        blob.RunConfig(method=methods.NITI.code, lr_shift=16).validate()


def test_score_permille_is_zero_in_blobs_of_methods_that_do_not_read_it():
    for m in methods.METHODS.values():
        cfg = RunSettings(method=m.name, score_permille=250).run_config()
        assert cfg.score_permille == (250 if "score_permille" in m.knobs else 0)
    with pytest.raises(blob.BlobError, match="must be 0 for priot"):
        blob.RunConfig(method=methods.PRIOT.code, score_permille=100).validate()


def test_grad_rounding_defaults_per_method_and_is_zero_for_the_scoring_methods():
    codes = methods.GRAD_ROUNDINGS
    assert RunSettings(method="niti").run_config().grad_rounding == codes["pseudo-stochastic"]
    assert RunSettings(method="static-sgd").run_config().grad_rounding == codes["half-up"]
    for name in ("half-up", "pseudo-stochastic"):
        for m in ("niti", "static-sgd"):
            cfg = RunSettings(method=m, rounding=name).run_config()
            assert cfg.grad_rounding == codes[name]
            assert blob.decode_config(blob.encode_config(cfg)).grad_rounding == codes[name]
    for m in ("priot", "priot-s"):
        assert RunSettings(method=m).run_config().grad_rounding == 0
        with pytest.raises(SettingsError, match="applies to static-sgd, niti"):
            RunSettings(method=m, rounding="half-up").validate()
        with pytest.raises(blob.BlobError, match=f"must be 0 for {m}"):
            blob.RunConfig(method=methods.METHODS[m].code, grad_rounding=1,
                           score_permille=100 * (m == "priot-s")).validate()
    with pytest.raises(SettingsError, match="'stochastic': use one of half-up, "
                                            "pseudo-stochastic"):
        RunSettings(method="niti", rounding="stochastic").validate()


def test_the_byte_after_grad_rounding_stays_reserved():
    """grad_rounding is payload byte 26 (after score_permille); byte 27 stays reserved and
    a blob written before the field (0 there) rounds half up."""
    cfg = blob.RunConfig(method=methods.NITI.code, grad_rounding=1)
    payload = blob.unframe(blob.encode_config(cfg), blob.CONFIG_MAGIC, "config")
    assert payload[26] == 1 and payload[27:] == bytes(5)
    old = blob.encode_config(blob.RunConfig(method=methods.NITI.code))
    assert blob.unframe(old, blob.CONFIG_MAGIC, "config")[26] == 0
    assert blob.decode_config(old).grad_rounding == methods.GRAD_ROUNDINGS["half-up"]
