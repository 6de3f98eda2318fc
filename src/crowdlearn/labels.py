"""Encoding of ids and labels: the one place where raw values become integer indices.

Every reader (tables, peerannot folders, CrowdLayer matrices, truth files, simulations) turns its
raw columns into index arrays through :func:`encode_ids` and :func:`encode_labels`, so the rules
below hold for every format, and new kinds of answers (real values for crowd regression, tag
sequences for sequence labelling) join by adding a branch here rather than in each reader.

Rules for class labels
----------------------
* Declared ``classes`` are class *names*: every label is looked up by value, never by position.
  An integer label matches an integer class of that value or a text class that spells it
  (``1`` is class ``'1'`` of ``['1', '2', 'unsure']``); a text label that spells an integer
  matches an integer class (``"1"`` is class ``1``). A label that names no class is an error, so
  ``1`` against ``['cat', 'dog']`` is refused rather than read as ``'dog'``.
* Without declared classes, integer labels are class indices: with ``n_classes`` they must lie
  in ``0 .. n_classes-1``; otherwise the classes are ``0 .. max(label)``, provided that this
  range is not much larger than the number of distinct labels (at most
  ``2 * distinct + 32`` classes): a label such as ``200000000`` among a few small ones is an
  error naming its place, not 200 million classes (declare ``classes`` or ``n_classes`` to
  accept it). A negative label is an error.
* Floats that are whole numbers count as integers (``3.0`` is class 3); any other float, and any
  integer beyond the 64-bit range (``1e300``, ``2**63 + 5``), is an error.
* Text labels are looked up in ``classes`` when it is given; otherwise the classes are the sorted
  distinct labels, except that a value spelling NaN or an infinity (``nan``, ``-inf``) among
  values that all spell numbers is an error (a missing number, not a class named ``"nan"``).
  Where integers are required (``require_integer=True`` or a declared
  ``n_classes`` without names) text is an error.
* Values that are neither numbers nor text (lists, bytes, dates) are errors.
* Nothing is dropped or changed silently: the first offending value is reported with its place.

This module is the one place where raw ids and labels become indices: readers of truth files,
features and converted data sets go through :func:`encode_labels`, :func:`encode_ids` and
:func:`match_ids` rather than mapping values by position themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, option

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


_INT64_MAX = np.iinfo(np.int64).max
#: floats at or beyond 2**63 do not fit an int64 (and lost integer precision long before)
_FLOAT_LIMIT = 2.0 ** 63


def _integral(
    values: np.ndarray, *, source: str | None, field: str, locate: Locator | None
) -> np.ndarray | None:
    """Return ``values`` as int64 when they are whole numbers, ``None`` when they are text.

    Raises at the first non-whole float, at the first number beyond the int64 range (``1e300``,
    ``2**63 + 5``, a 23-digit integer) and at a bool, which is never a label.
    """
    kind = values.dtype.kind
    if kind == "i":
        return values.astype(np.int64, copy=False)
    if kind == "u":
        over = values > _INT64_MAX
        if over.any():
            _too_large(values, int(np.argmax(over)), source, field, locate)
        return values.astype(np.int64, copy=False)
    if kind == "b":
        raise DataError(
            "boolean values are not labels or ids", source=source, where=_where(locate, 0),
            field=field,
        )
    if kind == "f":
        check_missing(values, source=source, field=field, locate=locate)
        finite = np.isfinite(values)
        whole = finite & (np.floor(values) == values)
        if not whole.all():
            i = int(np.argmax(~whole))
            raise DataError(
                f"non-integer value {_shown(values[i])} where integers are required",
                source=source, where=_where(locate, i), field=field,
            )
        over = np.abs(values) >= _FLOAT_LIMIT
        if over.any():
            _too_large(values, int(np.argmax(over)), source, field, locate)
        return values.astype(np.int64)
    if kind == "O":
        check_missing(values, source=source, field=field, locate=locate)
        inferred = pd.api.types.infer_dtype(values, skipna=False)
        if inferred == "integer":
            try:
                return values.astype(np.int64)
            except OverflowError:
                big = np.fromiter((abs(int(v)) > _INT64_MAX for v in values), dtype=bool,
                                  count=len(values))  # error path only
                _too_large(values, int(np.argmax(big)), source, field, locate)
        if inferred in ("floating", "mixed-integer-float"):
            try:
                as_float = values.astype(np.float64)
            except OverflowError:  # a Python int beyond the float range
                as_float = np.array([_float_or_inf(v) for v in values])
            return _integral(as_float, source=source, field=field, locate=locate)
    return None


def _float_or_inf(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def _too_large(
    values: np.ndarray, i: int, source: str | None, field: str, locate: Locator | None
) -> None:
    raise DataError(
        f"value {_shown(values[i])} is beyond the 64-bit integer range of labels and ids",
        source=source, where=_where(locate, i), field=field,
    )


def _as_text(
    values: np.ndarray, *, source: str | None, field: str, locate: Locator | None
) -> np.ndarray:
    """``values`` (not integers) as an object array of ``str``.

    Text, numbers and dates are written out; ``bytes`` are decoded as UTF-8 (Parquet files
    without a string annotation store text so); anything else (a list, a dict, bytes that are
    not UTF-8) is an error naming its place.
    """
    if values.dtype.kind != "O":
        return values.astype(str).astype(object)
    inferred = pd.api.types.infer_dtype(values, skipna=False)
    if inferred == "string":
        return values
    if inferred in ("integer", "floating", "mixed-integer", "mixed-integer-float", "boolean",
                    "datetime", "date", "time", "timedelta", "decimal", "period", "empty"):
        return values.astype(str).astype(object)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):  # unusual inputs only (bytes, lists, mixtures)
        if isinstance(v, bytes):
            try:
                out[i] = v.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"binary value {_shown(v)} is not UTF-8 text ({exc.reason} at byte "
                    f"{exc.start})", source=source, where=_where(locate, i), field=field,
                ) from exc
        elif isinstance(v, (str, int, float, np.generic)) and not isinstance(v, np.void):
            out[i] = str(v)
        else:
            raise DataError(
                f"value of type {type(v).__name__} ({_shown(v)}): ids and labels must be text "
                "or numbers", source=source, where=_where(locate, i), field=field,
            )
    return out


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
    arr = ints if ints is not None else _as_text(arr, source=source, field=field, locate=locate)
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
    arr = ints if ints is not None else _as_text(arr, source=source, field=field, locate=locate)
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
    known: str = "declared classes",
) -> tuple[np.ndarray, np.ndarray]:
    """Turn raw class labels into ``(codes, classes)`` following the module's rules.

    ``known`` names the declared classes in error messages (``"the answers' classes"`` when a
    truth file is matched to answers).
    """
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
        if declared is not None:
            if declared.dtype.kind in "iub":  # boolean classes: False == 0, True == 1
                return _lookup_labels(ints, declared.astype(np.int64), source, field, locate,
                                      known, names=declared)
            # text class names: an integer label names the class that spells it (looked up
            # once per distinct value)
            uniq, inverse = np.unique(ints, return_inverse=True)
            found = pd.Index(declared.astype(str).astype(object)).get_indexer(
                uniq.astype(str).astype(object))
            if (found < 0).any():
                _lookup_labels(ints, np.delete(uniq, np.flatnonzero(found < 0)), source, field,
                               locate, known, names=declared)
            return found[inverse.reshape(-1)].astype(INDEX_DTYPE), declared
        neg = ints < 0
        if neg.any():
            i = int(np.argmax(neg))
            raise DataError(
                f"negative label {int(ints[i])}", source=source, where=_where(locate, i),
                field=field,
            )
        if n_classes is not None:
            k = int(n_classes)
            over = ints >= k
            if over.any():
                i = int(np.argmax(over))
                raise DataError(
                    f"label {int(ints[i])} is outside the {k} declared classes (0..{k - 1})",
                    source=source, where=_where(locate, i), field=field,
                )
            return ints.astype(INDEX_DTYPE), np.arange(k)
        check_index_range(ints, source=source, field=field, locate=locate)
        return ints.astype(INDEX_DTYPE), np.arange(int(ints.max()) + 1 if len(ints) else 0)

    # text labels
    if require_integer or (n_classes is not None and declared is None):
        i = _first_non_integer(arr)
        raise DataError(
            f"non-integer label {_shown(arr[i])} where integers are required",
            source=source, where=_where(locate, i), field=field,
        )
    text = _as_text(arr, source=source, field=field, locate=locate)
    if declared is not None:
        return _lookup_labels(text, declared.astype(str).astype(object), source, field, locate,
                              known, names=declared)
    codes, uniques = factorize_sorted(text)
    j = first_non_finite_number(np.asarray(uniques, dtype=object))  # distinct values only
    if j is not None:  # "0", "1", "nan": a missing number, not a class named "nan"
        i = int(np.argmax(codes == j))
        raise DataError(f"non-finite value {_shown(text[i])} among numeric labels",
                        source=source, where=_where(locate, i), field=field)
    return codes.astype(INDEX_DTYPE), np.asarray(uniques, dtype=object).astype(str)


_NON_FINITE = frozenset({"nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity",
                         "-infinity", "+infinity"})


def spells_non_finite(value: Any) -> bool:
    """Whether ``value`` is text spelling NaN or an infinity (``nan``, ``NaN``, ``-inf``, ...)."""
    return isinstance(value, str) and value.strip().lower() in _NON_FINITE


def first_non_finite_number(values: np.ndarray) -> int | None:
    """Index of the first value spelling NaN or an infinity (:func:`spells_non_finite`) in a
    column whose every other value spells a finite number; ``None`` otherwise (a column with
    other text is class names, where ``"nan"`` may be one)."""
    if values.dtype.kind not in "OUS" or not len(values):
        return None
    spelled = np.fromiter((spells_non_finite(v) for v in values), dtype=bool,
                          count=len(values))
    if not spelled.any() or spelled.all():
        return None
    num = pd.to_numeric(pd.Series(values[~spelled], dtype=object), errors="coerce")
    if not np.isfinite(num.to_numpy(dtype=np.float64)).all():
        return None
    return int(np.argmax(spelled))


#: inferred integer classes 0..max are accepted up to ``2 * distinct labels + SPARE_CLASSES``
SPARE_CLASSES = 32


def check_index_range(
    ints: np.ndarray, *, source: str | None, field: str, locate: Locator | None,
    what: str = "label",
) -> None:
    """Refuse integer class indices whose range ``0..max`` dwarfs the distinct values used.

    Classes ``0..max`` are inferred from integer labels; a stray ``200000000`` among labels
    ``0, 1`` would otherwise make 200 million classes (and gigabytes of arrays downstream). The
    range is accepted when ``max + 1 <= 2 * distinct + SPARE_CLASSES``; the check costs nothing
    for the usual small ranges. Raises a :class:`DataError` at the largest value.
    """
    if not len(ints):
        return
    top = int(ints.max())
    if top + 1 <= 2 + SPARE_CLASSES:
        return
    if top < 4 * len(ints) + 1024:
        distinct = int(np.count_nonzero(np.bincount(ints[ints >= 0], minlength=1)))
    else:
        distinct = len(np.unique(ints))
    if top + 1 <= 2 * distinct + SPARE_CLASSES:
        return
    i = int(np.argmax(ints))
    raise DataError(
        f"{what} {top} would make {top + 1:,} classes (0..{top}) but only {distinct:,} distinct "
        f"{what}s are used (integer {what}s are class indices); if the {what}s are names, "
        f"declare them: {option('classes', 'NAME,NAME,...', '[...]')}",
        source=source, where=_where(locate, i), field=field,
    )


def _lookup_labels(
    values: np.ndarray,
    declared: np.ndarray,
    source: str | None,
    field: str,
    locate: Locator | None,
    known: str,
    names: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    codes = pd.Index(declared).get_indexer(values)
    bad = codes < 0
    if bad.any():
        i = int(np.argmax(bad))
        listed = ", ".join(_shown(v) for v in names[:8]) + (", ..." if len(names) > 8 else "")
        raise DataError(
            f"label {_shown(values[i])} is not one of the {known} ({listed})",
            source=source, where=_where(locate, i), field=field,
        )
    return codes.astype(INDEX_DTYPE), names


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
