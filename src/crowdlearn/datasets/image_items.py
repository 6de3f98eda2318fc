"""Image-folder data sets as the items of deep learning from crowds.

:func:`load_image_items` reads an image-folder data set with
:func:`crowdlearn.datasets.images.load_image_folder` (peerannot's
``train/<class>/<name>-<task>.png`` layout, torchvision's ImageFolder, Food-11; decoded once into
its ``.npy`` cache) and matches the training images to the answers' tasks by id: with
``ids="index"`` the integer at the end of the file name (peerannot's convention: ``cat-12.png`` is
task 12 of ``answers.json``), with ``"path"`` the file path relative to the split folder
(``cat/cat-12.png``); ``"auto"`` takes ``"index"`` when the answers' task ids are integers. The
folder's test split, when it has one, is the test set (its class folders give the true labels, in
the answers' class values). The returned transform normalises batches with the training images'
per-channel statistics and, with ``augment``, randomly pads-crops and flips them on the training
device.

>>> items = load_image_items("my-dataset/", answers)                       # doctest: +SKIP
>>> clf = CrowdClassifier("resnet18", transform=items.transform)          # doctest: +SKIP
>>> clf.fit(items.train, answers, X_test=items.test, y_test=items.test.labels)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = ["ImageItems", "load_image_items"]


@dataclass
class ImageItems:
    """Training items aligned to the answers, the test split and the batch transform.

    Attributes
    ----------
    train:
        :class:`~crowdlearn.io.features.Features`, ``uint8`` images ``(N, C, H, W)`` in the
        answers' task order (``extra_ids``: images of tasks without answers).
    test:
        Features of the test split with their true labels (the answers' class values), or
        ``None`` when the folder has no test split.
    transform:
        :class:`~crowdlearn.deep.augment.ImageTransform` for ``CrowdClassifier(transform=...)``.
    info:
        What was read (folder, id rule, shape, counts, statistics), for results files.
    """

    train: Any
    test: Any | None
    transform: Any
    info: dict[str, Any]


def _test_labels(classes: np.ndarray, folder_classes: tuple[str, ...], y: np.ndarray,
                 source: str) -> np.ndarray:
    """The answers' class values of the folder's class indices ``y``.

    Class folders named like the answers' classes are matched by name; otherwise, when the
    answers' classes are the integers ``0 .. K-1`` (peerannot's ``answers.json``), folder ``k``
    in sorted order is class ``k`` (torchvision's ImageFolder order, which peerannot uses).
    """
    from ..errors import DataError

    names = [str(c) for c in classes]
    if set(folder_classes) <= set(names):
        pos = {n: i for i, n in enumerate(names)}
        return classes[np.array([pos[c] for c in folder_classes], dtype=np.int64)[y]]
    ints = classes.dtype.kind in "iu" and np.array_equal(classes, np.arange(len(classes)))
    if ints and len(folder_classes) == len(classes):
        return classes[y]
    shown = ", ".join(folder_classes[:4]) + (", ..." if len(folder_classes) > 4 else "")
    raise DataError(f"class folders ({shown}) match neither the answers' classes by name nor "
                    f"their number ({len(classes)})", source=source)


def load_image_items(folder: str | Path, answers: Any, *, size: int | None = None,
                     ids: Literal["auto", "index", "path"] = "auto", augment: bool = True,
                     seed: int | None = 0, cache_dir: str | Path | None = None) -> ImageItems:
    """Decode the image folder and align its training images to ``answers``' tasks.

    Parameters
    ----------
    folder:
        The image-folder data set (see the module docstring).
    answers:
        The :class:`~crowdlearn.answers.Answers` whose tasks the training images are.
    size:
        Resize every image to ``size`` x ``size`` when decoding (default: as stored).
    ids:
        How images are matched to tasks (module docstring).
    augment:
        Random crops (4-pixel padding, images up to 64 pixels high) and horizontal flips of the
        training batches.
    seed:
        Seed of the augmentation's generator.
    cache_dir:
        Where the decoded images are cached (default: the user's cache folder, see
        :func:`crowdlearn.datasets.images.cache.default_cache_dir`).

    Raises
    ------
    DataError
        When a task has no image (naming the folder and the first missing tasks), or when the
        class folders match neither the answers' class names nor their number.
    """
    from ..deep.augment import ImageTransform, channel_stats
    from ..io.features import Features
    from .images import load_image_folder

    if ids == "auto":
        ids = "index" if np.asarray(answers.task_ids).dtype.kind in "iu" else "path"
    images = load_image_folder(folder, size=size, ids=ids, cache_dir=cache_dir)
    source = str(images.source)
    train = Features(X=images.train_x, task_ids=np.asarray(images.train_ids),
                     source=source, id_col=f"image file ({ids})").align(answers)
    test = None
    if len(images.test_y):
        classes = np.asarray(answers.classes)
        test = Features(X=images.test_x, task_ids=np.asarray(images.test_ids),
                        labels=_test_labels(classes, images.classes, images.test_y, source),
                        source=source, id_col=f"image file ({ids})")
    mean, std = channel_stats(train.X)
    std = tuple(max(s, 1e-3) for s in std)  # a constant channel must not divide by zero
    height = int(train.X.shape[2])
    augment = bool(augment)
    transform = ImageTransform(mean, std, crop_padding=4 if augment and height <= 64 else 0,
                               flip=augment, seed=seed)
    info = {"folder": source, "ids": ids, "shape": list(train.X.shape[1:]),
            "n_images_without_answers": int(len(train.extra_ids)),
            "n_test": 0 if test is None else len(test), "mean": list(mean), "std": list(std),
            "augment": augment, "from_cache": bool(images.from_cache)}
    return ImageItems(train=train, test=test, transform=transform, info=info)
