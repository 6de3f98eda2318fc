"""Gaussian worker models fitted by EM: Raykar et al.'s per-worker precision, and bias + scale.

Model
-----
Each task ``i`` has an unknown true value ``z_i``; worker ``w`` answers

    y_iw = a_w z_i + b_w + e_iw,    e_iw ~ N(0, s_w^2)

* :class:`RaykarRegression` (Raykar, Yu, Zhao, Valadez, Florin, Bogoni & Moy, "Learning from
  crowds", JMLR 11, 2010, section 3, regression): ``a_w = 1``, ``b_w = 0``; each worker has
  a precision ``1 / s_w^2``; a flat prior on ``z_i``. The E-step's estimate is the
  precision-weighted mean of the answers, ``z_i = sum_w y_iw / s_w^2 / sum_w 1 / s_w^2``, with
  posterior variance ``1 / sum_w 1 / s_w^2``; the M-step sets ``s_w^2`` to the mean of
  ``(y_iw - z_i)^2 + var(z_i)`` over the worker's answers.
* :class:`BiasScaleRegression`: ``a_w`` (scale), ``b_w`` (bias) and ``s_w`` per worker, a
  Gaussian prior ``z_i ~ N(mu, tau^2)`` whose mean and variance are learned (empirical Bayes).
  A worker with a negative scale is adversarial (rates good as bad); with ``fit_scale=False``
  the model is bias + precision only.

Both posteriors of ``z_i`` are Gaussian and computed exactly: precision
``P_i = 1/tau^2 + sum_w a_w^2 / s_w^2``, mean ``(mu/tau^2 + sum_w a_w (y_iw - b_w) / s_w^2) / P_i``.
Every sum over answers is an ``np.bincount``; the loop is :func:`~crowdlearn.aggregate._em.run_em`
(the one EM skeleton), whose "posterior" here is the (tasks x 2) array of posterior means and
variances.

Regularisation (MAP-EM)
-----------------------
A worker with one or two answers would otherwise get a zero noise variance (infinite weight).
Each ``s_w^2`` has an inverse-gamma prior worth ``noise_prior`` answers at the pooled
within-task variance ``s0^2`` of the data, so ``s_w^2 = (S_w + noise_prior s0^2) / (n_w +
noise_prior)`` with ``S_w`` the worker's expected squared residuals. In the bias + scale model
``a_w ~ N(1, scale_prior_sd^2)`` and ``b_w ~ N(0, bias_prior_sd^2)`` (in units of ``s0``).

Identifiability (bias + scale)
------------------------------
``z -> c z + d`` with ``a_w -> a_w / c``, ``b_w -> b_w - a_w d / c`` leaves the likelihood
unchanged, so the truth's scale and offset are fixed by an anchor: after every M-step the
parameters are moved along this family so that the answer-weighted *median* of ``a_w`` is 1
(a median, so that a minority of scaled or adversarial workers does not change the units), then
the answer-weighted *median* of ``b_w`` is 0 (the typical worker is unbiased); the prior's
``mu`` and ``tau`` move with them. When most workers are biased, the estimates are in the
units of the typical (median) worker, which no model can tell from the truth. If the median
scale is negative (most answers adversarial) the signs flip so that it is positive: no model
can tell a crowd of adversaries from honest workers.

Convergence: iterations stop when no task's posterior mean moves by more than ``tol`` times the
answers' standard deviation, or after ``max_iter`` iterations (a
:class:`~crowdlearn.errors.ConvergenceWarning` then).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ...errors import ConvergenceWarning
from ...params import Bool, Float, Int
from ...real import RealAnswers
from .._em import run_em
from .base import RegressionAggregator, pooled_sd, register_regression

__all__ = ["BiasScaleRegression", "RaykarRegression"]

_LOG2PI = float(np.log(2 * np.pi))


@dataclass
class _Params:
    scale: np.ndarray  # a_w
    bias: np.ndarray  # b_w
    var: np.ndarray  # s_w^2
    mu: float
    tau2: float  # prior variance (inf: flat prior)


class _GaussianWorkers(RegressionAggregator):
    """The EM engine shared by :class:`RaykarRegression` and :class:`BiasScaleRegression`."""

    param_specs = {"max_iter": Int(0), "tol": Float(0, low_open=True),
                   "noise_prior": Float(0)}

    def __init__(self, max_iter: int = 200, tol: float = 1e-6, noise_prior: float = 2.0
                 ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.noise_prior = noise_prior

    # settings of the model, overridden by the subclasses
    def _flags(self) -> tuple[bool, bool, bool]:
        """(fit scale, fit bias, Gaussian prior on the truth)."""
        return False, False, False

    def _fit(self, answers: RealAnswers) -> None:
        fit_scale, fit_bias, prior = self._flags()
        t, w, y = answers.task, answers.worker, answers.value
        n_t, n_w = answers.n_tasks, answers.n_workers
        n_per_w = np.bincount(w, minlength=n_w).astype(np.float64)
        s0 = max(pooled_sd(answers), 1e-12)
        s02 = s0 * s0
        nu = float(self.noise_prior)
        scale_sd = float(getattr(self, "scale_prior_sd", np.inf))
        bias_sd = float(getattr(self, "bias_prior_sd", np.inf)) * s0
        spread = float(y.std()) if len(y) else 1.0

        def e_step(p: _Params) -> tuple[np.ndarray, float]:
            lam = 1.0 / p.var
            prec0 = 0.0 if not np.isfinite(p.tau2) else 1.0 / p.tau2
            prec = prec0 + np.bincount(t, weights=(p.scale**2 * lam)[w], minlength=n_t)
            num = prec0 * p.mu + np.bincount(
                t, weights=(p.scale * lam)[w] * (y - p.bias[w]), minlength=n_t)
            with np.errstate(divide="ignore", invalid="ignore"):
                m = num / prec
                v = 1.0 / prec
            state = np.column_stack([m, v])
            # marginal log-likelihood: log p(y|m) + log p(m) - log p(m|y) (exact for Gaussians)
            ans = ~np.isnan(m[t])
            r = y - p.scale[w] * m[t] - p.bias[w]
            ll = -0.5 * float((_LOG2PI + np.log(p.var[w]) + r * r * lam[w])[ans].sum())
            seen = np.bincount(t, minlength=n_t) > 0
            ll += 0.5 * float((_LOG2PI + np.log(v[seen])).sum())
            if prec0 > 0:
                ll -= 0.5 * float((_LOG2PI + np.log(p.tau2)
                                   + (m[seen] - p.mu) ** 2 / p.tau2).sum())
            # MAP terms of the noise prior
            ll -= 0.5 * nu * float((np.log(p.var) + s02 / p.var)[n_per_w > 0].sum())
            return state, ll / max(len(y), 1)

        p_old: list[_Params | None] = [None]  # the previous M-step's parameters (ECM)

        def m_step(state: np.ndarray) -> _Params:
            m, v = state[:, 0], state[:, 1]
            seen = np.isfinite(m)
            mt, vt = m[t], v[t]
            old = p_old[0]
            lam = (1.0 / old.var) if old is not None else np.full(n_w, 1.0 / s02)
            if fit_scale or fit_bias:
                # per-worker weighted least squares of y on (z, 1), with Gaussian priors
                sz = np.bincount(w, weights=mt, minlength=n_w)
                szz = np.bincount(w, weights=mt * mt + vt, minlength=n_w)
                sy = np.bincount(w, weights=y, minlength=n_w)
                syz = np.bincount(w, weights=y * mt, minlength=n_w)
                pa = 0.0 if not np.isfinite(scale_sd) else 1.0 / scale_sd**2
                pb = 0.0 if not np.isfinite(bias_sd) else 1.0 / bias_sd**2
                if fit_scale and fit_bias:
                    a11 = lam * szz + pa
                    a12 = lam * sz
                    a22 = lam * n_per_w + pb
                    r1 = lam * syz + pa
                    r2 = lam * sy
                    det = a11 * a22 - a12 * a12
                    ok = det > 1e-300
                    scale = np.where(ok, (r1 * a22 - a12 * r2) / np.where(ok, det, 1), 1.0)
                    bias = np.where(ok, (a11 * r2 - a12 * r1) / np.where(ok, det, 1), 0.0)
                elif fit_bias:
                    scale = np.ones(n_w)
                    bias = lam * (sy - sz) / (lam * n_per_w + pb)
                else:
                    bias = np.zeros(n_w)
                    scale = (lam * syz + pa) / (lam * szz + pa)
                scale = np.where(n_per_w > 0, scale, 1.0)
                bias = np.where(n_per_w > 0, bias, 0.0)
            else:
                scale, bias = np.ones(n_w), np.zeros(n_w)
            r = y - scale[w] * mt - bias[w]
            sres = np.bincount(w, weights=r * r + scale[w] ** 2 * vt, minlength=n_w)
            var = (sres + nu * s02) / np.maximum(n_per_w + nu, 1e-12)
            var = np.maximum(np.where(n_per_w > 0, var, s02), 1e-12 * s02)
            if prior:
                mu = float(m[seen].mean()) if seen.any() else 0.0
                tau2 = float(((m[seen] - mu) ** 2 + v[seen]).mean()) if seen.any() else s02
                tau2 = max(tau2, 1e-12 * s02)
            else:
                mu, tau2 = 0.0, np.inf
            p = _Params(scale, bias, var, mu, tau2)
            if fit_scale or fit_bias:
                p = _anchor(p, n_per_w, fit_scale)
            p_old[0] = p
            return p

        # initial posterior: the task means, variance s0^2 / n
        n_t_ans = answers.answers_per_task()
        with np.errstate(divide="ignore", invalid="ignore"):
            init = np.column_stack([answers.task_means(), s02 / n_t_ans])

        def stop(prev: np.ndarray, new: np.ndarray) -> bool:
            d = np.abs(new[:, 0] - prev[:, 0])
            d = d[np.isfinite(d)]
            return bool(len(d) == 0 or d.max() < self.tol * max(spread, 1e-12))

        res = run_em(init, m_step, e_step, max_iter=self.max_iter, stop=stop)
        if not res.converged and self.max_iter > 0:
            warnings.warn(f"{type(self).__name__}: stopped at max_iter={self.max_iter} before "
                          f"the estimates moved by less than tol={self.tol}",
                          ConvergenceWarning, stacklevel=3)
        state, ll = e_step(res.params) if res.n_iter else (init, float("nan"))
        p = res.params
        self.estimates_ = state[:, 0]
        self.posterior_sd_ = np.sqrt(state[:, 1])
        self.scale_ = p.scale
        self.bias_ = p.bias
        self.noise_sd_ = np.sqrt(p.var)
        self.prior_mean_ = p.mu
        self.prior_sd_ = float(np.sqrt(p.tau2))
        self.n_iter_ = res.n_iter
        self.converged_ = res.converged
        self.log_likelihood_ = ll
        self.history_ = res.history


def _anchor(p: _Params, n_per_w: np.ndarray, fit_scale: bool) -> _Params:
    """Move (a, b, mu, tau) along the likelihood's invariance ``z -> c z + d`` so that the
    answer-weighted median scale is 1 (when scales are fitted) and the answer-weighted median
    bias is 0: the typical worker defines the truth's units."""
    c = _weighted_median(p.scale, n_per_w) if fit_scale else 1.0
    if abs(c) < 1e-12:
        c = 1.0
    scale = p.scale / c  # z' = c z + d, a' = a / c, b' = b - a' d
    d = _weighted_median(p.bias, n_per_w)
    bias = p.bias - scale * d
    return _Params(scale, bias, p.var, c * p.mu + d, c * c * p.tau2)


