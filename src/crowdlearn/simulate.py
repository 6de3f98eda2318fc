"""Simulated crowds: true labels, annotator confusion matrices, task assignment and answers.

A simulated crowd follows the class-conditional annotator model of Dawid & Skene (1979): each
task ``i`` has a true class ``y_i`` drawn from the class priors, each worker ``m`` has a
(K x K) row-stochastic confusion matrix ``C[m]`` (row = true class, column = answer), and the
answer of worker ``m`` to task ``i`` is drawn from the row ``C[m, y_i]``, independently of every
other answer. :func:`simulate` draws all of it (true labels, confusion matrices from named
annotator models, which worker answers which task) and returns a :class:`SimulatedCrowd` whose
:class:`~crowdlearn.Answers` carry the truth.

Everything is vectorised: a million answers (200,000 tasks x 5 answers, 2,000 workers,
5 classes) take a fraction of a second. One seed (an integer or a ``numpy.random.Generator``)
makes the whole crowd reproducible.

References
----------
.. [DS79] A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates
   using the EM algorithm", *Journal of the Royal Statistical Society C*, 28(1):20-28, 1979.
.. [KOS11] D. R. Karger, S. Oh and D. Shah, "Iterative learning for reliable crowdsourcing
   systems", *NeurIPS* 2011 (the hammer-spammer model).
.. [ZCZJ14] Y. Zhang, X. Chen, D. Zhou and M. I. Jordan, "Spectral methods meet EM: a provably
   optimal algorithm for crowdsourcing", *NeurIPS* 2014 (the one-coin model).
.. [INF23] S. Ibrahim, T. Nguyen and X. Fu, "Deep learning from crowdsourced labels: coupled
   cross-entropy minimization, identifiability, and regularization", *ICLR* 2023; official code
   https://github.com/shahanaibrahimosu/end-to-end-crowdsourcing (``helpers/functions.py``,
   ``generate_confusion_matrices``), used for the ``separable-uniform`` and ``diagonal`` models.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .answers import Answers
from .errors import CrowdlearnError
from .labels import INDEX_DTYPE

__all__ = [
    "ACTIVITIES",
    "MODELS",
    "SimulatedCrowd",
    "SimulationError",
    "assign_workers",
    "confusion_matrices",
    "empirical_confusions",
    "gaussian_features",
    "parse_workers",
    "power_law_activity",
    "simulate",
]

WorkerGroup = tuple[str, int] | tuple[str, int, Mapping[str, Any]]
"""Workers sharing an annotator model: ``(model, count)`` or ``(model, count, params)``."""

ACTIVITIES: tuple[str, ...] = ("uniform", "power-law")
"""Worker-activity profiles understood by :func:`assign_workers`."""

#: Above this many elements a dense (rows x workers) temporary is processed in chunks.
_CHUNK_ELEMENTS = 4_000_000


class SimulationError(CrowdlearnError, ValueError):
    """A bad simulation parameter (one-line message naming the parameter).

    Raised by every function of :mod:`crowdlearn.simulate` (the Dawid & Skene [DS79]_ crowd
    simulator); the command-line tool prints it as one line and exits with status 2.
    """


# ====================================================================== annotator models
def _check_range(name: str, value: float, low: float, high: float, *, low_open: bool = False,
                 high_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SimulationError(f"{name} must be a number, got {value!r}") from None
    ok_low = v > low if low_open else v >= low
    ok_high = v < high if high_open else v <= high
    if not (ok_low and ok_high and math.isfinite(v)):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise SimulationError(f"{name} must be in {lo}{low:g}, {high:g}{hi}, got {value!r}")
    return v


def _symmetric_matrix(accuracy: np.ndarray, k: int) -> np.ndarray:
    """(n, k, k) matrices with ``accuracy[m]`` on the diagonal, the rest spread evenly."""
    acc = np.asarray(accuracy, dtype=np.float64)[:, None, None]
    eye = np.eye(k)
    return acc * eye + (1.0 - acc) / (k - 1) * (1.0 - eye)


def _perfect(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.broadcast_to(np.eye(k), (n, k, k)).copy()


def _spammer(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.full((n, k, k), 1.0 / k)


def _hammer_spammer(n: int, k: int, rng: np.random.Generator, hammer_share: float = 0.5,
                    hammer_accuracy: float = 1.0) -> np.ndarray:
    share = _check_range("hammer_share", hammer_share, 0.0, 1.0)
    acc = _check_range("hammer_accuracy", hammer_accuracy, 0.0, 1.0)
    out = _spammer(n, k, rng)
    n_hammers = int(math.floor(share * n + 0.5))
    hammers = rng.permutation(n)[:n_hammers]
    out[hammers] = _symmetric_matrix(np.full(n_hammers, acc), k)
    return out


def _symmetric(n: int, k: int, rng: np.random.Generator, accuracy: float | None = None,
               flip: float | None = None) -> np.ndarray:
    if accuracy is not None and flip is not None:
        raise SimulationError("give either accuracy or flip for the symmetric model, not both")
    if flip is not None:
        acc = 1.0 - _check_range("flip", flip, 0.0, 1.0)
    else:
        acc = _check_range("accuracy", 0.7 if accuracy is None else accuracy, 0.0, 1.0)
    return _symmetric_matrix(np.full(n, acc), k)


def _one_coin(n: int, k: int, rng: np.random.Generator, skill: Any = None,
              min_skill: float = 0.5, max_skill: float = 0.95) -> np.ndarray:
    if skill is None:
        lo = _check_range("min_skill", min_skill, 0.0, 1.0)
        hi = _check_range("max_skill", max_skill, 0.0, 1.0)
        if lo > hi:
            raise SimulationError(f"min_skill ({lo:g}) must not exceed max_skill ({hi:g})")
        acc = rng.uniform(lo, hi, size=n)
    else:
        acc = np.broadcast_to(np.asarray(skill, dtype=np.float64), (n,)) \
            if np.ndim(skill) == 0 else np.asarray(skill, dtype=np.float64)
        if acc.shape != (n,):
            raise SimulationError(f"skill must be a number or {n} numbers, got shape {acc.shape}")
        if not np.all((acc >= 0) & (acc <= 1)):
            raise SimulationError("skill values must be in [0, 1]")
    return _symmetric_matrix(acc, k)


def _diagonal(n: int, k: int, rng: np.random.Generator, strength: float = 2.0) -> np.ndarray:
    s = _check_range("strength", strength, 1.0, math.inf, high_open=True)
    raw = s * np.eye(k) + rng.random((n, k, k))
    return raw / raw.sum(axis=2, keepdims=True)


def _derangements(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniformly random permutations of ``0..k-1`` without fixed point (rejection)."""
    out = np.empty((n, k), dtype=np.int64)
    todo = np.arange(n)
    ident = np.arange(k)
    while todo.size:  # each round keeps ~1/e of the candidates: a handful of rounds
        cand = np.argsort(rng.random((todo.size, k)), axis=1)
        ok = ~(cand == ident).any(axis=1)
        out[todo[ok]] = cand[ok]
        todo = todo[~ok]
    return out


