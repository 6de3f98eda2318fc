"""Diagnostics of real-valued (regression) answers: worker bias, scale and noise, unreliable
workers, ambiguous tasks.

:func:`identify_regression` is what :func:`crowdlearn.identify.identify` runs on a
:class:`~crowdlearn.real.RealAnswers`. The worker model is the regression strategy's
(``bias-scale`` by default: answer = ``scale * truth + bias + noise``, noise of standard
deviation ``noise-sd``); every other quantity is one ``np.bincount`` pass over the (task,
worker, value) arrays.

Flags (label-free; a worker needs :data:`MIN_FLAG_ANSWERS` answers on tasks that others answered
too, else no flag):

* **adversarial**: the answers are clearly *anti*-correlated with the consensus (rates good as
  bad): ``peer-correlation`` is significantly below ``-SPAM_CORRELATION`` (-0.2), i.e. the
  upper end of its 95% Fisher-z interval is below -0.2 (a random answerer's correlation
  scatters around 0 and is not flagged adversarial by chance);
* **spammer**: otherwise, ``peer-correlation`` below :data:`SPAM_CORRELATION` (0.2): the answers
  carry (almost) no information about the task (random or constant answers);
* **unreliable**: ``noise-sd`` above :data:`NOISE_FACTOR` (2) times the crowd's
  answer-weighted median noise sd.

``peer-correlation`` is the Pearson correlation of a worker's answers with the mean of the
*other* workers' answers on the same tasks (leave-one-out, so that a worker's own answer does not
make him agree with himself; the regression analogue of ``peer-agreement``). A worker whose
answers never vary (while the consensus does) gets 0.

References
----------
.. [Kri11] K. Krippendorff. Computing Krippendorff's alpha-reliability. Annenberg School for
   Communication, University of Pennsylvania, 2011 (the interval metric).
.. [Ray10] V. C. Raykar, S. Yu, L. H. Zhao, G. H. Valadez, C. Florin, L. Bogoni and L. Moy.
   Learning from crowds. JMLR 11, 2010 (per-worker noise in crowd regression).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import CrowdlearnError

#: per-worker regression metrics, by name
WORKER_METRICS: tuple[str, ...] = (
    "n-answers", "bias", "scale", "noise-sd", "abs-deviation", "peer-correlation",
    "truth-mae", "truth-correlation", "spammer", "adversarial", "unreliable",
)
#: per-task regression metrics, by name (``task`` and the aggregated ``estimate`` always come)
TASK_METRICS: tuple[str, ...] = ("n-answers", "posterior-sd", "answer-sd")
#: data-set regression metrics, by name
DATASET_METRICS: tuple[str, ...] = ("krippendorff-alpha",)
METRICS: tuple[str, ...] = tuple(dict.fromkeys(WORKER_METRICS + TASK_METRICS +
                                               DATASET_METRICS))
#: the flags, in the order the summaries list them
FLAGS: tuple[str, ...] = ("spammer", "adversarial", "unreliable")
#: answers (on tasks with another answer) a worker needs before a flag can be raised
MIN_FLAG_ANSWERS = 10
#: peer-correlation under which a worker is a likely spammer
SPAM_CORRELATION = 0.2
#: noise sd, in multiples of the crowd's answer-weighted median, above which a worker is
#: unreliable
NOISE_FACTOR = 2.0
#: the regression strategy ``"default"`` means
DEFAULT_STRATEGY = "bias-scale"
_Z95 = 1.959963984540054

#: the flag rules in words (dataset.json, the report)
FLAG_RULES: dict[str, str] = {
    "spammer": f"peer-correlation < {SPAM_CORRELATION} (and not adversarial)",
    "adversarial": f"peer-correlation significantly below -{SPAM_CORRELATION} (upper end of "
                   "its 95% Fisher-z interval)",
    "unreliable": f"noise-sd > {NOISE_FACTOR:g} x the crowd's answer-weighted median noise-sd",
}
FLAG_NOTE = f"flags need at least {MIN_FLAG_ANSWERS} answers on tasks answered by others"


def check_metrics(names: Iterable[str], kind: str) -> None:
    """One-line :class:`CrowdlearnError` for a metric that makes no sense for ``kind``
    (``"classification"`` or ``"regression"``); unknown names are left to the caller."""
    from . import ALL_METRICS

    for name in names:
        if name == "all":
            continue
        if kind == "regression" and name not in METRICS and name in ALL_METRICS:
            raise CrowdlearnError(
                f"metric {name!r} makes no sense for regression answers (it scores class "
                f"labels); regression metrics: {', '.join(METRICS)}")
        if kind != "regression" and name in METRICS and name not in ALL_METRICS:
            raise CrowdlearnError(
                f"metric {name!r} makes no sense for {kind} answers (it scores real values; "
                "declare real-valued answers with --kind regression)")


# ---------------------------------------------------------------------- per-answer helpers
def peer_means(answers: Any) -> np.ndarray:
    """For each answer, the mean of the other answers to its task (NaN when it is alone)."""
    n = answers.answers_per_task().astype(np.float64)[answers.task]
    s = np.bincount(answers.task, weights=answers.value, minlength=answers.n_tasks)
    out = np.full(len(answers.value), np.nan)
    np.divide(s[answers.task] - answers.value, n - 1.0, out=out, where=n > 1)
    return out


def worker_correlation(answers: Any, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per worker, the Pearson correlation of his answers with ``other`` (one value per answer,
    NaN where unknown) and the number of pairs used. NaN with fewer than 3 pairs or when
    ``other`` does not vary; 0 when his answers do not vary but ``other`` does."""
    m = answers.n_workers
    ok = np.isfinite(other)
    w, x, y = answers.worker[ok], answers.value[ok], np.asarray(other)[ok]
    n = np.bincount(w, minlength=m).astype(np.float64)
    safe = np.maximum(n, 1.0)
    dx = x - (np.bincount(w, x, m) / safe)[w]
    dy = y - (np.bincount(w, y, m) / safe)[w]
    sxy, sxx, syy = (np.bincount(w, a * b, m) for a, b in ((dx, dy), (dx, dx), (dy, dy)))
    scale = float(np.var(answers.value)) if len(answers.value) else 1.0
    tiny = 1e-12 * max(scale, 1e-300) * safe
    out = np.full(m, np.nan)
    good = (n >= 3) & (syy > tiny)
    both = good & (sxx > tiny)
    out[both] = sxy[both] / np.sqrt(sxx[both] * syy[both])
    out[good & ~both] = 0.0  # constant answers against a varying consensus
    return np.clip(out, -1.0, 1.0), n


