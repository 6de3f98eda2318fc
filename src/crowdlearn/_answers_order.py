"""Helpers of :class:`crowdlearn.answers.Answers`: the canonical answer order (stable sort by
task, worker, position), id display, value comparison and index parsing for selections."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DataError, option
from .labels import Locator


# ---------------------------------------------------------------------- helpers
def _place(locate: Locator | None, i: int) -> str:
    return locate(int(i)) if locate is not None else f"answer {int(i)}"


def _shown_id(value: Any) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    return repr(value) if isinstance(value, str) else str(value)


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    return len(a) == len(b) and bool(np.all(a == b))


def _as_indices(sel: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(sel)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"boolean mask over {what} must have length {n}, got {arr.shape}")
        return np.flatnonzero(arr)
    arr = arr.astype(np.int64).reshape(-1)
    if len(arr) and (arr.min() < 0 or arr.max() >= n):
        raise IndexError(f"{what} index out of range 0..{n - 1}")
    return arr


def _stable_argsort(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` for non-negative int64 keys, usually ~8x faster.

    When the key and the position fit together in 63 bits, ``key << b | position`` is sorted as
    plain values (SIMD-accelerated, and stable by construction) and the positions read back.
    """
    n = len(key)
    b = max(int(n - 1).bit_length(), 1)
    if n > 1 and int(key.min()) >= 0 and int(key.max()).bit_length() + b <= 63:
        packed = (key.astype(np.int64) << b) | np.arange(n, dtype=np.int64)
        packed.sort()
        return packed & ((1 << b) - 1)
    return np.argsort(key, kind="stable")


def _canonical(
    task: np.ndarray,
    worker: np.ndarray,
    label: np.ndarray,
    n_workers: int,
    duplicates: str,
    task_ids: np.ndarray,
    worker_ids: np.ndarray,
    source: str | None,
    locate: Locator | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort answers by (task, worker) and apply the duplicate policy."""
    key = task.astype(np.int64) * max(n_workers, 1) + worker
    if len(key) > 1 and np.all(key[1:] > key[:-1]):
        return task, worker, label
    order = _stable_argsort(key)
    skey = key[order]
    same = skey[1:] == skey[:-1]
    if same.any() and duplicates != "all":
        if duplicates == "error":
            pos = np.flatnonzero(same)
            shown = []
            for p in pos[:3]:
                i, j = int(order[p]), int(order[p + 1])
                shown.append(
                    f"task {_shown_id(task_ids[task[i]])} / worker "
                    f"{_shown_id(worker_ids[worker[i]])} at {_place(locate, i)} and "
                    f"{_place(locate, j)}"
                )
            more = f" and {len(pos) - 3} more" if len(pos) > 3 else ""
            advice = option("duplicates", "first|last|all", "'first', 'last' or 'all'")
            raise DataError(
                f"{len(pos)} duplicate (task, worker) answer(s): {'; '.join(shown)}{more} "
                f"(choose {advice})",
                source=source,
            )
        keep = np.ones(len(skey), dtype=bool)
        if duplicates == "first":
            keep[1:] = ~same
        else:  # last
            keep[:-1] = ~same
        order = order[keep]
    return task[order], worker[order], label[order]
