"""Answers and whole crowds: :func:`simulate`, :class:`SimulatedCrowd` and the answer counts.

Each answer is drawn from its worker's confusion row for the task's true class (Dawid & Skene
[DS79]_); :func:`simulate` chains true labels, annotator models (:mod:`.models`), the assignment
(:mod:`.assignment`) and the answers into one reproducible :class:`SimulatedCrowd`;
:func:`empirical_confusions` counts the confusions back from answers with known truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..answers import Answers
from ..labels import INDEX_DTYPE
from .assignment import _categorical, assign_workers
from .errors import SimulationError
from .models import _check_count, _validate_confusions, confusion_matrices, parse_workers

WorkerGroup = tuple[str, int] | tuple[str, int, Mapping[str, Any]]
"""Workers sharing an annotator model: ``(model, count)`` or ``(model, count, params)``."""


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
