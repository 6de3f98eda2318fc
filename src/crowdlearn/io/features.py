"""Task features: the inputs of the deep-learning strategies, read and aligned with the answers.

:func:`read_features` reads one feature vector per task (item) from

* a **table** (CSV, TSV, Parquet or a pandas DataFrame) with an id column and numeric feature
  columns, such as the Music data set's ``music_genre_gold.csv`` (``id``, ``feature0`` ..
  ``feature123``, ``class``);
* a ``.npy`` array (or a numpy array) of shape ``(n_tasks, ...)``, one row per task in the
  answers' task order (no ids of its own);
* a ``.npz`` archive with an array ``X`` and optionally ``task_ids`` (one id per row).

and, given the :class:`~crowdlearn.answers.Answers` (or their task ids), returns the rows in
task order: ``X[i]`` holds the features of ``answers.task_ids[i]``. Ids are matched by value with
the rules of the answers readers (:mod:`crowdlearn.labels`): integers and integer-looking text
match (``3`` finds task ``"3"``), ``"007"`` does not match ``7``.

Every problem is a one-line :class:`~crowdlearn.errors.DataError` naming the file, the line (or
row) and the column: a task without features, a missing or non-finite value, a non-numeric value
in a feature column, two rows of one id with different features.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import DataError, option
from ..labels import Locator, encode_ids, row_locator
from ._common import (
    PathLike,
    TableFile,
    by_distinct,
    load_npy,
    require_file,
    require_nonempty,
    source_name,
)
from ._feature_matrix import Features, _show

if TYPE_CHECKING:
    import pandas as pd

    from ..answers import Answers

__all__ = ["Features", "read_features"]

ID_COLUMNS: tuple[str, ...] = ("task", "id", "item")
"""Column names tried, in order, for the task id when ``id_col="auto"``."""
LABEL_COLUMNS: tuple[str, ...] = ("class", "label", "truth")
"""Column names that may hold a per-task label (auto-detected, never used as features)."""
WORKER_COLUMNS: tuple[str, ...] = ("worker", "annotator")
"""Columns that are never features (per-answer tables such as ``music_genre_mturk.csv``)."""

_NAN_TEXT = ("nan", "+nan", "-nan")
_ID_FLAG = "--features-id-col"  # the command-line flags of id_col and columns (crowdlearn fit)
_COLUMNS_FLAG = "--features-columns"


def read_features(
    source: PathLike | pd.DataFrame | np.ndarray,
    answers_or_task_ids: Answers | Any = None,
    *,
    id_col: str | None = "auto",
    columns: list[str] | tuple[str, ...] | None = None,
    label_col: str | Literal[False] | None = None,
    dtype: Any = np.float32,
    sep: str | None = None,
) -> Features:
    """Read task features from a table or an array, aligned with the answers when given.

    Parameters
    ----------
    source:
        A CSV/TSV (``.csv``, ``.tsv``, ``.txt``: separator from the extension or the first
        line), Parquet (``.parquet``, ``.pq``), ``.npy`` or ``.npz`` file, a pandas DataFrame or
        a numpy array.
    answers_or_task_ids:
        An :class:`~crowdlearn.answers.Answers` or an array of task ids. When given, the result
        is aligned (:meth:`Features.align`): ``X[i]`` is the features of ``task_ids[i]``, every
        task must have features, and the ids of the other rows are kept in ``extra_ids``. A
        ``.npy`` array (or an ``.npz`` without ``task_ids``) has no ids: its rows are taken to
        be the tasks in order, and the numbers must agree.
    id_col:
        The id column of a table. ``"auto"``: the first of ``task``, ``id``, ``item`` that
        exists. ``None``: no id column, rows are the tasks in order (as for ``.npy``).
    columns:
        The feature columns of a table. Default: every numeric column except the id, the
        label column and ``worker``/``annotator`` columns (text, boolean and date columns are
        not features; a column that mixes numbers and text is an error).
    label_col:
        A column of per-task labels, returned as raw values in ``labels`` and never used as a
        feature. ``None`` (auto): a column named ``class`` or ``truth``, or a non-numeric
        column named ``label``, is the label column. ``False``: no label column. When rows of
        one id disagree on the label (a table with one row per answer, such as Music's
        ``music_genre_mturk.csv``), an auto-detected label column gives ``labels=None`` and an
        explicit one is an error.
    dtype:
        Floating type of ``X``.
    sep:
        Field separator of a text table (default: from the extension or the first line).

    Returns
    -------
    Features
        In file order (one row per distinct id, the first row of each) without
        ``answers_or_task_ids``; in task order with it.

    Raises
    ------
    DataError
        Missing file or column, no feature column, a missing, non-finite or non-numeric value
        (message names the file, line and column), two rows of one id with different features,
        tasks without features, or a row count that differs from the number of tasks.

    Notes
    -----
    Rows with a repeated id (one row per answer) must have identical features; the first row
    of each id is kept.

    Examples
    --------
    The Music data set::

        answers = read("music_genre_mturk.csv", task_col="id", worker_col="annotator",
                       label_col="class")
        train = read_features("music_genre_gold.csv", answers)   # X: (700, 124), labels
        test = read_features("music_genre_test.csv")              # X: (300, 124), labels
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type, got {dtype}")
    if columns is not None and isinstance(columns, str):
        columns = [columns]
    features = _load(source, id_col=id_col, columns=columns, label_col=label_col,
                     dtype=dtype, sep=sep)
    if answers_or_task_ids is None:
        return features
    return features.align(answers_or_task_ids)


