"""Pl@ntNet's weighted majority vote (Lefort et al. 2024), peerannot's ``PlantNet``.

Vectorised on the answer index arrays: each iteration is a handful of ``np.bincount`` calls
(weighted votes, confidences, and the distinct (worker, class) pairs behind each worker's count
of identified classes); no loop over tasks, workers or answers.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from ..answers import Answers
from ..errors import CrowdlearnError, DataError
from ..params import N_ITER, POSITIVE, SEED, TIE_BREAK, TOL, Bool, Choice, Custom, Float, Param
from .base import Aggregator, register
from .voting import hard_labels, vote_frequencies, vote_table

__all__ = ["PlantNet"]

AI_MODES = ("ignored", "worker", "fixed")
_LOG21 = float(np.log(2.1))


@register("plantnet", "pl@ntnet", "plant-net")
class PlantNet(Aggregator):
    r"""Pl@ntNet's weighted majority vote: workers weigh by the number of classes they identified.

    Worker ``w`` weighs :math:`v_w = n_w^{\alpha} - n_w^{\beta} + \log 2.1` where :math:`n_w`
    counts the classes (species) it identified. Each iteration:

    1. labels :math:`\hat y_t = \arg\max_k \sum_w v_w \mathbf 1[y_{tw} = k]`;
    2. confidence :math:`c_t = \sum_w v_w \mathbf 1[y_{tw} = \hat y_t]` and accuracy
       :math:`a_t = c_t / \sum_{w \in A_t} v_w`; the task is valid when :math:`c_t >
       \theta_{conf}` and :math:`a_t > \theta_{acc}`;
    3. :math:`n_w` = ``taxa_obs_weight`` x (distinct classes of the valid tasks *authored* by
       ``w`` whose label it gave) + round(``taxa_votes_weight`` x (the other distinct classes
       ``w`` gave on any task in agreement with its label)).

    It starts from :math:`v_w = \log 2.1` (a plain majority vote) and stops when the counts
    :math:`n_w` move by at most ``tol`` per task on average, or after ``n_iter`` iterations.
    Undecided (invalid) tasks keep their weighted-vote label in ``labels_``; ``valid_`` says
    which are valid and :func:`~crowdlearn.aggregate.agreement.decided_labels` gives ``-1`` for
    the others, as peerannot's ``get_answers()``.

    Parameters
    ----------
    alpha, beta : float
        Exponents of the weight function (peerannot's defaults 0.5 and 0.2).
    theta_conf, theta_acc : float
        Validity thresholds on confidence and accuracy (2 and 0.7).
    taxa_obs_weight, taxa_votes_weight : float
        Weight of a class identified in an authored valid observation, and of one identified by
        a vote (1 and 0.1).
    authors : array-like, path or None
        The author of each task (original worker ids, one per task in task order; a worker id
        not among the workers, or ``-1``, for none), or a text file of them, one per line
        (peerannot's ``authors`` file). ``None``: no task has an author, so only votes count.
    ai : {"ignored", "worker", "fixed"}
        What the answers of the worker whose id is ``"AI"`` are: dropped (peerannot's default),
        an ordinary worker, or a vote of fixed weight ``ai_weight`` that counts in the labels,
        confidences and accuracies but identifies no class. (peerannot's ``invalidating`` and
        ``confident`` modes are not provided.)
    ai_weight : float
        The weight of the AI's vote with ``ai="fixed"``.
    n_iter : int
        Maximum number of iterations (peerannot's ``maxiter``, default 100).
    tol : float
        Stop when :math:`\sum_w |n_w - n_w^{prev}| / n_{tasks} \le` ``tol`` (peerannot's
        ``epsilon``).
    freeze_labels : bool
        peerannot 0.0.1.post43 computes the validity and the counts :math:`n_w` against the
        *initial* majority vote at every iteration (and stops no earlier than the 7th);
        ``True`` reproduces it exactly, ``False`` (default) follows the paper and uses the
        current labels.
    output_unvalidated : bool
        Whether undecided tasks keep their label (instead of ``-1``) in the hard labels written.
    tie_break : {"first", "random"}
        Exact ties of the weighted vote: the first tied class (default, as peerannot's
        ``np.argmax``) or a draw seeded by ``random_state``.
    random_state : int or None
        Seed of the tie-breaking draw.

    Attributes
    ----------
    valid_, conf_, acc_ : ndarray (n_tasks,)
        Validity, confidence and accuracy of each task at the last iteration.
    skills_ : ndarray (n_workers,)
        Worker weights :math:`v_w` of the last vote (peerannot's ``weights``).
    n_identified_ : ndarray (n_workers,)
        The counts :math:`n_w` after the last iteration (peerannot's ``n_j``).
    probas_ : ndarray (n_tasks, n_classes)
        Weighted vote shares of the last vote.

    Notes
    -----
    peerannot sums ``taxa_votes_weight`` once per class and rounds; crowdlearn multiplies, which
    can round differently when the sum lands within one ulp of a half-integer. peerannot's
    ``taxa_obs_weight`` has no effect (an authored class always counts 1); here it weighs the
    count (the default 1 gives peerannot's result). The hard labels peerannot writes for
    ``plantnet`` (without ``--hard`` too) are ``-1`` on invalid tasks.

    References
    ----------
    Lefort, Affouard, Charlier, Lombardo, Chouet, Goëau, Salmon, Bonnet & Joly (2024),
    "Cooperative learning of Pl@ntNet's Artificial Intelligence algorithm: how does it work and
    how can we improve it?", arXiv:2406.03356.

    Examples
    --------
    >>> from crowdlearn import Answers
    >>> a = Answers.from_arrays([0, 0, 0, 1, 1], list("xyzxy"), [1, 1, 0, 0, 0])
    >>> p = PlantNet().fit(a)
    >>> p.labels_, p.valid_
    (array([1, 0]), array([False, False]))
    """

    param_specs: ClassVar[dict[str, Param]] = {
        "alpha": Float(0), "beta": Float(0), "theta_conf": Float(0), "theta_acc": Float(0, 1),
        "taxa_obs_weight": Float(0), "taxa_votes_weight": Float(0),
        "authors": Custom("a list of author ids or the path of a text file (one per task)",
                          lambda v: isinstance(v, (str, os.PathLike, list, tuple))
                          or hasattr(v, "__array__"), bad=(3.5,), none=True),
        "ai": Choice(*AI_MODES), "ai_weight": POSITIVE, "n_iter": N_ITER, "tol": TOL,
        "freeze_labels": Bool(), "output_unvalidated": Bool(), "tie_break": TIE_BREAK,
        "random_state": SEED,
    }

    def __init__(
        self,
        alpha: float = 0.5,
        beta: float = 0.2,
        theta_conf: float = 2.0,
        theta_acc: float = 0.7,
        taxa_obs_weight: float = 1.0,
        taxa_votes_weight: float = 0.1,
        authors: Any = None,
        ai: str = "ignored",
        ai_weight: float = 1.0,
        n_iter: int = 100,
        tol: float = 1e-5,
        freeze_labels: bool = False,
        output_unvalidated: bool = False,
        tie_break: str = "first",
        random_state: Any = 0,
    ) -> None:
        self.alpha = alpha
        self.beta = beta
        self.theta_conf = theta_conf
        self.theta_acc = theta_acc
        self.taxa_obs_weight = taxa_obs_weight
        self.taxa_votes_weight = taxa_votes_weight
        self.authors = authors
        self.ai = ai
        self.ai_weight = ai_weight
        self.n_iter = n_iter
        self.tol = tol
        self.freeze_labels = freeze_labels
        self.output_unvalidated = output_unvalidated
        self.tie_break = tie_break
        self.random_state = random_state

    # ------------------------------------------------------------------ inputs
    def _author_index(self, answers: Answers) -> np.ndarray:
        """Author worker index per task (-1: none)."""
        n = answers.n_tasks
        if self.authors is None:
            return np.full(n, -1, dtype=np.int64)
        raw: Any = self.authors
        source = None
        if isinstance(raw, (str, os.PathLike)):
            source = str(raw)
            try:
                with open(raw, encoding="utf-8") as f:
                    raw = [line.strip() for line in f if line.strip()]
            except OSError as exc:
                raise DataError(f"cannot read authors file: {exc.strerror or exc}",
                                source=source, field="authors") from exc
        values = np.asarray(raw).reshape(-1)
        if len(values) != n:
            raise DataError(f"authors gives {len(values)} authors for {n} tasks",
                            source=source, field="authors")
        ids = answers.worker_ids
        if len(ids) == 0:
            return np.full(n, -1, dtype=np.int64)
        if ids.dtype.kind in "iu":  # integer worker ids: compare as integers
            try:
                values = values.astype(np.float64).astype(np.int64)
            except ValueError as exc:
                raise DataError(f"authors must be worker ids: {exc}", source=source,
                                field="authors") from exc
        else:
            values = values.astype(str)
            ids = ids.astype(str)
        order = np.argsort(ids, kind="stable")
        pos = np.minimum(np.searchsorted(ids[order], values), len(ids) - 1)
        found = ids[order][pos] == values
        return np.where(found, order[pos], -1).astype(np.int64)

    def _split_ai(self, answers: Answers) -> tuple[Answers, np.ndarray]:
        """The answers without the AI's (unless ``ai="worker"``) and the AI's label per task."""
        if self.ai not in AI_MODES:
            raise CrowdlearnError(f"PlantNet ai must be one of {', '.join(AI_MODES)}, got "
                                  f"{self.ai!r}")
        ai_label = np.full(answers.n_tasks, -1, dtype=np.int64)
        is_ai = answers.worker_ids.astype(str) == "AI"
        if self.ai == "worker" or not is_ai.any():
            return answers, ai_label
        mine = is_ai[answers.worker]
        if self.ai == "fixed":
            ai_label[answers.task[mine]] = answers.label[mine]
        return answers.select_answers(~mine), ai_label

    # ------------------------------------------------------------------ the algorithm
    def _fit(self, answers: Answers) -> None:
        if self.tie_break not in ("first", "random"):
            raise CrowdlearnError(f"tie_break must be 'first' or 'random', got "
                                  f"{self.tie_break!r}")
        authors = self._author_index(answers)
        votes_on, ai_label = self._split_ai(answers)
        n, k, n_workers = answers.n_tasks, answers.n_classes, answers.n_workers
        task, worker, label = (votes_on.task.astype(np.int64), votes_on.worker.astype(np.int64),
                               votes_on.label.astype(np.int64))
        has_ai = ai_label >= 0
        ai_w = float(self.ai_weight)

        def vote(weights: np.ndarray) -> np.ndarray:
            table = vote_table(votes_on, weights[worker])
            if has_ai.any():
                table[np.flatnonzero(has_ai), ai_label[has_ai]] += ai_w
            return hard_labels(table, self.tie_break, self.random_state)

        def confidence(labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
            w = weights[worker]
            total = np.bincount(task, weights=w, minlength=n)
            conf = np.bincount(task, weights=w * (label == labels[task]), minlength=n)
            total = total + ai_w * has_ai
            conf = conf + ai_w * (has_ai & (ai_label == labels))
            acc = np.divide(conf, total, out=np.zeros(n), where=total != 0)
            valid = (conf > self.theta_conf) & (acc > self.theta_acc)
            return conf, acc, valid

        def identified(labels: np.ndarray, valid: np.ndarray) -> np.ndarray:
            agree = label == labels[task]
            pair = worker * k + label
            agreed = np.unique(pair[agree])
            obs = np.unique(pair[agree & valid[task] & (authors[task] == worker)])
            n_agreed = np.bincount(agreed // max(k, 1), minlength=n_workers)
            n_obs = np.bincount(obs // max(k, 1), minlength=n_workers)
            return (float(self.taxa_obs_weight) * n_obs
                    + np.round(float(self.taxa_votes_weight) * (n_agreed - n_obs)))

        def weight_of(n_id: np.ndarray) -> np.ndarray:
            return n_id ** float(self.alpha) - n_id ** float(self.beta) + _LOG21

        weights = np.full(n_workers, _LOG21)
        init = vote(weights)
        conf, acc, valid = confidence(init, weights)
        n_id = identified(init, valid)
        labels = init
        step = 0
        for step in range(1, int(self.n_iter) + 1):
            prev = n_id
            weights = weight_of(n_id)
            labels = vote(weights)
            against = init if self.freeze_labels else labels
            conf, acc, valid = confidence(against, weights)
            n_id = identified(against, valid)
            moved = float(np.abs(n_id - prev).sum()) / max(n, 1)
            if moved <= self.tol and (step > 6 or not self.freeze_labels):
                break
        if self.freeze_labels and int(self.n_iter) <= 1:
            labels = init  # peerannot returns the initial vote when maxiter <= 1
        table = vote_table(votes_on, weights[worker])
        if has_ai.any():
            table[np.flatnonzero(has_ai), ai_label[has_ai]] += ai_w
        self.probas_ = _shares(table, votes_on)
        self.labels_ = labels
        self.valid_ = valid
        self.conf_ = conf
        self.acc_ = acc
        self.skills_ = weights
        self.n_identified_ = n_id
        self.n_iter_ = step


def _shares(table: np.ndarray, answers: Answers) -> np.ndarray:
    """Rows of a (non-negative) weighted vote table as shares; empty rows: plain vote shares."""
    total = table.sum(axis=1)
    plain = vote_frequencies(answers)
    out = plain.copy()
    np.divide(table, total[:, None], out=out, where=total[:, None] > 0)
    return out
