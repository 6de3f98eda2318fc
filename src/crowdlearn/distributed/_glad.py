"""GLAD (Whitehill et al., 2009) on Dask: the in-memory Newton M-step as map-reduce rounds.

The in-memory M-step (:meth:`crowdlearn.aggregate._glad_mstep._GladModel.maximise`) never forms a
joint Hessian: the task block is diagonal, so it eliminates the tasks exactly and solves the
workers' Schur complement ``S = D_a - C D_b^{-1} C^T`` by conjugate gradients, where ``C`` has
one entry per answer. Every quantity it needs is either

* task-local (``b``, its gradient, ``D_b``, the Fisher diagonal, the task part of the
  direction ``d_b = (r_b - C^T d_a) / D_b``): these stay on the partition holding the task, or
* a sum over answers per worker (the ability gradient, ``D_a``, ``C z`` for a task vector
  ``z``) or a scalar (objective, slope, largest gradient component): summed over partitions.

So each round broadcasts worker-sized vectors (abilities, a CG vector), maps one step over the
partitions' states (:class:`GladState`, kept on the Dask workers between rounds) and sums
worker-sized partial statistics; the client runs the same Newton loop, the same
:func:`~crowdlearn.aggregate._glad_mstep._pcg` (its vectors are worker-sized), the same fallback and
Armijo search. Per-answer arithmetic is identical to memory; only the order of the sums over
answers and tasks differs (partial sums per partition), i.e. rounding at 1e-16 relative.
One conjugate-gradient iteration costs one round trip.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..aggregate._glad_mstep import _GladModel, _pcg
from ..aggregate.glad import _class_priors, _per_id, log_normalize_columns
from ..errors import CrowdlearnError

__all__ = ["GladState", "fit_glad"]


class GladState:
    """One partition's GLAD state: its answers' buffers (a :class:`_GladModel` over the global
    workers and the partition's tasks), ``b`` of its tasks, the current posterior and the
    task-side pieces of the Newton step in progress."""

    def __init__(self, part: Any, mu_a: np.ndarray, mu_b: float) -> None:
        a = part.answers
        self.nw, self.nt, self.k = a.n_workers, a.n_tasks, a.n_classes
        self.task = a.task.astype(np.intp)
        self.worker = a.worker.astype(np.intp)
        self.cell = a.label.astype(np.intp) * self.nt + self.task
        self.mu_b = np.full(self.nt, float(mu_b))
        self.model = _GladModel(self.task, self.worker, self.nw, self.nt,
                                np.concatenate([mu_a, self.mu_b]))
        self.b = np.ones(self.nt)  # crowd-kit's start
        self.trial_b: np.ndarray | None = None
        self.rounds = 0
        self.p_right = np.zeros(len(self.task))
        self.probas = np.zeros((self.k, self.nt))

    def __sizeof__(self) -> int:  # what dask counts towards a worker's memory
        return 16 * 8 * len(self.task) + 8 * (self.k + 10) * self.nt + 1024

    def accept(self) -> None:
        """Make the last trial point the current one (the line search accepted it)."""
        m = self.model
        m.cur, m.trial = m.trial, m.cur
        assert self.trial_b is not None
        self.b = self.trial_b
        self.trial_b = None

    def fill(self, alpha: np.ndarray) -> Any:
        m = self.model
        m._fill(m.cur, np.concatenate([alpha, self.b]))
        return m.cur


def _sq(v: np.ndarray) -> float:
    return float((v * v).sum())


def start(part: Any, mu_a: np.ndarray, mu_b: float) -> GladState:
    return GladState(part, mu_a, mu_b)


def e_step_part(st: GladState, accept: bool, alpha: np.ndarray, log_prior: np.ndarray,
                log_k1: float, then_prep: bool) -> tuple:
    """The in-memory E-step on the partition's tasks; returns (sum of the log normalisers,
    squared deviation of ``b`` from its prior mean), followed by :func:`prep_part`'s statistics
    when ``then_prep`` (the M-step's first Newton step needs nothing from the client: one
    round saved)."""
    if accept:
        st.accept()
    pt = st.fill(alpha)
    tmp, n, k = st.model.tmp, st.nt, st.k
    np.add(pt.s, log_k1, out=tmp)
    logp = np.bincount(st.cell, tmp, minlength=n * k).reshape(k, n)
    np.add(pt.soft, log_k1, out=tmp)
    logp -= np.bincount(st.task, tmp, minlength=n)
    logp += log_prior[:, None]
    norm = log_normalize_columns(logp)
    st.probas = logp
    st.p_right = logp.reshape(-1)[st.cell]
    out = (float(norm.sum()), _sq(st.b - st.mu_b))
    return out + prep_part(st, False) if then_prep else out


def prep_part(st: GladState, accept: bool) -> tuple:
    """Gradient and curvature at the current point (``maximise``'s loop body up to the Schur
    solve): task-side pieces kept, worker-side partial sums returned."""
    if accept:
        st.accept()
    m = st.model
    pt = m.cur  # filled by the E-step, or the accepted trial point
    nw, nt, task, worker = st.nw, st.nt, st.task, st.worker
    tmp, g, v, cross = m.tmp, m.g, m.v, m.cross
    s, beta_a, e = pt.s, pt.beta_a, pt.e
    # the likelihood part of the objective at the current point (_GladModel._value)
    np.multiply(st.p_right, s, out=tmp)
    tmp -= pt.soft
    lik = float(tmp.sum())
    np.add(e, 1.0, out=v)
    np.reciprocal(v, out=v)
    np.multiply(e, v, out=g)
    np.copyto(g, v, where=s >= 0)
    np.subtract(st.p_right, g, out=g)
    np.multiply(v, v, out=v)
    v *= e
    np.multiply(g, beta_a, out=tmp)
    grad_a = np.bincount(worker, tmp, minlength=nw)
    np.multiply(g, s, out=tmp)
    grad_b = np.bincount(task, tmp, minlength=nt)
    grad_b -= st.b - st.mu_b
    np.multiply(v, s, out=cross)
    cross -= g
    np.multiply(cross, s, out=tmp)
    diag_b = np.bincount(task, tmp, minlength=nt) + 1.0
    cross *= beta_a
    np.multiply(v, beta_a, out=tmp)
    tmp *= beta_a
    diag_a = np.bincount(worker, tmp, minlength=nw)
    np.multiply(v, s, out=tmp)
    tmp *= s
    fisher_b = np.bincount(task, tmp, minlength=nt) + 1.0
    diag_b = np.maximum(diag_b, 0.1 * fisher_b)
    st.grad_b, st.diag_b, st.fisher_b = grad_b, diag_b, fisher_b  # type: ignore[attr-defined]
    rhs = m._couple(grad_b / diag_b, by_task=True)
    np.take(1.0 / diag_b, task, out=tmp, mode="clip")
    tmp *= cross
    tmp *= cross
    pre = np.bincount(worker, tmp, minlength=nw)
    gmax = float(np.abs(grad_b).max()) if nt else 0.0
    return grad_a, diag_a, rhs, pre, lik, _sq(st.b - st.mu_b), gmax


def schur_part(st: GladState, y: np.ndarray) -> tuple:
    """``C D_b^{-1} C^T y`` over the partition's answers (worker-sized), as a 1-tuple."""
    m = st.model
    return (m._couple(m._couple(y, by_task=False) / st.diag_b, by_task=True),)  # type: ignore[attr-defined]


