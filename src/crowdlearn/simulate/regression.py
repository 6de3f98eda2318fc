"""Simulated regression crowds: true values, biased / noisy / scaled / adversarial workers.

Each task ``i`` has a true value ``z_i`` (uniform on ``[low, high]``, or a function of Gaussian
features when ``n_features`` > 0); worker ``w`` of type ``g`` answers

    y_iw = scale_w z_i + bias_w + noise_sd_w * N(0, 1)

with parameters drawn from its type (:data:`WORKER_TYPES`):

``good``          scale 1, bias 0, small noise
``biased``        scale 1, a systematic bias of +-(0.15..0.3) x range
``noisy``         scale 1, bias 0, large noise
``scaled``        scale 0.4..0.7 or 1.4..1.8 (compresses or exaggerates), bias re-centring it
``adversarial``   negative scale (rates good as bad), small noise

Which worker answers which task follows :func:`~crowdlearn.simulate.assignment.assign_workers`
(fixed redundancy). The true parameters are returned with the answers (and written by
``crowdlearn simulate --kind regression`` as ``workers.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..real import RealAnswers
from .assignment import assign_workers
from .errors import SimulationError

__all__ = ["WORKER_TYPES", "RegressionCrowd", "simulate_regression"]

WORKER_TYPES: tuple[str, ...] = ("good", "biased", "noisy", "scaled", "adversarial")

#: the default mixture of worker types (fractions of the workers)
DEFAULT_MIX: dict[str, float] = {"good": 0.4, "biased": 0.2, "noisy": 0.15, "scaled": 0.15,
                                 "adversarial": 0.1}


@dataclass
class RegressionCrowd:
    """A simulated regression crowd: answers (with truth) and every worker's true parameters."""

    answers: RealAnswers
    worker_type: np.ndarray
    scale: np.ndarray
    bias: np.ndarray
    noise_sd: np.ndarray
    features: np.ndarray | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def workers_frame(self) -> Any:
        """worker, type, scale, bias, noise_sd (one row per worker)."""
        import pandas as pd

        return pd.DataFrame({"worker": self.answers.worker_ids, "type": self.worker_type,
                             "scale": self.scale, "bias": self.bias, "noise_sd": self.noise_sd})


def simulate_regression(
    n_tasks: int = 1000,
    n_workers: int = 30,
    *,
    answers_per_task: int = 5,
    mix: Mapping[str, float] | None = None,
    low: float = 0.0,
    high: float = 1.0,
    good_noise: float = 0.05,
    noisy_noise: float = 0.25,
    n_features: int = 0,
    activity: str = "uniform",
    seed: int | np.random.Generator | None = 0,
    name: str | None = "simulated-regression",
) -> RegressionCrowd:
    """Draw a regression crowd.

    Parameters
    ----------
    n_tasks, n_workers, answers_per_task:
        Sizes; every task gets ``answers_per_task`` distinct workers.
    mix:
        Fractions of worker types (:data:`WORKER_TYPES`), normalised; default
        :data:`DEFAULT_MIX`. Counts are rounded, at least one ``good`` worker is kept.
    low, high:
        Range of the true values.
    good_noise, noisy_noise:
        Noise standard deviations of good and noisy workers, as fractions of ``high - low``.
    n_features:
        When > 0, tasks get Gaussian features ``X`` and truth ``low + (high - low) *
        sigmoid(X @ beta)`` with a fixed random ``beta`` (returned in ``features``).
    activity:
        ``"uniform"`` or ``"power-law"`` worker activity.
    seed:
        Seed or generator (the whole crowd is reproducible).
    """
    if n_tasks < 1 or n_workers < 1:
        raise SimulationError("n_tasks and n_workers must be at least 1")
    if not 1 <= answers_per_task <= n_workers:
        raise SimulationError(f"answers_per_task must be in 1..n_workers ({n_workers}), got "
                              f"{answers_per_task}")
    if not high > low:
        raise SimulationError(f"high ({high}) must exceed low ({low})")
    mix = dict(DEFAULT_MIX if mix is None else mix)
    unknown = sorted(set(mix) - set(WORKER_TYPES))
    if unknown:
        raise SimulationError(f"unknown worker type(s) {', '.join(unknown)}; choose from "
                              f"{', '.join(WORKER_TYPES)}")
    if any(v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
        raise SimulationError("worker-type fractions must be >= 0 and not all 0")
    rng = np.random.default_rng(seed)
    rangew = high - low
    total = sum(mix.values())
    counts = {k: int(round(n_workers * v / total)) for k, v in mix.items()}
    diff = n_workers - sum(counts.values())
    counts["good"] = counts.get("good", 0) + diff
    if counts["good"] < 0:  # rounding overshoot: take from the largest group
        big = max((k for k in counts if k != "good"), key=lambda k: counts[k])
        counts[big] += counts["good"]
        counts["good"] = 0
    types = np.concatenate([np.full(c, k, dtype=object) for k, c in counts.items() if c > 0])
    types = types[rng.permutation(n_workers)]
    scale = np.ones(n_workers)
    bias = np.zeros(n_workers)
    noise = np.full(n_workers, good_noise * rangew)
    mid = 0.5 * (low + high)
    for k in WORKER_TYPES:
        sel = np.flatnonzero(types == k)
        if not len(sel):
            continue
        if k == "biased":
            bias[sel] = rng.choice([-1, 1], len(sel)) * rng.uniform(0.15, 0.3, len(sel)) * rangew
        elif k == "noisy":
            noise[sel] = noisy_noise * rangew
        elif k == "scaled":
            s = np.where(rng.random(len(sel)) < 0.5, rng.uniform(0.4, 0.7, len(sel)),
                         rng.uniform(1.4, 1.8, len(sel)))
            scale[sel] = s
            bias[sel] = mid * (1 - s)  # keeps the middle of the range in place
        elif k == "adversarial":
            s = -rng.uniform(0.6, 1.0, len(sel))
            scale[sel] = s
            bias[sel] = mid * (1 - s)  # mirrors the range around its middle
    features = None
    if n_features > 0:
        features = rng.standard_normal((n_tasks, n_features))
        beta = rng.standard_normal(n_features) * 1.5 / np.sqrt(n_features)
        truth = low + rangew / (1 + np.exp(-(features @ beta)))
    else:
        truth = rng.uniform(low, high, n_tasks)
    t, w, _ = assign_workers(n_tasks, n_workers, rng, answers_per_task=answers_per_task,
                             activity=activity)
    y = scale[w] * truth[t] + bias[w] + noise[w] * rng.standard_normal(len(t))
    answers = RealAnswers(t, w, y, task_ids=np.arange(n_tasks), worker_ids=np.arange(n_workers),
                          truth=truth, name=name)
    settings = {"n_tasks": n_tasks, "n_workers": n_workers,
                "answers_per_task": answers_per_task, "mix": counts, "low": low, "high": high,
                "good_noise": good_noise, "noisy_noise": noisy_noise,
                "n_features": n_features, "activity": activity}
    return RegressionCrowd(answers, types.astype(str), scale, bias, noise, features, settings)
