"""Skill-weighted voting with skills learned from the answers: Wawa and Zero-Based Skill.

Both estimate a skill per worker from its agreement with the current labels, then label each
task by the skill-weighted vote; ``predict`` / ``predict_proba`` apply the fitted skills to other
answers (crowd-kit's API). The vote arithmetic is :mod:`crowdlearn.aggregate.votes`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..answers import Answers
from ..params import N_ITER, POSITIVE, SEED, TIE_BREAK, TOL, Float, Int, Param
from ._device import fit_on_device
from .base import Aggregator, _as_answers, register
from .incremental._api import IncrementalMixin
from .majority import _TieBreakVoter
from .votes import (
    _class_major_votes,
    _majority,
    hard_labels,
    tied_max_probas,
    vote_frequencies,
    vote_table,
    worker_agreement,
)

__all__ = ["Wawa", "ZeroBasedSkill"]


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
        fitted_ids = pd.Index(self.answers_.worker_ids)  # type: ignore[attr-defined]
        pos = fitted_ids.get_indexer(answers.worker_ids)
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


@register("wawa")
class Wawa(IncrementalMixin, _SkillVotePredictor, _TieBreakVoter):
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
