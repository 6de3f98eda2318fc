"""Answers as a table: one row per answer with task, worker and label columns.

This is crowd-kit's convention (columns ``task``, ``worker``, ``label``; ``item`` is accepted
for ``task``), stored as CSV, TSV or Parquet, or given as a pandas DataFrame. The
truth-inference benchmarks' folders (``label.csv`` with ``item,worker,label`` and an optional
``truth.csv`` with ``item,truth``) are read and written here too.

Values
------
* Ids that are integers in the file stay integers (sorted numerically); text stays text (a
  ``"007"`` in a CSV file is the integer 7, as for pandas). Only empty cells are missing values
  (an error); ``NA``, ``None``, ``true`` or ``inf`` are text.
* Labels follow :mod:`crowdlearn.labels`: integer labels are class indices (classes
  ``0..max``); text labels are class names (classes sorted). A table does not store the list
  of classes, so a class that no answer and no true label uses is not kept; pass ``classes=``
  or ``n_classes=`` to declare them.

Ground truth
------------
The truth of ``answers.csv`` lives in ``answers.truth.csv`` (``task,truth``, class names), next
to it: :func:`write_table` writes it when the answers have truth and :func:`read_table` loads
it when it exists and ``truth`` is not given (``truth=False`` skips it).

Speed
-----
Text is parsed by pyarrow's multi-threaded CSV reader when pyarrow is installed (else pandas'
C parser), reading only the three columns; ids and labels are encoded with vectorised pandas,
pyarrow and numpy operations (text columns are encoded once per distinct value). Ten million
answers with integer ids take about 4 s of CPU time (a 2-core machine), text ids about 13 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from ..labels import row_locator
from ._common import (
    PathLike,
    RawTruth,
    TableFile,
    build_answers,
    check_duplicates_policy,
    publish_folder,
    require_dir,
    source_name,
    write_delimited,
    write_parquet,
)
from .truth import load_truth, sibling_truth

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..answers import Answers

__all__ = [
    "TABLE_FORMATS",
    "read_table",
    "read_truth_inference",
    "write_table",
    "write_truth_inference",
]

TABLE_FORMATS = ("csv", "tsv", "parquet")
PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(
    source: PathLike | pd.DataFrame,
    *,
    task_col: str | None = None,
    worker_col: str = "worker",
    label_col: str = "label",
    truth: Any = None,
    classes: Any = None,
    n_classes: int | None = None,
    duplicates: str = "error",
    name: str | None = None,
    sep: str | None = None,
    format: str | None = None,
) -> Answers:
    """Read answers from a CSV/TSV/Parquet file or a pandas DataFrame.

    Parameters
    ----------
    source:
        A file path or a DataFrame.
    task_col, worker_col, label_col:
        Column names (``task_col`` defaults to ``task``, or ``item`` when there is no ``task``).
    truth:
        ``None``: the sibling ``<stem>.truth<suffix>`` file when it exists; ``False``: none; a
        truth file, a ``{task: label}`` mapping, a Series or an array of class indices in task
        order (see :mod:`crowdlearn.io.truth`).
    classes, n_classes:
        Declared classes (class names, or the number of integer classes ``0..n_classes-1``).
    duplicates:
        Several answers of one worker to one task: ``"error"`` (default, the message lists the
        first lines), keep the ``"first"`` or ``"last"`` in file order, or keep ``"all"``.
    name:
        Data set name (default: the file stem).
    sep:
        Field separator (default: tab for ``.tsv`` or when the first line has a tab, else comma).
    format:
        ``"csv"``, ``"tsv"`` or ``"parquet"``; default from the extension.

    Returns
    -------
    Answers

    Raises
    ------
    DataError
        Missing file or columns, empty file, missing values, bad labels, duplicates (the
        message names the file and the line).
    """
    check_duplicates_policy(duplicates)
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return _read_frame(source, task_col, worker_col, label_col, load_truth(truth), classes,
                           n_classes, duplicates, name)
    path = Path(source)
    if format not in (None, *TABLE_FORMATS):
        raise ValueError(f"format must be one of {TABLE_FORMATS}, got {format!r}")
    parquet = format == "parquet" or (format is None and path.suffix.lower() in PARQUET_SUFFIXES)
    if format == "tsv" and sep is None:
        sep = "\t"
    elif format == "csv" and sep is None:
        sep = ","
    table = TableFile(path, parquet=parquet, sep=sep)
    task = table.task_column(task_col)
    fields = (task, worker_col, label_col)
    frame = table.read(list(fields), id_columns=[task, worker_col])
    if truth is None:
        sibling = sibling_truth(path)
        truth = sibling if sibling.is_file() else None
    raw = load_truth(truth)
    return build_answers(
        frame[task], frame[worker_col], frame[label_col],
        truth=raw, classes=classes, n_classes=n_classes,
        name=name if name is not None else path.stem, duplicates=duplicates,
        source=table.source, locate=table.locate, fields=fields,
    )


def _read_frame(
    frame: pd.DataFrame,
    task_col: str | None,
    worker_col: str,
    label_col: str,
    raw: RawTruth | None,
    classes: Any,
    n_classes: int | None,
    duplicates: str,
    name: str | None,
) -> Answers:
    columns = [str(c) for c in frame.columns]
    if task_col is None:
        task_col = "task" if "task" in columns or "item" not in columns else "item"
    fields = (task_col, worker_col, label_col)
    missing = [c for c in fields if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column {', '.join(map(repr, missing))}; the columns are: "
            f"{', '.join(columns)}", source="DataFrame", field=missing[0],
        )
    for c in fields:
        n = columns.count(c)
        if n > 1:
            raise DataError(f"{n} columns are named {c!r}; rename them so that each name is "
                            "unique", source="DataFrame", field=c)
    if len(frame) == 0:
        raise DataError("no rows", source="DataFrame")
    return build_answers(
        frame[task_col].to_numpy(), frame[worker_col].to_numpy(), frame[label_col].to_numpy(),
        truth=raw, classes=classes, n_classes=n_classes, name=name, duplicates=duplicates,
        source="DataFrame", locate=row_locator(), fields=fields,
    )


def write_table(
    answers: Answers,
    path: PathLike,
    *,
    format: str | None = None,
    sep: str | None = None,
    task_col: str = "task",
    truth_path: PathLike | None = None,
) -> Path:
    """Write answers as a task/worker/label table, and their truth next to it.

    Parameters
    ----------
    answers:
        The answers (original ids and class names are written).
    path:
        Output file; written atomically.
    format:
        ``"csv"``, ``"tsv"`` or ``"parquet"``; default from the extension (``.tsv``, ``.parquet``;
        anything else is CSV).
    sep:
        Field separator of a text table (default: comma, or tab for TSV).
    task_col:
        Name of the task column (``"task"``, or ``"item"`` for the truth-inference layout).
    truth_path:
        Where the truth goes (default :func:`~crowdlearn.io.truth.sibling_truth`). When the
        answers have no known true label, a stale file at that place is deleted so that reading
        the table back gives the same answers.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    DataError
        When some task has no answers (a table has no row to name it by; nothing is written).
    """
    path = Path(path)
    if format not in (None, *TABLE_FORMATS):
        raise ValueError(f"format must be one of {TABLE_FORMATS}, got {format!r}")
    fmt = format or ("parquet" if path.suffix.lower() in PARQUET_SUFFIXES
                     else "tsv" if path.suffix.lower() == ".tsv" else "csv")
    if path.is_dir():
        raise DataError("is a folder, expected a file name", source=source_name(path))
    empty = int((answers.answers_per_task() == 0).sum())
    if empty:
        raise DataError(
            f"{empty} of {answers.n_tasks} tasks have no answers, which a task/worker/label table "
            "cannot hold; drop them first (Answers.select_tasks) or write the peerannot format",
            source=source_name(path))
    frame = answers.to_frame()
    if task_col != "task":
        frame = frame.rename(columns={"task": task_col})
    truth_file = Path(truth_path) if truth_path is not None else sibling_truth(path)
    _write_frame(frame, path, fmt, sep)
    if answers.has_truth:
        truth = answers.truth_frame().rename(columns={"task": task_col})
        _write_frame(truth, truth_file, fmt, sep)
    elif truth_file.is_file():
        truth_file.unlink()
    return path


def _write_frame(frame: pd.DataFrame, path: Path, fmt: str, sep: str | None) -> None:
    if fmt == "parquet":
        write_parquet(_parquet_safe(frame), path)
    else:
        write_delimited(frame, path, sep if sep is not None else ("\t" if fmt == "tsv" else ","))


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns of text as pandas strings (pyarrow cannot store numpy unicode arrays)."""
    out = frame.copy()
    for c in out.columns:
        values: np.ndarray = out[c].to_numpy()
        if values.dtype.kind in "OU":
            out[c] = out[c].astype(str)
    return out


