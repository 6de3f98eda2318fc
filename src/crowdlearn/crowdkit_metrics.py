"""crowd-kit's metric and post-processing functions, on DataFrames, vectorised.

Same names, arguments and results as ``crowdkit.metrics.data`` (``consistency``,
``uncertainty``, ``alpha_krippendorff`` with its distance functions),
``crowdkit.metrics.workers`` (``accuracy_on_aggregates``) and ``crowdkit.postprocessing``
(``entropy_threshold``); re-exported by :mod:`crowdlearn.metrics` and
:mod:`crowdlearn.postprocessing`. Every per-answer quantity is one array operation over the
factorised (task, worker, label) columns (``np.bincount``, fancy indexing), never a row-wise
``apply``.

Under the one-coin model a worker of skill :math:`s` gives label :math:`l` on a task of class
:math:`k` with probability :math:`s` if :math:`l = k` and :math:`(1 - s)/(L - 1)` otherwise
(``L`` labels seen in the data); ``consistency`` and ``uncertainty`` use these probabilities.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from .errors import DataError, MissingColumnError

__all__ = [
    "accuracy_on_aggregates",
    "alpha_krippendorff",
    "binary_distance",
    "consistency",
    "entropy_threshold",
    "interval_distance",
    "masi_distance",
    "uncertainty",
]


class MissingSkillError(DataError, AssertionError):
    """A worker has no skill (an ``AssertionError``, as crowd-kit raises, and a DataError)."""


def _check(answers: Any) -> None:
    import pandas as pd

    if not isinstance(answers, pd.DataFrame):
        raise TypeError("Working only with pandas DataFrame")
    missing = [c for c in ("task", "worker", "label") if c not in answers.columns]
    if missing:
        raise MissingColumnError(f"missing column(s) {', '.join(missing)}", source="answers")


def _codes(values: Any) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(values).to_numpy(), sort=False)
    return codes, np.asarray(uniques, dtype=object)


def _skills_per_answer(answers: Any, skills: Any) -> np.ndarray:
    """The skill of each answer's worker (NaN where unknown)."""
    import pandas as pd

    if skills is None:
        return np.ones(len(answers))
    if not isinstance(skills, pd.Series):
        return np.full(len(answers), float(skills))
    return skills.reindex(answers["worker"].to_numpy()).to_numpy(dtype=np.float64)


def _one_coin_probas(label: np.ndarray, n_labels: int, skill: np.ndarray) -> np.ndarray:
    """(answers x labels) probability of each answer given each true label (one-coin)."""
    off = (1.0 - skill) / max(n_labels - 1, 1)
    p = np.repeat(off[:, None], n_labels, axis=1)
    p[np.arange(len(label)), label] = skill
    return p


def consistency(
    answers: Any,
    workers_skills: Any = None,
    aggregator: Any = None,
    by_task: bool = False,
) -> Any:
    """Posterior probability of the aggregated label under the one-coin model (crowd-kit).

    ``aggregator`` (default :class:`~crowdlearn.aggregate.MajorityVote` with crowd-kit's
    first-label tie rule) labels the tasks; ``workers_skills`` (Series by worker) default to its
    ``skills_``. Returns the mean over tasks, or the Series per task with ``by_task``.
    """
    import pandas as pd

    from .aggregate import MajorityVote

    _check(answers)
    aggregator = MajorityVote(tie_break="first") if aggregator is None else aggregator
    aggregated = aggregator.fit_predict(answers)
    if workers_skills is None:
        if getattr(aggregator, "skills_", None) is None:
            raise MissingSkillError("this aggregator learns no skills_; give workers_skills")
        workers_skills = aggregator.skills_
    t, tasks = _codes(answers["task"])
    lab, labels = _codes(answers["label"])
    p = _one_coin_probas(lab, len(labels), _skills_per_answer(answers, workers_skills))
    # product over each task's answers: sum of logs, zeros counted apart
    zero = p == 0
    logs = np.log(np.where(zero, 1.0, p))
    n_t, n_l = len(tasks), len(labels)
    cell = (t[:, None] * n_l + np.arange(n_l)[None, :]).ravel()
    log_sum = np.bincount(cell, logs.ravel(), minlength=n_t * n_l).reshape(n_t, n_l)
    zeros = np.bincount(cell, zero.ravel(), minlength=n_t * n_l).reshape(n_t, n_l)
    prod = np.where(zeros > 0, 0.0, np.exp(log_sum))
    agg = pd.Series(aggregated).reindex(tasks)
    agg_code = pd.Index(labels).get_indexer(agg.to_numpy())
    denom = prod.sum(axis=1)
    picked = prod[np.arange(n_t), np.maximum(agg_code, 0)]
    out = np.zeros(n_t)
    np.divide(picked, denom, out=out, where=denom != 0)
    result = pd.Series(out, index=pd.Index(tasks, name="task")).sort_index()
    return result if by_task else float(result.mean())


