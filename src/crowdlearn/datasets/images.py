"""Image data sets decoded once into ``uint8`` arrays, with an on-disk ``.npy`` cache.

Three loaders return an :class:`ImageSet` of ``uint8`` arrays in the ``(N, C, H, W)`` layout that
:class:`~crowdlearn.deep.CrowdData` and :mod:`crowdlearn.deep.augment` expect (normalisation and
augmentation then happen batch by batch on the training device):

* :func:`load_cifar10` — the CIFAR-10 "python version" pickle batches (Krizhevsky, *Learning
  Multiple Layers of Features from Tiny Images*, tech. report, University of Toronto, 2009):
  50,000 training and 10,000 test images of 3 x 32 x 32. The crowd answers of CIFAR-10H (Peterson,
  Battleday, Griffiths & Russakovsky, ICCV 2019) label the 10,000 *test* images, in
  ``test_batch`` order: task ``t`` is ``test_x[t]``.
* :func:`load_mnist` — the MNIST idx files (LeCun, Bottou, Bengio & Haffner, "Gradient-based
  learning applied to document recognition", Proc. IEEE 86(11), 1998), raw or gzip-compressed;
  Fashion-MNIST and the other idx-format sets read the same way.
* :func:`load_image_folder` — folders of class folders: the layout that peerannot's installers
  write (``train/<class>/*.png`` + ``val/`` + ``test/``; Lefort, Charlier, Joly & Salmon,
  *Peerannot: classification for crowdsourced image datasets with Python*, Computo 2024) and
  Food-11 (Singla, Yuan & Ebrahimi, "Food/Non-food image classification and food categorization
  using pre-trained GoogLeNet model", MADiMa 2016: ``training/``, ``validation/``,
  ``evaluation/``), both its original flat files ``<class>_<n>.jpg`` and the Kaggle variant with
  one sub-folder per class. (Food-101, Bossard, Guillaumin & Van Gool, ECCV 2014, lists its
  splits in ``meta/train.txt`` instead; it is not a folder-of-class-folders layout.)

**Cache.** Decoding 50,000 PNGs or unpickling CIFAR takes seconds to minutes; it is done once. The
arrays are saved as ``.npy`` files in ``<folder>/.cache/<loader>[-<parameters>]/``, where
``<folder>`` is the folder given to the loader (so that the upstream files' own folder, such as
``raw/cifar-10-batches-py/``, is left as it is), written atomically next to a ``fingerprint.json``
that records the size and modification time of every source file; later calls memory-map them
(copy-on-write: the arrays are writable, the cache never changes). Any change of a source file
(size, mtime, a file added or removed) invalidates the entry and the data are decoded again.
``cache=False`` skips the cache; ``cache_dir=`` puts it elsewhere (a read-only data folder); a
cache that cannot be written only warns.

Every problem with the input (a missing or corrupt file, a wrong magic number, images of mixed
sizes) is a one-line :class:`~crowdlearn.errors.DataError` naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import re
import tarfile
import warnings
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import DataError
from ..io._atomic import atomic_dir

__all__ = [
    "CIFAR10_CLASSES", "FOOD11_CLASSES", "IMAGE_EXTENSIONS", "ImageSet", "load_cifar10",
    "load_image_folder", "load_mnist",
]

PathLike = str | os.PathLike[str]

CIFAR10_CLASSES: tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                    "horse", "ship", "truck")
"""The CIFAR-10 class names, in label order (as in ``batches.meta``)."""

FOOD11_CLASSES: tuple[str, ...] = ("Bread", "Dairy product", "Dessert", "Egg", "Fried food", "Meat",
                                   "Noodles-Pasta", "Rice", "Seafood", "Soup", "Vegetable-Fruit")
"""The Food-11 classes in label order, spelled as the Kaggle variant's folders (whose sorted order
is the label order), so that both variants give the same class names."""

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm",
                                     ".tif", ".tiff", ".webp")
"""File name endings (any case) that :func:`load_image_folder` decodes; other files are skipped."""

CACHE_FOLDER = ".cache"
_CACHE_VERSION = 1
_ARRAYS = ("train_x", "train_y", "train_ids", "test_x", "test_y", "test_ids",
           "val_x", "val_y", "val_ids")
_SPLIT_NAMES = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation"),
    "test": ("test", "evaluation", "eval", "testing"),
}


# ---------------------------------------------------------------------------- ImageSet
@dataclass(eq=False, repr=False, kw_only=True)
class ImageSet:
    """Decoded images of a data set: ``uint8`` arrays ``(N, C, H, W)`` and ``int64`` labels.

    Attributes
    ----------
    train_x, test_x, val_x:
        Images of each split, ``uint8`` ``(N, C, H, W)``; ``val_x`` is ``None`` when the data set
        has no validation split. Arrays read from the cache are copy-on-write memory maps.
    train_y, test_y, val_y:
        True class index of each image, ``int64`` ``(N,)``.
    classes:
        Class names; label ``k`` is ``classes[k]``.
    train_ids, test_ids, val_ids:
        Task id of each image: its position (``int64``) for CIFAR-10 and MNIST; for image folders,
        the file path relative to the split folder (text, ``"cat/cat-12.png"``), or the
        peerannot task index with ``ids="index"``.
    source:
        The folder (or archive) the images were read from.
    from_cache:
        Whether the arrays came from the ``.npy`` cache rather than from decoding.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    val_x: np.ndarray | None = None
    val_y: np.ndarray | None = None
    classes: tuple[str, ...]
    train_ids: np.ndarray
    test_ids: np.ndarray
    val_ids: np.ndarray | None = None
    source: str = ""
    from_cache: bool = field(default=False)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(C, H, W)`` of one image."""
        return tuple(int(s) for s in self.train_x.shape[1:])

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits present: ``("train", "test")`` or ``("train", "val", "test")``."""
        return ("train", "val", "test") if self.val_x is not None else ("train", "test")

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, y, ids)`` of split ``name`` (``"train"``, ``"val"`` or ``"test"``)."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {name!r}")
        x, y, ids = (getattr(self, f"{name}_{part}") for part in ("x", "y", "ids"))
        if x is None:
            raise DataError(f"no {name} split", source=self.source)
        return x, y, ids

    def select(self, ids: Sequence[Any] | np.ndarray, split: str = "train"
               ) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels of the tasks ``ids``, in that order (e.g. ``answers.task_ids``).

        Ids match by value as text: the integer ``12`` finds the id ``"12"`` and the reverse (JSON
        keys are text). An id that is not in the split is a :class:`DataError`.
        """
        x, y, known = self.split(split)
        position = {key: i for i, key in enumerate(_id_text(known))}
        wanted = _id_text(np.asarray(ids))
        rows = np.empty(len(wanted), dtype=np.int64)
        for j, key in enumerate(wanted):
            i = position.get(key)
            if i is None:
                raise DataError(f"task {key!r} has no image in the {split} split",
                                source=self.source, where=f"position {j}", field="task")
            rows[j] = i
        return np.asarray(x[rows]), np.asarray(y[rows])

    def __repr__(self) -> str:
        shapes = ", ".join(f"{s}={tuple(getattr(self, f'{s}_x').shape)}" for s in self.splits)
        cached = ", from cache" if self.from_cache else ""
        return (f"ImageSet({self.source!r}, {self.n_classes} classes, {shapes}{cached})")


def _id_text(ids: np.ndarray) -> list[str]:
    ids = np.asarray(ids)
    if ids.dtype.kind == "f" and np.all(np.isfinite(ids)) and np.all(ids == np.round(ids)):
        ids = ids.astype(np.int64)
    return [str(v) for v in ids.tolist()]


# ---------------------------------------------------------------------------- cache
def _entry_folder(root: Path, cache_dir: PathLike | None, name: str) -> Path:
    if cache_dir is None:
        return root / CACHE_FOLDER / name
    # a shared cache folder: tell data sets apart by their resolved location
    digest = hashlib.sha1(str(root.resolve()).encode("utf-8")).hexdigest()[:10]
    return Path(cache_dir) / f"{name}-{digest}"


def _entry_name(loader: str, params: dict[str, Any]) -> str:
    parts = [loader] + [f"{k}={v}" for k, v in params.items() if v is not None]
    return re.sub(r"[^\w.=-]", "_", "-".join(parts))


def _fingerprint(root: Path, files: Sequence[Path]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for f in files:
        try:
            st = f.stat()
        except OSError as exc:
            raise DataError(f"cannot read ({exc.strerror or exc})", source=str(f)) from exc
        try:
            key = f.relative_to(root).as_posix()
        except ValueError:
            key = str(f)
        out[key] = [int(st.st_size), int(st.st_mtime_ns)]
    return out


def _read_entry(entry: Path, stamp: dict[str, Any]) -> dict[str, Any] | None:
    """The cached arrays and metadata when ``entry`` holds the same ``stamp``, else ``None``."""
    try:
        stored = json.loads((entry / "fingerprint.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("stamp") != stamp:
        return None
    try:
        arrays = {
            name: np.load(entry / f"{name}.npy", mmap_mode="c", allow_pickle=False)
            for name in stored["arrays"]
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {"arrays": arrays, "meta": stored.get("meta", {})}


def _write_entry(entry: Path, stamp: dict[str, Any], arrays: dict[str, np.ndarray],
                 meta: dict[str, Any]) -> None:
    with atomic_dir(entry) as tmp:
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
        doc = {"stamp": stamp, "arrays": sorted(arrays), "meta": meta}
        (tmp / "fingerprint.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")


def _through_cache(
    loader: str,
    params: dict[str, Any],
    folder: PathLike,
    source: Path,
    files: Sequence[Path],
    decode: Callable[[], ImageSet],
    *,
    cache: bool,
    cache_dir: PathLike | None,
    extra_stamp: dict[str, Any] | None = None,
) -> ImageSet:
    """Return ``decode()``, through the cache in ``folder/.cache/`` when ``cache`` is true.

    ``folder`` is the loader's argument (its parent for an archive): the cache stays out of the
    upstream files' own folders (``raw/``); ``source`` is where the files were found.
    """
    if not cache:
        return decode()
    base = Path(folder)
    base = base.parent if base.is_file() else base
    entry = _entry_folder(base, cache_dir, _entry_name(loader, params))
    stamp = {"version": _CACHE_VERSION, "loader": loader, "params": params,
             "files": _fingerprint(base, files), **(extra_stamp or {})}
    hit = _read_entry(entry, stamp)
    if hit is not None:
        a, meta = hit["arrays"], hit["meta"]
        return ImageSet(
            train_x=a["train_x"], train_y=a["train_y"], test_x=a["test_x"], test_y=a["test_y"],
            val_x=a.get("val_x"), val_y=a.get("val_y"), classes=tuple(meta["classes"]),
            train_ids=a["train_ids"], test_ids=a["test_ids"], val_ids=a.get("val_ids"),
            source=str(source), from_cache=True,
        )
    data = decode()
    arrays = {name: getattr(data, name) for name in _ARRAYS if getattr(data, name) is not None}
    try:
        _write_entry(entry, stamp, arrays, {"classes": list(data.classes)})
    except OSError as exc:
        warnings.warn(f"{entry}: could not write the image cache ({exc}); the images will be "
                      "decoded again next time (pass cache_dir= to put the cache elsewhere)",
                      stacklevel=3)
    return data


# ---------------------------------------------------------------------------- CIFAR-10
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
        Keep the decoded arrays in ``folder/.cache/cifar10/`` (for the archive: next to it) and
        memory-map them on later calls; rebuilt when a source file changes.
    cache_dir:
        Put the cache there instead (for a read-only data folder).

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


# ---------------------------------------------------------------------------- MNIST
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
        The ``.npy`` cache, as for :func:`load_cifar10` (entry ``.cache/mnist/``).

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


# ---------------------------------------------------------------------------- image folders
def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _visible(entries: Sequence[os.DirEntry[str]]) -> list[os.DirEntry[str]]:
    return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def _find_split(root: Path, split: str) -> Path | None:
    for name in _SPLIT_NAMES[split]:
        if (root / name).is_dir():
            return root / name
    return None


def _find_image_root(folder: Path) -> Path:
    _require_folder(folder)
    if _find_split(folder, "train") is not None:
        return folder
    with os.scandir(folder) as it:
        subs = [Path(e.path) for e in _visible(list(it)) if e.is_dir()]
    inside = [s for s in subs if _find_split(s, "train") is not None]
    if len(inside) == 1:
        return inside[0]
    raise DataError(
        "no train/ (or training/) folder of class folders here"
        + (f" (several candidates: {', '.join(s.name for s in inside)})" if inside else ""),
        source=str(folder),
    )


_FLAT_NAME = re.compile(r"^(\d+)_")


def _scan_split(split_dir: Path) -> tuple[list[Path], list[str | int], list[str]]:
    """``(files, labels, class folders)``: class names (folder layout) or ints (flat layout)."""
    with os.scandir(split_dir) as it:
        entries = _visible(list(it))
    dirs = [e for e in entries if e.is_dir()]
    images = [e for e in entries if e.is_file() and _is_image(e.name)]
    files: list[Path] = []
    labels: list[str | int] = []
    if dirs:
        if images:
            raise DataError("image file outside the class folders (expected "
                            f"{split_dir.name}/<class>/<image>)", source=images[0].path)
        for d in dirs:
            for sub, names in _walk_images(Path(d.path)):
                files.extend(sub / n for n in names)
                labels.extend([d.name] * len(names))
        if not files:
            raise DataError("no images in the class folders", source=str(split_dir))
        return files, labels, [d.name for d in dirs]
    for e in images:  # Food-11's original flat layout: <class index>_<n>.jpg
        m = _FLAT_NAME.match(e.name)
        if m is None:
            raise DataError("expected class sub-folders, or file names <class index>_<n>.<ext> "
                            "(Food-11)", source=e.path)
        files.append(Path(e.path))
        labels.append(int(m.group(1)))
    if not files:
        raise DataError("no images (expected <class>/<image> files)", source=str(split_dir))
    return files, labels, []


def _walk_images(folder: Path) -> list[tuple[Path, list[str]]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        names = sorted(n for n in filenames if not n.startswith(".") and _is_image(n))
        if names:
            out.append((Path(dirpath), names))
    return out


_INDEX_NAME = re.compile(r"(?:^|-)(\d+)$")


def _peerannot_index(path: Path) -> int:
    m = _INDEX_NAME.search(path.stem)
    if m is None:
        raise DataError("no task index in the file name (peerannot names images "
                        "<name>-<index>.<ext>; use ids='path' otherwise)", source=str(path))
    return int(m.group(1))


def _size_hw(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        hw = (int(size), int(size))
    else:
        vals = tuple(int(s) for s in size)
        if len(vals) != 2:
            raise ValueError(f"size must be an int or (height, width), got {size!r}")
        hw = (vals[0], vals[1])
    if min(hw) < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return hw


def _decode_image(path: Path, out: np.ndarray, size: tuple[int, int] | None,
                  expected: tuple[int, int]) -> tuple[int, int] | None:
    """Decode ``path`` to RGB into ``out`` ``(3, H, W)``; its (h, w) when it has the wrong size."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if size is None and (im.height, im.width) != expected:
                return (im.height, im.width)
            rgb = im.convert("RGB")
            if size is not None and (rgb.height, rgb.width) != size:
                rgb = rgb.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            out[...] = np.asarray(rgb).transpose(2, 0, 1)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"not a readable image ({_one_line(exc)})", source=str(path)) from exc
    return None


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return (im.height, im.width)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"not a readable image ({_one_line(exc)})", source=str(path)) from exc


