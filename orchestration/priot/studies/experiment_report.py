"""The experiment's Markdown table (the paper's shape, its claims beside ours) and plots,
and `invoke experiment`'s whole flow (run_and_write)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import experiment
from .. import results
from .experiment import PAPER, SUBSET_ARMS
from ..paths import REPO_ROOT, write_text_atomic
from ..core.methods import ARMS, FROZEN

CLK_HZ = 125_000_000
LABELS = {name: arm.label for name, arm in ARMS.items()}


@dataclass
class Written:
    out_dir: Path
    markdown: str
    plots: list[Path]

    @property
    def json_path(self) -> Path:
        return self.out_dir / "results.json"

    @property
    def markdown_path(self) -> Path:
        return self.out_dir / "results.md"


def run_and_write(plan: experiment.Plan, name: str | None = None, command: str = "",
                  log=print, **engine) -> Written:
    """Run (or resume) a plan in results/<name> (default: <arch>-<time>), then write its
    results.md and plots. engine: Experiment's engine, workers, scheduler, emulate."""
    out = results.results_root() / (name or experiment.run_name(plan))
    log(f"experiment -> {out}")
    summary = experiment.Experiment(plan, out, log=log, **engine).run()
    md = markdown(summary, command)
    write_text_atomic(out / "results.md", md)
    written = Written(out, md, plots(summary, out))
    for path in written.plots:
        log(f"plot: {path}")
    return written


RESULTS_DOC = REPO_ROOT / "docs" / "results.md"


def documented_knobs(section: str, path: Path = RESULTS_DOC) -> dict[tuple[float, str], dict]:
    """The knobs a documented full run chose: {(angle, method): point}, read from the
    "chosen knobs" column of the first table after the ``### <section>...`` heading of
    docs/results.md (the table :func:`markdown` writes), so that checks use what the run
    chose, not a copy that can drift."""
    import ast

    lines = Path(path).read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"### {section}")),
                 None)
    if start is None:
        raise ValueError(f"{path}: no section '### {section}'")
    by_label = {label: m for m, label in LABELS.items()}
    knobs: dict[tuple[float, str], dict] = {}
    rows = [line for line in lines[start + 1:] if line.startswith("| ")]
    for line in rows[1:]:                     # rows[0]: the header
        cells = [c.strip() for c in line.strip("|").split("|")]
        method = by_label.get(cells[0])
        if method is None:
            break                             # past the first table
        for part in cells[-1].split("; ") if cells[-1] != "-" else []:
            angle, _, point = part.partition(": ")
            knobs[(float(angle), method)] = ast.literal_eval(point)
    if not knobs:
        raise ValueError(f"{path}: no chosen knobs under '### {section}'")
    return knobs


def _pct(v: float) -> str:
    return f"{v * 100:.2f}"


def _kib(n: float) -> str:
    return f"{n / 1024:.1f} KiB"


def little_loss_verdict(priot_s_minus_priot: float) -> str:
    """PRIOT-S's "little accuracy loss": at most PAPER["little_loss"] points below PRIOT."""
    limit = PAPER["little_loss"]
    if priot_s_minus_priot >= -limit:
        return f"yes (within {limit:g} points)"
    return f"no (more than {limit:g} points below)"


def cost_verdict(niti_vs_priot_plain: float, niti_vs_priot_opt: float,
                 niti_vs_static: float | None) -> str:
    """"Dynamic scales cost time PRIOT avoids": yes only when NITI's step costs more than
    PRIOT's with both kernel sets; partly when it costs more with one of them, or only more
    than the same training with static shifts."""
    if niti_vs_priot_plain > 1 and niti_vs_priot_opt > 1:
        return "yes"
    if niti_vs_priot_plain > 1 or niti_vs_priot_opt > 1 or (niti_vs_static or 0) > 1:
        return ("partly (dearer than static-shift training; PRIOT's whole step is not "
                "cheaper than NITI's with every kernel set)")
    return "no (PRIOT step not cheaper)"