# ---------------------------------------------------------------------- loading
def _load(
    source: Any, *, id_col: str | None, columns: Any, label_col: Any, dtype: np.dtype,
    sep: str | None,
) -> Features:
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return _from_frame(source, "DataFrame", list(map(str, source.columns)), None,
                           row_locator(), id_col=id_col, columns=columns, label_col=label_col,
                           dtype=dtype)
    if isinstance(source, np.ndarray):
        return _from_array(source, None, "array", "X", dtype)
    path = Path(source)
    name = source_name(source)
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        require_file(path)
        require_nonempty(path)
        if suffix == ".npy":
            return _from_array(load_npy(path, name), None, name, "X", dtype)
        import zipfile

        try:
            loaded = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"not a readable {suffix} file ({' '.join(str(exc).split())})",
                            source=name) from exc
        if isinstance(loaded, np.ndarray):
            raise DataError("not a .npz archive (a single .npy array)", source=name)
        with loaded:
            if "X" not in loaded.files:
                raise DataError(f"no array 'X' (arrays: {', '.join(loaded.files) or 'none'})",
                                source=name, field="X")
            try:
                X = loaded["X"]
                ids = loaded["task_ids"] if "task_ids" in loaded.files else None
            except ValueError as exc:  # object arrays need pickle
                raise DataError(f"unreadable array ({' '.join(str(exc).split())})",
                                source=name) from exc
        return _from_array(X, ids, name, "X", dtype)
    table = TableFile(path, parquet=suffix in (".parquet", ".pq"), sep=sep)
    return _from_frame(None, name, table.columns, table, table.locate, id_col=id_col,
                       columns=columns, label_col=label_col, dtype=dtype)


def _from_array(
    X: np.ndarray, ids: np.ndarray | None, source: str, what: str, dtype: np.dtype,
) -> Features:
    X = np.asarray(X)
    if X.ndim == 0:
        raise DataError("expected an array with one row per task, got a scalar", source=source,
                        field=what)
    if X.dtype.kind not in "iufb":
        raise DataError(f"features must be numbers, got dtype {X.dtype}", source=source,
                        field=what)
    flat = X.reshape(len(X), -1)
    out = X.astype(dtype)
    bad = ~np.isfinite(out.reshape(len(out), -1))
    if bad.any():
        i, j = np.unravel_index(int(np.argmax(bad)), bad.shape)
        if X.ndim == 1:
            at = f"row {i}"
        elif X.ndim == 2:
            at = f"row {i}, column {j}"
        else:
            at = f"row {i}, element {tuple(int(k) for k in np.unravel_index(j, X.shape[1:]))}"
        value = flat[i, j].item()
        what_bad = "non-finite" if not np.isfinite(value) else f"too large for {dtype}:"
        raise DataError(f"{what_bad} value {value!r}", source=source, where=at, field=what)
    if ids is None:
        return Features(X=out, task_ids=np.arange(len(out)), source=source, positional=True)
    ids = np.asarray(ids)
    if ids.shape != (len(X),):
        raise DataError(f"{ids.shape} ids for {len(X)} rows of X (expected one id per row)",
                        source=source, field="task_ids")
    locate = row_locator()
    codes, uniq = encode_ids(ids, source=source, field="task_ids", locate=locate)
    keep = _first_rows(codes, [flat], None, source=source, field="task_ids", locate=locate,
                       uniq=uniq, label_field=None)[0]
    return Features(X=out[keep], task_ids=uniq[codes[keep]], source=source, id_col="task_ids")