def _adversarial(n: int, k: int, rng: np.random.Generator, noise: float = 0.0) -> np.ndarray:
    eps = _check_range("noise", noise, 0.0, 1.0)
    perm = _derangements(n, k, rng)
    out = np.zeros((n, k, k))
    rows = np.arange(k)
    out[np.arange(n)[:, None], rows[None, :], perm] = 1.0
    return (1.0 - eps) * out + eps * (1.0 - np.eye(k)) / (k - 1)


def _separable_uniform(n: int, k: int, rng: np.random.Generator, gamma: float = 0.01,
                       epsilon: float = 1e-4) -> np.ndarray:
    g = _check_range("gamma", gamma, 0.0, math.inf, high_open=True)
    e = _check_range("epsilon", epsilon, 0.0, math.inf, high_open=True)
    # The official code stores A[m][answer, true] with columns summing to one; we build it the
    # same way and transpose to our (true, answer) convention.
    spam = np.full((k, k), 1.0 / k) + e * np.eye(k)
    spam = spam / spam.sum(axis=0, keepdims=True)
    out = np.broadcast_to(spam.T, (n, k, k)).copy()
    good = int(rng.integers(n))
    a = np.eye(k) + g * rng.random((k, k))
    a = a / a.sum(axis=0, keepdims=True)
    out[good] = a.T
    return out


_ModelFn = Callable[..., np.ndarray]

