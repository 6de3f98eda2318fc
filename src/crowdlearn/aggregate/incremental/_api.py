"""``partial_fit`` / ``sweep`` for the strategies that can be updated batch by batch."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...errors import CrowdlearnError
from ...params import PARTIAL_FIT_SPECS, check_params, specs_of

if TYPE_CHECKING:
    from ._states import _State

#: the constructor parameters each incremental state keeps (and saves)
STATE_PARAMS: dict[str, tuple[str, ...]] = {
    "mv": ("tie_break", "random_state", "posterior"),
    "wawa": ("tie_break", "random_state"),
    "ds": ("alpha", "tol", "random_state"),
    "onecoin": ("tol", "random_state"),
}


class IncrementalMixin:
    """Adds :meth:`partial_fit` and :meth:`sweep` to an aggregator (see :mod:`.incremental`).

    After ``partial_fit`` the learned attributes describe every answer seen so far, in the
    state's order (ids in order of first appearance): ``task_ids_``, ``worker_ids_``,
    ``classes_``, ``probas_``, ``labels_``, ``skills_`` / ``confusions_``, ``priors_``,
    ``n_answers_``, ``n_batches_``, ``n_iter_`` (EM iterations of the last update). They are
    arrays (views of the state, not copies), also when the batches were DataFrames.
    """

    incremental_kind: ClassVar[str] = ""

    def partial_fit(self, new_answers: Any, *, n_iter: int = 3, refresh: float = 1.0,
                    sweep: bool = False, sweep_every: int = 0) -> Any:
        """Add ``new_answers`` (an :class:`~crowdlearn.Answers` or a task/worker/label
        DataFrame; new tasks, workers and classes welcome) and update the fit.

        ``n_iter``: EM iterations over the touched tasks (Dawid-Skene and one-coin; majority
        vote and Wawa need none). ``refresh``: also revise ``refresh`` times as many earlier
        tasks as the batch touches, round-robin over all tasks (an amortised sweep, so that no
        task keeps for long a posterior computed with old worker parameters; 0: only the
        touched tasks). ``sweep=True`` then revises every task
        (:meth:`sweep`, O(history)). The first call on an unfitted estimator starts from
        nothing; on an estimator fitted with ``fit``, it starts from that fit.
        """
        from ..base import _as_answers

        check_params(f"{type(self).__name__}.partial_fit", PARTIAL_FIT_SPECS,
                     {"n_iter": n_iter, "refresh": refresh, "sweep": sweep,
                      "sweep_every": sweep_every})
        start = time.perf_counter()
        state = self._incremental_state()
        answers, _ = _as_answers(new_answers)
        if answers.n_answers:
            batch = state.ingest(answers.task_ids[answers.task], answers.worker_ids[answers.worker],
                                 answers.classes[answers.label], answers.classes,
                                 refresh=float(refresh))
            state.update(batch, int(n_iter))
        if sweep or (sweep_every and answers.n_answers
                     and state.n_batches % int(sweep_every) == 0):
            state.sweep(max(int(n_iter), 1))
        self._publish(time.perf_counter() - start)
        return self

    def sweep(self, n_iter: int = 10) -> Any:
        """Revise every task from the whole history: ``n_iter`` EM iterations warm-started from
        the current posteriors (DS, one-coin), Wawa's weighted vote with the current skills
        (then equal to a full fit). Costs O(history)."""
        start = time.perf_counter()
        self._incremental_state().sweep(int(n_iter))
        self._publish(time.perf_counter() - start)
        return self

    # ---------------------------------------------------------------- internals
    def _incremental_state(self) -> _State:
        state = getattr(self, "_inc", None)
        if state is not None:
            return state
        from ._states import STATES

        check_params(type(self).__name__, specs_of(type(self)), self.get_params())  # type: ignore[attr-defined]
        params = {k: getattr(self, k) for k in STATE_PARAMS[self.incremental_kind]}
        state = STATES[self.incremental_kind](params)
        fitted = getattr(self, "answers_", None)
        if fitted is not None and fitted.n_answers:  # continue from a full fit
            batch = state.ingest(fitted.task_ids[fitted.task], fitted.worker_ids[fitted.worker],
                                 fitted.classes[fitted.label], fitted.classes)
            if self.incremental_kind in ("ds", "onecoin"):
                probas = np.asarray(self._arrays["probas"])  # type: ignore[attr-defined]
                order = state.classes.encode(fitted.classes)  # fit's class -> state's class
                index = state.tasks.index
                rows = np.array([index.get(v, -1) for v in fitted.task_ids.tolist()])
                where = np.full(len(state.tasks), -1, dtype=np.int64)
                where[rows[rows >= 0]] = np.flatnonzero(rows >= 0)
                init = np.zeros((len(batch.tasks), len(state.classes)))
                init[:, order] = probas[where[batch.tasks]]
                state.update(batch, 0, init=init)
            else:
                state.update(batch)
        self._inc = state
        return state

    def _publish(self, seconds: float) -> None:
        """Expose the state as the learned attributes."""
        state = self._inc
        for attr in ("answers_", "gold_", "errors_", "loss_history_", "converged_", "init_"):
            if hasattr(self, attr):
                delattr(self, attr)
        out = state.outputs()
        self.probas_ = out["probas"]
        self.labels_ = out["labels"]
        for key in ("skills", "confusions", "priors"):
            if key in out:
                setattr(self, key + "_", out[key])
        self.task_ids_ = state.tasks.ids
        self.worker_ids_ = state.workers.ids
        self.classes_ = state.classes.ids
        self.n_answers_ = state.log.n_answers
        self.n_batches_ = state.n_batches
        self.n_iter_ = state.n_iter
        self.log_likelihood_ = state.last_objective
        self.fit_seconds_ = seconds
        self._arrays = dict(out)


def estimator_from_state(state: _State) -> Any:
    """A fitted estimator of ``state``'s strategy holding ``state``."""
    from ..base import get_strategy_class

    cls = get_strategy_class(state.kind)
    est = cls(**state.params)
    if not isinstance(est, IncrementalMixin):  # pragma: no cover - registry mismatch
        raise CrowdlearnError(f"strategy {state.kind!r} has no partial_fit")
    est._inc = state
    est._publish(0.0)
    return est
