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

__all__ = [
    "accuracy",
    "confusion_estimation_error",
    "per_annotator_confusion_error",
    "tied_mask",
]


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


# ---------------------------------------------------------------------- confusion matrices
def per_annotator_confusion_error(true: Any, estimated: Any, *, match: bool = True) -> np.ndarray:
    """Relative L1 error of each annotator's estimated confusion matrix.

    For annotator ``m`` the error is ``||P @ E_m - T_m||_1 / ||T_m||_1`` (entrywise L1 norms),
    with ``T_m`` the true and ``E_m`` the estimated confusion matrix and ``P`` a permutation of
    the true-class axis. The permutation is **shared** by all annotators: a model's class order
    can be ambiguous as a whole, but not per annotator. It is found by Hungarian matching
    (:func:`scipy.optimize.linear_sum_assignment`) so as to minimise the mean of these errors,
    which for row-stochastic matrices is also the total L1 error summed over annotators.

    Parameters
    ----------
    true, estimated:
        Arrays of shape ``(M, K, K)`` (or ``(K, K)`` for one annotator): rows are the true
        class, columns the answer, each row sums to 1.
    match:
        Whether to look for the permutation; ``False`` compares the matrices as they are.

    Returns
    -------
    ndarray of float64, shape (M,)
        One error per annotator (``(1,)`` for a single ``(K, K)`` matrix).

    Raises
    ------
    ValueError
        Shapes that differ or are not ``(M, K, K)`` / ``(K, K)``, non-finite values, or a true
        confusion matrix that is all zeros.

    Examples
    --------
    >>> true = [[0.8, 0.2], [0.3, 0.7]]
    >>> per_annotator_confusion_error(true, [[0.6, 0.4], [0.3, 0.7]]).round(6)
    array([0.2])
    """
    t, e = _confusion_pair(true, estimated)
    if match:
        e = e[:, _shared_permutation(t, e), :]
    return np.abs(e - t).sum(axis=(1, 2)) / _l1_norms(t)


def confusion_estimation_error(true: Any, estimated: Any, *, match: bool = True) -> float:
    """Mean relative L1 error of estimated confusion matrices (CCEM's metric).

    The mean over annotators of :func:`per_annotator_confusion_error`:
    ``mean_m ||P E_m - T_m||_1 / ||T_m||_1`` with one class permutation ``P`` shared by all
    annotators (Ibrahim, Nguyen & Fu, "Deep learning from crowdsourced labels: coupled
    cross-entropy minimization, identifiability, and regularization", ICLR 2023). Their
    matrices have the true class on the columns; here it is on the rows (crowdlearn's
    convention), so ``P`` permutes rows.

    Parameters
    ----------
    true, estimated:
        ``(M, K, K)`` arrays (or ``(K, K)``), rows = true class, columns = answer.
    match:
        Whether to align the estimated classes to the true ones first (Hungarian matching);
        ``False`` compares the matrices as they are.

    Returns
    -------
    float

    Examples
    --------
    >>> true = [[0.8, 0.2], [0.3, 0.7]]
    >>> swapped = [[0.3, 0.7], [0.8, 0.2]]  # the same matrix, classes listed the other way
    >>> confusion_estimation_error(true, swapped)
    0.0
    >>> round(confusion_estimation_error(true, swapped, match=False), 6)
    1.0
    """
    return float(np.mean(per_annotator_confusion_error(true, estimated, match=match)))


def _confusion_pair(true: Any, estimated: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(true, dtype=np.float64)
    e = np.asarray(estimated, dtype=np.float64)
    if t.shape != e.shape or t.ndim not in (2, 3) or t.shape[-1] != t.shape[-2] \
            or t.shape[-1] == 0 or (t.ndim == 3 and t.shape[0] == 0):
        raise ValueError(
            f"true and estimated confusion matrices must have the same shape (M, K, K) or "
            f"(K, K) with M, K >= 1; got {t.shape} and {e.shape}"
        )
    if t.ndim == 2:
        t, e = t[None], e[None]
    for arr, name in ((t, "true"), (e, "estimated")):
        finite = np.isfinite(arr)
        if not finite.all():
            m, r, c = (int(x) for x in np.unravel_index(int(np.argmax(~finite)), arr.shape))
            raise ValueError(
                f"{name} confusion matrices hold a non-finite value at annotator {m}, "
                f"row {r}, column {c}"
            )
    return t, e


def _l1_norms(t: np.ndarray) -> np.ndarray:
    norms = np.abs(t).sum(axis=(1, 2))
    if (norms == 0).any():
        m = int(np.argmax(norms == 0))
        raise ValueError(f"the true confusion matrix of annotator {m} is all zeros")
    return norms


def _shared_permutation(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``perm`` such that ``e[:, perm]`` best matches ``t`` (row ``k`` of the result is class k).

    Cost of pairing true class ``k`` with estimated row ``j``: the sum over annotators of
    ``||e[m, j] - t[m, k]||_1 / ||t[m]||_1``; memory stays O(K^3) per chunk of annotators.
    """
    from scipy.optimize import linear_sum_assignment

    n_annot, k = t.shape[0], t.shape[1]
    weights = 1.0 / _l1_norms(t)
    cost = np.zeros((k, k))
    step = max(1, 4_000_000 // max(k**3, 1))
    for s in range(0, n_annot, step):
        tc, ec, wc = t[s:s + step], e[s:s + step], weights[s:s + step]
        # (m, k_true, j_est, answer) -> (k_true, j_est)
        diff = np.abs(ec[:, None, :, :] - tc[:, :, None, :]).sum(axis=3)
        cost += np.tensordot(wc, diff, axes=(0, 0))
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(k, dtype=np.int64)
    perm[rows] = cols
    return perm


# crowd-kit's metric names (DataFrame in, crowd-kit's results out), as thin adapters
from .crowdkit_metrics import (  # noqa: E402
    accuracy_on_aggregates,
    alpha_krippendorff,
    binary_distance,
    consistency,
    interval_distance,
    masi_distance,
    uncertainty,
)

__all__ += [
    "accuracy_on_aggregates",
    "alpha_krippendorff",
    "binary_distance",
    "consistency",
    "interval_distance",
    "masi_distance",
    "uncertainty",
]
