"""The Dawid-Skene family: DS, one-coin DS, DS with clustered workers (DSWC), weighted DS (WDS).

Shared pieces
-------------
Every model here explains an answer ``l`` of worker ``w`` on a task of true class ``k`` by a
probability :math:`\\pi^{(w)}_{k,l}` (rows = true class, columns = answer) and differs only in
how :math:`\\pi` is parametrised. With ``X = answers.incidence`` (tasks x workers*classes, 0/1):

* **E-step** (:meth:`_Design.posterior`): the log-likelihood of every task under every class is
  one sparse product ``X @ log(pi)`` (``pi`` laid out as (workers*answers) x classes), plus the
  log prior, then a softmax over classes. Scores are kept class-major (classes x tasks) so that
  the softmax runs over contiguous rows.
* **M-step counts** (:meth:`_Design.counts`): the expected number of times worker ``w`` answered
  ``l`` on a task of class ``k`` is ``X.T @ T``; DS normalises them per worker, one-coin DS keeps
  their diagonal, DSWC pools them per cluster.

An iteration therefore costs O(answers x classes) plus O(workers x classes^2), memory is
O(answers + workers x classes^2 + tasks x classes), and every EM strategy runs on the shared
skeleton :func:`~crowdlearn.aggregate._em.run_em`.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np

from ..answers import Answers
from ..errors import CrowdlearnError
from ._em import EMResult, run_em
from .base import Aggregator, register
from .voting import vote_frequencies

__all__ = [
    "DawidSkene",
    "DawidSkeneClust",
    "OneCoinDawidSkene",
    "WDS",
    "kmeans",
    "spectral_confusions",
]

EPS = 1e-10
"""Floor of confusion counts and class priors before normalising (crowd-kit's ``_EPS``)."""

_UNDERFLOW = 1e-250  # row sums of exp(scores) below this are recomputed with a max shift


# ---------------------------------------------------------------------- shared pieces
class _Design:
    """The sparse views of one :class:`Answers` that every E- and M-step of the family uses."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.n_tasks = answers.n_tasks
        self.n_workers = answers.n_workers
        self.n_classes = answers.n_classes
        self.n_answers = max(answers.n_answers, 1)
        given = np.bincount(
            answers.worker.astype(np.int64) * answers.n_classes + answers.label,
            minlength=answers.n_workers * answers.n_classes,
        ).reshape(answers.n_workers, answers.n_classes) > 0
        idle = ~given.any(axis=1)
        #: (workers, answers) labels each worker gave at least once (all True for idle workers)
        self.given = given | idle[:, None]
        self.incidence = answers.incidence  # cached on Answers: built once
        self.incidence_t = self.incidence.T  # CSC view, no copy: fastest for X.T @ T

    def log_scores(self, log_conf_mk: np.ndarray) -> np.ndarray:
        """Class-major (classes x tasks) sum over each task's answers of ``log pi[w, :, l]``.

        ``log_conf_mk`` is (workers, answer, true class): row ``w*K + l`` of its flat view is
        what answer ``l`` of worker ``w`` says about each true class.
        """
        k = self.n_classes
        scores = self.incidence @ log_conf_mk.reshape(self.n_workers * k, k)
        return np.ascontiguousarray(np.asarray(scores).T)

    def posterior(
        self, log_conf_mk: np.ndarray, log_prior: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """E-step: task posterior (tasks x classes) and the summed log marginal likelihood."""
        scores = self.log_scores(log_conf_mk)
        scores += log_prior[:, None]
        return _softmax_columns(scores)

    def counts(self, probas: np.ndarray) -> np.ndarray:
        """M-step counts ``N[w, l, k]`` = expected answers ``l`` of worker ``w`` on class ``k``."""
        k = self.n_classes
        flat = self.incidence_t @ np.ascontiguousarray(probas)
        return np.asarray(flat).reshape(self.n_workers, k, k)


def _softmax_columns(scores: np.ndarray) -> tuple[np.ndarray, float]:
    """Softmax over axis 0 of class-major ``scores``.

    Returns the posterior as a (tasks x classes) view and the sum of the column log-sum-exps.
    Scores are log-probabilities (<= 0), so ``exp`` cannot overflow and no max shift is needed
    (it costs as much as the rest of the E-step); columns whose every entry underflows (tasks
    with hundreds of answers) are recomputed with the usual max shift.
    """
    shift = 0.0
    if scores.size and scores.max() > 0:  # not log-probabilities: shift everything
        top = scores.max(axis=0)
        scores = scores - top
        shift = float(top.sum())
    probs = np.exp(scores)
    total = probs.sum(axis=0)
    bad = np.flatnonzero(~(total > _UNDERFLOW))
    if len(bad):
        sub = scores[:, bad]
        top = sub.max(axis=0)
        probs[:, bad] = np.exp(sub - top)
        total[bad] = probs[:, bad].sum(axis=0)
        shift += float(top.sum())
    probs /= total
    return probs.T, float(np.log(total).sum()) + shift


def _normalize_counts(
    counts_mk: np.ndarray, alpha: float = 0.0, given: np.ndarray | None = None
) -> np.ndarray:
    """Confusions from counts ``N[w, l, k]``, each (worker, true class) summing to 1 over ``l``.

    ``N + alpha`` is floored at :data:`EPS`. Without smoothing, labels a worker never gave
    (``given[w, l]`` false) keep probability 0, which is the maximum-likelihood estimate and
    crowd-kit's behaviour (it floors and normalises only the observed (worker, label) rows).
    """
    conf = counts_mk + alpha if alpha else counts_mk.copy()
    np.maximum(conf, EPS, out=conf)
    if given is not None and not alpha:
        conf *= given[:, :, None]
    conf /= conf.sum(axis=-2, keepdims=True)
    return conf


def _safe_log(conf: np.ndarray) -> np.ndarray:
    """``log`` with zeros (never-given labels, never read by the E-step) mapped to -1e3."""
    out = np.full(conf.shape, -1e3)
    np.log(conf, out=out, where=conf > 0)
    return out


def _class_priors(probas: np.ndarray) -> np.ndarray:
    k = probas.shape[1]
    return probas.mean(axis=0) if len(probas) else np.full(k, 1.0 / max(k, 1))


def _log_prior(prior: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(prior, EPS))


class _DSParams(NamedTuple):
    """DS parameters: confusions as (worker, answer, true class) and the class prior."""

    conf_mk: np.ndarray
    prior: np.ndarray


def _ds_m_step(design: _Design, probas: np.ndarray, alpha: float) -> _DSParams:
    conf = _normalize_counts(design.counts(probas), alpha, design.given)
    return _DSParams(conf, _class_priors(probas))


def _ds_e_step(
    design: _Design, params: _DSParams, alpha: float
) -> tuple[np.ndarray, float]:
    log_conf = _safe_log(params.conf_mk) if not alpha else np.log(params.conf_mk)
    probas, loglik = design.posterior(log_conf, _log_prior(params.prior))
    if alpha:  # MAP objective: the Dirichlet(alpha + 1) log-density of the confusions
        loglik += alpha * float(log_conf.sum())
    return probas, loglik / design.n_answers


def _one_coin_conf(skills: np.ndarray, n_classes: int) -> np.ndarray:
    """(worker, answer, true) confusions with ``skills`` on the diagonal, the rest uniform."""
    off = (1.0 - skills) / max(n_classes - 1, 1)
    conf = np.repeat(off[:, None, None], n_classes, axis=1).repeat(n_classes, axis=2)
    diag = np.arange(n_classes)
    conf[:, diag, diag] = skills[:, None]
    return conf


class _DSFamily(Aggregator):
    """Common result handling of the Dawid-Skene family."""

    has_confusions = True

    def _store(self, res: EMResult[Any], conf_mk: np.ndarray, prior: np.ndarray) -> None:
        self.probas_ = np.ascontiguousarray(res.probas)
        self.confusions_ = np.ascontiguousarray(conf_mk.transpose(0, 2, 1))
        self.priors_ = np.asarray(prior, dtype=np.float64)
        self.n_iter_ = res.n_iter
        self.log_likelihood_ = res.log_likelihood
        self.loss_history_ = list(res.history)
        self.converged_ = res.converged

    def _to_pandas(self, answers: Answers) -> None:
        import pandas as pd

        super()._to_pandas(answers)
        conf = np.asarray(self.confusions_)
        w, k = conf.shape[0], conf.shape[1]
        index = pd.MultiIndex.from_product(
            [answers.worker_ids, answers.classes], names=["worker", "label"]
        )
        # crowd-kit's layout: rows (worker, observed label), columns true label
        self.errors_ = pd.DataFrame(
            conf.transpose(0, 2, 1).reshape(w * k, k), index=index,
            columns=pd.Index(answers.classes, name="label"),
        )


# ---------------------------------------------------------------------- spectral initialisation
class SpectralInitError(CrowdlearnError):
    """The spectral estimate cannot be computed on these answers (the reason says why)."""


def _solve_right(x: np.ndarray, s: np.ndarray, what: str) -> np.ndarray:
    """``x @ inv(s)``, refusing a numerically singular ``s``."""
    if not np.all(np.isfinite(s)) or np.linalg.cond(s) > 1e10:
        raise SpectralInitError(f"the {what} moment matrix is singular")
    return np.linalg.solve(s.T, x.T).T


def _symmetrize3(t: np.ndarray) -> np.ndarray:
    return (t + t.transpose(0, 2, 1) + t.transpose(1, 0, 2) + t.transpose(1, 2, 0)
            + t.transpose(2, 0, 1) + t.transpose(2, 1, 0)) / 6.0


def _tensor_power(
    tensor: np.ndarray, rng: np.random.Generator, n_starts: int, n_power: int
) -> tuple[np.ndarray, np.ndarray]:
    """Robust tensor power method (Anandkumar et al. 2014, Algorithm 1) with deflation.

    All ``n_starts`` random starts of one component iterate together as a (starts x K) matrix;
    ``T(I, u, u)`` is one matrix product with the (K x K^2) unfolding. Returns the eigenvalues
    and the eigenvectors (as columns) of a symmetric K x K x K tensor.
    """
    k = tensor.shape[0]
    t = tensor.copy()
    values = np.empty(k)
    vectors = np.empty((k, k))

    def apply(u: np.ndarray) -> np.ndarray:  # rows of u -> rows of T(I, u, u)
        outer = (u[:, :, None] * u[:, None, :]).reshape(len(u), k * k)
        return outer @ t.reshape(k, k * k).T

    def iterate(u: np.ndarray) -> np.ndarray:
        for _ in range(n_power):
            new = apply(u)
            norm = np.linalg.norm(new, axis=1, keepdims=True)
            new = np.divide(new, norm, out=np.zeros_like(new), where=norm > 0)
            if np.max(np.abs(new - u)) < 1e-12:
                return new
            u = new
        return u

    for h in range(k):
        u = rng.standard_normal((n_starts, k))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        u = iterate(u)
        lam = np.einsum("la,la->l", apply(u), u)
        best = iterate(u[[int(np.argmax(lam))]])
        value = float(apply(best)[0] @ best[0])
        values[h] = value
        vectors[:, h] = best[0]
        t = t - value * np.einsum("a,b,c->abc", best[0], best[0], best[0])
    return values, vectors


MAX_SPECTRAL_CLASSES = 50
"""Above this many classes the K^3 moment tensor is not worth it: DS falls back to MV init."""


def spectral_confusions(
    answers: Answers,
    random_state: Any = 0,
    *,
    n_starts: int = 10,
    n_power: int = 100,
    floor: float = 1e-6,
    design: _Design | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Method-of-moments confusion matrices of Zhang, Chen, Zhou & Jordan (2014), stage 1 + 2.

    1. Workers are split into three random groups of balanced answer volume (shuffled,
       sorted by number of answers, dealt round-robin). ``Z_g[t]`` is the average one-hot
       answer of group ``g`` on task ``t`` (zero where nobody of the group answered).
    2. For each ordering ``(a, b, c)`` of the groups, the group averages are made symmetric,
       ``Z'_a = S_cb S_ab^-1 Z_a`` and ``Z'_b = S_ca S_ba^-1 Z_b`` (``S_xy = mean_t Z_x Z_y^T``),
       the moments ``M2 = mean Z'_a (x) Z'_b`` and ``M3 = mean Z'_a (x) Z'_b (x) Z_c`` are
       formed, ``M2`` whitens ``M3`` (``Q^T M2 Q = I``), and the robust tensor power method
       gives eigenpairs ``(alpha_h, v_h)``: ``w_h = alpha_h^-2`` is a class prior and
       ``mu_h = (Q^T)^-1 alpha_h v_h`` a column of group ``c``'s average confusion ``C_c``, in
       an unknown order.
    3. Matching. The paper gives column ``l`` of each ``C_c`` the ``mu_h`` whose ``l``-th
       entry dominates, which needs *every group* to be diagonally dominant on average (with
       many adversarial workers one group can easily be a majority of them). Here the three
       groups' components are first put in one order through the cross moments
       (``pinv(C_0) S_0g pinv(C_g)^T = W P`` is a scaled permutation, solved as an
       assignment), then one maximum-weight assignment of components to classes on the
       summed column-normalised ``C_c``: only the crowd as a whole must favour the truth.
    4. Worker ``w`` of group ``g``: ``E_w = mean_t z_wt (x) Z_alt,t`` with ``Z_alt`` the average
       of the two other groups, and ``C_w = E_w (W C_alt^T)^-1``; entries are floored at
       ``floor`` and columns normalised. A worker whose tasks no other group answered
       (``E_w = 0``) gets its group's average confusion instead.

    Every step is a bincount, a sparse product or a small K x K (x K) computation. Returns
    ``(confusions, priors)`` with confusions (workers x true x answer), rows summing to 1.
    Raises :class:`SpectralInitError` (with the reason) when the estimate does not exist:
    fewer than two classes or more than :data:`MAX_SPECTRAL_CLASSES`, fewer than three workers
    with answers, a singular moment matrix (e.g. a class no worker of a group ever uses), a
    second moment that is not positive definite, or a failed tensor decomposition.

    References
    ----------
    Zhang, Chen, Zhou & Jordan (2014), "Spectral methods meet EM: a provably optimal algorithm
    for crowdsourcing", *NeurIPS*; *JMLR* 17(102), 2016. Anandkumar, Ge, Hsu, Kakade & Telgarsky
    (2014), "Tensor decompositions for learning latent variable models", *JMLR* 15.
    """
    from scipy.optimize import linear_sum_assignment

    design = design or _Design(answers)
    n, n_w, k = answers.n_tasks, answers.n_workers, answers.n_classes
    if k < 2 or k > MAX_SPECTRAL_CLASSES:
        raise SpectralInitError(f"{k} classes (spectral needs 2 to {MAX_SPECTRAL_CLASSES})")
    per_worker = answers.answers_per_worker()
    if np.count_nonzero(per_worker) < 3:
        raise SpectralInitError("fewer than three workers answered (three groups are needed)")
    rng = np.random.default_rng(random_state)
    rng = np.random.default_rng(random_state)
    # random groups of balanced answer volume: shuffle, sort by answer count, deal round-robin
    # (the shuffle matters: workers of one batch often share their count and would otherwise
    # be dealt into one group, leaving them nothing to be compared with in stage 2)
    shuffled = rng.permutation(n_w)
    group = np.empty(n_w, dtype=np.int64)
    group[shuffled[np.argsort(-per_worker[shuffled], kind="stable")]] = np.arange(n_w) % 3
    size = np.bincount(group[per_worker > 0], minlength=3).astype(np.float64)
    # class-major (3, K, tasks) layout: every product below is a wide BLAS gemm
    cell = (group[answers.worker] * k + answers.label) * n + answers.task
    z = np.bincount(cell, minlength=3 * n * k).reshape(3, k, n) / size[:, None, None]

    mus = np.empty((3, k, k))  # mus[g][:, h]: component h of E[Z_g | class], order unknown
    comp_w = np.empty((3, k))
    for a, b, c in ((1, 2, 0), (2, 0, 1), (0, 1, 2)):
        za, zb, zc = z[a], z[b], z[c]
        s_ab = za @ zb.T / n
        pa = _solve_right(zc @ zb.T / n, s_ab, "second") @ za
        pb = _solve_right(zc @ za.T / n, s_ab.T, "second") @ zb
        m2 = pa @ pb.T / n
        m2 = (m2 + m2.T) / 2
        m3 = np.empty((k, k, k))
        for i in range(k):  # loop over classes only: never a K^2 x tasks array
            m3[i] = (pa[i] * pb) @ zc.T / n
        vals, vecs = np.linalg.eigh(m2)
        if not np.all(np.isfinite(vals)) or vals[0] <= 1e-12 * max(vals[-1], 0.0):
            raise SpectralInitError("the second moment is not positive definite")
        q = vecs / np.sqrt(vals)
        white = np.tensordot(np.tensordot(np.tensordot(m3, q, ([0], [0])), q, ([0], [0])),
                             q, ([0], [0]))
        alpha, v = _tensor_power(_symmetrize3(white), rng, n_starts, n_power)
        if not np.all(np.isfinite(alpha)) or np.any(alpha <= 0):
            raise SpectralInitError("the tensor decomposition found a non-positive eigenvalue")
        mus[c] = (vecs * np.sqrt(vals)) @ v * alpha
        comp_w[c] = alpha ** -2.0

    # align the components of groups 1 and 2 with those of group 0: the cross moment
    # S_0g = C_0 W C_g^T, so pinv(C_0) S_0g pinv(C_g)^T = W P is a scaled permutation
    for g in (1, 2):
        match = np.linalg.pinv(mus[0]) @ (z[0] @ z[g].T / n) @ np.linalg.pinv(mus[g]).T
        if not np.all(np.isfinite(match)):
            raise SpectralInitError("the groups' components cannot be matched")
        _, order = linear_sum_assignment(match, maximize=True)
        mus[g], comp_w[g] = mus[g][:, order], comp_w[g][order]
    col_sum = mus.sum(axis=1, keepdims=True)
    if np.any(col_sum <= 0):
        raise SpectralInitError("an estimated confusion column has no positive mass")
    # one labelling for all groups: the assignment of components to classes that puts the
    # most normalised mass on the diagonal of the crowd's summed confusion
    classes, comps = linear_sum_assignment((mus / col_sum).sum(axis=0), maximize=True)
    conf_c = np.empty((3, k, k))  # conf_c[g][:, l] = E[Z_g | class l]
    conf_c[:, :, classes] = mus[:, :, comps]
    weights = np.empty((3, k))
    weights[:, classes] = comp_w[:, comps]

    w_diag = weights.mean(axis=0)
    other_z = (z.sum(axis=0)[None] - z) / 2  # (3, k, n): average of the two other groups
    other_c = (conf_c.sum(axis=0)[None] - conf_c) / 2
    stacked = np.ascontiguousarray(other_z.reshape(3 * k, n).T)
    e_all = np.asarray(design.incidence_t @ stacked).reshape(n_w, k, 3, k) / n
    e_w = e_all[np.arange(n_w), :, group, :]  # (workers, answer, alt-class)
    inv = np.empty((3, k, k))
    for g in range(3):
        inv[g] = _solve_right(np.eye(k), w_diag[:, None] * other_c[g].T, "stage-2")
    c_w = np.matmul(e_w, inv[group])  # (workers, answer, true)
    if not np.all(np.isfinite(c_w)):
        raise SpectralInitError("non-finite worker confusion estimates")
    np.maximum(c_w, floor, out=c_w)
    c_w /= c_w.sum(axis=1, keepdims=True)
    # a worker none of whose tasks was answered by the other groups has E_w = 0: no estimate;
    # it gets the average confusion of its own group
    alone = ~(np.abs(e_w).sum(axis=(1, 2)) > 0)
    if alone.any():
        own = np.maximum(conf_c, floor)
        own /= own.sum(axis=1, keepdims=True)
        c_w[alone] = own[group[alone]]
    prior = np.maximum(w_diag, EPS)
    return np.ascontiguousarray(c_w.transpose(0, 2, 1)), prior / prior.sum()


# ---------------------------------------------------------------------- Dawid-Skene
@register("ds", "dawid-skene")
class DawidSkene(_DSFamily):
    r"""Dawid-Skene: one full confusion matrix per worker, fitted by EM.

    Worker ``w`` answers ``l`` on a task of true class ``k`` with probability
    :math:`\pi^{(w)}_{k,l}`; classes have prior :math:`\rho`. EM alternates

    * E-step: :math:`T_{t,k} \propto \rho_k \prod_{(w,l) \in t} \pi^{(w)}_{k,l}`, i.e.
      ``softmax(incidence @ log pi + log rho)`` (one sparse product);
    * M-step: :math:`\pi^{(w)}_{k,l} \propto \max(\alpha + \sum_{t:(w,l) \in t} T_{t,k},
      \varepsilon)` (counts ``incidence.T @ T``) and :math:`\rho = \mathrm{mean}_t T_t`,

    from the vote shares (crowd-kit's soft majority vote) or from the spectral estimate, and
    stops when the log-likelihood per answer moves by less than ``tol`` or after ``n_iter``
    iterations. With ``alpha > 0`` the objective is the log-posterior under a
    Dirichlet(``alpha + 1``) prior on each confusion row (MAP-EM). Counts are floored at
    :math:`\varepsilon = 10^{-10}` (crowd-kit's floor) so that no log is ever -inf; without
    smoothing, a label a worker never gave keeps probability 0 (the maximum-likelihood value,
    and crowd-kit's, which only stores the observed (worker, label) rows).

    Parameters
    ----------
    n_iter : int
        Maximum number of EM iterations (default 100).
    tol : float
        Stop when the log-likelihood per answer changes by less than ``tol`` (default 1e-5).
    alpha : float
        Pseudo-count added to every confusion count (0: maximum likelihood, as crowd-kit).
    init : {"mv", "spectral"}
        ``"mv"``: start from the vote shares. ``"spectral"``: start from the method-of-moments
        confusions of Zhang et al. (2014) (:func:`spectral_confusions`), which do not assume
        the majority is right (adversarial or label-permuting workers); when that estimate does
        not exist (fewer than three workers, a singular moment matrix, more than
        :data:`MAX_SPECTRAL_CLASSES` classes, ...) a ``RuntimeWarning`` says why and the vote
        shares are used; ``init_`` records which start was used.
    random_state : int or None
        Seed of the tensor power method (spectral init) and of the draw breaking exact ties.

    Attributes
    ----------
    probas_, labels_, confusions_ (workers x true x answer), priors_, n_iter_,
    log_likelihood_ (per answer), loss_history_ (objective per iteration), converged_, init_;
    ``errors_`` (crowd-kit layout) when fitted on a DataFrame.

    Notes
    -----
    Same initialisation, floor and updates as crowd-kit's ``DawidSkene``: run for the same
    number of iterations, the two agree to 1e-8. The stopping rule differs deliberately:
    crowdlearn stops on the marginal log-likelihood (non-decreasing under EM); crowd-kit on an
    "evidence lower bound" that adds the log prior once per *answer* rather than once per
    task, which is not monotone and can stop EM after 2-5 iterations (``bluebird``, ``cf``).
    One EM iteration at 1,000,000 answers (200,000 tasks, 2,000 workers, 5 classes) takes
    50-65 ms on two busy cores, about 30 times less than crowd-kit's on the same machine.
    crowd-kit's ``true_labels`` and ``initial_error`` fit arguments are not supported.

    References
    ----------
    Dawid & Skene (1979), "Maximum likelihood estimation of observer error-rates using the EM
    algorithm", *Journal of the Royal Statistical Society C* 28(1), 20-28.
    Zhang, Chen, Zhou & Jordan (2014), "Spectral methods meet EM: a provably optimal algorithm
    for crowdsourcing", *NeurIPS* (``init="spectral"``).

    Examples
    --------
    >>> import numpy as np
    >>> from crowdlearn import Answers
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.integers(0, 3, 200)
    >>> task = np.repeat(np.arange(200), 5); worker = np.tile(np.arange(5), 200)
    >>> good = rng.random(1000) < 0.8
    >>> label = np.where(good, truth[task], rng.integers(0, 3, 1000))
    >>> ds = DawidSkene().fit(Answers(task, worker, label))
    >>> bool((ds.labels_ == truth).mean() > 0.9), ds.confusions_.shape
    (True, (5, 3, 3))
    """

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-5,
        alpha: float = 0.0,
        init: str = "mv",
        random_state: Any = 0,
    ) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.alpha = alpha
        self.init = init
        self.random_state = random_state

    def _initial_probas(self, answers: Answers, design: _Design) -> np.ndarray:
        if self.init not in ("mv", "spectral"):
            raise ValueError(f"init must be 'mv' or 'spectral', got {self.init!r}")
        self.init_ = "mv"
        if self.init == "spectral":
            try:
                conf, prior = spectral_confusions(answers, self.random_state, design=design)
            except SpectralInitError as exc:
                warnings.warn(
                    f"spectral initialisation unavailable ({exc}); starting from majority vote",
                    RuntimeWarning, stacklevel=4,
                )
            else:
                self.init_ = "spectral"
                probas, _ = design.posterior(np.log(conf.transpose(0, 2, 1)), np.log(prior))
                return probas
        return vote_frequencies(answers)

    def _fit(self, answers: Answers) -> None:
        design = _Design(answers)
        alpha = float(self.alpha)
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        res = run_em(
            self._initial_probas(answers, design),
            lambda probas: _ds_m_step(design, probas, alpha),
            lambda params: _ds_e_step(design, params, alpha),
            tol=self.tol, max_iter=self.n_iter,
        )
        self._store(res, res.params.conf_mk, res.params.prior)


