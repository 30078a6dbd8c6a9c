"""The saved state (docs/BLOBS.md "Saved state", priot/state.h): what a session learned,
kept in two flash slots so that a power cut during a save leaves the previous good state.
Host build: round trips for every method, corrupt and foreign slots. Emulator (the boot
ROM's flash functions emulated by emulation/rp2040js/flash_rom.mjs): the slots it writes
equal the host's bit for bit, and power cuts at every stage of a save."""
import numpy as np
import pytest

from priot import pipeline, settings
from priot.core import blob, native
from priot.device import planner
from priot.device.emulator import Rp2040jsBackend
from priot.device.emulator.protocol import Report
from priot.paths import DEFAULT_BUILD, DEFAULT_MODEL

MODEL = DEFAULT_MODEL.read_bytes()
ERASED = b"\xff" * blob.STATE_MAX
METHODS = {"priot": {"method": 0}, "priot-s": {"method": 1, "score_permille": 100,
                                                "subset_rule": 1},
           "static-sgd": {"method": 2}, "niti": {"method": 3, "grad_rounding": 1,
                                                 "lr_shift": 2}}


@pytest.fixture(scope="module")
def dataset():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (14, 1, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 14).astype(np.uint8)
    return blob.encode_dataset(blob.DatasetBlob(x[:8], y[:8], x[8:], y[8:], 10, 45))


def config(persist, **knobs):
    return blob.encode_config(blob.RunConfig(persist=persist, **knobs))


def slot(region: bytes, i: int) -> bytes:
    return region[i * blob.STATE_SLOT:(i + 1) * blob.STATE_SLOT]


@pytest.mark.parametrize("method", METHODS)
def test_host_save_then_restore_for_every_method(dataset, method):
    knobs = METHODS[method]
    first = native.host_run(MODEL, dataset, config(2, **knobs), state_region=ERASED)
    saved = first.state["saved"]
    assert (saved["status"], saved["slot"], saved["seq"], saved["samples"]) == ("ok", 0, 1, 8)
    assert saved["crc"] == first.score_crc
    per_edge = {"priot": 2, "static-sgd": 1, "niti": 1}   # int16 scores / int8 weights
    if method in per_edge:
        assert saved["bytes"] == (blob.STATE_HEADER
                                  + per_edge[method] * blob.decode_model(MODEL).n_edges)
    second = native.host_run(MODEL, dataset, config(3, **knobs), state_region=first.state_region)
    assert second.state["restored"] == saved
    # the restored state is what the first session ended with: same accuracy before training
    assert second.before_correct == first.after_correct
    assert second.state["saved"]["slot"] == 1 and second.state["saved"]["seq"] == 2
    assert second.state["saved"]["samples"] == 16
    # the older slot is the one overwritten next
    third = native.host_run(MODEL, dataset, config(3, **knobs), state_region=second.state_region)
    assert (third.state["restored"]["seq"], third.state["saved"]["slot"]) == (2, 0)


def test_planner_counts_the_saved_state_as_the_engine_writes_it(dataset, arm_toolchain):
    from priot.device import firmware
    elf = firmware.build_firmware(DEFAULT_BUILD).elf
    for method, knobs in METHODS.items():
        run = native.host_run(MODEL, dataset, config(2, **knobs), state_region=ERASED)
        p = planner.plan(MODEL, dataset, config(2, **knobs), elf)
        assert p.flash["saved state (one slot)"] == (run.state["saved"]["bytes"],
                                                     blob.STATE_SLOT), method


def test_a_corrupt_newest_slot_falls_back_to_the_older_one(dataset):
    one = native.host_run(MODEL, dataset, config(2), state_region=ERASED)
    two = native.host_run(MODEL, dataset, config(3), state_region=one.state_region)
    region = bytearray(two.state_region)
    region[blob.STATE_SLOT + 200] ^= 0x01          # a payload bit of the newer slot (1)
    back = native.host_run(MODEL, dataset, config(1), state_region=bytes(region))
    assert back.state["restored"]["status"] == "ok"
    assert back.state["restored"]["seq"] == 1 and back.state["restored"]["slot"] == 0
    region[5] ^= 0x80                               # and the header of the older one
    none = native.host_run(MODEL, dataset, config(1), state_region=bytes(region))
    assert none.state == {"restored": {"status": "none"}}
    fresh = native.host_run(MODEL, dataset, config(0))
    assert none.score_crc == fresh.score_crc       # started from the initial state


