"""The selection criterion of :class:`~crowdlearn.aggregate.auto.AutoAggregator`: held-out
answer splits, plug-in confusion matrices, the predictive log-likelihood of held-out answers
(Stone 1974) and the check for collapsed classes; re-exported by
:mod:`crowdlearn.aggregate.auto`."""

from __future__ import annotations

import numpy as np

from ..answers import Answers


def holdout_split(
    answers: Answers, share: float, rng: np.random.Generator
) -> np.ndarray:
    """Boolean mask of the answers to hide, stratified by task.

    A task with ``n >= 2`` answers hides ``floor(share * n + u)`` of them (``u ~ U[0, 1)`` drawn per
    task, so the expected hidden share is ``share``), at most ``n - 1``; tasks with fewer than
    two answers hide none. The hidden answers of a task are a uniform random subset.

    Parameters
    ----------
    answers:
        The crowd answers (sorted by task, as :class:`~crowdlearn.answers.Answers` stores them).
    share:
        Expected fraction of each task's answers to hide, in ``[0, 1)``.
    rng:
        Source of randomness.

    Returns
    -------
    ndarray of bool, shape (n_answers,)
        ``True`` for a hidden (held-out) answer.
    """
    if not 0.0 <= share < 1.0:
        raise ValueError(f"holdout share must be in [0, 1), got {share}")
    n = answers.answers_per_task()
    n_hide = np.floor(share * n + rng.random(answers.n_tasks)).astype(np.int64)
    n_hide = np.clip(n_hide, 0, np.maximum(n - 1, 0))
    # random order of the answers within each task: sort by (task, random key)
    order = np.lexsort((rng.random(answers.n_answers), answers.task))
    rank = np.arange(answers.n_answers) - answers.task_indptr[answers.task[order]]
    hidden = np.zeros(answers.n_answers, dtype=bool)
    hidden[order] = rank < n_hide[answers.task[order]]
    return hidden


def _split(answers: Answers, share: float, rng: np.random.Generator) -> np.ndarray:
    """:func:`holdout_split`, hiding one answer of a random multi-answer task when the draw hid
    none (a crowd of a few tasks): every split then scores something."""
    hidden = holdout_split(answers, share, rng)
    if not hidden.any():
        multi = np.flatnonzero(answers.answers_per_task() >= 2)
        if len(multi):
            t = rng.choice(multi)
            start = answers.task_indptr[t]
            hidden[start + rng.integers(answers.task_indptr[t + 1] - start)] = True
    return hidden


def plugin_confusions(
    answers: Answers, probas: np.ndarray, smoothing: float = 2.0
) -> np.ndarray:
    """Smoothed empirical confusion of every worker against a task posterior.

    ``N[w, k, l] = sum of probas[t, k]`` over worker ``w``'s answers ``l`` (the Dawid-Skene M-step
    counts), shrunk towards the pooled confusion by ``smoothing`` pseudo-answers per row.

    Parameters
    ----------
    answers:
        The answers the counts come from (the training answers).
    probas:
        Posterior over classes, shape (n_tasks, n_classes).
    smoothing:
        Pseudo-answers per (worker, true class) row drawn from the pooled confusion; must be
        positive so that every entry is positive.

    Returns
    -------
    ndarray, shape (n_workers, n_classes, n_classes)
        Row-stochastic confusion matrices, rows = true class, columns = answer. A worker without
        answers gets the pooled confusion.
    """
    if smoothing <= 0:
        raise ValueError(f"smoothing must be positive, got {smoothing}")
    n_w, n_k = answers.n_workers, answers.n_classes
    counts = np.asarray(answers.incidence.T @ probas)  # row w*K + l, column k
    counts = counts.reshape(n_w, n_k, n_k).transpose(0, 2, 1)  # [w, true k, answer l]
    pooled = counts.sum(axis=0) + 1.0
    pooled /= pooled.sum(axis=1, keepdims=True)
    conf = counts + smoothing * pooled[None]
    conf /= conf.sum(axis=2, keepdims=True)
    return conf


def heldout_loglik(
    probas: np.ndarray, confusions: np.ndarray, task: np.ndarray, worker: np.ndarray,
    label: np.ndarray,
) -> np.ndarray:
    """Log of the posterior predictive ``sum_k probas[t, k] * C[w, k, l]`` of each given answer.

    Parameters
    ----------
    probas:
        Task posterior, shape (n_tasks, n_classes).
    confusions:
        Worker confusions, shape (n_workers, n_classes, n_classes), rows = true class.
    task, worker, label:
        The answers to score (parallel index arrays).

    Returns
    -------
    ndarray, shape (n_answers,)
        Natural-log predictive probability of each answer (floored at ``log(1e-300)``).
    """
    pred = np.einsum("ik,ik->i", probas[task], confusions[worker, :, label])
    return np.log(np.maximum(pred, 1e-300))


def collapsed_classes(
    answers: Answers, labels: np.ndarray, ratio: float, min_share: float = 0.05
) -> np.ndarray:
    """Classes that the answers name often but the hard labels (almost) never give.

    Parameters
    ----------
    answers:
        The answers the labels were inferred from.
    labels:
        Hard label (class index) per task.
    ratio:
        A class is collapsed when its share of the labels (over tasks with answers) is below
        ``ratio`` times its share of the answers.
    min_share:
        Only classes named by at least this share of the answers are checked.

    Returns
    -------
    ndarray of int
        The collapsed class indices (empty when none).
    """
    k = answers.n_classes
    answered = answers.answers_per_task() > 0
    said = np.bincount(answers.label, minlength=k) / max(answers.n_answers, 1)
    given = np.bincount(np.asarray(labels)[answered], minlength=k)[:k] / max(answered.sum(), 1)
    return np.flatnonzero((said >= min_share) & (given < ratio * said))