@register("onecoin", "one-coin-ds")
class OneCoinDawidSkene(_DSFamily):
    r"""One-coin Dawid-Skene: one accuracy per worker, errors uniform over the other classes.

    .. math:: \pi^{(w)}_{k,l} = s_w \text{ if } l = k, \quad \frac{1 - s_w}{K - 1} \text{ else}

    EM as in :class:`DawidSkene`; the E-step needs no K x K matrices (the log-likelihood of
    class ``k`` is a per-task sum of :math:`\log\frac{1-s_w}{K-1}` plus a vote table weighted
    by :math:`\log s_w - \log\frac{1-s_w}{K-1}`, two ``np.bincount``), and the M-step sets
    each skill to the expected share of correct answers,
    :math:`s_w = \frac{1}{|A_w|}\sum_{(t,l) \in A_w} T_{t,l}` (one ``np.bincount`` over
    answers), and the prior to the mean posterior. Confusion entries are
    clipped to :math:`[\varepsilon, 1 - \varepsilon]` in the E-step, as in crowd-kit.

    Parameters
    ----------
    n_iter : int
        Maximum number of EM iterations.
    tol : float
        Stop when the log-likelihood per answer changes by less than ``tol``.
    random_state : int or None
        Seed of the draw breaking exact ties.

    Attributes
    ----------
    skills_ (accuracy per worker; 1/K for a worker without answers), confusions_ (derived from
    the skills, rows summing to 1), probas_, labels_, priors_, n_iter_, log_likelihood_,
    loss_history_.

    References
    ----------
    Zhang, Chen, Zhou & Jordan (2016), "Spectral methods meet EM: a provably optimal algorithm
    for crowdsourcing", *JMLR* 17(102) (the one-coin model); crowd-kit's
    ``OneCoinDawidSkene``.

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> a = Answers.from_arrays([0, 0, 0, 1, 1, 1], list("xyzxyz"), [1, 1, 0, 0, 0, 1])
    >>> oc = OneCoinDawidSkene().fit(a)
    >>> oc.skills_.shape, oc.confusions_.shape
    ((3,), (3, 2, 2))
    """

    def __init__(self, n_iter: int = 100, tol: float = 1e-5, random_state: Any = 0) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        k = answers.n_classes
        n_answers = max(answers.n_answers, 1)
        per_worker = answers.answers_per_worker().astype(np.float64)

        def m_step(probas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            correct = probas[answers.task, answers.label]
            hits = np.bincount(answers.worker, weights=correct, minlength=answers.n_workers)
            skills = np.full(answers.n_workers, 1.0 / max(k, 1))
            np.divide(hits, per_worker, out=skills, where=per_worker > 0)
            return skills, _class_priors(probas)

        n = answers.n_tasks
        cell = answers.label.astype(np.int64) * n + answers.task

        def e_step(params: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, float]:
            # log pi[w, k, l] = log off_w + [l == k] (log s_w - log off_w): a per-task base
            # plus a skill-weighted vote table; no workers x K x K array is formed
            skills, prior = params
            log_hit = np.log(np.clip(skills, EPS, 1.0 - EPS))
            log_off = np.log(np.clip((1.0 - skills) / max(k - 1, 1), EPS, 1.0 - EPS))
            base = np.bincount(answers.task, weights=log_off[answers.worker], minlength=n)
            gain = (log_hit - log_off)[answers.worker]
            scores = np.bincount(cell, weights=gain, minlength=k * n).reshape(k, n)
            scores += base
            scores += _log_prior(prior)[:, None]
            probas, loglik = _softmax_columns(scores)
            return probas, loglik / n_answers

        res = run_em(vote_frequencies(answers), m_step, e_step, tol=self.tol,
                     max_iter=self.n_iter)
        skills, prior = res.params
        self._store(res, _one_coin_conf(skills, k), prior)
        self.skills_ = skills


@register("wds")
class WDS(_DSFamily):
    r"""Weighted Dawid-Skene (peerannot's WDS): votes weighted by the DS confusion diagonal.

    Dawid-Skene is fitted first; then each answer ``l`` of worker ``w`` counts
    :math:`\pi^{(w)}_{l,l}` (how reliable ``w`` is when it says ``l``):

    .. math:: \hat p_{t,k} \propto \sum_{(w,l) \in t} \pi^{(w)}_{l,l}\,\mathbf 1[l = k].

    A task whose weights are all zero keeps its vote shares (peerannot returns zeros).

    Parameters
    ----------
    n_iter, tol, alpha, init, random_state
        Passed to :class:`DawidSkene`.

    Attributes
    ----------
    probas_ (the weighted vote shares), labels_, and the DS fit: confusions_, priors_,
    n_iter_, log_likelihood_, loss_history_.

    References
    ----------
    Lefort, Charlier, Joly & Salmon (2024), "Peerannot: classification for crowdsourced image
    datasets with Python", *Computo* (``WDS``); Dawid & Skene (1979).

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> a = Answers.from_arrays([0, 0, 0, 1, 1, 1], list("xyzxyz"), [1, 1, 0, 0, 0, 1])
    >>> WDS().fit(a).probas_.shape
    (2, 2)
    """

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-5,
        alpha: float = 0.0,
        init: str = "mv",
        random_state: Any = 0,
    ) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.alpha = alpha
        self.init = init
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        ds = DawidSkene(self.n_iter, self.tol, self.alpha, self.init, self.random_state)
        ds._fit(answers)
        for attr in ("confusions_", "priors_", "n_iter_", "log_likelihood_", "loss_history_",
                     "converged_", "init_"):
            setattr(self, attr, getattr(ds, attr))
        diag = np.diagonal(ds.confusions_, axis1=1, axis2=2)  # (workers, classes)
        self.probas_ = vote_frequencies(answers, diag[answers.worker, answers.label])


