"""The E- and M-steps of the vote and Dawid-Skene strategies on torch tensors (``device=``).

Same arithmetic as the numpy path, written with torch's scatter-adds: a vote table is a
``bincount`` over ``task * K + label``; the DS E-step gathers ``log pi[w, l, :]`` per answer and
``index_add_``-s it into the task scores (classes x tasks), the M-step ``index_add_``-s each
task's posterior into its answers' (worker, label) rows. Everything stays on the device in
float64; the loop is the shared :func:`~crowdlearn.aggregate._em.run_em`, whose convergence
test reads one number per iteration (the only host synchronisation). Exact ties of hard labels
are broken on the host by the numpy rules (so labels equal the numpy path's). Results are
copied back as numpy arrays: after a fit the estimator looks exactly as after a numpy fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..answers import Answers
from ..errors import CrowdlearnError
from ._em import EMResult, run_em
from .dawid_skene.shared import EPS, _Design

F64 = torch.float64


class TorchAnswers:
    """Index tensors of one :class:`Answers` on ``device`` (built once per fit)."""

    def __init__(self, answers: Answers, device: Any) -> None:
        self.device = device
        self.n, self.w, self.k = answers.n_tasks, answers.n_workers, answers.n_classes
        self.n_answers = max(answers.n_answers, 1)

        def put(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.int64), device=device)

        self.task, self.worker, self.label = put(answers.task), put(answers.worker), \
            put(answers.label)
        self.cell_tl = self.task * self.k + self.label    # (task, answer) cell
        self.cell_wl = self.worker * self.k + self.label  # (worker, answer) row of pi

    def tensor(self, a: Any, dtype: Any = F64) -> torch.Tensor:
        return torch.as_tensor(a, dtype=dtype, device=self.device)

    def vote_table(self, weights: torch.Tensor | None = None) -> torch.Tensor:
        return torch.bincount(self.cell_tl, weights=weights,
                              minlength=self.n * self.k).reshape(self.n, self.k).to(F64)

    def vote_frequencies(self, weights: torch.Tensor | None = None) -> torch.Tensor:
        """As :func:`~crowdlearn.aggregate.voting.vote_frequencies` (same fallbacks)."""
        table = self.vote_table(weights)
        total = table.sum(dim=1)
        if weights is not None:
            counts = self.vote_table()
            void = total <= 0
            table = torch.where(void[:, None], counts, table)
            total = torch.where(void, counts.sum(dim=1), total)
        out = torch.full_like(table, 1.0 / max(self.k, 1))
        ok = total > 0
        return torch.where(ok[:, None], table / torch.where(ok, total, 1.0)[:, None], out)

    def scores(self, log_conf_mk: torch.Tensor) -> torch.Tensor:
        """Class-major (classes x tasks) sums of ``log pi[w, l, :]`` over each task's answers."""
        rows = log_conf_mk.reshape(self.w * self.k, self.k)[self.cell_wl]
        out = torch.zeros(self.n, self.k, dtype=F64, device=self.device)
        return out.index_add_(0, self.task, rows).T.contiguous()

    def counts(self, probas: torch.Tensor) -> torch.Tensor:
        """``N[w, l, k]``: expected answers ``l`` of worker ``w`` on tasks of class ``k``."""
        out = torch.zeros(self.w * self.k, self.k, dtype=F64, device=self.device)
        return out.index_add_(0, self.cell_wl, probas[self.task]).reshape(self.w, self.k,
                                                                           self.k)


