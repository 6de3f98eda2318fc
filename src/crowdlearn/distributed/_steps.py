"""Per-partition steps of the distributed strategies (run on the Dask workers).

Each function takes one :class:`~crowdlearn.distributed._data.Partition` (the answers of whole
tasks, global worker and class indices) and returns either worker-sized sufficient statistics,
summed over partitions by :func:`add`, or the partition's posterior. The arithmetic is the
in-memory strategies' own: vote shares (:func:`~crowdlearn.aggregate.voting.vote_frequencies`),
the Dawid-Skene design (:class:`~crowdlearn.aggregate.dawid_skene.shared._Design`: one sparse
product per E-step, one per M-step's counts) and the softmax
(:func:`~crowdlearn.aggregate.dawid_skene.shared._softmax_columns`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..aggregate.base import row_ties
from ..aggregate.dawid_skene.shared import _one_coin_logs, _one_coin_scores, _softmax_columns
from ..aggregate.votes import _TIE_RTOL, vote_frequencies


def add(*stats: tuple) -> tuple:
    """Element-wise sum of statistics tuples (arrays and numbers), in partition order."""
    first = stats[0]
    out = [np.array(x, dtype=np.float64, copy=True) if isinstance(x, np.ndarray) else x
           for x in first]
    for s in stats[1:]:
        for i, x in enumerate(s):
            out[i] = out[i] + x
    return tuple(out)


def sizes(part: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """(worker x label) answer counts, answers per worker and tasks of one partition."""
    a = part.answers
    k, w = a.n_classes, a.n_workers
    given = np.bincount(a.worker.astype(np.int64) * k + a.label, minlength=w * k)
    return given.reshape(w, k).astype(np.float64), a.answers_per_worker().astype(np.float64), \
        a.n_tasks


# ------------------------------------------------------------------ Dawid-Skene family
def ds_posterior(part: Any, log_params: tuple[np.ndarray, np.ndarray] | None
                 ) -> tuple[np.ndarray, float]:
    """The posterior of the partition's tasks: vote shares (``None``, the initial posterior)
    or the DS E-step ``softmax(incidence @ log pi + log rho)``; and its log-likelihood sum."""
    if log_params is None:
        return vote_frequencies(part.answers), 0.0
    return part.design.posterior(*log_params)


def ds_stats(part: Any, log_params: tuple[np.ndarray, np.ndarray] | None) -> tuple:
    """E-step then the M-step's statistics: counts ``N[w, l, k]``, posterior sums per class,
    the summed log-likelihood."""
    probas, ll = ds_posterior(part, log_params)
    return part.design.counts(probas), probas.sum(axis=0), ll


def onecoin_posterior(part: Any, params: tuple[np.ndarray, np.ndarray, np.ndarray] | None
                      ) -> tuple[np.ndarray, float]:
    """One-coin DS E-step (``log_hit``, ``log_off`` per worker, log prior), as
    :class:`~crowdlearn.aggregate.dawid_skene.OneCoinDawidSkene`: a per-task base plus a
    skill-weighted vote table."""
    a = part.answers
    if params is None:
        return vote_frequencies(a), 0.0
    return _softmax_columns(_one_coin_scores(a.task, a.worker, a.label, a.n_tasks,
                                             a.n_classes, *params))


def onecoin_stats(part: Any, params: Any) -> tuple:
    """E-step then the expected correct answers per worker, posterior sums, log-likelihood."""
    a = part.answers
    probas, ll = onecoin_posterior(part, params)
    correct = probas[a.task, a.label]
    hits = np.bincount(a.worker, weights=correct, minlength=a.n_workers)
    return hits, probas.sum(axis=0), ll


def onecoin_log_params(skills: np.ndarray, prior_log: np.ndarray, k: int) -> tuple:
    return (*_one_coin_logs(skills, k), prior_log)


# ------------------------------------------------------------------ votes
def vote_shares(part: Any, skills: np.ndarray | None = None) -> np.ndarray:
    """(Skill-weighted) vote shares of the partition's tasks."""
    a = part.answers
    return vote_frequencies(a, None if skills is None else skills[a.worker])


def agreement(part: Any, labels: np.ndarray) -> tuple[np.ndarray]:
    """Answers equal to ``labels[task]`` per worker (the numerator of ``worker_agreement``)."""
    a = part.answers
    hits = (a.label == labels[a.task]).astype(np.float64)
    return (np.bincount(a.worker, weights=hits, minlength=a.n_workers),)


# ------------------------------------------------------------------ hard labels
def local_ties(probas: np.ndarray, part: Any) -> tuple[np.ndarray, np.ndarray]:
    """The first tied class per task and the ids of the tasks with several tied classes (the
    rule of :func:`~crowdlearn.aggregate.base.argmax_random_ties`)."""
    if probas.size == 0:
        return np.zeros(len(probas), dtype=np.int64), part.answers.task_ids[:0]
    tied, n_tied, first = row_ties(probas, _TIE_RTOL)
    return first, part.answers.task_ids[n_tied > 1]


def apply_ties(probas: np.ndarray, first: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Labels: ``first``, and among the tied classes the one of largest ``noise`` on the tasks
    with several (rows of ``noise`` in the order of those tasks), as
    :func:`~crowdlearn.aggregate.base.break_ties` draws them."""
    labels = first.copy()
    if len(noise):
        tied, n_tied, _ = row_ties(probas, _TIE_RTOL)
        multi = np.flatnonzero(n_tied > 1)
        labels[multi] = np.where(tied[:, multi].T, noise, -1.0).argmax(axis=1)
    return labels
