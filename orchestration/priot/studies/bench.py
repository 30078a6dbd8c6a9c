"""`invoke bench`: kernel and training-step cost on the emulated Pico, and host throughput.

1. kernels: the bench firmware (firmware/app/bench.c, APP=bench) runs every hot kernel in
   its plain reference version (`_ref`, kernels_ref.c) and its optimised version
   (kernels.c) on the same seeded data, timed with SysTick (rp2040js's Cortex-M0+ cycle
   model); both must give the same output CRC. Reported: cycles, cycles per MAC, the
   speed-up opt/ref and the ratio to the floor of this core (:data:`FLOOR_CYCLES_PER_MAC`).
2. whole training step per method: the normal firmware, built once with the reference
   kernels (make REF=1) and once with the optimised ones, runs a short session
   (n_train/n_test) per method; the TRAIN record gives cycles per sample and per phase.
3. host build: training and inference samples per second of libpriot.so, beside float
   torch fine-tuning of the same model.
4. with ``vgg11_data``: every method's optimised step on VGG11 and their ratios
   (priot.studies.bench_vgg11).

Results: printed as a table and saved to results/bench/bench.json (atomic write).
"""
from __future__ import annotations

import time
from pathlib import Path

from ..core import blob
from ..device import firmware
from .. import results
from ..core.methods import METHODS
from ..paths import DEFAULT_BUILD, RESULTS_DIR, write_json_atomic
from ..device.emulator.protocol import TRAIN_PHASES, Report, parse_line

# The floor used for "x floor": one MULS (1 cycle) + one ADD (1 cycle) per MAC, with every
# operand load amortised away (operands kept in registers across outputs). See
# docs/performance.md: on the M0+ MULS overwrites one of its operands, so reusing both
# operands costs a MOV as well (3 cycles per MAC in practice).
FLOOR_CYCLES_PER_MAC = 2.0
MAC_KERNELS = ("conv3x3_forward", "conv3x3_error_backward", "conv3x3_score_grad",
               "fc_forward", "fc_error_backward", "fc_score_grad",
               "niti_conv3x3_acc32", "niti_conv3x3_error_acc32", "niti_conv3x3_grad32",
               "niti_fc_acc32", "niti_fc_error_acc32", "niti_fc_grad32")
# CMSIS-NN's portable C path (no DSP extension: the M0+ has none) on a 3x3 int8 conv in
# this emulator, as docs/performance.md quotes it ("about 12 cycles/MAC"); not re-measured
# by this bench (the repository holds no CMSIS code), so the "vs CMSIS-NN" figures are
# ratios to that quoted number, for the conv and fc forward rows.
CMSIS_NN_CYCLES_PER_MAC = 12.0
CMSIS_KERNELS = ("conv3x3_forward", "fc_forward")
RESULT_PATH = RESULTS_DIR / "bench" / "bench.json"


def _log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def parse_bench_lines(lines) -> list[dict]:
    """The BENCH records of a bench-firmware run, as dicts with int fields."""
    rows = []
    for line in lines:
        rec = parse_line(line)
        if rec is None or rec.name != "BENCH":
            continue
        rows.append({"kernel": rec.text("kernel"), "impl": rec.text("impl"),
                     "shape": rec.text("shape"), "macs": rec.int("macs"),
                     "cycles": rec.int("cycles"), "crc": rec.hex("crc")})
    return rows


def kernel_table(rows: list[dict]) -> list[dict]:
    """One entry per (kernel, shape): ref and opt cycles, cycles per MAC, ratios."""
    by: dict[tuple, dict] = {}
    for r in rows:
        e = by.setdefault((r["kernel"], r["shape"]), {"kernel": r["kernel"],
                                                     "shape": r["shape"], "macs": r["macs"]})
        e[r["impl"]] = r["cycles"]
        e[f"crc_{r['impl']}"] = r["crc"]
    out = []
    for e in by.values():
        macs = max(1, e["macs"])
        opt = e.get("opt")
        ref = e.get("ref")
        e["opt_per_mac"] = opt / macs if opt is not None else None
        e["ref_per_mac"] = ref / macs if ref is not None else None
        e["speedup"] = ref / opt if ref and opt else None
        e["bit_exact"] = (e.get("crc_ref") == e.get("crc_opt")) if ref is not None else None
        e["is_mac"] = e["kernel"] in MAC_KERNELS
        e["opt_vs_floor"] = (e["opt_per_mac"] / FLOOR_CYCLES_PER_MAC
                             if e["is_mac"] and opt is not None else None)
        e["opt_vs_cmsis"] = (e["opt_per_mac"] / CMSIS_NN_CYCLES_PER_MAC
                             if e["kernel"] in CMSIS_KERNELS and opt is not None else None)
        out.append(e)
    return out