_MODELS: dict[str, tuple[_ModelFn, tuple[str, ...]]] = {
    "perfect": (_perfect, ()),
    "spammer": (_spammer, ()),
    "hammer-spammer": (_hammer_spammer, ("hammer_share", "hammer_accuracy")),
    "symmetric": (_symmetric, ("accuracy", "flip")),
    "one-coin": (_one_coin, ("skill", "min_skill", "max_skill")),
    "diagonal": (_diagonal, ("strength",)),
    "adversarial": (_adversarial, ("noise",)),
    "separable-uniform": (_separable_uniform, ("gamma", "epsilon")),
}
"""Annotator model name -> (matrix builder, accepted parameters); see confusion_matrices."""

MODELS: tuple[str, ...] = tuple(_MODELS)
"""Names of the annotator models understood by :func:`confusion_matrices`."""


def model_parameters(model: str) -> tuple[str, ...]:
    """Names of the keyword parameters the annotator model ``model`` accepts.

    Parameters
    ----------
    model : str
        One of :data:`MODELS`.

    Returns
    -------
    tuple of str
        Parameter names (see :func:`confusion_matrices` for their meaning and the papers
        [KOS11]_, [ZCZJ14]_, [INF23]_ the models come from).
    """
    return _lookup_model(model)[1]


def _lookup_model(model: str) -> tuple[_ModelFn, tuple[str, ...]]:
    try:
        return _MODELS[model]
    except (KeyError, TypeError):
        raise SimulationError(
            f"unknown annotator model {model!r} (choose from {', '.join(MODELS)})"
        ) from None


def confusion_matrices(
    model: str,
    n_workers: int,
    n_classes: int,
    rng: np.random.Generator | int | None = None,
    **params: Any,
) -> np.ndarray:
    """Confusion matrices of ``n_workers`` annotators following one named model.

    Every matrix is (K x K) and row-stochastic: ``C[m, j, l]`` is the probability that worker
    ``m`` answers class ``l`` to a task whose true class is ``j`` (the Dawid & Skene [DS79]_
    parametrisation).

    Models and their parameters:

    ``perfect``
        The identity.
    ``spammer``
        Every row uniform (``1/K``).
    ``hammer-spammer`` (``hammer_share=0.5``, ``hammer_accuracy=1.0``)
        Karger, Oh & Shah [KOS11]_: ``round(hammer_share * n_workers)`` workers, chosen at
        random, are hammers (symmetric with accuracy ``hammer_accuracy``, perfect by default);
        the others are spammers. (The CCEM code [INF23]_ instead makes each worker a hammer
        independently with probability ``gamma``; the exact count is used here so that the
        share is what was asked for.)
    ``symmetric`` (``accuracy=0.7`` or ``flip=1-accuracy``)
        Symmetric flipping noise: the diagonal is ``accuracy``, each other entry
        ``(1 - accuracy) / (K - 1)``; the same for every worker.
    ``one-coin`` (``skill=None``, ``min_skill=0.5``, ``max_skill=0.95``)
        The one-coin model [ZCZJ14]_: worker ``m`` is right with probability ``p_m``, its errors
        uniform over the other classes. ``skill`` gives ``p_m`` (one number for all workers, or
        one per worker); otherwise ``p_m ~ U(min_skill, max_skill)``.
    ``diagonal`` (``strength=2.0``, at least 1)
        Random diagonally dominant matrices: ``C[m] = rownorm(strength * I + U)`` with ``U``
        i.i.d. ``U(0, 1)`` entries, so each diagonal entry exceeds every other entry of its row
        (``strength + u_jj > u_jl`` because ``u_jl - u_jj < 1 <= strength``). This is CCEM's
        ``diagonally-dominant`` type [INF23]_ (``I + gamma * U``, normalised) with
        ``gamma = 1 / strength``.
    ``adversarial`` (``noise=0.0``)
        A random derangement ``pi_m`` (a permutation without fixed point, uniform among them):
        the worker answers ``pi_m(j)`` to class ``j`` with probability ``1 - noise`` and one of
        the other wrong classes uniformly otherwise. The diagonal is always zero.
    ``separable-uniform`` (``gamma=0.01``, ``epsilon=1e-4``)
        The ``separable-and-uniform`` annotators of CCEM [INF23]_ (official code,
        ``generate_confusion_matrices``): one worker, chosen uniformly at random, has
        ``A = I + gamma * U`` (``U`` i.i.d. ``U(0, 1)``) normalised so that for each true class
        the answer probabilities sum to one (near-identity: the annotator that makes the
        confusion matrices identifiable); every other worker has ``J / K + epsilon * I``
        normalised the same way (near-uniform spammers). The code stores ``A[answer, true]``
        with column sums one; the matrices returned here are their transposes.

    Parameters
    ----------
    model : str
        One of :data:`MODELS`.
    n_workers : int
        Number of workers (at least 1).
    n_classes : int
        Number of classes ``K`` (at least 2).
    rng : numpy.random.Generator, int or None
        Random generator or seed.
    **params
        Model parameters listed above; any other name raises :class:`SimulationError`.

    Returns
    -------
    ndarray of float64, shape (n_workers, n_classes, n_classes)

    Examples
    --------
    >>> c = confusion_matrices("adversarial", 3, 4, rng=0)
    >>> c.shape, bool((c.diagonal(axis1=1, axis2=2) == 0).all())
    ((3, 4, 4), True)
    """
    fn, accepted = _lookup_model(model)
    n = _check_count("n_workers", n_workers, minimum=1)
    k = _check_count("n_classes", n_classes, minimum=2)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        allowed = ", ".join(accepted) if accepted else "none"
        raise SimulationError(
            f"model {model!r} has no parameter {unknown[0]!r} (parameters: {allowed})"
        )
    gen = np.random.default_rng(rng)
    out = fn(n, k, gen, **params)
    return _validate_confusions(out, n, k)


