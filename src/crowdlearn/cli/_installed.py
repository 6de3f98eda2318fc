"""``crowdlearn fit`` on an installed data set folder: its items and test labels.

The installed layout (:mod:`crowdlearn.datasets.convert`) keeps the items beside the answers:
``features.npy`` (row ``i`` = task ``i``), ``features_test.npy`` and ``test_labels.npy`` (class
indices of the test rows, in the order of ``metadata.json``'s classes).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def installed_items(args: argparse.Namespace) -> None:
    """Items of an installed data set folder given as the answers (``fit ROOT/music``):
    ``features.npy`` as ``--features`` and ``features_test.npy`` (with ``test_labels.npy``) as
    ``--test``, unless the items are given otherwise."""
    folder = Path(args.data)
    if args.features is not None or args.images is not None or not folder.is_dir():
        return
    if (folder / "features.npy").is_file():
        args.features = str(folder / "features.npy")
        test = folder / "features_test.npy"
        if args.test is None and test.is_file() and (folder / "test_labels.npy").is_file():
            args.test = str(test)


def test_labels_file(args: argparse.Namespace) -> Path | None:
    """``--test-labels``, else ``test_labels.npy`` beside a ``features_test.npy`` --test."""
    if args.test_labels:
        return Path(args.test_labels)
    test = Path(args.test)
    sibling = test.with_name("test_labels.npy")
    if test.name == "features_test.npy" and sibling.is_file():
        return sibling
    return None


def read_test_labels(path: Path, n_rows: int, classes: Any) -> Any:
    """Class names from a ``.npy`` of class indices (``n_rows`` of them) or of class names."""
    import numpy as np

    from ..errors import DataError

    source = str(path)
    if path.suffix.lower() != ".npy":
        raise DataError("--test-labels must be a .npy array of class indices", source=source)
    try:
        labels = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"not a readable .npy array ({' '.join(str(exc).split())})",
                        source=source) from exc
    if labels.ndim != 1 or len(labels) != n_rows:
        raise DataError(f"expected {n_rows} labels (one per test row), got shape {labels.shape}",
                        source=source)
    if labels.dtype.kind not in "iu":
        return labels
    bad = (labels < 0) | (labels >= len(classes))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"class index {int(labels[i])} is outside 0..{len(classes) - 1} (the "
                        f"answers' {len(classes)} classes)", source=source, where=f"row {i}")
    return np.asarray(classes)[labels]
