"""Shared pieces of the variational-Bayes strategies (IBCC, EBCC): the soft-majority start,
Dirichlet expectations and KL terms, the sparse Dirichlet posteriors of the confusion rows, the
row softmax and the reference stopping rule."""

from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma, gammaln

from ...answers import Answers


def _soft_majority(answers: Answers) -> np.ndarray:
    """Vote shares per task (tasks x classes); uniform for a task without answers."""
    counts = answers.vote_counts().toarray()
    total = counts.sum(axis=1, keepdims=True)
    k = max(answers.n_classes, 1)
    return np.divide(counts, total, out=np.full_like(counts, 1.0 / k), where=total > 0)


def _dirichlet_elog_kl(q: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, float]:
    """``E[log x]`` under ``Dirichlet(q)`` and ``KL(Dirichlet(q) || Dirichlet(p))`` (last axis)."""
    q0, p0 = q.sum(axis=-1), p.sum(axis=-1)
    # a dimension with zero prior mass (a class nobody voted for, under the empirical prior) is
    # excluded by the prior: E[log x] = -inf there and it adds nothing to the KL (the posterior
    # may carry an underflow-sized mass there, ~1e-300, which must not turn the KL infinite)
    empty = p == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        elog = digamma(q) - digamma(q0)[..., None]
        elog = np.where(empty | (q == 0), -np.inf, elog)
        terms = np.where(empty, 0.0, gammaln(p) - gammaln(q) + (q - p) * elog)
    kl = gammaln(q0) - gammaln(p0) + terms.sum(axis=-1)
    return elog, float(np.sum(kl))


