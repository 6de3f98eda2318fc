"""Agreement-based votes of peerannot: two-third consensus and iterative weighted majority vote.

Both work on the answer index arrays of :class:`~crowdlearn.answers.Answers` with the vote
tables and agreement counts of :mod:`crowdlearn.aggregate.voting` (one ``np.bincount`` each):
no loop over tasks, workers or answers; IWMV loops over its iterations only.

Strategies that may leave a task *undecided* (:class:`TwoThird`, and
:class:`~crowdlearn.aggregate.plantnet.PlantNet`) keep a class in ``labels_`` for every task
(the vote winner, so that every crowdlearn tool can use it) and say which tasks are decided in
``valid_``; :func:`decided_labels` gives peerannot's hard labels, ``-1`` where undecided.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..answers import Answers
from ..errors import CrowdlearnError
from ..params import N_ITER, SEED, TIE_BREAK, Bool, Choice, Param
from .base import Aggregator, register
from .voting import hard_labels, vote_frequencies, vote_table, worker_agreement

__all__ = ["IWMV", "TwoThird", "decided_labels"]


def decided_labels(est: Aggregator) -> np.ndarray:
    """Hard labels (class indices, int64) of a fitted aggregator with ``-1`` for the tasks it
    left undecided (``valid_`` false, unless its ``output_unvalidated`` is set), as peerannot's
    ``get_answers()`` returns them."""
    labels = np.asarray(est.result_arrays()["labels"], dtype=np.int64).copy()
    valid = getattr(est, "valid_", None)
    if valid is not None and not getattr(est, "output_unvalidated", False):
        labels[~np.asarray(valid, dtype=bool)] = -1
    return labels


@register("twothird", "two-third", "two_third")
class TwoThird(Aggregator):
    r"""Two-third agreement: the majority label where at least two thirds of at least two
    answers agree on it; the task is undecided otherwise.

    A task ``t`` with :math:`n_t` answers, :math:`n_{t,k}` of them for class ``k``, is decided
    (``valid_``) when :math:`n_t \ge 2` and :math:`3 \max_k n_{t,k} \ge 2 n_t` (integer test,
    no rounding); ``labels_`` is its majority vote (ties drawn with ``random_state``, as
    peerannot draws them), ``probas_`` its vote shares (:class:`NaiveSoft`).

    Parameters
    ----------
    output_unvalidated : bool
        Whether :func:`decided_labels` (and the hard labels written by ``crowdlearn aggregate``)
        keep the majority label of undecided tasks instead of ``-1`` (default ``False``:
        peerannot's output).
    tie_break : {"random", "first"}
        How exact ties between classes become a label (see :class:`MajorityVote`).
    random_state : int or None
        Seed of the tie-breaking draw.

    Attributes
    ----------
    valid_ : ndarray of bool, (n_tasks,)
        Whether the task reached the two-third consensus.

    Notes
    -----
    peerannot's ``TwoThird.get_probas()`` returns the hard labels (``-1`` when undecided); so
    does the file ``crowdlearn aggregate -s twothird`` writes. peerannot also writes the
    undecided task indices to ``identification/twothird/too_hard.txt``; crowdlearn keeps them in
    ``valid_`` (and the ``valid`` column of the labels table).

    References
    ----------
    Lefort, Charlier, Joly & Salmon (2024), "Peerannot: classification for crowdsourced image
    datasets with Python", *Computo* (``TwoThird``).

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> a = Answers.from_arrays([0, 0, 0, 1, 1, 2], list("xyzxyx"), [1, 1, 0, 0, 1, 1])
    >>> t = TwoThird().fit(a)
    >>> t.valid_
    array([ True, False, False])
    >>> decided_labels(t)
    array([ 1, -1, -1])
    """

    param_specs: ClassVar[dict[str, Param]] = {
        "output_unvalidated": Bool(), "tie_break": TIE_BREAK, "random_state": SEED,
    }

    def __init__(self, output_unvalidated: bool = False, tie_break: str = "random",
                 random_state: Any = 0) -> None:
        self.output_unvalidated = output_unvalidated
        self.tie_break = tie_break
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        counts = vote_table(answers)
        n_votes = answers.answers_per_task().astype(np.float64)
        top = counts.max(axis=1) if counts.size else np.zeros(answers.n_tasks)
        self.valid_ = (n_votes >= 2) & (3 * top >= 2 * n_votes)
        self.probas_ = vote_frequencies(answers)
        self.labels_ = hard_labels(self.probas_, self.tie_break, self.random_state)
        self.skills_ = worker_agreement(answers, self.labels_)


IWMV_WEIGHTS = ("accuracy", "li-yu")


@register("iwmv", "iterative-wmv", "iterative_wawa")
class IWMV(Aggregator):
    r"""Iterative weighted majority vote (Li & Yu 2014), peerannot's ``IWMV``.

    Start from the majority vote :math:`\hat y^0`; at step ``s = 1..n_iter`` each worker ``w``
    gets its agreement with the current labels,
    :math:`a_w = \frac{1}{|A_w|}\sum_{t\in A_w}\mathbf 1[y_{tw} = \hat y^{s-1}_t]`, and the
    labels become the weighted vote
    :math:`\hat y^s_t = \arg\max_k \sum_w v_w \mathbf 1[y_{tw} = k]` with :math:`v_w = a_w`
    (``weights="accuracy"``, peerannot's rule) or :math:`v_w = K a_w - 1`
    (``weights="li-yu"``, the weight of Li & Yu's Algorithm 1). One step (``n_iter=1``) is
    Wawa. The loop stops early at a fixed point (labels unchanged: every further step would
    repeat it).

    Parameters
    ----------
    n_iter : int
        Number of weighted-vote steps after the initial majority vote (peerannot's ``nb_iter``,
        default 10).
    weights : {"accuracy", "li-yu"}
        Worker weight from its agreement :math:`a_w`: :math:`a_w` or :math:`K a_w - 1`.
    tie_break : {"random", "first"}
        How exact ties between classes become a label (see :class:`MajorityVote`).
    random_state : int or None
        Seed of the tie-breaking draw.

    Attributes
    ----------
    skills_ : ndarray (n_workers,)
        Each worker's agreement with the final labels (peerannot's ``worker_score``).
    weights_ : ndarray (n_workers,)
        The weights of the final vote.
    probas_ : ndarray (n_tasks, n_classes)
        Shares of the final weighted vote (negative Li-Yu weights count as zero there; a task
        whose voters all weigh zero keeps its plain vote shares).

    Notes
    -----
    peerannot's ``IWMV.get_probas()`` returns the hard labels; so does the file
    ``crowdlearn aggregate -s iwmv`` writes.

    References
    ----------
    Li & Yu (2014), "Error rate bounds and iterative weighted majority voting for
    crowdsourcing", arXiv:1411.4086. Lefort, Charlier, Joly & Salmon (2024), "Peerannot:
    classification for crowdsourced image datasets with Python", *Computo*.

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> a = Answers.from_arrays([0, 0, 0, 1, 1, 1], list("xyzxyz"), [1, 1, 0, 0, 0, 1])
    >>> m = IWMV().fit(a)
    >>> m.labels_, m.skills_.round(2)
    (array([1, 0]), array([1., 1., 0.]))
    """

    param_specs: ClassVar[dict[str, Param]] = {
        "n_iter": N_ITER, "weights": Choice(*IWMV_WEIGHTS), "tie_break": TIE_BREAK,
        "random_state": SEED,
    }

    def __init__(self, n_iter: int = 10, weights: str = "accuracy", tie_break: str = "random",
                 random_state: Any = 0) -> None:
        self.n_iter = n_iter
        self.weights = weights
        self.tie_break = tie_break
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        if self.weights not in IWMV_WEIGHTS:
            raise CrowdlearnError(f"IWMV weights must be one of {', '.join(IWMV_WEIGHTS)}, "
                                  f"got {self.weights!r}")
        if int(self.n_iter) < 0:
            raise CrowdlearnError(f"IWMV n_iter must be >= 0, got {self.n_iter}")
        k = answers.n_classes
        weights = np.ones(answers.n_workers)
        labels = hard_labels(vote_table(answers), self.tie_break, self.random_state)
        skills = worker_agreement(answers, labels)
        steps = 0
        for steps in range(1, int(self.n_iter) + 1):  # noqa: B007 - steps is reported
            new_weights = skills if self.weights == "accuracy" else k * skills - 1.0
            new = hard_labels(vote_table(answers, new_weights[answers.worker]),
                              self.tie_break, self.random_state)
            weights = new_weights
            if np.array_equal(new, labels):
                break  # fixed point: the same labels give the same weights again
            labels = new
            skills = worker_agreement(answers, labels)
        self.labels_ = labels
        self.skills_ = skills
        self.weights_ = weights
        self.probas_ = vote_frequencies(answers, np.maximum(weights, 0.0)[answers.worker])
        self.n_iter_ = steps