def uncertainty(
    answers: Any,
    workers_skills: Any = None,
    aggregator: Any = None,
    compute_by: str = "task",
    aggregate: bool = True,
) -> Any:
    """Entropy of the label distribution per task or per worker (crowd-kit's ``uncertainty``).

    Each answer spreads the one-coin probabilities of its worker's skill (``workers_skills``,
    else ``aggregator.skills_`` after fitting, else 1) over the labels; the distribution of a
    task (``compute_by="task"``) or worker (``"worker"``) is the normalised sum. Returns the
    mean entropy, or the Series with ``aggregate=False``.
    """
    import pandas as pd

    _check(answers)
    if compute_by not in answers.columns:
        raise MissingColumnError(f"no column {compute_by!r} to compute uncertainty by",
                                 source="answers")
    if workers_skills is None and aggregator is not None:
        aggregator.fit(answers)
        if getattr(aggregator, "skills_", None) is None:
            raise MissingSkillError("this aggregator learns no skills_; give workers_skills")
        workers_skills = aggregator.skills_
    skill = _skills_per_answer(answers, workers_skills)
    if np.isnan(skill).any():
        missing = sorted(set(answers["worker"].to_numpy()[np.isnan(skill)].tolist()), key=str)
        raise MissingSkillError(f"Did not provide skills for workers: {missing}",
                                field="workers_skills")
    lab, labels = _codes(answers["label"])
    g_codes, groups = pd.factorize(answers[compute_by].to_numpy(), sort=True)
    p = _one_coin_probas(lab, len(labels), skill)
    n_g, n_l = len(groups), len(labels)
    cell = (g_codes[:, None] * n_l + np.arange(n_l)[None, :]).ravel()
    sums = np.bincount(cell, p.ravel(), minlength=n_g * n_l).reshape(n_g, n_l)
    values = _entropy_rows(sums / (sums.sum(axis=1, keepdims=True) + 1e-6)) if n_g else \
        np.zeros(0)
    result = pd.Series(values, index=pd.Index(groups, name=compute_by))
    return float(result.mean()) if aggregate else result