def direction(st: GladState, d_a: np.ndarray | None, alpha_trial: np.ndarray) -> tuple:
    """The task part of the Newton direction (``d_a`` given) or of the Fisher step (``None``);
    returns the partition's part of ``grad . direction``, then :func:`trial`'s statistics at
    the full step (``alpha_trial``; the line search's first trial, one round saved)."""
    g_b = st.grad_b  # type: ignore[attr-defined]
    if d_a is not None:
        st.d_b = (g_b - st.model._couple(d_a, by_task=False)) / st.diag_b  # type: ignore[attr-defined]
    else:
        st.d_b = g_b / st.fisher_b  # type: ignore[attr-defined]
    return (float((g_b * st.d_b).sum()),) + trial(st, alpha_trial, 1.0)  # type: ignore[attr-defined]


def trial(st: GladState, alpha_trial: np.ndarray, step: float) -> tuple:
    """The objective's partial sums at ``b + step d_b`` (kept as the trial point)."""
    m = st.model
    b = st.b + step * st.d_b  # type: ignore[attr-defined]
    m._fill(m.trial, np.concatenate([alpha_trial, b]))
    st.trial_b = b
    tmp = m.tmp
    np.multiply(st.p_right, m.trial.s, out=tmp)
    tmp -= m.trial.soft
    return float(tmp.sum()), _sq(b - st.mu_b)


