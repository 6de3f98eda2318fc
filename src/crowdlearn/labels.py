"""Encoding of ids and labels: the one place where raw values become integer indices.

Every reader (tables, peerannot folders, CrowdLayer matrices, truth files, simulations) turns its
raw columns into index arrays through :func:`encode_ids` and :func:`encode_labels`, so the rules
below hold for every format, and new kinds of answers (real values for crowd regression, tag
sequences for sequence labelling) join by adding a branch here rather than in each reader.

Rules for class labels
----------------------
* Integer labels are class indices unless ``classes`` lists integer class values, in which case
  they are looked up by value. Without declared classes or ``n_classes`` the classes are
  ``0 .. max(label)``; a negative label is an error.
* Floats that are whole numbers count as integers (``3.0`` is class 3); any other float is an error.
* Text labels are looked up in ``classes`` when it is given; otherwise the classes are the sorted
  distinct labels. Where integers are required (``require_integer=True`` or a declared
  ``n_classes`` without names) text is an error.
* Nothing is dropped or changed silently: the first offending value is reported with its place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError

Locator = Callable[[int], str]
INDEX_DTYPE = np.int32


def line_locator(first_line: int = 2) -> Locator:
    """Locate element ``i`` of a table column as a 1-based file line (``first_line`` for row 0)."""
    return lambda i: f"line {int(i) + first_line}"


def row_locator() -> Locator:
    """Locate element ``i`` as a 0-based row of an in-memory table."""
    return lambda i: f"row {int(i)}"


def _where(locate: Locator | None, i: int) -> str:
    return locate(int(i)) if locate is not None else f"element {int(i)}"


def _shown(value: Any) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def as_column(values: Any) -> np.ndarray:
    """A 1-d numpy view of a column (list, Series, array)."""
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy()
    elif not isinstance(values, np.ndarray):
        # let pandas infer: numpy would turn [1, "x"] into the text array ["1", "x"]
        values = pd.Series(list(values) if not isinstance(values, list) else values).to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    return arr


def check_missing(
    values: np.ndarray, *, source: str | None, field: str, locate: Locator | None
) -> None:
    """Raise a :class:`DataError` at the first missing value (NaN/None) in ``values``."""
    if values.dtype.kind == "f":
        bad = np.isnan(values)
    elif values.dtype.kind == "O":
        bad = pd.isna(values)
    else:
        return
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError("missing value", source=source, where=_where(locate, i), field=field)


def _integral(
    values: np.ndarray, *, source: str | None, field: str, locate: Locator | None
) -> np.ndarray | None:
    """Return ``values`` as int64 when they are whole numbers, ``None`` when they are text.

    Raises at the first non-whole float (or at a bool, which is never a label).
    """
    kind = values.dtype.kind
    if kind in "iu":
        return values.astype(np.int64, copy=False)
    if kind == "b":
        raise DataError(
            "boolean values are not labels or ids", source=source, where=_where(locate, 0),
            field=field,
        )
    if kind == "f":
        check_missing(values, source=source, field=field, locate=locate)
        whole = np.isfinite(values) & (np.floor(values) == values)
        if not whole.all():
            i = int(np.argmax(~whole))
            raise DataError(
                f"non-integer value {_shown(values[i])} where integers are required",
                source=source, where=_where(locate, i), field=field,
            )
        return values.astype(np.int64)
    if kind == "O":
        check_missing(values, source=source, field=field, locate=locate)
        inferred = pd.api.types.infer_dtype(values, skipna=False)
        if inferred == "integer":
            return values.astype(np.int64)
        if inferred in ("floating", "mixed-integer-float"):
            return _integral(values.astype(np.float64), source=source, field=field,
                             locate=locate)
    return None


def encode_ids(
    values: Any, *, source: str | None = None, field: str = "task", locate: Locator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Factorise a column of ids into ``(codes, uniques)``.

    ``uniques`` is sorted (integers numerically, text lexicographically) so that the index of an
    id does not depend on row order; ``codes`` are ``int32`` indices into it.
    """
    arr = as_column(values)
    check_missing(arr, source=source, field=field, locate=locate)
    ints = _integral(arr, source=source, field=field, locate=locate) if arr.dtype.kind in "iufbO" \
        else None
    if ints is not None:
        arr = ints
    elif arr.dtype.kind != "O" or pd.api.types.infer_dtype(arr, skipna=False) != "string":
        arr = arr.astype(str).astype(object)
    codes, uniques = factorize_sorted(arr)
    return codes.astype(INDEX_DTYPE, copy=False), np.asarray(uniques)


