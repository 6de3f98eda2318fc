"""BWA: Bayesian weighted averaging of the votes (Li, Rubinstein and Cohn, WWW 2019)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...answers import Answers
from .._em import run_em
from ..base import Aggregator, register
from ._common import _soft_majority

__all__ = ["BWA"]


@dataclass
class _BWAParams:
    mean: np.ndarray       # (K,) prior mean of the class scores
    precision: np.ndarray  # (W, K) worker precisions
    scores: np.ndarray     # (N, K) the scores they were computed from


@register("bwa")
class BWA(Aggregator):
    r"""Bayesian Weighted Averaging: class scores as precision-weighted averages of the votes.

    Each class :math:`k` is treated as a one-vs-rest problem on the indicator
    :math:`y_{ijk} = [\text{worker } j \text{ answered } k \text{ on task } i]`, modelled as
    Gaussian around a latent task score, :math:`y_{ijk} \sim N(z_{ik}, 1/v_{jk})`, with
    :math:`z_{ik} \sim N(\mu_k, 1/\lambda)` and a Gamma prior on each worker precision
    :math:`v_{jk}`. Alternating updates (coordinate ascent of the log joint density)

    .. math::

        \mu_k = \bar z_{\cdot k}, \quad
        v_{jk} = \frac{a_v + N_j}{b_{v,k} + \sum_{i \in j} (z_{ik} - y_{ijk})^2}, \quad
        z_{ik} = \frac{\lambda \mu_k + \sum_{j \in i} v_{jk} y_{ijk}}
                      {\lambda + \sum_{j \in i} v_{jk}},

    with :math:`N_j` the number of answers of worker :math:`j` and the Gamma rate set from the
    data, :math:`b_{v,k} = a_v \cdot c \cdot \sum_i W_i z^0_{ik}(1 - z^0_{ik}) / \sum_i W_i`
    (:math:`W_i` answers of task :math:`i`, :math:`z^0` the vote shares,
    :math:`c = 4(1 - 1/K)` with ``prior_correction``). Scores start from the vote shares; each
    class stops on its own when its scores move by less than ``tol`` relative, as in the
    reference. ``probas_`` are the scores normalised to sum to one per task.

    Parameters
    ----------
    a_v : float
        Shape of the precision prior (reference: 15).
    lam : float
        Precision :math:`\lambda` of the score prior around the class mean (reference: 1).
    prior_correction : bool
        Scale the precision prior's rate by :math:`4(1 - 1/K)` (reference: True).
    max_iter : int
        Maximum iterations (reference: 500).
    tol : float
        Relative tolerance of the per-class stopping rule (reference: 1e-3).
    random_state : int or None
        Seed of the draw that breaks exact ties in ``labels_``.

    Attributes
    ----------
    probas_ : ndarray (tasks x classes)
        Normalised class scores.
    scores_ : ndarray (tasks x classes)
        The raw scores :math:`z_{ik}` (each in [0, 1]).
    precisions_ : ndarray (workers x classes)
        Worker precisions :math:`v_{jk}`; ``skills_`` is their mean over classes (for two
        classes both columns are equal).
    priors_ : ndarray (classes,)
        The class means :math:`\mu_k`, normalised.
    log_likelihood_ : float
        Log joint density per answer (up to a constant) at the end.

    References
    ----------
    Y. Li, B. I. P. Rubinstein and T. Cohn. "Truth inference at scale: a Bayesian model for
    adjudicating highly redundant crowd annotations." WWW 2019.
    Reference code: ``github.com/yuan-li/truth-inference-at-scale/code/bwa.py``.

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> from crowdlearn.aggregate.bayesian import BWA
    >>> answers = Answers.from_arrays(
    ...     ["t1", "t1", "t1", "t2", "t2", "t2", "t3", "t3", "t3"],
    ...     ["w1", "w2", "w3"] * 3,
    ...     ["cat", "cat", "dog", "dog", "dog", "dog", "cat", "dog", "cat"])
    >>> model = BWA().fit(answers)
    >>> answers.classes[model.labels_].tolist()
    ['cat', 'dog', 'cat']
    >>> model.precisions_.shape
    (3, 2)
    """

    def __init__(
        self,
        a_v: float = 15.0,
        lam: float = 1.0,
        prior_correction: bool = True,
        max_iter: int = 500,
        tol: float = 1e-3,
        random_state: int | None = 0,
    ) -> None:
        self.a_v = a_v
        self.lam = lam
        self.prior_correction = prior_correction
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        n_workers, n_classes, n_answers = answers.n_workers, answers.n_classes, answers.n_answers
        x = answers.incidence
        task, label = answers.task, answers.label
        by_worker = sp.csr_matrix(
            (np.ones(n_answers), (answers.worker, np.arange(n_answers))),
            shape=(n_workers, n_answers),
        )
        n_j = answers.answers_per_worker().astype(np.float64)
        rows = np.arange(n_answers)
        eye = np.eye(n_classes)
        lam, a_v = float(self.lam), float(self.a_v)
        z0 = _soft_majority(answers)
        adj = 4.0 * (1.0 - 1.0 / n_classes) if self.prior_correction else 1.0
        per_task = answers.answers_per_task()
        b_v = a_v * adj * (per_task @ (z0 * (1.0 - z0))) / max(n_answers, 1)
        # unanimous answers give a zero rate (and infinite precisions at zero residual); any
        # disagreement puts b_v above ~1/answers, so this floor only guards that corner
        b_v = np.maximum(b_v, 1e-12)
        done = np.zeros(n_classes, dtype=bool)

        def residuals(z: np.ndarray) -> np.ndarray:
            r = z[task]
            r[rows, label] -= 1.0
            return r * r  # (answers x classes): (z_ik - y_ijk)^2

        def m_step(z: np.ndarray) -> _BWAParams:
            sq = np.asarray(by_worker @ residuals(z))
            return _BWAParams(mean=z.mean(axis=0), precision=(a_v + n_j[:, None]) / (b_v + sq),
                              scores=z)

        def e_step(p: _BWAParams) -> tuple[np.ndarray, float]:
            v = p.precision
            num = lam * p.mean + np.asarray(x @ (v[:, None, :] * eye).reshape(-1, n_classes))
            den = lam + np.asarray(x @ np.repeat(v, n_classes, axis=0))
            z = num / den
            z[:, done] = p.scores[:, done]
            close = np.abs(z - p.scores) <= 1e-8 + self.tol * np.abs(z)
            done[:] |= close.all(axis=0)
            log_v = np.log(v)
            sq = np.asarray(by_worker @ residuals(z))  # (workers x classes)
            joint = (
                -0.5 * (v * sq).sum()
                + 0.5 * (n_j @ log_v).sum()
                + 0.5 * (a_v * log_v - b_v * v).sum()
                - 0.5 * lam * ((z - p.mean) ** 2).sum()
            )
            return z, float(joint) / max(n_answers, 1)

        res = run_em(z0, m_step, e_step, max_iter=self.max_iter,
                     stop=lambda _prev, _new: bool(done.all()))
        z = res.probas
        total = z.sum(axis=1, keepdims=True)
        self.scores_ = z
        self.probas_ = np.divide(z, total, out=np.full_like(z, 1.0 / n_classes),
                                 where=total > 0)
        self.precisions_ = res.params.precision
        self.skills_ = self.precisions_.mean(axis=1)
        mean = res.params.mean
        self.priors_ = mean / mean.sum() if mean.sum() > 0 else np.full(n_classes, 1 / n_classes)
        self.n_iter_ = res.n_iter
        self.log_likelihood_ = res.log_likelihood
        self.history_ = res.history
        self.converged_ = res.converged
