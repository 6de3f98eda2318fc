"""Vote arithmetic shared by the voting strategies: vote tables and shares, majorities, ties.

Everything works on the answer index arrays of :class:`~crowdlearn.answers.Answers`: a
(weighted) vote table is one ``np.bincount`` over ``task * K + label``, and a worker's agreement
with a set of labels is one ``np.bincount`` over ``worker``. Nothing loops over tasks, workers or
answers, and memory is O(answers + tasks x classes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..answers import Answers
from .base import argmax_random_ties, break_ties, row_ties

__all__ = [
    "TIE_BREAKS",
    "hard_labels",
    "tied_max_probas",
    "vote_frequencies",
    "vote_table",
    "worker_agreement",
]

_TIE_RTOL = 1e-12  # the tie tolerance of ``argmax_random_ties``


def vote_table(answers: Answers, weights: np.ndarray | None = None) -> np.ndarray:
    """Dense (tasks x classes) sum of votes, each answer counting ``weights[i]`` (default 1)."""
    n, k = answers.n_tasks, answers.n_classes
    cell = answers.task.astype(np.int64) * k + answers.label
    return np.bincount(cell, weights=weights, minlength=n * k).reshape(n, k).astype(np.float64)


def vote_frequencies(answers: Answers, weights: np.ndarray | None = None) -> np.ndarray:
    """(Weighted) vote shares per task; rows sum to 1.

    A task without answers gets the uniform distribution. With ``weights``, a task whose voters
    all weigh zero (e.g. workers of skill 0) falls back to its unweighted vote shares instead of
    dividing by zero.
    """
    table = vote_table(answers, weights)
    total = table.sum(axis=1)
    if weights is not None:
        void = total <= 0
        if void.any():
            counts = vote_table(answers)
            table[void] = counts[void]
            total[void] = counts[void].sum(axis=1)
    k = max(answers.n_classes, 1)
    out = np.full_like(table, 1.0 / k)
    np.divide(table, total[:, None], out=out, where=total[:, None] > 0)
    return out


def tied_max_probas(scores: np.ndarray) -> np.ndarray:
    """Uniform distribution over the classes of maximal score in each row (rows sum to 1)."""
    tied, n_tied, _ = row_ties(scores, _TIE_RTOL)
    return np.ascontiguousarray((tied / n_tied).T)


def worker_agreement(
    answers: Answers, labels: np.ndarray, empty: float = 0.0
) -> np.ndarray:
    """Share of each worker's answers equal to ``labels[task]``; ``empty`` for idle workers."""
    labels = np.asarray(labels)
    if labels.shape == (answers.n_tasks,):
        # answers are sorted by task: repeating each task's label is a cheaper gather
        per_answer = np.repeat(labels, answers.answers_per_task())
    else:
        per_answer = labels[answers.task]
    hits = (answers.label == per_answer).view(np.int8)
    # one integer bincount over (worker, hit) pairs gives both the answers and the hits
    pairs = np.bincount((answers.worker << 1) | hits, minlength=2 * answers.n_workers)
    pairs = pairs.reshape(answers.n_workers, 2)
    n_w = (pairs[:, 0] + pairs[:, 1]).astype(np.float64)
    out = np.full(answers.n_workers, float(empty))
    np.divide(pairs[:, 1], n_w, out=out, where=n_w > 0)
    return out


def _class_major_votes(answers: Answers) -> np.ndarray:
    """Integer vote counts, class-major: (classes x tasks), ``[k, t]`` = votes for k on t."""
    n, k = answers.n_tasks, answers.n_classes
    if n * k < 2**31:
        cell = answers.label * np.int32(n) + answers.task  # int32 arithmetic
    else:
        cell = answers.label.astype(np.int64) * n + answers.task
    return np.bincount(cell, minlength=n * k).reshape(k, n)


def _majority(counts: np.ndarray, tie_break: str, random_state: Any) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """Majority vote from class-major integer counts: (tasks x classes) posterior uniform over
    the tied classes and hard labels, exactly as ``tied_max_probas`` then ``hard_labels``.

    Counts are integers, so ties are exact; one max over ``count * K + (K - 1 - k)`` gives both
    the largest count and the first class reaching it.
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
    k, n = counts.shape
    key = counts * k
    key += np.arange(k - 1, -1, -1, dtype=key.dtype)[:, None]
    top = key.max(axis=0)
    first = (k - 1) - top % k
    tied = counts == (top // k)
    n_tied = tied.sum(axis=0, dtype=np.int16 if k < 2**15 else np.int64)
    multi = np.flatnonzero(n_tied > 1)
    probas = np.zeros((n, k))  # one-hot on the first tied class, then the tied rows
    probas.reshape(-1)[np.arange(0, n * k, k) + first] = 1.0
    probas[multi] = tied[:, multi].T / n_tied[multi, None]
    if tie_break == "random":
        first = break_ties(tied, n_tied, first, random_state)
    return probas, first


TIE_BREAKS = ("random", "first")


def hard_labels(probas: np.ndarray, tie_break: str = "random", random_state: Any = 0) -> np.ndarray:
    """Row-wise argmax: exact ties drawn with ``random_state`` (``"random"``) or the first
    tied class in class order (``"first"``, crowd-kit's ``idxmax`` rule).

    Ties are values within a relative 1e-12 of the row maximum (as in
    :func:`~crowdlearn.aggregate.base.argmax_random_ties`), so that sums of the same weights
    in another order still tie.
    """
    if tie_break == "random":
        return argmax_random_ties(probas, random_state)
    if tie_break == "first":
        probas = np.asarray(probas, dtype=np.float64)
        if probas.size == 0:
            return np.zeros(probas.shape[0], dtype=np.int64)
        return row_ties(probas, _TIE_RTOL)[2]
    raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
