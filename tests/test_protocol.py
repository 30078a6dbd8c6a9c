"""The UART line-protocol parser (docs/PROTOCOL.md)."""
import pytest

from priot.device.emulator import (Eval, FirmwareFault, FirmwareReportedError,
                                   ProtocolError, Report, accuracy, parse_line)

GOOD = [
    "PRIOT BOOT fw=1 clk_hz=125000000",
    "PRIOT MODEL layers=4 edges=26624 crc=0x1a2b3c4d",
    "PRIOT EVAL phase=before correct=140 total=300 cycles=900000000",
    "PRIOT DONE status=ok",
]


@pytest.fixture(scope="module")
def protocol_example(repo_root):
    """The example run printed in docs/PROTOCOL.md, so doc and parser stay in step."""
    text = (repo_root / "docs" / "PROTOCOL.md").read_text()
    return text.split("Example:\n```\n", 1)[1].split("```", 1)[0].splitlines()


def test_parse_line_fields_and_typed_getters():
    record = parse_line("PRIOT MODEL layers=4 edges=26624 crc=0x1a2b3c4d\r\n")
    assert record.name == "MODEL"
    assert record.fields == {"layers": "4", "edges": "26624", "crc": "0x1a2b3c4d"}
    assert record.int("layers") == 4
    assert record.hex("crc") == 0x1A2B3C4D
    assert parse_line("PRIOT DATA train=1 test=2 angle=-45").int("angle") == -45
    assert parse_line("PRIOT DONE status=ok").text("status") == "ok"


@pytest.mark.parametrize("line", ["", "hello PRIOT BOOT fw=1", "PRIOTBOOT fw=1", "boot: ok"])
def test_non_protocol_lines_are_ignored(line):
    assert parse_line(line) is None


@pytest.mark.parametrize("line", [
    "PRIOT BOOT fw1",                # token without '='
    "PRIOT BOOT =1",                 # empty key
    "PRIOT BOOT fw=1 fw=2",          # duplicated key
    "PRIOT BOOT fw=1  clk_hz=2",     # double space: empty token
    "PRIOT  BOOT fw=1",              # empty record name
    "PRIOT boot fw=1",               # record names are upper case
    "PRIOT ",
])
def test_malformed_protocol_lines_name_the_line(line):
    with pytest.raises(ProtocolError) as err:
        parse_line(line)
    assert repr(line) in str(err.value)


@pytest.mark.parametrize("getter, key", [("int", "fw"), ("hex", "crc"), ("int", "missing")])
def test_typed_getters_reject_bad_values(getter, key):
    record = parse_line("PRIOT X fw=0x10 crc=1234")
    with pytest.raises(ProtocolError):
        getattr(record, getter)(key)


def test_report_from_documented_example(protocol_example):
    report = Report.from_lines(protocol_example)
    assert report.status == "ok"
    assert report.boot == {"fw": 1, "clk_hz": 125000000}
    assert report.model == {"layers": 4, "edges": 26624, "crc": 0x1A2B3C4D}
    assert report.data == {"train": 300, "test": 300, "angle": 45}
    assert report.config["keep_permille"] == 700 and report.config["seed"] == 1
    assert report.evals["after"] == (250, 300, 900000000)
    assert report.evals["after"].accuracy == pytest.approx(250 / 300)
    assert set(report.evals) == {"frozen", "before", "after"}
    assert report.progress == [(1, 100, 300)]
    assert report.train["backward"] == 1500000000
    assert report.scores_crc == 0x0BADF00D
    assert report.mem == {"arena_used": 90000, "score_bytes": 53264, "arena_size": 180000,
                          "stack_peak": 1200,
                          "stack_size": 8192}


def test_report_ignores_free_text_and_unknown_records():
    report = Report.from_lines(["booting...", *GOOD[:-1], "PRIOT SELFTEST x=1", GOOD[-1]])
    assert report.evals == {"before": Eval(140, 300, 900000000)}
    assert [r.name for r in report.records] == ["BOOT", "MODEL", "EVAL", "SELFTEST", "DONE"]


