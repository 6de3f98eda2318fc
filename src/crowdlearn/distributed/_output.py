"""Results of a distributed fit: an estimator like the in-memory one, or partitioned Parquet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._answers_base import _IdSizes


@dataclass
class IndexOnly(_IdSizes):
    """What the result writers read of an :class:`~crowdlearn.Answers` (ids and sizes), for a
    fit whose answers never left the cluster."""

    name: str | None
    task_ids: np.ndarray
    worker_ids: np.ndarray
    classes: np.ndarray
    n_answers: int
    truth: None = None
    has_truth: bool = False

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def make_estimator(name: str, params: dict[str, Any], attrs: dict[str, Any], index: IndexOnly,
                   probas: np.ndarray | None, labels: np.ndarray | None, seconds: float) -> Any:
    """The strategy object, fitted: the attributes of the distributed fit set as ``fit`` sets
    them in memory (``probas_`` and ``labels_`` only when collected)."""
    from ..aggregate import make_strategy

    est = make_strategy(name, **params)
    for key, value in attrs.items():
        setattr(est, key, value)
    est.n_iter_ = attrs.get("n_iter_", 0)
    est.log_likelihood_ = attrs.get("log_likelihood_")
    est.fit_seconds_ = seconds
    est.answers_ = index
    est._arrays = {"labels": np.zeros(0, dtype=np.int64)}  # (not collected: on the cluster)
    if probas is not None:
        est.probas_, est.labels_ = probas, labels
        est._arrays = {"labels": np.asarray(labels), "probas": probas}
    for attr in ("confusions_", "skills_", "priors_", "difficulties_"):
        value = attrs.get(attr)
        if value is not None:
            est._arrays[attr.rstrip("_")] = np.asarray(value, dtype=np.float64)
    return est


def collect(engine: Any, fitted: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Task ids, posteriors and labels of every partition, in the in-memory task order."""
    client = engine.client
    ids = client.gather(client.map(_task_ids, engine.parts, pure=False))
    probas = client.gather(fitted.probas)
    labels = client.gather(fitted.labels)
    all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    key = all_ids.astype(str) if all_ids.dtype.kind == "O" else all_ids
    order = np.argsort(key, kind="stable")
    k = engine.n_classes
    p = np.concatenate(probas) if probas else np.zeros((0, k))
    lab = np.concatenate(labels).astype(np.int64) if labels else np.zeros(0, dtype=np.int64)
    return all_ids[order], np.ascontiguousarray(p[order]), lab[order]


def collect_task_attrs(engine: Any, fitted: Any) -> dict[str, np.ndarray]:
    """The per-task attributes of ``fitted`` (e.g. GLAD's ``betas_``), in the in-memory task
    order (that of :func:`collect`)."""
    if not fitted.task_attrs:
        return {}
    client = engine.client
    ids = client.gather(client.map(_task_ids, engine.parts, pure=False))
    all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    key = all_ids.astype(str) if all_ids.dtype.kind == "O" else all_ids
    order = np.argsort(key, kind="stable")
    return {name: np.concatenate(client.gather(futs))[order] if futs else np.zeros(0)
            for name, futs in fitted.task_attrs.items()}


def _task_ids(part: Any) -> np.ndarray:
    return part.answers.task_ids


def _write_part(part: Any, probas: np.ndarray, labels: np.ndarray, path: str,
                classes: np.ndarray) -> int:
    import pandas as pd

    frame = pd.DataFrame({"task": part.answers.task_ids,
                          "label": classes[labels] if len(labels) else classes[:0],
                          "confidence": probas[np.arange(len(labels)), labels]})
    for j, c in enumerate(classes):
        frame[f"p_{c}"] = probas[:, j]
    frame.to_parquet(path, index=False)
    return len(frame)


def write_parquet(engine: Any, fitted: Any, est: Any, out_dir: str, stem: str) -> dict[str, str]:
    """``labels_<stem>/part-NNNNN.parquet`` (task, label, confidence, ``p_<class>`` per class)
    written by the workers, plus ``workers_<stem>.npz`` and ``summary_<stem>.json`` here."""
    import fsspec

    from ..aggregate.results import _storable, summarize

    fs, root = fsspec.core.url_to_fs(out_dir)
    folder = f"labels_{stem}"
    fs.makedirs(f"{root}/{folder}", exist_ok=True)
    for old in fs.glob(f"{root}/{folder}/part-*.parquet"):
        fs.rm(old)
    protocol = out_dir.split("://")[0] + "://" if "://" in str(out_dir) else ""
    paths = [f"{protocol}{root}/{folder}/part-{i:05d}.parquet" for i in range(len(engine.parts))]
    classes = np.asarray(engine.vocab.classes)
    written = engine.client.map(_write_part, engine.parts, fitted.probas, fitted.labels, paths,
                                [classes] * len(paths), pure=False)
    n_rows = sum(engine.client.gather(written))
    summary = summarize(est, est.name)
    summary["n_tasks"] = n_rows
    files = {"labels_parquet": folder, "workers": f"workers_{stem}.npz",
             "summary": f"summary_{stem}.json"}
    summary["files"] = files
    summary["engine"] = "dask"
    arrays = {k: v for k, v in est._arrays.items() if k not in ("labels", "probas")}
    with fs.open(f"{root}/{files['workers']}", "wb") as fh:
        np.savez(fh, worker_ids=_storable(engine.vocab.worker_ids), classes=_storable(classes),
                 **arrays)
    with fs.open(f"{root}/{files['summary']}", "wb") as fh:
        fh.write(json.dumps(summary, indent=2, ensure_ascii=False).encode() + b"\n")
    return files


__all__ = ["IndexOnly", "collect", "make_estimator", "write_parquet"]
