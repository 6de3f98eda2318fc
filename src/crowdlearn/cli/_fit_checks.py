"""The cheap checks of ``crowdlearn fit``'s options and output folder, run before any work
(reading the answers, importing torch, starting processes)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _check_options(args: argparse.Namespace) -> None:
    from ..errors import CrowdlearnError

    minimums = (("--n-epochs", args.n_epochs, 1), ("--batch-size", args.batch_size, 1),
                ("--K", args.K, 2), ("--M", args.M, 1), ("--threads", args.threads, 1))
    for name, value, low in minimums:
        if value is not None and value < low:
            raise CrowdlearnError(f"{name} must be at least {low}, got {value}")
    if not args.lr > 0:
        raise CrowdlearnError(f"--lr must be positive, got {args.lr}")
    if not 0.0 <= args.val_fraction < 1.0:
        raise CrowdlearnError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        raise CrowdlearnError(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.schedule == "multistep" and not args.milestones:
        raise CrowdlearnError("--schedule multistep needs --milestones")
    if (args.features is None) == (args.images is None):
        raise CrowdlearnError("give the items with --features FILE or --images [FOLDER] "
                              "(one of them)")
    if args.test_labels and not args.test:
        raise CrowdlearnError("--test-labels needs --test FILE")
    if args.images is not None and args.test:
        raise CrowdlearnError("with --images the test set is the image folder's test split; "
                              "--test is for feature tables")
    if args.image_size is not None and args.image_size < 1:
        raise CrowdlearnError(f"--image-size must be at least 1, got {args.image_size}")


def _check_out(out: Path, force: bool) -> None:
    from ..errors import CrowdlearnError
    from ..io._atomic import check_writable

    check_writable(out, option="-o")  # before any work: an unwritable -o fails at once
    if out.exists() and not out.is_dir():
        raise CrowdlearnError(f"{out}: exists and is not a folder")
    if out.is_dir() and not force and any(out.iterdir()):
        raise CrowdlearnError(f"{out}: folder exists and is not empty (use --force to "
                              "replace it)")
