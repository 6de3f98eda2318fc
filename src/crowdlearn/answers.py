"""The crowd-answer data model.

:class:`Answers` holds the answers of a crowdsourcing campaign as three parallel integer arrays
(task index, worker index, label index), the original ids behind each index, the class names and
optional ground truth. Every reader, simulator, aggregation strategy and deep-learning strategy of
crowdlearn goes through it.

Design
------
* **Immutable.** The arrays are read-only; every operation returns a new object.
* **Canonical order.** Answers are stored sorted by (task, worker), so that answers of one task
  are contiguous (``task_indptr``) and two objects holding the same answers compare equal.
* **Memory O(answers).** Three ``int32`` arrays (12 bytes an answer) plus the id tables; views
  that aggregation needs (per-task vote counts, the task x (worker, label) incidence matrix) are
  sparse matrices built once on demand. The CrowdLayer dense matrix (tasks x workers, -1 for a
  missing answer) exists only when asked for.
* **Strict.** Indices are range-checked on construction; duplicate (task, worker) pairs raise
  unless a policy says otherwise (``"first"``, ``"last"`` or ``"all"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._answers_base import (
    _check_index,
    _frame_columns,
    _readonly,
    _with_truth_mapping,
)
from ._answers_order import _as_indices, _canonical, _place, _same_values, _shown_id
from ._answers_views import MISSING, _AnswerViews
from .errors import DataError
from .labels import INDEX_DTYPE, Locator, as_column, encode_ids, encode_labels, lookup_ids

if TYPE_CHECKING:
    import pandas as pd

DuplicatePolicy = Literal["error", "first", "last", "all"]
DUPLICATE_POLICIES: tuple[str, ...] = ("error", "first", "last", "all")


class Answers(_AnswerViews):
    """Crowd answers: who answered what to which task.

    Build one with a reader (:func:`crowdlearn.io.read`), :meth:`from_arrays` (raw ids and labels
    of any type), :meth:`from_frame` (a task/worker/label DataFrame) or a simulation.

    Attributes
    ----------
    task, worker, label : ndarray of int32, shape (n_answers,)
        Indices into ``task_ids``, ``worker_ids`` and ``classes``; sorted by (task, worker).
    task_ids, worker_ids : ndarray
        The original ids, sorted (integers numerically, text lexicographically).
    classes : ndarray
        Class names (integers ``0..K-1`` when the labels were integer indices).
    truth : ndarray of int32, shape (n_tasks,), or None
        True class index per task, ``-1`` where unknown.
    name : str or None
        Data set name (used in output file names).

    Examples
    --------
    >>> a = Answers.from_arrays(["t1", "t1", "t2"], ["w1", "w2", "w1"], ["cat", "dog", "dog"])
    >>> a.n_tasks, a.n_workers, a.n_classes, len(a)
    (2, 2, 2, 3)
    >>> a.vote_counts().toarray()
    array([[1., 1.],
           [0., 1.]])
    """

    __slots__ = (
        "task", "worker", "label", "task_ids", "worker_ids", "classes", "truth", "name",
        "__dict__",
    )

    def __init__(
        self,
        task: np.ndarray,
        worker: np.ndarray,
        label: np.ndarray,
        *,
        task_ids: np.ndarray | None = None,
        worker_ids: np.ndarray | None = None,
        classes: np.ndarray | Sequence[Any] | None = None,
        truth: np.ndarray | None = None,
        name: str | None = None,
        duplicates: DuplicatePolicy = "error",
        source: str | None = None,
        locate: Locator | None = None,
        _sorted: bool = False,
    ) -> None:
        task = np.ascontiguousarray(task, dtype=INDEX_DTYPE)
        worker = np.ascontiguousarray(worker, dtype=INDEX_DTYPE)
        label = np.ascontiguousarray(label, dtype=INDEX_DTYPE)
        if not (task.shape == worker.shape == label.shape) or task.ndim != 1:
            raise DataError(
                f"task, worker and label arrays must be 1-d and of equal length "
                f"(got {task.shape}, {worker.shape}, {label.shape})", source=source,
            )
        n_tasks = int(task.max()) + 1 if len(task) else 0
        n_workers = int(worker.max()) + 1 if len(worker) else 0
        n_classes = int(label.max()) + 1 if len(label) else 0
        task_ids = np.arange(n_tasks) if task_ids is None else np.asarray(task_ids)
        worker_ids = np.arange(n_workers) if worker_ids is None else np.asarray(worker_ids)
        classes = np.arange(n_classes) if classes is None else np.asarray(classes)
        for arr, ids, what in ((task, task_ids, "task"), (worker, worker_ids, "worker"),
                               (label, classes, "label")):
            _check_index(arr, ids, what, source, locate)
        if duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
        if not _sorted:
            task, worker, label = _canonical(
                task, worker, label, len(worker_ids), duplicates, task_ids, worker_ids,
                source, locate,
            )
        self.task = _readonly(task)
        self.worker = _readonly(worker)
        self.label = _readonly(label)
        self.task_ids = _readonly(np.array(task_ids, copy=True))
        self.worker_ids = _readonly(np.array(worker_ids, copy=True))
        self.classes = _readonly(np.array(classes, copy=True))
        if truth is not None:
            truth = np.asarray(truth)
            if truth.shape != (len(self.task_ids),):
                raise DataError(
                    f"truth has shape {truth.shape}, expected ({len(self.task_ids)},)",
                    source=source, field="truth",
                )
            truth = truth.astype(INDEX_DTYPE)
            bad = (truth < MISSING) | (truth >= len(self.classes))
            if bad.any():
                i = int(np.argmax(bad))
                raise DataError(
                    f"true class index {int(truth[i])} outside 0..{len(self.classes) - 1}",
                    source=source, where=f"task {_shown_id(self.task_ids[i])}", field="truth",
                )
            truth = _readonly(truth)
        self.truth = truth
        self.name = name

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        task: Any,
        worker: Any,
        label: Any,
        *,
        classes: Sequence[Any] | np.ndarray | None = None,
        n_classes: int | None = None,
        require_integer_labels: bool = False,
        truth: Any = None,
        name: str | None = None,
        duplicates: DuplicatePolicy = "error",
        source: str | None = None,
        locate: Locator | None = None,
        fields: tuple[str, str, str] = ("task", "worker", "label"),
    ) -> Answers:
        """Build from raw columns of ids and labels (any types).

        Parameters
        ----------
        task, worker, label:
            Parallel sequences of raw task ids, worker ids and labels.
        classes, n_classes, require_integer_labels:
            Declared classes; see :mod:`crowdlearn.labels` for how labels are matched.
        truth:
            ``{task_id: label}`` mapping, a pandas Series indexed by task id, or ``None``.
        duplicates:
            What to do with several answers of one worker to one task: ``"error"`` (default),
            keep the ``"first"`` or ``"last"`` in input order, or keep ``"all"``.
        source, locate:
            Name of the input and a function mapping a row number to a place (``"line 7"``),
            used in error messages.
        fields:
            Names of the three columns, used in error messages.
        """
        t_codes, t_ids = encode_ids(task, source=source, field=fields[0], locate=locate)
        w_codes, w_ids = encode_ids(worker, source=source, field=fields[1], locate=locate)
        l_codes, names = encode_labels(
            label, classes=classes, n_classes=n_classes, require_integer=require_integer_labels,
            source=source, field=fields[2], locate=locate,
        )
        answers = cls(
            t_codes, w_codes, l_codes, task_ids=t_ids, worker_ids=w_ids, classes=names,
            name=name, duplicates=duplicates, source=source, locate=locate,
        )
        if truth is not None:
            answers = _with_truth_mapping(answers, truth)
        return answers

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        task: str | None = None,
        worker: str = "worker",
        label: str = "label",
        source: str = "DataFrame",
        **kwargs: Any,
    ) -> Answers:
        """Build from a table with task, worker and label columns (crowd-kit's convention).

        ``task`` defaults to the column ``task``, or ``item`` when there is no ``task`` column.
        Extra keyword arguments go to :meth:`from_arrays`.
        """
        from .labels import row_locator

        task, worker, label = _frame_columns(frame, task, worker, label, source)
        for c in (task, worker, label):
            n = list(frame.columns).count(c)
            if n > 1:
                raise DataError(f"{n} columns are named {c!r}; rename them so that each name is "
                                "unique", source=source, field=c)
        kwargs.setdefault("locate", row_locator())
        return cls.from_arrays(
            frame[task].to_numpy(), frame[worker].to_numpy(), frame[label].to_numpy(),
            source=source, fields=(task, worker, label), **kwargs,
        )

    def with_truth(self, truth: np.ndarray | None) -> Answers:
        """A copy with ``truth`` (class indices per task, -1 unknown) attached or removed."""
        return self._replace(truth=truth)

    def with_truth_table(
        self,
        task: Any,
        truth: Any,
        *,
        source: str | None = None,
        locate: Locator | None = None,
        fields: tuple[str, str] = ("task", "truth"),
        partial: bool = True,
    ) -> Answers:
        """A copy with truth given as raw (task id, label) pairs, e.g. from ``truth.csv``.

        Unknown task ids, labels outside the classes and contradicting duplicates are errors.
        Tasks without a truth row get ``-1`` (``partial=False`` makes that an error).
        """
        idx = lookup_ids(task, self.task_ids, source=source, field=fields[0], locate=locate)
        raw = as_column(truth)
        codes, _ = encode_labels(
            raw, classes=self.classes, source=source, field=fields[1], locate=locate,
            known="answers' classes",
        )
        out = np.full(self.n_tasks, MISSING, dtype=INDEX_DTYPE)
        order = np.argsort(idx, kind="stable")
        s_idx, s_codes = idx[order], codes[order]
        dup = np.flatnonzero((s_idx[1:] == s_idx[:-1]) & (s_codes[1:] != s_codes[:-1]))
        if len(dup):
            i = int(order[dup[0] + 1])
            raise DataError(
                f"task {_shown_id(self.task_ids[idx[i]])} has two different true labels",
                source=source, where=_place(locate, i), field=fields[1],
            )
        out[idx] = codes
        if not partial and (out < 0).any():
            t = int(np.argmax(out < 0))
            raise DataError(
                f"no truth for task {_shown_id(self.task_ids[t])}", source=source,
                field=fields[0],
            )
        return self.with_truth(out)

    def _replace(self, **changes: Any) -> Answers:
        fields = dict(
            task=self.task, worker=self.worker, label=self.label, task_ids=self.task_ids,
            worker_ids=self.worker_ids, classes=self.classes, truth=self.truth, name=self.name,
        )
        fields.update(changes)
        t, w, lab = fields.pop("task"), fields.pop("worker"), fields.pop("label")
        return Answers(t, w, lab, _sorted=True, **fields)

    def rename(self, name: str | None) -> Answers:
        """A copy with another data set name."""
        return self._replace(name=name)

    # ------------------------------------------------------------------ selection
    def select_tasks(self, tasks: Any, *, keep_all_workers: bool = False) -> Answers:
        """The answers of a subset of tasks (boolean mask or indices), tasks renumbered.

        Tasks keep their relative order; workers without answers left are removed unless
        ``keep_all_workers``. Truth follows the selected tasks.
        """
        idx = _as_indices(tasks, self.n_tasks, "tasks")
        mapping = np.full(self.n_tasks, MISSING, dtype=np.int64)
        mapping[idx] = np.arange(len(idx))
        if np.any(np.diff(idx) <= 0):
            raise ValueError("task indices must be strictly increasing (no repeats)")
        keep = mapping[self.task] >= 0
        task = mapping[self.task[keep]]
        truth = None if self.truth is None else self.truth[idx]
        out = Answers(
            task, self.worker[keep], self.label[keep], task_ids=self.task_ids[idx],
            worker_ids=self.worker_ids, classes=self.classes, truth=truth, name=self.name,
            _sorted=True,
        )
        return out if keep_all_workers else out.drop_empty_workers()

    def select_workers(self, workers: Any, *, keep_all_tasks: bool = True) -> Answers:
        """The answers of a subset of workers (boolean mask or indices), workers renumbered.

        Tasks are kept (possibly with no answers) unless ``keep_all_tasks=False``.
        """
        idx = _as_indices(workers, self.n_workers, "workers")
        if np.any(np.diff(idx) <= 0):
            raise ValueError("worker indices must be strictly increasing (no repeats)")
        mapping = np.full(self.n_workers, MISSING, dtype=np.int64)
        mapping[idx] = np.arange(len(idx))
        keep = mapping[self.worker] >= 0
        out = Answers(
            self.task[keep], mapping[self.worker[keep]], self.label[keep],
            task_ids=self.task_ids, worker_ids=self.worker_ids[idx], classes=self.classes,
            truth=self.truth, name=self.name, _sorted=True,
        )
        if keep_all_tasks:
            return out
        return out.select_tasks(np.flatnonzero(out.answers_per_task() > 0), keep_all_workers=True)

    def select_answers(self, mask: Any) -> Answers:
        """A subset of the answers (boolean mask or indices); tasks, workers and classes kept."""
        idx = _as_indices(mask, self.n_answers, "answers")
        idx = np.sort(idx)
        return Answers(
            self.task[idx], self.worker[idx], self.label[idx], task_ids=self.task_ids,
            worker_ids=self.worker_ids, classes=self.classes, truth=self.truth, name=self.name,
            _sorted=True,
        )

    def drop_empty_workers(self) -> Answers:
        """Remove workers with no answer."""
        used = np.bincount(self.worker, minlength=self.n_workers) > 0
        if used.all():
            return self
        return self.select_workers(used)

    # ------------------------------------------------------------------ comparison
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Answers):
            return NotImplemented
        same_truth = (self.truth is None and other.truth is None) or (
            self.truth is not None and other.truth is not None
            and np.array_equal(self.truth, other.truth)
        )
        return (
            same_truth
            and np.array_equal(self.task, other.task)
            and np.array_equal(self.worker, other.worker)
            and np.array_equal(self.label, other.label)
            and _same_values(self.task_ids, other.task_ids)
            and _same_values(self.worker_ids, other.worker_ids)
            and _same_values(self.classes, other.classes)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        truth = f", truth for {int(self.truth_mask.sum())} tasks" if self.truth is not None else ""
        return (
            f"Answers({name}{self.n_answers} answers, {self.n_tasks} tasks, "
            f"{self.n_workers} workers, {self.n_classes} classes{truth})"
        )
