"""Writing crowdlearn's installed layout, shared by every ``prepare`` function: ``answers.json``
(:func:`write_answers`), the ``tasks.csv`` / ``workers.csv`` id files, the ``layout`` metadata
entry, and the small CSV readers and re-indexing helpers the conversions use."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..answers import Answers

__all__ = ["write_answers"]


# ---------------------------------------------------------------------------------- common
def _plain(values: Iterable[Any]) -> list[Any]:
    out = []
    for v in values:
        out.append(v.item() if hasattr(v, "item") else v)
    return out


def _write_ids(path: Path, header: str, ids: Iterable[Any]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([header, "id"])
        w.writerows(enumerate(_plain(ids)))


def write_answers(
    out: Path,
    *,
    name: str,
    task: Any,
    worker: Any,
    label: Any,
    n_tasks: int,
    worker_ids: Any,
    classes: Sequence[Any],
    truth: Any = None,
    task_names: Iterable[Any] | None = None,
    worker_names: Iterable[Any] | None = None,
    n_input: int | None = None,
) -> tuple[Answers, dict[str, Any]]:
    """Write crowd answers given as index arrays into ``out`` as a peerannot folder.

    Tasks are ``0..n_tasks-1`` (tasks without answers are kept, as ``{}``), workers get the ids
    ``worker_ids`` (``worker`` indexes them), labels index ``classes``. Every answer is kept:
    several answers of one worker to one task (some upstream files have them) are written with
    the worker's key repeated, and ``metadata.json`` records ``"duplicates": "all"`` and
    ``repeated_answers`` (see :func:`crowdlearn.io.write_peerannot`). ``tasks.csv`` and
    ``workers.csv`` map indices to the upstream ids (``task_names``, ``worker_names``).
    ``n_input``, when given, is the number of answers read upstream: every one must arrive.

    Returns the answers and the metadata entries describing them.
    """
    import numpy as np

    from ..answers import Answers
    from ..io.peerannot import write_peerannot

    task = np.asarray(task, dtype=np.int64)
    answers = Answers(
        task, np.asarray(worker), np.asarray(label), task_ids=np.arange(n_tasks),
        worker_ids=np.asarray(worker_ids), classes=np.asarray(list(classes)),
        truth=None if truth is None else np.asarray(truth), name=name, duplicates="all",
        source=name,
    )
    if n_input is not None and n_input != answers.n_answers:
        raise DataError(f"{n_input:,} answers read but {answers.n_answers:,} converted "
                        "(an answer was lost)", source=name)
    # non-peerannot files first: write_peerannot then adds its files next to them
    _write_ids(out / "tasks.csv", "task",
               task_names if task_names is not None else range(n_tasks))
    _write_ids(out / "workers.csv", "worker",
               worker_names if worker_names is not None else answers.worker_ids)
    write_peerannot(answers, out, name=name, repeated=True)
    repeats = (answers.task[1:] == answers.task[:-1]) & (answers.worker[1:] == answers.worker[:-1])
    meta = {
        "n_tasks": answers.n_tasks,
        "n_answers": answers.n_answers,
        "classes": _plain(answers.classes),
        "n_tasks_with_truth": int(answers.truth_mask.sum()) if answers.has_truth else 0,
        "repeated_answers": int(np.count_nonzero(repeats)),
    }
    return answers, meta


def _layout(**files: str) -> dict[str, str]:
    base = {
        "answers.json": "{task: {worker: label}}, labels index 'classes'",
        "tasks.csv": "task index -> upstream id",
        "workers.csv": "worker index -> upstream id",
    }
    base.update({k.replace("__", "."): v for k, v in files.items()})
    return base


def _read_csv(path: Path, origin: str, required: Sequence[str], **kwargs: Any) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(path, **kwargs)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read the table ({' '.join(str(exc).split())})",
                        source=origin) from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)} (columns: "
                        f"{', '.join(map(str, frame.columns[:8]))}...)", source=origin)
    return frame


def _codes(values: pd.Series, index: dict[Any, int], origin: str, field: str,
           what: str) -> np.ndarray:
    """Map values through ``index``; an unknown value is an error naming its line."""
    import numpy as np

    mapped = values.map(index)
    bad = mapped.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{what} {values.iloc[i]!r}", source=origin, where=f"line {i + 2}",
                        field=field)
    return mapped.to_numpy(dtype=np.int64)


def _count_rows(path: Path) -> int:
    with open(path, "rb") as f:
        return max(sum(1 for line in f if line.strip()) - 1, 0)


def _reindexed(a: Answers, out: Path, name: str, n_input: int) -> dict[str, Any]:
    """Write answers read with upstream ids as tasks/workers ``0..n-1`` (+ the id maps)."""
    import numpy as np

    _, meta = write_answers(
        out, name=name, task=a.task, worker=a.worker, label=a.label, n_tasks=a.n_tasks,
        worker_ids=np.arange(a.n_workers), classes=a.classes, truth=a.truth,
        task_names=a.task_ids, worker_names=a.worker_ids, n_input=n_input,
    )
    return meta