def run_kernels(build_dir: Path, timeout_s: float = 300.0, log=_log) -> list[dict]:
    """Build and run the bench firmware; returns the kernel table."""
    from ..device.emulator import Rp2040jsBackend, EmulatorUnavailable

    backend = Rp2040jsBackend()
    ok, why = backend.available()
    if not ok:
        raise EmulatorUnavailable(why)
    image = firmware.build_firmware(build_dir, app="bench")
    log(f"running the kernel bench ({image.bin.name}) in rp2040js ...")
    run = backend.run(image.bin, {}, timeout_s=timeout_s)
    rows = parse_bench_lines(run.lines)
    if not rows:
        raise RuntimeError("the bench firmware printed no BENCH records:\n"
                           + "\n".join(run.lines[-10:]))
    return kernel_table(rows)


def whole_step(method: str, ref: bool, n_train: int, n_test: int, build_dir: Path,
               timeout_s: float = 900.0, log=_log) -> dict:
    """A short tiny-CNN session of the normal firmware (reference or optimised kernels):
    cycles per training sample and per phase, cycles per inference, score CRC."""
    from ..settings import RunSettings

    s = RunSettings(n_train=n_train, n_test=n_test, method=method, build_dir=build_dir,
                    timeout_s=timeout_s)
    return session_step(s, ref, log=log)


def session_step(s, ref: bool = False, log=_log, prepare_log=None) -> dict:
    """One session of these RunSettings on the emulated Pico (reference or optimised
    kernels): cycles per training sample and per phase, per inference, score CRC.
    ``prepare_log``: where data and model preparation (e.g. VGG11 pretraining on first
    use) report; None: silent."""
    from .. import pipeline
    from ..device.emulator import Rp2040jsBackend

    blobs = pipeline.make_blobs(s, log=prepare_log or (lambda *_: None))
    image = firmware.build_firmware(s.build_dir, ref=ref)
    run = Rp2040jsBackend().run(image.bin, blobs.at_addresses(), timeout_s=s.timeout_s)
    report = Report.from_lines(run.lines)
    out = {"method": s.method, "kernels": "ref" if ref else "opt",
           "samples": report.train["samples"],
           "cycles_per_sample": report.cycles_per_train_sample,
           "phases_per_sample": report.per_sample_phases(),
           "cycles_per_inference": report.cycles_per_inference,
           "scores_crc": report.scores_crc, "after_correct": report.evals["after"].correct}
    if not ref:   # the backward kernels' work in this session (the numpy reference's)
        from .error_density import measure
        out["errors"] = measure(blobs)
    log(f"{s.method:<11} {out['kernels']}: {out['cycles_per_sample']:,.0f} cycles per "
        f"training sample, {out['cycles_per_inference']:,.0f} per inference")
    return out


def host_speed(n: int = 500, method: str = "priot", log=_log) -> dict:
    """Samples per second of the host build (libpriot.so) for training and inference."""
    from ..core import native
    from .. import pipeline
    from ..settings import RunSettings

    s = RunSettings(n_train=n, n_test=n, method=method)
    blobs = pipeline.make_blobs(s, log=lambda *_: None)
    d = blob.decode_dataset(blobs.dataset)
    native.load()
    t0 = time.perf_counter()
    native.host_train(blobs.model, blobs.config, d.train_x, d.train_y)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    native.host_predict(blobs.model, blobs.config, d.test_x)
    infer_s = time.perf_counter() - t0
    out = {"method": method, "n": n, "train_samples_per_s": n / train_s,
           "infer_samples_per_s": n / infer_s, "torch": torch_finetune_speed(blobs, n)}
    t = out["torch"]
    log(f"host build: {out['train_samples_per_s']:,.0f} training samples/s, "
        f"{out['infer_samples_per_s']:,.0f} inferences/s ({method}, {n} samples); float "
        f"torch fine-tuning of the same model: {t['batch1_samples_per_s']:,.0f} samples/s "
        f"one at a time, {t['batch8_samples_per_s']:,.0f} in batches of 8 (1 thread)")
    return out


