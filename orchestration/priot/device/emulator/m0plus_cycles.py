"""Cortex-M0+ cycles from executed-opcode counts: how Renode runs get cycle figures.

Renode advances virtual time per executed instruction, so the firmware's SysTick figures
under Renode are instruction counts. Renode can also count executed opcodes
(``cpu EnableOpcodesCounting true`` with patterns installed by
``cpu InstallOpcodeCounterPattern "name" "bits"``; tlib matches the first halfword of every
executed Thumb instruction against the patterns in installation order, first match wins,
and counts it once). With one pattern per instruction class and that class's cost, the
counts give the run's cycles.

The costs are the ones rp2040js charges (so that both backends report comparable figures),
written out from its ``executeInstruction``: 1 cycle, plus

* loads and stores 2 (rp2040js: 1 + 1 for memory; 4/5 for APB registers and 1 for SIO,
  which a count cannot tell apart: peripheral accesses are rare and outside timed loops);
* LDM/STM/PUSH 1 + the number of low registers in the list; POP also + 2 with PC;
* B 2, BL (and the other 32-bit M0+ instructions: MSR, MRS, DMB, DSB, ISB) 3, BX/BLX 2,
  ADD/MOV to PC 2, WFE/WFI 2;
* a conditional branch B<cond> 2 when taken, 1 when not: **a count cannot tell which**.
  The estimate takes a taken fraction (default ``DEFAULT_TAKEN_FRACTION``, measured on the
  PRIOT firmware in rp2040js, see docs/ARCHITECTURE.md) and gives the bounds of all
  not-taken / all taken beside it.

The register-list instructions get one pattern per list (256 each; POP 512 with its P
bit), 1,295 patterns in all, under tlib's limit of 2,048 counters.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Fraction of executed conditional branches that were taken, measured in rp2040js on the
# default PRIOT session (tests/test_m0plus_cycles.py measures it again and checks the
# estimate against rp2040js's cycles).
DEFAULT_TAKEN_FRACTION = 0.62
CONDITIONAL_BRANCH = "b_cond"


@dataclass(frozen=True)
class OpcodeClass:
    name: str      # counter name in Renode (no spaces)
    pattern: str   # 16 characters, most significant bit first: 0, 1 or x (any)
    cycles: int    # cost; for b_cond the not-taken cost (taken: + 1)

    def matches(self, opcode: int) -> bool:
        value, mask = _value_mask(self.pattern)
        return opcode & mask == value


def _value_mask(pattern: str) -> tuple[int, int]:
    value = mask = 0
    for ch in pattern:
        value, mask = value << 1, mask << 1
        if ch in "01":
            mask |= 1
            value |= ch == "1"
    return value, mask


def _register_lists(name: str, prefix: str, base: int) -> list[OpcodeClass]:
    return [OpcodeClass(f"{name}_{lst:02x}", prefix + f"{lst:08b}", base + bin(lst).count("1"))
            for lst in range(256)]


@lru_cache(maxsize=1)
def opcode_classes() -> tuple[OpcodeClass, ...]:
    """Every class in matching order (specific before general), the last one matching all."""
    classes = [
        OpcodeClass("wide", "11110xxxxxxxxxxx", 3),          # BL, MSR, MRS, DMB, DSB, ISB
        OpcodeClass("b", "11100xxxxxxxxxxx", 2),
        OpcodeClass(CONDITIONAL_BRANCH, "11010xxxxxxxxxxx", 1),  # cond 0000-0111
        OpcodeClass(CONDITIONAL_BRANCH + "_8", "110110xxxxxxxxxx", 1),  # 1000-1011
        OpcodeClass(CONDITIONAL_BRANCH + "_c", "1101110xxxxxxxxx", 1),  # 1100-1101
        OpcodeClass("bx_blx", "01000111xxxxx000", 2),
        OpcodeClass("add_pc", "010001001xxxx111", 2),
        OpcodeClass("mov_pc", "010001101xxxx111", 2),
        OpcodeClass("ldr_literal", "01001xxxxxxxxxxx", 2),
        OpcodeClass("load_store_register", "0101xxxxxxxxxxxx", 2),
        OpcodeClass("load_store_immediate", "011xxxxxxxxxxxxx", 2),
        OpcodeClass("load_store_halfword", "1000xxxxxxxxxxxx", 2),
        OpcodeClass("load_store_sp", "1001xxxxxxxxxxxx", 2),
        OpcodeClass("wfe_wfi", "10111111001x0000", 2),
    ]
    classes += _register_lists("ldm", "11001xxx", 1)
    classes += _register_lists("stm", "11000xxx", 1)
    classes += _register_lists("push", "1011010x", 1)
    classes += _register_lists("pop", "10111100", 1)
    classes += _register_lists("pop_pc", "10111101", 3)
    classes.append(OpcodeClass("other", "xxxxxxxxxxxxxxxx", 1))
    return tuple(classes)


def is_conditional_branch(name: str) -> bool:
    return name.startswith(CONDITIONAL_BRANCH)


@lru_cache(maxsize=1)
def _class_of_opcode() -> tuple[int, ...]:
    """Index of the first matching class for each of the 65,536 first halfwords."""
    masks = [_value_mask(c.pattern) for c in opcode_classes()]
    return tuple(next(i for i, (v, m) in enumerate(masks) if op & m == v)
                 for op in range(1 << 16))


def classify(opcode: int) -> str:
    """The class Renode's first-match counting puts this first halfword in."""
    return opcode_classes()[_class_of_opcode()[opcode & 0xFFFF]].name


