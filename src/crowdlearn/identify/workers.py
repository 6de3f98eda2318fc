"""Per-worker diagnostics: activity, agreement, accuracy and confusion-matrix scores.

Every quantity is computed from the (task, worker, label) index arrays of an
:class:`~crowdlearn.answers.Answers` with ``np.bincount`` and fancy indexing (one pass over the
answers, no loop over answers), and from the confusion matrices of a fitted aggregator
(``workers x K x K``, rows = true class).

References
----------
.. [RY11] V. C. Raykar and S. Yu. Ranking annotators for crowdsourced labeling tasks. NeurIPS
   2011 (the spammer score).
.. [Lef24] T. Lefort, B. Charlier, A. Joly and J. Salmon. Identify ambiguous tasks combining
   crowdsourced labels by weighting areas under the margin. TMLR 2024 (peerannot's ``trace``
   and ``spam_score``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: spam score under which a worker is flagged as a likely spammer (see :func:`spammer_flags`)
SPAM_THRESHOLD = 0.05
#: mean gain per class that a label permutation must bring over the diagonal (see
#: :func:`adversarial_flags`)
PERMUTATION_MARGIN = 0.2
#: up to this many classes :func:`best_permutation` scores every permutation at once
ENUMERATED_CLASSES = 6


def n_answers(answers: Any) -> np.ndarray:
    """Number of answers of each worker."""
    return answers.answers_per_worker().astype(np.int64)


def _share(hits: np.ndarray, weights: np.ndarray | None, worker: np.ndarray, n: int
           ) -> np.ndarray:
    """Per-worker ``sum(hits) / sum(weights)`` (NaN where the worker has no weight)."""
    num = np.bincount(worker, hits.astype(np.float64), minlength=n)
    den = np.bincount(worker, weights, minlength=n) if weights is not None else \
        np.bincount(worker, minlength=n).astype(np.float64)
    out = np.full(n, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def agreement(answers: Any, labels: np.ndarray) -> np.ndarray:
    """Share of each worker's answers equal to the aggregated label of their task."""
    hits = answers.label == np.asarray(labels)[answers.task]
    return _share(hits, None, answers.worker, answers.n_workers)


def peer_agreement(answers: Any) -> np.ndarray:
    """Share of the other workers' answers, on the tasks the worker answered, that match his.

    For an answer of label ``l`` on task ``t``, the matching peers are the ``n[t, l] - 1`` other
    votes for ``l`` and the peers the ``m_t - 1`` other answers of ``t``; the worker's score is
    the ratio of the sums over his answers (NaN for a worker who never shares a task).
    """
    counts = answers.vote_counts().toarray()  # tasks x classes
    same = counts[answers.task, answers.label] - 1.0
    others = answers.answers_per_task()[answers.task] - 1.0
    return _share(same, others, answers.worker, answers.n_workers)


def accuracy(answers: Any) -> np.ndarray:
    """Share of each worker's answers equal to the truth, on tasks whose truth is known
    (NaN for a worker without such an answer, or all NaN without truth)."""
    if not answers.has_truth:
        return np.full(answers.n_workers, np.nan)
    truth = answers.truth[answers.task]
    known = truth >= 0
    hits = (answers.label == truth) & known
    return _share(hits, known.astype(np.float64), answers.worker, answers.n_workers)


def trace(confusions: np.ndarray) -> np.ndarray:
    r"""peerannot's ``trace``: :math:`\mathrm{Tr}_j = \sum_k \pi^{(j)}_{k,k}` of each
    row-stochastic confusion matrix, in ``[0, K]`` (``K`` for a perfect worker), not
    normalised (peerannot saves the raw trace) [Lef24]_."""
    return np.trace(np.asarray(confusions, dtype=np.float64), axis1=1, axis2=2)


def spam_score(confusions: np.ndarray) -> np.ndarray:
    r"""Spammer score of Raykar & Yu [RY11]_, as peerannot computes it:

    .. math:: s_j = \frac{1}{K(K-1)} \sum_{k<k'} \sum_\ell (\pi^{(j)}_{k\ell} -
       \pi^{(j)}_{k'\ell})^2,

    the squared Frobenius distance to the closest rank-one (spammer) matrix, scaled to
    ``[0, 1]``: 0 when every row is the same (the answer ignores the true class), 1 for a
    perfect (or a label-permuting) worker; ``(p - (1-p)/(K-1))^2`` for a one-coin worker of
    accuracy ``p``. Vectorised with :math:`\sum_{k,k'} \|\pi_k - \pi_{k'}\|^2 =
    2K\|\pi\|_F^2 - 2\|\sum_k \pi_k\|^2`.
    """
    c = np.asarray(confusions, dtype=np.float64)
    k = c.shape[-1]
    if k < 2:
        return np.zeros(c.shape[0])
    pairs = k * np.einsum("wij,wij->w", c, c) - np.einsum("wj,wj->w", c.sum(1), c.sum(1))
    return np.maximum(pairs, 0.0) / (k * (k - 1))


def spammer_flags(scores: np.ndarray, threshold: float = SPAM_THRESHOLD) -> np.ndarray:
    """Likely spammers: spam score below ``threshold`` (default :data:`SPAM_THRESHOLD` = 0.05,
    i.e. for a one-coin worker an accuracy within 0.22 of the chance level
    ``(1-p)/(K-1)``; a binary worker with accuracy between 0.39 and 0.61) [RY11]_."""
    return np.asarray(scores) < threshold


def best_permutation(confusions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each worker, the relabelling ``perm`` (true class ``k`` answered as ``perm[k]``)
    maximising ``sum_k pi[k, perm[k]]``, and that sum.

    Up to :data:`ENUMERATED_CLASSES` classes every permutation is scored at once (ties go to
    the identity, enumerated first); beyond, one Hungarian assignment per worker (a K x K
    problem per worker, never a loop over answers).
    """
    c = np.asarray(confusions, dtype=np.float64)
    n, k = c.shape[0], c.shape[-1]
    if k <= ENUMERATED_CLASSES:
        import itertools

        all_perms = np.array(list(itertools.permutations(range(k))), dtype=np.int64)
        scores = c[:, np.arange(k)[None, :], all_perms].sum(axis=2)  # workers x perms
        best_idx = np.argmax(scores, axis=1)
        return all_perms[best_idx], scores[np.arange(n), best_idx]
    from scipy.optimize import linear_sum_assignment

    perms = np.empty((n, k), dtype=np.int64)
    for w in range(n):
        rows, cols = linear_sum_assignment(c[w], maximize=True)
        perms[w, rows] = cols
    best = np.take_along_axis(c, perms[:, :, None], axis=2)[:, :, 0].sum(axis=1)
    return perms, best


def adversarial_flags(confusions: np.ndarray, margin: float = PERMUTATION_MARGIN
                      ) -> np.ndarray:
    """Label-permuting (adversarial) workers: the best-matching permutation of the confusion
    matrix (:func:`best_permutation`) is not the identity and beats the diagonal by more than
    ``margin`` per class: ``(best - trace) / K > margin`` (default :data:`PERMUTATION_MARGIN`
    = 0.2). A worker who swaps two classes of three fully scores 2/3; a spammer, whose rows are
    alike, scores about 0. Such a worker is informative once relabelled (Dawid-Skene uses him)
    but harmful to majority votes."""
    c = np.asarray(confusions, dtype=np.float64)
    k = c.shape[-1]
    perms, best = best_permutation(c)
    not_identity = (perms != np.arange(k)).any(axis=1)
    return not_identity & ((best - trace(c)) / max(k, 1) > margin)
