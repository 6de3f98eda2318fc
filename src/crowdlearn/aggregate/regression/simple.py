"""Mean and median of each task's real-valued answers."""

from __future__ import annotations

import numpy as np

from ...real import RealAnswers
from .base import RegressionAggregator, pooled_sd, register_regression

__all__ = ["MeanRegression", "MedianRegression"]


@register_regression("mean")
class MeanRegression(RegressionAggregator):
    """The mean of each task's answers.

    ``posterior_sd_`` is the standard error ``s / sqrt(n)`` with ``s`` the pooled within-task
    standard deviation of the answers. Worker ``bias_`` / ``noise_sd_`` are the mean and
    standard deviation of the worker's residuals against the estimates.

    Examples
    --------
    >>> from crowdlearn.real import RealAnswers
    >>> a = RealAnswers.from_arrays([0, 0, 1], ["u", "v", "u"], [0.2, 0.4, 0.9])
    >>> MeanRegression().fit_predict(a)
    array([0.3, 0.9])
    """

    def __init__(self) -> None:
        pass

    def _fit(self, answers: RealAnswers) -> None:
        self.estimates_ = answers.task_means()
        n = answers.answers_per_task()
        with np.errstate(divide="ignore"):
            self.posterior_sd_ = np.where(n > 0, pooled_sd(answers) / np.sqrt(n), np.nan)


@register_regression("median")
class MedianRegression(RegressionAggregator):
    """The median of each task's answers (the mean of the two middle ones for an even count).

    Robust to a minority of wild answers per task. ``posterior_sd_`` is the large-sample
    standard error of a normal sample's median, ``1.2533 s / sqrt(n)``.
    """

    def __init__(self) -> None:
        pass

    def _fit(self, answers: RealAnswers) -> None:
        self.estimates_ = answers.task_medians()
        n = answers.answers_per_task()
        with np.errstate(divide="ignore"):
            self.posterior_sd_ = np.where(
                n > 0, np.sqrt(np.pi / 2) * pooled_sd(answers) / np.sqrt(n), np.nan)
