"""Answer kinds: the one place that decides whether answers are class labels or real values.

crowdlearn knows three kinds of answers (:data:`KINDS`):

``classification``
    class labels, encoded by :mod:`crowdlearn.labels` into an :class:`~crowdlearn.answers.Answers`;
``regression``
    real numbers (ratings, counts, measurements), held as floats in a
    :class:`~crowdlearn.real.RealAnswers`;
``sequence``
    tag sequences (:mod:`crowdlearn.sequence`): a CoNLL-style crowd folder is detected as such
    (:func:`answer_kind`).

The kind is declared (``kind="regression"``, ``--kind regression``) or detected from the values
(:func:`detect_kind`): numbers of which at least one is not a whole number are real values;
whole numbers and text are class labels (integers are class indices, as :mod:`crowdlearn.labels`
has always read them). Real values are checked by :func:`encode_values`: every value must be a
finite number; NaN, infinities, empty cells and text are one-line
:class:`~crowdlearn.errors.DataError`\\ s naming the file, the line and the field.

Strategies declare the kinds they accept (``Aggregator`` and the deep strategies take
classification; :class:`~crowdlearn.aggregate.regression.RegressionAggregator` takes
regression); :func:`refuse_kind` is the one-line error a strategy raises on the other kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import CrowdlearnError, DataError, option

if TYPE_CHECKING:  # numpy and pandas load on first use: --help must stay fast
    import numpy as np

    from .labels import Locator

__all__ = ["KINDS", "add_kind_argument", "answer_kind", "check_kind", "detect_kind",
           "encode_values", "kind_of", "refuse_kind"]

#: the answer kinds, in the order ``--kind`` lists them
KINDS: tuple[str, ...] = ("classification", "regression", "sequence")


def check_kind(kind: str | None) -> str | None:
    """``kind`` lower-cased, or a :class:`CrowdlearnError` naming the valid kinds."""
    if kind is None:
        return None
    low = str(kind).strip().lower()
    if low not in KINDS:
        raise CrowdlearnError(f"unknown answer kind {kind!r}; choose from {', '.join(KINDS)}")
    return low


def detect_kind(values: Any) -> str:
    """``"regression"`` when ``values`` are numbers and at least one is not a whole number,
    else ``"classification"``.

    Text that spells numbers (a CSV column read as text) counts as numbers when every
    non-empty value parses as one. Booleans and whole numbers are class labels: a column of
    ``0``, ``1``, ``2`` is ambiguous and read as classes unless the kind is declared.
    """
    import numpy as np

    from .labels import as_column

    arr = as_column(values)
    if arr.dtype.kind == "f":
        finite = arr[np.isfinite(arr)]
        return "regression" if bool((finite != np.floor(finite)).any()) else "classification"
    if arr.dtype.kind != "O" or not len(arr):
        return "classification"
    import pandas as pd

    from .labels import spells_non_finite

    if any(isinstance(v, bool) for v in arr[:1]):
        return "classification"
    num = pd.to_numeric(pd.Series(arr), errors="coerce").to_numpy(dtype=np.float64)
    finite = np.isfinite(num)
    # a value that is no number makes text labels, unless it spells NaN or an infinity among
    # numbers: those decide nothing here (a missing number is then an error with its line)
    if not all(spells_non_finite(v) for v in arr[~finite]):
        return "classification"
    num = num[finite]
    return "regression" if bool((num != np.floor(num)).any()) else "classification"


def encode_values(
    values: Any,
    *,
    source: str | None = None,
    field: str = "value",
    locate: Locator | None = None,
) -> np.ndarray:
    """Real-valued answers as ``float64``; anything that is not a finite number is an error.

    The message names the source, the place (``locate(i)``, e.g. ``"line 7"``) and ``field``.
    """
    import numpy as np

    from .labels import as_column

    arr = as_column(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.float64)
    if arr.dtype.kind == "b":
        raise DataError("boolean values where real numbers are required", source=source,
                        where=_where(locate, 0), field=field)
    if arr.dtype.kind == "f":
        out = arr.astype(np.float64, copy=False)
    else:
        import pandas as pd

        out = pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64)
        text = np.isnan(out) & ~pd.isna(pd.Series(arr, dtype=object)).to_numpy()
        is_nan_text = np.array([isinstance(v, str) and v.strip().lower() in ("nan", "-nan")
                                for v in arr[text]], dtype=bool) if text.any() else text[:0]
        if text.any() and not is_nan_text.all():
            i = int(np.flatnonzero(text)[int(np.argmin(is_nan_text))])
            raise DataError(f"not a number: {arr[i]!r} (regression answers are real numbers)",
                            source=source, where=_where(locate, i), field=field)
    bad = ~np.isfinite(out)
    if bad.any():
        i = int(np.argmax(bad))
        v = out[i]
        what = "missing value" if np.isnan(v) else f"infinite value {v}"
        raise DataError(f"{what} (regression answers must be finite numbers)", source=source,
                        where=_where(locate, i), field=field)
    return out


def kind_of(data: Any) -> str:
    """The kind of an answers object (``"classification"`` for anything without a ``kind``)."""
    return str(getattr(data, "kind", "classification"))


def refuse_kind(strategy: str, accepts: str, data: Any) -> None:
    """Raise a one-line :class:`DataError` when ``data``'s kind is not ``accepts``.

    ``strategy`` is the strategy's name as the user knows it (``'ds'``, ``'mean'``).
    """
    got = kind_of(data)
    if got == accepts:
        return
    if accepts == "classification":
        hint = f"use a regression strategy ({', '.join(_regression_names())})"
        what = "real values (regression)"
    else:
        hint = f"declare the kind if the labels are numbers: {option('kind', 'regression')}"
        what = f"{got} answers (class labels)" if got == "classification" else f"{got} answers"
    raise DataError(f"strategy {strategy!r} takes {accepts} answers, got {what}; {hint}")


def _regression_names() -> list[str]:
    from .aggregate.regression import available_regression

    return available_regression()


def _where(locate: Locator | None, i: int) -> str:
    return locate(int(i)) if locate is not None else f"answer {int(i)}"


def add_kind_argument(parser: Any) -> None:
    """The ``--kind`` option (default: detected from the input), unless the parser has it."""
    if any("--kind" in a.option_strings for a in parser._actions):
        return
    parser.add_argument("--kind", choices=KINDS, default=None,
                        help="kind of answers (default: detected; a folder of per-worker CoNLL "
                        "files is 'sequence')")


def answer_kind(path: Any, kind: str | None = None, **layout: Any) -> str:
    """``kind`` when given, else ``sequence`` for a sequence folder and ``classification``
    otherwise (real values are told apart from class labels later, by :func:`detect_kind`).

    ``--kind sequence`` on something that is not a sequence folder is a :class:`DataError`.
    """
    from .sequence.reader import find_layout

    if kind not in (None, "sequence"):
        return kind
    found = isinstance(path, (str, bytes)) or hasattr(path, "__fspath__")
    is_seq = found and find_layout(path, **layout) is not None
    if kind == "sequence" and not is_seq:
        from .sequence.reader import read_sequences

        read_sequences(path, **layout)  # raises the reader's one-line error
    return "sequence" if is_seq else "classification"
