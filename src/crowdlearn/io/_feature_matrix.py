"""The :class:`Features` container (a feature matrix aligned with the tasks of an answer set) and
its small helpers; read by :func:`crowdlearn.io.features.read_features`, which re-exports it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from ..labels import as_column, encode_ids, match_ids

if TYPE_CHECKING:

    from ..answers import Answers



_NO_IDS = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Features:
    """Feature vectors of tasks, one row per task.

    Attributes
    ----------
    X : ndarray, shape (n, d) for a table, (n, ...) for an array
        The features (``float32`` unless another ``dtype`` was asked for).
    task_ids : ndarray, shape (n,)
        The task id of each row. Ids read from a file are normalised as the answers readers do
        (whole numbers become ``int64``, anything else text). Features without ids of their own
        (a ``.npy`` array read without answers) have ``0 .. n-1``, see ``positional``.
    labels : ndarray or None
        Raw values of the label column (e.g. Music's ``class``), row by row; ``None`` when there
        is no label column.
    columns : tuple of str or None
        Names of the feature columns of a table; ``None`` for arrays.
    source : str
        The file (or ``"DataFrame"``, ``"array"``) the features come from, for error messages.
    id_col : str or None
        The id column (or ``"task_ids"`` of an ``.npz``); ``None`` without ids.
    extra_ids : ndarray
        Ids present in the source but left out of this object by :meth:`align` (items with
        features but no answers, for example the test songs of a data set). Empty when nothing
        was left out.
    positional : bool
        Whether the rows carry no ids of their own and are simply in task order (``.npy``).
    """

    X: np.ndarray
    task_ids: np.ndarray
    labels: np.ndarray | None = None
    columns: tuple[str, ...] | None = None
    source: str = "features"
    id_col: str | None = None
    extra_ids: np.ndarray = field(default_factory=lambda: _NO_IDS)
    positional: bool = False

    def __len__(self) -> int:
        return len(self.X)

    @property
    def n_features(self) -> int:
        """Number of features per task (the product of the trailing dimensions of ``X``)."""
        return int(np.prod(self.X.shape[1:], dtype=np.int64))

    def align(self, task_ids: Answers | Any) -> Features:
        """The rows of ``task_ids`` (an :class:`Answers` or an array of ids), in that order.

        Row ``i`` of the result holds the features of ``task_ids[i]``. Ids are matched by value
        with the answers readers' rules. Rows whose id is not asked for are left out; their ids
        are added to ``extra_ids``.

        Raises
        ------
        DataError
            When some ids have no features: the message names the source, the id column, the
            first missing ids (up to 3) and how many are missing. For positional features, when
            the number of rows differs from the number of ids.
        """
        wanted = _wanted_ids(task_ids)
        if self.positional:
            if len(wanted) != len(self.X):
                raise DataError(
                    f"{len(self.X)} rows of features but {len(wanted)} tasks (without ids, "
                    f"the rows must be the tasks in order, one each)",
                    source=self.source, field=self.id_col,
                )
            return replace(self, task_ids=wanted, positional=False)
        rows = match_ids(wanted, self.task_ids)
        missing = rows < 0
        if missing.any():
            ids = wanted[missing]
            shown = ", ".join(_show(v) for v in ids[:3])
            more = ", ..." if len(ids) > 3 else ""
            raise DataError(
                f"no features for {len(ids)} of {len(wanted)} tasks ({shown}{more})",
                source=self.source, field=self.id_col,
            )
        unused = np.ones(len(self.task_ids), dtype=bool)
        unused[rows] = False
        extra = self.task_ids[unused]
        if len(self.extra_ids):
            extra = np.concatenate([extra.astype(object), self.extra_ids.astype(object)])
        return replace(
            self,
            X=self.X[rows],
            task_ids=wanted,
            labels=None if self.labels is None else self.labels[rows],
            extra_ids=extra,
        )


# ---------------------------------------------------------------------- ids
def _wanted_ids(task_ids: Any) -> np.ndarray:
    """Task ids to align to: ``Answers.task_ids`` as they are, or raw ids normalised in place."""
    from ..answers import Answers

    if isinstance(task_ids, Answers):
        return task_ids.task_ids
    if isinstance(task_ids, Features):
        return task_ids.task_ids
    arr = as_column(task_ids)
    codes, uniq = encode_ids(arr, source="task ids", field="task")
    return uniq[codes]


def _show(value: Any) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