def _weighted_median(x: np.ndarray, weights: np.ndarray) -> float:
    """The lower weighted median of ``x`` (weights >= 0, not all 0)."""
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(weights[order])
    if cw[-1] <= 0:
        return float(np.median(x))
    return float(x[order][np.searchsorted(cw, 0.5 * cw[-1])])


@register_regression("raykar-regression", "raykar")
class RaykarRegression(_GaussianWorkers):
    """Raykar et al. (2010) crowd regression: one precision per worker, EM.

    Raykar, Yu, Zhao, Valadez, Florin, Bogoni & Moy, "Learning from crowds", JMLR 11 (2010),
    section 3 (regression). See :mod:`crowdlearn.aggregate.regression.gaussian` for the model,
    the noise prior (``noise_prior`` pseudo-answers at the pooled variance; 0 is the paper's
    maximum likelihood) and the stopping rule. ``bias_`` is 0 and ``scale_`` 1 (the model
    assumes unbiased workers).

    Examples
    --------
    >>> from crowdlearn.simulate.regression import simulate_regression
    >>> crowd = simulate_regression(n_tasks=200, n_workers=10, seed=0)
    >>> est = RaykarRegression().fit(crowd.answers)
    >>> est.noise_sd_.shape
    (10,)
    """


@register_regression("bias-scale", "bias-scale-regression")
class BiasScaleRegression(_GaussianWorkers):
    """Bias + scale crowd regression: ``answer = scale_w * truth + bias_w + noise_w``, EM.

    The regression model of CrowdLayer's ``S+B`` connection (Rodrigues & Pereira, "Deep learning
    from crowds", AAAI 2018) without features, fitted by exact-posterior EM with the anchor and
    priors described in :mod:`crowdlearn.aggregate.regression.gaussian`. Negative scales mark
    adversarial workers. ``fit_scale=False`` gives the bias + precision model.

    Parameters
    ----------
    max_iter, tol, noise_prior:
        As :class:`RaykarRegression`.
    scale_prior_sd, bias_prior_sd:
        Standard deviations of the Gaussian priors ``scale ~ N(1, .)`` and ``bias ~ N(0, .)``
        (the latter in units of the pooled answer standard deviation); they keep workers with
        few answers near the crowd.
    fit_scale:
        Whether scales are learned (else fixed to 1).
    """

    param_specs = {"scale_prior_sd": Float(0, low_open=True, finite=False),
                   "bias_prior_sd": Float(0, low_open=True, finite=False),
                   "fit_scale": Bool()}

    def __init__(self, max_iter: int = 200, tol: float = 1e-6, noise_prior: float = 2.0,
                 scale_prior_sd: float = 0.5, bias_prior_sd: float = 2.0,
                 fit_scale: bool = True) -> None:
        super().__init__(max_iter=max_iter, tol=tol, noise_prior=noise_prior)
        self.scale_prior_sd = scale_prior_sd
        self.bias_prior_sd = bias_prior_sd
        self.fit_scale = fit_scale

    def _flags(self) -> tuple[bool, bool, bool]:
        return bool(self.fit_scale), True, True
