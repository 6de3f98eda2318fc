"""Machinery shared by the readers: raw ground truth, the final assembly of an
:class:`~crowdlearn.answers.Answers`, table files and writers (file checks, line locators and
delimited-text reading live in :mod:`._text`, :class:`TableFile` in :mod:`._tables`; both are
re-exported here).

Every reader turns its input into raw columns (task ids, worker ids, labels) plus an optional
:class:`RawTruth`, then calls :func:`build_answers`; ids and labels are encoded only by
:mod:`crowdlearn.labels`, so that every format follows the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..answers import MISSING, Answers
from ..errors import DataError
from ..labels import (
    INDEX_DTYPE,
    Locator,
    as_column,
    check_index_range,
    encode_ids,
    encode_labels,
)
from ._tables import TableFile, _pyarrow_parquet  # noqa: F401  (TableFile re-exported)
from ._text import (  # noqa: F401  (re-exported: the readers import them from here)
    FileLineLocator,
    PathLike,
    _one_line,
    delimiter_for,
    has_pyarrow,
    load_npy,
    not_utf8,
    parser_error,
    read_columns,
    read_header,
    require_dir,
    require_file,
    require_nonempty,
    source_name,
)

if TYPE_CHECKING:
    import pandas as pd


# ---------------------------------------------------------------------- truth
class RawTruth:
    """Ground truth as read, before it is matched with the answers.

    Two forms exist:

    * **table**: raw task ids and raw labels (class names), as in a ``task,truth`` file or a
      ``{task: label}`` mapping; matched by id through :meth:`Answers.with_truth_table`.
    * **array**: class indices in task order (``-1`` unknown), as in peerannot's
      ``truth_<name>.npy`` or a CrowdLayer truth file. Element ``i`` is the truth of the
      ``i``-th task in the answers' order (sorted ids). When the task ids are non-negative
      integers and the array has ``max(id) + 1`` elements instead, element ``i`` is the truth of
      task id ``i`` (peerannot indexes by task number); positions that are not task ids must
      then be unknown.

    Parameters
    ----------
    task, label:
        Raw ids and labels of the table form.
    indices:
        int64 class indices of the array form (``-1`` unknown, already checked to be >= -1).
    source:
        Name of the origin, for error messages.
    locate:
        Maps an element (row) number to a place for error messages.
    fields:
        Names of the task and truth columns of the table form.
    """

    def __init__(
        self,
        *,
        task: Any = None,
        label: Any = None,
        indices: np.ndarray | None = None,
        source: str | None = None,
        locate: Locator | None = None,
        fields: tuple[str, str] = ("task", "truth"),
    ) -> None:
        if (indices is None) == (label is None):
            raise ValueError("give either task and label, or indices")
        self.task = None if task is None else as_column(task)
        self.label = None if label is None else as_column(label)
        self.indices = indices
        self.source = source
        self.locate = locate if locate is not None else _position
        self.fields = fields
        #: read from a header-less text file of numbers (positions, or names? see build_answers)
        self.lines = False

    def class_names(self, like: np.ndarray | None = None) -> np.ndarray:
        """The classes this truth implies on its own (used to widen inferred classes).

        When the answers' classes ``like`` are text, the truth's labels are names too, never
        positions: text truth may add classes, integer truth adds none (``1`` must name an
        existing class such as ``'1'``; against ``cat, dog`` it is an error when attached).
        """
        if self.indices is not None:
            known = self.indices[self.indices >= 0]
            check_index_range(known, source=self.source, field=self.fields[1],
                              locate=self.locate, what="true class")
            top = int(known.max()) + 1 if len(known) else 0
            return np.arange(top)
        if like is not None and like.dtype.kind in "USO":
            ids = encode_ids(self.label, source=self.source, field=self.fields[1],
                             locate=self.locate)[1]
            return ids.astype(str) if ids.dtype.kind not in "iu" else like
        return encode_labels(self.label, source=self.source, field=self.fields[1],
                             locate=self.locate)[1]

    def attach(self, answers: Answers) -> Answers:
        """``answers`` with this truth; a :class:`DataError` for unknown tasks or classes."""
        if self.indices is None:
            return answers.with_truth_table(
                self.task, self.label, source=self.source, locate=self.locate,
                fields=self.fields,
            )
        values = self.indices
        n = answers.n_tasks
        ids = answers.task_ids
        if len(values) == n:
            out = values
            where = np.arange(n)
        elif (ids.dtype.kind in "iu" and n and int(ids.min()) >= 0
              and len(values) == int(ids.max()) + 1):
            known = np.zeros(len(values), dtype=bool)
            known[ids] = True
            stray = ~known & (values >= 0)
            if stray.any():
                i = int(np.argmax(stray))
                raise DataError(
                    f"truth for task {i}, which is not in the answers", source=self.source,
                    where=self.locate(i), field=self.fields[1],
                )
            out = values[ids]
            where = ids
        else:
            raise DataError(
                f"{len(values)} true labels for {n} tasks (expected one per task, in task order)",
                source=self.source, field=self.fields[1],
            )
        over = out >= answers.n_classes
        if over.any():
            i = int(np.argmax(over))
            raise DataError(
                f"true class index {int(out[i])} outside 0..{answers.n_classes - 1}",
                source=self.source, where=self.locate(int(where[i])), field=self.fields[1],
            )
        return answers.with_truth(out.astype(INDEX_DTYPE))


def _position(i: int) -> str:
    return f"position {int(i)}"


def class_indices(
    values: Any, *, source: str | None, locate: Locator | None = None, field: str = "truth",
) -> np.ndarray:
    """Check an array of true class indices (``-1`` or NaN unknown) and return it as int64.

    Whole floats are accepted (peerannot saves truth as floats); other negatives and non-whole
    numbers are errors.
    """
    arr = np.asarray(values)
    locate = locate or _position
    if arr.ndim != 1:
        raise DataError(f"expected a 1-d array of class indices, got shape {arr.shape}",
                        source=source, field=field)
    kind = arr.dtype.kind
    if kind == "f":
        arr = np.where(np.isnan(arr), MISSING, arr)
        bad = ~np.isfinite(arr) | (np.floor(arr) != arr)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"non-integer class index {arr[i]!r}", source=source,
                            where=locate(i), field=field)
        arr = arr.astype(np.int64)
    elif kind in "iu":
        arr = arr.astype(np.int64)
    else:
        raise DataError(f"class indices must be numbers, got dtype {arr.dtype}", source=source,
                        field=field)
    neg = arr < MISSING
    if neg.any():
        i = int(np.argmax(neg))
        raise DataError(f"negative class index {int(arr[i])} (only -1 means unknown)",
                        source=source, where=locate(i), field=field)
    return arr


# ---------------------------------------------------------------------- assembly
def widen_classes(
    codes: np.ndarray, names: np.ndarray, extra: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Extend inferred classes ``names`` with the classes ``extra`` of the truth.

    Integer classes become ``0..max``; text classes the sorted union (label codes remapped).
    Mixed kinds are left alone (matching the truth then reports the offending value).
    """
    if names.dtype.kind in "iu" and extra.dtype.kind in "iu":
        if len(extra) > len(names):
            return codes, np.arange(len(extra))
        return codes, names
    if names.dtype.kind in "US" and extra.dtype.kind in "US":
        union = np.union1d(names, extra)
        if len(union) == len(names):
            return codes, names
        remap = np.searchsorted(union, names).astype(INDEX_DTYPE)
        return remap[codes], union
    return codes, names


