"""The Renode backend, checked without Renode: the platform covers every peripheral address
the firmware touches, the scripts reference what exists, a recorded UART log parses, and
the backend's process handling works against a stand-in `renode` executable."""
import re
import stat
import struct
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from priot.core import blob
from priot.device import firmware
from priot.device.emulator import (EmulatorTimeout, EmulatorUnavailable, RenodeBackend,
                                   Report)
from priot.device.emulator import renode as R

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
    assert lines[0] == f"$elf=@{tmp_path / 'main.elf'}" and lines[-1] == "start"
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


def fake_renode(tmp_path, behaviour: str) -> str:
    """A stand-in `renode` that reads $uart_log from the generated script and writes the
    recorded log into it (or stays silent)."""
    exe = tmp_path / "renode"
    exe.write_text(f"""#!{sys.executable}
import re, sys, time
resc = open(sys.argv[-1].split('@', 1)[1]).read()
log = re.search(r"\\$uart_log=@(.*)", resc).group(1)
if {behaviour!r} == "silent":
    time.sleep(60)
with open(log, "w", newline="") as f:
    for line in open({str(LOG)!r}, newline=""):
        f.write(line); f.flush(); time.sleep(0.01)
time.sleep(60)
""")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(exe)


def test_backend_follows_the_uart_log_and_stops_renode(monkeypatch, tmp_path, image):
    monkeypatch.setattr(R, "find_renode", lambda: fake_renode(tmp_path, "talk"))
    blobs = {blob.CONFIG_ADDR: b"c", blob.MODEL_ADDR: b"m", blob.DATASET_ADDR: b"d"}
    run = RenodeBackend().run(image.bin, blobs, timeout_s=30)
    assert run.lines[-1].startswith("PRIOT DONE") and run.backend == "renode"
    assert Report.from_lines(run.lines).status == "ok"


def test_backend_times_out_on_a_silent_renode(monkeypatch, tmp_path, image):
    monkeypatch.setattr(R, "find_renode", lambda: fake_renode(tmp_path, "silent"))
    with pytest.raises(EmulatorTimeout):
        RenodeBackend().run(image.bin, {blob.MODEL_ADDR: b"m"}, timeout_s=2)