def markdown(summary: dict, command: str = "") -> str:
    plan, rows, device, claims = (summary["plan"], summary["rows"], summary["device"],
                                  summary["claims"])
    angles = sorted({r["angle"] for r in rows})
    by = {(r["angle"], r["method"]): r for r in rows}
    methods = [m for m in plan["methods"] if any((a, m) in by for a in angles)]
    out = [f"### {plan['arch']} on rotated {plan['source']}: accuracy (%) on the rotated test "
           "split", ""]
    if command:
        out += [f"Made by `{command}` at revision `{summary['revision'][:12]}` "
                f"({summary['created']}).", ""]
    out += [f"{plan['n_train']} on-device training samples (one pass), {plan['n_test']} test "
            f"samples, {plan['seeds']} seeds (sample order; PRIOT: also score init); mean +- "
            "sample std over the seeds (ddof = 1). "
            f"Knobs chosen per angle on a validation part (train on {plan['n_tune']}, validate "
            f"on {plan['n_train'] - plan['n_tune']} of the training samples; "
            f"{plan['tune_seeds']} seeds); the test split never chooses anything.", "",
            "| method | " + " | ".join(f"{a:g} deg" for a in angles) + " | chosen knobs |",
            "|---|" + "---|" * len(angles) + "---|"]
    for m in methods:
        cells = []
        for a in angles:
            r = by.get((a, m))
            cells.append("-" if r is None else
                         (f"{_pct(r['mean'])}" if m == FROZEN else
                          f"{_pct(r['mean'])} +- {_pct(r['std'])}"))
        knobs = "; ".join(f"{a:g}: {by[(a, m)]['chosen']}" for a in angles
                          if (a, m) in by and by[(a, m)]["chosen"]) or "-"
        out.append(f"| {LABELS.get(m, m)} | " + " | ".join(cells) + f" | {knobs} |")
    out += ["", "Grids searched: " + "; ".join(
        f"{m}: " + ", ".join(f"{k} {v}" for k, v in grid.items())
        for m, grid in summary["grids"].items()) + ".", ""]

    if device:
        out += ["### On the emulated Pico (rp2040js, 125 MHz clk_sys)", "",
                f"One short session per method at {plan['angles'][0]:g} deg with its chosen "
                f"knobs ({plan['device_train']} training / {plan['device_test']} test samples); "
                "per-sample figures. SRAM = static (no arena) + session arena used + measured "
                "stack peak; flash = firmware image + model blob. Cycles with the optimised "
                "kernels; \"plain\" = the same firmware built with the plain reference kernels "
                "(make REF=1), the even ground where kernels are not equally optimised.", "",
                "| method | cycles / training sample | ms | plain kernels | of which scale "
                "search | cycles / inference | ms | SRAM | scores + index | flash | "
                "bit-exact with host |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for m in methods:
            d = device.get(m)
            if not d:
                continue
            if not d.get("fits"):
                out.append(f"| {LABELS.get(m, m)} | does not fit: {d['why']} ||||||||||")
                continue
            out.append(
                f"| {LABELS.get(m, m)} | {d['train_cycles']:,.0f} | "
                f"{d['train_cycles'] / CLK_HZ * 1e3:.1f} | "
                f"{d['plain_kernels']['train_cycles']:,.0f} | {d['phases']['scale']:,.0f} | "
                f"{d['infer_cycles']:,.0f} | {d['infer_cycles'] / CLK_HZ * 1e3:.1f} | "
                f"{_kib(d['sram_total'])} | {d['score_bytes']:,} B | "
                f"{_kib(d['firmware_flash'] + d['model_flash'])} | "
                f"{'yes' if d['bit_exact'] else 'NO'} |")
        out.append("")

    out += ["### The paper's claims beside this run", "",
            "| claim (Anada et al.) | this run | reproduced? |", "|---|---|---|"]
    for e in claims.get("per_angle", []):
        if "priot_minus_best_baseline" in e:
            g, w = e["priot_minus_best_baseline"], e["priot_minus_worst_baseline"]
            ok = "yes" if g >= PAPER["gain_min"] else ("partly (gain below the paper's range)"
                                                      if g > 0 else "no")
            out.append(f"| PRIOT +{PAPER['gain_min']} to +{PAPER['gain_max']} points over "
                       f"existing integer training ({e['angle']:g} deg) | {g:+.2f} vs the best "
                       f"tuned baseline ({e['best_baseline']}), {w:+.2f} vs {e['worst_baseline']}"
                       f" | {ok} |")
        for s in SUBSET_ARMS:
            k = f"{s} minus priot"
            if k in e:
                out.append(f"| PRIOT-S: little accuracy loss ({s}, {e['angle']:g} deg) | "
                           f"{e[k]:+.2f} points vs PRIOT | {little_loss_verdict(e[k])} |")
    for s in SUBSET_ARMS:
        k = f"{s} score memory vs priot"
        if k in claims:
            out.append(f"| PRIOT-S: less memory ({s}) | scores {claims[k]:.0%} of PRIOT's, "
                       f"SRAM {claims[f'{s} sram vs priot']:.0%} | "
                       f"{'yes' if claims[k] < 1 else 'no'} |")
    if "niti step vs priot step" in claims:
        r = claims["niti step vs priot step, plain kernels"]
        share = claims["niti scale share"]
        vs_sgd = claims.get("niti step vs static-sgd step, plain kernels")
        sgd_txt = f"; {vs_sgd:.2f} x the same training with static shifts" if vs_sgd else ""
        opt = claims["niti step vs priot step"]
        out.append(f"| dynamic scales cost time PRIOT avoids | range searches {share:.1%} of "
                   f"NITI's step{sgd_txt}; NITI step = {r:.2f} x PRIOT step (plain kernels; "
                   f"optimised: {opt:.2f} x) | {cost_verdict(r, opt, vs_sgd)} |")
    out.append("")
    return "\n".join(out)


def plots(summary: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    rows, device = summary["rows"], summary["device"]
    angles = sorted({r["angle"] for r in rows})
    paths = []

    fig, axes = plt.subplots(1, len(angles), figsize=(5 * len(angles), 4), squeeze=False)
    for ax, a in zip(axes[0], angles):
        for r in (r for r in rows if r["angle"] == a):
            if r["method"] == FROZEN:
                ax.axhline(r["mean"] * 100, color="grey", ls="--", label=FROZEN)
                continue
            mean = [v * 100 for v in r["curve_mean"]]
            std = [v * 100 for v in r["curve_std"]]
            ax.errorbar(r["curve_points"], mean, yerr=std, marker="o", ms=3, capsize=2,
                        label=LABELS.get(r["method"], r["method"]))
        ax.set(title=f"rotated {a:g} deg", xlabel="on-device training samples",
               ylabel="test accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "accuracy_vs_samples.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fitted = {m: d for m, d in device.items() if d.get("fits")}
    if fitted:
        names = list(fitted)
        phases = ("forward", "loss", "backward", "update", "mask", "scale")
        fig, ax = plt.subplots(figsize=(7, 4))
        _stacked_bars(ax, names, {ph: [fitted[m]["phases"][ph] / 1e6 for m in names]
                                  for ph in phases})
        ax.set(ylabel="M cycles per training sample", title="per-phase cycles (emulated M0+)")
        paths.append(_save(fig, ax, out_dir / "cycles_per_phase.png"))

        fig, ax = plt.subplots(figsize=(7, 4))
        _stacked_bars(ax, names, {label: [fitted[m][key] / 1024 for m in names]
                                  for label, key in (("static SRAM", "static_sram"),
                                                     ("session arena", "arena_used"),
                                                     ("stack peak", "stack_peak"))})
        missing = {m: d for m, d in device.items() if not d.get("fits") and "arena_need" in d}
        if missing:
            ax.bar(list(missing), [d["arena_need"] / 1024 for d in missing.values()],
                   color="none", edgecolor="grey", hatch="//",
                   label="session arena needed (does not fit)")
        ax.axhline(264, color="red", ls="--", label="RP2040 SRAM (264 KiB)")
        ax.set(ylabel="KiB", title="SRAM per method")
        paths.append(_save(fig, ax, out_dir / "memory_per_method.png"))
    return paths


def _stacked_bars(ax, names, parts: dict) -> None:
    """One bar per name, the parts ({label: values}) stacked in order."""
    bottom = [0.0] * len(names)
    for label, vals in parts.items():
        ax.bar(names, vals, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, vals)]


def _save(fig, ax, path: Path) -> Path:
    import matplotlib.pyplot as plt

    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