def counts_from_histogram(histogram: dict[int, int]) -> dict[str, int]:
    """Per-class counts, as Renode's counters would read, from a per-opcode histogram."""
    table, classes = _class_of_opcode(), opcode_classes()
    counts: dict[str, int] = {}
    for opcode, n in histogram.items():
        name = classes[table[opcode & 0xFFFF]].name
        counts[name] = counts.get(name, 0) + n
    return counts


def monitor_commands(cpu: str = "cpu") -> list[str]:
    """Renode monitor lines that install every class's counter and enable counting."""
    lines = [f'{cpu} InstallOpcodeCounterPattern "{c.name}" "{c.pattern}"'
             for c in opcode_classes()]
    return lines + [f"{cpu} EnableOpcodesCounting true"]


def parse_saved_counters(text: str) -> dict[str, int]:
    """``cpu SaveAllOpcodesCounters @file`` output: one ``name;count`` line per class."""
    known = {c.name for c in opcode_classes()}
    counts = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.strip().partition(";")
        if not sep or name not in known or not value.strip().isdigit():
            raise ValueError(f"opcode counters line {number}: {line!r} is not "
                             "'<known class>;<count>'")
        counts[name] = int(value)
    return counts


@dataclass(frozen=True)
class CycleEstimate:
    instructions: int           # executed instructions (sum of the class counts)
    cycles: int                 # with the taken fraction below
    cycles_low: int             # every conditional branch not taken
    cycles_high: int            # every conditional branch taken
    conditional_branches: int
    taken_fraction: float

    @property
    def cycles_per_instruction(self) -> float:
        return self.cycles / max(1, self.instructions)

    def as_dict(self) -> dict:
        return {"instructions": self.instructions, "cycles": self.cycles,
                "cycles_low": self.cycles_low, "cycles_high": self.cycles_high,
                "conditional_branches": self.conditional_branches,
                "taken_fraction": self.taken_fraction,
                "cycles_per_instruction": round(self.cycles_per_instruction, 4)}


def estimate(counts: dict[str, int], taken_fraction: float = DEFAULT_TAKEN_FRACTION
             ) -> CycleEstimate:
    """M0+ cycles (rp2040js's costs) of a run from its per-class opcode counts."""
    if not 0.0 <= taken_fraction <= 1.0:
        raise ValueError(f"taken fraction {taken_fraction} is not between 0 and 1")
    cost = {c.name: c.cycles for c in opcode_classes()}
    unknown = sorted(set(counts) - set(cost))
    if unknown:
        raise ValueError(f"unknown opcode classes {unknown[:5]}: counts from another table?")
    base = sum(cost[name] * n for name, n in counts.items())
    branches = sum(n for name, n in counts.items() if is_conditional_branch(name))
    return CycleEstimate(instructions=sum(counts.values()),
                         cycles=base + round(branches * taken_fraction),
                         cycles_low=base, cycles_high=base + branches,
                         conditional_branches=branches, taken_fraction=taken_fraction)


def write_monitor_script(path: Path) -> None:
    """emulation/renode/m0plus_opcodes.resc (kept in step with this table by a test)."""
    header = ["# Count executed Cortex-M0+ opcodes by cycle class (generated by",
              "# priot.emulator.m0plus_cycles.write_monitor_script; do not edit).",
              "# Include after priot.resc and before 'start'; after the run,",
              "#   cpu SaveAllOpcodesCounters @counts.txt",
              "# and  python -m priot.emulator.m0plus_cycles counts.txt  gives M0+ cycles."]
    path.write_text("\n".join(header + monitor_commands()) + "\n")


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m priot.emulator.m0plus_cycles",
                                 description="M0+ cycles from Renode's saved opcode counters")
    ap.add_argument("counters", type=Path, help="file of cpu SaveAllOpcodesCounters")
    ap.add_argument("--taken-fraction", type=float, default=DEFAULT_TAKEN_FRACTION,
                    help=f"taken conditional branches (default {DEFAULT_TAKEN_FRACTION})")
    a = ap.parse_args(argv)
    try:
        est = estimate(parse_saved_counters(a.counters.read_text()), a.taken_fraction)
    except (OSError, ValueError) as exc:
        ap.exit(2, f"error: {exc}\n")
    print(f"instructions {est.instructions:,}; M0+ cycles {est.cycles:,} "
          f"(taken fraction {est.taken_fraction:g}; bounds {est.cycles_low:,}.."
          f"{est.cycles_high:,}); {est.cycles_per_instruction:.4f} cycles/instruction")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