def _per_worker_mean(answers: Any, values: np.ndarray) -> np.ndarray:
    ok = np.isfinite(values)
    n = np.bincount(answers.worker[ok], minlength=answers.n_workers).astype(np.float64)
    s = np.bincount(answers.worker[ok], weights=values[ok], minlength=answers.n_workers)
    out = np.full(answers.n_workers, np.nan)
    np.divide(s, n, out=out, where=n > 0)
    return out


def abs_deviation(answers: Any, estimates: np.ndarray) -> np.ndarray:
    """Mean absolute difference between a worker's answers and the aggregated estimates of his
    tasks (NaN for a worker without an estimated task)."""
    return _per_worker_mean(answers, np.abs(answers.value - np.asarray(estimates)[answers.task]))


def truth_mae(answers: Any) -> np.ndarray:
    """Mean absolute error of each worker's answers against the truth, on tasks whose truth is
    known (all NaN without truth)."""
    if not answers.has_truth:
        return np.full(answers.n_workers, np.nan)
    return _per_worker_mean(answers, np.abs(answers.value - answers.truth[answers.task]))


def truth_correlation(answers: Any) -> np.ndarray:
    """Pearson correlation of each worker's answers with the truth (NaN without truth)."""
    if not answers.has_truth:
        return np.full(answers.n_workers, np.nan)
    return worker_correlation(answers, answers.truth[answers.task])[0]