def _decode_image_folder(root: Path, splits: dict[str, tuple[list[Path], np.ndarray, np.ndarray]],
                         classes: tuple[str, ...], size: tuple[int, int] | None,
                         workers: int | None) -> ImageSet:
    first = splits["train"][0][0]
    expected = size if size is not None else _image_size(first)
    n_workers = workers if workers is not None else min(8, os.cpu_count() or 1)
    arrays: dict[str, np.ndarray] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, n_workers))
    try:
        for split, (files, labels, ids) in splits.items():
            x = np.empty((len(files), 3, *expected), dtype=np.uint8)

            def one(i: int, files: list[Path] = files, x: np.ndarray = x) -> tuple[int, int] | None:
                return _decode_image(files[i], x[i], size, expected)

            for i, wrong in enumerate(pool.map(one, range(len(files)))):
                if wrong is not None:
                    raise DataError(
                        f"image is {wrong[0]}x{wrong[1]} (height x width) but {first} is "
                        f"{expected[0]}x{expected[1]}: images must have one size, or pass size= "
                        "to resize them", source=str(files[i]),
                    )
            arrays[f"{split}_x"], arrays[f"{split}_y"], arrays[f"{split}_ids"] = x, labels, ids
    finally:  # on an error, do not decode the rest of the data set first
        pool.shutdown(wait=True, cancel_futures=True)
    if "test_x" not in arrays:  # no test split: empty arrays of the right shape
        arrays["test_x"] = np.empty((0, 3, *expected), dtype=np.uint8)
        arrays["test_y"] = np.empty(0, dtype=np.int64)
        arrays["test_ids"] = np.empty(0, dtype=arrays["train_ids"].dtype)
    return ImageSet(
        train_x=arrays["train_x"], train_y=arrays["train_y"], test_x=arrays["test_x"],
        test_y=arrays["test_y"], val_x=arrays.get("val_x"), val_y=arrays.get("val_y"),
        classes=classes, train_ids=arrays["train_ids"], test_ids=arrays["test_ids"],
        val_ids=arrays.get("val_ids"), source=str(root),
    )


