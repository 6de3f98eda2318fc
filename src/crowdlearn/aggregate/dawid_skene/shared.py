"""Shared pieces of the Dawid-Skene family: the sparse design, E-/M-step helpers, the base class.

:class:`_Design` holds the sparse views of one :class:`~crowdlearn.Answers` (the E-step is one
sparse product ``incidence @ log(pi)``, the M-step counts one ``incidence.T @ T``);
:func:`_softmax_columns`, :func:`_normalize_counts` and the small helpers around them turn scores
into posteriors and counts into confusions; :class:`_DSFamily` stores the fitted result of every
model of the family.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ...answers import Answers
from .._em import EMResult
from ..base import Aggregator

EPS = 1e-10
"""Floor of confusion counts and class priors before normalising (crowd-kit's ``_EPS``)."""

_UNDERFLOW = 1e-250  # row sums of exp(scores) below this are recomputed with a max shift


class _Design:
    """The sparse views of one :class:`Answers` that every E- and M-step of the family uses."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.n_tasks = answers.n_tasks
        self.n_workers = answers.n_workers
        self.n_classes = answers.n_classes
        self.n_answers = max(answers.n_answers, 1)
        given = np.bincount(
            answers.worker.astype(np.int64) * answers.n_classes + answers.label,
            minlength=answers.n_workers * answers.n_classes,
        ).reshape(answers.n_workers, answers.n_classes) > 0
        idle = ~given.any(axis=1)
        #: (workers, answers) labels each worker gave at least once (all True for idle workers)
        self.given = given | idle[:, None]
        self.incidence = answers.incidence  # cached on Answers: built once
        self.incidence_t = self.incidence.T  # CSC view, no copy: fastest for X.T @ T

    def log_scores(self, log_conf_mk: np.ndarray) -> np.ndarray:
        """Class-major (classes x tasks) sum over each task's answers of ``log pi[w, :, l]``.

        ``log_conf_mk`` is (workers, answer, true class): row ``w*K + l`` of its flat view is
        what answer ``l`` of worker ``w`` says about each true class.
        """
        k = self.n_classes
        scores = self.incidence @ log_conf_mk.reshape(self.n_workers * k, k)
        return np.ascontiguousarray(np.asarray(scores).T)

    def posterior(
        self, log_conf_mk: np.ndarray, log_prior: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """E-step: task posterior (tasks x classes) and the summed log marginal likelihood."""
        scores = self.log_scores(log_conf_mk)
        scores += log_prior[:, None]
        return _softmax_columns(scores)

    def counts(self, probas: np.ndarray) -> np.ndarray:
        """M-step counts ``N[w, l, k]`` = expected answers ``l`` of worker ``w`` on class ``k``."""
        k = self.n_classes
        flat = self.incidence_t @ np.ascontiguousarray(probas)
        return np.asarray(flat).reshape(self.n_workers, k, k)


def _softmax_columns(scores: np.ndarray) -> tuple[np.ndarray, float]:
    """Softmax over axis 0 of class-major ``scores``.

    Returns the posterior as a (tasks x classes) view and the sum of the column log-sum-exps.
    Scores are log-probabilities (<= 0), so ``exp`` cannot overflow and no max shift is needed
    (it costs as much as the rest of the E-step); columns whose every entry underflows (tasks
    with hundreds of answers) are recomputed with the usual max shift.
    """
    shift = 0.0
    if scores.size and scores.max() > 0:  # not log-probabilities: shift everything
        top = scores.max(axis=0)
        scores = scores - top
        shift = float(top.sum())
    probs = np.exp(scores)
    total = probs.sum(axis=0)
    bad = np.flatnonzero(~(total > _UNDERFLOW))
    if len(bad):
        sub = scores[:, bad]
        top = sub.max(axis=0)
        probs[:, bad] = np.exp(sub - top)
        total[bad] = probs[:, bad].sum(axis=0)
        shift += float(top.sum())
    probs /= total
    return probs.T, float(np.log(total).sum()) + shift


def _normalize_counts(
    counts_mk: np.ndarray, alpha: float = 0.0, given: np.ndarray | None = None
) -> np.ndarray:
    """Confusions from counts ``N[w, l, k]``, each (worker, true class) summing to 1 over ``l``.

    ``N + alpha`` is floored at :data:`EPS`. Without smoothing, labels a worker never gave
    (``given[w, l]`` false) keep probability 0, which is the maximum-likelihood estimate and
    crowd-kit's behaviour (it floors and normalises only the observed (worker, label) rows).
    """
    conf = counts_mk + alpha if alpha else counts_mk.copy()
    np.maximum(conf, EPS, out=conf)
    if given is not None and not alpha:
        conf *= given[:, :, None]
    conf /= conf.sum(axis=-2, keepdims=True)
    return conf


def _safe_log(conf: np.ndarray) -> np.ndarray:
    """``log`` with zeros (never-given labels, never read by the E-step) mapped to -1e3."""
    out = np.full(conf.shape, -1e3)
    np.log(conf, out=out, where=conf > 0)
    return out


def _class_priors(probas: np.ndarray) -> np.ndarray:
    k = probas.shape[1]
    return probas.mean(axis=0) if len(probas) else np.full(k, 1.0 / max(k, 1))


def _log_prior(prior: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(prior, EPS))


class _DSParams(NamedTuple):
    """DS parameters: confusions as (worker, answer, true class) and the class prior."""

    conf_mk: np.ndarray
    prior: np.ndarray


def _ds_m_step(design: _Design, probas: np.ndarray, alpha: float) -> _DSParams:
    conf = _normalize_counts(design.counts(probas), alpha, design.given)
    return _DSParams(conf, _class_priors(probas))


def _ds_e_step(
    design: _Design, params: _DSParams, alpha: float
) -> tuple[np.ndarray, float]:
    log_conf = _safe_log(params.conf_mk) if not alpha else np.log(params.conf_mk)
    probas, loglik = design.posterior(log_conf, _log_prior(params.prior))
    if alpha:  # MAP objective: the Dirichlet(alpha + 1) log-density of the confusions
        loglik += alpha * float(log_conf.sum())
    return probas, loglik / design.n_answers


def _one_coin_logs(skills: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(log s_w, log (1 - s_w) / (K - 1)) per worker, clipped to [EPS, 1 - EPS] as crowd-kit."""
    log_hit = np.log(np.clip(skills, EPS, 1.0 - EPS))
    log_off = np.log(np.clip((1.0 - skills) / max(n_classes - 1, 1), EPS, 1.0 - EPS))
    return log_hit, log_off


def _one_coin_scores(task: np.ndarray, worker: np.ndarray, label: np.ndarray, n_tasks: int,
                     n_classes: int, log_hit: np.ndarray, log_off: np.ndarray,
                     log_prior: np.ndarray, cell: np.ndarray | None = None) -> np.ndarray:
    """One-coin E-step scores (K, n_tasks): log pi[w, k, l] = log off_w + [l == k] (log s_w -
    log off_w), so a per-task base plus a skill-weighted vote table (two ``np.bincount``; no
    workers x K x K array is formed), plus the log prior. ``worker`` indexes the logs;
    ``cell`` (``label * n_tasks + task``) may be passed by an EM loop that computed it once."""
    if cell is None:
        cell = label.astype(np.int64) * n_tasks + task
    base = np.bincount(task, weights=log_off[worker], minlength=n_tasks)
    gain = (log_hit - log_off)[worker]
    scores = np.bincount(cell, weights=gain, minlength=n_classes * n_tasks).reshape(
        n_classes, n_tasks)
    scores += base
    scores += log_prior[:, None]
    return scores


def _one_coin_conf(skills: np.ndarray, n_classes: int) -> np.ndarray:
    """(worker, answer, true) confusions with ``skills`` on the diagonal, the rest uniform."""
    off = (1.0 - skills) / max(n_classes - 1, 1)
    conf = np.repeat(off[:, None, None], n_classes, axis=1).repeat(n_classes, axis=2)
    diag = np.arange(n_classes)
    conf[:, diag, diag] = skills[:, None]
    return conf


class _DSFamily(Aggregator):
    """Common result handling of the Dawid-Skene family."""

    has_confusions = True

    def _store(self, res: EMResult[Any], conf_mk: np.ndarray, prior: np.ndarray) -> None:
        self.probas_ = np.ascontiguousarray(res.probas)
        self.confusions_ = np.ascontiguousarray(conf_mk.transpose(0, 2, 1))
        self.priors_ = np.asarray(prior, dtype=np.float64)
        self.n_iter_ = res.n_iter
        self.log_likelihood_ = res.log_likelihood
        self.loss_history_ = list(res.history)
        self.converged_ = res.converged

    def _to_pandas(self, answers: Answers) -> None:
        import pandas as pd

        super()._to_pandas(answers)
        if answers.n_tasks == 0:  # crowd-kit's empty result
            self.errors_ = pd.DataFrame()
            return
        conf = np.asarray(self.confusions_)
        w, k = conf.shape[0], conf.shape[1]
        index = pd.MultiIndex.from_product(
            [answers.worker_ids, answers.classes], names=["worker", "label"]
        )
        # crowd-kit's layout: rows (worker, observed label), columns true label (unnamed)
        errors = pd.DataFrame(
            conf.transpose(0, 2, 1).reshape(w * k, k), index=index,
            columns=pd.Index(answers.classes),
        )
        prior = getattr(self, "_prior_rows", None)
        if isinstance(prior, pd.DataFrame) and self.n_iter_ == 0:
            # the prior confusion's own rows, in its order (crowd-kit returns it as is)
            first = prior.index[prior.index.isin(errors.index)]
            errors = pd.concat([errors.loc[first], errors.drop(first)])
        self.errors_ = errors
