"""GLAD on torch tensors (``GLAD(device=...)``): the numpy fit of :mod:`.glad`, step for step.

The E-step and the per-answer pieces are scatter-adds over answers on the device; the M-step is
the same inexact Newton ascent (Schur complement on the workers, preconditioned conjugate
gradients, Armijo backtracking). Unlike the Dawid-Skene family, the M-step's stopping tests
(gradient norm, CG residual and curvature, line-search acceptance) read scalars on the host:
a few small synchronisations per Newton step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..answers import Answers
from ._em import run_em

F64 = torch.float64


class _Point:
    def __init__(self, x: torch.Tensor, model: _TorchGlad) -> None:
        self.x = x
        self.beta_a = torch.exp(x[model.nw:])[model.task]
        self.s = x[:model.nw][model.worker] * self.beta_a
        self.e = torch.exp(-torch.abs(self.s))
        self.soft = torch.log1p(self.e) + torch.clamp(self.s, min=0.0)


class _TorchGlad:
    """``_GladModel`` of :mod:`._glad_mstep` on tensors (same updates, same order)."""

    def __init__(self, task: torch.Tensor, worker: torch.Tensor, nw: int, nt: int,
                 mu: torch.Tensor) -> None:
        self.task, self.worker, self.nw, self.nt, self.mu = task, worker, nw, nt, mu
        self.cur: _Point | None = None
        self.cross = torch.zeros(0, dtype=F64)

    def at(self, x: torch.Tensor) -> _Point:
        if self.cur is None or self.cur.x is not x:
            self.cur = _Point(x, self)
        return self.cur

    def _value(self, pt: _Point, p_right: torch.Tensor) -> float:
        dev = pt.x - self.mu
        return float((p_right * pt.s - pt.soft).sum()) - 0.5 * float((dev * dev).sum())

    def _couple(self, y: torch.Tensor, by_task: bool) -> torch.Tensor:
        if by_task:
            return torch.bincount(self.worker, y[self.task] * self.cross, minlength=self.nw)
        return torch.bincount(self.task, y[self.worker] * self.cross, minlength=self.nt)

    def _schur_solve(self, grad: torch.Tensor, diag_a: torch.Tensor, diag_b: torch.Tensor,
                     max_iter: int, rtol: float = 0.05) -> torch.Tensor | None:
        nw = self.nw
        r_a, r_b = grad[:nw], grad[nw:]
        rhs = r_a - self._couple(r_b / diag_b, by_task=True)
        tmp = (1.0 / diag_b)[self.task] * self.cross * self.cross
        pre = diag_a - torch.bincount(self.worker, tmp, minlength=nw)
        pre = torch.maximum(pre, 1e-3 * diag_a)

        def schur(y: torch.Tensor) -> torch.Tensor:
            return diag_a * y - self._couple(self._couple(y, by_task=False) / diag_b,
                                             by_task=True)

        d_a = _pcg(schur, rhs, pre, max_iter, rtol)
        if d_a is None:
            return None
        d_b = (r_b - self._couple(d_a, by_task=False)) / diag_b
        return torch.cat([d_a, d_b])

    def maximise(self, x: torch.Tensor, p_right: torch.Tensor, max_iter: int, gtol: float,
                 cg_iter: int = 50) -> torch.Tensor:
        nw, nt, task, worker = self.nw, self.nt, self.task, self.worker
        pt = self.at(x)
        f = self._value(pt, p_right)
        for _ in range(max(max_iter, 0)):
            s, beta_a, e = pt.s, pt.beta_a, pt.e
            v = 1.0 / (e + 1.0)
            sig = torch.where(s >= 0, v, e * v)
            g = p_right - sig
            v = v * v * e
            grad = torch.cat([torch.bincount(worker, g * beta_a, minlength=nw),
                              torch.bincount(task, g * s, minlength=nt)])
            grad = grad - (x - self.mu)
            if not grad.numel() or float(torch.abs(grad).max()) < gtol:
                break
            cross = v * s - g
            diag_b = torch.bincount(task, cross * s, minlength=nt) + 1.0
            self.cross = cross * beta_a
            diag_a = torch.bincount(worker, v * beta_a * beta_a, minlength=nw) + 1.0
            fisher_b = torch.bincount(task, v * s * s, minlength=nt) + 1.0
            diag_b = torch.maximum(diag_b, 0.1 * fisher_b)
            direction = self._schur_solve(grad, diag_a, diag_b, cg_iter)
            slope = float((grad * direction).sum()) if direction is not None else 0.0
            if not slope > 0:
                direction = grad / torch.cat([diag_a, fisher_b])
                slope = float((grad * direction).sum())
            step = 1.0
            for _ in range(40):
                trial = _Point(x + step * direction, self)
                f_trial = self._value(trial, p_right)
                if f_trial >= f + 1e-4 * step * slope:
                    break
                step *= 0.5
            else:
                break
            self.cur = pt = trial
            x, f = pt.x, f_trial
        return x


def _pcg(matvec: Any, rhs: torch.Tensor, diag: torch.Tensor, max_iter: int,
         rtol: float = 0.1) -> torch.Tensor | None:
    d = rhs / diag
    r = rhs - matvec(d)
    z = r / diag
    p = z.clone()
    rz = float((r * z).sum())
    stop = rtol * math.sqrt(float((rhs * rhs).sum()))
    for _ in range(max_iter):
        if math.sqrt(float((r * r).sum())) <= stop:
            break
        hp = matvec(p)
        php = float((p * hp).sum())
        if php <= 0:
            return None
        step = rz / php
        d = d + step * p
        r = r - step * hp
        z = r / diag
        rz_new = float((r * z).sum())
        p = z + (rz_new / rz) * p
        rz = rz_new
    return d


def fit_glad(est: Any, answers: Answers, device: Any) -> None:
    """``GLAD._fit`` on ``device`` (same attributes, numpy arrays)."""
    from .glad import _class_priors, _per_id

    n_tasks, n_workers, k = answers.n_tasks, answers.n_workers, answers.n_classes
    priors = _class_priors(est.labels_priors, answers.classes)
    mu_a = _per_id(est.alphas_priors_mean, answers.worker_ids, 1.0, "alphas_priors_mean")
    mu_b = _per_id(est.betas_priors_mean, answers.task_ids, 1.0, "betas_priors_mean")
    if k < 2:  # nothing to infer: the numpy path's trivial result
        est.device, device_was = None, est.device
        try:
            est._fit(answers)
        finally:
            est.device = device_was
        return
    n_answers = max(answers.n_answers, 1)

    def put(a: np.ndarray, dtype: Any = torch.int64) -> torch.Tensor:
        return torch.as_tensor(np.array(a), dtype=dtype, device=device)

    task, worker = put(answers.task), put(answers.worker)
    cell = put(answers.label) * n_tasks + task
    log_prior = put(np.log(np.maximum(priors, 1e-300)), F64)
    log_k1 = math.log(k - 1.0)
    mu = put(np.concatenate([mu_a, mu_b]), F64)
    const = -0.5 * math.log(2 * math.pi) * (n_workers + n_tasks)
    model = _TorchGlad(task, worker, n_workers, n_tasks, mu)

    def e_step(x: torch.Tensor) -> tuple[torch.Tensor, float]:
        pt = model.at(x)
        logp = torch.bincount(cell, pt.s + log_k1, minlength=n_tasks * k).reshape(k, n_tasks)
        logp = logp - torch.bincount(task, pt.soft + log_k1, minlength=n_tasks)
        logp = logp + log_prior[:, None]
        top = logp.max(dim=0).values
        expd = torch.exp(logp - top)
        total = expd.sum(dim=0)
        norm = top + torch.log(total)
        dev = x - mu
        objective = float(norm.sum()) + const - 0.5 * float((dev * dev).sum())
        return expd / total, objective / n_answers

    state = {"x": torch.ones(n_workers + n_tasks, dtype=F64, device=device)}

    def m_step(probas: torch.Tensor) -> torch.Tensor:
        p_right = probas.reshape(-1)[cell]
        x = model.maximise(state["x"], p_right, int(est.m_step_max_iter),
                           float(est.m_step_tol))
        state["x"] = x
        return x

    init_probas, _ = e_step(state["x"])
    bar = None
    if not est.silent:
        from .._progress import progress_bar

        bar = progress_bar(total=int(est.n_iter), desc="GLAD")
    try:
        result = run_em(init_probas, m_step, e_step, tol=float(est.tol),
                        max_iter=int(est.n_iter), progress=bar, class_major=True)
    finally:
        if bar is not None:
            bar.close()
    probas, objective = e_step(result.params)
    params = result.params.cpu().numpy()
    alpha, b = params[:n_workers], params[n_workers:]
    est.probas_ = np.ascontiguousarray(probas.T.cpu().numpy())
    est.skills_ = est.alphas_ = alpha
    est.betas_ = b
    est.difficulties_ = np.exp(b)
    est.priors_ = priors
    est.n_iter_ = result.n_iter
    est.log_likelihood_ = objective
    est.loss_history_ = [*result.history, objective]
    est.converged_ = result.converged