def torch_finetune_speed(blobs, n: int) -> dict:
    """Samples/s of float fine-tuning (priot.studies.float_finetune: Adam on the same
    model read back as floats, the same samples) in torch on one thread, like the host
    library: one sample per step (as on the device) and batches of 8 (the experiment's)."""
    from .float_finetune import finetune

    model = blob.decode_model(blobs.model)
    d = blob.decode_dataset(blobs.dataset)
    out = {}
    for batch in (1, 8):
        t0 = time.perf_counter()
        finetune(model, d.train_x[:n], d.train_y[:n], d.test_x[:1], d.test_y[:1], lr=0.1,
                 seed=0, checkpoints=[n], batch=batch)
        out[f"batch{batch}_samples_per_s"] = n / (time.perf_counter() - t0)
    return out


def methods() -> tuple[str, ...]:
    """Every method of the registry (priot.methods), each benchmarked at its run defaults."""
    return tuple(METHODS)


def step_ratios(steps: list[dict]) -> dict:
    """Optimised training step of PRIOT and PRIOT-S over NITI's and static-scale SGD's, and
    NITI over static SGD, from the steps of one run ({"priot/niti": 0.48, ...})."""
    opt = {s["method"]: s["cycles_per_sample"] for s in steps if s["kernels"] == "opt"}
    out = {}
    for a, b in (("priot", "niti"), ("priot", "static-sgd"), ("priot-s", "niti"),
                 ("priot-s", "static-sgd"), ("niti", "static-sgd")):
        if a in opt and b in opt:
            out[f"{a}/{b}"] = opt[a] / opt[b]
    return out