def test_a_state_of_another_method_or_subset_is_left_alone(dataset):
    priot = native.host_run(MODEL, dataset, config(2), state_region=ERASED)
    other = native.host_run(MODEL, dataset, config(3, **METHODS["static-sgd"]),
                            state_region=priot.state_region)
    assert other.state["restored"]["status"] == "mismatch"
    assert other.score_crc == native.host_run(MODEL, dataset,
                                              config(0, **METHODS["static-sgd"])).score_crc
    # PRIOT-S's random subset depends on the seed: another seed's scores do not fit
    rand = dict(method=1, score_permille=100, subset_rule=0)
    a = native.host_run(MODEL, dataset, config(2, seed=1, **rand), state_region=ERASED)
    b = native.host_run(MODEL, dataset, config(1, seed=2, **rand), state_region=a.state_region)
    assert b.state["restored"]["status"] == "mismatch"


def test_settings_refuse_bad_state_files_and_backends(tmp_path):
    with pytest.raises(settings.SettingsError, match="does not exist"):
        settings.RunSettings(resume_state=tmp_path / "nope.bin").validate(need_data=False)
    short = tmp_path / "short.bin"
    short.write_bytes(b"\xff" * 100)
    with pytest.raises(settings.SettingsError, match="131,072 bytes"):
        settings.RunSettings(resume_state=short).validate(need_data=False)
    with pytest.raises(settings.SettingsError, match="renode backend does not"):
        settings.RunSettings(save_state=True, backend="renode").validate(need_data=False)
    assert settings.RunSettings(save_state=True).run_config().persist == 2


# ---------------------------------------------------------------- on the emulator


def emulate(backend, fw, dataset, cfg, region):
    return backend.run(fw, {blob.CONFIG_ADDR: cfg, blob.MODEL_ADDR: MODEL,
                            blob.DATASET_ADDR: dataset, blob.STATE_ADDR: region},
                       timeout_s=120)


@pytest.fixture(scope="module")
def firmware_bin(arm_toolchain, backend):
    from priot.device import firmware
    return firmware.build_firmware(DEFAULT_BUILD).bin


def test_emulator_writes_the_hosts_slots_bit_for_bit(firmware_bin, dataset):
    emu = Rp2040jsBackend(read_flash=True)
    region, host_region = ERASED, ERASED
    for persist in (2, 3, 3):
        run = emulate(emu, firmware_bin, dataset, config(persist), region)
        host = native.host_run(MODEL, dataset, config(persist), state_region=host_region)
        report = Report.from_lines(run.lines)
        assert report.agrees_with(host) == []          # STATE records included
        region = pipeline.state_region(run.flash)
        assert region == host.state_region
        host_region = host.state_region
    assert report.state["saved"]["seq"] == 3
    # 16 sector erases and one program per 256-byte page of 53,312 bytes
    assert run.flash_ops == {"erased": blob.STATE_SLOT, "programmed": 209 * 256, "ops": 225}


@pytest.mark.parametrize("cut_after", [0, 8, 16, 120, 224])
def test_a_power_cut_during_a_save_leaves_the_previous_state(firmware_bin, dataset, cut_after):
    """Cut after `cut_after` flash operations of the third save (16 sector erases, then
    the pages from the last one down; operation 224 is the header page, written last):
    booting again restores save #2, and finishes the interrupted save."""
    emu = Rp2040jsBackend(read_flash=True)
    one = emulate(emu, firmware_bin, dataset, config(2), ERASED)
    two = emulate(emu, firmware_bin, dataset, config(3), pipeline.state_region(one.flash))
    before = pipeline.state_region(two.flash)
    cut = emulate(Rp2040jsBackend(read_flash=True, power_cut_after=cut_after), firmware_bin,
                  dataset, config(3), before)
    assert cut.status == "power_cut"
    assert not any(line.startswith("PRIOT STATE event=saved") for line in cut.lines)
    region = pipeline.state_region(cut.flash)
    assert slot(region, 1) == slot(before, 1)         # the newest good state is untouched
    again = Report.from_lines(emulate(emu, firmware_bin, dataset, config(3), region).lines)
    assert again.state["restored"]["status"] == "ok"
    assert again.state["restored"]["seq"] == 2
    assert again.state["saved"]["seq"] == 3


def test_planner_refuses_a_state_larger_than_its_slot(dataset, arm_toolchain, monkeypatch):
    from priot.device import firmware
    elf = firmware.build_firmware(DEFAULT_BUILD).elf
    monkeypatch.setattr(blob, "STATE_SLOT", 16 * 1024)   # PRIOT's 53,312 B do not fit
    p = planner.plan(MODEL, dataset, config(2), elf)
    assert any("saved state needs 53,312 bytes" in problem for problem in p.problems)
    assert not planner.plan(MODEL, dataset, config(0), elf).problems