def _validate_confusions(c: Any, n_workers: int | None, n_classes: int | None) -> np.ndarray:
    try:
        arr = np.array(c, dtype=np.float64)
    except (TypeError, ValueError):
        raise SimulationError("confusions must be a numeric (workers x K x K) array") from None
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
        raise SimulationError(f"confusions must have shape (workers, K, K), got {arr.shape}")
    if n_workers is not None and arr.shape[0] != n_workers:
        raise SimulationError(
            f"confusions are given for {arr.shape[0]} workers but n_workers is {n_workers}"
        )
    if n_classes is not None and arr.shape[1] != n_classes:
        raise SimulationError(
            f"confusions are {arr.shape[1]} x {arr.shape[1]} but n_classes is {n_classes}"
        )
    if arr.shape[1] < 2:
        raise SimulationError("confusions need at least 2 classes")
    if not np.all(np.isfinite(arr)) or (arr < 0).any():
        raise SimulationError("confusion matrices must be finite and non-negative")
    sums = arr.sum(axis=2)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-6):
        m, j = np.unravel_index(int(np.argmax(np.abs(sums - 1.0))), sums.shape)
        raise SimulationError(
            f"confusion matrices must be row-stochastic: worker {m}, true class {j} sums to "
            f"{sums[m, j]:.6g}"
        )
    return arr / sums[:, :, None]


