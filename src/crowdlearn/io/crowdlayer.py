"""CrowdLayer answer matrices.

CrowdLayer (Rodrigues & Pereira, 2018) stores crowd answers as a dense (tasks x workers) matrix
of class indices with ``-1`` where a worker did not answer a task: ``answers.txt`` (integers
separated by spaces, one task per line, no header) or a ``.npy`` array. Commas are accepted as
separators in text files too.

* Task ids are the row numbers ``0..n_rows-1`` and worker ids the column numbers: every row is a
  task and every column a worker, even without answers. Original ids are not part of this
  format: writing keeps only the order (tasks by sorted id, workers by sorted id), so reading
  back gives equal answers exactly when the task and worker ids are ``0..n-1``.
* Classes are ``0..max`` over the answers and the truth (or ``n_classes``/``classes`` when
  given); class names are not stored.
* Values must be whole numbers; ``-1`` marks a missing answer and any other negative number, a
  non-number or an empty cell is a :class:`~crowdlearn.errors.DataError` naming the file, the
  line and the column (text: 1-based line and column; ``.npy``: 0-based row and column).
* Truth sits next to the matrix as ``<stem>.truth.npy`` / ``<stem>.truth.txt`` (one class index
  per task, ``-1`` unknown), loaded automatically; CrowdLayer's own ``labels_train.txt`` can be
  given with ``truth=``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from ._atomic import atomic_write
from ._common import (
    FileLineLocator,
    PathLike,
    build_answers,
    load_npy,
    not_utf8,
    parser_error,
    require_file,
    require_nonempty,
    source_name,
)
from .truth import load_truth, sibling_truth

if TYPE_CHECKING:
    from ..answers import Answers

__all__ = ["looks_like_matrix", "read_crowdlayer", "write_crowdlayer"]


def read_crowdlayer(
    path: PathLike,
    *,
    truth: Any = None,
    classes: Any = None,
    n_classes: int | None = None,
    name: str | None = None,
    sep: str | None = None,
) -> Answers:
    """Read a CrowdLayer answers matrix (``.npy``, or text such as ``answers.txt``).

    Parameters
    ----------
    path:
        The matrix file.
    truth:
        ``None``: the sibling ``<stem>.truth.npy``/``.txt`` when it exists; ``False``: none; else
        a truth file, mapping or array (:mod:`crowdlearn.io.truth`).
    classes:
        Class names, indexed by the matrix values.
    n_classes:
        Number of classes (values must be below it).
    name:
        Data set name (default: the file stem).
    sep:
        Separator of a text matrix (default: comma when the first line has one, else spaces).

    Returns
    -------
    Answers
    """
    p = require_file(path)
    src = source_name(path)
    require_nonempty(p)
    if p.suffix.lower() == ".npy":
        matrix = _load_npy(p, src)

        def place(r: int, c: int) -> str:
            return f"row {r}, column {c}"
    else:
        matrix, lines = _load_text(p, src, sep)

        def place(r: int, c: int) -> str:
            return f"line {lines.line(r)}, column {c + 1}"

    matrix = _check_values(matrix, src, place)
    rows, cols = np.nonzero(matrix != -1)
    if len(rows) == 0:
        raise DataError("no answers (every value is -1)", source=src)
    labels = matrix[rows, cols]

    def locate(i: int) -> str:
        return place(int(rows[i]), int(cols[i]))

    if truth is None:
        sib = sibling_truth(p)
        alt = p.with_name(f"{p.stem}.truth.txt")
        truth = sib if sib.is_file() else alt if alt.is_file() else None
    names = None if classes is None else np.asarray(list(classes))
    return build_answers(
        rows, cols, labels, truth=load_truth(truth), n_classes=n_classes if names is None
        else None, class_names=names, require_integer_labels=True,
        name=name if name is not None else p.stem, source=src, locate=locate,
        task_ids=np.arange(matrix.shape[0]), worker_ids=np.arange(matrix.shape[1]),
    )


def _load_npy(p: Path, src: str) -> np.ndarray:
    arr = load_npy(p, src)
    if arr.ndim != 2:
        raise DataError(f"expected a 2-d (tasks x workers) matrix, got shape {arr.shape}",
                        source=src)
    if arr.dtype.kind not in "iuf":
        raise DataError(f"expected numbers, got dtype {arr.dtype}", source=src)
    return arr


def _load_text(p: Path, src: str, sep: str | None) -> tuple[np.ndarray, FileLineLocator]:
    import pandas as pd

    lines = FileLineLocator(p, header_lines=0)
    if sep is None:
        with open(p, "rb") as f:
            first = f.readline(65536)
        sep = "," if b"," in first else r"\s+"
    try:
        frame = pd.read_csv(p, header=None, sep=sep, engine="c", keep_default_na=False,
                            na_values=[""], low_memory=False)
    except pd.errors.ParserError as exc:
        raise parser_error(exc, src) from exc
    except UnicodeDecodeError as exc:
        raise not_utf8(p, src) from exc
    if frame.shape[0] == 0:
        raise DataError("no rows", source=src)
    if all(frame[c].dtype.kind in "iuf" for c in frame.columns):
        return frame.to_numpy(), lines
    numeric = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(numeric) & frame.notna().to_numpy()
    r, c = np.argwhere(bad)[0]
    raise DataError(f"not a number: {frame.iat[r, c]!r}", source=src,
                    where=f"line {lines.line(int(r))}, column {int(c) + 1}")


def _check_values(
    matrix: np.ndarray, src: str, place: Callable[[int, int], str]
) -> np.ndarray:
    if matrix.dtype.kind == "f":
        missing = np.isnan(matrix)
        if missing.any():
            r, c = np.argwhere(missing)[0]
            raise DataError("missing value (use -1 for no answer)", source=src,
                            where=place(int(r), int(c)))
        bad = ~np.isfinite(matrix) | (np.floor(matrix) != matrix)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise DataError(f"non-integer value {float(matrix[r, c])!r} where class indices are "
                            "required", source=src, where=place(int(r), int(c)))
    matrix = matrix.astype(np.int64, copy=False)
    neg = matrix < -1
    if neg.any():
        r, c = np.argwhere(neg)[0]
        raise DataError(f"negative value {int(matrix[r, c])} (only -1 marks a missing answer)",
                        source=src, where=place(int(r), int(c)))
    return matrix


def looks_like_matrix(path: PathLike) -> str | None:
    """Whether a text file starts with a line of integers only (no header).

    Returns ``"spaces"`` when they are separated by spaces only (CrowdLayer's ``answers.txt``),
    ``"other"`` when commas or tabs separate them (a header-less table is as likely as a
    matrix), ``None`` when the first non-blank line is not all integers (a header).
    """
    with open(path, "rb") as f:
        for raw in f:
            line = raw.strip()
            if line:
                tokens = line.replace(b",", b" ").split()
                ints = bool(tokens) and all(
                    t.lstrip(b"-").isdigit() and t.count(b"-") <= 1 and not t.endswith(b"-")
                    for t in tokens
                )
                if not ints:
                    return None
                return "other" if b"," in line or b"\t" in line else "spaces"
    return None


def write_crowdlayer(answers: Answers, path: PathLike) -> Path:
    """Write the (tasks x workers) answers matrix, ``-1`` where missing (atomically).

    ``.npy`` gives a NumPy array (int32); any other name a text file of space-separated
    integers, one task per line. Rows follow the task order and columns the worker order;
    the ids themselves and the class names are not stored. The truth, when known, goes to
    ``<stem>.truth.npy`` / ``<stem>.truth.txt``.

    Parameters
    ----------
    answers:
        Answers with at most one answer per (task, worker) pair.
    path:
        Output file.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    matrix = answers.dense_matrix()
    binary = path.suffix.lower() == ".npy"
    truth_path = sibling_truth(path) if binary else path.with_name(f"{path.stem}.truth.txt")
    if binary:
        with atomic_write(path, "wb") as f:
            np.save(f, matrix, allow_pickle=False)
    else:
        _write_text_matrix(matrix, path)
    if answers.has_truth:
        assert answers.truth is not None
        if binary:
            with atomic_write(truth_path, "wb") as f:
                np.save(f, answers.truth.astype(np.int64), allow_pickle=False)
        else:
            _write_text_matrix(answers.truth.reshape(-1, 1), truth_path)
    elif truth_path.is_file():
        truth_path.unlink()
    return path


def _write_text_matrix(matrix: np.ndarray, path: Path) -> None:
    import pandas as pd

    with atomic_write(path, "w", newline="") as f:
        pd.DataFrame(matrix).to_csv(f, sep=" ", header=False, index=False, lineterminator="\n")
