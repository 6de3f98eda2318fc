"""Dawid-Skene with clustered workers (DSWC): :class:`DawidSkeneClust` and its :func:`kmeans`.

Workers share the confusion matrix of their cluster; the clusters start from a k-means (or
nuclear-norm) clustering of per-worker confusions. Registered as ``dswc``.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np

from ...answers import Answers
from ...params import N_ITER, SEED, TOL, Choice, Int, Param
from .._em import EMResult, run_em
from ..base import register
from ..voting import vote_frequencies
from .shared import EPS, _class_priors, _Design, _DSFamily, _log_prior, _normalize_counts


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

    param_specs: ClassVar[dict[str, Param]] = {
        "n_clusters": Int(1), "n_iter": N_ITER, "tol": TOL,
        "cluster_init": Choice("kmeans", "nuclear"), "max_restarts": Int(0), "random_state": SEED,
    }

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
