"""Folders of class folders: :func:`load_image_folder` (peerannot, Food-11, ImageFolder layouts).

Finding the split folders and the class folders (or Food-11's flat ``<class>_<n>.jpg`` files),
task ids from paths or peerannot's file-name indices, and decoding the images with Pillow in a
thread pool (:func:`_decode_image_folder`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np

from ...errors import DataError
from .cache import _through_cache
from .helpers import PathLike, _one_line, _require_folder
from .imageset import ImageSet

FOOD11_CLASSES: tuple[str, ...] = ("Bread", "Dairy product", "Dessert", "Egg", "Fried food", "Meat",
                                   "Noodles-Pasta", "Rice", "Seafood", "Soup", "Vegetable-Fruit")
"""The Food-11 classes in label order, spelled as the Kaggle variant's folders (whose sorted order
is the label order), so that both variants give the same class names."""

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm",
                                     ".tif", ".tiff", ".webp")
"""File name endings (any case) that :func:`load_image_folder` decodes; other files are skipped."""

_SPLIT_NAMES = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation"),
    "test": ("test", "evaluation", "eval", "testing"),
}


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
        The ``.npy`` cache, as for :func:`load_cifar10` (entry
        ``image_folder-size=HxW-...-<hash>``).
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
