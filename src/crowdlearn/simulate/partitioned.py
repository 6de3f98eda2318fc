"""Large simulated crowds written partition by partition as a Parquet data set.

:func:`write_partitioned` draws the crowd (worker confusions and activity) once from the main
seed, then simulates the tasks in ``partitions`` disjoint chunks, each with its own seed spawned
from the main one (:class:`numpy.random.SeedSequence`), and writes each chunk before drawing the
next: memory holds one chunk, never the whole crowd. Files::

    OUT/part-00000.parquet ...       task (int32 or int64), worker (int32), label (int8/int16)
    OUT/_truth/part-00000.parquet    task, truth (class index)
    OUT/_crowdlearn.json             {"partitioned_by": "task", ...}: each file holds whole
                                     tasks (crowdlearn aggregate --engine dask skips its shuffle)
    OUT/_confusions.npy              true confusions (workers x K x K, row = true class)
    OUT/_simulation.json             every parameter

Task ids of chunk ``i`` are ``offset_i .. offset_i + n_i - 1`` (global, disjoint); workers are
``0 .. M-1`` as in :func:`~crowdlearn.simulate.simulate`. Underscore-prefixed entries are
ignored by Parquet readers (pyarrow, Dask, Spark), so ``OUT`` reads as the answers alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .crowd import SimulatedCrowd, simulate
from .errors import SimulationError

MARKER = "_crowdlearn.json"


def _small_int(top: int) -> Any:
    for dtype in (np.int8, np.int16, np.int32):
        if top <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def write_partitioned(base: SimulatedCrowd, n_tasks: int, partitions: int, out: Path, *,
                      answers_per_task: int | None, p: float | None, seed: int,
                      name: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Simulate ``n_tasks`` tasks with the workers of ``base`` (its confusions, activity and
    priors) in ``partitions`` chunks written to ``out`` (an existing empty folder).

    Returns totals: ``n_answers``, ``n_tasks``, ``partitions``, majority-vote accuracy."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if partitions < 1:
        raise SimulationError(f"--partitions must be at least 1, got {partitions}")
    partitions = min(partitions, max(n_tasks, 1))
    k = base.confusions.shape[1]
    priors = base.params.get("priors")
    bounds = np.linspace(0, n_tasks, partitions + 1).round().astype(np.int64)
    task_dtype = np.int32 if n_tasks < 2**31 else np.int64
    label_dtype = _small_int(k - 1)
    children = np.random.SeedSequence(seed).spawn(partitions)
    (out / "_truth").mkdir()
    n_answers = hits = 0
    for i in range(partitions):
        n_i = int(bounds[i + 1] - bounds[i])
        crowd = simulate(n_i, k, confusions=base.confusions, priors=priors,
                         answers_per_task=answers_per_task, p=p, activity=base.activity,
                         seed=np.random.default_rng(children[i]), name=name)
        a = crowd.answers
        offset = int(bounds[i])
        table = pa.table({
            "task": (a.task.astype(np.int64) + offset).astype(task_dtype),
            "worker": a.worker.astype(np.int32),
            "label": a.label.astype(label_dtype),
        })
        pq.write_table(table, out / f"part-{i:05d}.parquet")
        truth = pa.table({"task": (np.arange(n_i, dtype=np.int64) + offset).astype(task_dtype),
                          "truth": crowd.true_labels.astype(label_dtype)})
        pq.write_table(truth, out / "_truth" / f"part-{i:05d}.parquet")
        n_answers += a.n_answers
        if a.n_tasks:
            hits += int((a.majority_labels(seed) == crowd.true_labels).sum())
        del crowd, a, table, truth
    summary = {"n_tasks": n_tasks, "n_answers": n_answers, "partitions": partitions,
               "majority_vote_accuracy": hits / n_tasks if n_tasks else None}
    marker = {"partitioned_by": "task", "name": name, "partitions": partitions,
              "n_tasks": n_tasks, "n_answers": n_answers, "n_classes": k,
              "n_workers": int(base.confusions.shape[0])}
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    np.save(out / "_confusions.npy", base.confusions)
    info = dict(base.params)
    info.update(n_tasks=n_tasks, format="parquet", partitions=partitions,
                partition_seeds="numpy SeedSequence(seed).spawn(partitions)",
                worker_models=[str(x) for x in base.worker_models], **meta)
    if info.get("activity") not in ("uniform", None):
        info["activity_weights"] = [float(x) for x in base.activity]
    (out / "_simulation.json").write_text(json.dumps(info, indent=2) + "\n")
    return summary
