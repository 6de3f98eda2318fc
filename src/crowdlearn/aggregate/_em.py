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
products); the loop itself only runs over iterations. :class:`EMStepper` is the same loop one
iteration at a time, for protocols that interleave several runs (EBCC's restart race).

Progress: :meth:`Aggregator.fit <crowdlearn.aggregate.base.Aggregator.fit>` opens one bar per fit
(:func:`fit_progress`); every EM iteration (and every step of a strategy's own loop, through
:func:`tick`) advances it. The bar is drawn only when the fit has run for
:data:`PROGRESS_DELAY_S` seconds, standard error is a terminal (the decision of
:mod:`crowdlearn._progress`) and progress was not switched off with :func:`quiet_progress`
(the CLI's ``--quiet``).

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

#: a fit shorter than this never shows a bar (tqdm's ``delay``)
PROGRESS_DELAY_S = 2.0
#: least seconds between two redraws of a bar
PROGRESS_MININTERVAL_S = 0.2
_BAR: ContextVar[Any] = ContextVar("crowdlearn_fit_bar", default=None)
_QUIET: ContextVar[bool] = ContextVar("crowdlearn_quiet_progress", default=False)


@contextmanager
def quiet_progress(quiet: bool = True) -> Iterator[None]:
    """Within this block, fits draw no progress bar (the CLI's ``--quiet``)."""
    token = _QUIET.set(bool(quiet))
    try:
        yield
    finally:
        _QUIET.reset(token)


@contextmanager
def fit_progress(desc: str) -> Iterator[Any]:
    """One progress bar for a whole fit, counting iterations; reused by nested fits.

    The bar is a :func:`crowdlearn._progress.progress_bar` with ``delay=PROGRESS_DELAY_S``: it
    appears only once the fit has run that long, on a terminal, unless :func:`quiet_progress`
    is active. Nested fits (``auto`` fitting its candidates) advance the outer bar.
    """
    outer = _BAR.get()
    if outer is not None:
        yield outer
        return
    from .._progress import progress_bar

    bar = progress_bar(total=None, desc=desc, unit="it", delay=PROGRESS_DELAY_S, leave=False,
                       mininterval=PROGRESS_MININTERVAL_S, requested=not _QUIET.get())
    token = _BAR.set(bar)
    try:
        yield bar
    finally:
        _BAR.reset(token)
        bar.close()


def tick(n: int = 1, **postfix: Any) -> None:
    """Advance the current fit's bar by ``n`` steps (no-op outside :func:`fit_progress`)."""
    bar = _BAR.get()
    if bar is None:
        return
    if postfix:
        bar.set_postfix(refresh=False, **postfix)
    bar.update(n)


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
    if not isinstance(probas, np.ndarray):  # a torch tensor (device=): same rows, on its device
        import torch

        idx = torch.as_tensor(rows, device=probas.device)
        probas = probas.clone()
        probas[idx] = 0.0
        probas[idx, torch.as_tensor(gold[rows], device=probas.device)] = 1.0
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


class EMStepper(Generic[P]):
    """The loop of :func:`run_em`, one iteration per :meth:`step` (same arithmetic, same order).

    ``probas``, ``params``, ``history``, ``n_iter`` and ``converged`` describe the state after
    the last step; :meth:`result` packs them into an :class:`EMResult`.
    """

    def __init__(
        self,
        init_probas: np.ndarray,
        m_step: Callable[[np.ndarray], P],
        e_step: Callable[[P], tuple[np.ndarray, float]],
        *,
        tol: float = 1e-5,
        stop: Callable[[np.ndarray, np.ndarray], bool] | None = None,
        class_major: bool = False,
    ) -> None:
        self.m_step, self.e_step, self.tol, self.stop = m_step, e_step, tol, stop
        # gold labels in force (gold_context) are clamped initially and after every E-step;
        # ``class_major``: the posteriors are (classes x tasks)
        self.class_major = class_major
        shape = np.shape(init_probas)
        self.gold = (None if len(shape) != 2
                     else current_gold(*(shape[::-1] if class_major else shape)))
        if self.gold is not None:
            init_probas = clamp_gold(np.array(init_probas, copy=True)
                                     if isinstance(init_probas, np.ndarray) else init_probas,
                                     self.gold, class_major)
        self.probas = init_probas
        self.params = m_step(init_probas)
        self.history: list[float] = []
        self.n_iter = 0
        self.converged = False
        self._prev = -np.inf

    @property
    def objective(self) -> float:
        """The objective of the last E-step (``-inf`` before the first)."""
        return self.history[-1] if self.history else -np.inf

    def step(self) -> bool:
        """One E-step and M-step; returns ``True`` once the stopping rule is met."""
        previous = self.probas
        self.probas, ll = self.e_step(self.params)
        if self.gold is not None:
            self.probas = clamp_gold(self.probas, self.gold, self.class_major)
        self.params = self.m_step(self.probas)
        self.history.append(float(ll))
        self.n_iter += 1
        if self.stop is not None:
            self.converged = bool(self.stop(previous, self.probas))
        else:
            self.converged = abs(ll - self._prev) < self.tol
        self._prev = ll
        return self.converged

    def result(self) -> EMResult[P]:
        return EMResult(
            probas=self.probas,
            params=self.params,
            n_iter=self.n_iter,
            log_likelihood=self.history[-1] if self.history else float("nan"),
            converged=self.converged,
            history=self.history,
        )


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
    ``progress`` is an optional object with ``update(1)`` and ``set_postfix`` (a tqdm bar);
    without it, the bar of the current fit (:func:`fit_progress`) advances.
    ``stop(previous_probas, probas)``, when given, replaces the objective test: iterations end
    as soon as it returns true (e.g. ``np.allclose(prev, new, atol=1e-3)``, the rule of the
    reference IBCC / EBCC / BWA implementations).
    Gold labels in force (:func:`gold_context`) are clamped in the initial posterior and after
    every E-step; ``class_major`` says the posteriors are (classes x tasks).
    """
    em = EMStepper(init_probas, m_step, e_step, tol=tol, stop=stop, class_major=class_major)
    for _ in range(max(int(max_iter), 0)):
        done = em.step()
        ll = em.history[-1]
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loglik=f"{ll:.6f}", refresh=False)
        else:
            tick(objective=f"{ll:.6f}")
        if done:
            break
    return em.result()