def _check_count(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise SimulationError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise SimulationError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def parse_workers(spec: str) -> list[tuple[str, int, dict[str, Any]]]:
    """Parse a worker specification such as ``"perfect:2,symmetric:5:accuracy=0.8"``.

    Groups are separated by commas; each is ``MODEL:COUNT`` followed by optional
    ``:NAME=VALUE`` model parameters (numbers are converted, anything else stays text). Each
    group is a block of workers with their own confusion matrices (Dawid & Skene [DS79]_)
    drawn from the named model (:func:`confusion_matrices`).

    Parameters
    ----------
    spec : str
        The specification.

    Returns
    -------
    list of (model, count, params)
        Ready for ``simulate(workers=...)``.

    Examples
    --------
    >>> parse_workers("perfect:2, adversarial:3:noise=0.1")
    [('perfect', 2, {}), ('adversarial', 3, {'noise': 0.1})]
    """
    groups: list[tuple[str, int, dict[str, Any]]] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        parts = [p.strip() for p in item.split(":")]
        if len(parts) < 2 or not parts[0]:
            raise SimulationError(f"worker group {item!r} is not MODEL:COUNT[:NAME=VALUE...]")
        model = parts[0]
        _lookup_model(model)
        try:
            count = int(parts[1])
        except ValueError:
            raise SimulationError(f"worker group {item!r}: count {parts[1]!r} is not an integer") \
                from None
        params = dict(parse_param(p) for p in parts[2:])
        groups.append((model, count, params))
    if not groups:
        raise SimulationError(f"empty worker specification {spec!r}")
    return groups


def parse_param(text: str) -> tuple[str, Any]:
    """Parse ``NAME=VALUE`` into ``(name, value)``; integers and floats are converted.

    Used for annotator-model parameters (:func:`confusion_matrices`, after [DS79]_); dashes
    in the name become underscores (``min-skill`` -> ``min_skill``).

    Parameters
    ----------
    text : str
        E.g. ``"accuracy=0.8"``.

    Returns
    -------
    (str, int | float | str)
    """
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise SimulationError(f"model parameter {text!r} is not NAME=VALUE")
    value = value.strip()
    for conv in (int, float):
        try:
            return name, conv(value)
        except ValueError:
            pass
    return name, value


# ====================================================================== assignment
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


# ====================================================================== answers
def _draw_labels(
    confusions: np.ndarray, worker: np.ndarray, true: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One answer per (worker, true class) pair: inverse CDF with one uniform draw each.

    The answer is the number of cumulative probabilities ``<= u`` among the first ``K - 1``
    of its confusion row (the last is one). Zero-probability classes have equal consecutive
    sums and are never chosen. Counting goes one class column at a time: ``K - 1`` gathers of
    one number per answer, with no (answers x K) temporary.
    """
    m, k, _ = confusions.shape
    cum = np.cumsum(confusions, axis=2).reshape(m * k, k)
    columns = np.ascontiguousarray(cum[:, :-1].T)
    row = worker.astype(np.intp) * k + true
    u = rng.random(len(row))
    out = np.zeros(len(row), dtype=INDEX_DTYPE)
    for col in columns:
        out += col.take(row) <= u
    return out


def empirical_confusions(
    answers: Answers, truth: np.ndarray | None = None, *, normalize: bool = True
) -> np.ndarray:
    """Per-worker confusion matrices counted from answers against known true labels.

    ``E[m, j, l]`` is the number (or, normalised, the share) of answers ``l`` that worker ``m``
    gave to tasks of true class ``j`` (the complete-data maximum-likelihood estimate of Dawid
    & Skene [DS79]_). Tasks with unknown truth (``-1``) are ignored.

    Parameters
    ----------
    answers : Answers
        The answers.
    truth : ndarray of int, shape (n_tasks,), optional
        True class per task; defaults to ``answers.truth``.
    normalize : bool
        Divide each row by its total (rows without answers become NaN).

    Returns
    -------
    ndarray, shape (n_workers, n_classes, n_classes)
    """
    t = answers.truth if truth is None else np.asarray(truth)
    if t is None:
        raise SimulationError("empirical_confusions needs true labels (answers have no truth)")
    if t.shape != (answers.n_tasks,):
        raise SimulationError(f"truth has shape {t.shape}, expected ({answers.n_tasks},)")
    k, m = answers.n_classes, answers.n_workers
    true = t[answers.task]
    known = true >= 0
    cell = (answers.worker[known].astype(np.int64) * k + true[known]) * k + answers.label[known]
    counts = np.bincount(cell, minlength=m * k * k).reshape(m, k, k).astype(np.float64)
    if not normalize:
        return counts
    totals = counts.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / totals


# ====================================================================== simulate
@dataclass(frozen=True)
class SimulatedCrowd:
    """A simulated crowd: answers with their truth and the parameters that produced them.

    Attributes
    ----------
    answers : Answers
        The answers, with ``truth`` attached; task, worker and class ids are ``0..n-1``.
    true_labels : ndarray of int32, shape (n_tasks,)
        True class per task (the same as ``answers.truth``).
    confusions : ndarray of float64, shape (n_workers, n_classes, n_classes)
        True confusion matrix of each worker (row = true class, column = answer).
    worker_models : ndarray of str, shape (n_workers,)
        Annotator model of each worker (``"custom"`` for explicit matrices).
    activity : ndarray of float64, shape (n_workers,)
        Worker activity weights used for the assignment (summing to one).
    params : dict
        JSON-serialisable description of every parameter (what ``simulation.json`` holds).

    Notes
    -----
    The generative model is Dawid & Skene's [DS79]_; see :func:`simulate`.
    """

    answers: Answers
    true_labels: np.ndarray
    confusions: np.ndarray
    worker_models: np.ndarray
    activity: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracies(self) -> np.ndarray:
        """Expected accuracy of each worker on these tasks: ``sum_j f_j C[m, j, j]``.

        ``f_j`` is the share of tasks whose true class is ``j``.
        """
        k = self.answers.n_classes
        freq = np.bincount(self.true_labels, minlength=k) / max(len(self.true_labels), 1)
        return np.einsum("j,mjj->m", freq, self.confusions)

    def model_counts(self) -> dict[str, int]:
        """Number of workers per annotator model, in order of first appearance."""
        names, first, counts = np.unique(self.worker_models, return_index=True,
                                         return_counts=True)
        order = np.argsort(first)
        return {str(names[i]): int(counts[i]) for i in order}

    def summary(self) -> dict[str, Any]:
        """Sizes, answers per task and worker, models and majority-vote accuracy."""
        out = self.answers.summary()
        out["worker_models"] = self.model_counts()
        out["seed"] = self.params.get("seed")
        return out


def simulate(
    n_tasks: int | None = None,
    n_classes: int | None = None,
    n_workers: int | None = None,
    *,
    model: str | None = None,
    model_params: Mapping[str, Any] | None = None,
    workers: Sequence[WorkerGroup] | str | None = None,
    confusions: np.ndarray | None = None,
    priors: Sequence[float] | np.ndarray | None = None,
    true_labels: Sequence[int] | np.ndarray | None = None,
    answers_per_task: int | None = None,
    p: float | None = None,
    activity: str | np.ndarray = "uniform",
    exponent: float = 1.0,
    seed: int | np.random.Generator | None = None,
    name: str = "simulated",
) -> SimulatedCrowd:
    """Simulate a crowd of noisy annotators under the Dawid & Skene model [DS79]_.

    Steps: (1) true labels, drawn from ``priors`` or given; (2) one confusion matrix per worker
    from the annotator models (:func:`confusion_matrices`) or given; (3) the assignment of
    workers to tasks (:func:`assign_workers`); (4) each answer drawn from its worker's
    confusion row for the task's true class (one uniform draw per answer, inverse CDF).

    Parameters
    ----------
    n_tasks : int, optional
        Number of tasks; defaults to ``len(true_labels)``, otherwise required.
    n_classes : int, optional
        Number of classes ``K`` (at least 2); defaults to ``len(priors)``, the size of explicit
        ``confusions``, ``max(true_labels) + 1``, or 2.
    n_workers : int, optional
        Number of workers; implied by ``workers`` or ``confusions``, otherwise required.
    model : str, optional
        One annotator model for every worker (default ``"one-coin"`` when neither ``workers``
        nor ``confusions`` is given); see :data:`MODELS`.
    model_params : mapping, optional
        Parameters of ``model``.
    workers : sequence of (model, count[, params]) or str, optional
        A mix of models, e.g. ``[("perfect", 2), ("adversarial", 3, {"noise": 0.1})]`` or the
        string form ``"perfect:2,adversarial:3:noise=0.1"`` (:func:`parse_workers`). Workers
        are numbered group after group.
    confusions : array of shape (n_workers, K, K), optional
        Explicit row-stochastic confusion matrices.
    priors : sequence of K floats, optional
        Class priors (non-negative, summing to one); uniform by default.
    true_labels : sequence of int, optional
        Use these true labels (class indices) instead of drawing them.
    answers_per_task : int, optional
        Fixed redundancy ``r``. When neither it nor ``p`` is given, ``r = min(5, n_workers)``.
    p : float, optional
        Each worker answers each task with probability ``p``.
    activity : {"uniform", "power-law"} or array
        Worker activity (see :func:`assign_workers`).
    exponent : float
        Power-law exponent.
    seed : int, numpy.random.Generator or None
        Makes the simulation reproducible.
    name : str
        Data set name given to the answers.

    Returns
    -------
    SimulatedCrowd

    Examples
    --------
    >>> crowd = simulate(1000, 3, workers=[("perfect", 2), ("spammer", 3)], answers_per_task=3,
    ...                  seed=0)
    >>> crowd.answers.n_answers, crowd.confusions.shape
    (3000, (5, 3, 3))
    """
    rng = np.random.default_rng(seed)
    sources = sum(x is not None for x in (model, workers, confusions))
    if sources > 1:
        raise SimulationError("give only one of model, workers and confusions")
    if model_params and model is None:
        raise SimulationError("model_params needs model")

    # ---- classes
    given_conf = None if confusions is None else _validate_confusions(confusions, None, None)
    prior_arr = None
    if priors is not None:
        prior_arr = np.asarray(priors, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(prior_arr)) or (prior_arr < 0).any() \
                or abs(prior_arr.sum() - 1.0) > 1e-6:
            raise SimulationError("priors must be non-negative and sum to 1")
        prior_arr = prior_arr / prior_arr.sum()
    truth_arr = None
    if true_labels is not None:
        truth_arr = np.asarray(true_labels)
        if truth_arr.ndim != 1 or truth_arr.size == 0 or truth_arr.dtype.kind not in "iu":
            raise SimulationError("true_labels must be a non-empty 1-d array of class indices")
        if (truth_arr < 0).any():
            raise SimulationError("true_labels must be class indices >= 0")
    k_candidates = {
        "n_classes": n_classes,
        "priors": None if prior_arr is None else len(prior_arr),
        "confusions": None if given_conf is None else given_conf.shape[1],
    }
    given_k = {key: v for key, v in k_candidates.items() if v is not None}
    if len(set(given_k.values())) > 1:
        shown = ", ".join(f"{key} -> {v}" for key, v in given_k.items())
        raise SimulationError(f"inconsistent number of classes ({shown})")
    if given_k:
        k = _check_count("n_classes", next(iter(given_k.values())), minimum=2)
    else:
        k = max(2, int(truth_arr.max()) + 1) if truth_arr is not None else 2
    if truth_arr is not None and int(truth_arr.max()) >= k:
        raise SimulationError(
            f"true label {int(truth_arr.max())} is outside the {k} classes (0..{k - 1})"
        )

    # ---- tasks and true labels
    if truth_arr is not None:
        if n_tasks is not None and n_tasks != len(truth_arr):
            raise SimulationError(
                f"n_tasks={n_tasks} but {len(truth_arr)} true labels were given"
            )
        n_t = len(truth_arr)
        true = truth_arr.astype(INDEX_DTYPE)
    else:
        if n_tasks is None:
            raise SimulationError("give n_tasks (or true_labels)")
        n_t = _check_count("n_tasks", n_tasks, minimum=1)
        cdf = np.cumsum(prior_arr if prior_arr is not None else np.full(k, 1.0 / k))
        cdf[-1] = 1.0
        true = _categorical(cdf, n_t, rng).astype(INDEX_DTYPE)

    # ---- workers and confusion matrices
    groups: list[dict[str, Any]]
    if given_conf is not None:
        if n_workers is not None and n_workers != given_conf.shape[0]:
            raise SimulationError(
                f"confusions are given for {given_conf.shape[0]} workers but n_workers is "
                f"{n_workers}"
            )
        conf = given_conf
        models = np.full(conf.shape[0], "custom", dtype=object)
        groups = [{"model": "custom", "count": int(conf.shape[0]), "params": {}}]
    else:
        if workers is None:
            if n_workers is None:
                raise SimulationError("give n_workers (or workers, or confusions)")
            spec: list[tuple[str, int, Mapping[str, Any]]] = [
                (model or "one-coin", _check_count("n_workers", n_workers, minimum=1),
                 dict(model_params or {}))
            ]
        else:
            spec = _normalise_groups(parse_workers(workers) if isinstance(workers, str)
                                     else workers)
            total = sum(c for _, c, _ in spec)
            if n_workers is not None and n_workers != total:
                raise SimulationError(
                    f"the worker groups hold {total} workers but n_workers is {n_workers}"
                )
        mats, names = [], []
        groups = []
        for mname, count, params in spec:
            mats.append(confusion_matrices(mname, count, k, rng, **params))
            names.extend([mname] * count)
            groups.append({"model": mname, "count": count, "params": _jsonable(params)})
        conf = np.concatenate(mats, axis=0)
        models = np.asarray(names, dtype=object)
    m = conf.shape[0]

    # ---- assignment and answers
    if answers_per_task is None and p is None:
        answers_per_task = min(5, m)
    task, worker, weights = assign_workers(
        n_t, m, rng, answers_per_task=answers_per_task, p=p, activity=activity,
        exponent=exponent,
    )
    label = _draw_labels(conf, worker, true[task], rng)
    answers = Answers(
        task, worker, label, task_ids=np.arange(n_t), worker_ids=np.arange(m),
        classes=np.arange(k), truth=true, name=name, _sorted=True,
    )
    params = {
        "name": name,
        "n_tasks": n_t,
        "n_classes": k,
        "n_workers": m,
        "workers": groups,
        "priors": None if prior_arr is None else [float(x) for x in prior_arr],
        "true_labels": "given" if truth_arr is not None else "drawn",
        "assignment": "fixed" if answers_per_task is not None else "bernoulli",
        "answers_per_task": answers_per_task,
        "p": None if p is None else float(p),
        "activity": activity if isinstance(activity, str) else "custom",
        "exponent": float(exponent) if isinstance(activity, str) and activity == "power-law"
        else None,
        "seed": int(seed) if isinstance(seed, (int, np.integer)) else None,
    }
    return SimulatedCrowd(
        answers=answers, true_labels=answers.truth, confusions=conf,
        worker_models=models.astype(str), activity=weights, params=params,
    )


#: mixed into an integer seed of :func:`gaussian_features` so that ``simulate(seed=s)`` and
#: ``gaussian_features(..., seed=s)`` draw from independent streams
_FEATURES_STREAM = 0x6A75


def gaussian_features(
    true_labels: Sequence[int] | np.ndarray,
    n_classes: int,
    dim: int,
    *,
    separation: float = 3.0,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Items for simulated tasks: one Gaussian feature vector per task, centred on its class.

    ``x_i = mu[y_i] + e_i`` with unit Gaussian noise ``e_i ~ N(0, I_dim)``. The class means are
    ``separation`` times unit directions: the first ``K`` coordinate axes when ``dim >= K``
    (one-hot means, pairwise distance ``separation * sqrt(2)``), otherwise ``K`` random unit
    vectors (nearly orthogonal when ``dim`` is not much smaller than ``K``). A classifier can
    then learn the true class from the features while the crowd's answers stay as noisy as
    simulated, which makes end-to-end learning from crowds testable with known truth: with
    one-hot means the best possible accuracy is about ``1 - (K - 1) * Phi(-separation / sqrt 2)``
    (about 95% for 4 classes at the default 3.0, 99.3% at 4.0).

    Parameters
    ----------
    true_labels : sequence of int
        True class index of each task (``SimulatedCrowd.true_labels``).
    n_classes : int
        Number of classes ``K`` (at least ``max(true_labels) + 1``).
    dim : int
        Number of features (at least 1).
    separation : float
        Distance of each class mean from the origin, in noise standard deviations (>= 0).
    seed : int, numpy.random.Generator or None
        Makes the draw reproducible. An integer seed gives a stream independent of
        :func:`simulate`'s with the same seed (the same integer can seed both).

    Returns
    -------
    ndarray of float32, shape (n_tasks, dim)
        Row ``i`` belongs to task ``i`` (the order of ``true_labels``).

    Examples
    --------
    >>> crowd = simulate(500, 3, 5, seed=0)
    >>> X = gaussian_features(crowd.true_labels, 3, 8, seed=0)
    >>> X.shape, X.dtype
    ((500, 8), dtype('float32'))
    """
    y = np.asarray(true_labels)
    if y.ndim != 1 or (y.size and y.dtype.kind not in "iu"):
        raise SimulationError("true_labels must be a 1-d array of class indices")
    k = _check_count("n_classes", n_classes, minimum=1)
    d = _check_count("dim", dim, minimum=1)
    if y.size and (int(y.min()) < 0 or int(y.max()) >= k):
        raise SimulationError(f"true labels must be class indices 0..{k - 1}")
    separation = float(separation)
    if not (math.isfinite(separation) and separation >= 0):
        raise SimulationError(f"separation must be a finite number >= 0, got {separation!r}")
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        rng = np.random.default_rng([int(seed), _FEATURES_STREAM])
    else:
        rng = np.random.default_rng(seed)
    if d >= k:
        directions = np.eye(k, d)
    else:
        directions = rng.standard_normal((k, d))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    means = separation * directions
    X = rng.standard_normal((len(y), d))
    X += means[y.astype(np.intp)]
    return X.astype(np.float32)


def _normalise_groups(groups: Sequence[Any]) -> list[tuple[str, int, Mapping[str, Any]]]:
    out: list[tuple[str, int, Mapping[str, Any]]] = []
    for g in groups:
        if not isinstance(g, (tuple, list)) or len(g) not in (2, 3):
            raise SimulationError(
                f"worker group {g!r} is not (model, count) or (model, count, params)"
            )
        params = g[2] if len(g) == 3 else {}
        if not isinstance(params, Mapping):
            raise SimulationError(f"worker group {g!r}: params must be a mapping")
        out.append((str(g[0]), _check_count(f"count of {g[0]!r} workers", g[1], minimum=1),
                    params))
    if not out:
        raise SimulationError("workers is empty")
    return out


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in params.items():
        if isinstance(v, np.ndarray):
            out[key] = v.tolist()
        elif isinstance(v, np.generic):
            out[key] = v.item()
        elif isinstance(v, (list, tuple)):
            out[key] = [x.item() if isinstance(x, np.generic) else x for x in v]
        else:
            out[key] = v
    return out
