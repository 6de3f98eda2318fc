"""Evaluation metrics against known truth (numpy only).

Conventions shared by every function here:

* ``truth`` is an integer array of true class indices per task, ``-1`` where unknown (as
  :attr:`crowdlearn.Answers.truth`); only tasks with a known truth are scored.
* Predictions are either hard labels (one class index per task, ``-1`` for "no prediction") or a
  (tasks x classes) score matrix such as an aggregator's ``probas_``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

TieRule = Literal["fractional", "random"]

__all__ = ["accuracy", "tied_mask"]


def tied_mask(scores: Any, rtol: float = 1e-12) -> np.ndarray:
    """Boolean (tasks x classes) mask of the classes that share each row's maximum score.

    Values within ``rtol`` (relative) of the row maximum count as tied, so that ties that are
    exact in theory but differ in the last bits of floating point are still ties.

    Examples
    --------
    >>> tied_mask([[0.5, 0.5], [0.9, 0.1]]).astype(int)
    array([[1, 1],
           [1, 0]])
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a (tasks x classes) matrix, got shape {scores.shape}")
    best = scores.max(axis=1, keepdims=True) if scores.shape[1] else scores[:, :0]
    return scores >= best - rtol * np.abs(best)


def accuracy(
    labels_or_probas: Any,
    truth: Any,
    *,
    ties: TieRule = "fractional",
    seed: Any = 0,
    rtol: float = 1e-12,
) -> float:
    """Accuracy on the tasks whose truth is known.

    Parameters
    ----------
    labels_or_probas:
        Hard labels (1-d, class index per task; ``-1`` counts as wrong) or a (tasks x classes)
        score matrix (posteriors, or any scores where larger means more likely).
    truth:
        True class index per task, ``-1`` (or any negative value) where unknown.
    ties:
        How a score matrix whose row maximum is shared by ``m`` classes is scored:
        ``"fractional"`` (default) counts ``1/m`` when the truth is among the tied classes (the
        expected accuracy of a uniform tie-break, the convention of Li et al.'s benchmarks);
        ``"random"`` breaks the tie by a draw seeded by ``seed``. Ignored for hard labels.
    seed:
        Seed of the tie-breaking draw for ``ties="random"``.
    rtol:
        Relative tolerance under which two scores count as tied (see :func:`tied_mask`).

    Returns
    -------
    float
        Fraction of the tasks with known truth that are predicted correctly (``nan`` when no
        task has a known truth).

    Examples
    --------
    >>> import numpy as np
    >>> probas = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])
    >>> accuracy(probas, [0, 0, 0])  # 1/2 + 1 + 0 over three tasks
    0.5
    >>> accuracy([1, 0, -1], [0, 0, -1])  # the last task has no truth
    0.5
    """
    truth = np.asarray(truth)
    if truth.ndim != 1:
        raise ValueError(f"truth must be 1-d (one class index per task), got shape {truth.shape}")
    pred = np.asarray(labels_or_probas)
    if pred.shape[0] != truth.shape[0]:
        raise ValueError(
            f"predictions cover {pred.shape[0]} tasks but truth covers {truth.shape[0]}"
        )
    known = truth >= 0
    n_known = int(known.sum())
    if n_known == 0:
        return float("nan")
    true = truth[known].astype(np.int64)
    if pred.ndim == 1:
        return float(np.mean(pred[known] == true))
    if pred.ndim != 2:
        raise ValueError(f"expected labels (1-d) or scores (2-d), got shape {pred.shape}")
    if true.max() >= pred.shape[1]:
        raise ValueError(f"a true class index is >= the number of classes ({pred.shape[1]})")
    tied = tied_mask(pred[known], rtol=rtol)
    rows = np.arange(n_known)
    if ties == "fractional":
        return float(np.mean(tied[rows, true] / tied.sum(axis=1)))
    if ties == "random":
        noise = np.random.default_rng(seed).random(tied.shape)
        chosen = np.where(tied, noise, -1.0).argmax(axis=1)
        return float(np.mean(chosen == true))
    raise ValueError(f"ties must be 'fractional' or 'random', got {ties!r}")
