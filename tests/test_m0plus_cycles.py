"""The M0+ cycle model behind Renode's cycle figures (priot.emulator.m0plus_cycles).

Renode is not installable here, but rp2040js executes the same instructions: run with
``--instruction-clock`` (SysTick then counts instructions, as under Renode) and
``--opcode-histogram``, it yields exactly what Renode's opcode counters and SysTick would
show; the estimate from those must come back to rp2040js's own cycle count."""
import pytest

from priot import pipeline
from priot.device import firmware
from priot.device.emulator import Rp2040jsBackend, Report
from priot.device.emulator import m0plus_cycles as M
from priot.settings import RunSettings


def rp2040js_cost(op: int) -> int:
    """The cycles rp2040js 1.4.1 charges for a first halfword (memory accesses, conditional
    branches not taken), decoded the way its executeInstruction does; an independent
    reading of the same table."""
    low = bin(op & 0xFF).count("1")
    if op >> 11 == 0b11110:
        return 3                                       # BL, MSR, MRS, DMB, DSB, ISB
    if op >> 11 == 0b11100:
        return 2                                       # B
    if op >> 7 in (0b010001110, 0b010001111) and op & 7 == 0:
        return 2                                       # BX, BLX
    if op >> 8 == 0b01000100 and (((op >> 4) & 8) | (op & 7)) == 15:
        return 2                                       # ADD PC, Rm
    if op >> 8 == 0b01000110 and (((op >> 4) & 8) | (op & 7)) == 15:
        return 2                                       # MOV PC, Rm
    if op >> 11 in (0b11001, 0b11000):
        return 1 + low                                 # LDMIA, STMIA
    if op >> 9 == 0b1011110:
        return 1 + low + 2 * ((op >> 8) & 1)           # POP
    if op >> 9 == 0b1011010:
        return 1 + low                                 # PUSH (LR not charged)
    if op in (0xBF20, 0xBF30):
        return 2                                       # WFE, WFI
    if (op >> 11 in (0b01001, 0b01100, 0b01101, 0b01110, 0b01111, 0b10000, 0b10001,
                     0b10010, 0b10011) or op >> 12 == 0b0101):
        return 2                                       # loads and stores
    return 1


def test_every_first_halfword_costs_what_rp2040js_charges():
    cost = {c.name: c.cycles for c in M.opcode_classes()}
    wrong = [hex(op) for op in range(1 << 16) if cost[M.classify(op)] != rp2040js_cost(op)]
    assert not wrong, wrong[:10]


def test_the_table_fits_renode_and_names_are_unique():
    classes = M.opcode_classes()
    assert len(classes) <= 2048  # tlib's MAX_OPCODE_COUNTERS
    assert len({c.name for c in classes}) == len(classes)
    assert all(len(c.pattern) == 16 and set(c.pattern) <= set("01x") for c in classes)
    assert classes[-1].pattern == "x" * 16
    conditional = [op for op in range(1 << 16) if op >> 12 == 0b1101 and (op >> 9) & 7 != 7]
    assert all(M.is_conditional_branch(M.classify(op)) for op in conditional)
    assert M.classify(0xDE00) == M.classify(0xDF00) == "other"  # UDF, SVC


def test_estimate_bounds_and_bad_input():
    est = M.estimate({"other": 10, "b_cond": 4}, taken_fraction=0.5)
    assert (est.cycles_low, est.cycles, est.cycles_high) == (14, 16, 18)
    with pytest.raises(ValueError):
        M.estimate({"nonsense": 1})
    with pytest.raises(ValueError):
        M.estimate({"other": 1}, taken_fraction=1.5)
    with pytest.raises(ValueError, match="line 2"):
        M.parse_saved_counters("other;3\nbogus line\n")


@pytest.mark.emulator
@pytest.mark.slow
def test_estimate_from_renode_style_counts_matches_rp2040js_cycles(backend, arm_toolchain,
                                                                   tmp_path):
    s = RunSettings(n_train=20, n_test=20, build_dir=tmp_path)
    blobs = pipeline.make_blobs(s)
    image = firmware.build_firmware(tmp_path)
    cycles_run = backend.run(image.bin, blobs.at_addresses(), timeout_s=300)
    counted = Rp2040jsBackend(instruction_clock=True, opcode_histogram=True).run(
        image.bin, blobs.at_addresses(), timeout_s=300)
    real, renode_like = Report.from_lines(cycles_run.lines), Report.from_lines(counted.lines)
    assert renode_like.scores_crc == real.scores_crc  # the same program ran

    counts = M.counts_from_histogram(counted.opcode_histogram)
    assert sum(counts.values()) == counted.instructions
    exact = M.estimate(counts, counted.conditional_taken / M.estimate(counts)
                       .conditional_branches)
    default = M.estimate(counts)
    whole_error = exact.cycles / cycles_run.emulated_cycles - 1
    default_error = default.cycles / cycles_run.emulated_cycles - 1
    print(f"\nrp2040js {cycles_run.emulated_cycles:,} cycles; estimate {exact.cycles:,} "
          f"({whole_error:+.4%}) with the measured taken fraction "
          f"{exact.taken_fraction:.3f}, {default_error:+.3%} with the default "
          f"{M.DEFAULT_TAKEN_FRACTION}")
    # only peripheral (APB/SIO) access costs are unknown to the count
    assert abs(whole_error) < 2e-4
    assert abs(default_error) < 0.02
    # the firmware's figures under Renode (instructions) x the run's cycles/instruction
    cpi = default.cycles_per_instruction
    for phase in ("cycles", "forward", "backward", "update", "mask"):
        err = renode_like.train[phase] * cpi / real.train[phase] - 1
        print(f"  train {phase:<8} {real.train[phase]:>12,} cycles, "
              f"estimated {renode_like.train[phase] * cpi:>14,.0f} ({err:+.2%})")
        assert abs(err) < (0.02 if phase == "cycles" else 0.08), phase