def by_distinct(
    column: Any,
    encode: Callable[[np.ndarray, Locator | None], tuple[np.ndarray, np.ndarray]],
    locate: Locator | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply an encoder of :mod:`crowdlearn.labels` to a column, fast for Arrow-backed text.

    For a pandas text column stored by pyarrow (pandas' default ``str`` dtype when pyarrow is
    installed), the column is dictionary-encoded by pyarrow, ``encode`` runs on the distinct
    values only and the codes are gathered per row: the result is the same, since the rules of
    :mod:`crowdlearn.labels` depend only on the set of values. On an error (or a missing value)
    ``encode`` runs on the whole column, so that the message points at the right row.
    Any other column goes to ``encode`` directly.
    """
    fast = _arrow_distinct(column)
    if fast is None:
        return encode(as_column(column), locate)
    rows, distinct = fast
    try:
        codes, extra = encode(distinct, None)
    except DataError:
        return encode(as_column(column), locate)
    return codes[rows], extra


def _arrow_distinct(column: Any) -> tuple[np.ndarray, np.ndarray] | None:
    import pandas as pd

    if not (isinstance(column, pd.Series) and isinstance(column.dtype, pd.StringDtype)
            and column.dtype.storage == "pyarrow"):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(column.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        return None
    encoded = pc.dictionary_encode(arr)
    rows = encoded.indices.to_numpy(zero_copy_only=False)
    distinct = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    return rows, distinct


def build_answers(
    task: Any,
    worker: Any,
    label: Any,
    *,
    truth: RawTruth | None = None,
    classes: Sequence[Any] | np.ndarray | None = None,
    n_classes: int | None = None,
    require_integer_labels: bool = False,
    name: str | None = None,
    duplicates: str = "error",
    source: str | None = None,
    locate: Locator | None = None,
    fields: tuple[str, str, str] = ("task", "worker", "label"),
    task_ids: np.ndarray | None = None,
    worker_ids: np.ndarray | None = None,
    class_names: np.ndarray | None = None,
) -> Answers:
    """Encode raw columns and truth into an :class:`Answers`.

    Without declared ``classes`` or ``n_classes`` the classes are inferred from the labels and
    the truth together, so that a true class nobody answered still exists. ``task``/``worker``
    may already be indices when ``task_ids``/``worker_ids`` are given. With ``class_names``
    the labels are integer indices into it (as in peerannot's and CrowdLayer's files), whatever
    the names' type.
    """
    if task_ids is None:
        t_codes, task_ids = by_distinct(
            task, lambda v, loc: encode_ids(v, source=source, field=fields[0], locate=loc),
            locate)
    else:
        t_codes = np.asarray(task, dtype=INDEX_DTYPE)
    if worker_ids is None:
        w_codes, worker_ids = by_distinct(
            worker, lambda v, loc: encode_ids(v, source=source, field=fields[1], locate=loc),
            locate)
    else:
        w_codes = np.asarray(worker, dtype=INDEX_DTYPE)
    if class_names is not None:
        l_codes, _ = by_distinct(
            label, lambda v, loc: encode_labels(
                v, n_classes=len(class_names), require_integer=True, source=source,
                field=fields[2], locate=loc), locate)
        names = np.asarray(class_names)
    else:
        l_codes, names = by_distinct(
            label, lambda v, loc: encode_labels(
                v, classes=classes, n_classes=n_classes, require_integer=require_integer_labels,
                source=source, field=fields[2], locate=loc), locate)
    if truth is not None and classes is None and n_classes is None and class_names is None:
        l_codes, names = widen_classes(l_codes, names, truth.class_names(like=names))
    if truth is not None and truth.lines and class_names is None and names.dtype.kind in "USO":
        shown = ", ".join(repr(str(c)) for c in names[:5]) + (", ..." if len(names) > 5 else "")
        raise DataError(
            f"one number per line means class indices in task order, but the answers' classes "
            f"are names ({shown}): give the truth as a task,truth table", source=truth.source,
            field=truth.fields[1],
        )
    answers = Answers(
        t_codes, w_codes, l_codes, task_ids=task_ids, worker_ids=worker_ids, classes=names,
        name=name, duplicates=duplicates, source=source, locate=locate,  # type: ignore[arg-type]
    )
    if truth is not None:
        answers = truth.attach(answers)
    return answers


def check_duplicates_policy(duplicates: str) -> None:
    """Raise :class:`ValueError` for an unknown duplicates policy (a programming error)."""
    from ..answers import DUPLICATE_POLICIES

    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")


# ---------------------------------------------------------------------- writing tables
def write_delimited(frame: pd.DataFrame, path: PathLike, sep: str = ",") -> None:
    """Write ``frame`` as delimited text with a header, atomically and fast.

    pyarrow's writer is used when available (text values are then always quoted, which every
    CSV reader accepts); otherwise pandas'. Lines end with ``\\n``.
    """
    import csv
    import io

    from ._atomic import atomic_write

    header = io.StringIO()
    csv.writer(header, delimiter=sep, lineterminator="\n").writerow(
        [str(c) for c in frame.columns])
    if has_pyarrow() and len(frame):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        table = pa.Table.from_pandas(frame, preserve_index=False)
        options = pacsv.WriteOptions(include_header=False, delimiter=sep,
                                     quoting_style="needed")
        with atomic_write(path, "wb") as f:
            f.write(header.getvalue().encode("utf-8"))
            pacsv.write_csv(table, f, options)
        return
    with atomic_write(path, "w", newline="") as f:
        f.write(header.getvalue())
        frame.to_csv(f, sep=sep, index=False, header=False, lineterminator="\n")


def write_parquet(frame: pd.DataFrame, path: PathLike) -> None:
    """Write ``frame`` as Parquet (needs pyarrow), atomically."""
    from ._atomic import atomic_write

    _pyarrow_parquet(source_name(path))
    with atomic_write(path, "wb") as f:
        frame.to_parquet(f, index=False, engine="pyarrow")


def publish_folder(
    dest: PathLike, build: Callable[[Path], None], owned: Callable[[str], bool]
) -> Path:
    """Create or update the data set folder ``dest`` so that readers never see half of it.

    ``build(tmp)`` writes the new files into an empty temporary folder. When ``dest`` does not
    exist or holds only files this format owns (``owned(name)`` is true), the temporary folder
    replaces it whole (:func:`atomic_dir`). Otherwise (``dest`` also holds, say, the images of
    a peerannot data set) the new files are moved in one by one, each move atomic, the other
    content is kept, and owned files that the new version no longer has are deleted.
    """
    import shutil
    import tempfile

    from ._atomic import atomic_dir, replace_files_into

    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise DataError("exists and is not a folder", source=source_name(dest))
    if not dest.exists() or all(p.is_file() and owned(p.name) for p in dest.iterdir()):
        with atomic_dir(dest) as tmp:
            build(tmp)
        return dest
    tmp = Path(tempfile.mkdtemp(prefix=".crowdlearn-", suffix=".tmp", dir=dest))
    try:
        build(tmp)
        new = {p.name for p in tmp.iterdir()}
        stale = [p.name for p in dest.iterdir()
                 if p.is_file() and owned(p.name) and p.name not in new]
        replace_files_into(tmp, dest, remove=stale)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# ---------------------------------------------------------------------- ids from text keys
_CANONICAL_INT = r"-?(?:0|[1-9][0-9]{0,17})"


def encode_text_keys(
    keys: Sequence[str], *, source: str | None, field: str
) -> tuple[np.ndarray, np.ndarray]:
    """Factorise ids given as text (JSON object keys) into ``(codes, ids)``.

    When every distinct key is an integer written canonically (``"0"``, ``"17"``, ``"-3"``; not
    ``"007"`` or ``"+1"``), the ids are integers, as peerannot means them; otherwise they stay
    text. Work is per distinct key, vectorised.
    """
    import pandas as pd

    arr = np.asarray(keys, dtype=object)
    raw_codes, uniques = pd.factorize(arr)
    uniq = np.asarray(uniques, dtype=object)
    if len(uniq) and bool(pd.Series(uniq, dtype=object).str.fullmatch(_CANONICAL_INT).all()):
        uniq = uniq.astype(np.int64)
    codes, ids = encode_ids(uniq, source=source, field=field)
    return codes[raw_codes].astype(INDEX_DTYPE, copy=False), ids
