"""CIFAR-10 for priot: the standard python batches, image-folder trees, and download.

Sources
  * ``batches``: the standard ``cifar-10-batches-py`` directory (``data_batch_1`` ..
    ``data_batch_5`` and, if present, ``test_batch``): pickled dicts with ``b"data"``
    (uint8, N x 3072, the red plane then green then blue, each 32x32 row-major) and
    ``b"labels"`` (N ints 0..9). This is the format users bring.
  * ``folder``: ``<root>/<class name>/<image>`` trees of 32x32 RGB images (PNG/JPEG), the
    common "image folder" layout, with CIFAR-10's class names. The shared JPEG copy of the
    training set on our machines uses it; its pixels differ slightly from the original
    batches (JPEG recompression), which any reported result must say.
  * :func:`download_cifar10` fetches and verifies the official archive when online.

Images are returned as uint8 (N, 3, 32, 32) in CHW order, labels as uint8 (N,).
Every malformed input raises :class:`priot.data.DataError` naming the file and problem.
"""
from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..paths import atomic_write
from .source import SourceImages

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
           "ship", "truck")
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
IMAGE_BYTES = 3 * 32 * 32


class _BatchUnpickler(pickle.Unpickler):
    """CIFAR batches hold only dicts, lists, bytes and numpy arrays; refuse anything else
    so that a crafted file cannot run code."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
                ("numpy", "dtype"), ("numpy._core.multiarray", "_reconstruct"),
                ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"forbidden global {module}.{name}")


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One python batch file -> (images uint8 (N,3,32,32), labels uint8 (N,))."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            d = _BatchUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise DataError(f"{path}: not a CIFAR-10 python batch ({e})") from None
    if not isinstance(d, dict):
        raise DataError(f"{path}: expected a pickled dict, found {type(d).__name__}")
    data = d.get(b"data", d.get("data"))
    labels = d.get(b"labels", d.get("labels"))
    if data is None or labels is None:
        raise DataError(f"{path}: missing 'data' or 'labels' entry")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != IMAGE_BYTES:
        raise DataError(f"{path}: 'data' must be uint8 N x {IMAGE_BYTES}, "
                        f"found {data.dtype} {data.shape}")
    labels = np.asarray(labels)
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path}: {labels.shape[0] if labels.ndim else 0} labels for "
                        f"{data.shape[0]} images")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: labels must be in 0..9, found {labels.min()}..{labels.max()}")
    return data.reshape(-1, 3, 32, 32).copy(), labels.astype(np.uint8)


def load_batches(directory: Path, with_test: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
    """All training batches (and ``test_batch`` if present) of a cifar-10-batches-py dir.

    Returns images, labels and a sha256 over the files read (for cache keys)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory (expected cifar-10-batches-py)")
    names = list(TRAIN_BATCHES) + ([TEST_BATCH] if with_test and
                                   (directory / TEST_BATCH).is_file() else [])
    missing = [n for n in TRAIN_BATCHES if not (directory / n).is_file()]
    if missing:
        raise DataError(f"{directory}: missing {', '.join(missing)}; expected the standard "
                        "cifar-10-batches-py files (or download_cifar10())")
    sha = hashlib.sha256()
    xs, ys = [], []
    for n in names:
        sha.update((directory / n).read_bytes())
        x, y = read_batch(directory / n)
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys), sha.hexdigest()


def load_source(directory: Path) -> SourceImages:
    """A CIFAR-10 directory as a data source: python batches (``test_batch``, if there,
    is the test split) or an image folder (``<dir>/test/<class>``, if there, is the test
    split beside ``<dir>/train/<class>``)."""
    d = Path(directory)
    if (d / "data_batch_1").is_file():
        x, y, sha = load_batches(d, with_test=False)
        info = {"path": str(d), "format": "python batches", "train_files": list(TRAIN_BATCHES)}
        if not (d / TEST_BATCH).is_file():
            return SourceImages(x, y, None, None, sha, info)
        tx, ty = read_batch(d / TEST_BATCH)
        sha = hashlib.sha256((sha + hashlib.sha256((d / TEST_BATCH).read_bytes())
                              .hexdigest()).encode()).hexdigest()
        return SourceImages(x, y, tx, ty, sha, {**info, "test_files": [TEST_BATCH]})
    info = {"path": str(d), "format": "image folder"}
    if (d / "train").is_dir() and (d / "test").is_dir():
        x, y, sha = load_image_folder(d / "train")
        tx, ty, tsha = load_image_folder(d / "test")
        return SourceImages(x, y, tx, ty, hashlib.sha256((sha + tsha).encode()).hexdigest(),
                            {**info, "train_files": ["train/<class>/*"],
                             "test_files": ["test/<class>/*"]})
    x, y, sha = load_image_folder(d)
    return SourceImages(x, y, None, None, sha, {**info, "train_files": ["<class>/*"]})


def load_image_folder(root: Path, per_class: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray, str]:
    """``root/<class>/<file>`` images (32x32 RGB) -> images, labels, sha256 of the files.

    Classes are CIFAR-10's names; files are read in sorted order; ``per_class`` keeps the
    first N of each class (for quick runs)."""
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a directory (expected <root>/<class>/<image> files)")
    subdirs = [p for p in root.iterdir() if p.is_dir()]
    if [p.name for p in subdirs] == ["train"]:   # <root>/train/<class>/...: descend
        root = subdirs[0]
    unknown = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in CLASSES)
    if unknown:
        raise DataError(f"{root}: unknown class folders {unknown}; expected {list(CLASSES)}")
    sha = hashlib.sha256()
    xs, ys = [], []
    for label, name in enumerate(CLASSES):
        folder = root / name
        files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        if not files:
            raise DataError(f"{folder}: no images for class {name!r}")
        for p in files[:per_class]:
            raw = p.read_bytes()
            sha.update(raw)
            try:
                img = Image.open(io.BytesIO(raw)).convert("RGB")
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f"{p}: not a readable image ({e})") from None
            if img.size != (32, 32):
                raise DataError(f"{p}: image is {img.size[0]}x{img.size[1]}, expected 32x32")
            xs.append(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))
            ys.append(label)
    return np.stack(xs), np.asarray(ys, dtype=np.uint8), sha.hexdigest()


def download_cifar10(data_dir: Path, timeout: float = 120) -> Path:
    """Fetch the official python archive, verify its md5, extract the batches atomically.

    Returns the ``cifar-10-batches-py`` directory. Raises DataError when offline."""
    data_dir = Path(data_dir)
    target = data_dir / "cifar-10-batches-py"
    if all((target / n).is_file() for n in TRAIN_BATCHES + (TEST_BATCH,)):
        return target
    try:
        with urllib.request.urlopen(ARCHIVE_URL, timeout=timeout) as r:
            archive = r.read()
    except (urllib.error.URLError, OSError) as e:
        raise DataError(f"could not download CIFAR-10 ({e}); offline? Put the "
                        f"cifar-10-batches-py folder into {data_dir} by hand") from None
    if hashlib.md5(archive).hexdigest() != ARCHIVE_MD5:
        raise DataError("downloaded CIFAR-10 archive fails its md5 check; not extracted")
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if member.isfile() and name in TRAIN_BATCHES + (TEST_BATCH, "batches.meta"):
                atomic_write(target / name, tar.extractfile(member).read())
    return target
