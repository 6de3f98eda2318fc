"""What each incremental strategy keeps between batches, and how a batch updates it.

Every state holds the id vocabularies and the answer log (:mod:`._log`) plus its sufficient
statistics. A batch touches the set ``U`` of tasks it has answers for; an update reads only the
answers of ``U`` (old and new, found through the log's per-task index) and worker-sized rows, so
it costs time proportional to the batch (times the answers per task), never to the history.

* :class:`MVState` (majority vote): vote counts per task, hard labels, and per worker the number
  of answers and of answers equal to the task's label. Exact: after any sequence of batches the
  posteriors, labels and skills equal a full fit's (ties broken ``"first"``; a ``"random"`` tie
  draw runs over the touched tasks only).
* :class:`WawaState`: the majority-vote state (exact skills) plus the skill-weighted vote of the
  touched tasks. Approximation: tasks not touched keep the weighted vote of the skills at their
  last touch; :meth:`~_State.sweep` recomputes every task, after which it equals a full fit.
* :class:`DSState` (Dawid-Skene) and :class:`OneCoinState`: the posterior ``T`` of every task,
  per worker the expected counts ``N[w, l, k] = sum_t T[t, k] [w answered l on t]`` (one-coin:
  expected correct answers) over *all* its tasks, and the class sums of ``T``. An update removes
  the touched tasks' old contributions from the counts, runs a few EM iterations (the shared
  :func:`~crowdlearn.aggregate._em.run_em`) on the touched tasks only, warm-started from their
  previous posteriors (vote shares for new tasks), with the worker parameters re-estimated at
  every M-step from the maintained counts plus the touched tasks' current contributions, and
  adds the new contributions back. This is the incremental EM of Neal & Hinton (1998): an
  E-step on a block of tasks with the other posteriors held, an M-step from the totals, so
  every update is an ascent step of the same objective as a full fit. Approximation: untouched
  tasks keep the posterior of their last update (their share of the counts is not revised as
  the workers' parameters move) until they are revisited: each update also revisits
  ``refresh`` times as many earlier tasks, round-robin (:meth:`_State.ingest`), and
  :meth:`~_State.sweep` runs EM iterations over the whole history (O(history)), warm-started.
  Measured (``benchmarks/incremental.py``): after 100 batches of 10k answers on a 1M-answer
  crowd, updates alone agree with a full refit on 98.6% of the tasks (DS) and 99.8% (one-coin);
  a sweep of 3 iterations (periodic, ``partial_fit(sweep_every=N)``, or at the end) brings DS
  to 99.7%.

References: Neal & Hinton (1998), "A view of the EM algorithm that justifies incremental,
sparse, and other variants", in *Learning in Graphical Models*, 355-368.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .._em import run_em
from ..base import argmax_random_ties
from ..dawid_skene.shared import (
    _log_prior,
    _normalize_counts,
    _one_coin_conf,
    _one_coin_logs,
    _one_coin_scores,
    _safe_log,
    _softmax_columns,
)
from ..votes import _majority, hard_labels
from ._log import AnswerLog, Grow, Vocab


class Batch:
    """One ingested batch: the touched tasks and the positions of their answers."""

    def __init__(self, old_pos: np.ndarray, new_pos: np.ndarray, log: AnswerLog) -> None:
        self.old_pos, self.new_pos = old_pos, new_pos
        self.pos = np.concatenate([old_pos, new_pos])
        self.n_old = len(old_pos)
        self.task, self.worker, self.label = log.arrays(self.pos)
        self.tasks, self.tinv = np.unique(self.task, return_inverse=True)
        self.workers, self.winv = np.unique(self.worker, return_inverse=True)


class _State:
    """Vocabularies, answer log and the bookkeeping common to every strategy."""

    kind = ""
    #: names of the arrays saved by :meth:`arrays` besides the log's
    fields: tuple[str, ...] = ()

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = dict(params)
        self.tasks, self.workers, self.classes = Vocab(), Vocab(), Vocab()
        self.log = AnswerLog()
        self.n_batches = 0
        self.cursor = 0  # next task revisited round-robin (ingest's ``refresh``)
        self.n_iter = 0
        self.last_objective: float | None = None
        #: SHA-256 of each batch the command line added (``--update`` refuses a batch twice)
        self.batch_digests: list[str] = []

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.tasks), len(self.workers), len(self.classes)

    # ----------------------------------------------------------------- batches
    def ingest(self, task_ids: np.ndarray, worker_ids: np.ndarray, labels: np.ndarray,
               declared: Any = (), refresh: float = 0.0) -> Batch:
        """Encode raw ids (growing the vocabularies and arrays) and append to the log.

        ``refresh``: also revisit ``refresh`` times as many earlier tasks as the batch touches,
        taken round-robin over the tasks from a saved cursor (an amortised sweep: each update
        then costs at most ``1 + refresh`` times the batch's own share).
        """
        if len(declared):
            self.classes.encode(np.asarray(declared, dtype=object))
        t = self.tasks.encode(task_ids)
        w = self.workers.encode(worker_ids)
        lab = self.classes.encode(labels)
        self._grow(*self.shape)
        touched = np.unique(t)
        n_known = self.log.head.n
        extra = min(int(refresh * len(touched)), n_known)
        if extra:
            revisit = (self.cursor + np.arange(extra)) % n_known
            self.cursor = int((self.cursor + extra) % n_known)
            touched = np.union1d(touched, revisit)
        old = self.log.answers_of(touched[touched < n_known])
        new = self.log.append(t, w, lab, len(self.tasks))
        return Batch(old, new, self.log)

    def all_answers(self) -> Batch:
        """Every answer as one batch with no old part (for a full sweep)."""
        return Batch(np.zeros(0, np.int64), np.arange(self.log.n_answers), self.log)

    def _grow(self, n_tasks: int, n_workers: int, n_classes: int) -> None:
        raise NotImplementedError

    def update(self, batch: Batch, n_iter: int) -> None:
        raise NotImplementedError

    def sweep(self, n_iter: int) -> None:
        raise NotImplementedError

    def outputs(self) -> dict[str, np.ndarray]:
        raise NotImplementedError


def _local_votes(batch: Batch, k: int, weights: np.ndarray | None = None) -> np.ndarray:
    """(touched tasks x classes) (weighted) vote table of the batch's answers."""
    n = len(batch.tasks)
    cell = batch.tinv.astype(np.int64) * k + batch.label
    return np.bincount(cell, weights=weights, minlength=n * k).reshape(n, k).astype(np.float64)


class MVState(_State):
    """Majority vote: votes per task, labels, per-worker agreement counts (exact)."""

    kind = "mv"
    fields = ("votes", "labels", "hits", "n_per_worker", "probas")

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.votes = Grow(np.zeros((0, 0), np.int64))
        self.labels = Grow(np.zeros(0, np.int64))
        self.probas = Grow(np.zeros((0, 0)))
        self.hits = Grow(np.zeros(0))
        self.n_per_worker = Grow(np.zeros(0))

    def _grow(self, n_tasks: int, n_workers: int, n_classes: int) -> None:
        for g in (self.votes, self.probas):
            g.widen(n_classes)
        self.votes.resize(n_tasks)
        self.probas.resize(n_tasks, 1.0 / max(n_classes, 1))
        self.labels.resize(n_tasks)
        self.hits.resize(n_workers)
        self.n_per_worker.resize(n_workers)

    def _agreement(self, batch: Batch, part: slice, sign: float) -> None:
        t, w, lab = batch.task[part], batch.worker[part], batch.label[part]
        hit = (lab == self.labels.view[t]).astype(np.float64)
        hits = self.hits.view
        hits += sign * np.bincount(w, weights=hit, minlength=len(hits))

    def update(self, batch: Batch, n_iter: int = 0) -> None:
        k = len(self.classes)
        old = slice(0, batch.n_old)
        self._agreement(batch, old, -1.0)  # the touched tasks' old labels leave the counts
        votes = self.votes.view
        votes[batch.tasks] = _local_votes(batch, k).astype(np.int64)
        new = batch.worker[batch.n_old:]
        self.n_per_worker.view[:] += np.bincount(new, minlength=self.n_per_worker.n)
        self._relabel(batch.tasks)
        self._agreement(batch, slice(0, None), 1.0)
        self.n_batches += 1

    def _relabel(self, tasks: np.ndarray) -> None:
        votes = self.votes.view[tasks]
        tied, labels = _majority(np.ascontiguousarray(votes.T), self.params["tie_break"],
                                 self.params["random_state"])
        self.labels.view[tasks] = labels
        if self.params.get("posterior", "shares") == "tied":
            self.probas.view[tasks] = tied
        else:
            total = votes.sum(axis=1, keepdims=True)
            k = max(votes.shape[1], 1)
            out = np.full(votes.shape, 1.0 / k)
            np.divide(votes, total, out=out, where=total > 0)
            self.probas.view[tasks] = out

    def sweep(self, n_iter: int = 0) -> None:  # exact already: nothing to revise
        return None

    @property
    def skills(self) -> np.ndarray:
        n = self.n_per_worker.view
        out = np.zeros(len(n))
        np.divide(self.hits.view, n, out=out, where=n > 0)
        return out

    def outputs(self) -> dict[str, np.ndarray]:
        return {"probas": self.probas.view, "labels": self.labels.view, "skills": self.skills}


class WawaState(MVState):
    """Wawa: exact majority-vote skills, weighted votes revised for the touched tasks."""

    kind = "wawa"
    fields = MVState.fields + ("wprobas", "wlabels")

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.wprobas = Grow(np.zeros((0, 0)))
        self.wlabels = Grow(np.zeros(0, np.int64))

    def _grow(self, n_tasks: int, n_workers: int, n_classes: int) -> None:
        super()._grow(n_tasks, n_workers, n_classes)
        self.wprobas.widen(n_classes)
        self.wprobas.resize(n_tasks, 1.0 / max(n_classes, 1))
        self.wlabels.resize(n_tasks)

    def update(self, batch: Batch, n_iter: int = 0) -> None:
        super().update(batch, n_iter)
        self._weighted(batch)

    def _weighted(self, batch: Batch) -> None:
        k = len(self.classes)
        skills = self.skills
        table = _local_votes(batch, k, skills[batch.worker])
        total = table.sum(axis=1)
        void = total <= 0
        if void.any():  # voters all of skill 0: unweighted shares (as Wawa.fit)
            counts = _local_votes(batch, k)
            table[void] = counts[void]
            total[void] = counts[void].sum(axis=1)
        out = np.full_like(table, 1.0 / max(k, 1))
        np.divide(table, total[:, None], out=out, where=total[:, None] > 0)
        self.wprobas.view[batch.tasks] = out
        self.wlabels.view[batch.tasks] = hard_labels(out, self.params["tie_break"],
                                                     self.params["random_state"])

    def sweep(self, n_iter: int = 0) -> None:
        if self.log.n_answers:
            self._weighted(self.all_answers())

    def outputs(self) -> dict[str, np.ndarray]:
        return {"probas": self.wprobas.view, "labels": self.wlabels.view, "skills": self.skills}


class _PosteriorState(_State):
    """Common part of the EM states: posteriors ``T``, their class sums, labels."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.T = Grow(np.zeros((0, 0)))
        self.labels = Grow(np.zeros(0, np.int64))
        self.tsum = np.zeros(0)

    def _grow(self, n_tasks: int, n_workers: int, n_classes: int) -> None:
        self.T.widen(n_classes)
        self.T.resize(n_tasks, 0.0)
        self.labels.resize(n_tasks)
        if len(self.tsum) < n_classes:
            self.tsum = np.pad(self.tsum, (0, n_classes - len(self.tsum)))

    def _init(self, batch: Batch, init: np.ndarray | None) -> np.ndarray:
        """Warm start: previous posteriors, vote shares for tasks new in this batch."""
        if init is not None:
            return init
        k = len(self.classes)
        start = self.T.view[batch.tasks].copy()
        has_old = np.bincount(batch.tinv[: batch.n_old], minlength=len(batch.tasks)) > 0
        fresh = ~has_old
        if fresh.any():
            votes = _local_votes(batch, k)[fresh]
            start[fresh] = votes / np.maximum(votes.sum(axis=1, keepdims=True), 1.0)
        return start

    def update(self, batch: Batch, n_iter: int = 3, init: np.ndarray | None = None) -> None:
        start = self._init(batch, init)
        old_T = self.T.view[batch.tasks]
        rest = self._remove(batch, old_T)
        tsum_rest = self.tsum - old_T.sum(axis=0)
        n_tasks = max(len(self.tasks), 1)

        def m_step(probas: np.ndarray) -> Any:
            prior = (tsum_rest + probas.sum(axis=0)) / n_tasks
            return self._m_step(batch, rest, probas, prior)

        res = run_em(start, m_step, lambda p: self._e_step(batch, p), tol=self.params["tol"],
                     max_iter=n_iter)
        probas = np.ascontiguousarray(res.probas)
        self.T.view[batch.tasks] = probas
        self.tsum = tsum_rest + probas.sum(axis=0)
        self._store(batch, res.params)
        self.labels.view[batch.tasks] = argmax_random_ties(probas,
                                                          self.params["random_state"])
        self.n_iter = res.n_iter
        self.last_objective = res.log_likelihood if res.n_iter else None
        self.n_batches += 1

    def sweep(self, n_iter: int = 10) -> None:
        if not self.log.n_answers:
            return
        self._zero_counts()  # every task is touched: the counts are rebuilt from scratch
        self.update(self.all_answers(), n_iter, init=self.T.view.copy())
        self.n_batches -= 1  # a sweep is not a batch

    @property
    def prior(self) -> np.ndarray:
        return self.tsum / max(len(self.tasks), 1)


def _incidence(batch: Batch, k: int) -> sp.csr_matrix:
    """Local (touched tasks x touched workers*classes) 0/1 incidence of the batch's answers."""
    cols = batch.winv.astype(np.int64) * k + batch.label
    data = np.ones(len(cols))
    return sp.csr_matrix((data, (batch.tinv, cols)),
                         shape=(len(batch.tasks), len(batch.workers) * k))


class DSState(_PosteriorState):
    """Dawid-Skene: posteriors and per-worker expected confusion counts."""

    kind = "ds"
    fields = ("T", "labels", "tsum", "N", "conf", "given")

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.N = Grow(np.zeros((0, 0, 0)))      # [worker, answer, true class]
        self.conf = Grow(np.zeros((0, 0, 0)))   # same layout, normalised
        self.given = Grow(np.zeros((0, 0), bool))

    def _grow(self, n_tasks: int, n_workers: int, n_classes: int) -> None:
        super()._grow(n_tasks, n_workers, n_classes)
        for g in (self.N, self.conf):
            g.widen(n_classes, 1)
            g.widen(n_classes, 2)
            g.resize(n_workers, 0.0)
        self.given.widen(n_classes)
        self.given.resize(n_workers, False)

    def _counts(self, batch: Batch, probas: np.ndarray, part: slice | None = None) -> np.ndarray:
        k = len(self.classes)
        x = _incidence(batch, k) if part is None else _incidence_part(batch, k, part)
        return np.asarray(x.T @ probas).reshape(len(batch.workers), k, k)

    def _remove(self, batch: Batch, old_T: np.ndarray) -> np.ndarray:
        self._x = _incidence(batch, len(self.classes))
        old = self._counts(batch, old_T, slice(0, batch.n_old))
        rest = np.maximum(self.N.view[batch.workers] - old, 0.0)
        self.given.view[batch.worker, batch.label] = True
        return rest

    def _m_step(self, batch: Batch, rest: np.ndarray, probas: np.ndarray,
                prior: np.ndarray) -> Any:
        k = len(self.classes)
        counts = rest + np.asarray(self._x.T @ probas).reshape(len(batch.workers), k, k)
        conf = _normalize_counts(counts, self.params["alpha"], self.given.view[batch.workers])
        return counts, conf, prior

    def _e_step(self, batch: Batch, params: Any) -> tuple[np.ndarray, float]:
        _, conf, prior = params
        k = len(self.classes)
        alpha = self.params["alpha"]
        log_conf = np.log(conf) if alpha else _safe_log(conf)
        scores = np.asarray(self._x @ log_conf.reshape(-1, k)).T.copy()
        scores += _log_prior(prior)[:, None]
        probas, loglik = _softmax_columns(scores)
        return probas, loglik / max(len(batch.pos), 1)

    def _store(self, batch: Batch, params: Any) -> None:
        counts, conf, _ = params
        self.N.view[batch.workers] = counts
        self.conf.view[batch.workers] = conf

    def _zero_counts(self) -> None:
        self.N.view[:] = 0.0

    def outputs(self) -> dict[str, np.ndarray]:
        conf = self.conf.view
        idle = conf.sum(axis=1) == 0  # a (worker, true class) never estimated: uniform
        if idle.any():
            conf = conf.copy()
            k = max(conf.shape[1], 1)
            conf.transpose(0, 2, 1)[idle] = 1.0 / k
        return {"probas": self.T.view, "labels": self.labels.view,
                "confusions": conf.transpose(0, 2, 1), "priors": self.prior}


def _incidence_part(batch: Batch, k: int, part: slice) -> sp.csr_matrix:
    cols = batch.winv[part].astype(np.int64) * k + batch.label[part]
    return sp.csr_matrix((np.ones(len(cols)), (batch.tinv[part], cols)),
                         shape=(len(batch.tasks), len(batch.workers) * k))


class OneCoinState(_PosteriorState):
    """One-coin Dawid-Skene: posteriors, per-worker expected correct answers and answers."""

    kind = "onecoin"
    fields = ("T", "labels", "tsum", "hits", "n_per_worker", "skills")

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.hits = Grow(np.zeros(0))
        self.n_per_worker = Grow(np.zeros(0))
        self.skills = Grow(np.zeros(0))

    def _grow(self, n_tasks: int, n_workers: int, n_classes: int) -> None:
        super()._grow(n_tasks, n_workers, n_classes)
        self.hits.resize(n_workers)
        self.n_per_worker.resize(n_workers)
        self.skills.resize(n_workers, 1.0 / max(n_classes, 1))

    def _hits(self, batch: Batch, probas: np.ndarray, part: slice) -> np.ndarray:
        correct = probas[batch.tinv[part], batch.label[part]]
        return np.bincount(batch.winv[part], weights=correct, minlength=len(batch.workers))

    def _remove(self, batch: Batch, old_T: np.ndarray) -> np.ndarray:
        old = self._hits(batch, old_T, slice(0, batch.n_old))
        rest = np.maximum(self.hits.view[batch.workers] - old, 0.0)
        new = batch.worker[batch.n_old:]
        self.n_per_worker.view[:] += np.bincount(new, minlength=self.n_per_worker.n)
        return rest

    def _m_step(self, batch: Batch, rest: np.ndarray, probas: np.ndarray,
                prior: np.ndarray) -> Any:
        hits = rest + self._hits(batch, probas, slice(0, None))
        total = self.n_per_worker.view[batch.workers]
        skills = np.full(len(hits), 1.0 / max(len(self.classes), 1))
        np.divide(hits, total, out=skills, where=total > 0)
        return hits, skills, prior

    def _e_step(self, batch: Batch, params: Any) -> tuple[np.ndarray, float]:
        _, skills, prior = params
        k, n = len(self.classes), len(batch.tasks)
        scores = _one_coin_scores(batch.tinv, batch.winv, batch.label, n, k,
                                  *_one_coin_logs(skills, k), _log_prior(prior))
        probas, loglik = _softmax_columns(scores)
        return probas, loglik / max(len(batch.pos), 1)

    def _store(self, batch: Batch, params: Any) -> None:
        hits, skills, _ = params
        self.hits.view[batch.workers] = hits
        self.skills.view[batch.workers] = skills

    def _zero_counts(self) -> None:
        self.hits.view[:] = 0.0
        self.n_per_worker.view[:] = 0.0

    def outputs(self) -> dict[str, np.ndarray]:
        skills = self.skills.view
        return {"probas": self.T.view, "labels": self.labels.view, "skills": skills,
                "confusions": _one_coin_conf(skills, len(self.classes)).transpose(0, 2, 1),
                "priors": self.prior}


STATES: dict[str, type[_State]] = {s.kind: s for s in (MVState, WawaState, DSState,
                                                          OneCoinState)}