def probas_of(st: GladState) -> np.ndarray:
    """The partition's posterior, (tasks x classes)."""
    return np.ascontiguousarray(st.probas.T)


def b_of(st: GladState) -> np.ndarray:
    return st.b.copy()


def _step(st: GladState, n: int | None, fn: Any, *args: Any) -> Any:
    """``fn(st, *args)`` after checking that ``st`` has seen the ``n`` rounds before (a state
    rebuilt after the loss of a Dask worker has not: the fit stops instead of going wrong)."""
    if n is not None:
        if st.rounds != n:
            raise CrowdlearnError("--engine dask: a Dask worker holding GLAD's state was lost "
                                  f"(round {st.rounds} of {n}); run the fit again")
        st.rounds += 1
    return fn(st, *args)


class _Rounds:
    """The partitions' states on the cluster and one map-reduce round at a time.

    Each state stays on the Dask worker that built it (every round is pinned there) and the
    steps update it in place, so a round is one task per partition returning only its small
    statistics (one map instead of a map that copies the state plus a map that reads it).
    Each state counts its rounds, so one rebuilt from scratch after the loss of a worker is
    detected (the fit raises) rather than silently restarted.
    """

    def __init__(self, engine: Any, states: list[Any]) -> None:
        from distributed import wait

        self.engine, self.client, self.states = engine, engine.client, states
        wait(states)
        who = self.client.who_has(states)
        self.where = [[who[f.key][0]] for f in states]
        self.n = 0  # rounds run: every state must have seen all of them

    def futures(self, fn: Any, *args: Any, count: bool = False) -> list[Any]:
        shared = [self.engine.broadcast(a) for a in args]
        n = self.n if count else None
        self.n += bool(count)
        return [self.client.submit(_step, st, n, fn, *shared, workers=w,
                                   allow_other_workers=False, pure=False)
                for st, w in zip(self.states, self.where, strict=True)]

    def run(self, fn: Any, *args: Any) -> list[Any]:
        return self.client.gather(self.futures(fn, *args, count=True))

    def sum(self, fn: Any, *args: Any) -> tuple:
        outs = self.run(fn, *args)
        first = list(outs[0])
        for o in outs[1:]:
            for i, x in enumerate(o):
                first[i] = first[i] + x
        return tuple(first)


