"""Bayesian truth inference: IBCC, EBCC (variational Bayes) and BWA (Bayesian weighted averaging).

The three models follow Yuan Li's reference implementations
(``github.com/yuan-li/truth-inference-at-scale``: ``ibcc.py``, ``ebcc.py``, ``bwa.py`` and the
notebooks that produced the published accuracies): same priors, default hyper-parameters,
initialisation (the normalised vote counts, "soft majority vote") and stopping rule (consecutive
posteriors within ``tol`` of each other). They are written on the sparse answer arrays of
:class:`~crowdlearn.answers.Answers`: with ``X = answers.incidence`` (tasks x workers*classes),
the expected log-likelihood of every task under every class is one sparse product
``X @ E[log pi]`` and the expected confusion counts are ``X.T @ T``, so an iteration costs
O(answers x classes^2) (O(answers x classes x subtypes) for EBCC). Variational Bayes runs on the
shared EM skeleton :func:`~crowdlearn.aggregate._em.run_em`: its "M-step" updates the Dirichlet
posteriors of the parameters, its "E-step" the posterior of the true labels and returns the ELBO
(per answer), which coordinate ascent never decreases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma, gammaln

from ..answers import Answers
from ._em import EMResult, current_gold, run_em
from .base import Aggregator, register

__all__ = ["BWA", "EBCC", "IBCC"]


# ---------------------------------------------------------------------- shared helpers
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
        self.xt = self.x.T.tocsr()
        self.worker = cols // n_classes
        self.label = cols % n_classes
        self.by_worker = sp.csr_matrix(
            (np.ones(len(cols)), (self.worker, np.arange(len(cols)))),
            shape=(self.n_workers, len(cols)),
        )
        self.class_prior = class_prior  # (K, K): class_prior[k, l]
        prior = class_prior[self.group_class]
        self.prior = prior  # (G, K): prior[g, l]
        self.prior_used = np.ascontiguousarray(prior.T[self.label])  # (U, G)
        self.prior_total = prior.sum(axis=1)  # (G,)
        self._kl_const = float(gammaln(self.prior_used).sum()) - self.n_workers * float(
            gammaln(self.prior_total).sum()
        )

    def update(self, resp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior parameters given responsibilities (tasks x G): used entries, row totals."""
        counts = np.asarray(self.xt @ resp)
        return self.prior_used + counts, self.prior_total + np.asarray(self.by_worker @ counts)

    def scores_kl(self, used: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, float]:
        """``sum over a task's answers of E[log v]`` (tasks x G) and the summed KL to the prior."""
        elog = digamma(used) - digamma(total)[self.worker]
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
        out = scale[:, :, None] * self.class_prior[None, :, :]
        mixed = self._per_class(used / total[self.worker] * weights)  # (U, K)
        out[self.worker, :, self.label] = mixed
        return out

    def full(self, used: np.ndarray) -> np.ndarray:
        """All Dirichlet parameters, (workers x G x classes): O(W G K) memory."""
        out = np.tile(self.prior.T, (self.n_workers, 1))  # rows w*K + l, columns g
        out[self.cols] = used
        return out.reshape(self.n_workers, self.n_classes, -1).transpose(0, 2, 1)


