"""Annotator models: named families of (K x K) row-stochastic confusion matrices.

:func:`confusion_matrices` draws one matrix per worker from a model of :data:`MODELS` (perfect,
spammer, hammer-spammer [KOS11]_, symmetric, one-coin [ZCZJ14]_, diagonal, adversarial,
separable-uniform [INF23]_); :func:`parse_workers` and :func:`parse_param` read the textual
worker specifications of the command line. The checks of counts and ranges shared by the whole
simulator live here too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import SimulationError


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
