"""Reading and writing real-valued crowd answers (crowd regression).

Formats
-------
``csv``, ``tsv``, ``parquet`` (or a DataFrame)
    One row per answer: ``task`` (or ``item``), ``worker`` and ``value`` (or ``label``; any
    column with ``label_col``). Values must be finite numbers.
``crowdlayer``
    A (tasks x workers) matrix of numbers (text, spaces or commas, or ``.npy``) in which a
    declared marker means "no answer": ``missing=999999999`` for MovieReviews' ``answers.txt``
    (``--missing`` on the command line). The marker must be declared: any number, -1 included,
    can be a real answer. Task and worker ids are the row and column numbers.

Truth
-----
A ``task,truth`` table, a text file with one number per line in task order (MovieReviews'
``labels_train_amt.txt``), a ``.npy`` array in task order (NaN unknown), a mapping or a Series.
Without ``truth``, the sibling ``<stem>.truth.csv`` (tables) or ``<stem>.truth.txt`` /
``.truth.npy`` (matrices) is loaded when it exists; ``truth=False`` loads none.

Every problem is a one-line :class:`~crowdlearn.errors.DataError` naming the file, the line (and
column) and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError, option
from ..kinds import detect_kind, encode_values
from ._common import (
    FileLineLocator,
    TableFile,
    load_npy,
    require_file,
    require_nonempty,
    source_name,
)
from .truth import sibling_truth

if TYPE_CHECKING:

    from ..real import RealAnswers

__all__ = ["looks_real", "read_real", "write_real_table"]

#: rows a table's value column is sampled on to detect real values (``kind=None``)
DETECT_ROWS = 10_000


def looks_real(source: Any, fmt: str, *, label_col: str = "label", sep: str | None = None,
               task_col: str | None = None) -> bool:
    """Whether the answers are real values: the first :data:`DETECT_ROWS` values of a table's
    value column (all of a DataFrame's) are numbers and one is not a whole number
    (:func:`crowdlearn.kinds.detect_kind`). CrowdLayer matrices: any non-whole number. Input
    the sniffing cannot read is not real: the classification reader then says what is wrong."""
    try:
        return _looks_real(source, fmt, label_col, sep)
    except Exception:
        return False


def _looks_real(source: Any, fmt: str, label_col: str, sep: str | None) -> bool:
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        col = _value_column(list(map(str, source.columns)), label_col)
        return col is not None and detect_kind(source[col].to_numpy()) == "regression"
    path = Path(source)
    if not path.is_file() or not path.stat().st_size:
        return False
    if fmt == "crowdlayer":
        if path.suffix.lower() == ".npy":
            try:
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
            except Exception:  # not a plain numeric array: the matrix reader says why
                return False
            return arr.dtype.kind == "f" and detect_kind(np.asarray(arr).reshape(-1)) \
                == "regression"
        with open(path, "rb") as f:
            head = f.read(1 << 16).replace(b",", b" ").split()[:-1] or [b"0"]
        return any(b"." in t or b"e" in t.lower() for t in head) and \
            detect_kind(np.array([t.decode("ascii", "replace") for t in head],
                                 dtype=object)) == "regression"
    if fmt not in ("csv", "tsv", "parquet"):
        return False
    table = TableFile(path, parquet=fmt == "parquet",
                      sep=sep if sep is not None else ("\t" if fmt == "tsv" else None))
    col = _value_column(table.columns, label_col)
    if col is None:
        return False
    if table.parquet:
        values = pd.read_parquet(path, columns=[col])[col].to_numpy()[:DETECT_ROWS]
    else:
        values = pd.read_csv(path, sep=table.sep, usecols=[col], nrows=DETECT_ROWS,
                             keep_default_na=False, dtype=object)[col].to_numpy()
    return detect_kind(values) == "regression"


def _value_column(columns: list[str], label_col: str) -> str | None:
    if label_col != "label":
        return label_col if label_col in columns else None
    for c in ("value", "label"):
        if c in columns:
            return c
    return None


def read_real(
    source: Any,
    fmt: str,
    *,
    task_col: str | None = None,
    worker_col: str = "worker",
    label_col: str = "label",
    truth: Any = None,
    missing: float | None = None,
    duplicates: str = "error",
    name: str | None = None,
    sep: str | None = None,
) -> RealAnswers:
    """Read real-valued answers from a table, a DataFrame or a CrowdLayer matrix.

    ``label_col`` is the value column (default: ``value``, else ``label``); ``missing`` the
    no-answer marker of a matrix (required there). See the module docstring.
    """
    import pandas as pd

    from ..real import RealAnswers

    if fmt == "crowdlayer":
        return _read_matrix(source, truth=truth, missing=missing, name=name, sep=sep)
    if fmt not in ("frame", "csv", "tsv", "parquet"):
        raise DataError(f"regression answers cannot be read from the {fmt} format; use a "
                        "task/worker/value table or a CrowdLayer matrix",
                        source=source_name(source) if not isinstance(source, pd.DataFrame)
                        else "DataFrame")
    if missing is not None:
        raise DataError(f"{option('missing', str(missing))} applies to CrowdLayer matrices; a "
                        "table simply has no row for a missing answer",
                        source=source_name(source) if not isinstance(source, pd.DataFrame)
                        else "DataFrame")
    if isinstance(source, pd.DataFrame):
        cols = [str(c) for c in source.columns]
        value = _value_column(cols, label_col) or label_col
        out = RealAnswers.from_frame(source, task=task_col, worker=worker_col, value=value,
                                     duplicates=duplicates, name=name)  # type: ignore[arg-type]
        return _attach_truth(out, truth, None)
    path = Path(source)
    table = TableFile(path, parquet=fmt == "parquet",
                      sep=sep if sep is not None else ("\t" if fmt == "tsv" else None))
    task = table.task_column(task_col)
    value = _value_column(table.columns, label_col) or label_col
    fields = (task, worker_col, value)
    frame = table.read(list(fields), id_columns=[task, worker_col])
    out = RealAnswers.from_arrays(
        frame[task].to_numpy(), frame[worker_col].to_numpy(), frame[value].to_numpy(),
        name=name if name is not None else path.stem, duplicates=duplicates,  # type: ignore[arg-type]
        source=table.source, locate=table.locate, fields=fields)
    if truth is None:
        sib = sibling_truth(path)
        truth = sib if sib.is_file() else None
    return _attach_truth(out, truth, None)


def _read_matrix(source: Any, *, truth: Any, missing: float | None, name: str | None,
                 sep: str | None) -> RealAnswers:
    from ..real import RealAnswers

    p = require_file(source)
    src = source_name(source)
    require_nonempty(p)
    if missing is None:
        raise DataError("a regression answers matrix needs its missing-value marker declared: "
                        f"{option('missing', '999999999', '999999999')} (any number may be an "
                        "answer, so none is assumed)", source=src)
    if p.suffix.lower() == ".npy":
        matrix = load_npy(p, src)
        if matrix.ndim != 2 or matrix.dtype.kind not in "iuf":
            raise DataError(f"expected a 2-d (tasks x workers) matrix of numbers, got "
                            f"{matrix.dtype} of shape {matrix.shape}", source=src)
        matrix = matrix.astype(np.float64)

        def place(r: int, c: int) -> str:
            return f"row {r}, column {c}"
    else:
        import pandas as pd

        lines = FileLineLocator(p, header_lines=0)
        if sep is None:
            with open(p, "rb") as f:
                sep = "," if b"," in f.readline(65536) else r"\s+"
        try:
            frame = pd.read_csv(p, header=None, sep=sep, engine="c",
                                keep_default_na=False, na_values=[""], dtype=object)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"not a matrix of numbers ({str(exc).splitlines()[0]})",
                            source=src) from exc
        raw = frame.to_numpy()
        matrix = pd.DataFrame(raw).apply(pd.to_numeric, errors="coerce").to_numpy(
            dtype=np.float64)

        def place(r: int, c: int) -> str:
            return f"line {lines.line(r)}, column {c + 1}"

        bad = np.isnan(matrix) & ~np.array(
            [[isinstance(v, str) and v.strip().lower() == "nan" for v in row] for row in raw]
        ) if np.isnan(matrix).any() else np.zeros(matrix.shape, dtype=bool)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            v = raw[r, c]
            what = "empty cell" if v is None or (isinstance(v, float) and np.isnan(v)) \
                else f"not a number: {v!r}"
            raise DataError(what, source=src, where=place(int(r), int(c)))
    present = matrix != float(missing)
    rows, cols = np.nonzero(present)
    if not len(rows):
        raise DataError(f"no answers (every value is the missing marker {missing})", source=src)

    def locate(i: int) -> str:
        return place(int(rows[i]), int(cols[i]))

    out = RealAnswers(rows, cols, matrix[rows, cols], task_ids=np.arange(matrix.shape[0]),
                      worker_ids=np.arange(matrix.shape[1]),
                      name=name if name is not None else p.stem, source=src, locate=locate)
    if truth is None:
        for cand in (p.with_name(f"{p.stem}.truth.txt"), sibling_truth(p).with_suffix(".npy")):
            if cand.is_file():
                truth = cand
                break
    return _attach_truth(out, truth, src)


def _attach_truth(answers: RealAnswers, truth: Any, src: str | None) -> RealAnswers:
    """``answers`` with ``truth`` (see the module docstring) attached; ``False``: none."""
    import pandas as pd

    if truth is None or truth is False:
        return answers
    if isinstance(truth, pd.Series):
        return answers.with_truth_table(truth.index.to_numpy(), truth.to_numpy(),
                                        source="truth")
    if isinstance(truth, dict):
        return answers.with_truth_table(list(truth), list(truth.values()), source="truth")
    if isinstance(truth, np.ndarray) or isinstance(truth, (list, tuple)):
        arr = np.asarray(truth, dtype=np.float64)
        return answers.with_truth(_in_task_order(arr, answers, "truth"))
    p = require_file(truth)
    tsrc = source_name(truth)
    if p.suffix.lower() == ".npy":
        arr = load_npy(p, tsrc).astype(np.float64).reshape(-1)
        return answers.with_truth(_in_task_order(arr, answers, tsrc))
    with open(p, "rb") as f:
        first = f.readline().strip()
    try:
        float(first.replace(b",", b" ").split()[0]) if first else None
        headerless = bool(first) and len(first.replace(b",", b" ").split()) == 1
    except ValueError:
        headerless = False
    if headerless:
        lines = FileLineLocator(p, header_lines=0)
        import pandas as pd

        col = pd.read_csv(p, header=None, sep=r"\s+", dtype=object, keep_default_na=False,
                          na_values=[""])[0].to_numpy()
        arr = encode_values(col, source=tsrc, field="truth", locate=lines)
        return answers.with_truth(_in_task_order(arr, answers, tsrc))
    table = TableFile(p, parquet=p.suffix.lower() in (".parquet", ".pq"))
    task = table.task_column(None)
    table.require([task, "truth"])
    frame = table.read([task, "truth"], id_columns=[task])
    return answers.with_truth_table(frame[task].to_numpy(), frame["truth"].to_numpy(),
                                    source=table.source, locate=table.locate)


def _in_task_order(arr: np.ndarray, answers: RealAnswers, src: str) -> np.ndarray:
    if arr.shape != (answers.n_tasks,):
        raise DataError(f"{len(arr)} true values for {answers.n_tasks} tasks (one per task, in "
                        "task order)", source=src, field="truth")
    if np.isinf(arr).any():
        raise DataError("infinite true value", source=src, field="truth")
    return arr


def write_real_table(answers: RealAnswers, path: Any) -> Path:
    """Write ``task,worker,value`` (CSV, or Parquet by extension) and ``<stem>.truth.csv``."""
    from ._common import write_delimited, write_parquet

    path = Path(path)
    frame = answers.to_frame()
    parquet = path.suffix.lower() in (".parquet", ".pq")
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    (write_parquet if parquet else lambda f, p: write_delimited(f, p, sep))(frame, path)
    if answers.has_truth:
        tp = sibling_truth(path)
        tf = answers.truth_frame()
        (write_parquet if parquet else lambda f, p: write_delimited(f, p, sep))(tf, tp)
    return path

