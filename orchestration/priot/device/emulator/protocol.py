"""Parser for the firmware's UART line protocol (docs/PROTOCOL.md).

``parse_line`` turns one ``PRIOT <RECORD> key=value ...`` line into a :class:`Record`;
``Report.from_lines`` checks and summarises a whole run, raising :class:`FirmwareFault` /
:class:`FirmwareReportedError` when the firmware says it failed.
"""
from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from .base import FirmwareFault, FirmwareReportedError, ProtocolError

PREFIX = "PRIOT "
_RECORD_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_DECIMAL = re.compile(r"-?[0-9]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")


@dataclass(frozen=True)
class Record:
    name: str
    fields: dict[str, str]
    line: str = ""

    def text(self, key: str) -> str:
        try:
            return self.fields[key]
        except KeyError:
            raise ProtocolError(f"{self.name} record lacks key {key!r}: {self.line!r}") from None

    def int(self, key: str) -> builtins.int:
        value = self.text(key)
        if not _DECIMAL.fullmatch(value):
            raise ProtocolError(f"{self.name} {key}={value!r} is not a decimal integer: {self.line!r}")
        return builtins.int(value)

    def hex(self, key: str) -> builtins.int:
        value = self.text(key)
        if not _HEX.fullmatch(value):
            raise ProtocolError(f"{self.name} {key}={value!r} is not 0x-prefixed hex: {self.line!r}")
        return builtins.int(value, 16)


def parse_line(line: str) -> Record | None:
    """The record on a protocol line; None for lines that are not protocol lines."""
    line = line.rstrip("\r\n")
    if not line.startswith(PREFIX):
        return None
    name, *tokens = line[len(PREFIX):].split(" ")
    if not _RECORD_NAME.fullmatch(name):
        raise ProtocolError(f"bad record name {name!r}: {line!r}")
    fields: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise ProtocolError(f"token {token!r} is not key=value: {line!r}")
        if key in fields:
            raise ProtocolError(f"key {key!r} appears twice: {line!r}")
        fields[key] = value
    return Record(name, fields, line)


def accuracy(correct: int, total: int) -> float:
    if total <= 0:
        raise ValueError(f"accuracy of {total} samples")
    return correct / total


class Eval(NamedTuple):
    correct: int
    total: int
    cycles: int

    @property
    def accuracy(self) -> float:
        return accuracy(self.correct, self.total)


# key -> type of every record Report understands (docs/PROTOCOL.md)
_KEYS: dict[str, dict[str, str]] = {
    "BOOT": {"fw": "int", "clk_hz": "int"},
    "MODEL": {"layers": "int", "edges": "int", "crc": "hex"},
    "DATA": {"train": "int", "test": "int", "angle": "int"},
    "CONFIG": dict.fromkeys(["method", "score_permille", "grad_rounding", "subset_rule",
                             "last_layer_permille", "keep_permille", "lr_shift", "score_init",
                             "init_shift", "epochs", "seed", "persist", "train", "test"],
                            "int"),
    "EVAL": {"phase": "text", "correct": "int", "total": "int", "cycles": "int"},
    "PROGRESS": {"epoch": "int", "done": "int", "total": "int"},
    "TRAIN": dict.fromkeys(["samples", "cycles", "forward", "loss", "backward", "update", "mask",
                           "scale"], "int"),
    "SCORES": {"crc": "hex"},
    "MEM": dict.fromkeys(["arena_used", "score_bytes", "arena_size", "stack_peak",
                          "stack_size"], "int"),
    "ERROR": {"code": "int", "msg": "text"},
    "FAULT": {"pc": "hex", "lr": "hex", "xpsr": "hex"},
    "DONE": {"status": "text"},
}
# STATE (the saved state, docs/PROTOCOL.md): event and status always; slot, seq, samples,
# bytes and crc when a state was restored, saved or found for another model
_STATE_KEYS = {"slot": "int", "seq": "int", "samples": "int", "bytes": "int", "crc": "hex"}
_ONCE = ("BOOT", "MODEL", "DATA", "CONFIG", "TRAIN", "SCORES", "MEM", "DONE")
EVAL_PHASES = ("frozen", "before", "after")
#: the phases of a training step the TRAIN record times (every method reports each)
TRAIN_PHASES = tuple(k for k in _KEYS["TRAIN"] if k not in ("samples", "cycles"))


def _values(record: Record) -> dict:
    return {key: getattr(record, kind)(key) for key, kind in _KEYS[record.name].items()}