def _from_frame(
    frame: pd.DataFrame | None,
    source: str,
    header: list[str],
    table: TableFile | None,
    locate: Locator,
    *,
    id_col: str | None,
    columns: Any,
    label_col: Any,
    dtype: np.dtype,
) -> Features:
    where_header = "line 1" if table is not None and not table.parquet else None

    def need(names: list[str]) -> None:
        missing = [n for n in names if n not in header]
        if missing:
            raise DataError(
                f"missing column {', '.join(repr(m) for m in missing)}; the header has: "
                f"{', '.join(header)}", source=source, where=where_header, field=missing[0],
            )

    if id_col == "auto":
        id_col = next((c for c in ID_COLUMNS if c in header), None)
        if id_col is None:
            raise DataError(
                f"no id column ({', '.join(ID_COLUMNS)}); the header has: {', '.join(header)} "
                f"(pass {option('id_col', 'COL', '...', _ID_FLAG)}, or "
                f"{option('id_col', 'none', 'None', _ID_FLAG)} when the rows are the tasks in "
                "order)",
                source=source, where=where_header, field="task",
            )
    if id_col is not None:
        need([id_col])
    if label_col:
        need([label_col])
    if columns is not None:
        columns = [str(c) for c in columns]
        need(columns)
        if not columns:
            raise DataError("no feature columns given (columns is empty)", source=source)
        wanted = [id_col] if id_col is not None else []
        wanted += columns
        if label_col:
            wanted.append(label_col)
        elif label_col is None:
            wanted += [c for c in LABEL_COLUMNS if c in header and c not in columns]
        names = list(dict.fromkeys(wanted))
    else:
        names = header
    if frame is None:
        assert table is not None
        frame = table.read(names, id_columns=[id_col] if id_col is not None else [])
    else:
        if len(set(header)) != len(header):
            raise DataError("column names are not distinct", source=source)
        frame = frame.set_axis(header, axis=1)[names]
        if len(frame) == 0:
            raise DataError("no data rows", source=source)

    # the label column
    if label_col is None:
        label_col = _auto_label(frame, [c for c in LABEL_COLUMNS if c in frame.columns
                                        and (columns is None or c not in columns)])
        explicit_label = False
    else:
        explicit_label = bool(label_col)
        label_col = label_col or None
    # the feature columns
    skip = {id_col, label_col, *WORKER_COLUMNS}
    explicit = columns is not None
    candidates = columns if explicit else [c for c in header if c not in skip]
    blocks: list[np.ndarray] = []
    chosen: list[str] = []
    for name in candidates:
        values = _numbers(frame[name], name, explicit, source, locate)
        if values is not None:
            blocks.append(values)
            chosen.append(name)
    if not chosen:
        raise DataError(
            f"no numeric feature column; the header has: {', '.join(header)} "
            f"(choose them with {option('columns', 'COL ...', '[...]', _COLUMNS_FLAG)})",
            source=source, where=where_header,
        )
    raw = np.column_stack(blocks) if len(blocks) > 1 else blocks[0][:, None]
    X = raw.astype(dtype)
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.unravel_index(int(np.argmax(bad)), bad.shape)
        cell = frame[chosen[j]].iloc[i]
        empty = cell is None or (not isinstance(cell, str) and bool(_isna(cell)))
        what = "missing value" if empty else f"non-finite value {_show(cell)}"
        if not empty and np.isfinite(raw[i, j]):
            what = f"value {_show(cell)} is too large for {dtype}"
        raise DataError(what, source=source, where=locate(int(i)), field=chosen[j])
    labels = frame[label_col].to_numpy() if label_col is not None else None
    if id_col is None:
        return Features(X=X, task_ids=np.arange(len(X)), labels=labels, columns=tuple(chosen),
                        source=source, positional=True)
    codes, uniq = by_distinct(
        frame[id_col],
        lambda v, loc: encode_ids(v, source=source, field=id_col, locate=loc), locate)
    keep, labels_agree = _first_rows(
        codes, [raw], labels, source=source, field=id_col, locate=locate, uniq=uniq,
        label_field=label_col if explicit_label else None,
    )
    if labels is not None:
        labels = labels[keep] if labels_agree else None
    return Features(X=X[keep], task_ids=uniq[codes[keep]], labels=labels,
                    columns=tuple(chosen), source=source, id_col=id_col)


