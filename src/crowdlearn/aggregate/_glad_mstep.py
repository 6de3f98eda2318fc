"""The M-step of GLAD: the likelihood pieces over per-answer buffers and Newton's method.

:class:`_GladModel` evaluates the expected complete-data log-posterior of
:class:`~crowdlearn.aggregate.glad.GLAD` and maximises it (a Schur-complement Newton step solved
by :func:`_pcg`, an Armijo line search); every product is a gather and an ``np.bincount`` over
answers. The Dask engine (:mod:`crowdlearn.distributed._glad`) runs the same model per partition.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class _Point:
    """Per-answer quantities of the GLAD likelihood at one parameter vector ``x``."""

    __slots__ = ("x", "s", "beta_a", "e", "soft")

    def __init__(self, n: int) -> None:
        self.x: np.ndarray | None = None
        self.s = np.empty(n)       # alpha_w * beta_t
        self.beta_a = np.empty(n)  # beta_t
        self.e = np.empty(n)       # exp(-|s|)
        self.soft = np.empty(n)    # log(1 + exp(s))


class _GladModel:
    r"""Likelihood pieces and the M-step of GLAD over preallocated per-answer buffers.

    With ``s_a = alpha_w e^{b_t}`` for answer ``a`` (worker ``w``, task ``t``) and ``p_a`` the
    posterior probability that the answer is right, the M-step maximises

    .. math:: f = \sum_a \left[p_a s_a - \log(1 + e^{s_a})\right]
              - \tfrac12 \lVert\alpha - \mu_\alpha\rVert^2 - \tfrac12 \lVert b - \mu_b\rVert^2

    (the expected complete-data log-posterior up to a constant) by Newton's method: the
    direction solves ``H d = grad f`` by conjugate gradients preconditioned with the diagonal,
    where ``H`` (minus the Hessian) is applied as a sparse product with one gather and one
    ``np.bincount`` over answers per block; when ``H`` is not positive definite along the
    direction the diagonal (Fisher) step is used instead. An Armijo backtracking line search
    keeps every step an ascent step, so the M-step never lowers the EM objective. Work arrays
    are allocated once per fit.
    """

    def __init__(self, task: np.ndarray, worker: np.ndarray, n_workers: int, n_tasks: int,
                 mu: np.ndarray) -> None:
        self.task, self.worker = task, worker
        self.n_workers, self.n_tasks = n_workers, n_tasks
        self.mu = mu
        n = len(task)
        self.cur, self.trial = _Point(n), _Point(n)
        self.tmp, self.g, self.v, self.cross = (np.empty(n) for _ in range(4))

    def _fill(self, pt: _Point, x: np.ndarray) -> None:
        pt.x = x
        np.take(np.exp(x[self.n_workers:]), self.task, out=pt.beta_a, mode="clip")
        np.take(x[:self.n_workers], self.worker, out=pt.s, mode="clip")
        pt.s *= pt.beta_a
        np.abs(pt.s, out=pt.e)
        np.negative(pt.e, out=pt.e)
        np.exp(pt.e, out=pt.e)
        np.log1p(pt.e, out=pt.soft)
        np.maximum(pt.s, 0.0, out=self.tmp)
        pt.soft += self.tmp

    def at(self, x: np.ndarray) -> _Point:
        """The likelihood pieces at ``x`` (recomputed only when ``x`` is a new vector)."""
        if self.cur.x is not x:
            self._fill(self.cur, x)
        return self.cur

    def _value(self, pt: _Point, p_right: np.ndarray) -> float:
        assert pt.x is not None
        np.multiply(p_right, pt.s, out=self.tmp)
        self.tmp -= pt.soft
        dev = pt.x - self.mu
        return float(self.tmp.sum()) - 0.5 * float((dev * dev).sum())

    def _couple(self, y: np.ndarray, by_task: bool) -> np.ndarray:
        """``C y`` (``by_task``: y per task, result per worker) or ``C^T y`` (the reverse)."""
        tmp = self.tmp
        if by_task:
            np.take(y, self.task, out=tmp, mode="clip")
            tmp *= self.cross
            return np.bincount(self.worker, tmp, minlength=self.n_workers)
        np.take(y, self.worker, out=tmp, mode="clip")
        tmp *= self.cross
        return np.bincount(self.task, tmp, minlength=self.n_tasks)

    def _schur_solve(self, grad: np.ndarray, diag_a: np.ndarray, diag_b: np.ndarray,
                     max_iter: int, rtol: float = 0.05) -> np.ndarray | None:
        """Solve ``[[D_a, C], [C^T, D_b]] d = grad`` through the workers' Schur complement.

        ``S = D_a - C D_b^{-1} C^T`` is applied matrix-free (two gathers and two bincounts over
        answers); CG is preconditioned with its diagonal. Returns ``None`` when ``S`` shows
        negative curvature.
        """
        nw = self.n_workers
        r_a, r_b = grad[:nw], grad[nw:]
        rhs = r_a - self._couple(r_b / diag_b, by_task=True)
        np.take(1.0 / diag_b, self.task, out=self.tmp, mode="clip")
        self.tmp *= self.cross
        self.tmp *= self.cross
        pre = diag_a - np.bincount(self.worker, self.tmp, minlength=nw)
        pre = np.maximum(pre, 1e-3 * diag_a)

        def schur(y: np.ndarray) -> np.ndarray:
            return diag_a * y - self._couple(self._couple(y, by_task=False) / diag_b,
                                             by_task=True)

        d_a = _pcg(schur, rhs, pre, max_iter, rtol)
        if d_a is None:
            return None
        d_b = (r_b - self._couple(d_a, by_task=False)) / diag_b
        return np.concatenate([d_a, d_b])

    def maximise(self, x: np.ndarray, p_right: np.ndarray, max_iter: int, gtol: float,
                 cg_iter: int = 50) -> np.ndarray:
        """Newton ascent on the M-step objective from ``x``; returns the new parameters."""
        nw, nt, task, worker = self.n_workers, self.n_tasks, self.task, self.worker
        tmp, g, v, cross = self.tmp, self.g, self.v, self.cross
        pt = self.at(x)
        f = self._value(pt, p_right)
        for _ in range(max(max_iter, 0)):
            s, beta_a, e = pt.s, pt.beta_a, pt.e
            # sigma(s) = 1 / (1 + e) for s >= 0, e / (1 + e) otherwise; v = sigma (1 - sigma)
            np.add(e, 1.0, out=v)
            np.reciprocal(v, out=v)
            np.multiply(e, v, out=g)
            np.copyto(g, v, where=s >= 0)
            np.subtract(p_right, g, out=g)  # g = p - sigma(s) = df/ds
            np.multiply(v, v, out=v)
            v *= e
            np.multiply(g, beta_a, out=tmp)
            grad_a = np.bincount(worker, tmp, minlength=nw)
            np.multiply(g, s, out=tmp)
            grad_b = np.bincount(task, tmp, minlength=nt)
            grad = np.concatenate([grad_a, grad_b])
            grad -= x - self.mu
            if not grad.size or float(np.abs(grad).max()) < gtol:
                break
            # minus the Hessian: d2f/ds2 = -v; ds/dalpha = beta, ds/db = s, d2s/dalpha db = beta,
            # d2s/db2 = s
            np.multiply(v, s, out=cross)
            cross -= g                        # v s - g
            np.multiply(cross, s, out=tmp)
            diag_b = np.bincount(task, tmp, minlength=nt) + 1.0
            cross *= beta_a                   # (v s - g) beta: the alpha-b block
            np.multiply(v, beta_a, out=tmp)
            tmp *= beta_a
            diag_a = np.bincount(worker, tmp, minlength=nw) + 1.0
            np.multiply(v, s, out=tmp)
            tmp *= s
            fisher_b = np.bincount(task, tmp, minlength=nt) + 1.0
            # tasks only couple through workers: eliminate the task block exactly (it is
            # diagonal) and solve the worker-sized Schur complement by conjugate gradients
            diag_b = np.maximum(diag_b, 0.1 * fisher_b)
            direction = self._schur_solve(grad, diag_a, diag_b, cg_iter)
            slope = float((grad * direction).sum()) if direction is not None else 0.0
            if not slope > 0:  # negative curvature met: fall back to the Fisher step
                direction = grad / np.concatenate([diag_a, fisher_b])
                slope = float((grad * direction).sum())
            step = 1.0
            for _ in range(40):
                self._fill(self.trial, x + step * direction)
                f_trial = self._value(self.trial, p_right)
                if f_trial >= f + 1e-4 * step * slope:
                    break
                step *= 0.5
            else:
                break  # no ascent step: at a numerical maximum
            self.cur, self.trial = self.trial, self.cur
            pt = self.cur
            assert pt.x is not None
            x, f = pt.x, f_trial
        return x


def _pcg(matvec: Any, rhs: np.ndarray, diag: np.ndarray, max_iter: int,
         rtol: float = 0.1) -> np.ndarray | None:
    """Jacobi-preconditioned conjugate gradients for ``matvec(d) = rhs`` (inexact Newton).

    Returns ``None`` when the operator shows non-positive curvature.
    """
    d = rhs / diag
    r = rhs - matvec(d)
    z = r / diag
    p = z.copy()
    rz = float((r * z).sum())
    stop = rtol * float(np.sqrt((rhs * rhs).sum()))
    for _ in range(max_iter):
        if float(np.sqrt((r * r).sum())) <= stop:
            break
        hp = matvec(p)
        php = float((p * hp).sum())
        if php <= 0:
            return None
        step = rz / php
        d += step * p
        r -= step * hp
        z = r / diag
        rz_new = float((r * z).sum())
        p = z + (rz_new / rz) * p
        rz = rz_new
    return d
