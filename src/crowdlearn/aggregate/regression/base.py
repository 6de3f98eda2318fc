"""The regression aggregator base class and the registry of regression strategy names.

Regression strategies follow the classification aggregators' conventions (scikit-learn style:
settings in ``__init__``, learning in ``fit``, learned attributes ending in ``_``) but take
real-valued answers (:class:`~crowdlearn.real.RealAnswers`, or a DataFrame with ``task``,
``worker`` and ``value`` or ``label`` columns of numbers) and learn:

``estimates_``
    the estimated true value of each task (a pandas Series indexed by task id when fitted on a
    DataFrame); NaN for a task without answers where the model has no prior;
``posterior_sd_``
    its posterior standard deviation (standard error for mean and median);
``bias_``, ``scale_``, ``noise_sd_``
    per worker: the model's answer = ``scale * truth + bias + noise`` with noise of standard
    deviation ``noise_sd`` (for ``mean`` and ``median``, descriptive: the mean and standard
    deviation of the worker's residuals, scale 1);
``n_iter_``, ``log_likelihood_`` (per answer), ``converged_``, ``fit_seconds_``, ``answers_``.

Class labels (an :class:`~crowdlearn.answers.Answers`) are refused with a one-line error naming
the strategy; the classification strategies refuse real values the same way
(:func:`crowdlearn.kinds.refuse_kind`).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from ...errors import CrowdlearnError, NotFittedError
from ...kinds import refuse_kind
from ...params import Param, check_params, specs_of
from ...real import RealAnswers
from .._params_mixin import ParamsMixin, check_strategy_params
from .._registry import registering

__all__ = ["RegressionAggregator", "available_regression", "get_regression_class",
           "make_regression_strategy", "register_regression"]

_REGISTRY: dict[str, type[RegressionAggregator]] = {}
#: the order in which listings and ``-s all`` show the strategies (others follow)
ORDER: tuple[str, ...] = ("mean", "median", "raykar-regression", "bias-scale")


def register_regression(*names: str):
    """Class decorator: make a regression strategy available under ``names`` (lower case)."""
    return registering(_REGISTRY, names, "regression strategy")


def available_regression() -> list[str]:
    """Canonical names of the regression strategies, in registration order."""
    seen: list[str] = []
    for cls in _REGISTRY.values():
        if cls.name not in seen:
            seen.append(cls.name)
    return [n for n in ORDER if n in seen] + [n for n in seen if n not in ORDER]


def is_regression_strategy(name: str) -> bool:
    """Whether ``name`` (possibly with ``[params]``) names a regression strategy."""
    return name.split("[", 1)[0].strip().lower() in _REGISTRY


def get_regression_class(name: str) -> type[RegressionAggregator]:
    """The regression strategy registered under ``name``; a classification strategy's name
    gets a one-line error saying it takes class labels."""
    key = name.lower()
    if key not in _REGISTRY:
        from ..base import _REGISTRY as classification

        if key in classification:
            raise CrowdlearnError(
                f"strategy {name!r} takes classification answers, got real values "
                f"(regression); regression strategies: {', '.join(available_regression())}")
        raise CrowdlearnError(f"unknown regression strategy {name!r}; choose from "
                              f"{', '.join(available_regression())}")
    return _REGISTRY[key]


def make_regression_strategy(name: str, **params: Any) -> RegressionAggregator:
    """Instantiate a regression strategy; ``name`` may carry ``[key=value,...]`` parameters."""
    from ..base import parse_strategy_spec

    name, bracket = parse_strategy_spec(name)
    cls = get_regression_class(name)
    bracket.update(params)
    check_strategy_params(cls, bracket)
    return cls(**bracket)


class RegressionAggregator(ParamsMixin):
    """Base class of crowd-regression aggregation strategies (see the module docstring).

    Subclasses set ``name`` through :func:`register_regression` and implement
    :meth:`_fit`, which sets ``estimates_``, ``posterior_sd_`` and, when the model has them,
    ``bias_``, ``scale_``, ``noise_sd_`` (the base derives descriptive ones otherwise).
    """

    name: ClassVar[str] = ""
    param_specs: ClassVar[dict[str, Param]] = {}

    def fit(self, data: Any) -> RegressionAggregator:
        """Learn from real-valued crowd answers (:class:`RealAnswers` or a DataFrame)."""
        check_params(type(self).__name__, specs_of(type(self)), self.get_params())
        answers, from_frame = _as_real(data, self.name or type(self).__name__)
        self._forget_fit()
        start = time.perf_counter()
        self._fit(answers)
        if getattr(self, "bias_", None) is None:
            self.bias_, self.scale_, self.noise_sd_ = residual_stats(answers, self.estimates_)
        self.n_iter_ = getattr(self, "n_iter_", 0)
        self.log_likelihood_ = getattr(self, "log_likelihood_", None)
        self.converged_ = getattr(self, "converged_", True)
        self.fit_seconds_ = time.perf_counter() - start
        self.answers_ = answers
        self._arrays = {k: np.asarray(getattr(self, k + "_"), dtype=np.float64) for k in
                        ("estimates", "posterior_sd", "bias", "scale", "noise_sd")}
        if from_frame:
            import pandas as pd

            tidx = pd.Index(answers.task_ids, name="task")
            widx = pd.Index(answers.worker_ids, name="worker")
            self.estimates_ = pd.Series(self.estimates_, index=tidx, name="agg_value")
            self.posterior_sd_ = pd.Series(self.posterior_sd_, index=tidx, name="posterior_sd")
            for k in ("bias", "scale", "noise_sd"):
                setattr(self, k + "_", pd.Series(getattr(self, k + "_"), index=widx, name=k))
        return self

    def _fit(self, answers: RealAnswers) -> None:
        raise NotImplementedError

    def fit_predict(self, data: Any) -> Any:
        """Fit, then return ``estimates_``."""
        return self.fit(data).estimates_

    def result_arrays(self) -> dict[str, np.ndarray]:
        """What was learned as plain arrays: ``estimates``, ``posterior_sd`` (task order),
        ``bias``, ``scale``, ``noise_sd`` (worker order)."""
        if not hasattr(self, "_arrays"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit first")
        return dict(self._arrays)


def _as_real(data: Any, strategy: str) -> tuple[RealAnswers, bool]:
    if isinstance(data, RealAnswers):
        return data, False
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return RealAnswers.from_frame(data, duplicates="all"), True
    if hasattr(data, "task") and hasattr(data, "worker"):
        refuse_kind(strategy, "regression", data)
    raise TypeError(f"expected RealAnswers or a DataFrame with task/worker/value columns, got "
                    f"{type(data).__name__}")


def residual_stats(answers: RealAnswers, estimates: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per worker: mean residual (answer - estimate), scale 1, and the residuals' standard
    deviation around that mean (NaN for a worker without an answer on an estimated task)."""
    est = np.asarray(estimates, dtype=np.float64)[answers.task]
    ok = np.isfinite(est)
    w = answers.worker[ok]
    r = answers.value[ok] - est[ok]
    n = np.bincount(w, minlength=answers.n_workers).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        bias = np.bincount(w, weights=r, minlength=answers.n_workers) / n
        var = np.bincount(w, weights=r * r, minlength=answers.n_workers) / n - bias**2
    return bias, np.where(n > 0, 1.0, np.nan), np.sqrt(np.maximum(var, 0.0))


def pooled_sd(answers: RealAnswers) -> float:
    """Pooled within-task standard deviation of the answers (tasks with 2+ answers)."""
    n = answers.answers_per_task().astype(np.float64)
    mean = answers.task_means()
    r = answers.value - mean[answers.task]
    dof = float((n[n > 0] - 1).sum())
    if dof <= 0:
        return float(answers.value.std()) if len(answers) else 1.0
    return float(np.sqrt((r * r).sum() / dof))
