"""Majority vote weighted by each worker's accuracy on gold tasks (crowd-kit's
``GoldMajorityVote``)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..answers import Answers
from ..errors import DataError
from ..params import SEED, TIE_BREAK, Choice, Float, Param
from .base import Aggregator, _as_answers
from .majority import MajorityVote

__all__ = ["GoldMajorityVote"]


class GoldMajorityVote(Aggregator):
    r"""Majority vote weighted by each worker's accuracy on gold tasks (crowd-kit's
    ``GoldMajorityVote``).

    ``fit(data, true_labels)`` sets each worker's skill to the share of its answers on gold
    tasks that match a gold label (a task may have several accepted gold labels), then takes
    the skill-weighted vote of ``data``: :math:`\hat p_{t,k} \propto \sum_w s_w
    \mathbf 1[y_{tw} = k]`. ``predict(data)`` / ``predict_proba(data)`` apply the fitted skills
    to other answers. Gold labels serve to estimate skills only: unlike the other strategies,
    the gold tasks' labels are *not* clamped (crowd-kit's results).

    Parameters
    ----------
    default_skill, on_missing_skill
        For workers without an answer on a gold task (see :class:`MajorityVote`); crowd-kit
        raises (``"error"``, the default).
    tie_break, random_state
        As in :class:`MajorityVote`.

    References
    ----------
    Ustalov, Pavlichenko & Tseitlin (2023), "Learning from crowds with Crowd-Kit",
    arXiv:2109.08584 (``GoldMajorityVote``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"task": list("aabbcc"), "worker": list("xyxyxy"),
    ...                    "label": [1, 0, 1, 1, 0, 1]})
    >>> GoldMajorityVote().fit(df, pd.Series({"a": 1, "b": 1})).skills_.tolist()
    [1.0, 0.5]
    """

    incremental_kind: ClassVar[str] = "mv"  # partial_fit: see crowdlearn.aggregate.incremental
    param_specs: ClassVar[dict[str, Param]] = {
        "default_skill": Float(none=True), "on_missing_skill": Choice("error", "value", "ignore"),
        "tie_break": TIE_BREAK, "random_state": SEED,
    }

    def __init__(
        self,
        default_skill: float | None = None,
        on_missing_skill: str = "error",
        tie_break: str = "random",
        random_state: Any = 0,
    ) -> None:
        self.default_skill = default_skill
        self.on_missing_skill = on_missing_skill
        self.tie_break = tie_break
        self.random_state = random_state

    def fit(self, data: Any, true_labels: Any = None, *, gold: Any = None) -> GoldMajorityVote:
        """Learn worker skills from the gold labels, then label ``data`` by weighted vote."""
        gold = true_labels if gold is None else gold
        if gold is None:
            raise DataError("GoldMajorityVote needs gold labels (true_labels)",
                            field="true_labels")
        self._gold_in = gold
        try:
            super().fit(data)
        finally:
            del self._gold_in
        return self

    def fit_predict(self, data: Any, true_labels: Any = None, *, gold: Any = None) -> Any:
        """Fit, then return ``labels_``."""
        return self.fit(data, true_labels, gold=gold).labels_

    def fit_predict_proba(self, data: Any, true_labels: Any = None, *, gold: Any = None) -> Any:
        """Fit, then return ``probas_``."""
        return self.fit(data, true_labels, gold=gold).probas_

    def _fit(self, answers: Answers) -> None:
        task, cls = _gold_pairs(answers, self._gold_in)
        k = max(answers.n_classes, 1)
        on_gold = np.zeros(answers.n_tasks, dtype=bool)
        on_gold[task] = True
        judged = on_gold[answers.task]
        correct = np.isin(answers.task.astype(np.int64) * k + answers.label,
                          task.astype(np.int64) * k + cls) & judged
        n = np.bincount(answers.worker, weights=judged, minlength=answers.n_workers)
        hits = np.bincount(answers.worker, weights=correct, minlength=answers.n_workers)
        skills = np.full(answers.n_workers, np.nan)
        np.divide(hits, n, out=skills, where=n > 0)
        self.skills_ = skills
        mv = self._voter().fit(answers, skills)
        self.probas_, self.labels_ = mv.probas_, mv.labels_

    def _voter(self) -> MajorityVote:
        return MajorityVote(self.default_skill, self.on_missing_skill, self.tie_break,
                            self.random_state)

    def _to_pandas(self, answers: Answers) -> None:
        super()._to_pandas(answers)
        if answers.n_tasks:
            self.skills_ = self.skills_.dropna()

    def predict_proba(self, data: Any) -> Any:
        """Skill-weighted vote shares of ``data`` with the fitted skills (sets ``probas_``)."""
        self._apply(data)
        return self.probas_

    def predict(self, data: Any) -> Any:
        """Skill-weighted vote of ``data`` with the fitted skills (sets ``labels_``)."""
        self._apply(data)
        return self.labels_

    def _apply(self, data: Any) -> None:
        self._check_fitted()
        skills = self.skills_
        if not hasattr(skills, "index"):  # fitted on Answers: skills by worker position
            import pandas as pd

            skills = pd.Series(skills, index=self.answers_.worker_ids).dropna()
            answers, _ = _as_answers(data)
            skills = skills.reindex(answers.worker_ids)
        mv = self._voter().fit(data, skills)
        self.labels_, self.probas_ = mv.labels_, mv.probas_


def _gold_pairs(answers: Answers, gold: Any) -> tuple[np.ndarray, np.ndarray]:
    """(task index, class index) of every gold label of a task of ``answers`` (a task may
    have several); ``gold`` as in :func:`~crowdlearn.aggregate.base.gold_indices`."""
    import pandas as pd

    from .base import gold_indices

    if isinstance(gold, pd.Series) and not gold.index.is_unique:
        pos = pd.Index(answers.task_ids).get_indexer(pd.Index(gold.index)) \
            if answers.n_tasks else np.full(len(gold), -1)
        keep = pos >= 0
        cls = pd.Index(answers.classes).get_indexer(pd.Index(gold.to_numpy()[keep]))
        ok = cls >= 0  # a gold label nobody gave matches no answer
        return pos[keep][ok], cls[ok]
    idx = gold_indices(answers, gold)
    rows = np.flatnonzero(idx >= 0)
    return rows, idx[rows]
