"""Diagnostics: which workers are spammers or adversaries, which tasks are ambiguous.

:func:`identify` fits (or takes) an aggregator and returns a :class:`Diagnosis`: a per-worker
table, a per-task table and data-set agreement measures, each with the metrics asked for by
name (:data:`WORKER_METRICS`, :data:`TASK_METRICS`, :data:`DATASET_METRICS`). All are label-only
(no classifier): vectorised over the (task, worker, label) answer arrays.

Worker metrics based on confusion matrices (``trace``, ``spam-score``, ``spammer``,
``adversarial``) use the aggregator's ``confusions_`` when it learns them; otherwise a
Dawid-Skene model is fitted for them, as peerannot's ``identify`` does. ``glad-ability``,
``glad-difficulty``, ``mace-competence`` and ``onecoin-skill`` reuse the aggregator when it is
that model, else fit it.

The flag rules (:func:`~crowdlearn.identify.workers.spammer_flags`,
:func:`~crowdlearn.identify.workers.adversarial_flags`):

* **spammer**: spam score (Raykar & Yu 2011) below 0.05;
* **adversarial**: the confusion matrix's best-matching label permutation is not the identity
  and beats the diagonal by more than 0.2 per class.

Real-valued answers (a :class:`~crowdlearn.real.RealAnswers`) get the regression diagnostics of
:mod:`crowdlearn.identify.regression` (worker bias, scale, noise sd, correlation with the
consensus, their own flag rules; task posterior sd and answer spread); a metric that scores
class labels is refused for them in one line, and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import dataset, tasks, workers
from .dataset import METRICS as DATASET_METRICS
from .dataset import fleiss_kappa

#: per-worker metrics, by name
WORKER_METRICS: tuple[str, ...] = (
    "n-answers", "agreement", "peer-agreement", "accuracy", "trace", "spam-score", "spammer",
    "adversarial", "glad-ability", "mace-competence", "onecoin-skill",
)
#: per-task metrics, by name
TASK_METRICS: tuple[str, ...] = (
    "n-answers", "vote-entropy", "posterior-entropy", "margin", "glad-difficulty", "aum",
    "waum",
)
#: task metrics that train a classifier on the items (:mod:`crowdlearn.identify.aum`)
CLASSIFIER_METRICS: tuple[str, ...] = ("aum", "waum")
#: metrics that fit a model of their own unless the aggregator is that model
MODEL_METRICS: dict[str, str] = {
    "glad-ability": "glad", "glad-difficulty": "glad", "mace-competence": "mace",
    "onecoin-skill": "onecoin",
}
ALL_METRICS: tuple[str, ...] = tuple(dict.fromkeys(
    WORKER_METRICS + TASK_METRICS + DATASET_METRICS))
#: what :func:`identify` computes by default: every label-only metric but the model-specific
#: ones of other strategies (those of the aggregator itself are added)
DEFAULT_METRICS: tuple[str, ...] = tuple(
    m for m in ALL_METRICS if m not in MODEL_METRICS and m not in CLASSIFIER_METRICS)

__all__ = [
    "ALL_METRICS", "CLASSIFIER_METRICS", "DATASET_METRICS", "DEFAULT_METRICS", "Diagnosis",
    "TASK_METRICS", "WORKER_METRICS", "dataset", "fleiss_kappa", "identify", "tasks", "workers",
]


@dataclass
class Diagnosis:
    """What :func:`identify` found.

    Attributes
    ----------
    workers, tasks : pandas.DataFrame
        One row per worker (column ``worker``, original ids) / task (``task``, plus the
        aggregated ``label`` and its posterior ``confidence``), a column per metric.
    dataset : dict
        Data-set metrics by name.
    aggregator : Aggregator
        The fitted aggregator whose labels and posteriors were used.
    margins : dict
        ``"aum"`` / ``"waum"``: the :class:`~crowdlearn.identify.aum.MarginResult` of each
        classifier metric computed.
    confusions : ndarray or None
        The worker confusion matrices the metrics used (the aggregator's, else Dawid-Skene's),
        when a metric needed them.
    """

    workers: Any
    tasks: Any
    dataset: dict[str, float] = field(default_factory=dict)
    aggregator: Any = None
    margins: dict[str, Any] = field(default_factory=dict)
    confusions: Any = None


def _strategy_name(est: Any) -> str:
    return str(getattr(type(est), "name", type(est).__name__)).lower()


def identify(answers: Any, strategy: Any = "default", metrics: Iterable[str] | None = None,
             *, random_state: int | None = None, items: Any = None,
             classifier_params: dict[str, Any] | None = None) -> Diagnosis:
    """Per-worker, per-task and data-set diagnostics of crowd ``answers``.

    Parameters
    ----------
    answers : Answers or RealAnswers
        Real values get the regression diagnostics (:mod:`crowdlearn.identify.regression`:
        strategy ``"default"`` is ``bias-scale``, metrics from its ``METRICS``).
    strategy : str or Aggregator
        A strategy spec (``"ds"``, ``"glad[n_iter=50]"``) fitted here, or a fitted aggregator
        (fitted on ``answers``).
    metrics : iterable of str, optional
        Names from :data:`ALL_METRICS` (``"all"`` for every one); default
        :data:`DEFAULT_METRICS` plus the model-specific metrics of the strategy itself.
    random_state : int, optional
        Seed of randomised strategies.
    items : array, DataFrame or Features, optional
        One item per task (features or images, as ``crowdlearn fit``): needed by ``aum`` and
        ``waum`` (:data:`CLASSIFIER_METRICS`), which train a classifier on them. ``"all"``
        includes them only when items are given. The AUM learns the aggregator's hard
        labels; the WAUM's trust is the aggregator's confusion matrices (Dawid-Skene's when
        it learns none).
    classifier_params : dict, optional
        Keyword arguments of :func:`crowdlearn.identify.aum.aum` / ``waum`` (``backbone``,
        ``n_epochs``, ``lr``, ``margin``, ``transform``, ``device``, ...).

    Examples
    --------
    >>> from crowdlearn.simulate import simulate
    >>> crowd = simulate(300, 3, workers=[("one-coin", 6, {"skill": 0.8}), ("spammer", 2)],
    ...                  answers_per_task=5, seed=0)
    >>> d = identify(crowd.answers, "ds", ["spammer"])
    >>> d.workers["spammer"].tolist()
    [False, False, False, False, False, False, True, True]
    """
    import pandas as pd

    from ..kinds import kind_of
    from .regression import check_metrics

    if kind_of(answers) == "regression":
        if items is not None:
            from ..errors import CrowdlearnError

            raise CrowdlearnError("aum and waum train a classifier on class labels: regression "
                                  "answers take no items")
        from .regression import identify_regression

        return identify_regression(answers, strategy, metrics)
    if metrics is not None:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        check_metrics(metrics, kind_of(answers))
    est = _fitted(answers, strategy, random_state)
    own = _strategy_name(est)
    if metrics is None:
        names = list(DEFAULT_METRICS) + [m for m, s in MODEL_METRICS.items() if s == own]
    else:
        names = list(dict.fromkeys([metrics] if isinstance(metrics, str) else metrics))
        if "all" in names:
            names = [m for m in ALL_METRICS if items is not None or m not in CLASSIFIER_METRICS]
    from ..errors import CrowdlearnError

    unknown = [m for m in names if m not in ALL_METRICS]
    if unknown:
        raise CrowdlearnError(f"unknown metric {unknown[0]!r} (choose from "
                              f"{', '.join(ALL_METRICS)}, or all)")
    needs = [m for m in names if m in CLASSIFIER_METRICS]
    if needs and items is None:
        raise CrowdlearnError(f"metric {needs[0]} trains a classifier: give the items "
                              "(features or images)")
    arrays = est.result_arrays()
    labels, probas = arrays["labels"].astype(np.int64), arrays["probas"]
    models: dict[str, Any] = {own: est}

    def model(name: str) -> Any:
        if name not in models:
            models[name] = _fitted(answers, name, random_state)
        return models[name]

    def confusions() -> np.ndarray:
        if "confusions" not in models:
            conf = arrays.get("confusions")
            models["confusions"] = conf if conf is not None and np.ndim(conf) == 3 else \
                model("ds").result_arrays()["confusions"]
        return models["confusions"]

    w: dict[str, Any] = {"worker": answers.worker_ids}
    t: dict[str, Any] = {"task": answers.task_ids, "label": answers.classes[labels],
                         "confidence": tasks.confidence(probas, labels)}
    found: dict[str, Any] = {}
    for name in names:
        if name in WORKER_METRICS:
            w[name] = _worker_metric(name, answers, labels, confusions, model)
        if name in CLASSIFIER_METRICS:
            from . import aum as margin_metrics

            params = dict(classifier_params or {})
            params.setdefault("seed", 0 if random_state is None else random_state)
            if name == "aum":
                hard = labels.copy()
                hard[answers.answers_per_task() == 0] = -1
                found[name] = margin_metrics.aum(items, answers, labels=hard, **params)
            else:
                found[name] = margin_metrics.waum(items, answers, confusions=confusions(),
                                                  **params)
            t[name] = found[name].values
        elif name in TASK_METRICS:
            t[name] = _task_metric(name, answers, probas, model)
    data = dataset.dataset_metrics(answers, [m for m in names if m in DATASET_METRICS])
    return Diagnosis(pd.DataFrame(w), pd.DataFrame(t), data, est, found,
                     models.get("confusions"))


def _fitted(answers: Any, strategy: Any, random_state: int | None) -> Any:
    if not isinstance(strategy, str):
        return strategy
    from ..aggregate import get_strategy_class, make_strategy, parse_strategy_spec

    name, params = parse_strategy_spec(strategy)
    cls = get_strategy_class(name)
    if random_state is not None and "random_state" in cls._param_names():
        params.setdefault("random_state", random_state)
    return make_strategy(name, **params).fit(answers)


def _worker_metric(name: str, answers: Any, labels: np.ndarray, confusions: Any, model: Any
                   ) -> np.ndarray:
    if name == "n-answers":
        return workers.n_answers(answers)
    if name == "agreement":
        return workers.agreement(answers, labels)
    if name == "peer-agreement":
        return workers.peer_agreement(answers)
    if name == "accuracy":
        return workers.accuracy(answers)
    if name == "trace":
        return workers.trace(confusions())
    if name == "spam-score":
        return workers.spam_score(confusions())
    if name == "spammer":
        return workers.spammer_flags(workers.spam_score(confusions()))
    if name == "adversarial":
        return workers.adversarial_flags(confusions())
    skills = model(MODEL_METRICS[name]).result_arrays().get("skills")
    return np.asarray(skills, dtype=np.float64)


def _task_metric(name: str, answers: Any, probas: np.ndarray, model: Any) -> np.ndarray:
    if name == "n-answers":
        return tasks.n_answers(answers)
    if name == "vote-entropy":
        return tasks.vote_entropy(answers)
    if name == "posterior-entropy":
        return tasks.posterior_entropy(probas)
    if name == "margin":
        return tasks.margin(probas)
    return np.asarray(model("glad").result_arrays()["difficulties"], dtype=np.float64)
