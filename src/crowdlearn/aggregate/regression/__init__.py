"""Aggregation of real-valued crowd answers (crowd regression).

Strategies (registered names): ``mean``, ``median``, ``raykar-regression`` (Raykar et al. 2010,
per-worker precision), ``bias-scale`` (per-worker bias, scale and noise). See
:mod:`.base` for the estimator conventions and :mod:`.gaussian` for the EM models.
"""

from __future__ import annotations

from .base import (
    RegressionAggregator,
    available_regression,
    get_regression_class,
    is_regression_strategy,
    make_regression_strategy,
    register_regression,
)
from .gaussian import BiasScaleRegression, RaykarRegression
from .simple import MeanRegression, MedianRegression

__all__ = [
    "BiasScaleRegression",
    "MeanRegression",
    "MedianRegression",
    "RaykarRegression",
    "RegressionAggregator",
    "available_regression",
    "get_regression_class",
    "is_regression_strategy",
    "make_regression_strategy",
    "register_regression",
]