def _auto_label(frame: pd.DataFrame, present: list[str]) -> str | None:
    """The auto-detected label column: ``class``/``truth``, or a non-numeric ``label``."""
    for name in present:
        if name in ("class", "truth") or frame[name].dtype.kind not in "iuf":
            return name
    return None


def _isna(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def _numbers(
    col: pd.Series, name: str, explicit: bool, source: str, locate: Locator,
) -> np.ndarray | None:
    """A column as float64 (NaN/inf kept, checked later), or ``None`` when it is not numeric.

    Only an explicitly chosen column (``explicit``) turns a non-number into an error; otherwise
    a text, boolean or date column is not a feature, and a column that mixes numbers and text
    is an error.
    """
    import pandas as pd

    kind = col.dtype.kind
    if kind in "iuf" and not isinstance(col.dtype, pd.CategoricalDtype):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "b":
        if not explicit:
            return None
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    present = ~col.isna().to_numpy()
    if kind in "mM":
        if not explicit:
            return None
        parsed = np.full(len(col), np.nan)
        bad = present
    else:
        try:
            parsed = pd.to_numeric(col.astype(object), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            parsed = np.full(len(col), np.nan)
        bad = present & np.isnan(parsed)
        if bad.any():
            text = col[bad].astype(str).str.strip().str.lower()
            bad[np.flatnonzero(bad)[text.isin(_NAN_TEXT).to_numpy()]] = False
    if not bad.any():
        return parsed
    i = int(np.argmax(bad))
    if explicit:
        raise DataError(f"non-numeric value {_show(col.iloc[i])}", source=source,
                        where=locate(i), field=name)
    if (present & ~bad).any():
        raise DataError(
            f"column mixes numbers and text ({_show(col.iloc[i])}); choose the feature "
            f"columns with {option('columns', 'COL ...', '[...]', _COLUMNS_FLAG)}",
            source=source, where=locate(i), field=name,
        )
    return None


def _first_rows(
    codes: np.ndarray,
    arrays: list[np.ndarray],
    labels: np.ndarray | None,
    *,
    source: str,
    field: str,
    locate: Locator,
    uniq: np.ndarray,
    label_field: str | None,
) -> tuple[np.ndarray, bool]:
    """Rows to keep (the first of each id, in file order) and whether labels agree per id.

    Rows of one id must have equal features (``arrays``); labels that differ are an error only
    when ``label_field`` names an explicitly chosen label column.
    """
    n_ids = len(uniq)
    first = np.full(n_ids, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    keep = np.sort(first)
    if n_ids == len(codes):
        return keep, True
    ref = first[codes]
    differs = np.zeros(len(codes), dtype=bool)
    for arr in arrays:
        differs |= (arr.reshape(len(arr), -1) != arr[ref].reshape(len(arr), -1)).any(axis=1)
    if differs.any():
        i = int(np.argmax(differs))
        raise DataError(
            f"id {_show(uniq[codes[i]])} has features different from its first row at "
            f"{locate(int(ref[i]))} (rows of one id must have the same features)",
            source=source, where=locate(i), field=field,
        )
    agree = True
    if labels is not None:
        import pandas as pd

        col = pd.Series(labels, dtype=object)
        same = (col.to_numpy() == col.to_numpy()[ref]) | (col.isna().to_numpy()
                                                          & col.isna().to_numpy()[ref])
        agree = bool(same.all())
        if not agree and label_field is not None:
            i = int(np.argmax(~same))
            raise DataError(
                f"id {_show(uniq[codes[i]])} has label {_show(labels[i])} here but "
                f"{_show(labels[ref[i]])} at {locate(int(ref[i]))}: the column holds one label "
                f"per row, not per task (label_col=False ignores it)",
                source=source, where=locate(i), field=label_field,
            )
    return keep, agree