def softmax_columns(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior (tasks x classes) and the summed log-normaliser of class-major scores."""
    lse = torch.logsumexp(scores, dim=0)
    return torch.exp(scores - lse).T, lse.sum()


def _log_prior(prior: torch.Tensor) -> torch.Tensor:
    return torch.log(torch.clamp(prior, min=EPS))


def _priors(probas: torch.Tensor) -> torch.Tensor:
    return probas.mean(dim=0)


def _run(init: torch.Tensor, m_step: Callable[[Any], Any],
         e_step: Callable[[Any], tuple[torch.Tensor, torch.Tensor]], est: Any) -> EMResult:
    res = run_em(init, m_step, lambda p: _host_objective(e_step(p)), tol=est.tol,
                 max_iter=est.n_iter)
    return res


def _host_objective(out: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, float]:
    probas, objective = out
    return probas, float(objective)  # the one host synchronisation of an iteration


def _numpy(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().cpu().numpy())


def _to_host(res: EMResult) -> EMResult:
    res.probas = _numpy(res.probas)
    return res


def _no_initial_error(est: Any) -> None:
    if getattr(est, "_initial_error", None) is not None and est.initial_error_strategy:
        raise CrowdlearnError(f"{type(est).__name__}: initial_error runs on the numpy path "
                              f"only (device=None)")


# ------------------------------------------------------------------------------ strategies
def fit_ds(est: Any, answers: Answers, device: Any) -> None:
    _no_initial_error(est)
    alpha = float(est.alpha)
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    ta = TorchAnswers(answers, device)
    design = _Design(answers)
    given = ta.tensor(design.given, torch.bool)[:, :, None]
    if est.init == "spectral":
        init = ta.tensor(est._initial_probas(answers, design))
    else:
        est.init_ = "mv"
        init = ta.vote_frequencies()

    def m_step(probas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        conf = ta.counts(probas)
        if alpha:
            conf = conf + alpha
        conf = torch.clamp(conf, min=EPS)
        if not alpha:
            conf = conf * given
        return conf / conf.sum(dim=-2, keepdim=True), _priors(probas)

    def e_step(params: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        conf, prior = params
        if alpha:
            log_conf = torch.log(conf)
        else:  # zeros (never-given labels) as -1e3, as _safe_log
            log_conf = torch.where(conf > 0, torch.log(torch.where(conf > 0, conf, 1.0)),
                                   -1e3)
        scores = ta.scores(log_conf) + _log_prior(prior)[:, None]
        probas, loglik = softmax_columns(scores)
        if alpha:
            loglik = loglik + alpha * log_conf.sum()
        return probas, loglik / ta.n_answers

    res = _to_host(_run(init, m_step, e_step, est))
    est._prior_rows = None
    est._store(res, _numpy(res.params[0]), _numpy(res.params[1]))


def fit_pooled(est: Any, answers: Answers, device: Any) -> None:
    k = answers.n_classes
    s = float(k if est.strength is None else est.strength)
    if not s > 0:
        raise ValueError(f"strength must be > 0, got {est.strength}")
    ta = TorchAnswers(answers, device)

    def m_step(probas: torch.Tensor) -> tuple[torch.Tensor, ...]:
        counts = ta.counts(probas)
        pooled = counts.sum(dim=0) + 1.0
        pooled = pooled / pooled.sum(dim=0, keepdim=True)
        conf = counts + s * pooled[None]
        return conf / conf.sum(dim=1, keepdim=True), _priors(probas), pooled

    def e_step(params: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        scores = ta.scores(torch.log(params[0])) + _log_prior(params[1])[:, None]
        probas, loglik = softmax_columns(scores)
        return probas, loglik / ta.n_answers

    res = _to_host(_run(ta.vote_frequencies(), m_step, e_step, est))
    est._store(res, _numpy(res.params[0]), _numpy(res.params[1]))
    est.pooled_confusion_ = np.ascontiguousarray(_numpy(res.params[2]).T)
    est.strength_ = s


def fit_onecoin(est: Any, answers: Answers, device: Any) -> None:
    from .dawid_skene.shared import _one_coin_conf

    _no_initial_error(est)
    ta = TorchAnswers(answers, device)
    k, n = ta.k, ta.n
    per_worker = torch.bincount(ta.worker, minlength=ta.w).to(F64)
    cell = ta.label * n + ta.task

    def m_step(probas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hits = torch.bincount(ta.worker, weights=probas[ta.task, ta.label], minlength=ta.w)
        skills = torch.where(per_worker > 0, hits / torch.clamp(per_worker, min=1.0),
                             1.0 / max(k, 1))
        return skills, _priors(probas)

    def e_step(params: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        skills, prior = params
        log_hit = torch.log(torch.clamp(skills, EPS, 1.0 - EPS))
        log_off = torch.log(torch.clamp((1.0 - skills) / max(k - 1, 1), EPS, 1.0 - EPS))
        base = torch.bincount(ta.task, weights=log_off[ta.worker], minlength=n)
        gain = (log_hit - log_off)[ta.worker]
        scores = torch.bincount(cell, weights=gain, minlength=k * n).reshape(k, n)
        scores = scores + base + _log_prior(prior)[:, None]
        probas, loglik = softmax_columns(scores)
        return probas, loglik / ta.n_answers

    res = _to_host(_run(ta.vote_frequencies(), m_step, e_step, est))
    skills = _numpy(res.params[0])
    est._store(res, _one_coin_conf(skills, k), _numpy(res.params[1]))
    est.skills_ = skills


def _majority_labels(ta: TorchAnswers, est: Any) -> tuple[np.ndarray, np.ndarray]:
    """Votes counted on the device; the tie rules of the numpy path on the host."""
    from .votes import _majority

    counts = torch.bincount(ta.label * ta.n + ta.task, minlength=ta.n * ta.k)
    return _majority(_numpy(counts.reshape(ta.k, ta.n)), est.tie_break, est.random_state)


def _agreement(ta: TorchAnswers, labels: np.ndarray) -> torch.Tensor:
    hit = (ta.label == ta.tensor(labels, torch.int64)[ta.task]).to(F64)
    n_w = torch.bincount(ta.worker, minlength=ta.w).to(F64)
    hits = torch.bincount(ta.worker, weights=hit, minlength=ta.w)
    return torch.where(n_w > 0, hits / torch.clamp(n_w, min=1.0), 0.0)


def fit_mv(est: Any, answers: Answers, device: Any) -> None:
    if getattr(est, "_skills_in", None) is not None:
        raise CrowdlearnError("MajorityVote: weighted votes (skills) run on the numpy path "
                              "only (device=None)")
    if est.posterior not in ("shares", "tied"):
        raise ValueError(f"posterior must be 'shares' or 'tied', got {est.posterior!r}")
    est._ignored = None
    ta = TorchAnswers(answers, device)
    tied, est.labels_ = _majority_labels(ta, est)
    est.probas_ = tied if est.posterior == "tied" else _numpy(ta.vote_frequencies())
    est.skills_ = _numpy(_agreement(ta, est.labels_))


def fit_naivesoft(est: Any, answers: Answers, device: Any) -> None:
    from .voting import hard_labels

    est.probas_ = _numpy(TorchAnswers(answers, device).vote_frequencies())
    est.labels_ = hard_labels(est.probas_, est.tie_break, est.random_state)


def fit_wawa(est: Any, answers: Answers, device: Any) -> None:
    from .voting import hard_labels

    ta = TorchAnswers(answers, device)
    _, majority = _majority_labels(ta, est)
    skills = _agreement(ta, majority)
    est.skills_ = _numpy(skills)
    est.probas_ = _numpy(ta.vote_frequencies(skills[ta.worker]))
    est.labels_ = hard_labels(est.probas_, est.tie_break, est.random_state)


#: strategy name -> torch fit
FITS: dict[str, Callable[[Any, Answers, Any], None]] = {
    "mv": fit_mv, "naivesoft": fit_naivesoft, "wawa": fit_wawa, "ds": fit_ds,
    "onecoin": fit_onecoin, "pooled-ds": fit_pooled,
}
