"""The client side of the distributed strategies: EM over sums of per-partition statistics.

Every iteration broadcasts the (worker-sized) parameters, maps one step of
:mod:`._steps` over the partitions and sums the returned statistics; the M-step then runs on
the client with the in-memory strategies' own functions (:func:`_normalize_counts`,
:func:`~crowdlearn.aggregate.default.pooled_confusions`). The loop and its stopping rule are
those of :class:`~crowdlearn.aggregate._em.EMStepper`: parameters from the initial posterior
(the vote shares), then E-step, M-step, stop when the log-likelihood per answer moves by less
than ``tol``; the returned posterior is that of the last E-step. Hard labels break exact ties
with one global draw in task order, as :func:`~crowdlearn.aggregate.base.argmax_random_ties`
does in memory.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..aggregate.dawid_skene.shared import _log_prior, _normalize_counts, _one_coin_conf, _safe_log
from ..errors import CrowdlearnError
from . import _steps


@dataclass
class Fitted:
    """A distributed fit: per-partition futures of posteriors and labels, learned attributes."""

    probas: list[Any]
    labels: list[Any]
    attrs: dict[str, Any] = field(default_factory=dict)
    #: per-task attributes (name -> per-partition futures), gathered in task order by collect
    task_attrs: dict[str, list[Any]] = field(default_factory=dict)


class Engine:
    """The partitions of one data set on a Dask client, and the map-reduce helpers."""

    def __init__(self, client: Any, parts: list[Any], vocab: Any) -> None:
        self.client, self.parts, self.vocab = client, parts, vocab
        self.n_workers = len(vocab.worker_ids)
        self.n_classes = len(vocab.classes)
        given, per_worker, n_tasks = self.reduce(_steps.sizes)
        self.given_raw = given > 0
        self.per_worker = per_worker
        self.n_tasks = int(n_tasks)
        idle = ~self.given_raw.any(axis=1)
        self.given = self.given_raw | idle[:, None]  # as _Design.given

    def broadcast(self, value: Any) -> Any:
        """``value`` as a task argument: inline when small (no round trip), else scattered
        to every worker once."""
        if value is None or _nbytes(value) < 2**21:
            return value
        return self.client.scatter([value], broadcast=True, hash=False)[0]

    def map(self, fn: Any, *args: Any, per_part: tuple = ()) -> list[Any]:
        """``fn(part, *per_part_values, *args)`` on every partition (``args`` broadcast once)."""
        shared = [self.broadcast(a) for a in args]
        n = len(self.parts)
        columns = [self.parts, *per_part, *[[s] * n for s in shared]]
        return self.client.map(fn, *columns, pure=False)

    def reduce(self, fn: Any, *args: Any) -> tuple:
        """The statistics of every partition, summed here in partition order (worker-sized
        results: one hop from the workers, no intermediate worker)."""
        return _steps.add(*self.client.gather(self.map(fn, *args)))

    # ---------------------------------------------------------------- hard labels
    def hard_labels(self, probas: list[Any], tie_break: str, seed: Any) -> list[Any]:
        """Per-partition labels; exact ties broken as in memory (one draw, global task order)."""
        if tie_break not in ("random", "first"):
            raise ValueError(f"tie_break must be one of ('random', 'first'), got {tie_break!r}")
        ties = self.client.map(_local_ties, probas, self.parts, pure=False)
        firsts = self.client.map(operator.getitem, ties, [0] * len(ties), pure=False)
        if tie_break == "first":
            return firsts
        multi = self.client.gather(self.client.map(operator.getitem, ties, [1] * len(ties),
                                                   pure=False))
        lengths = [len(m) for m in multi]
        total = sum(lengths)
        if not total:
            return firsts
        ids = np.concatenate([np.asarray(m, dtype=str if m.dtype.kind in "OU" else m.dtype)
                              for m in multi])
        rank = np.empty(total, dtype=np.int64)
        rank[np.argsort(ids, kind="stable")] = np.arange(total)
        noise = np.random.default_rng(seed).random((total, self.n_classes))
        offsets = np.cumsum([0, *lengths])
        chunks = [noise[rank[offsets[i]:offsets[i + 1]]] for i in range(len(multi))]
        noise_futs = self.client.scatter(chunks, hash=False)
        return self.client.map(_steps.apply_ties, probas, firsts, noise_futs, pure=False)


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    return 0


def _local_ties(probas: np.ndarray, part: Any) -> tuple:
    return _steps.local_ties(probas, part)


# ---------------------------------------------------------------------- EM loop
def _em(engine: Engine, stats_fn: Any, m_step: Any, e_args: Any, n_iter: int, tol: float,
        objective: Any) -> tuple[Any, Any, list[float], bool, int]:
    """EMStepper's loop: returns (params used by the last E-step, final params, history,
    converged, iterations)."""
    stats = engine.reduce(stats_fn, None)
    params = m_step(stats)
    used, history, prev, converged = None, [], -np.inf, False
    for _ in range(max(int(n_iter), 0)):
        stats = engine.reduce(stats_fn, e_args(params))
        ll = objective(stats, params)
        used, params = params, m_step(stats)
        history.append(float(ll))
        converged = abs(ll - prev) < tol
        prev = ll
        if converged:
            break
    return used, params, history, converged, len(history)


def _priors(sums: np.ndarray, n_tasks: int, k: int) -> np.ndarray:
    return sums / n_tasks if n_tasks else np.full(k, 1.0 / max(k, 1))


def fit_ds_family(engine: Engine, name: str, params: dict[str, Any]) -> Fitted:
    """Dawid-Skene (``ds``), pooled DS (``pooled-ds``) or one-coin DS (``onecoin``)."""
    k, n_answers = engine.n_classes, max(engine.vocab.n_answers, 1)
    n_iter, tol = params.get("n_iter", 100), params.get("tol", 1e-5)
    attrs: dict[str, Any] = {}
    if name == "onecoin":
        def m_step(stats: tuple) -> tuple:
            hits, sums, _ = stats
            skills = np.full(engine.n_workers, 1.0 / max(k, 1))
            np.divide(hits, engine.per_worker, out=skills, where=engine.per_worker > 0)
            return skills, _priors(sums, engine.n_tasks, k)

        def e_args(p: tuple) -> tuple:
            return _steps.onecoin_log_params(p[0], _log_prior(p[1]), k)

        used, final, history, converged, it = _em(
            engine, _steps.onecoin_stats, m_step, e_args, n_iter, tol,
            lambda s, p: s[2] / n_answers)
        probas = engine.map(_steps.onecoin_posterior, None if used is None else e_args(used))
        attrs.update(skills_=final[0], confusions_=_one_coin_conf(final[0], k).transpose(0, 2, 1),
                     priors_=final[1])
    else:
        if name == "ds":
            alpha = float(params.get("alpha", 0.0))
            if alpha < 0:
                raise ValueError(f"alpha must be >= 0, got {alpha}")
            if params.get("init", "mv") != "mv":
                raise CrowdlearnError("--engine dask: ds starts from the vote shares only "
                                      "(init=spectral needs the whole data set in memory)")
            if params.get("initial_error_strategy") is not None:
                raise CrowdlearnError("--engine dask: initial_error is not supported")

            def conf_of(counts: np.ndarray) -> tuple:
                return (_normalize_counts(counts, alpha, engine.given),)

            def log_conf(conf: np.ndarray) -> np.ndarray:
                return _safe_log(conf) if not alpha else np.log(conf)

            def extra_ll(conf: np.ndarray) -> float:
                return alpha * float(log_conf(conf).sum()) if alpha else 0.0
            attrs["init_"] = "mv"
        else:  # pooled-ds
            from ..aggregate.default import pooled_confusions

            s = float(k if params.get("strength") is None else params["strength"])
            if not s > 0:
                raise ValueError(f"strength must be > 0, got {params.get('strength')}")

            def conf_of(counts: np.ndarray) -> tuple:
                return pooled_confusions(counts, s)

            log_conf = np.log

            def extra_ll(conf: np.ndarray) -> float:
                return 0.0
            attrs["strength_"] = s

        def m_step(stats: tuple) -> tuple:
            counts, sums, _ = stats
            return (*conf_of(counts), _priors(sums, engine.n_tasks, k))

        def e_args(p: tuple) -> tuple:
            return log_conf(p[0]), _log_prior(p[-1])

        used, final, history, converged, it = _em(
            engine, _steps.ds_stats, m_step, e_args, n_iter, tol,
            lambda st, p: (st[2] + extra_ll(p[0])) / n_answers)
        probas = engine.map(_steps.ds_posterior, None if used is None else e_args(used))
        attrs.update(confusions_=np.ascontiguousarray(final[0].transpose(0, 2, 1)),
                     priors_=np.asarray(final[-1], dtype=np.float64))
        if name == "pooled-ds":
            attrs["pooled_confusion_"] = np.ascontiguousarray(final[1].T)
    probas = engine.client.map(operator.getitem, probas, [0] * len(probas), pure=False)
    attrs.update(n_iter_=it, log_likelihood_=history[-1] if history else float("nan"),
                 loss_history_=history, converged_=converged)
    labels = engine.hard_labels(probas, "random", params.get("random_state", 0))
    return Fitted(probas, labels, attrs)


def fit_votes(engine: Engine, name: str, params: dict[str, Any]) -> Fitted:
    """Majority vote (``mv``), vote shares (``naivesoft``) and ``wawa``."""
    tie_break, seed = params.get("tie_break", "random"), params.get("random_state", 0)
    shares = engine.map(_steps.vote_shares)
    labels = engine.hard_labels(shares, tie_break, seed)
    attrs: dict[str, Any] = {}
    if name in ("mv", "wawa"):
        hits, = _steps.add(*engine.client.gather(
            engine.client.map(_steps.agreement, engine.parts, labels, pure=False)))
        skills = np.zeros(engine.n_workers)
        np.divide(hits, engine.per_worker, out=skills, where=engine.per_worker > 0)
        attrs["skills_"] = skills
        if name == "wawa":
            shares = engine.map(_steps.vote_shares, skills)
            labels = engine.hard_labels(shares, tie_break, seed)
        elif params.get("posterior", "shares") == "tied":
            raise CrowdlearnError("--engine dask: mv gives the vote shares (posterior=shares)")
    return Fitted(shares, labels, attrs)


#: canonical strategy name -> client-side driver
DRIVERS = {"mv": fit_votes, "naivesoft": fit_votes, "wawa": fit_votes,
           "ds": fit_ds_family, "onecoin": fit_ds_family, "pooled-ds": fit_ds_family}

from ._glad import fit_glad  # noqa: E402  (it imports Fitted from here)

DRIVERS["glad"] = fit_glad
