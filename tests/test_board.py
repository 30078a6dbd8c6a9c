"""RP2040 board layer: build of the selftest image, its layout, and runs in rp2040js."""
import re
import sys
import time

import pytest

import priot.device.emulator.rp2040js as rp2040js_backend
from priot.device import firmware, toolchain
from priot.core.blob import CONFIG_ADDR, FIRMWARE_MAX, FLASH_BASE
from priot.device.emulator import (EmulatorError, EmulatorTimeout, FirmwareFault, Report,
                                   Rp2040jsBackend, parse_line)

SRAM = range(0x20000000, 0x20040000)           # main SRAM (the stack lives above it)
FLASH = range(FLASH_BASE, FLASH_BASE + FIRMWARE_MAX)
STACK_TOP = 0x20042000
CLK_SYS_HZ = 125_000_000
LOOP_CYCLES_PER_ITERATION = 3  # subs (1) + taken bne (2) on the Cortex-M0+
RUN_TIMEOUT_S = 30

PROBE_LIB = """
#include <stdint.h>
static const uint32_t probe_table[8] = {3, 1, 4, 1, 5, 9, 2, 6};
uint32_t probe_sum(uint32_t n)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        sum += probe_table[i % 8] * (i + 1);
    }
    return sum / 7;
}
"""
PROBE_APP = """
#include "board.h"
#include "lineout.h"
uint32_t probe_sum(uint32_t n);
int main(void)
{
    board_init();
    out_begin("PROBE"); out_u32("sum", probe_sum(1000)); out_end();
    out_begin("DONE"); out_str("status", "ok"); out_end();
    board_halt();
}
"""


def probe_sum(n):
    table = [3, 1, 4, 1, 5, 9, 2, 6]
    return sum(table[i % 8] * (i + 1) for i in range(n)) // 7


@pytest.fixture(scope="session")
def selftest(arm_toolchain, tmp_path_factory):
    return firmware.build_firmware(tmp_path_factory.mktemp("fw"), app="selftest")


@pytest.fixture(scope="session")
def symbols(selftest):
    return firmware.elf_symbols(selftest.elf)


@pytest.fixture(scope="session")
def selftest_run(selftest, backend):
    streamed = []
    run = backend.run(selftest.bin, {}, timeout_s=RUN_TIMEOUT_S, on_line=streamed.append)
    assert streamed == run.lines
    return run


def selftest_record(run):
    return next(r for r in map(parse_line, run.lines) if r is not None and r.name == "SELFTEST")


# ---------------------------------------------------------------- tools


def test_missing_toolchain_names_the_install_command(monkeypatch):
    monkeypatch.setattr(toolchain, "find_tool", lambda name: None)
    with pytest.raises(toolchain.ToolchainError, match="apt-get install -y --no-install-recommends "
                       "gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi"):
        toolchain.ensure_arm_toolchain(install=False)


def test_runner_that_ignores_its_timeout_is_killed(monkeypatch):
    monkeypatch.setattr(rp2040js_backend, "KILL_MARGIN_S", 0.5)
    started = time.monotonic()
    with pytest.raises(EmulatorTimeout, match="killed"):
        rp2040js_backend.Rp2040jsBackend()._execute(
            [sys.executable, "-c", "print('PRIOT BOOT fw=1', flush=True); "
             "import time; time.sleep(60)"], 0.5, None)
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------- image


def test_crc32_mpeg2_check_value():
    assert firmware.crc32_mpeg2(b"123456789") == 0x0376E6E7


def test_boot2_checksum_is_valid(selftest):
    firmware.check_boot2(selftest.bin)
    corrupted = selftest.bin.with_suffix(".corrupt")
    data = bytearray(selftest.bin.read_bytes())
    data[10] ^= 0xFF
    corrupted.write_bytes(bytes(data))
    with pytest.raises(firmware.BuildError, match="boot2 CRC"):
        firmware.check_boot2(corrupted)


def test_vector_table_follows_boot2(selftest, symbols):
    image = selftest.bin.read_bytes()
    initial_sp = int.from_bytes(image[0x100:0x104], "little")
    reset = int.from_bytes(image[0x104:0x108], "little")
    assert initial_sp == STACK_TOP == symbols["__stack_top"]
    assert reset == symbols["Reset_Handler"] | 1  # Thumb


def test_no_floating_point_routines(selftest):
    assert firmware.floating_point_symbols(selftest.elf) == []


def test_floating_point_use_fails_the_build(arm_toolchain, tmp_path):
    (tmp_path / "floaty.c").write_text(
        "#include \"board.h\"\nvolatile float f = 1.5f;\n"
        "int main(void) { f = f * 2.5f; board_halt(); }\n")
    with pytest.raises(firmware.BuildError, match="floating-point"):
        firmware.build_firmware(tmp_path / "build", app="floaty", app_dir=tmp_path)


def test_memory_layout(selftest, symbols):
    memory = firmware.elf_memory(selftest.elf)
    assert memory["flash_bytes"] == selftest.bin.stat().st_size <= FIRMWARE_MAX
    assert memory["stack_bytes"] == 8192
    assert 0 < memory["sram_bytes"] < len(SRAM)
    assert symbols["__stack_bottom"] == 0x20040000
    # board and app code run from flash; libgcc helpers and .ramfunc code from SRAM
    assert symbols["main"] in FLASH and symbols["Reset_Handler"] in FLASH
    assert symbols["__aeabi_uidiv"] in SRAM
    busy_loop = next(a for name, a in symbols.items() if name.startswith("busy_loop"))
    assert busy_loop in SRAM
    assert symbols["__ramfunc_load"] in FLASH


