"""`invoke bench --vgg11-data DIR`: the optimised training step of every method on VGG11 /
rotated CIFAR-10 on the emulated Pico, and their ratios, measured in one run.

VGG11 x1/8 fits the Pico's SRAM with PRIOT-S and static-scale SGD but not with PRIOT or
NITI (docs/vgg11.md, "What fits"), so the bench runs two sets of sessions:

* every method at the widest width where all of them fit, found by the memory planner
  (the same one `invoke plan` uses; 5/64 with today's arena), giving the PRIOT / NITI /
  static-SGD ratios on VGG11;
* every method that fits at x1/8, the width issue 14 and docs/performance.md quote for
  PRIOT-S's step.

The cycles per sample depend on the session's length (errors get sparser, and the sparse
backward kernels cheaper, as training goes on), so every method runs the same samples
(n_train, data seed) and the result records them. Models are pretrained on first use and
cached like `invoke emulate`'s (a few minutes per width).
"""
from __future__ import annotations

from pathlib import Path

from ..device import firmware

WIDTH_STEPS = 64                 # widths k/64, as in docs/vgg11.md's table
REFERENCE_WIDTH = 0.125          # VGG11 x1/8
N_SAMPLES = {False: (20, 2), True: (2, 1)}   # (n_train, n_test); True: --quick
RATIO_PAIRS = (("priot", "niti"), ("priot", "static-sgd"), ("priot-s", "niti"),
               ("priot-s", "static-sgd"), ("niti", "static-sgd"))


def settings_for(method: str, width: float, data_dir: Path, n_train: int, n_test: int,
                 build_dir: Path):
    """RunSettings of one VGG11 session with `invoke emulate --model vgg11`'s defaults."""
    from .. import settings

    return settings.from_options({}, defaults={
        "arch": "vgg11", "width": width, "data_dir": Path(data_dir), "method": method,
        "n_train": n_train, "n_test": n_test, "build_dir": Path(build_dir)})


def fitting_methods(width: float, methods, data_dir: Path, n_train: int, n_test: int,
                    build_dir: Path, elf: Path) -> list[str]:
    """The methods whose session fits the Pico at this width (the memory planner)."""
    from ..pipeline import plan_before_data

    return [m for m in methods
            if plan_before_data(settings_for(m, width, data_dir, n_train, n_test,
                                             build_dir), elf).fits]


def widest_common_width(methods, data_dir: Path, n_train: int, n_test: int,
                        build_dir: Path, elf: Path, widest: float = 0.25) -> float:
    """The widest width k/64 (at most ``widest``) at which every method fits."""
    for k in range(round(widest * WIDTH_STEPS), 0, -1):
        w = k / WIDTH_STEPS
        if len(fitting_methods(w, methods, data_dir, n_train, n_test, build_dir, elf)) \
                == len(methods):
            return w
    raise RuntimeError(f"no VGG11 width k/{WIDTH_STEPS} fits every method "
                       f"({', '.join(methods)}) in the firmware's arena")


def ratios(steps: list[dict]) -> dict:
    """Cycles per training sample of a over b for every pair measured ({"priot/niti": ..})."""
    by = {s["method"]: s["cycles_per_sample"] for s in steps}
    return {f"{a}/{b}": by[a] / by[b] for a, b in RATIO_PAIRS if a in by and b in by}


def run(data_dir: Path, methods, quick: bool, build_dir: Path, log, session_step) -> dict:
    """``session_step(settings, log=, prepare_log=)``: one emulated session's figures
    (priot.studies.bench.session_step)."""
    n_train, n_test = N_SAMPLES[quick]
    elf = firmware.build_firmware(build_dir).elf
    common = widest_common_width(methods, data_dir, n_train, n_test, build_dir, elf)
    at_reference = fitting_methods(REFERENCE_WIDTH, methods, data_dir, n_train, n_test,
                                   build_dir, elf)
    out = {"data_dir": str(data_dir), "n_train": n_train, "n_test": n_test, "widths": []}
    for width, chosen in ((common, list(methods)), (REFERENCE_WIDTH, at_reference)):
        k = round(width * WIDTH_STEPS)
        log(f"VGG11 width {k}/{WIDTH_STEPS}: {', '.join(chosen)} ({n_train} training "
            f"samples each; the model is pretrained on first use and cached)")
        steps = [session_step(settings_for(m, width, data_dir, n_train, n_test, build_dir),
                              log=lambda msg, k=k: log(f"VGG11 {k}/{WIDTH_STEPS} {msg}"),
                              prepare_log=log if i == 0 else None)   # then cached
                 for i, m in enumerate(chosen)]
        r = ratios(steps)
        log(f"VGG11 {k}/{WIDTH_STEPS} step ratios: "
            + (", ".join(f"{a} {v:.2f}" for a, v in r.items()) or "none (one method)"))
        out["widths"].append({"width": width, "width_64ths": k, "steps": steps,
                              "ratios": r, "not_fitting": [m for m in methods
                                                           if m not in chosen]})
    return out


def format_section(v: dict) -> list[str]:
    if "skipped" in v:
        return ["", f"VGG11 steps: skipped ({v['skipped']})"]
    lines = ["", f"VGG11 on rotated CIFAR-10, optimised kernels ({v['n_train']} training "
                 f"samples, {v['n_test']} test image{'s' if v['n_test'] != 1 else ''} per "
                 f"session; cycles per sample):", "",
             "| width | method | cycles/sample | ms @125 MHz | cycles/inference | "
             "scores crc |", "|---|---|---|---|---|---|"]
    for w in v["widths"]:
        for s in w["steps"]:
            lines.append(f"| {w['width_64ths']}/64 | {s['method']} | "
                         f"{s['cycles_per_sample']:,.0f} | "
                         f"{s['cycles_per_sample'] / 125e3:.1f} | "
                         f"{s['cycles_per_inference']:,.0f} | 0x{s['scores_crc']:08x} |")
    for w in v["widths"]:
        order = [f"{a}/{b}" for a, b in RATIO_PAIRS]   # bench.json stores keys sorted
        text = ", ".join(f"{a.upper().replace('STATIC-SGD', 'static-SGD')} {w['ratios'][a]:.2f}"
                         for a in order if a in w["ratios"]) or "none"
        missing = (f" ({', '.join(w['not_fitting'])} do not fit at this width)"
                   if w["not_fitting"] else "")
        lines.append(f"  width {w['width_64ths']}/64 ratios: {text}{missing}")
    from .error_density import format_line
    measured = [w for w in v["widths"] if any(s.get("errors") for s in w["steps"])]
    if measured:
        lines += ["", "Non-zero output errors per training sample, first layer to last (numpy "
                      "reference of the same sessions; the backward kernels' work):"]
    for w in measured:
        lines.append(f"  width {w['width_64ths']}/64:")
        lines += ["  " + format_line(s["method"], s["errors"]) for s in w["steps"]
                  if s.get("errors")]
    return lines
