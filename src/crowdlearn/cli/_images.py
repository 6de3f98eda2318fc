"""Image items for ``crowdlearn fit --images``: an image-folder data set as the training items.

The folder is read by :func:`crowdlearn.datasets.images.load_image_folder` (peerannot's
``train/<class>/<name>-<task>.png`` layout, torchvision's ImageFolder, Food-11) and decoded once
into its ``.npy`` cache. Images are matched to the answers' tasks by id: with ``--image-ids
index`` the integer at the end of the file name (peerannot's convention: ``cat-12.png`` is task
12 of ``answers.json``), with ``path`` the file path relative to the split folder
(``cat/cat-12.png``); ``auto`` takes ``index`` when the answers' task ids are integers. The
folder's test split, when it has one, is the test set (its class folders give the true labels).
Training batches are normalised with the training images' per-channel statistics and, with
``--augment``, randomly padded-cropped and flipped on the training device.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ImageItems", "add_image_arguments", "read_images"]


@dataclass
class ImageItems:
    """Training items (aligned to the answers), the test split and the batch transform."""

    train: Any        # crowdlearn.io.features.Features, uint8 (N, C, H, W) in task order
    test: Any | None  # Features with the true labels (answers' class values), or None
    transform: Any    # crowdlearn.deep.augment.ImageTransform
    info: dict[str, Any]


def add_image_arguments(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--images", nargs="?", const="", default=None, metavar="FOLDER",
                   help="the items are images: an image-folder data set (train/<class>/..., "
                   "optionally test/; peerannot, ImageFolder or Food-11 layout); without a "
                   "value, the answers' own data set folder. Its test split is the test set")
    g.add_argument("--image-size", type=int, default=None, metavar="S",
                   help="resize every image to S x S once, when decoding (default: as stored; "
                   "all images must then have one size)")
    g.add_argument("--image-ids", choices=("auto", "index", "path"), default="auto",
                   help="how images are matched to the answers' tasks: index (the number at "
                   "the end of the file name, peerannot), path (class/file) or auto (index "
                   "when the task ids are integers)")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="random crops (4-pixel padding, images up to 64 pixels) and horizontal "
                   "flips of the training images")


def _image_folder(args: argparse.Namespace) -> Path:
    if args.images:
        return Path(args.images)
    data = Path(args.data)
    return data if data.is_dir() else data.parent


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


def read_images(args: argparse.Namespace, answers: Any) -> ImageItems:
    """Decode the image folder and align its training images to ``answers``' tasks."""
    from ..datasets.images import load_image_folder
    from ..deep.augment import ImageTransform, channel_stats
    from ..io.features import Features

    folder = _image_folder(args)
    ids = args.image_ids
    if ids == "auto":
        ids = "index" if np.asarray(answers.task_ids).dtype.kind in "iu" else "path"
    images = load_image_folder(folder, size=args.image_size, ids=ids)
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
    augment = bool(args.augment)
    transform = ImageTransform(mean, std, crop_padding=4 if augment and height <= 64 else 0,
                               flip=augment, seed=args.seed)
    info = {"folder": source, "ids": ids, "shape": list(train.X.shape[1:]),
            "n_images_without_answers": int(len(train.extra_ids)),
            "n_test": 0 if test is None else len(test), "mean": list(mean), "std": list(std),
            "augment": augment, "from_cache": bool(images.from_cache)}
    return ImageItems(train=train, test=test, transform=transform, info=info)
