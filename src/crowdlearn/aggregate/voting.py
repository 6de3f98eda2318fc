"""Voting strategies: majority vote, vote frequencies, Wawa and Zero-Based Skill.

All of them work on the answer index arrays of :class:`~crowdlearn.answers.Answers`: a
(weighted) vote table is one ``np.bincount`` over ``task * K + label``, and a worker's agreement
with a set of labels is one ``np.bincount`` over ``worker``. Nothing loops over tasks, workers or
answers, and memory is O(answers + tasks x classes).

Class names and parameters follow crowd-kit (``MajorityVote``, ``Wawa``, ``ZeroBasedSkill``) and
peerannot (``NaiveSoft``); the deliberate differences are listed in each class docstring.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..answers import Answers
from ..errors import DataError
from ..params import N_ITER, POSITIVE, SEED, TIE_BREAK, TOL, Choice, Float, Int, Param
from ._device import DEVICE, fit_on_device
from .base import Aggregator, _as_answers, argmax_random_ties, break_ties, register, row_ties
from .incremental._api import IncrementalMixin

__all__ = [
    "GoldMajorityVote",
    "MajorityVote",
    "NaiveSoft",
    "Wawa",
    "ZeroBasedSkill",
    "hard_labels",
    "tied_max_probas",
    "vote_frequencies",
    "vote_table",
    "worker_agreement",
]

_TIE_RTOL = 1e-12  # the tie tolerance of ``argmax_random_ties``


# ---------------------------------------------------------------------- shared helpers
def vote_table(answers: Answers, weights: np.ndarray | None = None) -> np.ndarray:
    """Dense (tasks x classes) sum of votes, each answer counting ``weights[i]`` (default 1)."""
    n, k = answers.n_tasks, answers.n_classes
    cell = answers.task.astype(np.int64) * k + answers.label
    return np.bincount(cell, weights=weights, minlength=n * k).reshape(n, k).astype(np.float64)


def vote_frequencies(answers: Answers, weights: np.ndarray | None = None) -> np.ndarray:
    """(Weighted) vote shares per task; rows sum to 1.

    A task without answers gets the uniform distribution. With ``weights``, a task whose voters
    all weigh zero (e.g. workers of skill 0) falls back to its unweighted vote shares instead of
    dividing by zero.
    """
    table = vote_table(answers, weights)
    total = table.sum(axis=1)
    if weights is not None:
        void = total <= 0
        if void.any():
            counts = vote_table(answers)
            table[void] = counts[void]
            total[void] = counts[void].sum(axis=1)
    k = max(answers.n_classes, 1)
    out = np.full_like(table, 1.0 / k)
    np.divide(table, total[:, None], out=out, where=total[:, None] > 0)
    return out


def tied_max_probas(scores: np.ndarray) -> np.ndarray:
    """Uniform distribution over the classes of maximal score in each row (rows sum to 1)."""
    tied, n_tied, _ = row_ties(scores, _TIE_RTOL)
    return np.ascontiguousarray((tied / n_tied).T)


def worker_agreement(
    answers: Answers, labels: np.ndarray, empty: float = 0.0
) -> np.ndarray:
    """Share of each worker's answers equal to ``labels[task]``; ``empty`` for idle workers."""
    labels = np.asarray(labels)
    if labels.shape == (answers.n_tasks,):
        # answers are sorted by task: repeating each task's label is a cheaper gather
        per_answer = np.repeat(labels, answers.answers_per_task())
    else:
        per_answer = labels[answers.task]
    hits = (answers.label == per_answer).view(np.int8)
    # one integer bincount over (worker, hit) pairs gives both the answers and the hits
    pairs = np.bincount((answers.worker << 1) | hits, minlength=2 * answers.n_workers)
    pairs = pairs.reshape(answers.n_workers, 2)
    n_w = (pairs[:, 0] + pairs[:, 1]).astype(np.float64)
    out = np.full(answers.n_workers, float(empty))
    np.divide(pairs[:, 1], n_w, out=out, where=n_w > 0)
    return out


