"""Answers partitioned by task on a Dask cluster: reading, global vocabularies, the shuffle.

The pipeline (every step a map over partitions; only vocabularies reach the client):

1. **read**: one pandas frame per Parquet file (``task``, ``worker``, ``label`` columns, local
   path or any fsspec URL), a partition of a Dask DataFrame, or, for any other input the
   readers take, the answers read here and cut into partitions by task;
2. **vocabularies**: each partition reports its distinct workers and labels; the client encodes
   their union with the readers' own functions (:func:`~crowdlearn.labels.encode_ids`,
   :func:`~crowdlearn.labels.encode_labels`), so worker ids and classes are exactly those of
   the in-memory path; task ids stay in their partition;
3. **shuffle**, unless the data say they are partitioned by task (the ``_crowdlearn.json``
   marker that ``crowdlearn simulate --format parquet`` writes): every answer moves to the
   partition ``hash(task) mod P``, so each task's answers sit in one partition;
4. **build**: each partition becomes an :class:`~crowdlearn.Answers` with the global worker ids
   and classes and its own task ids (:class:`Partition`), kept in the workers' memory for
   every EM iteration.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..answers import Answers
from ..errors import DataError
from ..labels import INDEX_DTYPE, encode_ids, encode_labels, lookup_ids

#: name of the file marking a Parquet folder whose files each hold whole tasks
MARKER = "_crowdlearn.json"


class Partition:
    """One partition of the answers: an :class:`Answers` over the global worker ids and classes
    and the partition's own tasks, with its DS design built once (on the worker holding it)."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self._design: Any = None

    def __sizeof__(self) -> int:  # what dask counts towards a worker's memory (spilling)
        a = self.answers
        n = a.task.nbytes + a.worker.nbytes + a.label.nbytes + a.task_ids.nbytes
        if self._design is not None:
            m = self._design.incidence
            n += m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
        return n + 1024

    @property
    def design(self) -> Any:
        if self._design is None:
            from ..aggregate.dawid_skene.shared import _Design

            self._design = _Design(self.answers)
        return self._design


@dataclass
class Columns:
    """Names of the task, worker and label columns of the partitioned files."""

    task: str = "task"
    worker: str = "worker"
    label: str = "label"


@dataclass
class Vocabulary:
    """What the client knows of the data: global worker ids and classes, sizes."""

    worker_ids: np.ndarray
    classes: np.ndarray
    n_answers: int
    task_text: bool  # some partition has text task ids: all are encoded as text