class _ConfusionPosterior:
    """Dirichlet posteriors of the workers' confusion rows, kept only where the data touches them.

    Columns are the ``G`` latent groups (classes for IBCC, class x subtype pairs for EBCC),
    sorted by class: ``group_class[g]`` is the class of group ``g`` and every group of class
    ``k`` has the prior row ``class_prior[k, :]``. Row ``(w, g)`` has posterior
    ``Dirichlet(prior[g, :] + n[w, g, :])`` over answers. The counts ``n[w, g, l]`` are zero
    unless worker ``w`` gave label ``l`` somewhere, so only the ``U`` used (worker, label)
    columns of the incidence matrix are stored, as a (U x G) array, plus the (W x G) row totals.
    The expected log-probabilities of unused columns never enter the E-step and their KL terms
    cancel, so a step costs O(U x G) <= O(answers x G), never O(workers x classes x G).
    """

    def __init__(self, answers: Answers, class_prior: np.ndarray,
                 group_class: np.ndarray | None = None) -> None:
        n_classes = answers.n_classes
        x = answers.incidence
        cols = np.unique(x.indices)
        self.n_workers, self.n_classes = answers.n_workers, n_classes
        self.group_class = (np.arange(n_classes) if group_class is None
                            else np.asarray(group_class))
        # first group of every class (groups are sorted by class, every class has one)
        self.starts = np.searchsorted(self.group_class, np.arange(n_classes))
        self.cols = cols
        self.x = x[:, cols].tocsr()
        self.xt = self.x.T  # CSC: X.T @ R scatters into the small (U x G) table, reads R in order
        self.worker = cols // n_classes
        self.label = cols % n_classes
        self.by_worker = sp.csr_matrix(
            (np.ones(len(cols)), (self.worker, np.arange(len(cols)))),
            shape=(self.n_workers, len(cols)),
        )
        self.class_prior = class_prior  # (K, K): class_prior[k, l]
        prior = class_prior[self.group_class]
        self.prior = prior  # (G, K): prior[g, l]
        # the prior takes few distinct values (a_v, b_v): (U, G) entries index into them
        self._pvals = np.unique(class_prior)
        code = np.searchsorted(self._pvals, class_prior).astype(
            np.int8 if len(self._pvals) < 128 else np.int64)
        self._pidx = np.ascontiguousarray(code.T[self.label][:, self.group_class])  # (U, G)
        self.prior_used = self._pvals[self._pidx]  # (U, G)
        self.prior_total = prior.sum(axis=1)  # (G,)
        # per group: sum over used entries of gammaln(prior) (KL constant of any group subset)
        self._kl_cols = gammaln(self._pvals)[self._pidx].sum(axis=0)  # (G,)
        self._kl_const = float(self._kl_cols.sum()) - self.n_workers * float(
            gammaln(self.prior_total).sum()
        )

    def update(self, resp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior parameters given responsibilities (tasks x G): used entries, row totals."""
        counts = np.asarray(self.xt @ resp)
        return self.prior_used + counts, self.prior_total + np.asarray(self.by_worker @ counts)

    def subset(self, groups: np.ndarray) -> _ConfusionPosterior:
        """The same posterior restricted to the groups ``groups`` (sorted indices).

        Used by EBCC once a (class, subtype) group has lost all its responsibility: its
        Dirichlets then equal the prior, its KL terms vanish and it can be left out. Only
        :meth:`update` and :meth:`scores_kl` are meant for a subset.
        """
        out = copy.copy(self)
        out.group_class = self.group_class[groups]
        out.starts = None
        out.prior = self.prior[groups]
        out._pidx = np.ascontiguousarray(self._pidx[:, groups])
        out.prior_used = self._pvals[out._pidx]
        out.prior_total = self.prior_total[groups]
        out._kl_cols = self._kl_cols[groups]
        out._kl_const = float(out._kl_cols.sum()) - self.n_workers * float(
            gammaln(out.prior_total).sum())
        return out

    def scores_kl(self, used: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, float]:
        """``sum over a task's answers of E[log v]`` (tasks x G) and the summed KL to the prior."""
        elog = digamma(used)
        elog -= digamma(total)[self.worker]
        kl = (self._kl_const - float(gammaln(used).sum()) + float(gammaln(total).sum())
              + float(((used - self.prior_used) * elog).sum()))
        return np.asarray(self.x @ elog), kl

    def _per_class(self, values: np.ndarray) -> np.ndarray:
        """Sum over the groups of each class (last axis G -> K)."""
        if len(self.group_class) == self.n_classes:
            return values
        return np.add.reduceat(values, self.starts, axis=-1)

    def mean_confusions(self, used: np.ndarray, total: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:
        """Posterior-mean confusion matrices (workers x K x K), rows mixed over groups.

        ``weights`` (G,) mixes the groups of a class (they sum to one over a class; all ones
        with one group per class). Costs O(W K^2 + U G) time and O(W K^2) memory: the
        (workers x groups x classes) tensor is never built.
        """
        scale = self._per_class(weights / total)  # (W, K); every group of k has k's prior
        # built as [w, l, k] so that the used cells are whole contiguous rows, then viewed as
        # [w, k, l] (writing them into [w, k, l] scatters every value to its own cache line)
        out = scale[:, None, :] * self.class_prior.T[None, :, :]
        mixed = self._per_class(used / total[self.worker] * weights)  # (U, K)
        out[self.worker, self.label, :] = mixed
        return out.transpose(0, 2, 1)

    def full(self, used: np.ndarray) -> np.ndarray:
        """All Dirichlet parameters, (workers x G x classes): O(W G K) memory."""
        out = np.tile(self.prior.T, (self.n_workers, 1))  # rows w*K + l, columns g
        out[self.cols] = used
        return out.reshape(self.n_workers, self.n_classes, -1).transpose(0, 2, 1)


def _softmax_rows(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax of ``scores`` (overwritten) and the row log-sum-exp.

    Shifted scores are floored at -700 so that ``exp`` never produces subnormal numbers (a slow
    path); the affected probabilities are below 1e-304 either way. Row sums are products with
    a vector of ones (BLAS; a reduction along short rows is several times slower).
    """
    top = scores.max(axis=1, keepdims=True)
    scores -= top
    np.maximum(scores, -700.0, out=scores)
    np.exp(scores, out=scores)
    total = scores @ np.ones(scores.shape[1], dtype=scores.dtype)
    scores *= (1.0 / total)[:, None]
    return scores, np.log(total) + top[:, 0]


def _allclose_rule(atol: float):
    """The reference stopping rule: ``np.allclose(previous, new, atol=atol)``."""

    def stop(previous: np.ndarray, new: np.ndarray) -> bool:
        return bool(np.allclose(previous, new, atol=atol))

    return stop


def _diag_prior(n_classes: int, a_v: float, b_v: float) -> np.ndarray:
    """Confusion-row Dirichlet prior: ``a_v`` on the diagonal, ``b_v`` elsewhere."""
    return np.eye(n_classes) * (a_v - b_v) + b_v
