"""Plain voting: majority vote (optionally weighted by given skills) and vote frequencies.

Class names and parameters follow crowd-kit (``MajorityVote``) and peerannot (``NaiveSoft``); the
deliberate differences are listed in each class docstring. The vote arithmetic is
:mod:`crowdlearn.aggregate.votes`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..answers import Answers
from ..errors import DataError
from ..params import SEED, TIE_BREAK, Choice, Float, Param
from ._device import DEVICE, fit_on_device
from .base import Aggregator, register
from .incremental._api import IncrementalMixin
from .votes import (
    _class_major_votes,
    _majority,
    hard_labels,
    tied_max_probas,
    vote_frequencies,
    vote_table,
    worker_agreement,
)

__all__ = ["MajorityVote", "NaiveSoft"]


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


class _TieBreakVoter(Aggregator):
    """The parameters of the voters that take only ``tie_break``, ``random_state`` and ``device``
    (:class:`NaiveSoft` and :class:`~crowdlearn.aggregate.skill_voting.Wawa`)."""

    param_specs: ClassVar[dict[str, Param]] = {
        "tie_break": TIE_BREAK, "random_state": SEED, "device": DEVICE,
    }

    def __init__(self, tie_break: str = "random", random_state: Any = 0,
                 device: str | None = None) -> None:
        self.device = device
        self.tie_break = tie_break
        self.random_state = random_state


@register("naivesoft")
class NaiveSoft(_TieBreakVoter):
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

    def _fit(self, answers: Answers) -> None:
        if fit_on_device(self, answers):  # device=: torch tensors
            return
        self.probas_ = vote_frequencies(answers)
        self.labels_ = hard_labels(self.probas_, self.tie_break, self.random_state)