def test_build_is_incremental(selftest):
    before = selftest.elf.stat().st_mtime_ns
    firmware.build_firmware(selftest.elf.parents[1], app="selftest")
    assert selftest.elf.stat().st_mtime_ns == before


@pytest.fixture(scope="session")
def probe(arm_toolchain, tmp_path_factory):
    """A stand-in kernel library (code + const table) and an app that calls it."""
    root = tmp_path_factory.mktemp("probe")
    (root / "lib").mkdir()
    (root / "lib" / "probe.c").write_text(PROBE_LIB)
    (root / "app").mkdir()
    (root / "app" / "probe_app.c").write_text(PROBE_APP)
    return firmware.build_firmware(root / "build", app="probe_app",
                                   lib_dir=root / "lib", app_dir=root / "app")


def test_library_code_and_rodata_are_linked_into_sram(probe):
    symbols = firmware.elf_symbols(probe.elf)
    assert symbols["probe_sum"] in SRAM
    assert symbols["probe_table"] in SRAM
    assert symbols["main"] in FLASH


# ---------------------------------------------------------------- emulator runs


@pytest.mark.emulator
def test_library_copied_to_sram_runs(probe, backend):
    run = backend.run(probe.bin, {}, timeout_s=RUN_TIMEOUT_S)
    record = next(r for r in map(parse_line, run.lines) if r and r.name == "PROBE")
    assert record.int("sum") == probe_sum(1000)


@pytest.mark.emulator
def test_selftest_boots_at_125_mhz(selftest_run):
    report = Report.from_lines(selftest_run.lines)
    assert report.boot == {"fw": 1, "clk_hz": CLK_SYS_HZ}
    assert selftest_run.status == "done"
    assert selftest_run.clk_sys_hz == CLK_SYS_HZ  # the emulator's own clock tree agrees


@pytest.mark.emulator
def test_busy_loop_cycles_match_cortex_m0plus_timing(selftest_run):
    record = selftest_record(selftest_run)
    expected = LOOP_CYCLES_PER_ITERATION * record.int("loop_iterations")
    assert record.int("loop_cycles") == pytest.approx(expected, rel=0.01)
    # SysTick cycles since board_init vs everything the emulator executed: the
    # difference is the reset handler, clock setup and the printing after the reading.
    since_init = record.int("cycles")
    assert 0 < selftest_run.emulated_cycles - since_init < 100_000


@pytest.mark.emulator
def test_stack_accounting(selftest_run):
    record = selftest_record(selftest_run)
    assert record.int("stack_size") == 8192
    assert 0 < record.int("stack_peak") < 1024


@pytest.mark.emulator
def test_entry_through_boot2(selftest, backend):
    run = Rp2040jsBackend(backend.runner_dir, boot2=True).run(
        selftest.bin, {}, timeout_s=RUN_TIMEOUT_S)
    assert Report.from_lines(run.lines).boot["clk_hz"] == CLK_SYS_HZ


@pytest.mark.emulator
def test_fault_mode_reports_hardfault(selftest, symbols, backend):
    with pytest.raises(FirmwareFault) as err:
        backend.run(selftest.bin, {CONFIG_ADDR: b"FAUT"}, timeout_s=RUN_TIMEOUT_S)
    assert symbols["main"] <= err.value.pc < symbols["main"] + 0x200  # the udf in main
    assert err.value.lines[-1] == "PRIOT DONE status=fault"


@pytest.mark.emulator
def test_stack_overflow_is_detected_and_reported(selftest, backend):
    with pytest.raises(FirmwareFault) as err:
        backend.run(selftest.bin, {CONFIG_ADDR: b"DEEP"}, timeout_s=RUN_TIMEOUT_S)
    assert err.value.reason == "stack_overflow" and "stack overflow" in str(err.value)
    assert err.value.lines[-1] == "PRIOT DONE status=fault"


@pytest.mark.emulator
def test_hang_mode_times_out(selftest, backend):
    started = time.monotonic()
    with pytest.raises(EmulatorTimeout) as err:
        backend.run(selftest.bin, {CONFIG_ADDR: b"HANG"}, timeout_s=3)
    assert time.monotonic() - started < 3 + 5
    assert err.value.lines[0].startswith("PRIOT BOOT")


@pytest.mark.emulator
def test_cycle_limit_stops_the_run(selftest, backend):
    with pytest.raises(EmulatorTimeout, match="cycle_limit"):
        backend.run(selftest.bin, {}, timeout_s=RUN_TIMEOUT_S, max_cycles=100_000)


@pytest.mark.emulator
@pytest.mark.parametrize("blobs, message", [
    ({CONFIG_ADDR: bytes(8), CONFIG_ADDR + 4: b"FAUT"}, "overlaps blob"),
    ({FLASH_BASE + 0x100: b"FAUT"}, "overlaps firmware"),
    ({FLASH_BASE + 2 * 1024 * 1024 - 2: b"FAUT"}, "outside the 2 MiB flash"),
])
def test_bad_blob_placement_is_rejected(selftest, backend, blobs, message):
    with pytest.raises(EmulatorError, match=re.escape(message)) as err:
        backend.run(selftest.bin, blobs, timeout_s=RUN_TIMEOUT_S)
    assert not isinstance(err.value, EmulatorTimeout)
