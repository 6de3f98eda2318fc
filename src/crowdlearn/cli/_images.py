"""``crowdlearn fit --images``: the options, and the items from
:func:`crowdlearn.datasets.image_items.load_image_items`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_image_arguments", "read_images"]


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
    g.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="where decoded images are cached (default: $CROWDLEARN_CACHE/images, "
                   "else $XDG_CACHE_HOME/crowdlearn/images, else ~/.cache/crowdlearn/images); "
                   "never the data folder")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="random crops (4-pixel padding, images up to 64 pixels) and horizontal "
                   "flips of the training images")


def _image_folder(args: argparse.Namespace) -> Path:
    if args.images:
        return Path(args.images)
    data = Path(args.data)
    return data if data.is_dir() else data.parent


def read_images(args: argparse.Namespace, answers: Any) -> Any:
    """The ``--images`` items of ``answers`` (an :class:`~crowdlearn.datasets.image_items.
    ImageItems`)."""
    from ..datasets.image_items import load_image_items

    return load_image_items(_image_folder(args), answers, size=args.image_size,
                            ids=args.image_ids, augment=args.augment, seed=args.seed,
                            cache_dir=getattr(args, "cache_dir", None))
