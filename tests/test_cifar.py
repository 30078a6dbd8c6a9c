"""CIFAR-10 loaders on small fixtures written in the exact standard formats."""
import pickle

import numpy as np
import pytest

from priot.data import cifar
from priot.data import DataError

SHARED = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared/datasets/cifar10-jpeg/train"


def write_batch(path, n, seed, label_offset=0):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [(i + label_offset) % 10 for i in range(n)]
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"fixture", b"labels": labels, b"data": data,
                     b"filenames": [b"x.png"] * n}, f, protocol=2)
    return data, labels


@pytest.fixture
def batches_dir(tmp_path):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    written = [write_batch(d / n, 4, i, i) for i, n in enumerate(cifar.TRAIN_BATCHES)]
    written.append(write_batch(d / cifar.TEST_BATCH, 3, 99))
    return d, written


def test_batches_load_in_order_with_chw_layout(batches_dir):
    d, written = batches_dir
    x, y, sha = cifar.load_batches(d)
    assert x.shape == (23, 3, 32, 32) and x.dtype == np.uint8 and y.shape == (23,)
    first_data, first_labels = written[0]
    # red plane first: pixel (0, 0) red is byte 0, green byte 1024, blue byte 2048
    assert x[0, 0, 0, 0] == first_data[0, 0] and x[0, 1, 0, 0] == first_data[0, 1024]
    assert x[0, 2, 31, 31] == first_data[0, 3071]
    assert list(y[:4]) == first_labels
    assert len(sha) == 64 and cifar.load_batches(d)[2] == sha


def test_missing_batch_is_named(batches_dir):
    d, _ = batches_dir
    (d / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3"):
        cifar.load_batches(d)


@pytest.mark.parametrize("payload, words", [
    ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "3072"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "1 labels for 2"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]}, "0..9"),
    ({b"labels": [0]}, "missing"),
    ([1, 2, 3], "dict"),
])
def test_malformed_batches_are_refused(tmp_path, payload, words):
    p = tmp_path / "data_batch_1"
    p.write_bytes(pickle.dumps(payload))
    with pytest.raises(DataError, match=words):
        cifar.read_batch(p)


def test_truncated_and_hostile_pickles_are_refused(tmp_path):
    good = tmp_path / "good"
    write_batch(good, 2, 0)
    cut = tmp_path / "cut"
    cut.write_bytes(good.read_bytes()[:500])
    with pytest.raises(DataError, match="not a CIFAR-10 python batch"):
        cifar.read_batch(cut)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil"
    evil.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DataError, match="forbidden"):
        cifar.read_batch(evil)


def test_image_folder_reads_classes_in_order(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in cifar.CLASSES:
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                tmp_path / name / f"{i:04d}.png")
    x, y, _ = cifar.load_image_folder(tmp_path)
    assert x.shape == (20, 3, 32, 32) and list(y) == [i // 2 for i in range(20)]
    (tmp_path.parent / "top").mkdir()   # <dir>/train/<class>/... is found too
    (tmp_path.parent / "top" / "train").symlink_to(tmp_path)
    assert np.array_equal(cifar.load_image_folder(tmp_path.parent / "top")[0], x)
    first = np.asarray(Image.open(tmp_path / "airplane" / "0000.png")).transpose(2, 0, 1)
    assert np.array_equal(x[0], first)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "cat" / "0009.png")
    with pytest.raises(DataError, match="16x16"):
        cifar.load_image_folder(tmp_path)


def test_image_folder_refuses_unknown_classes(tmp_path):
    (tmp_path / "airplanes").mkdir()
    with pytest.raises(DataError, match="unknown class folders"):
        cifar.load_image_folder(tmp_path)


def test_download_offline_gives_a_clear_error(tmp_path, monkeypatch):
    import urllib.error

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(cifar.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="offline"):
        cifar.download_cifar10(tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared CIFAR-10 JPEG copy not present")
def test_shared_jpeg_copy_loads():
    x, y, _ = cifar.load_image_folder(SHARED, per_class=3)
    assert x.shape == (30, 3, 32, 32) and set(y) == set(range(10))
