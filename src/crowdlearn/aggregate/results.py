"""Writing what an aggregator learned: labels, posteriors, worker parameters and a summary.

Files, for data set ``NAME`` and strategy ``S`` (peerannot's naming for the ``.npy`` files):

``labels.csv``
    ``task,label,confidence`` with the original task ids and class names, and the posterior
    of the chosen label;
``labels_NAME_S.npy``
    hard labels as class indices in task order (as ``peerannot aggregate`` writes them);
``probas_NAME_S.npy``
    posteriors (tasks x classes) in task order;
``workers_NAME_S.npz``
    ``worker_ids``, ``task_ids``, ``classes`` and whatever the strategy learned per worker
    (``confusions`` workers x classes x classes with rows = true class, ``skills``) or per task
    (``difficulties``), and ``priors``;
``summary.json``
    strategy, parameters, iterations, log-likelihood, seconds, and accuracy against the truth
    when the answers carry some.

The files of one call are written as a group (:func:`crowdlearn.io._atomic.atomic_update`): they
are staged in a hidden sibling folder that replaces the output folder at the end, keeping the
folder's other files; a crash or a kill leaves the previous folder or the new one, never files of
two runs side by side, and the next run removes what an interrupted one left behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._plain import plain_data
from .base import Aggregator


def accuracy_against_truth(labels: np.ndarray, answers: Any) -> float | None:
    """Accuracy of hard ``labels`` (class indices) on the tasks whose truth is known."""
    if not answers.has_truth:
        return None
    known = answers.truth_mask
    return float(np.mean(np.asarray(labels)[known] == answers.truth[known]))


def summarize(est: Aggregator, strategy: str | None = None) -> dict[str, Any]:
    """A JSON-ready summary of a fitted aggregator."""
    arrays = est.result_arrays()
    answers = est.answers_
    params = {k: _jsonable(v) for k, v in est.get_params().items()}
    out: dict[str, Any] = {
        "strategy": strategy or est.name,
        "class": type(est).__name__,
        "parameters": params,
        "dataset": answers.name,
        "n_tasks": answers.n_tasks,
        "n_workers": answers.n_workers,
        "n_classes": answers.n_classes,
        "n_answers": answers.n_answers,
        "n_iter": int(est.n_iter_),
        "log_likelihood": _jsonable(est.log_likelihood_),
        "seconds": round(float(est.fit_seconds_), 6),
    }
    gold = getattr(est, "gold_", None)
    if gold is not None and answers.has_truth:
        # gold tasks are given, not inferred: their accuracy is reported apart, and
        # "accuracy" covers the other tasks only (it would be inflated otherwise)
        on_gold = np.asarray(gold) >= 0
        labels = np.asarray(arrays["labels"])
        for key, mask in (("", ~on_gold), ("_gold", on_gold)):
            known = answers.truth_mask & mask
            out[f"accuracy{key}"] = (float(np.mean(labels[known] == answers.truth[known]))
                                     if known.any() else None)
            out[f"n_tasks_with_truth{key}"] = int(known.sum())
        out["n_gold_tasks"] = int(on_gold.sum())
    elif gold is not None:
        out["n_gold_tasks"] = int((np.asarray(gold) >= 0).sum())
    else:
        acc = accuracy_against_truth(arrays["labels"], answers)
        if acc is not None:
            out["accuracy"] = acc
            out["n_tasks_with_truth"] = int(answers.truth_mask.sum())
    for extra in ("chosen_", "reason_", "scores_"):
        if hasattr(est, extra):
            out[extra.rstrip("_")] = _jsonable(getattr(est, extra))
    return out


def write_results(
    est: Aggregator, out_dir: str | os.PathLike[str], *, strategy: str | None = None,
    extra_summary: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the files described in the module docstring; returns their paths by kind."""
    from ..io._atomic import atomic_update

    out = Path(out_dir)
    answers = est.answers_
    arrays = est.result_arrays()
    name = _safe(answers.name or "dataset")
    strat = _safe(strategy or est.name)
    labels = arrays["labels"].astype(np.int64)
    names = {
        "labels_csv": "labels.csv",
        "labels_npy": f"labels_{name}_{strat}.npy",
        "probas": f"probas_{name}_{strat}.npy",
        "workers": f"workers_{name}_{strat}.npz",
        "summary": "summary.json",
    }
    summary = summarize(est, strategy)
    if extra_summary:
        summary.update(extra_summary)
    summary["files"] = dict(names)
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    worker_arrays = {k: v for k, v in arrays.items() if k not in ("labels", "probas")}
    # the files of this run form one group: readers see all of them or none (other files of
    # the folder, e.g. another strategy's, are kept)
    with atomic_update(out) as tmp:
        import pandas as pd

        confidence = np.asarray(arrays["probas"])[np.arange(len(labels)), labels]
        pd.DataFrame({"task": answers.task_ids, "label": answers.classes[labels],
                      "confidence": confidence}).to_csv(
            tmp / names["labels_csv"], index=False, lineterminator="\n")
        np.save(tmp / names["labels_npy"], labels)
        np.save(tmp / names["probas"], arrays["probas"])
        np.savez(tmp / names["workers"], worker_ids=_storable(answers.worker_ids),
                 task_ids=_storable(answers.task_ids), classes=_storable(answers.classes),
                 **worker_arrays)
        (tmp / names["summary"]).write_bytes(text.encode("utf-8") + b"\n")
    return {k: out / v for k, v in names.items()}


def _storable(values: np.ndarray) -> np.ndarray:
    """Object arrays cannot be loaded without pickle: store text ids as unicode."""
    return values.astype(str) if values.dtype.kind == "O" else values


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text))


def _json_leaf(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _jsonable(value: Any) -> Any:
    """JSON data: non-finite floats as null, objects JSON cannot hold as their repr."""
    return plain_data(value, _json_leaf)
