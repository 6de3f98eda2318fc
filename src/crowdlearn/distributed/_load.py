"""Loading answers onto a Dask cluster as task partitions (see :mod:`._data` for the steps)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from ._data import (
    Columns,
    Vocabulary,
    _read_file,
    build_partition,
    concat_frames,
    frame_vocabulary,
    is_parquet_input,
    merge_vocabularies,
    parquet_files,
    split_answers,
    split_frame,
)


@dataclass
class Loaded:
    """Answers loaded on the cluster: one future per partition, the id vocabularies."""

    parts: list[Any]  # futures of Partition
    vocab: Vocabulary
    name: str | None


def _pick(pieces: list[Any], j: int) -> Any:
    return pieces[j]


def load(client: Any, data: Any, *, partitions: int | None = None,
         partitioned_by_task: bool | None = None, duplicates: str = "error",
         classes: Any = None, columns: tuple[str, str, str] = ("task", "worker", "label"),
         input_format: str | None = None, name: str | None = None) -> Loaded:
    """Read ``data`` into task partitions held by the cluster's workers."""
    cols = Columns(*columns)
    n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
    vocab: Vocabulary | None = None
    if hasattr(data, "to_delayed"):  # a Dask DataFrame
        frames = client.compute(data[list(columns)].to_delayed())
        by_task = bool(partitioned_by_task)
    elif is_parquet_input(data, input_format):
        fs, files, marker = parquet_files(data)
        frames = client.map(_read_file, [fs] * len(files), files, [cols] * len(files),
                            pure=False)
        by_task = bool(marker.get("partitioned_by") == "task") if partitioned_by_task is None \
            else partitioned_by_task
        if name is None:
            name = marker.get("name") or PurePosixPath(str(os.fspath(data)).rstrip("/")).stem
    else:
        from ..answers import Answers
        from ..io import read

        answers = data if isinstance(data, Answers) else read(
            data, format=input_format, duplicates=duplicates,
            task_col=cols.task if cols.task != "task" else None, worker_col=cols.worker,
            label_col=cols.label, classes=classes)
        name = name or answers.name
        n = partitions or 2 * n_workers
        frames = client.scatter(split_answers(answers, n), hash=False)
        cols = Columns()
        by_task = True
        vocab = Vocabulary(answers.worker_ids, answers.classes, answers.n_answers,
                           answers.task_ids.dtype.kind not in "iu")
    if vocab is None:
        found = client.gather(client.map(frame_vocabulary, frames, [cols] * len(frames),
                                         pure=False))
        vocab = merge_vocabularies(found, classes, cols)
    if not by_task:
        p = int(partitions or len(frames))
        pieces = client.map(split_frame, frames, [p] * len(frames), [cols.task] * len(frames),
                            pure=False)
        frames = [client.submit(concat_frames, *client.map(_pick, pieces, [j] * len(pieces),
                                                           pure=False), pure=False)
                  for j in range(p)]
        del pieces
    else:  # files of whole tasks: cut each by task (no exchange) until every worker has work
        target = int(partitions or 2 * n_workers)
        per_file = -(-target // max(len(frames), 1))
        if per_file > 1:
            pieces = client.map(split_frame, frames, [per_file] * len(frames),
                                [cols.task] * len(frames), pure=False)
            frames = [client.submit(_pick, piece, j, pure=False) for piece in pieces
                      for j in range(per_file)]
            del pieces
    lengths = client.gather(client.map(len, frames, pure=False))
    frames = [f for f, n in zip(frames, lengths, strict=True) if n]
    worker_ids = client.scatter([vocab.worker_ids], broadcast=True, hash=False)[0]
    names = client.scatter([np.asarray(vocab.classes)], broadcast=True, hash=False)[0]
    n = len(frames)
    parts = client.map(build_partition, frames, [worker_ids] * n, [names] * n,
                       [vocab.task_text] * n, [duplicates] * n, [cols] * n, [name] * n,
                       pure=False)
    from distributed import wait

    wait(parts)
    for f in parts:
        if f.status == "error":
            f.result()  # raises the worker's error (a DataError naming the file)
    del frames
    return Loaded(parts, vocab, name)


__all__ = ["Loaded", "load"]
