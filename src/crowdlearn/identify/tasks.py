"""Per-task diagnostics: how many answers, how split the votes, how sure the aggregate is.

References
----------
.. [Lef24] T. Lefort, B. Charlier, A. Joly and J. Salmon. Identify ambiguous tasks combining
   crowdsourced labels by weighting areas under the margin. TMLR 2024 (peerannot's
   ``entropy``: the entropy of the NaiveSoft vote distribution).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def n_answers(answers: Any) -> np.ndarray:
    """Number of answers of each task."""
    return answers.answers_per_task().astype(np.int64)


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    """Shannon entropy (natural log) of each row, ``0 log 0 = 0``."""
    p = np.asarray(p, dtype=np.float64)
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=1)


def vote_entropy(answers: Any) -> np.ndarray:
    r"""peerannot's ``entropy`` [Lef24]_: :math:`-\sum_k p_k \log p_k` of the vote proportions
    (NaiveSoft) of each task; 0 when the votes agree, :math:`\log K` at most. A task without
    answers gets 0."""
    counts = answers.vote_counts().toarray()
    m = counts.sum(axis=1, keepdims=True)
    return _entropy_rows(np.divide(counts, m, out=np.zeros_like(counts), where=m > 0))


def posterior_entropy(probas: np.ndarray) -> np.ndarray:
    """Entropy (natural log) of the aggregator's posterior of each task."""
    return _entropy_rows(probas)


def margin(probas: np.ndarray) -> np.ndarray:
    """Posterior of the most likely class minus that of the runner-up (1 for a sure task, 0 for
    a tie); with one class, 1."""
    p = np.asarray(probas, dtype=np.float64)
    if p.shape[1] < 2:
        return np.ones(p.shape[0])
    top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def confidence(probas: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Posterior of the chosen label of each task."""
    p = np.asarray(probas, dtype=np.float64)
    return p[np.arange(p.shape[0]), np.asarray(labels, dtype=np.int64)]
