"""``crowdlearn fit/train --exclude FILE``: leave tasks out of training (peerannot's
``train --path-remove``), such as the ``too_hard_<alpha>.txt`` of ``crowdlearn identify -m
aum/waum`` or of ``peerannot identify``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["excluded_tasks", "apply_exclude"]


def excluded_tasks(path: str | Path, answers: Any) -> np.ndarray:
    """Indices of the answers' tasks listed in ``path``: peerannot's too_hard file (two
    integer columns, the task number in the second) or one task id per line."""
    from ..errors import DataError

    source = str(path)
    try:
        lines = [ln.split() for ln in Path(path).read_text(encoding="utf-8").splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", source=source) from exc
    widths = {len(parts) for parts in lines}
    if widths - {1, 2}:
        raise DataError("expected one task id per line, or peerannot's '<index> <task>' "
                        "lines", source=source)
    ids = [parts[-1] for parts in lines]
    known = {str(t): i for i, t in enumerate(np.asarray(answers.task_ids).tolist())}
    missing = [t for t in ids if t not in known]
    if missing:
        raise DataError(f"{len(missing)} task(s) not in the answers, e.g. {missing[0]}",
                        source=source, field="task")
    return np.unique(np.array([known[t] for t in ids], dtype=np.int64))


def apply_exclude(path: str | Path, answers: Any, feats: Any,
                  strategy_params: dict[str, Any]) -> tuple[Any, Any, int]:
    """The answers and items without the tasks of ``path`` (workers kept, so that worker
    outputs keep their order), and the ``labels`` strategy parameter (``crowdlearn train``)
    cut the same way; returns (answers, items, number of tasks left out)."""
    from ..errors import CrowdlearnError

    drop = excluded_tasks(path, answers)
    keep = np.setdiff1d(np.arange(answers.n_tasks), drop)
    if keep.size == 0:
        raise CrowdlearnError(f"--exclude {path}: every task left out")
    labels = strategy_params.get("labels")
    if labels is not None:
        from ..deep.heads.twostage import given_targets

        strategy_params["labels"] = given_targets(labels, answers.n_tasks,
                                                  answers.n_classes)[keep]
    sub = answers.select_tasks(keep, keep_all_workers=True)
    items = dataclasses.replace(
        feats, X=feats.X[keep], task_ids=np.asarray(feats.task_ids)[keep],
        labels=None if feats.labels is None else np.asarray(feats.labels)[keep])
    return sub, items, int(drop.size)