# ---------------------------------------------------------------------- DS with clustered workers
def kmeans(
    x: np.ndarray,
    n_clusters: int,
    random_state: Any = 0,
    *,
    n_init: int = 3,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii 2007), vectorised.

    Distances are one (points x clusters) matrix product per iteration and centres one sparse
    product; only iterations, clusters (seeding) and ``n_init`` restarts are Python loops.
    Returns ``(labels, centres)`` of the restart with the lowest inertia. ``random_state`` is
    a seed or a :class:`numpy.random.Generator`. An emptied cluster keeps its previous centre.
    """
    import scipy.sparse as sp

    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    n_clusters = max(1, min(int(n_clusters), n))
    rng = np.random.default_rng(random_state)
    sq = np.einsum("ij,ij->i", x, x)

    def dist2(centres: np.ndarray) -> np.ndarray:
        d = sq[:, None] - 2.0 * (x @ centres.T) + np.einsum("ij,ij->i", centres, centres)
        return np.maximum(d, 0.0)

    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(max(int(n_init), 1)):
        chosen = [int(rng.integers(n))]
        closest = dist2(x[chosen])[:, 0]
        for _ in range(1, n_clusters):
            total = closest.sum()
            idx = int(rng.choice(n, p=closest / total)) if total > 0 else int(rng.integers(n))
            chosen.append(idx)
            np.minimum(closest, dist2(x[[idx]])[:, 0], out=closest)
        centres = x[chosen].copy()
        labels = np.full(n, -1)
        for _ in range(max(int(max_iter), 1)):
            new = dist2(centres).argmin(axis=1)
            if np.array_equal(new, labels):
                break
            labels = new
            member = sp.csr_matrix((np.ones(n), (labels, np.arange(n))), shape=(n_clusters, n))
            size = np.asarray(member.sum(axis=1)).ravel()
            sums = member @ x
            filled = size > 0
            centres[filled] = sums[filled] / size[filled, None]
        inertia = float(dist2(centres)[np.arange(n), labels].sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels, centres)
    assert best is not None
    return best[1], best[2]


class _ClustParams(NamedTuple):
    phi: np.ndarray  # (workers, clusters) cluster membership
    lam: np.ndarray  # (clusters, answer, true) cluster confusions
    log_lam: np.ndarray  # (clusters, answer * true)
    prior: np.ndarray  # class prior rho
    log_tau: np.ndarray  # log cluster prior


@register("dswc")
class DawidSkeneClust(_DSFamily):
    r"""Dawid-Skene with clustered workers (DSWC; Imamura, Sato & Sugiyama 2018).

    Workers belong to one of ``L = n_clusters`` clusters and share their cluster's confusion
    matrix :math:`\Lambda_\ell`. The model of peerannot's ``DawidSkeneClust``: class prior
    :math:`\rho`, cluster prior :math:`\tau`, and a mean-field variational posterior
    :math:`q(z_t = k) = \theta_{t,k}`, :math:`q(c_w = \ell) = \phi_{w,\ell}`, fitted by
    coordinate ascent on the evidence lower bound:

    * :math:`\theta_{t,k} \propto \rho_k \exp \sum_{(w,l) \in t} \sum_\ell \phi_{w,\ell}
      \log \Lambda_{\ell,k,l}` (the DS E-step with per-worker log-confusions
      :math:`\sum_\ell \phi_{w,\ell} \log\Lambda_\ell`);
    * :math:`\phi_{w,\ell} \propto \tau_\ell \exp \sum_{k,l} N_{w,k,l} \log \Lambda_{\ell,k,l}`
      with :math:`N_w` the DS M-step counts of worker ``w``;
    * :math:`\Lambda_\ell \propto \sum_w \phi_{w,\ell} N_w`, :math:`\rho = \mathrm{mean}\,\theta`,
      :math:`\tau = \mathrm{mean}\,\phi`.

    Initialisation: vote shares for :math:`\theta`, per-worker DS confusions from them, and a
    hard clustering of those confusions: ``cluster_init="kmeans"`` (k-means++ / Lloyd on the
    flattened K x K matrices, :func:`kmeans`) or ``"nuclear"`` (peerannot's rule: workers
    sorted by the nuclear norm of their confusion, cut into ``L`` equal slices). As in
    peerannot, a fit that collapses onto a single class although the answers use several is
    restarted from jittered vote shares (``max_restarts`` times at most).

    Parameters
    ----------
    n_clusters : int
        Number of worker clusters ``L`` (peerannot's ``L``, default 2); capped at the number
        of workers with answers.
    n_iter : int
        Maximum number of iterations.
    tol : float
        Stop when the evidence lower bound per answer changes by less than ``tol``.
    cluster_init : {"kmeans", "nuclear"}
        Initial clustering (see above).
    max_restarts : int
        Restarts after a collapsed fit.
    random_state : int or None
        Seed of k-means++, of the restarts' jitter and of the tie-breaking draw.

    Attributes
    ----------
    clusters_ (cluster per worker), cluster_probas_ (:math:`\phi`), cluster_confusions_
    (clusters x true x answer), confusions_ (each worker's cluster matrix, as peerannot),
    probas_, labels_, priors_, n_iter_, log_likelihood_ (ELBO per answer), loss_history_,
    n_restarts_.

    Notes
    -----
    Vectorised: the :math:`\phi` update is a (workers x K^2) @ (K^2 x clusters) product of the
    counts ``incidence.T @ theta``; nothing is a tasks x workers x classes tensor (peerannot
    builds one). Differences from peerannot: the default initial clustering is k-means (the
    nuclear-norm split is available), updates are sequential (theta, then phi, then the
    parameters) rather than theta and phi simultaneously, so that every step increases the
    bound, and the iteration count is capped by ``n_iter``.

    References
    ----------
    Imamura, Sato & Sugiyama (2018), "Analysis of minimax error rate for crowdsourcing and its
    application to worker clustering model", *ICML*. Lefort, Charlier, Joly & Salmon (2024),
    "Peerannot", *Computo* (``DSWC``).

    Examples
    --------
    >>> import numpy as np
    >>> from crowdlearn import Answers
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.integers(0, 2, 300)
    >>> task = np.repeat(np.arange(300), 6); worker = np.tile(np.arange(6), 300)
    >>> flip = (worker >= 4) ^ (rng.random(1800) < 0.1)   # workers 4, 5 answer the opposite
    >>> m = DawidSkeneClust(n_clusters=2).fit(Answers(task, worker, truth[task] ^ flip))
    >>> bool(m.clusters_[4] == m.clusters_[5] != m.clusters_[0])
    True
    """

    def __init__(
        self,
        n_clusters: int = 2,
        n_iter: int = 100,
        tol: float = 1e-5,
        cluster_init: str = "kmeans",
        max_restarts: int = 5,
        random_state: Any = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_iter = n_iter
        self.tol = tol
        self.cluster_init = cluster_init
        self.max_restarts = max_restarts
        self.random_state = random_state

    def _initial_clusters(
        self, conf_mk: np.ndarray, n_clusters: int, rng: np.random.Generator
    ) -> np.ndarray:
        n = len(conf_mk)
        if self.cluster_init == "kmeans":
            return kmeans(conf_mk.reshape(n, -1), n_clusters, rng)[0]
        if self.cluster_init == "nuclear":
            norms = np.linalg.svd(conf_mk, compute_uv=False).sum(axis=1)
            order = np.argsort(-norms, kind="stable")
            bounds = (n * np.arange(1, n_clusters) / n_clusters).astype(np.int64)
            out = np.empty(n, dtype=np.int64)
            out[order] = np.searchsorted(bounds, np.arange(n), side="right")
            return out
        raise ValueError(f"cluster_init must be 'kmeans' or 'nuclear', got {self.cluster_init!r}")

    def _run(
        self, design: _Design, start: np.ndarray, n_clusters: int, active: np.ndarray,
        rng: np.random.Generator,
    ) -> EMResult[_ClustParams]:
        w, k, n_l = design.n_workers, design.n_classes, n_clusters
        conf0 = _normalize_counts(design.counts(start))
        phi0 = np.full((w, n_l), 1.0 / n_l)
        phi0[active] = np.eye(n_l)[self._initial_clusters(conf0[active], n_l, rng)]
        previous: list[_ClustParams] = []

        def m_step(probas: np.ndarray) -> _ClustParams:
            counts = design.counts(probas).reshape(w, k * k)
            if previous:  # phi given the new theta and the previous Lambda, tau
                logits = counts @ previous[0].log_lam.T + previous[0].log_tau
                logits -= logits.max(axis=1, keepdims=True)
                phi = np.exp(logits)
                phi /= phi.sum(axis=1, keepdims=True)
            else:
                phi = phi0
            lam = _normalize_counts((phi.T @ counts).reshape(n_l, k, k))
            params = _ClustParams(
                phi, lam, np.log(lam).reshape(n_l, k * k), _class_priors(probas),
                np.log(np.maximum(phi.mean(axis=0), EPS)),
            )
            previous[:] = [params]
            return params

        def e_step(p: _ClustParams) -> tuple[np.ndarray, float]:
            from scipy.special import xlogy

            log_conf = (p.phi @ p.log_lam).reshape(w, k, k)
            probas, loglik = design.posterior(log_conf, _log_prior(p.prior))
            elbo = (loglik + float((p.phi @ p.log_tau).sum())
                    - float(xlogy(p.phi, p.phi).sum()))
            return probas, elbo / design.n_answers

        return run_em(start, m_step, e_step, tol=self.tol, max_iter=self.n_iter)

    def _fit(self, answers: Answers) -> None:
        design = _Design(answers)
        rng = np.random.default_rng(self.random_state)
        active = answers.answers_per_worker() > 0
        n_clusters = int(max(1, min(int(self.n_clusters), np.count_nonzero(active))))
        votes = vote_frequencies(answers)
        answered = answers.answers_per_task() > 0
        several = np.count_nonzero(np.bincount(answers.label, minlength=1)) > 1
        runs: list[EMResult[_ClustParams]] = []
        for attempt in range(max(int(self.max_restarts), 0) + 1):
            start = votes
            if attempt:
                start = np.clip(votes + rng.normal(scale=0.1, size=votes.shape), 0.0, 1.0)
                total = start.sum(axis=1, keepdims=True)
                start = np.divide(start, total, out=np.full_like(start, 1.0 / votes.shape[1]),
                                  where=total > 0)
            res = self._run(design, start, n_clusters, active, rng)
            runs.append(res)
            mass = res.probas[answered].sum(axis=0)
            collapsed = several and mass.max() > np.count_nonzero(answered) - 0.5
            if not collapsed:
                break
        else:
            res = max(runs, key=lambda r: r.log_likelihood)
        p = res.params
        clusters = p.phi.argmax(axis=1)
        self._store(res, p.lam[clusters], p.prior)
        self.clusters_ = clusters
        self.cluster_probas_ = p.phi
        self.cluster_confusions_ = np.ascontiguousarray(p.lam.transpose(0, 2, 1))
        self.n_restarts_ = len(runs) - 1
