"""Ground-truth files.

Two layouts are understood:

* **a table** ``task,truth`` (CSV, TSV or Parquet; ``item`` is accepted for ``task``): one row
  per task whose true label is known, the label written as a class name (as in the answers).
  Tasks without a row have unknown truth. This is the layout of the truth-inference
  benchmarks' ``truth.csv``.
* **an array in task order**: a ``.npy`` file (peerannot's ``truth_<name>.npy``, whose values
  are floats such as ``3.0``) or a text file with one integer per line and no header
  (CrowdLayer's ``labels_train.txt``). Values are class *indices*; ``-1`` (or NaN in a float
  array) means unknown. Element ``i`` belongs to the ``i``-th task in the answers' order
  (sorted ids); see :class:`RawTruth` for integer task ids. A header-less text file of
  numbers is refused for answers whose labels are names (a table of ``cat``/``dog`` or
  ``1``/``2``/``unsure``): its numbers could be names as well as positions, so such truth must
  be a ``task,truth`` table.

A true label for a task that has no answers, a label outside the classes and two different
labels for one task are errors (:class:`~crowdlearn.errors.DataError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from ._atomic import atomic_write
from ._common import (
    FileLineLocator,
    PathLike,
    RawTruth,
    TableFile,
    class_indices,
    load_npy,
    not_utf8,
    require_file,
    require_nonempty,
    source_name,
    write_delimited,
    write_parquet,
)

if TYPE_CHECKING:
    from ..answers import Answers

__all__ = ["load_truth", "read_truth", "sibling_truth", "write_truth"]

TRUTH_COLUMN = "truth"


def sibling_truth(path: PathLike) -> Path:
    """Where the truth of the answers file ``path`` goes: ``<stem>.truth<suffix>``.

    ``answers.csv`` -> ``answers.truth.csv``, ``answers.npy`` -> ``answers.truth.npy``. Readers
    load this file automatically when it exists; writers create it when the answers have truth.
    """
    p = Path(path)
    return p.with_name(f"{p.stem}.truth{p.suffix}")


def read_truth(
    path: PathLike,
    answers: Answers,
    *,
    task_col: str | None = None,
    truth_col: str = TRUTH_COLUMN,
    sep: str | None = None,
) -> Answers:
    """Attach the ground truth of a file to ``answers``.

    Parameters
    ----------
    path:
        A ``task,truth`` table (``.csv``, ``.tsv``, ``.txt``, ``.parquet``), a ``.npy`` array
        of class indices in task order, or a header-less text file of one index per line.
    answers:
        The answers the truth belongs to.
    task_col, truth_col:
        Column names of a table (``task_col`` defaults to ``task``, else ``item``).
    sep:
        Field separator of a text table (default: from the extension or the first line).

    Returns
    -------
    Answers
        A copy of ``answers`` with ``truth`` set (``-1`` for tasks without a true label).

    Examples
    --------
    The music genre data set (answers and gold labels in two CSV files)::

        music = read("music_genre_mturk.csv", task_col="id", worker_col="annotator",
                     label_col="class")
        music = read_truth("music_genre_gold.csv", music, task_col="id", truth_col="class")
    """
    raw = load_truth(path, task_col=task_col, truth_col=truth_col, sep=sep)
    assert raw is not None
    return raw.attach(answers)


def load_truth(
    spec: Any,
    *,
    task_col: str | None = None,
    truth_col: str = TRUTH_COLUMN,
    sep: str | None = None,
) -> RawTruth | None:
    """Read truth without matching it to answers yet (readers widen classes with it).

    Parameters
    ----------
    spec:
        ``None`` or ``False`` (no truth), a path (see :func:`read_truth`), a ``{task: label}``
        mapping or pandas Series indexed by task id, or a 1-d array of class indices in task
        order.
    task_col, truth_col, sep:
        As for :func:`read_truth`.

    Returns
    -------
    RawTruth or None
    """
    if spec is None or spec is False:
        return None
    import pandas as pd

    if isinstance(spec, pd.Series):
        return RawTruth(task=spec.index.to_numpy(), label=spec.to_numpy(), source="truth Series",
                        fields=("task", "truth"))
    if isinstance(spec, Mapping):
        return RawTruth(task=np.array(list(spec.keys()), dtype=object),
                        label=np.array(list(spec.values()), dtype=object),
                        source="truth mapping", fields=("task", "truth"))
    if isinstance(spec, (np.ndarray, list, tuple)):
        return RawTruth(indices=class_indices(np.asarray(spec), source="truth array"),
                        source="truth array")
    return _load_truth_file(Path(spec), task_col, truth_col, sep, source_name(spec))


def _load_truth_file(
    path: Path, task_col: str | None, truth_col: str, sep: str | None, source: str
) -> RawTruth:
    require_file(path)
    require_nonempty(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        arr = load_npy(path, source)
        return RawTruth(indices=class_indices(arr, source=source), source=source)
    if suffix in (".parquet", ".pq"):
        table = TableFile(path, parquet=True)
    else:
        if _headerless_numbers(path):
            return _load_index_lines(path, source)
        table = TableFile(path, sep=sep)
    task = table.task_column(task_col)
    frame = table.read([task, truth_col], id_columns=[task])
    return RawTruth(task=frame[task].to_numpy(), label=frame[truth_col].to_numpy(),
                    source=source, locate=table.locate, fields=(task, truth_col))


def _headerless_numbers(path: Path) -> bool:
    """Whether the first non-blank line is a single number (a CrowdLayer labels file)."""
    with open(path, "rb") as f:
        for raw in f:
            line = raw.strip()
            if line:
                try:
                    float(line.decode("utf-8", "replace"))
                except ValueError:
                    return False
                return True
    return False


def _load_index_lines(path: Path, source: str) -> RawTruth:
    import pandas as pd

    locate = FileLineLocator(path, header_lines=0)
    try:
        frame = pd.read_csv(path, header=None, sep=r"\s+", engine="c", dtype=np.float64,
                            keep_default_na=False, na_values=["", "nan", "NaN"])
    except UnicodeDecodeError as exc:
        raise not_utf8(path, source) from exc
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"expected one number per line ({' '.join(str(exc).split())})",
                        source=source) from exc
    if frame.shape[1] != 1:
        raise DataError(f"expected one number per line, found {frame.shape[1]} columns",
                        source=source, where=locate(0))
    values = class_indices(frame[0].to_numpy(), source=source, locate=locate)
    raw = RawTruth(indices=values, source=source, locate=locate)
    raw.lines = True
    return raw


def write_truth(answers: Answers, path: PathLike) -> Path:
    """Write the ground truth of ``answers`` (atomically).

    ``.npy``: int64 class indices in task order, ``-1`` unknown (peerannot's convention).
    ``.parquet``: a ``task,truth`` table. Anything else: a ``task,truth`` text table (tab
    separated for ``.tsv``) listing the tasks with known truth, labels as class names.

    Parameters
    ----------
    answers:
        Answers with truth.
    path:
        The output file.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if answers.truth is None:
        raise DataError("the answers have no ground truth to write", source=source_name(path))
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with atomic_write(path, "wb") as f:
            np.save(f, answers.truth.astype(np.int64), allow_pickle=False)
        return path
    frame = answers.truth_frame()
    if suffix in (".parquet", ".pq"):
        write_parquet(frame, path)
    else:
        write_delimited(frame, path, "\t" if suffix == ".tsv" else ",")
    return path