def load_image_folder(
    folder: PathLike,
    *,
    size: int | tuple[int, int] | None = None,
    ids: Literal["path", "index"] = "path",
    cache: bool = True,
    cache_dir: PathLike | None = None,
    workers: int | None = None,
) -> ImageSet:
    """Load a folder of split folders of class folders (peerannot, Food-11, ImageFolder style).

    Layouts read:

    * ``train/<class>/<image>``, optionally ``val/`` and ``test/`` alike — peerannot's installers
      (CIFAR-10H, LabelMe, ...) and torchvision's ``ImageFolder``; class folders may nest
      sub-folders;
    * Food-11: ``training/``, ``validation/``, ``evaluation/``, either with class sub-folders
      (the Kaggle variant) or flat files ``<class index>_<n>.jpg`` (the original archive, whose
      classes are then :data:`FOOD11_CLASSES`; other flat sets get ``"0"``, ``"1"``, ...);
    * ``folder`` may also be a parent holding exactly one such data set folder.

    Split folders may be spelled ``train``/``training``, ``val``/``valid``/``validation``,
    ``test``/``evaluation``/``eval``/``testing``; only the training split is required (no test
    split gives empty test arrays). Hidden files and folders (``.cache``) and files that are not
    images (:data:`IMAGE_EXTENSIONS`) are skipped.

    Parameters
    ----------
    folder:
        The data set folder.
    size:
        Resize every image to ``size`` (an int for square images, or ``(height, width)``) with
        bilinear interpolation. Without it, all images must have the size of the first training
        image: a different one is a :class:`DataError` naming the file and both sizes.
    ids:
        Task ids of the images. ``"path"`` (default): the file path relative to its split folder,
        ``"<class>/<file>"`` — unique and readable whatever the naming. ``"index"``: the integer
        at the end of the file name, after the last ``-`` (``cat-12.png`` is task 12), which is
        how peerannot matches images to the tasks of its ``answers.json``; a file name without
        one, or two files with one index, is a :class:`DataError`.
    cache, cache_dir:
        The ``.npy`` cache, as for :func:`load_cifar10` (entry ``.cache/image_folder-size=HxW-...``
        of the data set folder).
    workers:
        Threads decoding images (Pillow releases the GIL while decoding); default ``min(8, CPUs)``.

    Returns
    -------
    ImageSet
        ``uint8`` RGB images ``(N, 3, H, W)``; classes are the sorted names of the class folders of
        all splits; within a split, images are ordered by class, then by path.
    """
    if ids not in ("path", "index"):
        raise ValueError(f"ids must be 'path' or 'index', got {ids!r}")
    hw = _size_hw(size)
    root = _find_image_root(Path(folder))
    scanned: dict[str, tuple[Path, list[Path], list[str | int], list[str]]] = {}
    for split in ("train", "val", "test"):
        split_dir = _find_split(root, split)
        if split_dir is not None:
            scanned[split] = (split_dir, *_scan_split(split_dir))
    flat = {split: not s[3] for split, s in scanned.items()}
    if len(set(flat.values())) > 1:
        odd = next(s for s, f in flat.items() if f != flat["train"])
        raise DataError("this split has " + ("flat files" if flat[odd] else "class folders")
                        + " but the training split does not", source=str(scanned[odd][0]))
    if flat["train"]:
        top = max(int(lab) for s in scanned.values() for lab in s[2])
        train_name = scanned["train"][0].name
        classes = (FOOD11_CLASSES if train_name == "training" and top < len(FOOD11_CLASSES)
                   else tuple(str(k) for k in range(top + 1)))
    else:
        classes = tuple(sorted({c for s in scanned.values() for c in s[3]}))
    index = {c: k for k, c in enumerate(classes)}

    splits: dict[str, tuple[list[Path], np.ndarray, np.ndarray]] = {}
    all_files: list[Path] = []
    for split, (split_dir, files, labels, _) in scanned.items():
        y = np.array([lab if isinstance(lab, int) else index[lab] for lab in labels],
                     dtype=np.int64)
        if ids == "path":
            task_ids = np.array([f.relative_to(split_dir).as_posix() for f in files], dtype=str)
        else:
            task_ids = np.array([_peerannot_index(f) for f in files], dtype=np.int64)
            seen: dict[int, Path] = {}
            for f, t in zip(files, task_ids.tolist(), strict=True):
                if t in seen:
                    raise DataError(f"task index {t} is also the index of {seen[t]}",
                                    source=str(f))
                seen[t] = f
        splits[split] = (files, y, task_ids)
        all_files.extend(files)

    params = {"size": None if hw is None else f"{hw[0]}x{hw[1]}", "ids": ids}
    return _through_cache(
        "image_folder", params, folder, root, all_files,
        lambda: _decode_image_folder(root, splits, classes, hw, workers),
        cache=cache, cache_dir=cache_dir, extra_stamp={"classes": list(classes)},
    )


# ---------------------------------------------------------------------------- helpers
def _require_folder(folder: Path) -> None:
    if not folder.exists():
        raise DataError("no such folder", source=str(folder))
    if not folder.is_dir():
        raise DataError("not a folder", source=str(folder))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