# ---------------------------------------------------------------------- flags
def adversarial_flags(corr: np.ndarray, n_pairs: np.ndarray) -> np.ndarray:
    """Correlation with the consensus significantly below ``-SPAM_CORRELATION``:
    ``atanh(r) + 1.96 / sqrt(n - 3) < atanh(-0.2)`` on at least :data:`MIN_FLAG_ANSWERS`
    pairs."""
    r = np.clip(np.asarray(corr, dtype=np.float64), -0.999999, 0.999999)
    n = np.asarray(n_pairs, dtype=np.float64)
    enough = (n >= MIN_FLAG_ANSWERS) & np.isfinite(r)
    upper = np.full(len(r), np.inf)
    upper[enough] = np.arctanh(r[enough]) + _Z95 / np.sqrt(n[enough] - 3.0)
    return enough & (upper < np.arctanh(-SPAM_CORRELATION))


def spammer_flags(corr: np.ndarray, n_pairs: np.ndarray,
                  threshold: float = SPAM_CORRELATION) -> np.ndarray:
    """``peer-correlation`` below ``threshold`` on at least :data:`MIN_FLAG_ANSWERS` pairs, and
    not adversarial."""
    r = np.asarray(corr, dtype=np.float64)
    enough = (np.asarray(n_pairs) >= MIN_FLAG_ANSWERS) & np.isfinite(r)
    return enough & (np.nan_to_num(r, nan=1.0) < threshold) & ~adversarial_flags(r, n_pairs)


def unreliable_flags(noise_sd: np.ndarray, n_answers: np.ndarray,
                     factor: float = NOISE_FACTOR) -> np.ndarray:
    """``noise_sd`` above ``factor`` times the answer-weighted median noise sd (workers with at
    least :data:`MIN_FLAG_ANSWERS` answers)."""
    from ..aggregate.regression.gaussian import _weighted_median

    sd = np.asarray(noise_sd, dtype=np.float64)
    n = np.asarray(n_answers, dtype=np.float64)
    known = np.isfinite(sd) & (n > 0)
    if not known.any():
        return np.zeros(len(sd), dtype=bool)
    typical = _weighted_median(sd[known], n[known])
    return known & (n >= MIN_FLAG_ANSWERS) & (sd > factor * typical)


# ---------------------------------------------------------------------- tasks, data set
def answer_sd(answers: Any) -> np.ndarray:
    """Sample standard deviation of each task's answers (NaN with fewer than two)."""
    n = answers.answers_per_task().astype(np.float64)
    mean = answers.task_means()
    r = answers.value - mean[answers.task]
    ss = np.bincount(answers.task, weights=r * r, minlength=answers.n_tasks)
    out = np.full(answers.n_tasks, np.nan)
    np.divide(ss, n - 1.0, out=out, where=n > 1)
    return np.sqrt(out)


