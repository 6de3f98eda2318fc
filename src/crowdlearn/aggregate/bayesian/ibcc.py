"""IBCC: independent Bayesian classifier combination by mean-field variational Bayes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...answers import Answers
from .._em import run_em
from ..base import Aggregator, register
from ._common import (
    _allclose_rule,
    _ConfusionPosterior,
    _diag_prior,
    _dirichlet_elog_kl,
    _soft_majority,
    _softmax_rows,
)

__all__ = ["IBCC"]


@dataclass
class _IBCCParams:
    nu: np.ndarray     # (K,) Dirichlet posterior of the class proportions
    used: np.ndarray   # (U, K) confusion Dirichlets at the used (worker, answer) columns
    total: np.ndarray  # (W, K) their row totals [worker, true class]


@register("ibcc")
class IBCC(Aggregator):
    r"""Independent Bayesian Classifier Combination, fitted by mean-field variational Bayes.

    The Bayesian Dawid-Skene model: the true class of task :math:`i` is
    :math:`z_i \sim \mathrm{Cat}(\tau)`; worker :math:`j` answers :math:`l` with probability
    :math:`\pi_{j,z_i,l}`. Priors: :math:`\tau \sim \mathrm{Dir}(\alpha, \dots, \alpha)` and
    every confusion row :math:`\pi_{jk\cdot} \sim \mathrm{Dir}(\beta_{k\cdot})` with
    :math:`\beta_{kk} = a_v` and :math:`\beta_{kl} = b_v` (a prior favouring correct answers).
    The posterior is approximated by :math:`q(z)\,q(\tau)\,q(\pi)`; the coordinate updates are

    .. math::

        q(\tau) = \mathrm{Dir}(\alpha + \textstyle\sum_i T_{i\cdot}), \quad
        q(\pi_{jk\cdot}) = \mathrm{Dir}(\beta_{k\cdot} + n_{jk\cdot}), \quad
        \log T_{ik} = E[\log\tau_k] + \textstyle\sum_{j \to l} E[\log\pi_{jkl}] + c_i,

    with :math:`n_{jkl} = \sum_{i: j \to l} T_{ik}` the expected confusion counts and
    :math:`E[\log x] = \psi(a_x) - \psi(\sum a)` under a Dirichlet. Iterations start from the
    normalised vote counts and stop when two consecutive posteriors agree within ``tol``
    (absolute), as in the reference implementation; the ELBO never decreases.

    Parameters
    ----------
    alpha : float
        Dirichlet prior on the class proportions (reference: 1).
    a_v, b_v : float
        Dirichlet prior on a confusion row: ``a_v`` for the correct answer, ``b_v`` for each
        wrong one (reference: 4 and 1).
    max_iter : int
        Maximum number of iterations (reference: 500).
    tol : float
        Stop when no posterior entry moves by more than ``tol`` (reference: 1e-3).
    random_state : int or None
        Seed of the draw that breaks exact ties in ``labels_``.

    Attributes
    ----------
    probas_ : ndarray (tasks x classes)
        Variational posterior :math:`q(z_i = k)`.
    confusions_ : ndarray (workers x classes x classes)
        Posterior-mean confusion matrices (rows = true class).
    priors_ : ndarray (classes,)
        Posterior-mean class proportions.
    log_likelihood_ : float
        ELBO per answer at the end; ``history_`` holds it for every iteration.
    n_iter_ : int

    References
    ----------
    H.-C. Kim and Z. Ghahramani. "Bayesian classifier combination." AISTATS 2012.
    Reference code: Y. Li, ``github.com/yuan-li/truth-inference-at-scale/code/ibcc.py``.

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> from crowdlearn.aggregate.bayesian import IBCC
    >>> answers = Answers.from_arrays(
    ...     ["t1", "t1", "t1", "t2", "t2", "t2", "t3", "t3", "t3"],
    ...     ["w1", "w2", "w3"] * 3,
    ...     ["cat", "cat", "dog", "dog", "dog", "dog", "cat", "dog", "cat"])
    >>> model = IBCC().fit(answers)
    >>> answers.classes[model.labels_].tolist()
    ['cat', 'dog', 'cat']
    >>> model.probas_.sum(axis=1).round(6).tolist()
    [1.0, 1.0, 1.0]
    """

    has_confusions = True

    def __init__(
        self,
        alpha: float = 1.0,
        a_v: float = 4.0,
        b_v: float = 1.0,
        max_iter: int = 500,
        tol: float = 1e-3,
        random_state: int | None = 0,
    ) -> None:
        self.alpha = alpha
        self.a_v = a_v
        self.b_v = b_v
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        n_classes = answers.n_classes
        conf = _ConfusionPosterior(answers, _diag_prior(n_classes, self.a_v, self.b_v))
        alpha = np.full(n_classes, float(self.alpha))
        per_answer = 1.0 / max(answers.n_answers, 1)

        def m_step(t: np.ndarray) -> _IBCCParams:
            used, total = conf.update(t)
            return _IBCCParams(nu=alpha + t.sum(axis=0), used=used, total=total)

        def e_step(p: _IBCCParams) -> tuple[np.ndarray, float]:
            elog_pi, kl_pi = _dirichlet_elog_kl(p.nu, alpha)
            loglik, kl_v = conf.scores_kl(p.used, p.total)
            t, lse = _softmax_rows(elog_pi + loglik)
            return t, (lse.sum() - kl_pi - kl_v) * per_answer

        res = run_em(_soft_majority(answers), m_step, e_step, max_iter=self.max_iter,
                     stop=_allclose_rule(self.tol))
        self.probas_ = res.probas
        self.confusions_ = conf.mean_confusions(res.params.used, res.params.total,
                                                np.ones(n_classes))
        self.priors_ = res.params.nu / res.params.nu.sum()
        self.n_iter_ = res.n_iter
        self.log_likelihood_ = res.log_likelihood
        self.history_ = res.history
        self.converged_ = res.converged
