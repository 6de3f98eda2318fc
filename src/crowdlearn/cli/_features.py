"""The items ``crowdlearn fit`` trains and tests on, from ``--features`` and ``--test`` (feature
tables or arrays; images are :mod:`._images`)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ._installed import read_test_labels, test_labels_file


def _columns(items: list[str] | None) -> list[str] | None:
    if not items:
        return None
    cols = [c.strip() for item in items for c in item.split(",") if c.strip()]
    return cols or None


def _id_col(value: str | None) -> str | None:
    if value is None or value.lower() == "auto":
        return "auto"
    if value.lower() == "none":
        return None
    return value


def read_train_features(args: argparse.Namespace, answers: Any) -> Any:
    """The ``--features`` rows of the answers' tasks, without label or answer columns."""
    from ..io.features import read_features

    columns = _columns(args.features_columns)
    id_col = _id_col(args.features_id_col)
    feats = read_features(args.features, answers, id_col=id_col, columns=columns)
    if columns is None and feats.columns is not None:
        # never learn from a label or from the answers' own columns (a numeric 'label' column,
        # a per-answer table passed as features)
        avoid = {"label", "class", "truth", args.label_col, args.worker_col, args.task_col}
        avoid.discard(feats.id_col)
        if avoid & set(feats.columns):
            keep = [c for c in feats.columns if c not in avoid]
            if not keep:
                from ..errors import DataError

                raise DataError("no feature column besides label and answer columns",
                                source=feats.source)
            feats = read_features(args.features, answers, id_col=id_col, columns=keep)
    return feats


def read_test_features(args: argparse.Namespace, train: Any, classes: Any) -> Any:
    """The ``--test`` items (the training feature columns) and their true labels."""
    from ..errors import DataError
    from ..io.features import read_features
    from ..labels import encode_labels

    id_col = _id_col(args.features_id_col)
    columns = list(train.columns) if train.columns is not None else None
    label = args.test_label_col
    test = read_features(args.test, id_col=id_col, columns=columns, label_col=label)
    labels_file = test_labels_file(args)
    if labels_file is not None:
        test = dataclasses.replace(
            test, labels=read_test_labels(labels_file, len(test.X), classes))
    if test.labels is None and label is None:
        # auto-detection takes a 'label' column only when it holds text: try a numeric one
        cols = columns if columns is not None else \
            [c for c in test.columns or () if c != "label"]
        if cols:
            try:
                test = read_features(args.test, id_col=id_col, columns=cols, label_col="label")
            except DataError:  # no such column: reported below
                pass
    if test.labels is None:
        raise DataError("no true-label column (class, label, truth): name it with "
                        "--test-label-col (or give --test-labels FILE for an array)",
                        source=test.source)
    if test.X.shape[1:] != train.X.shape[1:]:
        raise DataError(f"test items have shape {test.X.shape[1:]} but the training items "
                        f"{train.X.shape[1:]}", source=test.source)
    encode_labels(test.labels, classes=classes, source=test.source, field=label or "truth")
    return test