def _entropy_rows(pk: np.ndarray) -> np.ndarray:
    """``scipy.stats.entropy(pk, axis=1)`` (rows normalised, natural log, ``0 log 0 = 0``)
    without importing scipy.stats (two seconds of a cold start)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        q = pk / pk.sum(axis=1, keepdims=True)
        return -(q * np.log(np.where(q > 0, q, 1.0))).sum(axis=1)


def binary_distance(label1: Hashable, label2: Hashable) -> float:
    """0.0 for equal labels, 1.0 otherwise."""
    return 0.0 if label1 == label2 else 1.0


def interval_distance(label1: Any, label2: Any) -> float:
    """Squared difference of two numeric labels (Krippendorff's interval metric)."""
    return float((label1 - label2) ** 2)


def masi_distance(label1: Any, label2: Any) -> float:
    """MASI distance between two label sets (Passonneau 2006): ``1 - Jaccard * m`` with
    ``m`` = 1 (equal), 0.67 (one contains the other), 0.33 (overlap) or 0 (disjoint)."""
    a, b = set(label1), set(label2)
    inter, union = len(a & b), len(a | b)
    if len(a) == len(b) == inter:
        m = 1.0
    elif inter == min(len(a), len(b)):
        m = 0.67
    elif inter > 0:
        m = 0.33
    else:
        m = 0.0
    return 1.0 - (inter / union if union else 0.0) * m


def alpha_krippendorff(
    answers: Any, distance: Callable[[Hashable, Hashable], float] = binary_distance
) -> float:
    r"""Krippendorff's alpha (1980): agreement beyond chance, :math:`1 - D_o / D_e`.

    Tasks with fewer than two answers are left out. With :math:`n_{u,c}` the answers of label
    :math:`c` on task :math:`u` (:math:`m_u` in all), :math:`N_c` the column totals and
    :math:`N` their sum:
    :math:`D_o = \frac1N\sum_u \frac{n_u^\top D\, n_u}{m_u - 1}` and
    :math:`D_e = \frac{N^\top D\, N}{N(N-1)}`, ``D`` the ``distance`` between labels (evaluated
    once per pair of distinct labels). One label only: 1.0, as nltk (and crowd-kit).
    """
    _check(answers)
    t, tasks = _codes(answers["task"])
    lab, labels = _codes(answers["label"])
    n_l = len(labels)
    if n_l == 0:
        raise ValueError("Cannot calculate alpha, no data present!")
    if n_l == 1:
        return 1.0
    d = np.array([[distance(a, b) for b in labels] for a in labels], dtype=np.float64)
    counts = np.bincount(t * n_l + lab, minlength=len(tasks) * n_l).reshape(len(tasks), n_l)
    m = counts.sum(axis=1)
    keep = m >= 2
    counts, m = counts[keep].astype(np.float64), m[keep]
    if not len(m):
        raise ValueError("Cannot calculate alpha: no task has two answers")
    observed = float((((counts @ d) * counts).sum(axis=1) / (m - 1)).sum())
    totals = counts.sum(axis=0)
    n = totals.sum()
    expected = float(totals @ d @ totals) / (n * (n - 1))
    return 1.0 - (observed / n) / expected


def accuracy_on_aggregates(
    answers: Any, aggregator: Any = None, aggregates: Any = None, by: str | None = None
) -> Any:
    """Share of answers equal to the aggregated label of their task (crowd-kit's metric).

    ``aggregates`` (Series by task) or ``aggregator`` (default
    :class:`~crowdlearn.aggregate.MajorityVote` with crowd-kit's tie rule) give the labels;
    ``by="worker"`` returns one accuracy per worker.
    """
    import pandas as pd

    from .aggregate import MajorityVote

    _check(answers)
    if aggregates is None:
        aggregator = MajorityVote(tie_break="first") if aggregator is None else aggregator
        aggregates = aggregator.fit_predict(answers)
    frame = answers[["task", "worker", "label"]].drop_duplicates()
    truth = pd.Series(aggregates).reindex(frame["task"].to_numpy()).to_numpy()
    known = ~pd.isna(truth)
    hits = (frame["label"].to_numpy() == truth) & known
    if by is None:
        return float(hits.sum() / known.sum())
    codes, groups = pd.factorize(frame[by].to_numpy(), sort=True)
    n = np.bincount(codes, known, minlength=len(groups))
    h = np.bincount(codes, hits, minlength=len(groups))
    return pd.Series(h / np.where(n > 0, n, np.nan), index=pd.Index(groups, name=by))


def entropy_threshold(
    answers: Any, workers_skills: Any = None, percentile: int = 10, min_answers: int = 2
) -> Any:
    """Drop the answers of workers whose label entropy is at or below the ``percentile``-th
    percentile (e.g. a worker always clicking the same button); only workers with at least
    ``min_answers`` answers can be dropped. Warns when half of the answers or more go
    (crowd-kit's ``entropy_threshold``)."""
    _check(answers)
    counts = answers["worker"].value_counts()
    eligible = answers[answers["worker"].isin(counts.index[counts >= min_answers])]
    per_worker = uncertainty(eligible, workers_skills, compute_by="worker", aggregate=False)
    cutoff = np.percentile(per_worker, percentile)
    removed = per_worker.index[per_worker <= cutoff]
    kept = answers[~answers["worker"].isin(removed)]
    if kept.shape[0] <= answers.shape[0] // 2:
        warnings.warn("Removed >= 1/2 of answers with entropy_threshold. This might lead to "
                      "poor annotation quality. Try decreasing percentile or min_answers.",
                      stacklevel=2)
    return kept
