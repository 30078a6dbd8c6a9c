"""The Renode backend, checked without Renode: the platform covers every peripheral address
the firmware touches, the scripts reference what exists, a recorded UART log parses, and
the backend's process handling works against a stand-in `renode` executable."""
import re
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from priot.core import blob
from priot.device import firmware
from priot.device.emulator import (EmulatorTimeout, EmulatorUnavailable, RenodeBackend,
                                   Report)
from priot.device.emulator import renode as R
from priot.device.emulator import m0plus_cycles

sys.path.insert(0, str(Path(__file__).resolve().parent))
import renode_monitor as RM  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REPL = (REPO / "emulation/renode/rp2040.repl").read_text()
RESC = (REPO / "emulation/renode/priot.resc").read_text()
LOG = REPO / "tests/fixtures/renode_uart0.log"
DEFAULT_SIZES = {"UART.PL011": 0x1000, "IRQControllers.NVIC": 0x1000}


def repl_regions():
    """(start, end, name) of every peripheral the .repl places on the system bus."""
    regions = []
    for m in re.finditer(r"^(\w+): ([\w.]+) @ sysbus (0x[0-9A-Fa-f]+)\n((?:[ \t].*\n)*)", REPL,
                         re.M):
        name, kind, addr, body = m.groups()
        size = re.search(r"size: (0x[0-9A-Fa-f]+)", body)
        length = int(size.group(1), 16) if size else DEFAULT_SIZES[kind]
        regions.append((int(addr, 16), int(addr, 16) + length, name))
    return regions


@pytest.fixture(scope="module")
def image(arm_toolchain, tmp_path_factory):
    return firmware.build_firmware(tmp_path_factory.mktemp("fw"))


def _code_ranges(image: ELFFile) -> list[tuple[int, int]]:
    """[start, end) of Thumb instructions, from the ARM mapping symbols ($t code, $d data
    such as literal pools): instruction pairs that happen to look like an address are not
    register accesses."""
    table = image.get_section_by_name(".symtab")
    marks = sorted((sym["st_value"], sym.name[:2]) for sym in table.iter_symbols()
                   if sym.name in ("$t", "$d", "$a") or sym.name.startswith(("$t.", "$d.")))
    ranges = []
    for (addr, kind), nxt in zip(marks, marks[1:] + [(1 << 32, "$d")]):
        if kind == "$t":
            ranges.append((addr, nxt[0]))
    return ranges


