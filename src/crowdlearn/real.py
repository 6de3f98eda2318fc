"""Real-valued crowd answers (crowd regression).

:class:`RealAnswers` is the regression counterpart of :class:`~crowdlearn.answers.Answers`: the
same (task, worker) index arrays sorted by (task, worker), the same original-id tables, the same
duplicate policies and strictness, with a ``float64`` ``value`` per answer instead of a class
index, and a real-valued ``truth`` per task (NaN where unknown). Its ``kind`` is
``"regression"`` (see :mod:`crowdlearn.kinds`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._answers_base import (
    _check_index,
    _count_summary,
    _frame_columns,
    _IndexedAnswers,
    _readonly,
    _with_truth_mapping,
)
from ._answers_order import _as_indices, _canonical, _shown_id
from .answers import DUPLICATE_POLICIES, DuplicatePolicy
from .errors import DataError
from .kinds import encode_values
from .labels import INDEX_DTYPE, Locator, encode_ids, lookup_ids

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RealAnswers"]


class RealAnswers(_IndexedAnswers):
    """Real-valued crowd answers: which worker gave which number to which task.

    Attributes
    ----------
    task, worker : ndarray of int32, shape (n_answers,)
        Indices into ``task_ids`` and ``worker_ids``, sorted by (task, worker).
    value : ndarray of float64, shape (n_answers,)
        The answers (finite numbers).
    task_ids, worker_ids : ndarray
        The original ids, sorted (integers numerically, text lexicographically).
    truth : ndarray of float64, shape (n_tasks,), or None
        True value per task, NaN where unknown.
    name : str or None
        Data set name.

    Examples
    --------
    >>> a = RealAnswers.from_arrays(["t1", "t1", "t2"], ["w1", "w2", "w1"], [0.2, 0.4, 0.9])
    >>> a.n_tasks, a.n_workers, len(a), a.kind
    (2, 2, 3, 'regression')
    >>> a.task_means()
    array([0.3, 0.9])
    """

    kind = "regression"

    def __init__(
        self,
        task: np.ndarray,
        worker: np.ndarray,
        value: np.ndarray,
        *,
        task_ids: np.ndarray | None = None,
        worker_ids: np.ndarray | None = None,
        truth: np.ndarray | None = None,
        name: str | None = None,
        duplicates: DuplicatePolicy = "error",
        source: str | None = None,
        locate: Locator | None = None,
        _sorted: bool = False,
    ) -> None:
        task = np.ascontiguousarray(task, dtype=INDEX_DTYPE)
        worker = np.ascontiguousarray(worker, dtype=INDEX_DTYPE)
        value = encode_values(value, source=source, locate=locate)
        if not (task.shape == worker.shape == value.shape) or task.ndim != 1:
            raise DataError(
                f"task, worker and value arrays must be 1-d and of equal length "
                f"(got {task.shape}, {worker.shape}, {value.shape})", source=source,
            )
        n_tasks = int(task.max()) + 1 if len(task) else 0
        n_workers = int(worker.max()) + 1 if len(worker) else 0
        task_ids = np.arange(n_tasks) if task_ids is None else np.asarray(task_ids)
        worker_ids = np.arange(n_workers) if worker_ids is None else np.asarray(worker_ids)
        for arr, ids, what in ((task, task_ids, "task"), (worker, worker_ids, "worker")):
            _check_index(arr, ids, what, source, locate)
        if duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
        if not _sorted:
            pos = np.arange(len(task), dtype=np.int64)
            task, worker, pos = _canonical(task, worker, pos, len(worker_ids), duplicates,
                                           task_ids, worker_ids, source, locate)
            value = value[pos]
        self.task = _readonly(np.ascontiguousarray(task))
        self.worker = _readonly(np.ascontiguousarray(worker))
        self.value = _readonly(np.array(value, dtype=np.float64, copy=True))
        self.task_ids = _readonly(np.array(task_ids, copy=True))
        self.worker_ids = _readonly(np.array(worker_ids, copy=True))
        if truth is not None:
            truth = np.asarray(truth, dtype=np.float64)
            if truth.shape != (len(self.task_ids),):
                raise DataError(f"truth has shape {truth.shape}, expected "
                                f"({len(self.task_ids)},)", source=source, field="truth")
            if np.isinf(truth).any():
                i = int(np.argmax(np.isinf(truth)))
                raise DataError("infinite true value", source=source,
                                where=f"task {_shown_id(self.task_ids[i])}", field="truth")
            truth = _readonly(np.array(truth, copy=True))
        self.truth = truth
        self.name = name

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        task: Any,
        worker: Any,
        value: Any,
        *,
        truth: Any = None,
        name: str | None = None,
        duplicates: DuplicatePolicy = "error",
        source: str | None = None,
        locate: Locator | None = None,
        fields: tuple[str, str, str] = ("task", "worker", "value"),
    ) -> RealAnswers:
        """Build from raw columns of ids and numbers.

        ``truth``: ``{task_id: value}``, a Series indexed by task id, or ``None``. Values that are
        not finite numbers raise a :class:`DataError` naming ``source``, the place and the field.
        """
        t_codes, t_ids = encode_ids(task, source=source, field=fields[0], locate=locate)
        w_codes, w_ids = encode_ids(worker, source=source, field=fields[1], locate=locate)
        values = encode_values(value, source=source, field=fields[2], locate=locate)
        out = cls(t_codes, w_codes, values, task_ids=t_ids, worker_ids=w_ids, name=name,
                  duplicates=duplicates, source=source, locate=locate)
        if truth is not None:
            out = _with_truth_mapping(out, truth)
        return out

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        task: str | None = None,
        worker: str = "worker",
        value: str | None = None,
        source: str = "DataFrame",
        **kwargs: Any,
    ) -> RealAnswers:
        """Build from a table with task (or item), worker and value (or label) columns."""
        from .labels import row_locator

        value = value or ("value" if "value" in frame.columns or "label" not in frame.columns
                          else "label")
        task, worker, value = _frame_columns(frame, task, worker, value, source)
        kwargs.setdefault("locate", row_locator())
        return cls.from_arrays(frame[task].to_numpy(), frame[worker].to_numpy(),
                               frame[value].to_numpy(), source=source,
                               fields=(task, worker, value), **kwargs)

    def with_truth(self, truth: np.ndarray | None) -> RealAnswers:
        """A copy with ``truth`` (one value per task, NaN unknown) attached or removed."""
        return self._replace(truth=truth)

    def with_truth_table(self, task: Any, truth: Any, *, source: str | None = None,
                         locate: Locator | None = None,
                         fields: tuple[str, str] = ("task", "truth")) -> RealAnswers:
        """A copy with truth given as raw (task id, value) pairs; unknown ids are errors."""
        idx = lookup_ids(task, self.task_ids, source=source, field=fields[0], locate=locate)
        vals = encode_values(truth, source=source, field=fields[1], locate=locate)
        out = np.full(self.n_tasks, np.nan)
        out[idx] = vals
        return self.with_truth(out)

    def _replace(self, **changes: Any) -> RealAnswers:
        fields = dict(task=self.task, worker=self.worker, value=self.value,
                      task_ids=self.task_ids, worker_ids=self.worker_ids, truth=self.truth,
                      name=self.name)
        fields.update(changes)
        t, w, v = fields.pop("task"), fields.pop("worker"), fields.pop("value")
        return RealAnswers(t, w, v, _sorted=True, **fields)

    def rename(self, name: str | None) -> RealAnswers:
        """A copy with another data set name."""
        return self._replace(name=name)

    # ------------------------------------------------------------------ sizes
    @property
    def has_truth(self) -> bool:
        """Whether any task has a known true value."""
        return self.truth is not None and bool(np.isfinite(self.truth).any())

    @property
    def truth_mask(self) -> np.ndarray:
        """Boolean mask of the tasks whose true value is known."""
        if self.truth is None:
            return np.zeros(self.n_tasks, dtype=bool)
        return np.isfinite(self.truth)

    # ------------------------------------------------------------------ views
    def task_means(self) -> np.ndarray:
        """Mean answer of each task (NaN for a task without answers)."""
        n = self.answers_per_task()
        s = np.bincount(self.task, weights=self.value, minlength=self.n_tasks)
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / n

    def task_medians(self) -> np.ndarray:
        """Median answer of each task (NaN for a task without answers), vectorised.

        Answers are sorted by (task, value); the median of a task is the mean of its two middle
        answers (one for an odd count).
        """
        order = np.lexsort((self.value, self.task))
        v = self.value[order]
        start = self.task_indptr[:-1]
        n = self.answers_per_task()
        has = n > 0
        lo = start + (n - 1) // 2
        hi = start + n // 2
        out = np.full(self.n_tasks, np.nan)
        out[has] = 0.5 * (v[lo[has]] + v[hi[has]])
        return out

    def dense_matrix(self, missing: float = np.nan) -> np.ndarray:
        """The (tasks x workers) matrix of answers, ``missing`` where there is none."""
        m = np.full((self.n_tasks, self.n_workers), missing, dtype=np.float64)
        m[self.task, self.worker] = self.value
        return m

    def select_tasks(self, tasks: Any) -> RealAnswers:
        """The answers of some tasks (indices or a boolean mask), tasks renumbered in order."""
        idx = np.unique(_as_indices(tasks, self.n_tasks, "task"))
        new = np.full(self.n_tasks, -1, dtype=np.int64)
        new[idx] = np.arange(len(idx))
        keep = new[self.task] >= 0
        truth = None if self.truth is None else self.truth[idx]
        return RealAnswers(new[self.task[keep]], self.worker[keep], self.value[keep],
                           task_ids=self.task_ids[idx], worker_ids=self.worker_ids, truth=truth,
                           name=self.name, _sorted=True)

    def to_frame(self, *, original: bool = True) -> pd.DataFrame:
        """A task/worker/value DataFrame (original ids unless ``original=False``)."""
        import pandas as pd

        if not original:
            return pd.DataFrame({"task": self.task, "worker": self.worker, "value": self.value})
        return pd.DataFrame({"task": self.task_ids[self.task],
                             "worker": self.worker_ids[self.worker], "value": self.value})

    def truth_frame(self) -> pd.DataFrame:
        """A task/truth DataFrame of the tasks with known truth."""
        import pandas as pd

        known = self.truth_mask
        return pd.DataFrame({"task": self.task_ids[known],
                             "truth": self.truth[known] if self.truth is not None else []})

    def summary(self) -> dict[str, Any]:
        """Sizes, value range and answer-count distributions (what ``crowdlearn info`` prints)."""
        from .metrics_regression import regression_scores

        v = self.value
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "n_tasks": self.n_tasks,
            "n_workers": self.n_workers,
            "n_answers": self.n_answers,
            "values": {"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean()),
                       "sd": float(v.std()), "distinct": int(len(np.unique(v)))}
            if len(v) else None,
            **_count_summary(self.answers_per_task(), self.answers_per_worker(),
                             self.truth_mask),
        }
        if self.has_truth:
            assert self.truth is not None
            out["mean_scores"] = regression_scores(self.truth, self.task_means())
        return out

    # ------------------------------------------------------------------ comparison
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RealAnswers):
            return NotImplemented
        same_truth = (self.truth is None and other.truth is None) or (
            self.truth is not None and other.truth is not None
            and np.array_equal(self.truth, other.truth, equal_nan=True))
        return (same_truth and np.array_equal(self.task, other.task)
                and np.array_equal(self.worker, other.worker)
                and np.array_equal(self.value, other.value)
                and np.array_equal(self.task_ids, other.task_ids)
                and np.array_equal(self.worker_ids, other.worker_ids))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        return (f"RealAnswers({name}{self.n_tasks} tasks, {self.n_workers} workers, "
                f"{self.n_answers} answers, regression)")