def run(quick: bool = False, build_dir: Path | None = None, out: Path = RESULT_PATH,
        log=_log, vgg11_data: Path | None = None) -> dict:
    """``vgg11_data``: CIFAR-10 (python batches or image folders) for the VGG11 steps
    (priot.studies.bench_vgg11); None: that part is skipped and says how to run it."""
    build_dir = Path(build_dir or DEFAULT_BUILD)
    if vgg11_data is not None:
        from ..data import DataError, source_of_dir
        d = Path(vgg11_data)
        try:
            source = source_of_dir(d)
        except DataError:
            source = None
        if source != "cifar10":
            raise DataError(f"--vgg11-data {d}: not a CIFAR-10 directory (give one holding "
                            "the python batches (data_batch_1, ...) or <class>/<image> "
                            "folders)")
    t0 = time.perf_counter()
    kernels = run_kernels(build_dir, log=log)
    n_train, n_test = (5, 5) if quick else (20, 10)
    steps = []
    for method in methods():   # --quick: the reference image for PRIOT only
        for ref in ((True, False) if not quick or method == "priot" else (False,)):
            steps.append(whole_step(method, ref, n_train, n_test, build_dir, log=log))
    ratios = step_ratios(steps)
    if ratios:
        log("optimised step ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    if vgg11_data is None:
        vgg = {"skipped": "give --vgg11-data DIR, a CIFAR-10 directory, to measure them"}
        log(f"VGG11 steps: skipped ({vgg['skipped']})")
    else:
        from . import bench_vgg11
        vgg = bench_vgg11.run(Path(vgg11_data), methods(), quick, build_dir, log,
                              session_step)
    host = host_speed(100 if quick else 500, log=log)
    result = {"floor_cycles_per_mac": FLOOR_CYCLES_PER_MAC, "kernels": kernels,
              "steps": steps, "step_ratios": ratios, "vgg11": vgg,
              "cmsis_nn_cycles_per_mac": CMSIS_NN_CYCLES_PER_MAC, "host": host, "quick": quick,
              "revision": results.git_revision(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "wall_s": time.perf_counter() - t0}
    write_json_atomic(out, result)
    log(f"saved {out}")
    return result


def _f(v, fmt="{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


def error_lines(steps: list[dict]) -> list[str]:
    """Non-zero output errors per sample and layer of each optimised session: the sparse
    backward kernels pay per non-zero error, so they explain the backward phase."""
    from .error_density import format_line

    with_errors = [s for s in steps if s.get("errors")]
    if not with_errors:
        return []
    return ["", "Non-zero output errors per training sample, first layer to last (numpy "
                "reference of the same session; the backward kernels' work):"] + [
        format_line(s["method"], s["errors"]) for s in with_errors]


def format_table(result: dict) -> str:
    floor = result["floor_cycles_per_mac"]
    lines = [f"Kernels on the emulated Cortex-M0+ (rp2040js cycle model, SysTick); floor = "
             f"{floor:g} cycles/MAC (MULS + ADD, loads amortised)", "",
             "| kernel | shape | MACs/elements | ref cycles | opt cycles | ref c/MAC | "
             "opt c/MAC | speed-up | opt x floor | bit-exact |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for e in result["kernels"]:
        lines.append(
            f"| {e['kernel']} | {e['shape']} | {e['macs']:,} | {_f(e.get('ref'), '{:,}')} | "
            f"{_f(e.get('opt'), '{:,}')} | {_f(e['ref_per_mac'])} | {_f(e['opt_per_mac'])} | "
            f"{_f(e['speedup'])} | {_f(e['opt_vs_floor'])} | "
            f"{'-' if e['bit_exact'] is None else ('yes' if e['bit_exact'] else 'NO')} |")
    steps = result["steps"]
    if steps:
        lines += ["", "Whole training step (tiny CNN, rotated MNIST; cycles per sample):", "",
                  "| method | kernels | cycles/sample | ms @125 MHz | "
                  + " | ".join(TRAIN_PHASES) + " | cycles/inference | scores crc |",
                  "|---|---|---|---|" + "---|" * len(TRAIN_PHASES) + "---|---|"]
        for s in steps:
            p = s["phases_per_sample"]
            lines.append(
                f"| {s['method']} | {s['kernels']} | {s['cycles_per_sample']:,.0f} | "
                f"{s['cycles_per_sample'] / 125e3:.1f} | "
                + " | ".join(f"{p.get(k, 0):,.0f}" for k in TRAIN_PHASES)
                + f" | {s['cycles_per_inference']:,.0f} | 0x{s['scores_crc']:08x} |")
        by = {(s["method"], s["kernels"]): s for s in steps}
        for m in dict.fromkeys(s["method"] for s in steps):
            if (m, "ref") in by and (m, "opt") in by:
                r, o = by[(m, "ref")], by[(m, "opt")]
                same = r["scores_crc"] == o["scores_crc"]
                lines.append(f"  {m}: x{r['cycles_per_sample'] / o['cycles_per_sample']:.2f} "
                             f"per training step, same scores: {'yes' if same else 'NO'}")
        lines += error_lines(steps)
        ratios = step_ratios(steps)
        if ratios:
            lines += ["", "Optimised training step, one run: " + ", ".join(
                f"{k.upper().replace('STATIC-SGD', 'static-SGD')} {v:.2f}"
                for k, v in ratios.items())]
    if result.get("vgg11"):
        from .bench_vgg11 import format_section
        lines += format_section(result["vgg11"])
    cm = [e for e in result["kernels"] if e.get("opt_vs_cmsis") is not None]
    if cm:
        lines += ["", f"Forward kernels vs CMSIS-NN's portable C (~{CMSIS_NN_CYCLES_PER_MAC:g} "
                      "cycles/MAC in this emulator, the figure docs/performance.md quotes; "
                      "not re-measured): " + ", ".join(
                          f"{e['kernel']} {e['shape']} {e['opt_per_mac']:.2f} c/MAC = "
                          f"{e['opt_vs_cmsis']:.2f}x" for e in cm)]
    h = result.get("host")
    if h:
        lines += ["", f"Host build: {h['train_samples_per_s']:,.0f} training samples/s, "
                      f"{h['infer_samples_per_s']:,.0f} inferences/s ({h['method']}, "
                      f"{h['n']} samples)"]
        t = h.get("torch")
        if t:
            lines.append(
                f"  vs float torch fine-tuning of the same model, same machine and run, one "
                f"thread: x{h['train_samples_per_s'] / t['batch1_samples_per_s']:.1f} "
                f"({t['batch1_samples_per_s']:,.0f} samples/s, one sample per step as on the "
                f"device), x{h['train_samples_per_s'] / t['batch8_samples_per_s']:.1f} "
                f"({t['batch8_samples_per_s']:,.0f} samples/s in batches of 8)")
    return "\n".join(lines)
