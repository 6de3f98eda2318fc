"""Parts shared by the answer containers (:class:`~crowdlearn.answers.Answers`,
:class:`~crowdlearn.real.RealAnswers` and the distributed ``IndexOnly``): sizes from the id
tables, the per-task offsets of (task, worker)-sorted answers, and the index range check."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ._answers_order import _place
from .errors import DataError
from .labels import Locator

if TYPE_CHECKING:
    import pandas as pd

_A = TypeVar("_A")


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def _check_index(arr: np.ndarray, ids: np.ndarray, what: str, source: str | None,
                 locate: Locator | None) -> None:
    """Raise a :class:`DataError` naming the first index of ``arr`` outside ``ids``."""
    if len(arr) and (arr.min() < 0 or arr.max() >= len(ids)):
        bad = int(np.argmax((arr < 0) | (arr >= len(ids))))
        raise DataError(f"index {int(arr[bad])} outside 0..{len(ids) - 1}", source=source,
                        where=_place(locate, bad), field=what)


class _IdSizes:
    """``n_tasks`` and ``n_workers`` of an object with ``task_ids`` and ``worker_ids``."""

    __slots__ = ()
    task_ids: np.ndarray
    worker_ids: np.ndarray

    @property
    def n_tasks(self) -> int:
        """Number of tasks (items), including tasks without answers."""
        return len(self.task_ids)

    @property
    def n_workers(self) -> int:
        """Number of workers (annotators)."""
        return len(self.worker_ids)


class _IndexedAnswers(_IdSizes):
    """Sizes and per-task / per-worker views of answers stored sorted by (task, worker)."""

    __slots__ = ()
    task: np.ndarray
    worker: np.ndarray

    @property
    def n_answers(self) -> int:
        """Number of answers."""
        return len(self.task)

    def __len__(self) -> int:
        return len(self.task)

    @cached_property
    def task_indptr(self) -> np.ndarray:
        """Offsets such that the answers of task ``t`` are ``task_indptr[t]:task_indptr[t+1]``."""
        counts = np.bincount(self.task, minlength=self.n_tasks)
        indptr = np.zeros(self.n_tasks + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return _readonly(indptr)

    def answers_per_task(self) -> np.ndarray:
        """Number of answers of each task."""
        return np.diff(self.task_indptr)

    def answers_per_worker(self) -> np.ndarray:
        """Number of answers of each worker."""
        return np.bincount(self.worker, minlength=self.n_workers)


def _frame_columns(frame: pd.DataFrame, task: str | None, worker: str, answer: str,
                   source: str) -> tuple[str, str, str]:
    """The (task, worker, answer) column names of ``frame``: ``task`` defaults to ``task``, or
    ``item`` when there is no ``task`` column; a missing column is a :class:`DataError`."""
    task = task or ("task" if "task" in frame.columns or "item" not in frame.columns else "item")
    missing = [c for c in (task, worker, answer) if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)} "
            f"(columns are {', '.join(map(str, frame.columns))})",
            source=source,
        )
    return task, worker, answer


def _with_truth_mapping(answers: _A, truth: Any) -> _A:
    """``answers`` with truth given as ``{task_id: value}`` or a Series indexed by task id."""
    import pandas as pd

    series = truth if isinstance(truth, pd.Series) else pd.Series(truth)
    return answers.with_truth_table(series.index.to_numpy(), series.to_numpy())


def _count_dist(x: np.ndarray) -> dict[str, float]:
    if len(x) == 0:
        return {"min": 0, "median": 0.0, "mean": 0.0, "max": 0}
    return {"min": int(x.min()), "median": float(np.median(x)), "mean": float(x.mean()),
            "max": int(x.max())}


def _count_summary(per_task: np.ndarray, per_worker: np.ndarray,
                   truth_mask: np.ndarray) -> dict[str, Any]:
    """The answer-count part of ``summary()``: distributions per task and per worker, tasks
    without answers and tasks with known truth."""
    return {
        "answers_per_task": _count_dist(per_task),
        "answers_per_worker": _count_dist(per_worker),
        "tasks_without_answers": int((per_task == 0).sum()),
        "n_tasks_with_truth": int(truth_mask.sum()),
    }
