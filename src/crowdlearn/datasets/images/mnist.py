"""MNIST and the other idx-format sets: :func:`load_mnist` reads the idx files, raw or gzipped."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import DataError
from .cache import _through_cache
from .helpers import PathLike, _one_line, _require_folder
from .imageset import ImageSet

_MNIST_FILES = {
    "train_x": ("train-images-idx3-ubyte", 2051),
    "train_y": ("train-labels-idx1-ubyte", 2049),
    "test_x": ("t10k-images-idx3-ubyte", 2051),
    "test_y": ("t10k-labels-idx1-ubyte", 2049),
}


def _mnist_variants(stem: str) -> list[str]:
    dotted = stem.replace("-idx", ".idx")  # the Kaggle spelling: train-images.idx3-ubyte
    return [stem, f"{stem}.gz", dotted, f"{dotted}.gz"]


def _find_mnist(folder: Path) -> dict[str, Path]:
    _require_folder(folder)
    candidates = [folder, folder / "raw", folder / "MNIST" / "raw", folder / "MNIST"]
    for cand in candidates:
        if any((cand / name).is_file() for name in _mnist_variants(_MNIST_FILES["train_x"][0])):
            found = {}
            for key, (stem, _) in _MNIST_FILES.items():
                path = next((cand / n for n in _mnist_variants(stem) if (cand / n).is_file()), None)
                if path is None:
                    raise DataError(f"missing MNIST file {stem}[.gz]", source=str(cand / stem))
                found[key] = path
            return found
    raise DataError(
        "no MNIST idx files here (train-images-idx3-ubyte[.gz] ...), nor in raw/ or MNIST/raw/",
        source=str(folder),
    )


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """An idx array (unsigned bytes), checking the magic number and the length."""
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read ({_one_line(exc)})", source=str(path)) from exc
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"too short for an idx header ({len(raw)} bytes)", source=str(path))
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        what = "images (idx3)" if magic == 2051 else "labels (idx1)"
        raise DataError(f"magic number {found}, expected {magic} for {what}", source=str(path),
                        where="header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != expected:
        raise DataError(f"{len(raw) - header} bytes of data, expected {expected} for shape "
                        f"{dims}", source=str(path))
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _decode_mnist(files: dict[str, Path], root: Path) -> ImageSet:
    out: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        x = _read_idx(files[f"{split}_x"], 2051)
        y = _read_idx(files[f"{split}_y"], 2049)
        if len(x) != len(y):
            raise DataError(f"{len(y)} labels for {len(x)} images in "
                            f"{files[f'{split}_x'].name}", source=str(files[f"{split}_y"]))
        out[f"{split}_x"] = x[:, None].copy()  # (N, 1, H, W), writable
        out[f"{split}_y"] = y.astype(np.int64)
    if out["train_x"].shape[1:] != out["test_x"].shape[1:]:
        raise DataError(f"test images are {out['test_x'].shape[2:]}, training images "
                        f"{out['train_x'].shape[2:]}", source=str(files["test_x"]))
    top = max((int(out[k].max()) for k in ("train_y", "test_y") if len(out[k])), default=0)
    return ImageSet(
        train_x=out["train_x"], train_y=out["train_y"], test_x=out["test_x"],
        test_y=out["test_y"], classes=tuple(str(k) for k in range(max(10, top + 1))),
        train_ids=np.arange(len(out["train_x"]), dtype=np.int64),
        test_ids=np.arange(len(out["test_x"]), dtype=np.int64), source=str(root),
    )


def load_mnist(folder: PathLike, *, classes: Sequence[str] | None = None, cache: bool = True,
               cache_dir: PathLike | None = None) -> ImageSet:
    """Load MNIST (LeCun et al. 1998) from its idx files.

    Parameters
    ----------
    folder:
        The folder of ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each raw or ``.gz``; the
        ``train-images.idx3-ubyte`` spelling too), or a parent with them in ``raw/`` or
        ``MNIST/raw/`` (torchvision's layout). Uncompressed files are preferred when both exist.
    classes:
        Class names (Fashion-MNIST's, say); default ``"0"`` .. ``"9"`` (more digits when the labels
        go beyond 9).
    cache, cache_dir:
        The ``.npy`` cache, as for :func:`load_cifar10` (entry ``mnist-<hash>``).

    Returns
    -------
    ImageSet
        ``uint8`` images ``(N, 1, 28, 28)``, ``int64`` labels, positional ids; no validation split.

    The headers are parsed as big-endian integers; the magic numbers must be 2051 (images) and
    2049 (labels) and the data length must match the dimensions.
    """
    files = _find_mnist(Path(folder))
    root = files["train_x"].parent
    data = _through_cache("mnist", {}, folder, root, list(files.values()),
                          lambda: _decode_mnist(files, root), cache=cache, cache_dir=cache_dir)
    if classes is not None:
        classes = tuple(str(c) for c in classes)
        top = max(int(data.train_y.max(initial=0)), int(data.test_y.max(initial=0)))
        if len(classes) <= top:
            raise DataError(f"{len(classes)} class names for labels up to {top}",
                            source=data.source, field="classes")
        data.classes = classes
    return data
