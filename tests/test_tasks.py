"""The invoke tasks' help: generated from the package, so it states the real defaults, lists
every method of the registry and reads cleanly in `invoke --list`."""
import importlib.util
import re
import subprocess
import sys

import pytest

from priot.studies import experiment as ex
from priot.core import methods
from priot import settings


def _invoke(*args: str, cwd) -> str:
    done = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _options(help_text: str) -> dict[str, str]:
    """--option -> its help text (wrapped lines joined)."""
    out: dict[str, str] = {}
    current = None
    for line in help_text.split("Options:", 1)[1].splitlines():
        m = re.match(r"\s+(-\S+?)(?:=\S+)?\s{2,}(.*)", line)
        if m and m.group(1).startswith("-"):
            current = m.group(1)
            out[current] = m.group(2)
        elif current and line.strip():
            out[current] += ("" if out[current].endswith("-") else " ") + line.strip()
    return out


@pytest.fixture(scope="module")
def tasks_module(repo_root):
    spec = importlib.util.spec_from_file_location("priot_tasks", repo_root / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _task_names(tasks_module) -> list[str]:
    from invoke import Task

    return [name.replace("_", "-") for name, v in vars(tasks_module).items()
            if isinstance(v, Task)]


def test_run_options_state_the_settings_defaults(repo_root):
    from priot.device.hw import BOARD_TIMEOUT_S

    for task in ("emulate", "host-run", "prepare", "plan", "hw-run", "compare"):
        options = _options(_invoke("--help", task, cwd=repo_root))
        for flag, text in options.items():
            if flag in ("--port", "--drive", "--seeds", "--emulate", "--rerun"):
                continue
            name = settings.field_of(flag[2:].replace("-", "_"))
            default = settings.default_of(name)
            if (task, name) == ("hw-run", "timeout_s"):
                default = BOARD_TIMEOUT_S
            assert "(default: " in text, (task, flag, text)
            if default is not None:
                value = f"{default:g}" if isinstance(default, float) else str(default)
                assert f"(default: {value})" in text or f"(default: {value};" in text, \
                    (task, flag, text)
                for arch, values in settings.ARCH_DEFAULTS.items():
                    if name in values and name != "source":
                        assert f"{arch}: {values[name]}" in text, (task, flag, arch, text)


def test_lr_shift_help_shows_the_real_default(repo_root):
    text = _options(_invoke("--help", "emulate", cwd=repo_root))["--lr-shift"]
    assert f"(default: {settings.RunSettings().lr_shift})" in text


def test_method_help_lists_every_device_method(repo_root):
    for task in ("emulate", "host-run", "plan", "hw-run"):
        text = _options(_invoke("--help", task, cwd=repo_root))["--method"]
        for name in methods.METHODS:
            assert re.search(rf"\b{re.escape(name)}\b", text), (task, name, text)


def test_experiment_help_states_the_plan_defaults(repo_root):
    options = _options(_invoke("--help", "experiment", cwd=repo_root))
    assert f"(default: {ex.plan_default('seeds')})" in options["--seeds"]
    assert "30,45,60" in options["--angles"]
    for arm in methods.ARMS:
        assert arm in options["--methods"]


def test_no_option_gets_a_broken_short_flag(repo_root, tasks_module):
    for task in _task_names(tasks_module):
        text = _invoke("--help", task, cwd=repo_root)
        assert "--=" not in text and not re.search(r"^\s+-\S,", text, re.M), (task, text)


def test_list_shows_complete_first_lines(repo_root, tasks_module):
    from invoke import Task

    for name, t in vars(tasks_module).items():
        if isinstance(t, Task):
            doc = (t.body.__doc__ or "").strip()
            first, _, rest = doc.partition("\n")
            assert first.endswith("."), (name, first)
            assert not rest or rest.startswith("\n"), f"{name}: the first sentence runs on " \
                                                      f"past its line: {doc[:120]!r}"
    listing = _invoke("--list", cwd=repo_root)
    entries = re.split(r"\n  (?=\S)", listing.split("Available tasks:", 1)[1].strip())
    assert len(entries) == len(_task_names(tasks_module))
    for entry in entries:
        text = " ".join(entry.split())
        assert text.endswith("."), entry