# ---------------------------------------------------------------------- truth-inference folders
LABEL_FILE = "label.csv"
TRUTH_FILE = "truth.csv"


def read_truth_inference(
    folder: PathLike,
    *,
    truth: Any = None,
    classes: Any = None,
    n_classes: int | None = None,
    duplicates: str = "error",
    name: str | None = None,
    task_col: str | None = None,
    worker_col: str = "worker",
    label_col: str = "label",
) -> Answers:
    """Read a truth-inference benchmark folder: ``label.csv`` and optional ``truth.csv``.

    ``label.csv`` has columns ``item,worker,label`` (``task`` accepted); ``truth.csv`` has
    ``item,truth``. The name defaults to the folder's name. ``truth=False`` ignores
    ``truth.csv``; a path or mapping replaces it. Other parameters as for :func:`read_table`.
    """
    path = require_dir(folder)
    if not (path / LABEL_FILE).is_file():
        raise DataError(f"no {LABEL_FILE} in the folder", source=source_name(folder))
    if truth is None and (path / TRUTH_FILE).is_file():
        truth = path / TRUTH_FILE
    return read_table(
        path / LABEL_FILE, task_col=task_col, worker_col=worker_col, label_col=label_col,
        truth=truth if truth is not None else False, classes=classes, n_classes=n_classes,
        duplicates=duplicates, name=name if name is not None else path.resolve().name,
        format="csv",
    )


def write_truth_inference(answers: Answers, folder: PathLike) -> Path:
    """Write a truth-inference folder (``label.csv``, and ``truth.csv`` when there is truth).

    The folder is created or replaced atomically; when it holds other files they are kept and
    only ``label.csv`` / ``truth.csv`` are replaced (a stale ``truth.csv`` is deleted).
    """

    def build(tmp: Path) -> None:
        write_table(answers, tmp / LABEL_FILE, format="csv", task_col="item",
                    truth_path=tmp / TRUTH_FILE)

    return publish_folder(folder, build, lambda n: n in (LABEL_FILE, TRUTH_FILE))
