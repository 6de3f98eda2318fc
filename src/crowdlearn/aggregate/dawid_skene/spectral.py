"""Spectral initialisation of Dawid-Skene: the method-of-moments confusions of Zhang et al. (2014).

:func:`spectral_confusions` estimates every worker's confusion matrix and the class priors from
second and third moments of three groups of workers (a robust tensor power method,
:func:`_tensor_power`), without assuming that the majority is right; it raises
:class:`SpectralInitError` when the estimate does not exist.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...answers import Answers
from ...errors import CrowdlearnError
from .shared import EPS, _Design


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