@pytest.mark.parametrize("lines, message", [
    (GOOD[:-1], "no PRIOT DONE"),
    (GOOD[1:], "no PRIOT BOOT"),
    ([*GOOD[:-1], "PRIOT DONE status=error"], "without the ERROR/FAULT"),
    ([GOOD[0], "PRIOT EVAL phase=after correct=1 total=2", GOOD[-1]], "lacks key 'cycles'"),
    ([GOOD[0], "PRIOT EVAL phase=after correct=x total=2 cycles=3", GOOD[-1]], "not a decimal"),
    ([GOOD[0], "PRIOT SCORES crc=123", GOOD[-1]], "not 0x-prefixed hex"),
    ([*GOOD[:-1], GOOD[2], GOOD[-1]], "second EVAL"),
    ([GOOD[0], *GOOD], "second BOOT"),
])
def test_report_rejects_incomplete_or_malformed_runs(lines, message):
    with pytest.raises(ProtocolError, match=message):
        Report.from_lines(lines)


def test_fault_line_raises_firmware_fault():
    lines = [GOOD[0], "PRIOT FAULT pc=0x100009ee lr=0x10000499 xpsr=0x61000000",
             "PRIOT DONE status=fault"]
    with pytest.raises(FirmwareFault) as err:
        Report.from_lines(lines)
    assert (err.value.pc, err.value.lr, err.value.xpsr) == (0x100009EE, 0x10000499, 0x61000000)
    assert err.value.lines == lines


def test_error_line_raises_firmware_reported_error():
    lines = [GOOD[0], "PRIOT ERROR code=3 msg=model_crc_mismatch", "PRIOT DONE status=error"]
    with pytest.raises(FirmwareReportedError) as err:
        Report.from_lines(lines)
    assert (err.value.code, err.value.msg) == (3, "model_crc_mismatch")
    assert "model crc mismatch" in str(err.value)


def test_accuracy():
    assert accuracy(3, 4) == 0.75
    with pytest.raises(ValueError):
        accuracy(0, 0)


def _host_of(report, **change):
    """A host-build result (priot.native.HostRunResult's fields) agreeing with report."""
    from priot.core.native import HostRunResult

    fields = dict(frozen_correct=report.evals["frozen"].correct,
                  before_correct=report.evals["before"].correct,
                  after_correct=report.evals["after"].correct,
                  test_total=report.evals["after"].total, train_samples=report.train["samples"],
                  train_per_epoch=report.train["samples"], score_crc=report.scores_crc,
                  arena_used=report.mem["arena_used"], n_edges=report.model["edges"])
    return HostRunResult(**{**fields, **change})


def test_per_sample_phases_cover_every_train_phase(protocol_example):
    from priot.device.emulator.protocol import TRAIN_PHASES

    report = Report.from_lines(protocol_example)
    phases = report.per_sample_phases()
    n = report.train["samples"]
    assert tuple(phases) == TRAIN_PHASES and "scale" in phases
    assert phases == {k: report.train[k] / n for k in TRAIN_PHASES}
    assert report.cycles_per_train_sample == report.train["cycles"] / n
    assert report.cycles_per_inference == report.evals["after"].cycles / report.evals["after"].total


def test_agrees_with_names_every_difference(protocol_example):
    report = Report.from_lines(protocol_example)
    assert report.agrees_with(_host_of(report)) == []
    diffs = report.agrees_with(_host_of(report, after_correct=1, score_crc=0x1234,
                                        arena_used=7, train_samples=1))
    assert [d.split(":")[0] for d in diffs] == ["after", "checksum", "training samples",
                                                "arena bytes used"]
    assert "0x00001234" in diffs[1]
    assert report.agrees_with(_host_of(report, test_total=1))[0].startswith("frozen")
