"""The :class:`Experiment` record a protocol returns, and the statistics of its annotators.

:func:`_merge_settings` (also used by :func:`~.runner.run_experiment`) applies user overrides to
a protocol's :class:`~crowdlearn.deep.CrowdClassifier` settings.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...answers import Answers


@dataclass(eq=False, repr=False, kw_only=True)
class Experiment:
    """One protocol's data and settings, ready for :class:`~crowdlearn.deep.CrowdClassifier`.

    Attributes
    ----------
    name:
        The protocol (``"cifar10-synthetic"``, ...).
    x:
        Training items in the answers' task order: ``uint8`` images ``(N, C, H, W)`` or float
        features.
    answers:
        The crowd answers, with the truth of the training items.
    x_test, y_test:
        Test items and their true labels (class names, as ``answers.classes``).
    true_confusions:
        ``(workers, K, K)`` confusions in the answers' worker order, rows = true class: the
        simulated ones, or the machine annotators' empirical ones; ``None`` for real crowds.
    settings:
        Keyword arguments of :class:`~crowdlearn.deep.CrowdClassifier` (the paper's).
    info:
        Provenance and parameters recorded in ``results.json`` (``protocol``).
    x_val, y_val:
        The data set's own validation split, when it has one (scored, never trained on).
    """

    name: str
    x: Any
    answers: Answers
    x_test: Any = None
    y_test: Any = None
    true_confusions: np.ndarray | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    x_val: Any = None
    y_val: Any = None

    @property
    def stats(self) -> dict[str, Any]:
        """:func:`annotator_stats` of the answers."""
        return annotator_stats(self.answers)

    def classifier(self, **overrides: Any) -> Any:
        """A :class:`~crowdlearn.deep.CrowdClassifier` with the settings (and ``overrides``)."""
        from ...deep import CrowdClassifier

        return CrowdClassifier(**_merge_settings(self.settings, overrides))

    def __repr__(self) -> str:
        a = self.answers
        test = 0 if self.x_test is None else len(self.x_test)
        return (f"Experiment({self.name!r}, {a.n_tasks} tasks, {a.n_workers} workers, "
                f"{a.n_classes} classes, {a.n_answers} answers, {test} test items)")


def annotator_stats(answers: Answers) -> dict[str, Any]:
    """Counts and accuracies of the annotators (accuracy needs the answers' truth).

    ``missing_rate`` is the share of (task, worker) pairs without an answer; ``worker_accuracy``
    the share of each worker's answers equal to the truth (``None`` without answers).
    """
    n_t, n_w, n_a = answers.n_tasks, answers.n_workers, answers.n_answers
    per_task = np.bincount(answers.task, minlength=n_t)
    per_worker = np.bincount(answers.worker, minlength=n_w)
    out: dict[str, Any] = {
        "n_tasks": n_t, "n_workers": n_w, "n_answers": n_a,
        "answers_per_task": float(per_task.mean()) if n_t else 0.0,
        "tasks_without_answers": int((per_task == 0).sum()),
        "missing_rate": 1.0 - n_a / (n_t * n_w) if n_t and n_w else None,
        "worker_answers": per_worker.tolist(),
    }
    if answers.truth is not None:
        truth = answers.truth[answers.task]
        known = truth >= 0
        hits = (answers.label[known] == truth[known]).astype(np.float64)
        right = np.bincount(answers.worker[known], weights=hits, minlength=n_w)
        seen = np.bincount(answers.worker[known], minlength=n_w)
        out["worker_accuracy"] = [round(float(r / s), 4) if s else None
                                  for r, s in zip(right, seen, strict=True)]
        out["answer_accuracy"] = float(right.sum() / seen.sum()) if seen.sum() else None
    return out


def _lam_applies(strategy: str) -> bool:
    from ...aggregate.base import parse_strategy_spec
    from ...deep.heads import get_head_class

    cls = get_head_class(parse_strategy_spec(strategy)[0])
    return "lam" in inspect.signature(cls.__init__).parameters


def _merge_settings(settings: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The protocol's settings with ``overrides``; protocol parts tied to what is replaced go.

    A new backbone drops the protocol's backbone parameters (and pretrained weights, unless it
    is a torchvision model too); a new strategy drops the protocol's lambda unless the new
    strategy takes one.
    """
    out = dict(settings)
    over = {k: v for k, v in overrides.items() if v is not None}
    if "backbone" in over and over["backbone"] != out.get("backbone"):
        out.pop("backbone_params", None)
        if not str(over["backbone"]).lower().startswith("torchvision."):
            out.pop("pretrained", None)
    if "strategy" in over and over["strategy"] != out.get("strategy"):
        out.pop("strategy_params", None)
        if "lam" not in over and not _lam_applies(over["strategy"]):
            out.pop("lam", None)
    for key in ("backbone_params", "strategy_params"):
        if key in over:
            out[key] = {**(out.get(key) or {}), **over.pop(key)} or None
    out.update(over)
    return out
