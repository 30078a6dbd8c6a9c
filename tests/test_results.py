"""Result files are atomic and never mix settings or revisions."""
import json
import os

import pytest

from priot import results


def test_key_depends_on_settings_and_revision():
    a = results.result_key({"angle": 45}, "abc")
    assert a == results.result_key({"angle": 45}, "abc")
    assert a != results.result_key({"angle": 30}, "abc")
    assert a != results.result_key({"angle": 45}, "abd")


def test_save_writes_one_file_per_settings_and_revision(tmp_path):
    p1 = results.save("emulate", {"angle": 45}, {"acc": 0.8}, tmp_path, "rev1")
    p2 = results.save("emulate", {"angle": 45}, {"acc": 0.9}, tmp_path, "rev2")
    p3 = results.save("emulate", {"angle": 45}, {"acc": 0.7}, tmp_path, "rev1")
    assert p1 == p3 != p2
    doc = json.loads(p1.read_text())
    assert doc["result"] == {"acc": 0.7} and doc["revision"] == "rev1"
    assert sorted(p.name for p in (tmp_path / "emulate").iterdir()) == sorted(
        {p1.name, p2.name})


def test_a_crash_mid_write_keeps_the_old_file_and_leaves_no_litter(tmp_path, monkeypatch):
    path = results.save("emulate", {"n": 1}, {"v": "old"}, tmp_path, "r")

    def crash(src, dst):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        results.save("emulate", {"n": 1}, {"v": "new"}, tmp_path, "r")
    assert json.loads(path.read_text())["result"] == {"v": "old"}
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_git_revision_names_the_checkout():
    rev = results.git_revision()
    assert rev == "unknown" or len(rev.split("-")[0]) == 40
