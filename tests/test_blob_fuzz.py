"""Fuzzing the blob parsers: mutated blobs (bit flips, truncations, overwritten fields with
the CRC recomputed so the deep checks are reached) must be accepted or rejected alike by
the firmware's C parser (host build) and the Python decoder, and never crash either."""
import os
import struct
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import skip_or_fail
from priot.core import blob, native
from priot.settings import DEFAULT_MODEL

VALID = {
    "model": DEFAULT_MODEL.read_bytes(),
    "dataset": blob.encode_dataset(blob.DatasetBlob(
        np.arange(2 * 784, dtype=np.uint8).reshape(2, 1, 28, 28) % 251,
        np.array([3, 7], np.uint8), np.zeros((1, 1, 28, 28), np.uint8),
        np.array([9], np.uint8), 10, -30)),
    "config": blob.encode_config(blob.RunConfig(method=1, score_permille=100)),
}
DECODE = {"model": blob.decode_model, "dataset": blob.decode_dataset,
          "config": blob.decode_config}
# CI: a fixed, derandomized budget. `invoke fuzz` raises it, picks random seeds and loads
# the ASan/UBSan build of the library (PRIOT_FUZZ_EXAMPLES, PRIOT_FUZZ_SAN).
EXAMPLES = int(os.environ.get("PRIOT_FUZZ_EXAMPLES", "400"))
SAN = os.environ.get("PRIOT_FUZZ_SAN") == "1"
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="PRIOT_FUZZ_EXAMPLES" not in
                os.environ, suppress_health_check=[HealthCheck.too_slow])


def recrc(data: bytearray) -> bytes:
    """Fix the CRC so that a mutation inside the payload reaches the field checks."""
    if len(data) < blob.HEADER.size + 4:
        return bytes(data)
    _, _, _, payload, _ = blob.HEADER.unpack_from(data)
    end = blob.HEADER.size + payload
    if end + 4 <= len(data):
        struct.pack_into("<I", data, end, zlib.crc32(bytes(data[:end])))
    return bytes(data)


def python_accepts(kind: str, data: bytes) -> bool:
    try:
        DECODE[kind](data)
        return True
    except blob.BlobError:
        return False


def agree(kind: str, data: bytes) -> None:
    c_ok = native.parse_status(kind, data, san=SAN) == 0
    assert c_ok == python_accepts(kind, data), (kind, c_ok, data[:64].hex())


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("field"), st.integers(0, 10**6), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("byte"), st.integers(0, 10**6), st.integers(0, 255)),
)


def mutate(kind: str, ops) -> bytes:
    data = bytearray(VALID[kind])
    for op, pos, val in ops:
        if not data:
            break
        pos %= len(data)
        if op == "flip":
            data[pos] ^= 1 << val
        elif op == "truncate":
            del data[pos:]
        elif op == "field" and pos + 4 <= len(data):
            struct.pack_into("<I", data, pos - pos % 2, val) if pos - pos % 2 + 4 <= len(
                data) else None
        elif op == "byte":
            data[pos] = val
    return recrc(data)


@FUZZ
@given(st.sampled_from(sorted(VALID)), st.lists(mutation, min_size=1, max_size=4))
def test_parsers_agree_on_mutated_blobs(kind, ops):
    agree(kind, mutate(kind, ops))


@FUZZ
@given(st.sampled_from(sorted(VALID)), st.binary(max_size=200))
def test_parsers_agree_on_arbitrary_bytes(kind, data):
    agree(kind, data)
    # the same garbage behind a valid header and CRC
    magic = {"model": blob.MODEL_MAGIC, "dataset": blob.DATASET_MAGIC,
             "config": blob.CONFIG_MAGIC}[kind]
    agree(kind, blob.frame(magic, data))


def test_valid_blobs_are_accepted_by_both():
    for kind, data in VALID.items():
        assert native.parse_status(kind, data) == 0 and python_accepts(kind, data)


def test_fuzz_under_asan_and_ubsan(tmp_path):
    """The same fuzz cases against the ASan/UBSan build of the C parser (a CI step)."""
    import shutil
    import subprocess
    import sys

    import pytest

    if os.environ.get("PRIOT_FUZZ_SAN"):
        pytest.skip("already running under the sanitizers")
    cc = shutil.which("cc") or shutil.which("gcc")
    asan = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True,
                          text=True).stdout.strip() if cc else ""
    if not os.path.isabs(asan):
        skip_or_fail("no libasan.so next to the host C compiler")
    native.build_library(san=True)
    env = dict(os.environ, PRIOT_FUZZ_SAN="1", LD_PRELOAD=asan,
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-k", "not under_asan", __file__], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "runtime error" not in done.stderr and "AddressSanitizer" not in done.stderr
