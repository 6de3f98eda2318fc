"""What :class:`~crowdlearn.answers.Answers` derives from its stored arrays: the class and truth
sizes, the sparse vote matrices, the dense CrowdLayer matrix, majority labels, tables and the
summary. None of them changes the answers; the sparse matrices are built once on demand.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from ._answers_base import _count_summary, _IndexedAnswers
from .errors import DataError
from .labels import INDEX_DTYPE

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sp

MISSING = -1
"""Marker of a missing answer in dense matrices and of unknown truth."""


class _AnswerViews(_IndexedAnswers):
    """Sizes, matrices, labels and tables derived from answers sorted by (task, worker)."""

    __slots__ = ()
    label: np.ndarray
    task_ids: np.ndarray
    worker_ids: np.ndarray
    classes: np.ndarray
    truth: np.ndarray | None
    name: str | None

    # ------------------------------------------------------------------ sizes
    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def has_truth(self) -> bool:
        """Whether any task has a known true label."""
        return self.truth is not None and bool((self.truth >= 0).any())

    @property
    def truth_mask(self) -> np.ndarray:
        """Boolean mask of the tasks whose true label is known."""
        if self.truth is None:
            return np.zeros(self.n_tasks, dtype=bool)
        return self.truth >= 0

    # ------------------------------------------------------------------ views
    def vote_counts(self) -> sp.csr_matrix:
        """Sparse (tasks x classes) matrix of vote counts (float64)."""
        return self._vote_counts.copy()

    @cached_property
    def _vote_counts(self) -> sp.csr_matrix:
        import scipy.sparse as sp

        m = sp.csr_matrix(
            (np.ones(self.n_answers), (self.task, self.label)),
            shape=(self.n_tasks, self.n_classes),
        )
        m.sum_duplicates()
        return m

    def worker_vote_counts(self) -> sp.csr_matrix:
        """Sparse (workers x classes) matrix: how often each worker gave each label."""
        import scipy.sparse as sp

        m = sp.csr_matrix(
            (np.ones(self.n_answers), (self.worker, self.label)),
            shape=(self.n_workers, self.n_classes),
        )
        m.sum_duplicates()
        return m

    @cached_property
    def incidence(self) -> sp.csr_matrix:
        """Sparse (tasks x workers*classes) 0/1 matrix: column ``w*K + l`` is "worker w said l".

        With ``T`` the (tasks x classes) posterior and ``L`` the (workers*classes x classes)
        log-confusions, the Dawid-Skene E-step is ``incidence @ L`` and the M-step counts are
        ``incidence.T @ T``: every answer is touched once, without a dense tasks x workers x
        classes tensor.
        """
        import scipy.sparse as sp

        cols = self.worker.astype(np.int64) * self.n_classes + self.label
        m = sp.csr_matrix(
            (np.ones(self.n_answers), (self.task, cols)),
            shape=(self.n_tasks, self.n_workers * self.n_classes),
        )
        m.sum_duplicates()
        return m

    def dense_matrix(self, max_cells: int = 2_000_000_000) -> np.ndarray:
        """The CrowdLayer answers matrix: (tasks x workers) labels, ``-1`` where missing."""
        cells = self.n_tasks * self.n_workers
        if cells > max_cells:
            raise MemoryError(
                f"a dense {self.n_tasks} x {self.n_workers} matrix has {cells:,} cells "
                f"(limit {max_cells:,}); use the sparse views instead"
            )
        if self.has_duplicate_pairs():
            raise DataError(
                "several answers share a (task, worker) pair: a dense matrix cannot hold them",
                source=self.name,
            )
        out = np.full((self.n_tasks, self.n_workers), MISSING, dtype=INDEX_DTYPE)
        out[self.task, self.worker] = self.label
        return out

    def has_duplicate_pairs(self) -> bool:
        """Whether some worker answered some task more than once (``duplicates="all"``)."""
        return bool(np.any((self.task[1:] == self.task[:-1])
                           & (self.worker[1:] == self.worker[:-1])))

    def majority_labels(self, seed: int | None = 0) -> np.ndarray:
        """Majority vote per task; -1 for a task with no answer.

        Ties are broken by the seeded draw of ``MajorityVote(random_state=seed)`` (``crowdlearn
        aggregate -s mv``), so both give the same labels for the same seed.
        """
        if self.n_tasks == 0 or self.n_classes == 0:
            return np.full(self.n_tasks, MISSING, dtype=INDEX_DTYPE)
        from .aggregate.votes import _class_major_votes, _majority

        _, labels = _majority(_class_major_votes(self), "random", seed)
        out = labels.astype(INDEX_DTYPE)
        out[self.answers_per_task() == 0] = MISSING
        return out

    # ------------------------------------------------------------------ export
    def to_frame(self, *, original: bool = True) -> pd.DataFrame:
        """A task/worker/label DataFrame with original ids and class names (or indices)."""
        import pandas as pd

        if not original:
            return pd.DataFrame({"task": self.task, "worker": self.worker, "label": self.label})
        return pd.DataFrame({
            "task": self.task_ids[self.task],
            "worker": self.worker_ids[self.worker],
            "label": self.classes[self.label],
        })

    def truth_frame(self) -> pd.DataFrame:
        """A task/truth DataFrame of the tasks with known truth (original ids and names)."""
        import pandas as pd

        known = self.truth_mask
        return pd.DataFrame({
            "task": self.task_ids[known],
            "truth": self.classes[self.truth[known]] if self.truth is not None else [],
        })

    def summary(self) -> dict[str, Any]:
        """Sizes and answer-count distributions (what ``crowdlearn info`` prints)."""
        out: dict[str, Any] = {
            "name": self.name,
            "n_tasks": self.n_tasks,
            "n_workers": self.n_workers,
            "n_classes": self.n_classes,
            "n_answers": self.n_answers,
            "classes": [c.item() if isinstance(c, np.generic) else c for c in self.classes],
            **_count_summary(self.answers_per_task(), self.answers_per_worker(),
                             self.truth_mask),
        }
        if self.has_truth:
            mv = self.majority_labels(seed=0)
            known = self.truth_mask & (mv >= 0)
            out["majority_vote_accuracy"] = float((mv[known] == self.truth[known]).mean()) \
                if known.any() else None
        return out