def _softmax_rows(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax of ``scores`` (overwritten) and the row log-sum-exp.

    Shifted scores are floored at -700 so that ``exp`` never produces subnormal numbers (a slow
    path); the affected probabilities are below 1e-304 either way.
    """
    top = scores.max(axis=1, keepdims=True)
    scores -= top
    np.maximum(scores, -700.0, out=scores)
    np.exp(scores, out=scores)
    total = scores.sum(axis=1, keepdims=True)
    scores /= total
    return scores, np.log(total[:, 0]) + top[:, 0]


def _allclose_rule(atol: float):
    """The reference stopping rule: ``np.allclose(previous, new, atol=atol)``."""

    def stop(previous: np.ndarray, new: np.ndarray) -> bool:
        return bool(np.allclose(previous, new, atol=atol))

    return stop


def _diag_prior(n_classes: int, a_v: float, b_v: float) -> np.ndarray:
    """Confusion-row Dirichlet prior: ``a_v`` on the diagonal, ``b_v`` elsewhere."""
    return np.eye(n_classes) * (a_v - b_v) + b_v


# ---------------------------------------------------------------------- IBCC
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


# ---------------------------------------------------------------------- EBCC
@dataclass
class _EBCCParams:
    nu: np.ndarray   # (K,) Dirichlet posterior of the class proportions
    eta: np.ndarray    # (K, M) Dirichlet posteriors of the subtype proportions of each class
    used: np.ndarray   # (U, G) confusion Dirichlets at the used (worker, answer) columns
    total: np.ndarray  # (W, G) their row totals [worker, (class, subtype) group]


@register("ebcc")
class EBCC(Aggregator):
    r"""Enhanced Bayesian Classifier Combination: IBCC with latent subtypes of every class.

    Every task has a true class :math:`z_i \sim \mathrm{Cat}(\tau)` and a latent subtype
    :math:`g_i \mid z_i = k \sim \mathrm{Cat}(\pi_k)` among ``n_subtypes`` (M); worker
    :math:`j` answers according to a confusion row of the (class, subtype) pair,
    :math:`y_{ij} \sim \mathrm{Cat}(v_{j,k,g_i})`. Workers who err alike on a subtype are thus
    correlated, which plain IBCC cannot express. Priors: :math:`\tau \sim \mathrm{Dir}(\alpha)`,
    :math:`\pi_k \sim \mathrm{Dir}(a_\pi / M)` and :math:`v_{jkm\cdot} \sim \mathrm{Dir}(\beta_{k
    \cdot})` with :math:`\beta_{kk} = a_v`, :math:`\beta_{kl} = b_v`. Mean-field variational
    inference over :math:`q(z, g)\,q(\tau)\,q(\pi)\,q(v)`; the (class, subtype) responsibilities
    start from the normalised vote counts split over subtypes by a random Dirichlet(1) draw.

    The ELBO has many local optima, so the fit is restarted ``n_restarts`` times from different
    random splits and the run with the largest ELBO is kept: this is the protocol that produced
    the published accuracies (40 restarts, class prior ``alpha`` set empirically to the vote
    shares summed over tasks).

    **Subtypes per class** (``adaptive_subtypes``, a departure from the reference). Class ``k``
    gets :math:`M_k = \min(M, \max(1, \lfloor n_k \rfloor))` subtypes, with :math:`n_k` its
    expected number of tasks (vote shares summed over tasks), and prior
    :math:`\pi_k \sim \mathrm{Dir}(a_\pi / M_k)`. The reason is a failure of mean-field
    inference when classes outnumber tasks: :math:`q(g)` must put a class's few tasks on *one*
    of its M interchangeable subtypes, and the ELBO charges about :math:`\log M` nats (the
    prior mass :math:`(a_\pi/M)/a_\pi` of that subtype) for every class in use, a cost IBCC
    does not pay. With hundreds of tasks per class it is negligible; with 1,000 classes and 300
    tasks (3 answers each) it exceeds what separate classes gain in likelihood, and the highest
    ELBO, from any initialisation, puts almost every task into one (class, subtype) group:
    2% accuracy where IBCC reaches 85% (the ELBO of that collapse, -7.40 per answer, is above
    IBCC's -7.61). Subtypes beyond a class's tasks cannot be told apart by the data anyway;
    with the cap the same crowd gives 79% (EBCC with one subtype, the empirical class prior).
    The cap never binds when every class has at least M expected tasks, as on all the
    published data sets (the smallest class there has 15): results are then the reference
    model's, draw for draw. When every class has a single subtype the initialisation is
    deterministic and one run replaces the ``n_restarts``.

    Parameters
    ----------
    n_subtypes : int
        Number of subtypes per class, M (reference: 10).
    a_pi : float
        Total Dirichlet concentration on the subtype proportions of a class (reference: 0.1).
    alpha : float or "empirical"
        Dirichlet prior on the class proportions; ``"empirical"`` (default, as in the published
        experiments) uses the vote shares summed over tasks.
    a_v, b_v : float
        Dirichlet prior of a confusion row (diagonal / off-diagonal; reference: 4 and 1).
    n_restarts : int
        Random initialisations; the one with the largest ELBO is kept (published protocol: 40).
    max_iter : int
        Maximum iterations per restart (reference: 500).
    tol : float
        Stop a restart when no class posterior moves by more than ``tol`` (reference: 1e-3).
    adaptive_subtypes : bool
        Give a class no more subtypes than its expected number of tasks (default; see above).
        ``False`` gives every class ``n_subtypes``, as the reference code does.
    random_state : int or None
        Seed of the random initialisations (and of the tie-breaking draw of ``labels_``).

    Attributes
    ----------
    probas_ : ndarray (tasks x classes)
        :math:`q(z_i = k)`, summed over subtypes.
    subtype_probas_ : ndarray (tasks x classes x subtypes)
        :math:`q(z_i = k, g_i = m)` (zero at subtypes beyond ``subtypes_per_class_``).
    subtypes_per_class_ : ndarray of int (classes,)
        :math:`M_k`, the number of subtypes of every class.
    confusions_ : ndarray (workers x classes x classes)
        Posterior-mean confusion of each worker per true class, averaged over subtypes with the
        posterior-mean subtype proportions.
    subtype_weights_ : ndarray (classes x subtypes)
        Posterior-mean subtype proportions of each class (see also :meth:`subtype_confusions`).
    priors_ : ndarray (classes,)
        Posterior-mean class proportions.
    log_likelihood_ : float
        ELBO per answer of the kept restart; ``restart_elbos_`` holds that of every restart.

    References
    ----------
    Y. Li, B. I. P. Rubinstein and T. Cohn. "Exploiting worker correlation for label aggregation
    in crowdsourcing." ICML 2019.
    Reference code: ``github.com/yuan-li/truth-inference-at-scale/code/ebcc.py`` and
    ``test_ebcc.ipynb``.

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> from crowdlearn.aggregate.bayesian import EBCC
    >>> answers = Answers.from_arrays(
    ...     ["t1", "t1", "t1", "t2", "t2", "t2", "t3", "t3", "t3"],
    ...     ["w1", "w2", "w3"] * 3,
    ...     ["cat", "cat", "dog", "dog", "dog", "dog", "cat", "dog", "cat"])
    >>> model = EBCC(n_restarts=5, random_state=0).fit(answers)
    >>> answers.classes[model.labels_].tolist()
    ['cat', 'dog', 'cat']
    >>> model.subtype_probas_.shape
    (3, 2, 10)
    """

    has_confusions = True

    def __init__(
        self,
        n_subtypes: int = 10,
        a_pi: float = 0.1,
        alpha: float | str = "empirical",
        a_v: float = 4.0,
        b_v: float = 1.0,
        n_restarts: int = 40,
        max_iter: int = 500,
        tol: float = 1e-3,
        adaptive_subtypes: bool = True,
        random_state: int | None = 0,
    ) -> None:
        self.n_subtypes = n_subtypes
        self.a_pi = a_pi
        self.alpha = alpha
        self.a_v = a_v
        self.b_v = b_v
        self.n_restarts = n_restarts
        self.max_iter = max_iter
        self.tol = tol
        self.adaptive_subtypes = adaptive_subtypes
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        n_tasks, n_workers, n_classes = answers.n_tasks, answers.n_workers, answers.n_classes
        n_sub = int(self.n_subtypes)
        if n_sub < 1:
            raise ValueError(f"n_subtypes must be >= 1, got {self.n_subtypes}")
        if int(self.n_restarts) < 1:
            raise ValueError(f"n_restarts must be >= 1, got {self.n_restarts}")
        z0 = _soft_majority(answers)
        expected = z0.sum(axis=0)  # expected number of tasks of every class (soft majority)
        if isinstance(self.alpha, str):
            if self.alpha != "empirical":
                raise ValueError(f"alpha must be a number or 'empirical', got {self.alpha!r}")
            alpha = expected
        else:
            alpha = np.full(n_classes, float(self.alpha))
        if self.adaptive_subtypes:
            # no more subtypes than (expected) tasks: see the class docstring
            per_class = np.clip(np.floor(expected + 1e-9), 1, n_sub).astype(np.int64)
        else:
            per_class = np.full(n_classes, n_sub, dtype=np.int64)
        allowed = np.arange(n_sub)[None, :] < per_class[:, None]  # (K, M): existing subtypes
        uniform = bool(allowed.all())
        group_class = np.repeat(np.arange(n_classes), per_class)  # groups (k, m), class-major
        n_groups = len(group_class)
        beta = _diag_prior(n_classes, self.a_v, self.b_v)
        conf = _ConfusionPosterior(answers, beta, group_class)
        # total concentration a_pi over the subtypes of a class (zero: no such subtype)
        eta0 = np.where(allowed, float(self.a_pi) / per_class[:, None], 0.0)
        per_answer = 1.0 / max(answers.n_answers, 1)

        gold = current_gold(n_tasks, n_classes) if n_groups != n_classes else None

        def table(per_group: np.ndarray) -> np.ndarray:
            """(G,) -> (K, M), zero at the subtypes a class does not have."""
            if uniform:
                return per_group.reshape(n_classes, n_sub)
            out = np.zeros((n_classes, n_sub))
            out[allowed] = per_group
            return out

        def m_step(r: np.ndarray) -> _EBCCParams:
            per_group = table(r.sum(axis=0))
            used, total = conf.update(r)
            return _EBCCParams(nu=alpha + per_group.sum(axis=1), eta=eta0 + per_group,
                               used=used, total=total)

        def e_step(p: _EBCCParams) -> tuple[np.ndarray, float]:
            elog_tau, kl_tau = _dirichlet_elog_kl(p.nu, alpha)
            elog_pi, kl_pi = _dirichlet_elog_kl(p.eta, eta0)
            loglik, kl_v = conf.scores_kl(p.used, p.total)
            prior = elog_tau[:, None] + elog_pi
            prior = prior.reshape(1, n_groups) if uniform else prior[allowed][None, :]
            r, lse = _softmax_rows(prior + loglik)
            if gold is not None:  # gold labels: only the gold class's subtypes keep mass
                rows = np.flatnonzero(gold >= 0)
                own = group_class[None, :] == gold[rows, None]
                kept = np.where(own, r[rows], 0.0)
                total = kept.sum(axis=1, keepdims=True)
                r[rows] = np.where(total > 0, kept / np.where(total > 0, total, 1.0),
                                   own / own.sum(axis=1, keepdims=True))
            return r, (lse.sum() - kl_tau - kl_pi - kl_v) * per_answer

        def marginal(r: np.ndarray) -> np.ndarray:
            if uniform:
                return r.reshape(n_tasks, n_classes, n_sub).sum(axis=2)
            return np.add.reduceat(r, conf.starts, axis=1)

        last_z = [z0]  # class posterior of the previous iteration (reference: z_ik)

        def stop(_previous: np.ndarray, new: np.ndarray) -> bool:
            new_z = marginal(new)
            close = np.allclose(last_z[0], new_z, atol=self.tol)
            last_z[0] = new_z
            return bool(close)

        rng = np.random.default_rng(self.random_state)
        best: EMResult[_EBCCParams] | None = None
        elbos = []
        # with one subtype per class the initialisation is deterministic: one run is enough
        n_runs = int(self.n_restarts) if n_groups > n_classes else 1
        for _ in range(n_runs):
            if uniform:  # the reference draw
                split = rng.dirichlet(np.ones(n_sub), size=(n_tasks, n_classes))
                init = (split * z0[:, :, None]).reshape(n_tasks, n_groups)
            else:  # Dirichlet(1) over each class's subtypes: normalised exponential draws
                split = rng.standard_exponential((n_tasks, n_groups))
                split /= np.add.reduceat(split, conf.starts, axis=1)[:, group_class]
                init = split * z0[:, group_class]
            last_z[0] = marginal(init)
            res = run_em(init, m_step, e_step, max_iter=self.max_iter, stop=stop)
            elbos.append(res.log_likelihood)
            if best is None or res.log_likelihood > best.log_likelihood:
                best = res
        assert best is not None
        p = best.params
        if uniform:
            self.subtype_probas_ = best.probas.reshape(n_tasks, n_classes, n_sub)
            self.probas_ = self.subtype_probas_.sum(axis=2)
        else:
            self.subtype_probas_ = np.zeros((n_tasks, n_classes, n_sub))
            self.subtype_probas_[:, allowed] = best.probas
            self.probas_ = marginal(best.probas)
        weights = p.eta / p.eta.sum(axis=-1, keepdims=True)
        self.subtype_weights_ = weights
        self.subtypes_per_class_ = per_class
        self.confusions_ = conf.mean_confusions(
            p.used, p.total, weights.reshape(-1) if uniform else weights[allowed])
        self._subtype_state = (conf, p.used, (n_workers, n_classes, n_sub), allowed, beta)
        self.priors_ = p.nu / p.nu.sum()
        self.n_iter_ = best.n_iter
        self.log_likelihood_ = best.log_likelihood
        self.history_ = best.history
        self.converged_ = best.converged
        self.restart_elbos_ = np.asarray(elbos)

    def subtype_confusions(self) -> np.ndarray:
        """Posterior-mean confusion rows per (class, subtype): (workers x K x M x K).

        Built on demand (O(workers x K^2 x M) memory); ``confusions_`` holds their mixture over
        subtypes. A subtype that a class does not have (see ``subtypes_per_class_``) holds the
        prior mean; its weight in ``subtype_weights_`` is zero.
        """
        self._check_fitted()
        conf, used, (n_workers, n_classes, n_sub), allowed, beta = self._subtype_state
        mu = conf.full(used)  # (W, G, K)
        if allowed.all():
            mu = mu.reshape(n_workers, n_classes, n_sub, n_classes)
        else:
            padded = np.empty((n_workers, n_classes, n_sub, n_classes))
            padded[:] = beta[None, :, None, :]
            padded[:, allowed] = mu
            mu = padded
        return mu / mu.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------- BWA
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