@dataclass
class Report:
    """Summary of one firmware run; see from_lines."""

    status: str
    boot: dict
    model: dict | None = None
    data: dict | None = None
    config: dict | None = None
    evals: dict[str, Eval] = field(default_factory=dict)
    train: dict | None = None
    progress: list[tuple[int, int, int]] = field(default_factory=list)
    scores_crc: int | None = None
    mem: dict | None = None
    # the saved state: {"restored": {...}, "saved": {...}} (status, slot, seq, samples, ...)
    state: dict[str, dict] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)  # every PRIOT line, in order

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Report:
        lines = list(lines)
        records = [r for r in map(parse_line, lines) if r is not None]
        seen: dict[str, dict] = {}
        evals: dict[str, Eval] = {}
        progress = []
        state: dict[str, dict] = {}
        for record in records:
            if record.name == "STATE":
                event = record.text("event")
                if event not in ("restored", "saved") or event in state:
                    raise ProtocolError(f"unexpected STATE record: {record.line!r}")
                state[event] = {"status": record.text("status"), **{
                    k: getattr(record, kind)(k) for k, kind in _STATE_KEYS.items()
                    if k in record.fields}}
                continue
            if record.name not in _KEYS:
                continue  # informational records (e.g. SELFTEST) stay in .records
            values = _values(record)
            if record.name == "FAULT":
                raise FirmwareFault(values["pc"], values["lr"], values["xpsr"], lines,
                                    record.fields.get("reason"))
            if record.name == "ERROR":
                raise FirmwareReportedError(values["code"], values["msg"])
            if record.name == "EVAL":
                phase = values.pop("phase")
                if phase in evals:
                    raise ProtocolError(f"second EVAL for phase {phase!r}: {record.line!r}")
                evals[phase] = Eval(**values)
            elif record.name == "PROGRESS":
                progress.append((values["epoch"], values["done"], values["total"]))
            elif record.name in seen:
                raise ProtocolError(f"second {record.name} record: {record.line!r}")
            else:
                seen[record.name] = values
        tail = " | ".join(lines[-5:])
        if "DONE" not in seen:
            raise ProtocolError(f"no PRIOT DONE line; output ended with: {tail!r}")
        if "BOOT" not in seen:
            raise ProtocolError(f"no PRIOT BOOT line; output ended with: {tail!r}")
        status = seen["DONE"]["status"]
        if status != "ok":
            raise ProtocolError(f"DONE status={status} without the ERROR/FAULT record behind it")
        return cls(
            status=status,
            boot=seen["BOOT"],
            model=seen.get("MODEL"),
            data=seen.get("DATA"),
            config=seen.get("CONFIG"),
            evals=evals,
            train=seen.get("TRAIN"),
            progress=progress,
            scores_crc=seen["SCORES"]["crc"] if "SCORES" in seen else None,
            mem=seen.get("MEM"),
            state=state,
            records=records,
        )

    # ------------------------------------------------------------ figures of the run

    def _train(self) -> dict:
        if self.train is None:
            raise ProtocolError("the run printed no TRAIN record (no training figures)")
        return self.train

    @property
    def cycles_per_train_sample(self) -> float:
        t = self._train()
        return t["cycles"] / max(1, t["samples"])

    @property
    def cycles_per_inference(self) -> float:
        after = self.evals["after"]
        return after.cycles / max(1, after.total)

    def per_sample_phases(self) -> dict[str, float]:
        """Cycles per training sample of every TRAIN phase (TRAIN_PHASES, NITI's range
        searches in ``scale``; 0 for methods without the phase)."""
        t = self._train()
        return {k: t[k] / max(1, t["samples"]) for k in TRAIN_PHASES}

    def agrees_with(self, host) -> list[str]:
        """What differs from the host build's run of the same session (empty: bit for bit).
        host: a priot.native.HostRunResult (its correct counts, test total, score CRC,
        training samples and arena bytes are compared)."""
        diffs = []
        for phase in EVAL_PHASES:
            ev = self.evals.get(phase)
            mine = None if ev is None else (ev.correct, ev.total)
            theirs = (getattr(host, f"{phase}_correct"), host.test_total)
            if mine != theirs:
                diffs.append(f"{phase}: device {mine} vs host {theirs} (correct, total)")
        if self.scores_crc != host.score_crc:
            mine = "none" if self.scores_crc is None else f"0x{self.scores_crc:08x}"
            diffs.append(f"checksum: device {mine} vs host 0x{host.score_crc:08x}")
        if self.train is not None and self.train["samples"] != host.train_samples:
            diffs.append(f"training samples: device {self.train['samples']} vs host "
                         f"{host.train_samples}")
        if self.mem is not None and self.mem["arena_used"] != host.arena_used:
            diffs.append(f"arena bytes used: device {self.mem['arena_used']} vs host "
                         f"{host.arena_used}")
        host_state = getattr(host, "state", None) or {}
        for event in sorted(set(self.state) | set(host_state)):
            mine, theirs = self.state.get(event), host_state.get(event)
            if mine != theirs:
                diffs.append(f"state {event}: device {mine} vs host {theirs}")
        return diffs


def find_fault(lines: Iterable[str]) -> FirmwareFault | None:
    """The FirmwareFault for the first FAULT line, if any (malformed lines are skipped)."""
    lines = list(lines)
    for line in lines:
        try:
            record = parse_line(line)
            if record is not None and record.name == "FAULT":
                return FirmwareFault(record.hex("pc"), record.hex("lr"), record.hex("xpsr"),
                                     lines, record.fields.get("reason"))
        except ProtocolError:
            continue
    return None
