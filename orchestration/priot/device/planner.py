"""Memory planning: will a model + method fit the Pico before anything is built or run?

Flash: the firmware image (from the linked ELF) and each blob against its region
(docs/BLOBS.md). SRAM: the firmware's static SRAM (code copied to RAM, .data, .bss) is
taken from the ELF; the training session's buffers come from a fixed static arena whose
capacity is the ELF's ``arena`` symbol, and whose need is computed by the C engine itself
(``priot_host_arena_need``, the same function the firmware checks), so the plan and the
device cannot disagree. The stack is reserved separately (SCRATCH_X/Y).

``verify`` compares a plan with what the firmware measured (MEM record): the arena bytes
used must equal the plan, the stack peak must stay below the reserved stack.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.elffile import ELFFile

from ..core import blob, methods, native
from .firmware import elf_memory

SRAM_TOTAL = 264 * 1024
ARENA_SYMBOL = "arena"


class PlanError(ValueError):
    """The configuration does not fit; the message says by how much and what to change."""


def arena_capacity(elf: Path) -> int:
    """Size of the firmware's static session arena (its symbol's st_size)."""
    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        sizes = [s["st_size"] for s in symtab.iter_symbols() if s.name == ARENA_SYMBOL]
    if len(sizes) != 1:
        raise PlanError(f"{elf}: expected one '{ARENA_SYMBOL}' symbol, found {len(sizes)}")
    return int(sizes[0])


@dataclass
class MemoryPlan:
    flash: dict[str, tuple[int, int]]   # item -> (bytes, region capacity)
    arena_need: int
    arena_capacity: int
    per_edge_bytes: int                 # masked-weight copy + scores, part of arena_need
    sram_static: int                    # incl. the arena array
    stack_size: int
    n_edges: int
    problems: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not self.problems

    def format(self) -> str:
        kib = lambda b: f"{b / 1024:8.1f} KiB"  # noqa: E731
        lines = ["memory plan", "  flash:"]
        for name, (used, cap) in self.flash.items():
            lines.append(f"    {name:<16}{kib(used)} of {kib(cap)}")
        lines += [
            "  SRAM:",
            f"    static (code in RAM, data, bss, arena array) {kib(self.sram_static)}",
            f"    session arena need   {kib(self.arena_need)} of {kib(self.arena_capacity)}"
            f" (per-edge state {kib(self.per_edge_bytes)} for {self.n_edges:,} edges)",
            f"    stack (reserved)     {kib(self.stack_size)}",
            f"    total                {kib(self.sram_static + self.stack_size)} of "
            f"{kib(SRAM_TOTAL)}",
        ]
        lines += [f"  DOES NOT FIT: {p}" for p in self.problems] or ["  fits"]
        return "\n".join(lines)

    def require_fit(self) -> None:
        if self.problems:
            raise PlanError("; ".join(self.problems))


def plan(model_blob: bytes, dataset_blob: bytes | int, config_blob: bytes, elf: Path
         ) -> MemoryPlan:
    """The plan of these blobs (dataset_blob: the blob, or only its size in bytes)."""
    mem = elf_memory(elf)
    model = blob.decode_model(model_blob)
    need = native.arena_need(model_blob, config_blob)
    if blob.decode_config(config_blob).mode == 1:   # stream mode: + the frame buffer
        need = (need + 3) // 4 * 4 + stream_buffer_bytes(blob.decode_model(model_blob))
    cap = arena_capacity(elf)
    dataset_bytes = dataset_blob if isinstance(dataset_blob, int) else len(dataset_blob)
    flash = {"firmware": (mem["flash_bytes"], mem["flash_max"]),
             "run config": (len(config_blob), blob.CONFIG_MAX),
             "model blob": (len(model_blob), blob.MODEL_MAX),
             "dataset blob": (dataset_bytes, blob.DATASET_MAX)}
    cfg = blob.decode_config(config_blob)
    method = methods.by_code(cfg.method)
    per_edge = method.state_bytes([l.n_edges for l in model.layers], cfg)
    p = MemoryPlan(flash, need, cap, per_edge, mem["sram_bytes"], mem["stack_bytes"],
                   model.n_edges)
    for name, (used, region) in flash.items():
        if used > region:
            hint = {"dataset blob": "use fewer --n-train/--n-test samples",
                    "model blob": "use a narrower model (e.g. a smaller VGG11 width)"}.get(
                        name, "shrink the firmware")
            p.problems.append(f"{name} needs {used:,} bytes, its flash region holds "
                              f"{region:,} ({used - region:,} too many): {hint}")
    if cfg.persist & 2:
        saved = blob.STATE_HEADER + method.saved_state_bytes(
            [l.n_edges for l in model.layers], cfg)
        p.flash["saved state (one slot)"] = (saved, blob.STATE_SLOT)
        if saved > blob.STATE_SLOT:
            p.problems.append(
                f"the saved state needs {saved:,} bytes, a flash slot holds "
                f"{blob.STATE_SLOT:,} ({saved - blob.STATE_SLOT:,} too many): drop "
                "--save-state, or use a method that trains fewer values (PRIOT-S with a "
                "smaller scored fraction)")
    if need > cap:
        p.problems.append(
            f"the session needs {need:,} bytes of SRAM arena, the firmware has {cap:,} "
            f"({need - cap:,} too many; per-edge state is {p.per_edge_bytes:,} bytes for "
            f"{model.n_edges:,} edges{_other_state(method, need, p.per_edge_bytes)}): use a "
            "narrower model, or a method that keeps state for fewer edges (PRIOT-S with a "
            "smaller scored fraction)")
    return p


def stream_buffer_bytes(model) -> int:
    """The stream mode's frame buffer (C priot_stream_buffer_bytes): a COBS-encoded TRAIN
    request."""
    raw = 2 + 1 + model.in_c * model.in_h * model.in_w + 4
    return raw + raw // 254 + 2


def _other_state(method: methods.Method, need: int, per_edge: int) -> str:
    if method.other_state:
        return (f"; {method.label} adds {method.other_state}, part of the rest of the "
                f"{need - per_edge:,} bytes")
    return ""


def verify(p: MemoryPlan, mem_record: dict) -> list[str]:
    """Differences between a plan and the firmware's MEM record (empty: they agree)."""
    issues = []
    if mem_record["arena_used"] != p.arena_need:
        issues.append(f"arena used {mem_record['arena_used']:,} != planned {p.arena_need:,}")
    if mem_record["arena_size"] != p.arena_capacity:
        issues.append(f"arena size {mem_record['arena_size']:,} != ELF {p.arena_capacity:,}")
    if not mem_record["stack_peak"] < mem_record["stack_size"] == p.stack_size:
        issues.append(f"stack peak {mem_record['stack_peak']:,} of {mem_record['stack_size']:,}"
                      f" (reserved {p.stack_size:,})")
    return issues
