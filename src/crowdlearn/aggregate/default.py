r"""The default aggregation: Dawid-Skene with worker confusions partially pooled across the crowd.

What ``crowdlearn aggregate answers.csv`` runs when no ``-s`` is given (registered as
``pooled-ds`` and ``default``).

Why this model
--------------
Dawid-Skene (DS) fits one confusion matrix per worker by maximum likelihood. With the few answers
most workers give, those matrices are noisy: a worker seen on six tasks gets a confusion row from
one or two of them, and EM then trusts or distrusts that worker on no evidence (DS is 10.7 points
below the best strategy on ``cf``, 8.7 below majority vote). The classical remedies are *no
pooling* (DS), *complete pooling* (one matrix for everybody: majority vote with a class-bias
correction) and a fixed prior towards the diagonal (IBCC, EBCC: :math:`a_v = 4, b_v = 1`). A
fixed diagonal prior is wrong when the crowd as a whole is biased: on ``web`` most workers
over-use the last of five grades, and IBCC / EBCC lose 8-9 points to DS there because the prior
pulls every sparse worker towards an unbiased confusion. *Partial pooling* (a hierarchical
model) estimates the prior from the crowd: every worker's confusion rows are shrunk towards the
crowd's pooled confusion, strongly for a worker with few answers, hardly for one with many
(Paun et al. 2018 compare annotation models that differ in exactly this pooling of annotator
parameters; the community model of Venanzi et al. 2014 pools within several communities). Here
it is the one-community, MAP-EM version: as fast as DS.

Model and updates
-----------------
Worker ``w`` answers ``l`` on a task of true class ``k`` with probability
:math:`\pi^{(w)}_{k,l}`; classes have prior :math:`\rho`. With the task posterior ``T`` of the
E-step, the expected counts are :math:`N^{(w)}_{k,l} = \sum_{t:(w,l) \in t} T_{t,k}` and

.. math::

    \bar\pi_{k,l} \propto 1 + \sum_w N^{(w)}_{k,l}, \qquad
    \pi^{(w)}_{k,l} = \frac{N^{(w)}_{k,l} + s\,\bar\pi_{k,l}}{\sum_{l'} N^{(w)}_{k,l'} + s},
    \qquad \rho_k = \mathrm{mean}_t\, T_{t,k},

i.e. the posterior mean of each confusion row under a Dirichlet(:math:`s\bar\pi_{k,\cdot}`) prior
whose mean :math:`\bar\pi` is the crowd's pooled confusion (an empirical-Bayes estimate, updated
at every M-step from the same counts). The E-step is DS's:
:math:`T_{t,k} \propto \rho_k \prod_{(w,l) \in t} \pi^{(w)}_{k,l}` (one sparse product).
Iterations start from the vote shares (majority vote) and stop when the log-likelihood per
answer moves by less than ``tol``.

The one setting, ``strength`` :math:`s`, is the number of pseudo-answers per confusion row; by
default the number of classes ``K`` (a worker needs about ``K`` answers on a class before its
own row of ``K`` cells says more than the crowd's). It was not tuned: over the 14 shared data
sets the mean gap to each set's best strategy is -1.07, -1.02, -0.92 and -1.17 points for
``s`` = 1, 2, 5 and 10, and -0.89 for ``s = K``.

How it was chosen
-----------------
Measured on the 14 shared sets (accuracy on the tasks with truth; gap to the best of all 16
strategies; worst gap to majority vote), besides simulated crowds:

* single strategies: EBCC mean -1.49, worst -9.50 (``web``), never below MV (628 s on
  ``relevance`` then, 1.8 s after its speed-up); DS -1.75 / -10.67 (``cf``) / -8.67 below MV;
  IBCC -2.04 / -8.78 / -4.07; MACE -2.12 / -11.11 / -6.86; majority vote -5.17;
* DS with an empirical-Bayes strength (Dirichlet-multinomial maximum likelihood of ``s`` at
  every M-step): -1.38 on average (``cf`` 84.3% instead of 89.0%); it picks complete pooling
  whenever workers give few answers per row;
* DS with latent subtypes per class (an EBCC-like mixture by MAP-EM, 2-5 subtypes, tried on
  four sets): no gain on ``zencrowd-all`` (78.2-79.5%), 4-14 points lost on ``web``;
* posterior ensembles (arithmetic or geometric mean, or a vote, of 2-3 of EBCC, DS, pooled DS,
  IBCC, MACE, one-coin, MMSR, GLAD, MV): best mean -0.73 (pooled DS + DS + GLAD, vote), and
  none met all three targets: votes of EBCC, MV and DS (or pooled DS) stay within 0.51 of MV
  but fall 3.7-4.1 below the best, at a mean of -1.06 to -1.09 and EBCC's cost.

On simulated crowds (``benchmarks/aggregation.py --only simulated``: seven kinds with
independent workers, 3 seeds each) it is 0.67 points below the best strategy on average, at
worst 2.87 below, and never below majority vote; a correlated clique defeats it as it defeats
DS, IBCC, MACE and GLAD (11-12 points below majority vote).

Partial pooling alone is the simplest of these, has one setting chosen a priori, and is the
only one within a point of the best on average at DS's speed.

Known limit
-----------
Like every model that treats answers as independent given the true class (DS, IBCC, MACE),
it follows a clique of heavy workers who make the *same* mistakes: on ``zencrowd-all`` three
workers with a quarter of the answers say the minority class on the same ~20% of majority-class
tasks, and it scores 79.5% where majority vote scores 83.7% and EBCC (which models such
correlation with latent subtypes) 86.8%.

References
----------
Dawid, A. P. & Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates using
the EM algorithm. *Journal of the Royal Statistical Society C*, 28(1), 20-28.

Venanzi, M., Guiver, J., Kazai, G., Kohli, P. & Shokouhi, M. (2014). Community-based Bayesian
aggregation models for crowdsourcing. *WWW 2014*, 155-164.

Paun, S., Carpenter, B., Chamberlain, J., Hovy, D., Kruschwitz, U. & Poesio, M. (2018). Comparing
Bayesian models of annotation. *Transactions of the ACL*, 6, 571-585.

Examples
--------
>>> import numpy as np
>>> from crowdlearn import Answers
>>> from crowdlearn.aggregate import make_strategy
>>> rng = np.random.default_rng(0)
>>> truth = rng.integers(0, 3, 300)
>>> task = np.repeat(np.arange(300), 5); worker = rng.integers(0, 40, 1500)
>>> label = np.where(rng.random(1500) < 0.7, truth[task], rng.integers(0, 3, 1500))
>>> model = make_strategy("default").fit(Answers(task, worker, label, duplicates="all"))
>>> type(model).__name__, bool((model.labels_ == truth).mean() > 0.9)
('PooledDawidSkene', True)
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np

from ..answers import Answers
from ..params import N_ITER, SEED, TOL, Float, Param
from ._device import DEVICE, fit_on_device
from ._em import run_em
from .base import register
from .dawid_skene.shared import _class_priors, _Design, _DSFamily, _log_prior
from .voting import vote_frequencies

__all__ = ["PooledDawidSkene"]


class _PooledParams(NamedTuple):
    conf_mk: np.ndarray  # (workers, answer, true class)
    prior: np.ndarray    # (classes,)
    pooled_mk: np.ndarray  # (answer, true class): the crowd's confusion


def pooled_confusions(counts: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """The M-step from the expected counts ``N[w, l, k]`` (workers, answer, true class): each
    worker's confusions shrunk with strength ``s`` towards the pooled confusion, and the pooled
    confusion (answer, true class). Shared by the in-memory and the Dask paths."""
    pooled = counts.sum(axis=0) + 1.0
    pooled /= pooled.sum(axis=0, keepdims=True)
    conf = counts + s * pooled[None]
    conf /= conf.sum(axis=1, keepdims=True)
    return conf, pooled


@register("pooled-ds", "default")
class PooledDawidSkene(_DSFamily):
    r"""Dawid-Skene with each worker's confusions shrunk towards the crowd's pooled confusion.

    The default strategy of ``crowdlearn aggregate``; see the module docstring for the model,
    the updates and why it was chosen.

    Parameters
    ----------
    strength : float or None
        Pseudo-answers per confusion row drawn from the pooled confusion (``s > 0``); ``None``
        (default): the number of classes. Large values give every worker the pooled
        confusion; small ones approach Dawid-Skene.
    n_iter : int
        Maximum number of EM iterations (default 100).
    tol : float
        Stop when the log-likelihood per answer changes by less than ``tol`` (default 1e-5).
    random_state : int or None
        Seed of the draw breaking exact ties in ``labels_``.
    device : None, "cpu", "cuda", "cuda:N" or "auto"
        Run on torch tensors on this device (see :mod:`crowdlearn.aggregate._device`);
        ``None`` (default): numpy.

    Attributes
    ----------
    probas_, labels_, confusions_ (workers x true x answer), pooled_confusion_ (true x answer),
    priors_, strength_, n_iter_, log_likelihood_ (per answer, at the last M-step's parameters),
    loss_history_, converged_.

    References
    ----------
    Dawid & Skene (1979); Venanzi et al. (2014); Paun et al. (2018) (module docstring).
    """

    param_specs: ClassVar[dict[str, Param]] = {
        "strength": Float(0, low_open=True, none=True), "n_iter": N_ITER, "tol": TOL,
        "random_state": SEED, "device": DEVICE,
    }

    def __init__(
        self,
        strength: float | None = None,
        n_iter: int = 100,
        tol: float = 1e-5,
        random_state: Any = 0,
        device: str | None = None,
    ) -> None:
        self.device = device
        self.strength = strength
        self.n_iter = n_iter
        self.tol = tol
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        if fit_on_device(self, answers):  # device=: torch tensors
            return
        k = answers.n_classes
        s = float(k if self.strength is None else self.strength)
        if not s > 0:  # s = 0 would be plain DS, with 0/0 rows for workers never on a class
            raise ValueError(f"strength must be > 0, got {self.strength}")
        design = _Design(answers)

        def m_step(probas: np.ndarray) -> _PooledParams:
            conf, pooled = pooled_confusions(design.counts(probas), s)
            return _PooledParams(conf, _class_priors(probas), pooled)

        def e_step(params: _PooledParams) -> tuple[np.ndarray, float]:
            probas, loglik = design.posterior(np.log(params.conf_mk), _log_prior(params.prior))
            return probas, loglik / design.n_answers

        res = run_em(vote_frequencies(answers), m_step, e_step, tol=self.tol,
                     max_iter=self.n_iter)
        self._store(res, res.params.conf_mk, res.params.prior)
        self.pooled_confusion_ = np.ascontiguousarray(res.params.pooled_mk.T)
        self.strength_ = s
