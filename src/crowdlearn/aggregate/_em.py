"""The one EM skeleton shared by the Dawid-Skene family and every other EM-style strategy.

A strategy supplies two functions over its own parameter object:

``m_step(T) -> params``
    parameters maximising the expected complete-data log-likelihood under the task posterior
    ``T`` (tasks x classes);
``e_step(params) -> (T, log_likelihood)``
    the posterior given ``params`` and the objective at ``params`` (the marginal
    log-likelihood, or a log-posterior / ELBO for MAP and variational variants), *per answer*,
    so that one tolerance suits data sets of every size.

:func:`run_em` alternates them from an initial posterior (majority vote for the DS family), stops
when the objective changes by less than ``tol`` (or, when a ``stop`` rule is given, when that rule
says two consecutive posteriors are close enough) or after ``max_iter`` iterations, and records the
objective's history. Variational Bayes (IBCC, EBCC) is the same alternation: ``m_step`` updates
the variational distribution of the parameters, ``e_step`` that of the true labels and returns
the ELBO. Both steps are expected to be vectorised over answers (``np.bincount``, sparse
products); the loop itself only runs over iterations.

Gold labels (tasks whose true class is known) are fixed posteriors: :func:`run_em` replaces their
rows by one-hot vectors in the initial posterior and after *every* E-step, so every M-step counts
them as certain. This is the one place where gold labels enter EM: the aggregator base class
(:meth:`~crowdlearn.aggregate.base.Aggregator.fit`) sets them with :func:`gold_context` for the
duration of ``_fit``, and every strategy built on :func:`run_em` obeys them without code of its
own; the base class also clamps the final ``probas_`` / ``labels_`` of every strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

P = TypeVar("P")

_GOLD: ContextVar[tuple[np.ndarray, int] | None] = ContextVar("crowdlearn_gold", default=None)


@contextmanager
def gold_context(gold: np.ndarray | None, n_classes: int = 0) -> Iterator[None]:
    """Make ``gold`` (class index per task, -1 where unknown; ``n_classes`` classes) the gold
    labels of the EM runs started inside the block (``None``: no gold labels)."""
    token = _GOLD.set(None if gold is None else (gold, int(n_classes)))
    try:
        yield
    finally:
        _GOLD.reset(token)


def current_gold(n_tasks: int | None = None, n_classes: int | None = None
                 ) -> np.ndarray | None:
    """The gold labels in force (see :func:`gold_context`), or ``None``.

    Gold labels of another number of tasks (a sub-problem fitted on other tasks) or, when
    ``n_classes`` is given, of another number of classes (a posterior over something else than
    the classes, e.g. EBCC's subtypes) are not returned.
    """
    held = _GOLD.get()
    if held is None:
        return None
    gold, k = held
    if (n_tasks is not None and len(gold) != n_tasks) or (n_classes is not None
                                                          and n_classes != k):
        return None
    return gold


def clamp_gold(probas: np.ndarray, gold: np.ndarray | None = None,
               class_major: bool = False) -> np.ndarray:
    """``probas`` (tasks x classes) with the rows of gold tasks replaced by one-hot vectors.

    ``gold`` defaults to the labels in force (:func:`current_gold`); rows are changed in place
    when ``probas`` is writable, and ``probas`` is returned. ``class_major``: ``probas`` is
    (classes x tasks).
    """
    if class_major:
        return clamp_gold(probas.T, gold).T
    if gold is None:
        gold = current_gold(*probas.shape)
    if gold is None:
        return probas
    rows = np.flatnonzero(gold >= 0)
    if not len(rows):
        return probas
    if not probas.flags.writeable:
        probas = probas.copy()
    probas[rows] = 0.0
    probas[rows, gold[rows]] = 1.0
    return probas


@dataclass
class EMResult(Generic[P]):
    """Outcome of :func:`run_em`."""

    probas: np.ndarray
    params: P
    n_iter: int
    log_likelihood: float
    converged: bool
    history: list[float] = field(default_factory=list)


def run_em(
    init_probas: np.ndarray,
    m_step: Callable[[np.ndarray], P],
    e_step: Callable[[P], tuple[np.ndarray, float]],
    *,
    tol: float = 1e-5,
    max_iter: int = 100,
    progress: Any = None,
    stop: Callable[[np.ndarray, np.ndarray], bool] | None = None,
    class_major: bool = False,
) -> EMResult[P]:
    """Run EM from ``init_probas`` until the per-answer objective moves by less than ``tol``.

    Returns the posterior of the last E-step, the parameters of the last M-step (so that the
    two are consistent: labels come from the posterior that the returned parameters produce
    after one more E-step only when ``converged``), the number of iterations and the history.
    ``progress`` is an optional object with ``update(1)`` and ``set_postfix`` (a tqdm bar).
    ``stop(previous_probas, probas)``, when given, replaces the objective test: iterations end
    as soon as it returns true (e.g. ``np.allclose(prev, new, atol=1e-3)``, the rule of the
    reference IBCC / EBCC / BWA implementations).
    Gold labels in force (:func:`gold_context`) are clamped in the initial posterior and after
    every E-step; ``class_major`` says the posteriors are (classes x tasks).
    """
    shape = np.shape(init_probas)
    gold = None if len(shape) != 2 else current_gold(*(shape[::-1] if class_major else shape))
    probas = init_probas if gold is None else clamp_gold(np.array(init_probas, copy=True), gold,
                                                         class_major)
    params = m_step(probas)
    history: list[float] = []
    prev = -np.inf
    converged = False
    n_iter = 0
    for n_iter in range(1, max(int(max_iter), 0) + 1):  # noqa: B007 (read after the loop)
        previous = probas
        probas, ll = e_step(params)
        if gold is not None:
            probas = clamp_gold(probas, gold, class_major)
        params = m_step(probas)
        history.append(float(ll))
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loglik=f"{ll:.6f}", refresh=False)
        if stop is not None:
            if stop(previous, probas):
                converged = True
                break
        elif abs(ll - prev) < tol:
            converged = True
            break
        prev = ll
    return EMResult(
        probas=probas,
        params=params,
        n_iter=n_iter,
        log_likelihood=history[-1] if history else float("nan"),
        converged=converged,
        history=history,
    )