def fit_glad(engine: Any, name: str, params: dict[str, Any]) -> Any:
    """GLAD's EM (:func:`~crowdlearn.aggregate._em.run_em`'s loop) over the partitions."""
    from ._fit import Fitted

    vocab, client = engine.vocab, engine.client
    nw, k = engine.n_workers, engine.n_classes
    mu_b_given = params.get("betas_priors_mean")
    if mu_b_given is not None and not isinstance(mu_b_given, (int, float)):
        raise CrowdlearnError("--engine dask: betas_priors_mean must be one number "
                              "(per-task prior means need the task ids in memory)")
    mu_b = 1.0 if mu_b_given is None else float(mu_b_given)
    priors = _class_priors(params.get("labels_priors"), vocab.classes)
    mu_a = _per_id(params.get("alphas_priors_mean"), vocab.worker_ids, 1.0,
                   "alphas_priors_mean")
    n_tasks, n_answers = engine.n_tasks, max(vocab.n_answers, 1)
    n_iter, tol = int(params.get("n_iter", 100)), float(params.get("tol", 1e-5))
    max_newton, gtol = int(params.get("m_step_max_iter", 25)), float(params.get("m_step_tol", 1e-2))
    seed = params.get("random_state", 0)
    attrs: dict[str, Any] = {"priors_": priors}
    if k < 2:
        probas = engine.map(_ones, k)
        betas = engine.map(_const_b, mu_b)
        attrs.update(skills_=mu_a.copy(), alphas_=mu_a.copy(), n_iter_=0)
        return Fitted(probas, engine.hard_labels(probas, "random", seed), attrs,
                      {"betas_": betas})
    log_prior = np.log(np.maximum(priors, 1e-300))
    log_k1 = float(np.log(k - 1.0))
    const = -0.5 * np.log(2 * np.pi) * (nw + n_tasks)
    rounds = _Rounds(engine, client.map(start, engine.parts, [mu_a] * len(engine.parts),
                                        [mu_b] * len(engine.parts), pure=False))
    pending = [False]  # a trial point accepted on the partitions but not yet swapped in

    ready: list[Any] = [None]  # the first Newton step's statistics, from the E-step's round

    def e_step(alpha: np.ndarray, then_prep: bool = max_newton > 0) -> float:
        out = rounds.sum(e_step_part, pending[0], alpha, log_prior, log_k1, then_prep)
        pending[0] = False
        norm, dev_b = out[:2]
        ready[0] = out[2:] if then_prep else None
        dev_a = _sq(alpha - mu_a)
        return (float(norm) + const - 0.5 * (dev_a + dev_b)) / n_answers

    def maximise(alpha: np.ndarray) -> np.ndarray:
        f = None
        for _ in range(max(max_newton, 0)):
            stats = ready[0] if ready[0] is not None else rounds.sum(prep_part, pending[0])
            ready[0] = None
            grad_a, diag_a, rhs_part, pre_part, lik, dev_b, gmax = stats
            pending[0] = False
            if f is None:
                f = lik - 0.5 * (_sq(alpha - mu_a) + dev_b)
            grad_a = grad_a - (alpha - mu_a)
            top = max(float(np.abs(grad_a).max()) if nw else 0.0, gmax)
            if not (nw + n_tasks) or top < gtol:
                break
            diag_a = diag_a + 1.0
            rhs = grad_a - rhs_part
            pre = np.maximum(diag_a - pre_part, 1e-3 * diag_a)

            def schur(y: np.ndarray, diag_a: np.ndarray = diag_a) -> np.ndarray:
                return diag_a * y - rounds.sum(schur_part, y)[0]

            d_a = _pcg(schur, rhs, pre, 50, 0.05)
            slope = 0.0
            if d_a is not None:
                part, lik_t, dev_t = rounds.sum(direction, d_a, alpha + 1.0 * d_a)
                slope = float((grad_a * d_a).sum()) + part
            if not slope > 0:  # negative curvature met: the Fisher step
                d_a = grad_a / diag_a
                part, lik_t, dev_t = rounds.sum(direction, None, alpha + 1.0 * d_a)
                slope = float((grad_a * d_a).sum()) + part
            step = 1.0
            for _ in range(40):
                a_trial = alpha + step * d_a
                if step != 1.0:
                    lik_t, dev_t = rounds.sum(trial, a_trial, step)
                f_trial = lik_t - 0.5 * (_sq(a_trial - mu_a) + dev_t)
                if f_trial >= f + 1e-4 * step * slope:
                    break
                step *= 0.5
            else:
                break
            pending[0] = True
            alpha, f = a_trial, f_trial
        return alpha

    alpha = np.ones(nw)
    e_step(alpha)  # the initial posterior
    alpha = maximise(alpha)
    history: list[float] = []
    prev, converged = -np.inf, False
    for _ in range(max(n_iter, 0)):
        ll = e_step(alpha)
        alpha = maximise(alpha)
        history.append(float(ll))
        converged = abs(ll - prev) < tol
        prev = ll
        if converged:
            break
    objective = e_step(alpha, False)
    probas, betas = rounds.futures(probas_of), rounds.futures(b_of)
    attrs.update(skills_=alpha, alphas_=alpha, n_iter_=len(history),
                 log_likelihood_=objective, loss_history_=[*history, objective],
                 converged_=converged)
    return Fitted(probas, engine.hard_labels(probas, "random", seed), attrs, {"betas_": betas})


def _ones(part: Any, k: int) -> np.ndarray:
    return np.ones((part.answers.n_tasks, k))


def _const_b(part: Any, mu_b: float) -> np.ndarray:
    return np.full(part.answers.n_tasks, float(mu_b))


