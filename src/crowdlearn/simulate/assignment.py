"""Worker assignment: which worker answers which task.

:func:`assign_workers` implements the fixed-redundancy design (``r`` distinct workers per task)
and the Bernoulli design (each worker answers each task with probability ``p``), with uniform,
power-law (:func:`power_law_activity`) or explicit worker activity; everything is vectorised.
"""

from __future__ import annotations

import math

import numpy as np

from ..labels import INDEX_DTYPE
from .errors import SimulationError
from .models import _check_count, _check_range

ACTIVITIES: tuple[str, ...] = ("uniform", "power-law")
"""Worker-activity profiles understood by :func:`assign_workers`."""

#: Above this many elements a dense (rows x workers) temporary is processed in chunks.
_CHUNK_ELEMENTS = 4_000_000


def power_law_activity(
    n_workers: int, exponent: float = 1.0, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Zipf-like worker activity weights: the worker of rank ``r`` gets ``r ** -exponent``.

    Ranks are assigned to workers by a random permutation, so activity is independent of the
    worker's index (and of its annotator model). Real crowds are like this: a few workers give
    most answers (e.g. the long-tailed worker activity reported for Amazon Mechanical Turk by
    Ipeirotis, "Analyzing the Amazon Mechanical Turk marketplace", *XRDS* 17(2), 2010).

    Parameters
    ----------
    n_workers : int
        Number of workers.
    exponent : float
        Power-law exponent (``0`` is uniform; larger is more skewed).
    rng : numpy.random.Generator, int or None
        Random generator or seed (for the rank permutation).

    Returns
    -------
    ndarray of float64, shape (n_workers,)
        Weights summing to one.
    """
    n = _check_count("n_workers", n_workers, minimum=1)
    a = _check_range("activity exponent", exponent, 0.0, math.inf, high_open=True)
    gen = np.random.default_rng(rng)
    w = np.arange(1, n + 1, dtype=np.float64) ** -a
    w = w[gen.permutation(n)]
    return w / w.sum()


def _categorical(cdf: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws from the distribution whose cumulative sums are ``cdf`` (last == 1)."""
    idx = np.searchsorted(cdf, rng.random(size), side="right")
    return np.minimum(idx, len(cdf) - 1)


def _distinct_per_row(
    n_rows: int, r: int, n_items: int, weights: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """(n_rows, r) array: per row, ``r`` distinct items, each row sorted.

    Items are drawn by successive sampling without replacement: uniformly when ``weights`` is
    ``None``, otherwise proportionally to ``weights`` among the items not drawn yet (the
    Plackett-Luce / Gumbel-top-k scheme). Two vectorised strategies:

    * few draws per row (``r`` small next to ``n_items``): one column at a time, all rows at
      once; a row whose candidate repeats an earlier item redraws (exact, because redrawing
      from the full distribution until a new item comes is the same as drawing from the
      renormalised remainder); after a few rounds the stragglers draw from explicitly masked
      weights;
    * many draws per row: Gumbel top-k over dense (chunk x n_items) random keys.
    """
    out = np.empty((n_rows, r), dtype=INDEX_DTYPE)
    if r == 0 or n_rows == 0:
        return out
    if r == n_items:
        out[:] = np.arange(n_items, dtype=INDEX_DTYPE)
        return out
    logw = None if weights is None else np.log(weights)
    if 2 * r > n_items or r * r > 64 * n_items:
        chunk = max(1, _CHUNK_ELEMENTS // n_items)
        for start in range(0, n_rows, chunk):
            stop = min(n_rows, start + chunk)
            keys = rng.random((stop - start, n_items))
            if logw is not None:  # Gumbel-top-k: log w - log(-log u)
                keys = logw - np.log(-np.log(keys))
            top = np.argpartition(-keys, r - 1, axis=1)[:, :r]
            out[start:stop] = np.sort(top, axis=1)
        return out

    cdf = None if weights is None else np.cumsum(weights / weights.sum())
    if cdf is not None:
        cdf[-1] = 1.0

    def draw(size: int) -> np.ndarray:
        if cdf is None:
            return rng.integers(0, n_items, size=size)
        return _categorical(cdf, size, rng)

    for j in range(r):
        cand = draw(n_rows).astype(INDEX_DTYPE)
        if j:
            prev = out[:, :j]
            rows = np.flatnonzero((prev == cand[:, None]).any(axis=1))
            rounds = 0
            while rows.size and rounds < 8:
                new = draw(rows.size).astype(INDEX_DTYPE)
                clash = (out[rows, :j] == new[:, None]).any(axis=1)
                cand[rows[~clash]] = new[~clash]
                rows = rows[clash]
                rounds += 1
            if rows.size:
                cand[rows] = _masked_draw(out[rows, :j], n_items, weights, rng)
        out[:, j] = cand
    out.sort(axis=1)
    return out


def _masked_draw(
    taken: np.ndarray, n_items: int, weights: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """One draw per row among the items not in ``taken[row]``, proportional to ``weights``."""
    res = np.empty(len(taken), dtype=INDEX_DTYPE)
    base = np.ones(n_items) if weights is None else np.asarray(weights, dtype=np.float64)
    chunk = max(1, _CHUNK_ELEMENTS // n_items)
    for start in range(0, len(taken), chunk):
        t = taken[start:start + chunk]
        w = np.tile(base, (len(t), 1))
        w[np.arange(len(t))[:, None], t] = 0.0
        cum = np.cumsum(w, axis=1)
        u = rng.random(len(t)) * cum[:, -1]
        idx = (cum <= u[:, None]).sum(axis=1)
        last = n_items - 1 - np.argmax(w[:, ::-1] > 0, axis=1)  # last item still available
        res[start:start + chunk] = np.minimum(idx, last)
    return res


def _bernoulli_positions(
    probs: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Successes of independent Bernoulli(probs[r]) trials at positions ``0..n-1`` of row ``r``.

    Without a dense (rows x n) mask: gaps between successes are geometric, so each row draws
    about ``n * probs[r]`` (+6 standard deviations) geometric gaps at once; a row whose gaps end
    before ``n`` (rare) continues from there in a second pass (memorylessness keeps it exact).

    Returns
    -------
    rows, positions : ndarray of int64
    """
    rows_out: list[np.ndarray] = []
    pos_out: list[np.ndarray] = []
    rows = np.flatnonzero(probs > 0)
    start = np.zeros(len(rows), dtype=np.int64)
    while rows.size:
        p = probs[rows]
        remaining = n - start
        mean = remaining * p
        budget = np.ceil(mean + 6.0 * np.sqrt(mean * (1.0 - p)) + 16.0).astype(np.int64)
        budget = np.minimum(budget, remaining)
        seg = np.repeat(np.arange(len(rows)), budget)
        gaps = rng.geometric(p[seg])
        cs = np.cumsum(gaps)
        ends = np.cumsum(budget)
        before = np.concatenate(([0], cs[ends[:-1] - 1])) if len(ends) else ends
        local = cs - before[seg]
        pos = start[seg] + local - 1
        keep = pos < n
        rows_out.append(rows[seg[keep]])
        pos_out.append(pos[keep])
        start = start + (cs[ends - 1] - before)
        more = start < n
        rows, start = rows[more], start[more]
    if not rows_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows_out), np.concatenate(pos_out)


def assign_workers(
    n_tasks: int,
    n_workers: int,
    rng: np.random.Generator | int | None = None,
    *,
    answers_per_task: int | None = None,
    p: float | None = None,
    activity: str | np.ndarray = "uniform",
    exponent: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which worker answers which task.

    Two designs:

    * **fixed redundancy** (``answers_per_task=r``): each task gets exactly ``r`` distinct
      workers, drawn without replacement, uniformly or (with non-uniform ``activity``)
      successively proportionally to the activity weights (Plackett-Luce sampling);
    * **Bernoulli** (``p``): each worker answers each task independently, with probability
      ``p`` (uniform activity) or ``min(1, p * n_workers * w_m)`` for activity weights ``w``
      (the mean number of answers per task stays ``p * n_workers`` unless capping at one
      bites). This is the ``random`` annotation pattern of CCEM [INF23]_; the fixed design is
      its ``per-sample-budget`` pattern.

    Parameters
    ----------
    n_tasks, n_workers : int
        Sizes.
    rng : numpy.random.Generator, int or None
        Random generator or seed.
    answers_per_task : int, optional
        ``r`` (``1 <= r <= n_workers``).
    p : float, optional
        Answer probability in ``(0, 1]``. Give exactly one of ``answers_per_task`` and ``p``.
    activity : {"uniform", "power-law"} or array of shape (n_workers,)
        Worker activity: equal, Zipf-like (:func:`power_law_activity` with ``exponent``), or
        explicit non-negative weights.
    exponent : float
        Power-law exponent for ``activity="power-law"``.

    Returns
    -------
    task, worker : ndarray of int32
        One entry per answer, sorted by (task, worker), no repeated pair.
    weights : ndarray of float64, shape (n_workers,)
        The activity weights used (summing to one).
    """
    n_tasks = _check_count("n_tasks", n_tasks, minimum=1)
    n_workers = _check_count("n_workers", n_workers, minimum=1)
    gen = np.random.default_rng(rng)
    if (answers_per_task is None) == (p is None):
        raise SimulationError("give exactly one of answers_per_task and p")
    if isinstance(activity, str):
        if activity == "uniform":
            weights = np.full(n_workers, 1.0 / n_workers)
        elif activity == "power-law":
            weights = power_law_activity(n_workers, exponent, gen)
        else:
            raise SimulationError(
                f"unknown activity {activity!r} (choose from {', '.join(ACTIVITIES)})"
            )
    else:
        weights = np.asarray(activity, dtype=np.float64)
        if weights.shape != (n_workers,) or not np.all(np.isfinite(weights)) \
                or (weights < 0).any() or weights.sum() <= 0:
            raise SimulationError(
                f"activity weights must be {n_workers} non-negative numbers with a positive sum"
            )
        weights = weights / weights.sum()
    uniform = bool(np.all(weights == weights[0]))

    if answers_per_task is not None:
        r = _check_count("answers_per_task", answers_per_task, minimum=1)
        if r > n_workers:
            raise SimulationError(
                f"answers_per_task={r} exceeds the number of workers ({n_workers})"
            )
        if int((weights > 0).sum()) < r:
            raise SimulationError(
                f"answers_per_task={r} exceeds the number of workers with positive activity"
            )
        chosen = _distinct_per_row(n_tasks, r, n_workers, None if uniform else weights, gen)
        task = np.repeat(np.arange(n_tasks, dtype=INDEX_DTYPE), r)
        return task, chosen.reshape(-1), weights

    prob = _check_range("p", p, 0.0, 1.0, low_open=True)  # type: ignore[arg-type]
    if uniform:
        # one Bernoulli stream over the cells of the (tasks x workers) matrix in row order:
        # the answers come out sorted by (task, worker)
        _, cell = _bernoulli_positions(np.array([prob]), n_tasks * n_workers, gen)
        task, worker = np.divmod(cell, n_workers)
        return task.astype(INDEX_DTYPE), worker.astype(INDEX_DTYPE), weights
    probs = np.minimum(1.0, prob * n_workers * weights)
    worker, task = _bernoulli_positions(probs, n_tasks, gen)
    order = np.argsort(task * n_workers + worker)
    return task[order].astype(INDEX_DTYPE), worker[order].astype(INDEX_DTYPE), weights