# ------------------------------------------------------------------ reading
def parquet_files(path: str) -> tuple[Any, list[str], dict[str, Any]]:
    """The filesystem, the Parquet files (sorted) and the marker of ``path`` (folder or file,
    local or fsspec URL)."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(os.fspath(path))
    if not fs.exists(root):
        raise DataError("no such file or folder", source=str(path))
    if fs.isdir(root):
        files = sorted(f for f in fs.find(root)
                       if f.endswith((".parquet", ".pq"))
                       and not any(p.startswith(("_", ".")) for p in
                                   f[len(root):].strip("/").split("/")))
        marker_path = root.rstrip("/") + "/" + MARKER
        marker = json.loads(fs.cat_file(marker_path)) if fs.exists(marker_path) else {}
    else:
        files, marker = [root], {}
    if not files:
        raise DataError("no .parquet file in the folder", source=str(path))
    return fs, files, marker


def is_parquet_input(path: Any, fmt: str | None) -> bool:
    """Whether ``path`` is read as a (partitioned) Parquet data set."""
    if fmt is not None:
        return fmt == "parquet"
    if not isinstance(path, (str, os.PathLike)):
        return False
    text = os.fspath(path)
    if text.lower().endswith((".parquet", ".pq")):
        return True
    if "://" in text:  # a remote folder: Parquet
        return True
    if os.path.isdir(text):
        return any(n.lower().endswith((".parquet", ".pq")) for n in os.listdir(text))
    return False


def _read_file(fs: Any, path: str, columns: Columns) -> Any:
    import pyarrow.parquet as pq

    names = [columns.task, columns.worker, columns.label]
    with fs.open(path, "rb") as fh:
        schema = pq.read_schema(fh)
        missing = [c for c in names if c not in schema.names]
        if missing:
            raise DataError(f"missing column(s) {', '.join(missing)} (columns are "
                            f"{', '.join(schema.names)})", source=path)
        fh.seek(0)
        frame = pq.read_table(fh, columns=names).to_pandas()
    frame.attrs["source"] = path
    return frame


def split_frame(frame: Any, n: int, column: str) -> list[Any]:
    """``frame`` cut into ``n`` frames by ``hash(task) mod n`` (rows keep their order)."""
    import pandas as pd

    if n == 1:
        return [frame]
    values = frame[column].to_numpy()
    if values.dtype.kind == "O" or isinstance(frame[column].dtype, pd.CategoricalDtype):
        values = np.asarray(frame[column].astype(str).to_numpy(), dtype=object)
    bucket = (pd.util.hash_array(values) % np.uint64(n)).astype(np.int64)
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(n + 1))
    source = frame.attrs.get("source")
    out = []
    for i in range(n):
        piece = frame.iloc[order[bounds[i]:bounds[i + 1]]]
        piece.attrs["source"] = source
        out.append(piece)
    return out


def concat_frames(*frames: Any) -> Any:
    import pandas as pd

    out = pd.concat(frames, ignore_index=True)
    out.attrs["source"] = frames[0].attrs.get("source") if frames else None
    return out


def frame_vocabulary(frame: Any, columns: Columns) -> tuple[np.ndarray, np.ndarray, bool, int]:
    """Distinct workers and labels of one frame, whether its task ids are text, its rows."""
    import pandas as pd

    source = frame.attrs.get("source")
    tasks = pd.unique(frame[columns.task].to_numpy())
    _, t_ids = encode_ids(tasks, source=source, field=columns.task)
    return (pd.unique(frame[columns.worker].to_numpy()),
            pd.unique(frame[columns.label].to_numpy()),
            t_ids.dtype.kind not in "iu", len(frame))


def merge_vocabularies(parts: list[tuple[np.ndarray, np.ndarray, bool, int]],
                       classes: Any = None, columns: Columns | None = None) -> Vocabulary:
    """The global worker ids and classes from the partitions' distinct values, encoded by the
    in-memory readers' functions (same sort order, same label rules)."""
    columns = columns or Columns()
    workers = np.concatenate([np.asarray(p[0], dtype=object) for p in parts])
    labels = np.concatenate([np.asarray(p[1], dtype=object) for p in parts])
    import pandas as pd

    workers = pd.unique(workers)
    labels = pd.unique(labels)
    _, worker_ids = encode_ids(workers, field=columns.worker)
    _, names = encode_labels(labels, classes=classes, field=columns.label)
    return Vocabulary(worker_ids, names, sum(p[3] for p in parts), any(p[2] for p in parts))


def build_partition(frame: Any, worker_ids: np.ndarray, classes: np.ndarray, task_text: bool,
                    duplicates: str, columns: Columns, name: str | None) -> Partition:
    """One partition's :class:`Answers`: global workers and classes, its own task ids."""
    source = frame.attrs.get("source")
    t_raw = frame[columns.task].to_numpy()
    t_codes, t_ids = encode_ids(t_raw, source=source, field=columns.task)
    if task_text and t_ids.dtype.kind in "iu":  # the whole column is text in memory
        t_codes, t_ids = encode_ids(t_ids.astype(str).astype(object)[t_codes], source=source,
                                    field=columns.task)
    w_codes = lookup_ids(frame[columns.worker].to_numpy(), worker_ids, source=source,
                         field=columns.worker, what="worker")
    l_codes, _ = encode_labels(frame[columns.label].to_numpy(), classes=classes, source=source,
                               field=columns.label)
    answers = Answers(t_codes.astype(INDEX_DTYPE), w_codes, l_codes, task_ids=t_ids,
                      worker_ids=worker_ids, classes=classes, duplicates=duplicates,
                      source=source, name=name)
    return Partition(answers)


def split_answers(answers: Answers, n: int) -> list[Any]:
    """In-memory answers as ``n`` task/worker/label frames with the original ids, cut by task
    (contiguous runs of the sorted tasks, each task in one frame)."""
    frame = answers.to_frame()
    n = max(1, min(n, max(answers.n_tasks, 1)))
    cuts = np.searchsorted(answers.task, np.linspace(0, answers.n_tasks, n + 1)[1:-1].round())
    pieces = np.split(np.arange(len(frame)), cuts)
    out = []
    for rows in pieces:
        piece = frame.iloc[rows].reset_index(drop=True)
        piece.attrs["source"] = answers.name
        out.append(piece)
    return out