def krippendorff_alpha_interval(answers: Any) -> float:
    r"""Krippendorff's alpha with the interval metric ``(a - b)^2`` [Kri11]_, in closed form.

    Tasks with fewer than two answers are left out. Over the ``n`` remaining answers,
    :math:`D_o = \frac1n\sum_u \frac{2 m_u S_{2u} - 2 S_{1u}^2}{m_u - 1}` (``S_1``, ``S_2``: sum
    and sum of squares of task ``u``'s ``m_u`` answers) and :math:`D_e = \frac{2 n S_2 -
    2 S_1^2}{n (n - 1)}`; :math:`\alpha = 1 - D_o / D_e` (1.0 when every answer is equal). The
    same value as crowd-kit's ``alpha_krippendorff(frame, interval_distance)``, in one pass
    instead of a matrix over the distinct values.
    """
    m = answers.answers_per_task().astype(np.float64)
    keep = (m >= 2)[answers.task]
    if not keep.any():
        return float("nan")
    t, y = answers.task[keep], answers.value[keep]
    s1 = np.bincount(t, weights=y, minlength=answers.n_tasks)
    s2 = np.bincount(t, weights=y * y, minlength=answers.n_tasks)
    mu = np.where(m >= 2, m, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        within = np.where(mu > 0, (2 * mu * s2 - 2 * s1 * s1) / (mu - 1), 0.0)
    n = float(len(y))
    observed = float(within.sum()) / n
    expected = (2 * n * float((y * y).sum()) - 2 * float(y.sum()) ** 2) / (n * (n - 1))
    if expected <= 0:
        return 1.0
    return 1.0 - observed / expected


# ---------------------------------------------------------------------- identify
def fitted_regression(answers: Any, strategy: Any) -> Any:
    """A fitted regression strategy: ``strategy`` itself when it is fitted, else the strategy
    spec fitted here (``"default"``: :data:`DEFAULT_STRATEGY`)."""
    if not isinstance(strategy, str):
        return strategy
    from ..aggregate.regression import make_regression_strategy

    spec = DEFAULT_STRATEGY if strategy.strip().lower() == "default" else strategy
    return make_regression_strategy(spec).fit(answers)


def metric_names(metrics: Any) -> list[str]:
    """The regression metrics asked for (every one when ``None`` or ``"all"``)."""
    if metrics is None:
        return list(METRICS)
    names = list(dict.fromkeys([metrics] if isinstance(metrics, str) else metrics))
    check_metrics(names, "regression")
    if "all" in names:
        return list(METRICS)
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise CrowdlearnError(f"unknown metric {unknown[0]!r} (choose from "
                              f"{', '.join(METRICS)}, or all)")
    return names


def identify_regression(answers: Any, strategy: Any = "default", metrics: Any = None) -> Any:
    """Per-worker, per-task and data-set diagnostics of real-valued ``answers`` (see the module
    docstring); a :class:`~crowdlearn.identify.Diagnosis` whose ``tasks`` table has the
    aggregated ``estimate`` in place of a label."""
    import pandas as pd

    from . import Diagnosis

    names = metric_names(metrics)  # refusals before the fit
    est = fitted_regression(answers, strategy)
    arrays = est.result_arrays()
    estimates = arrays["estimates"]
    cache: dict[str, Any] = {}

    def peer() -> tuple[np.ndarray, np.ndarray]:
        if "peer" not in cache:
            cache["peer"] = worker_correlation(answers, peer_means(answers))
        return cache["peer"]

    per_worker = answers.answers_per_worker()
    w: dict[str, Any] = {"worker": answers.worker_ids}
    for name in (m for m in WORKER_METRICS if m in names):
        if name == "n-answers":
            w[name] = per_worker.astype(np.int64)
        elif name in ("bias", "scale", "noise-sd"):
            w[name] = arrays[name.replace("-", "_")]
        elif name == "abs-deviation":
            w[name] = abs_deviation(answers, estimates)
        elif name == "peer-correlation":
            w[name] = peer()[0]
        elif name == "truth-mae":
            w[name] = truth_mae(answers)
        elif name == "truth-correlation":
            w[name] = truth_correlation(answers)
        elif name == "spammer":
            w[name] = spammer_flags(*peer())
        elif name == "adversarial":
            w[name] = adversarial_flags(*peer())
        else:
            w[name] = unreliable_flags(arrays["noise_sd"], per_worker)
    t: dict[str, Any] = {"task": answers.task_ids, "estimate": estimates}
    for name in (m for m in TASK_METRICS if m in names):
        if name == "n-answers":
            t[name] = answers.answers_per_task().astype(np.int64)
        elif name == "posterior-sd":
            t[name] = arrays["posterior_sd"]
        else:
            t[name] = answer_sd(answers)
    data = {"krippendorff-alpha": krippendorff_alpha_interval(answers)} \
        if "krippendorff-alpha" in names else {}
    return Diagnosis(pd.DataFrame(w), pd.DataFrame(t), data, est)
