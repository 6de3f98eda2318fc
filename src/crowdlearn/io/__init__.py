"""Reading and writing crowd answers in the common formats.

Example::

    from crowdlearn.io import read, write

    answers = read("answers.csv")                # task/worker/label table (crowd-kit)
    answers = read("datasets/labelme")           # peerannot folder (answers.json)
    answers = read("data/rte")                   # truth-inference folder (label.csv, truth.csv)
    answers = read("answers.txt", format="crowdlayer")   # CrowdLayer matrix
    write(answers, "out/labelme", format="peerannot")

Formats (:data:`FORMATS`)
-------------------------
``csv``, ``tsv``, ``parquet``
    One row per answer: ``task`` (or ``item``), ``worker``, ``label`` (:mod:`.table`).
``peerannot``
    A folder with ``answers.json``, ``metadata.json`` and a truth file (:mod:`.peerannot`).
``truth-inference``
    A folder with ``label.csv`` (``item,worker,label``) and ``truth.csv`` (:mod:`.table`).
``crowdlayer``
    A (tasks x workers) matrix with ``-1`` for no answer, ``.npy`` or text (:mod:`.crowdlayer`).

Every reader returns an :class:`~crowdlearn.answers.Answers`; every problem with the input is a
one-line :class:`~crowdlearn.errors.DataError` naming the file and the line, key or field.
Every writer writes atomically (:mod:`._atomic`). Writing then reading gives equal answers
(ids, class names, truth), within the limits each format documents.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from ._atomic import atomic_dir, atomic_write
from .crowdlayer import read_crowdlayer, write_crowdlayer
from .detect import FORMATS, detect_format, format_for_write
from .features import read_features
from .peerannot import read_peerannot, write_peerannot
from .table import read_table, read_truth_inference, write_table, write_truth_inference
from .truth import read_truth, sibling_truth, write_truth

if TYPE_CHECKING:
    from ..answers import Answers
    from ..real import RealAnswers

__all__ = [
    "FORMATS",
    "atomic_dir",
    "atomic_write",
    "detect_format",
    "read",
    "read_crowdlayer",
    "read_features",
    "read_peerannot",
    "read_table",
    "read_truth",
    "read_truth_inference",
    "sibling_truth",
    "write",
    "write_crowdlayer",
    "write_peerannot",
    "write_table",
    "write_truth",
    "write_truth_inference",
]


def read(
    source: Any,
    *,
    format: str | None = None,
    task_col: str | None = None,
    worker_col: str = "worker",
    label_col: str = "label",
    truth: Any = None,
    classes: Any = None,
    n_classes: int | None = None,
    duplicates: str = "error",
    name: str | None = None,
    sep: str | None = None,
    kind: str | None = None,
    missing: float | None = None,
) -> Answers | RealAnswers:
    """Read crowd answers from a file, a folder or a pandas DataFrame.

    Parameters
    ----------
    source:
        A path (file or folder) or a DataFrame with task/worker/label columns.
    format:
        One of :data:`FORMATS`; guessed from the path when ``None`` (see
        :func:`~crowdlearn.io.detect.detect_format`).
    task_col, worker_col, label_col:
        Column names of a table (``task_col`` defaults to ``task``, else ``item``).
    truth:
        ``None``: the truth file that belongs to the input, if any (``<stem>.truth.csv`` next to
        a table, ``truth.csv`` in a truth-inference folder, ``truth_<name>.npy`` in a peerannot
        folder, ``<stem>.truth.npy`` next to a matrix); ``False``: no truth; a path to a
        truth file (``task,truth`` table, or ``.npy`` of class indices in task order); a
        ``{task: label}`` mapping or Series.
    classes, n_classes:
        Declared class names / number of classes.
    duplicates:
        Several answers of one worker to one task: ``"error"`` (default), ``"first"``,
        ``"last"`` or ``"all"``.
    name:
        Data set name (default: the file stem, the folder name or peerannot's metadata name).
    sep:
        Field separator of a text table or matrix.
    kind:
        ``"classification"``, ``"regression"`` or ``None`` (detected: real values when a
        table's value column or a matrix holds numbers that are not all whole;
        :mod:`crowdlearn.kinds`). Regression answers come back as a
        :class:`~crowdlearn.real.RealAnswers` (:mod:`crowdlearn.io.real`).
    missing:
        The no-answer marker of a regression CrowdLayer matrix (e.g. ``999999999``).

    Returns
    -------
    Answers or RealAnswers

    Raises
    ------
    DataError
        Missing file, unknown format, or bad content (message names the file and the place).
    """
    fmt = detect_format(source) if format is None else _check_format(format)
    real = _real_kind(source, fmt, kind, missing, label_col, sep, task_col,
                      declared=classes is not None or n_classes is not None)
    if real:
        from .real import read_real

        return read_real(source, fmt, task_col=task_col, worker_col=worker_col,
                         label_col=label_col, truth=truth, missing=missing,
                         duplicates=duplicates, name=name, sep=sep)
    if fmt == "frame" or fmt in ("csv", "tsv", "parquet"):
        return read_table(
            source, task_col=task_col, worker_col=worker_col, label_col=label_col, truth=truth,
            classes=classes, n_classes=n_classes, duplicates=duplicates, name=name, sep=sep,
            format=None if fmt == "frame" else fmt,
        )
    if fmt == "peerannot":
        return read_peerannot(source, truth=truth, classes=classes, n_classes=n_classes,
                              duplicates=duplicates, name=name)
    if fmt == "truth-inference":
        return read_truth_inference(
            source, truth=truth, classes=classes, n_classes=n_classes, duplicates=duplicates,
            name=name, task_col=task_col, worker_col=worker_col, label_col=label_col,
        )
    return read_crowdlayer(source, truth=truth, classes=classes, n_classes=n_classes,
                           name=name, sep=sep)


def write(
    answers: Answers,
    dest: str | os.PathLike[str],
    *,
    format: str | None = None,
    overwrite: bool = True,
) -> Path:
    """Write answers (and their truth) in one of :data:`FORMATS`, atomically.

    Parameters
    ----------
    answers:
        The answers.
    dest:
        Output file (``csv``, ``tsv``, ``parquet``, ``crowdlayer``) or folder (``peerannot``,
        ``truth-inference``). Missing parent folders are created.
    format:
        One of :data:`FORMATS`; guessed from ``dest`` when ``None``
        (:func:`~crowdlearn.io.detect.format_for_write`).
    overwrite:
        When false, an existing ``dest`` is an error.

    Returns
    -------
    Path
        The written file or folder.
    """
    path = Path(dest)
    fmt = format_for_write(path) if format is None else _check_format(format)
    if not overwrite and path.exists():
        raise DataError("already exists (overwrite=False)", source=os.fspath(dest))
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("csv", "tsv", "parquet"):
        return write_table(answers, path, format=fmt)
    if fmt == "peerannot":
        return write_peerannot(answers, path)
    if fmt == "truth-inference":
        return write_truth_inference(answers, path)
    return write_crowdlayer(answers, path)


def _real_kind(source: Any, fmt: str, kind: str | None, missing: float | None,
               label_col: str, sep: str | None, task_col: str | None,
               declared: bool = False) -> bool:
    """Whether to read real values (regression); the kind is decided in crowdlearn.kinds.
    Declared classes mean class labels."""
    from ..kinds import check_kind

    kind = check_kind(kind)
    if kind == "sequence":
        raise DataError("sequence answers are not read by crowdlearn.io.read",
                        source=str(source) if not hasattr(source, "columns") else "DataFrame")
    if kind == "regression":
        return True
    if kind == "classification":
        if missing is not None:
            raise DataError("a missing-value marker applies to regression matrices (-1 marks a "
                            "missing class label)", source=str(source))
        return False
    if missing is not None:
        return True
    if declared:
        return False
    from .real import looks_real

    return looks_real(source, fmt, label_col=label_col, sep=sep, task_col=task_col)


def _check_format(fmt: str) -> str:
    from .detect import check_format

    return check_format(fmt)
