"""CIFAR-10: :func:`load_cifar10` reads the python pickle batches, from a folder or the archive.

The pickles are read by a restricted unpickler (:class:`_SafeUnpickler`) that builds only
numbers, text, containers and numpy arrays.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from .cache import _through_cache
from .helpers import PathLike, _one_line, _require_folder
from .imageset import ImageSet

CIFAR10_CLASSES: tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                    "horse", "ship", "truck")
"""The CIFAR-10 class names, in label order (as in ``batches.meta``)."""


_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_TAR = "cifar-10-python.tar.gz"
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_FILES = (*_CIFAR_TRAIN, "test_batch", "batches.meta")

# globals a CIFAR pickle may name: numpy arrays (data) and latin-1 bytes (Python 3 protocol 2)
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # protocol 5
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}
_NUMPY2 = int(np.__version__.split(".")[0]) >= 2


class _SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only containers, numbers, text, bytes and numpy arrays."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        modules = [module]
        if module.startswith("numpy.core.") and _NUMPY2:
            modules.insert(0, "numpy._core." + module[len("numpy.core."):])
        elif module.startswith("numpy._core.") and not _NUMPY2:
            modules.append("numpy.core." + module[len("numpy._core."):])
        for mod in modules:
            try:
                return super().find_class(mod, name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"cannot find {module}.{name}")


class _CifarSource:
    """The seven CIFAR-10 files, in a folder or inside ``cifar-10-python.tar.gz``."""

    def __init__(self, folder: Path | None = None, tar: Path | None = None) -> None:
        self.folder, self.tar = folder, tar

    @property
    def root(self) -> Path:
        return self.folder if self.folder is not None else self.tar.parent  # type: ignore[union-attr]

    def files(self) -> list[Path]:
        if self.tar is not None:
            return [self.tar]
        assert self.folder is not None
        paths = [self.folder / name for name in _CIFAR_FILES]
        for p in paths:
            if not p.is_file():
                raise DataError("missing CIFAR-10 batch file", source=str(p))
        return paths

    def name(self, member: str) -> str:
        if self.tar is not None:
            return f"{self.tar}:{_CIFAR_FOLDER}/{member}"
        return str(self.folder / member)  # type: ignore[operator]

    def read(self, member: str) -> bytes:
        if self.folder is not None:
            try:
                return (self.folder / member).read_bytes()
            except OSError as exc:
                raise DataError(f"cannot read ({exc.strerror or exc})",
                                source=self.name(member)) from exc
        try:
            with tarfile.open(self.tar, "r:*") as tf:  # type: ignore[arg-type]
                try:
                    f = tf.extractfile(f"{_CIFAR_FOLDER}/{member}")
                except KeyError:
                    raise DataError("missing from the archive", source=self.name(member)) from None
                if f is None:
                    raise DataError("not a file in the archive", source=self.name(member))
                return f.read()
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise DataError(f"not a readable tar.gz archive ({_one_line(exc)})",
                            source=str(self.tar)) from exc


def _find_cifar10(folder: Path) -> _CifarSource:
    if folder.is_file() and folder.name.endswith((".tar.gz", ".tgz", ".tar")):
        return _CifarSource(tar=folder)
    _require_folder(folder)
    for cand in (folder, folder / _CIFAR_FOLDER, folder / "raw", folder / "raw" / _CIFAR_FOLDER):
        if (cand / "batches.meta").is_file() or (cand / "data_batch_1").is_file():
            return _CifarSource(folder=cand)
    for cand in (folder / _CIFAR_TAR, folder / "raw" / _CIFAR_TAR):
        if cand.is_file():
            return _CifarSource(tar=cand)
    raise DataError(
        f"no CIFAR-10 python batches here ({', '.join(_CIFAR_FILES)}), nor in {_CIFAR_FOLDER}/, "
        f"raw/ or {_CIFAR_TAR}", source=str(folder),
    )


def _unpickle(src: _CifarSource, member: str) -> dict[Any, Any]:
    raw = src.read(member)
    try:
        obj = _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # any unpickling failure means a corrupt file
        raise DataError(f"not a CIFAR-10 python pickle ({_one_line(exc)})",
                        source=src.name(member)) from exc
    if not isinstance(obj, dict):
        raise DataError(f"not a CIFAR-10 batch (a pickled {type(obj).__name__}, expected a dict)",
                        source=src.name(member))
    return obj


def _key(d: dict[Any, Any], key: str, src: _CifarSource, member: str) -> Any:
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    raise DataError("missing key", source=src.name(member), field=key)


def _cifar_batch(src: _CifarSource, member: str) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(src, member)
    data = np.asarray(_key(d, "data", src, member))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"expected uint8 (N, 3072) pixels, got {data.dtype} {data.shape}",
                        source=src.name(member), field="data")
    try:
        labels = np.asarray(_key(d, "labels", src, member), dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"labels are not integers ({_one_line(exc)})", source=src.name(member),
                        field="labels") from exc
    if labels.shape != (len(data),):
        raise DataError(f"{labels.size} labels for {len(data)} images", source=src.name(member),
                        field="labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        bad = int(labels[(labels < 0) | (labels >= len(CIFAR10_CLASSES))][0])
        raise DataError(f"label {bad} is not in 0..9", source=src.name(member), field="labels")
    return data.reshape(-1, 3, 32, 32), labels


def _decode_cifar10(src: _CifarSource) -> ImageSet:
    meta = _unpickle(src, "batches.meta")
    names = _key(meta, "label_names", src, "batches.meta")
    classes = tuple(n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names)
    if len(classes) != len(CIFAR10_CLASSES):
        raise DataError(f"{len(classes)} class names, expected 10",
                        source=src.name("batches.meta"), field="label_names")
    parts = [_cifar_batch(src, name) for name in _CIFAR_TRAIN]
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    test_x, test_y = _cifar_batch(src, "test_batch")
    return ImageSet(
        train_x=np.ascontiguousarray(train_x), train_y=train_y,
        test_x=np.ascontiguousarray(test_x), test_y=test_y, classes=classes,
        train_ids=np.arange(len(train_x), dtype=np.int64),
        test_ids=np.arange(len(test_x), dtype=np.int64), source=str(src.root),
    )


def load_cifar10(folder: PathLike, *, cache: bool = True,
                 cache_dir: PathLike | None = None) -> ImageSet:
    """Load CIFAR-10 (Krizhevsky 2009) from its python pickle batches.

    Parameters
    ----------
    folder:
        The folder of ``data_batch_1`` .. ``data_batch_5``, ``test_batch`` and ``batches.meta``
        (``cifar-10-batches-py/`` of ``cifar-10-python.tar.gz``), its parent, a ``raw/``
        sub-folder holding either, or the ``.tar.gz`` archive itself (read without extracting).
    cache:
        Keep the decoded arrays in the user's cache folder
        (:func:`~crowdlearn.datasets.images.cache.default_cache_dir`, ``images/cifar10-<hash>``)
        and memory-map them on later calls; rebuilt when a source file changes.
    cache_dir:
        Put the cache entries in this folder instead.

    Returns
    -------
    ImageSet
        ``train_x`` ``(50000, 3, 32, 32)`` and ``test_x`` ``(10000, 3, 32, 32)`` ``uint8``, labels
        ``int64``, the ten class names of ``batches.meta``; ids are positions (CIFAR-10H's tasks
        are the test images in order). No validation split.

    Notes
    -----
    The pickles are read by a restricted unpickler that builds only numbers, text, containers
    and numpy arrays, never arbitrary objects.
    """
    src = _find_cifar10(Path(folder))
    return _through_cache("cifar10", {}, folder, src.root, src.files(),
                          lambda: _decode_cifar10(src), cache=cache, cache_dir=cache_dir)