def factorize_sorted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=True)``, faster on large columns (same result).

    Integers in a compact range use a counting pass; text is hashed, then its distinct values
    are sorted as a numpy unicode array rather than as Python objects (10x faster).
    """
    if values.dtype.kind in "iu" and len(values):
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 2 * len(values) + 1024:
            present = np.bincount(values - lo, minlength=hi - lo + 1) > 0
            rank = np.cumsum(present) - 1
            return rank[values - lo], np.flatnonzero(present).astype(np.int64) + lo
    if values.dtype.kind == "O" and len(values) > 10_000:
        codes, uniques = pd.factorize(values)
        uniq = np.asarray(uniques, dtype=object)
        text = uniq.astype(str)
        if pd.api.types.infer_dtype(uniq, skipna=False) == "string" and bool(
            (np.char.str_len(text) == pd.Series(uniq, dtype=object).str.len().to_numpy()).all()
        ):
            order = np.argsort(text, kind="stable")
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            return rank[codes], uniq[order]
    return pd.factorize(values, sort=True)


def match_ids(
    values: Any,
    known: np.ndarray,
    *,
    source: str | None = None,
    field: str = "task",
    locate: Locator | None = None,
) -> np.ndarray:
    """Position of each raw id in ``known``, ``-1`` where it is absent.

    Integer-like text and integers match each other (``"12"`` finds task ``12``), because JSON
    keys are always text while CSV ids are often integers; ``"012"`` does not find ``12``.
    """
    arr = as_column(values)
    check_missing(arr, source=source, field=field, locate=locate)
    ints = _integral(arr, source=source, field=field, locate=locate) if arr.dtype.kind in "iufO" \
        else None
    arr = ints if ints is not None else arr.astype(str).astype(object)
    index = pd.Index(known)
    if (ints is None) != (known.dtype.kind not in "iu"):
        index = pd.Index(known.astype(str).astype(object))
        arr = arr.astype(str).astype(object)
    return index.get_indexer(arr)


def lookup_ids(
    values: Any,
    known: np.ndarray,
    *,
    source: str | None = None,
    field: str = "task",
    locate: Locator | None = None,
    what: str = "task",
) -> np.ndarray:
    """Map raw ids to indices into ``known``; an id not in ``known`` is a :class:`DataError`.

    Integer-like text and integers match each other (``"12"`` finds task ``12``), because JSON
    keys are always text while CSV ids are often integers.
    """
    codes = match_ids(values, known, source=source, field=field, locate=locate)
    bad = codes < 0
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"unknown {what} {_shown(as_column(values)[i])} (not in the answers)",
            source=source, where=_where(locate, i), field=field,
        )
    return codes.astype(INDEX_DTYPE, copy=False)


def encode_labels(
    values: Any,
    *,
    classes: Sequence[Any] | np.ndarray | None = None,
    n_classes: int | None = None,
    require_integer: bool = False,
    source: str | None = None,
    field: str = "label",
    locate: Locator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn raw class labels into ``(codes, classes)`` following the module's rules."""
    arr = as_column(values)
    check_missing(arr, source=source, field=field, locate=locate)
    declared = None if classes is None else np.asarray(list(classes))
    if declared is not None and n_classes is not None and len(declared) != n_classes:
        raise DataError(
            f"{len(declared)} class names declared but n_classes is {n_classes}",
            source=source, field="n_classes",
        )
    if declared is not None and len(pd.unique(declared)) != len(declared):
        raise DataError("class names are not distinct", source=source, field="classes")
    ints = _integral(arr, source=source, field=field, locate=locate) if arr.dtype.kind in "iufbO" \
        else None

    if ints is not None:
        if declared is not None and declared.dtype.kind in "iu":
            return _lookup_labels(ints, declared, source, field, locate)
        if declared is not None:
            k = len(declared)
        elif n_classes is not None:
            k = int(n_classes)
        else:
            k = None
        neg = ints < 0
        if neg.any():
            i = int(np.argmax(neg))
            raise DataError(
                f"negative label {int(ints[i])}", source=source, where=_where(locate, i),
                field=field,
            )
        if k is not None:
            over = ints >= k
            if over.any():
                i = int(np.argmax(over))
                raise DataError(
                    f"label {int(ints[i])} is outside the {k} declared classes (0..{k - 1})",
                    source=source, where=_where(locate, i), field=field,
                )
            names = declared if declared is not None else np.arange(k)
        else:
            names = np.arange(int(ints.max()) + 1 if len(ints) else 0)
        return ints.astype(INDEX_DTYPE), names

    # text labels
    if require_integer or (n_classes is not None and declared is None) or (
        declared is not None and declared.dtype.kind in "iu"
    ):
        i = _first_non_integer(arr)
        raise DataError(
            f"non-integer label {_shown(arr[i])} where integers are required",
            source=source, where=_where(locate, i), field=field,
        )
    text = arr.astype(str).astype(object)
    if declared is not None:
        return _lookup_labels(text, declared.astype(str).astype(object), source, field, locate,
                              names=declared)
    codes, uniques = factorize_sorted(text)
    return codes.astype(INDEX_DTYPE), np.asarray(uniques, dtype=object).astype(str)


def _lookup_labels(
    values: np.ndarray,
    declared: np.ndarray,
    source: str | None,
    field: str,
    locate: Locator | None,
    names: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    codes = pd.Index(declared).get_indexer(values)
    bad = codes < 0
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"label {_shown(values[i])} is not one of the declared classes",
            source=source, where=_where(locate, i), field=field,
        )
    return codes.astype(INDEX_DTYPE), (declared if names is None else names)


def _first_non_integer(values: np.ndarray) -> int:
    """Index of the first element that is not an integer or integer text such as ``"3"``.

    (A CSV column holding ``0``, ``1`` and ``dog`` is read as text: ``dog`` is the culprit.)
    """
    if values.dtype.kind != "O":
        return 0
    for i, v in enumerate(values):  # only on the error path
        if isinstance(v, bool) or not isinstance(v, (int, np.integer, str)):
            return i
        if isinstance(v, str):
            try:
                int(v)
            except ValueError:
                return i
    return 0