def _class_major_votes(answers: Answers) -> np.ndarray:
    """Integer vote counts, class-major: (classes x tasks), ``[k, t]`` = votes for k on t."""
    n, k = answers.n_tasks, answers.n_classes
    if n * k < 2**31:
        cell = answers.label * np.int32(n) + answers.task  # int32 arithmetic
    else:
        cell = answers.label.astype(np.int64) * n + answers.task
    return np.bincount(cell, minlength=n * k).reshape(k, n)


def _majority(counts: np.ndarray, tie_break: str, random_state: Any) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """Majority vote from class-major integer counts: (tasks x classes) posterior uniform over
    the tied classes and hard labels, exactly as ``tied_max_probas`` then ``hard_labels``.

    Counts are integers, so ties are exact; one max over ``count * K + (K - 1 - k)`` gives both
    the largest count and the first class reaching it.
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
    k, n = counts.shape
    key = counts * k
    key += np.arange(k - 1, -1, -1, dtype=key.dtype)[:, None]
    top = key.max(axis=0)
    first = (k - 1) - top % k
    tied = counts == (top // k)
    n_tied = tied.sum(axis=0, dtype=np.int16 if k < 2**15 else np.int64)
    multi = np.flatnonzero(n_tied > 1)
    probas = np.zeros((n, k))  # one-hot on the first tied class, then the tied rows
    probas.reshape(-1)[np.arange(0, n * k, k) + first] = 1.0
    probas[multi] = tied[:, multi].T / n_tied[multi, None]
    if tie_break == "random":
        first = break_ties(tied, n_tied, first, random_state)
    return probas, first


TIE_BREAKS = ("random", "first")


def hard_labels(probas: np.ndarray, tie_break: str = "random", random_state: Any = 0) -> np.ndarray:
    """Row-wise argmax: exact ties drawn with ``random_state`` (``"random"``) or the first
    tied class in class order (``"first"``, crowd-kit's ``idxmax`` rule).

    Ties are values within a relative 1e-12 of the row maximum (as in
    :func:`~crowdlearn.aggregate.base.argmax_random_ties`), so that sums of the same weights
    in another order still tie.
    """
    if tie_break == "random":
        return argmax_random_ties(probas, random_state)
    if tie_break == "first":
        probas = np.asarray(probas, dtype=np.float64)
        if probas.size == 0:
            return np.zeros(probas.shape[0], dtype=np.int64)
        return row_ties(probas, _TIE_RTOL)[2]
    raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")


def _skills_per_worker(
    skills: Any, answers: Answers, default_skill: float | None, on_missing_skill: str
) -> np.ndarray:
    """Worker skills as an array in ``answers`` worker order (crowd-kit's ``skills`` argument).

    ``skills`` is a pandas Series indexed by worker id or an array with one value per worker.
    Missing skills raise (``on_missing_skill="error"``), take ``default_skill`` (``"value"``) or
    weigh zero (``"ignore"``).
    """
    import pandas as pd

    if on_missing_skill not in ("error", "value", "ignore"):
        raise ValueError(
            f"on_missing_skill must be 'error', 'value' or 'ignore', got {on_missing_skill!r}"
        )
    if on_missing_skill != "value" and default_skill is not None:
        raise ValueError("default_skill is used but on_missing_skill is not 'value'")
    if isinstance(skills, pd.Series):
        pos = pd.Index(skills.index).get_indexer(answers.worker_ids)
        values = np.asarray(skills.to_numpy(), dtype=np.float64)
        out = np.where(pos >= 0, values[np.maximum(pos, 0)] if len(values) else np.nan, np.nan)
    else:
        out = np.asarray(skills, dtype=np.float64).reshape(-1)
        if out.shape != (answers.n_workers,):
            raise DataError(
                f"skills must be a Series indexed by worker id or have one value per worker "
                f"({answers.n_workers}), got shape {out.shape}", field="skills",
            )
        out = out.copy()
    missing = np.isnan(out)
    used = np.bincount(answers.worker, minlength=answers.n_workers) > 0
    if (missing & used).any():
        if on_missing_skill == "error":
            w = answers.worker_ids[int(np.argmax(missing & used))]
            raise DataError(
                f"no skill for worker {w!r} ({int((missing & used).sum())} worker(s) missing); "
                f"give every worker a skill or use on_missing_skill='value' or 'ignore'",
                field="skills",
            )
        out[missing] = default_skill if on_missing_skill == "value" else 0.0
    out[missing & ~used] = 0.0
    return out


class _SkillVotePredictor:
    """``predict`` / ``predict_proba`` of skill-weighted voters (crowd-kit's Wawa and ZBS API).

    New answers are scored with the fitted skills: each answer weighs its worker's skill,
    workers unseen at fit time weigh zero.
    """

    def predict_proba(self, data: Any) -> Any:
        """Skill-weighted vote shares of ``data`` (Answers or DataFrame) with the fitted skills."""
        self._check_fitted()  # type: ignore[attr-defined]
        import pandas as pd

        answers, from_frame = _as_answers(data)
        fitted = np.asarray(self.skills_, dtype=np.float64)  # type: ignore[attr-defined]
        pos = pd.Index(self.answers_.worker_ids)  # type: ignore[attr-defined].get_indexer(answers.worker_ids)
        skills = np.where(pos >= 0, fitted[np.maximum(pos, 0)], 0.0)
        probas = vote_frequencies(answers, skills[answers.worker])
        if not from_frame:
            return probas
        return pd.DataFrame(probas, index=pd.Index(answers.task_ids, name="task"),
                            columns=pd.Index(answers.classes, name="label"))

    def predict(self, data: Any) -> Any:
        """Hard labels of ``data`` (Answers or DataFrame) by skill-weighted vote."""
        import pandas as pd

        probas = self.predict_proba(data)
        labels = hard_labels(np.asarray(probas), self.tie_break,  # type: ignore[attr-defined]
                             self.random_state)  # type: ignore[attr-defined]
        if isinstance(probas, pd.DataFrame):
            return pd.Series(probas.columns.to_numpy()[labels], index=probas.index,
                             name="agg_label")
        return labels


# ---------------------------------------------------------------------- strategies
@register("mv", "majority-vote")
class MajorityVote(IncrementalMixin, Aggregator):
    r"""Majority vote: each task takes the label given by the most workers.

    The posterior is uniform over the classes with the largest vote count,

    .. math:: \hat p_{t,k} = \frac{\mathbf 1[n_{t,k} = \max_l n_{t,l}]}
                                  {\#\{l : n_{t,l} = \max_j n_{t,j}\}},

    and ``skills_`` is each worker's agreement with the hard labels (share of its answers equal
    to the task's label). With ``fit(data, skills)`` the votes are weighted by worker skill
    (weighted majority vote), as in crowd-kit.

    Parameters
    ----------
    default_skill : float, optional
        Weight of a worker missing from ``skills`` when ``on_missing_skill="value"``.
    on_missing_skill : {"error", "value", "ignore"}
        What to do with workers missing from ``skills``: raise, use ``default_skill`` or give
        them zero weight.
    tie_break : {"random", "first"}
        How exact ties between classes become a hard label: a draw seeded by ``random_state``
        (default) or the first tied class in class order (``"first"``). crowd-kit takes the
        first tied label in its column order: class order for a weighted vote, order of first
        appearance in the data for an unweighted one; ``"first"`` reproduces it whenever the
        labels first appear in class order.
    random_state : int or None
        Seed of the tie-breaking draw (default 0).

    posterior : {"shares", "tied"}
        ``probas_``: the (skill-weighted) vote shares (default, crowd-kit's ``probas_``, equal
        to :class:`NaiveSoft` without skills) or ``"tied"``, the uniform distribution over the
        classes with the most votes (crowdlearn's ``probas_`` before 0.x).
    device : None, "cpu", "cuda", "cuda:N" or "auto"
        Run on torch tensors on this device (see :mod:`crowdlearn.aggregate._device`);
        ``None`` (default): numpy.

    Notes
    -----
    Deliberate difference from crowd-kit's ``MajorityVote``: crowd-kit gives the *first* tied
    label; crowdlearn by default draws among the tied labels with a seeded generator (no
    systematic bias toward one class; ``tie_break="first"`` gives crowd-kit's rule).
    Workers without answers get skill 0. With ``on_missing_skill="ignore"`` the answers of
    workers without a skill are dropped (their skill is NaN, and absent from the pandas
    ``skills_``, as in crowd-kit); a fit where no worker has a skill raises ``ValueError``.

    References
    ----------
    The rule is classical; as a truth-inference baseline see Zheng, Li, Li, Shan & Cheng (2017),
    "Truth inference in crowdsourcing: is the problem solved?", *PVLDB* 10(5), 541-552.

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> a = Answers.from_arrays([0, 0, 0, 1, 1], ["x", "y", "z", "x", "y"], [1, 1, 0, 0, 1])
    >>> mv = MajorityVote().fit(a)
    >>> mv.probas_.round(3)
    array([[0.333, 0.667],
           [0.5  , 0.5  ]])
    >>> mv.labels_[0]
    np.int64(1)
    """

    incremental_kind: ClassVar[str] = "mv"  # partial_fit: see crowdlearn.aggregate.incremental
    param_specs: ClassVar[dict[str, Param]] = {
        "default_skill": Float(none=True), "on_missing_skill": Choice("error", "value", "ignore"),
        "tie_break": TIE_BREAK, "random_state": SEED, "posterior": Choice("shares", "tied"),
        "device": DEVICE,
    }

    def __init__(
        self,
        default_skill: float | None = None,
        on_missing_skill: str = "error",
        tie_break: str = "random",
        random_state: Any = 0,
        posterior: str = "shares",
        device: str | None = None,
    ) -> None:
        self.device = device
        self.default_skill = default_skill
        self.on_missing_skill = on_missing_skill
        self.tie_break = tie_break
        self.random_state = random_state
        self.posterior = posterior

    def fit(self, data: Any, skills: Any = None, *, gold: Any = None) -> MajorityVote:
        """Fit on ``data``; ``skills`` (Series by worker id or array per worker) weights votes.

        ``gold`` (see :meth:`Aggregator.fit`) fixes the label of the gold tasks.
        """
        self._skills_in = skills
        try:
            super().fit(data, gold=gold)
        finally:
            del self._skills_in
        return self

    def fit_predict(self, data: Any, skills: Any = None, *, gold: Any = None) -> Any:
        """Fit, then return ``labels_``."""
        return self.fit(data, skills, gold=gold).labels_

    def fit_predict_proba(self, data: Any, skills: Any = None, *, gold: Any = None) -> Any:
        """Fit, then return ``probas_``."""
        return self.fit(data, skills, gold=gold).probas_

    def _fit(self, answers: Answers) -> None:
        if fit_on_device(self, answers):  # device=: torch tensors
            return
        if self.posterior not in ("shares", "tied"):
            raise ValueError(f"posterior must be 'shares' or 'tied', got {self.posterior!r}")
        skills = getattr(self, "_skills_in", None)
        self._ignored = None
        if skills is None:
            if answers.n_tasks and answers.n_classes:
                tied, self.labels_ = _majority(
                    _class_major_votes(answers), self.tie_break, self.random_state
                )
                self.probas_ = tied if self.posterior == "tied" else vote_frequencies(answers)
                self.skills_ = worker_agreement(answers, self.labels_)
                return
            scores = vote_table(answers)
        else:
            per_worker = _skills_per_worker(
                skills, answers, self.default_skill, self.on_missing_skill
            )
            if self.on_missing_skill == "ignore":
                # crowd-kit drops the answers of workers without a skill
                ignored = _missing_skills(skills, answers)
                used = np.bincount(answers.worker, minlength=answers.n_workers) > 0
                if answers.n_answers and not (used & ~ignored).any():
                    raise DataError("no worker of the data has a skill (on_missing_skill="
                                    "'ignore' leaves no answer)", field="skills")
                self._ignored = ignored
                answers = answers.select_answers(~ignored[answers.worker])
            scores = vote_table(answers, per_worker[answers.worker])
        if not scores.size:  # no task (or no class): empty results
            self.probas_, self.labels_ = scores, np.zeros(len(scores), dtype=np.int64)
            self.skills_ = np.zeros(answers.n_workers)
            return
        self.labels_ = hard_labels(tied_max_probas(scores), self.tie_break, self.random_state)
        if self.posterior == "tied":
            self.probas_ = tied_max_probas(scores)
        else:  # crowd-kit's (weighted) vote shares; a task with no weight: uniform
            total = scores.sum(axis=1, keepdims=True)
            self.probas_ = np.full_like(scores, 1.0 / max(answers.n_classes, 1))
            np.divide(scores, total, out=self.probas_, where=total > 0)
        self.skills_ = worker_agreement(answers, self.labels_, empty=np.nan) \
            if self._ignored is not None else worker_agreement(answers, self.labels_)

    def _to_pandas(self, answers: Answers) -> None:
        super()._to_pandas(answers)
        ignored = getattr(self, "_ignored", None)
        if ignored is not None and answers.n_tasks:
            self.skills_ = self.skills_[~ignored]


def _missing_skills(skills: Any, answers: Answers) -> np.ndarray:
    """Workers (in ``answers`` order) without a skill in ``skills``."""
    import pandas as pd

    if isinstance(skills, pd.Series):
        pos = pd.Index(skills.index).get_indexer(answers.worker_ids)
        missing = pos < 0
        values = skills.to_numpy(dtype=np.float64)
        missing[~missing] = np.isnan(values[pos[~missing]])
        return missing
    return np.isnan(np.asarray(skills, dtype=np.float64).reshape(-1))


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


@register("naivesoft")
class NaiveSoft(Aggregator):
    r"""Vote frequencies as the posterior (peerannot's ``NaiveSoft``).

    .. math:: \hat p_{t,k} = \frac{n_{t,k}}{\sum_l n_{t,l}}

    where :math:`n_{t,k}` is the number of workers who labelled task ``t`` as ``k``; a task
    without answers gets the uniform distribution. Hard labels are the most frequent label,
    exact ties broken by a draw seeded by ``random_state`` (peerannot takes the first, which
    ``tie_break="first"`` reproduces).
    These soft labels are also crowd-kit's ``MajorityVote().probas_`` and the initialisation of
    the Dawid-Skene family.

    References
    ----------
    Lefort, Charlier, Joly & Salmon (2024), "Peerannot: classification for crowdsourced image
    datasets with Python", *Computo*.

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> a = Answers.from_arrays([0, 0, 0], ["x", "y", "z"], [1, 1, 0])
    >>> NaiveSoft().fit(a).probas_.round(3)
    array([[0.333, 0.667]])
    """

    param_specs: ClassVar[dict[str, Param]] = {
        "tie_break": TIE_BREAK, "random_state": SEED, "device": DEVICE,
    }

    def __init__(self, tie_break: str = "random", random_state: Any = 0,
                 device: str | None = None) -> None:
        self.device = device
        self.tie_break = tie_break
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        if fit_on_device(self, answers):  # device=: torch tensors
            return
        self.probas_ = vote_frequencies(answers)
        self.labels_ = hard_labels(self.probas_, self.tie_break, self.random_state)


@register("wawa")
class Wawa(IncrementalMixin, _SkillVotePredictor, Aggregator):
    r"""Worker Agreement With Aggregate: majority vote, skills, then a skill-weighted vote.

    1. hard majority-vote labels :math:`\hat y_t`;
    2. skill of worker ``w``: :math:`s_w = \frac{1}{|A_w|}\sum_{t \in A_w}\mathbf 1[y_{tw} =
       \hat y_t]` (its agreement with the majority);
    3. posterior :math:`\hat p_{t,k} \propto \sum_{w} s_w \mathbf 1[y_{tw} = k]` and the
       weighted-vote label.

    Parameters
    ----------
    tie_break : {"random", "first"}
        How exact ties become hard labels, in the majority vote of step 1 and in the final
        labels: a draw seeded by ``random_state`` (default) or the first tied class in class
        order (see :class:`MajorityVote`). A tie broken differently in step 1 changes the
        skills, so with the default the results differ from crowd-kit's on data with many
        tied tasks (on the ``web`` benchmark, 21% of the tasks are tied).
    random_state : int or None
        Seed of the tie-breaking draw.
    device : None, "cpu", "cuda", "cuda:N" or "auto"
        Run on torch tensors on this device (see :mod:`crowdlearn.aggregate._device`);
        ``None`` (default): numpy.

    Notes
    -----
    crowd-kit's ``Wawa`` crashes with scikit-learn >= 1.6 (its ``predict`` calls
    ``check_is_fitted``, which now needs ``__sklearn_tags__``); this one has no such dependency.
    A task whose voters all have skill 0 keeps its unweighted vote shares (crowd-kit divides by
    zero). Workers without answers get skill 0. ``predict(data)`` / ``predict_proba(data)``
    apply the fitted skills to other answers, as in crowd-kit.

    References
    ----------
    Appen (CrowdFlower), "Calculating worker agreement with aggregate (Wawa)"; implemented as
    ``Wawa`` in Ustalov, Pavlichenko & Tseitlin (2023), "Learning from crowds with Crowd-Kit",
    arXiv:2109.08584.

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> a = Answers.from_arrays([0, 0, 0, 1, 1, 1], list("xyzxyz"), [1, 1, 0, 0, 0, 1])
    >>> w = Wawa().fit(a)
    >>> w.skills_.round(2)
    array([1., 1., 0.])
    >>> w.labels_
    array([1, 0])
    """

    incremental_kind: ClassVar[str] = "wawa"  # partial_fit: see aggregate.incremental
    param_specs: ClassVar[dict[str, Param]] = {
        "tie_break": TIE_BREAK, "random_state": SEED, "device": DEVICE,
    }

    def __init__(self, tie_break: str = "random", random_state: Any = 0,
                 device: str | None = None) -> None:
        self.device = device
        self.tie_break = tie_break
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        if fit_on_device(self, answers):  # device=: torch tensors
            return
        if answers.n_tasks and answers.n_classes:
            _, majority = _majority(_class_major_votes(answers), self.tie_break,
                                    self.random_state)
        else:
            majority = hard_labels(tied_max_probas(vote_table(answers)), self.tie_break,
                                   self.random_state)
        self.skills_ = worker_agreement(answers, majority)
        self.probas_ = vote_frequencies(answers, self.skills_[answers.worker])
        self.labels_ = hard_labels(self.probas_, self.tie_break, self.random_state)


@register("zbs", "zero-based-skill")
class ZeroBasedSkill(_SkillVotePredictor, Aggregator):
    r"""Zero-Based Skill: skill-weighted voting with skills refined by gradient steps.

    Skills start at :math:`s_w = 1/K' + \varepsilon` (``K'`` = number of distinct labels
    given). Iteration ``i = 1 .. n_iter``: if ``i`` is a multiple of ``lr_steps_to_reduce``
    the learning rate is multiplied by ``lr_reduce_factor``; the labels are the skill-weighted
    vote :math:`\hat y_t = \arg\max_k \sum_w s_w \mathbf 1[y_{tw}=k]`; then

    .. math:: s_w \leftarrow s_w + \eta\,(\mathrm{acc}_w(\hat y) - s_w),

    a gradient step on the squared gap between skills and each worker's agreement with the
    current labels. The result is the skill-weighted vote with the final skills. This is
    crowd-kit's algorithm step for step.

    Parameters
    ----------
    n_iter : int
        Maximum number of iterations (crowd-kit default 100).
    lr_init : float
        Initial learning rate.
    lr_steps_to_reduce : int
        The learning rate is reduced every ``lr_steps_to_reduce`` iterations.
    lr_reduce_factor : float
        Factor applied to the learning rate at each reduction.
    eps : float
        Added to the initial skill ``1/K'``.
    tol : float
        Stop once no skill moved by more than ``tol`` in an iteration. The default 0 stops only
        at an exact fixed point (same labels, same skills), from which crowd-kit's remaining
        iterations change nothing: results are those of all ``n_iter`` iterations.
    tie_break : {"random", "first"}
        How exact ties in the weighted votes become labels: a draw seeded by ``random_state``
        (default) or the first tied class in class order (crowd-kit's rule for weighted
        votes: ``"first"`` reproduces its results).
    random_state : int or None
        Seed of the tie-breaking draw.

    Notes
    -----
    Vectorised: one ``np.bincount`` for the weighted votes and one for the agreements per
    iteration. crowd-kit's ``ZeroBasedSkill.predict`` crashes with scikit-learn >= 1.6; this
    one does not. Workers without answers keep their initial skill.

    References
    ----------
    Ustalov, Pavlichenko & Tseitlin (2023), "Learning from crowds with Crowd-Kit",
    arXiv:2109.08584 (``ZeroBasedSkill``).

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> a = Answers.from_arrays([0, 0, 0, 1, 1, 1], list("xyzxyz"), [1, 1, 0, 0, 0, 1])
    >>> z = ZeroBasedSkill().fit(a)
    >>> z.labels_
    array([1, 0])
    >>> z.n_iter_ <= 100
    True
    """

    param_specs: ClassVar[dict[str, Param]] = {
        "n_iter": N_ITER, "lr_init": POSITIVE, "lr_steps_to_reduce": Int(1),
        "lr_reduce_factor": POSITIVE, "eps": Float(0), "tol": TOL, "tie_break": TIE_BREAK,
        "random_state": SEED,
    }

    def __init__(
        self,
        n_iter: int = 100,
        lr_init: float = 1.0,
        lr_steps_to_reduce: int = 20,
        lr_reduce_factor: float = 0.5,
        eps: float = 1e-5,
        tol: float = 0.0,
        tie_break: str = "random",
        random_state: Any = 0,
    ) -> None:
        self.n_iter = n_iter
        self.lr_init = lr_init
        self.lr_steps_to_reduce = lr_steps_to_reduce
        self.lr_reduce_factor = lr_reduce_factor
        self.eps = eps
        self.tol = tol
        self.tie_break = tie_break
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        used = np.bincount(answers.worker, minlength=answers.n_workers) > 0
        n_labels = int(np.count_nonzero(np.bincount(answers.label, minlength=1)))
        skills = np.full(answers.n_workers, 1.0 / max(n_labels, 1) + self.eps)
        lr = float(self.lr_init)
        it = 0
        for it in range(1, int(self.n_iter) + 1):
            if it % int(self.lr_steps_to_reduce) == 0:
                lr *= self.lr_reduce_factor
            probas = vote_frequencies(answers, skills[answers.worker])
            labels = hard_labels(probas, self.tie_break, self.random_state)
            agreement = worker_agreement(answers, labels)
            new = np.where(used, skills + lr * (agreement - skills), skills)
            moved = float(np.max(np.abs(new - skills))) if len(new) else 0.0
            skills = new
            if moved <= self.tol:
                break
        self.skills_ = skills
        self.probas_ = vote_frequencies(answers, skills[answers.worker])
        self.labels_ = hard_labels(self.probas_, self.tie_break, self.random_state)
        self.n_iter_ = it