def peripheral_constants(elf: Path) -> set[int]:
    """Every aligned 32-bit word in the image's data and literal pools that points into the
    APB peripherals (0x40000000-0x4006ffff), SIO or the PPB's SCS: the addresses the
    firmware's register accesses are built from."""
    found = set()
    with open(elf, "rb") as f:
        image = ELFFile(f)
        code = _code_ranges(image)
        for sec in image.iter_sections():
            if sec["sh_type"] != "SHT_PROGBITS" or not sec["sh_flags"] & 0x2:
                continue
            data = sec.data()
            base = sec["sh_addr"]
            for i, (word,) in enumerate(struct.iter_unpack("<I", data[:len(data) // 4 * 4])):
                if word % 4 == 0 and (0x40000000 <= word < 0x40070000
                                      or 0xD0000000 <= word < 0xD0000200
                                      or 0xE000E000 <= word < 0xE000F000):
                    addr = base + 4 * i
                    if any(a <= addr < b for a, b in code):
                        continue
                    found.add(word)
    return found


def test_repl_covers_every_peripheral_address_in_the_firmware(image):
    regions = repl_regions()
    words = peripheral_constants(image.elf)
    assert words, "no peripheral addresses found in the image"
    missing = sorted(w for w in words if not any(a <= w < b for a, b, _ in regions))
    assert not missing, [hex(w) for w in missing]


def test_repl_covers_the_header_bases_and_memories():
    regions = repl_regions()
    header = (REPO / "firmware/board/rp2040/hardware_base.h").read_text()
    bases = {m.group(1): int(m.group(2), 16)
             for m in re.finditer(r"#define (\w+_BASE)\s+(0x[0-9a-fA-F]+)u", header)}
    assert bases
    for name, addr in bases.items():
        probe = addr + 0xE010 if name == "PPB_BASE" else addr  # PPB: SysTick
        assert any(a <= probe < b for a, b, _ in regions), name
    names = {n for _, _, n in regions}
    assert {"flash", "sram", "uart0", "nvic", "resets", "clocks", "xosc", "pll_sys"} <= names
    assert "cortex-m0+" in REPL and "systickFrequency: 125000000" in REPL


def test_resc_loads_blobs_at_the_documented_offsets_and_references_existing_files():
    for ref in re.findall(r"@((?:emulation|models)/[\w./]+\w)", RESC):
        assert (REPO / ref).exists(), ref
    offsets = dict(re.findall(r"LoadBinary \$(\w+) (0x[0-9A-Fa-f]+)", RESC))
    assert {k: int(v, 16) for k, v in offsets.items()} == {
        "config": blob.CONFIG_ADDR, "model": blob.MODEL_ADDR, "dataset": blob.DATASET_ADDR}
    assert "VectorTableOffset 0x10000100" in RESC and "CreateFileBackend $uart_log" in RESC


def test_generated_script_sets_variables_then_includes(tmp_path):
    text = R.script(tmp_path / "main.elf", {"model": tmp_path / "m.bin"}, tmp_path / "u.log")
    lines = text.splitlines()
    assert lines[1] == f"$elf=@{tmp_path / 'main.elf'}" and lines[-1] == "start"
    assert f"include @{R.RENODE_DIR / 'priot.resc'}" in lines


def test_recorded_renode_uart_log_parses():
    report = Report.from_lines(LOG.read_text().splitlines())
    assert report.status == "ok" and set(report.evals) == {"frozen", "before", "after"}


def test_without_renode_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(R, "find_renode", lambda: None)
    ok, why = RenodeBackend().available()
    assert not ok and "renode-run" in why and "rp2040js" in why
    with pytest.raises(EmulatorUnavailable):
        RenodeBackend().run(tmp_path / "x.bin", {}, timeout_s=1)


def fake_renode(tmp_path, behaviour: str = "talk") -> str:
    """A stand-in `renode` that behaves as the real one where it matters to the backend:
    it runs the -e script through the strict monitor reader (a line Renode rejects stops
    the script, so the machine never starts), writes the recorded UART log once `start`
    ran, answers `cpu SaveAllOpcodesCounters` and `cpu ExecutedInstructions`, and quits
    at `quit` or at the end of its standard input, as `renode --console` does."""
    exe = tmp_path / "renode"
    exe.write_text(f"""#!{sys.executable}
import os, sys, threading, time
from pathlib import Path
sys.path.insert(0, {str(REPO / 'tests')!r})
import renode_monitor as RM
COUNTS = {FAKE_COUNTS!r}
session = RM.Session(cwd=Path.cwd())
def console():
    for line in sys.stdin:
        line = line.strip()
        if line == "quit":
            break
        if line.startswith("cpu SaveAllOpcodesCounters @"):
            with open(line.split("@", 1)[1], "w") as f:
                f.writelines(f"{{k}};{{v}}\\n" for k, v in COUNTS.items())
        elif line == "cpu ExecutedInstructions":
            print("(priot) 0x%016X" % sum(COUNTS.values()), flush=True)
    os._exit(0)   # end of standard input: Renode quits
threading.Thread(target=console, daemon=True).start()
try:
    RM.run_line(sys.argv[-1], session, Path.cwd())
    started = "start" in session.commands
except RM.MonitorError as exc:
    print("There was an error executing command:", exc, flush=True)
    started = False
if started and {behaviour!r} == "talk":
    with open(session.variables["uart_log"], "w", newline="") as f:
        for line in open({str(LOG)!r}, newline=""):
            f.write(line); f.flush(); time.sleep(0.01)
time.sleep(60)
""")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(exe)


FAKE_COUNTS = {"other": 700, "load_store_immediate": 200, "b_cond": 100, "push_f0": 10}
BLOBS = {blob.CONFIG_ADDR: b"c", blob.MODEL_ADDR: b"m", blob.DATASET_ADDR: b"d"}


def test_backend_follows_the_uart_log_and_stops_renode(monkeypatch, tmp_path, image):
    monkeypatch.setattr(R, "find_renode", lambda: fake_renode(tmp_path, "talk"))
    run = RenodeBackend().run(image.bin, BLOBS, timeout_s=30)
    assert run.lines[-1].startswith("PRIOT DONE") and run.backend == "renode"
    assert Report.from_lines(run.lines).status == "ok"


def test_backend_reports_instructions_and_a_cycle_estimate(monkeypatch, tmp_path, image):
    monkeypatch.setattr(R, "find_renode", lambda: fake_renode(tmp_path, "talk"))
    run = RenodeBackend().run(image.bin, BLOBS, timeout_s=30)
    assert run.instructions == sum(FAKE_COUNTS.values()) == run.cycle_estimate.instructions
    # 700 x 1 + 200 x 2 + 100 x (1 + taken fraction) + 10 x (1 + 4 registers)
    assert run.cycle_estimate.cycles == 700 + 400 + 100 + round(
        100 * m0plus_cycles.DEFAULT_TAKEN_FRACTION) + 50 == run.emulated_cycles
    assert (run.cycle_estimate.cycles_low, run.cycle_estimate.cycles_high) == (1250, 1350)
    assert any("instruction counts" in n for n in run.notes)


def test_stand_in_quits_at_the_end_of_standard_input_like_renode(tmp_path, image):
    """What broke `invoke emulate --backend renode`: with stdin at end of file Renode quits
    before the firmware is done; the backend must keep it open."""
    resc = tmp_path / "run.resc"
    resc.write_text(R.script(image.elf, {}, tmp_path / "uart0.log"))
    done = subprocess.run([fake_renode(tmp_path), "--console", "-e", f"include @{resc}"],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert done.returncode == 0
    log = tmp_path / "uart0.log"
    assert not log.exists() or "PRIOT DONE" not in log.read_text()


def test_stand_in_rejects_a_double_slash_comment_as_renode_does(tmp_path, monkeypatch, image):
    bad = tmp_path / "bad.resc"
    bad.write_text((REPO / "emulation/renode/priot.resc").read_text()
                   + "// a C-style comment\n")
    monkeypatch.setattr(R, "RENODE_DIR", tmp_path)
    (tmp_path / "priot.resc").write_text(bad.read_text())
    (tmp_path / "rp2040.repl").write_text(REPL)
    monkeypatch.setattr(R, "find_renode", lambda: fake_renode(tmp_path, "talk"))
    with pytest.raises(EmulatorTimeout):
        RenodeBackend().run(image.bin, BLOBS, timeout_s=3)


def test_backend_times_out_on_a_silent_renode(monkeypatch, tmp_path, image):
    monkeypatch.setattr(R, "find_renode", lambda: fake_renode(tmp_path, "silent"))
    with pytest.raises(EmulatorTimeout):
        RenodeBackend().run(image.bin, {blob.MODEL_ADDR: b"m"}, timeout_s=2)


RESC_FILES = sorted((REPO / "emulation/renode").glob("*.resc"))


@pytest.mark.parametrize("path", RESC_FILES, ids=lambda p: p.name)
def test_every_monitor_line_of_the_resc_files_is_one_renode_accepts(path):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            RM.check_line(line)
        except RM.MonitorError as exc:
            pytest.fail(f"{path.name}:{number}: {exc}")


def test_the_monitor_reader_rejects_what_renode_rejects():
    for line in ("// comment", "sysbus LoadELF build/x.elf", "cpu Foo 1", "includ @x"):
        with pytest.raises(RM.MonitorError):
            RM.check_line(line)


def test_generated_and_after_run_commands_are_monitor_lines(tmp_path):
    text = R.script(tmp_path / "main.elf", {"model": tmp_path / "m.bin"}, tmp_path / "u.log")
    for line in text.splitlines() + R.after_run_commands(tmp_path / "c.txt").splitlines():
        RM.check_line(line)


@pytest.mark.parametrize("folder", ["repo", "elsewhere"])
def test_priot_resc_finds_its_files_from_any_folder(folder, tmp_path):
    """Its default paths are relative to the script ($ORIGIN), not to Renode's working
    directory: `include @.../priot.resc` works from any folder."""
    cwd = REPO if folder == "repo" else tmp_path
    session = RM.run_script(REPO / "emulation/renode/priot.resc", RM.Session(cwd=cwd))
    assert (REPO / "emulation/renode/rp2040.repl").resolve() in session.files
    for name in ("elf", "config", "model", "dataset", "uart_log"):
        assert Path(session.variables[name]).is_relative_to(REPO / "build"), name


def test_opcode_counting_script_matches_the_cycle_table(tmp_path):
    fresh = tmp_path / "m0plus_opcodes.resc"
    m0plus_cycles.write_monitor_script(fresh)
    assert (REPO / "emulation/renode/m0plus_opcodes.resc").read_text() == fresh.read_text(), \
        "regenerate: python -c 'from priot.device.emulator import m0plus_cycles as m; from " \
        "pathlib import Path; m.write_monitor_script(Path(\"emulation/renode/" \
        "m0plus_opcodes.resc\"))'"


def test_renode_test_is_given_the_suite_file():
    suite = R.ROBOT_SUITE
    assert suite.is_file() and suite.suffix == ".robot"
    argv = R.renode_test_command("renode-test", Path("a.elf"), Path("blobs"), Path("out"))
    assert argv[-1] == str(suite) and "--results-dir" in argv


def test_executed_instructions_are_read_from_the_console():
    assert R.executed_instructions("(priot) cpu ExecutedInstructions\r\n"
                                   "0x00000000075BCD15\r\n(priot) ") == 123456789
    assert R.executed_instructions("(priot) \r\n") is None


def test_the_report_shows_renode_figures_as_instructions_with_a_cycle_estimate():
    from priot.pipeline import Summary
    from priot.settings import RunSettings

    est = m0plus_cycles.estimate({"other": 900, "b_cond": 100}).as_dict()
    memory = dict.fromkeys(("flash_firmware", "sram_static", "model_blob", "dataset_blob",
                            "arena_used", "arena_size", "stack_peak", "stack_size",
                            "score_bytes"), 1)
    report = Report.from_lines(LOG.read_text().splitlines())
    summary = Summary(RunSettings(backend="renode"), report, memory, backend="renode",
                      emulator={"instructions": 1000, "cycles": est["cycles"], "wall_s": 1.0,
                                "systick_counts_instructions": True, "cycle_estimate": est,
                                "notes": ["Renode's SysTick counts instructions"]})
    text = summary.format()
    assert "SysTick counts instructions" in text
    per_sample = report.cycles_per_train_sample
    assert (f"{per_sample:14,.0f} instructions ~ "
            f"{per_sample * est['cycles_per_instruction']:14,.0f} cycles") in text
    assert "estimated from opcode counts" in text
