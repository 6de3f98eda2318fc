"""Writing what an aggregator learned: labels, posteriors, worker parameters and a summary.

Files, for data set ``NAME`` and strategy label ``S`` (the strategy as given, lower case,
peerannot's bracket parameters included: ``ds``, ``dawid_skene``, ``dawid_skene_clust[l=2]``).
Every file name carries both, so that runs of different strategies (or of ``-s all``) share one
flat folder and none overwrites another's files:

``labels_NAME_S.npy``
    what ``peerannot aggregate -s S`` writes: the posteriors (tasks x classes, float64) of the
    strategies peerannot gives soft labels for, the hard labels (class index per task, int64,
    ``-1`` for a task the strategy left undecided) of those it gives hard labels only
    (``mv``, ``twothird``, ``iwmv``, ``wawa``, ``plantnet``, see
    :data:`~crowdlearn.aggregate.peerannot_names.PEERANNOT_HARD_ONLY`);
``labels_NAME_S_hard.npy``
    instead of the above with ``hard=True`` (``--hard``): the hard labels, as peerannot;
``probas_NAME_S.npy``
    posteriors (tasks x classes) in task order, for every strategy;
``labels_NAME_S.csv``
    ``task,label,confidence`` with the original task ids and class names (label empty where
    undecided) and the posterior of the chosen label (empty where undecided);
``workers_NAME_S.npz``
    ``worker_ids``, ``task_ids``, ``classes`` and whatever the strategy learned per worker
    (``confusions`` workers x classes x classes with rows = true class, ``skills``) or per task
    (``difficulties``, ``valid``), and ``priors``;
``summary_NAME_S.json``
    strategy, parameters, iterations, log-likelihood, seconds, accuracy against the truth when
    the answers carry some, and the names of the files written.

The files of one call are written as a group (:func:`crowdlearn.io._atomic.atomic_update`): they
are staged in a hidden sibling folder that replaces the output folder at the end, keeping the
folder's other files; a crash or a kill leaves the previous folder or the new one, never files of
two runs side by side, and the next run removes what an interrupted one left behind.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .._plain import plain_data
from .agreement import decided_labels
from .base import Aggregator
from .peerannot_names import PEERANNOT_HARD_ONLY


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


def strategy_label(spec: str) -> str:
    """The strategy part ``S`` of the file names: ``spec`` as given, lower case, as peerannot
    names its files (``"DSWC[L=2]"`` -> ``"dswc[l=2]"``); characters other than letters,
    digits and ``-_.[]=,+`` become ``-``."""
    return re.sub(r"[^\w.\-\[\]=,+]", "-", spec.strip().lower()) or "strategy"


def result_file_names(dataset: str, strategy: str, *, hard: bool = False) -> dict[str, str]:
    """The file names written for data set ``dataset`` and strategy label ``strategy``."""
    name, strat = _safe(dataset or "dataset"), strategy_label(strategy)
    stem = f"{name}_{strat}"
    return {
        "labels_npy": f"labels_{stem}{'_hard' if hard else ''}.npy",
        "probas": f"probas_{stem}.npy",
        "labels_csv": f"labels_{stem}.csv",
        "workers": f"workers_{stem}.npz",
        "summary": f"summary_{stem}.json",
    }


def peerannot_labels(est: Aggregator, *, hard: bool = False) -> np.ndarray:
    """What ``peerannot aggregate`` writes for a fitted strategy: hard labels (``-1`` where
    undecided) with ``hard`` or for the strategies peerannot gives hard labels only, else the
    posteriors (tasks x classes)."""
    if hard or est.name in PEERANNOT_HARD_ONLY:
        return decided_labels(est)
    return np.asarray(est.result_arrays()["probas"], dtype=np.float64)


def write_results(
    est: Aggregator, out_dir: str | os.PathLike[str], *, strategy: str | None = None,
    extra_summary: dict[str, Any] | None = None, hard: bool = False,
) -> dict[str, Path]:
    """Write the files described in the module docstring; returns their paths by kind.

    ``strategy`` is the label ``S`` of the file names (default: the strategy's canonical name);
    ``hard`` writes peerannot's ``--hard`` file instead of its default one.
    """
    from ..io._atomic import atomic_update

    out = Path(out_dir)
    answers = est.answers_
    arrays = est.result_arrays()
    names = result_file_names(answers.name or "dataset", strategy or est.name, hard=hard)
    paths = {kind: out / fname for kind, fname in names.items()}
    decided = decided_labels(est)

    summary = summarize(est, est.name)
    if strategy and strategy_label(strategy) != est.name:
        summary["spec"] = strategy
    if hasattr(est, "valid_"):
        summary["n_undecided"] = int((decided < 0).sum())
    if extra_summary:
        summary.update(extra_summary)
    summary["files"] = dict(names)
    text = json.dumps(summary, indent=2, ensure_ascii=False)

    import pandas as pd

    label_text = np.where(decided >= 0, answers.classes[np.maximum(decided, 0)].astype(object),
                          "")
    chosen = np.asarray(arrays["probas"])[np.arange(len(decided)), np.maximum(decided, 0)]
    frame = pd.DataFrame({"task": answers.task_ids, "label": label_text,
                          "confidence": np.where(decided >= 0, chosen, np.nan)})
    worker_arrays = {k: v for k, v in arrays.items() if k not in ("labels", "probas")}
    if hasattr(est, "valid_"):
        worker_arrays["valid"] = np.asarray(est.valid_, dtype=bool)
    # the files of this run form one group: readers see all of them or none (other files of
    # the folder, e.g. another strategy's, are kept)
    with atomic_update(out) as built:
        np.save(built / names["labels_npy"], peerannot_labels(est, hard=hard))
        np.save(built / names["probas"], arrays["probas"])
        frame.to_csv(built / names["labels_csv"], index=False, lineterminator="\n")
        np.savez(built / names["workers"], worker_ids=_storable(answers.worker_ids),
                 task_ids=_storable(answers.task_ids), classes=_storable(answers.classes),
                 **worker_arrays)
        (built / names["summary"]).write_bytes(text.encode("utf-8") + b"\n")
    return paths


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
