"""The growing answer log of incremental aggregation: id vocabularies, answers, a per-task index.

:class:`Vocab` maps raw ids (tasks, workers, class names) to indices in order of first
appearance; a new id gets the next index, so every array indexed by tasks, workers or classes
only ever grows at its end. :class:`AnswerLog` keeps every answer (task, worker, label indices)
in arrival order in capacity-doubling buffers and threads the answers of each task on a linked
list (``head[t]``: the task's latest answer, ``next[i]``: the answer of the same task before
``i``), so that the answers of a set of tasks are found in time proportional to their number,
whatever the size of the history (:meth:`AnswerLog.answers_of`). Appending a batch never
rewrites an existing entry of ``next``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


class Grow:
    """A capacity-doubling buffer along axis 0; ``view`` is the filled part (no copy)."""

    def __init__(self, data: np.ndarray) -> None:
        self.buf = np.asarray(data)
        self.n = len(self.buf)

    @property
    def view(self) -> np.ndarray:
        return self.buf[: self.n]

    def resize(self, n: int, fill: Any = 0) -> np.ndarray:
        """Make room for ``n`` rows (new rows set to ``fill``); returns the view."""
        if n > len(self.buf):
            cap = max(n, 2 * len(self.buf), 16)
            new = np.full((cap,) + self.buf.shape[1:], fill, dtype=self.buf.dtype)
            new[: self.n] = self.buf[: self.n]
            self.buf = new
        elif n > self.n:
            self.buf[self.n:n] = fill
        self.n = n
        return self.view

    def widen(self, k: int, axis: int = 1, fill: Any = 0) -> None:
        """Pad trailing ``axis`` to length ``k`` (a new class); rows keep their values."""
        shape = list(self.buf.shape)
        if shape[axis] >= k:
            return
        pad = [(0, 0)] * self.buf.ndim
        pad[axis] = (0, k - shape[axis])
        self.buf = np.pad(self.buf, pad, constant_values=fill)


class Vocab:
    """Raw ids -> indices in order of first appearance (``ids`` is the inverse)."""

    def __init__(self, ids: Any = ()) -> None:
        values = list(ids.tolist() if isinstance(ids, np.ndarray) else ids)
        self.index: dict[Any, int] = {v: i for i, v in enumerate(values)}
        self._ids = Grow(np.asarray(values, dtype=object))

    def __len__(self) -> int:
        return len(self.index)

    @property
    def ids(self) -> np.ndarray:
        return self._ids.view

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Indices of ``values``, new ids appended; time proportional to ``len(values)``."""
        codes, uniques = pd.factorize(np.asarray(values, dtype=object))
        out = np.empty(len(uniques), dtype=np.int64)
        fresh: list[Any] = []
        for j, v in enumerate(uniques.tolist()):
            i = self.index.get(v)
            if i is None:
                i = len(self.index)
                self.index[v] = i
                fresh.append(v)
            out[j] = i
        if fresh:
            n = self._ids.n
            self._ids.resize(n + len(fresh), None)
            self._ids.buf[n:n + len(fresh)] = np.asarray(fresh, dtype=object)
        return out[codes] if len(codes) else np.zeros(0, dtype=np.int64)


class AnswerLog:
    """Every answer in arrival order, with a linked list of the answers of each task."""

    def __init__(self) -> None:
        self.task = Grow(np.zeros(0, dtype=np.int32))
        self.worker = Grow(np.zeros(0, dtype=np.int32))
        self.label = Grow(np.zeros(0, dtype=np.int32))
        self.next = Grow(np.zeros(0, dtype=np.int64))
        self.head = Grow(np.zeros(0, dtype=np.int64))  # per task; -1: no answer yet

    @property
    def n_answers(self) -> int:
        return self.task.n

    def append(self, task: np.ndarray, worker: np.ndarray, label: np.ndarray,
               n_tasks: int) -> np.ndarray:
        """Add a batch (indices); returns the global positions of its answers."""
        n0, m = self.task.n, len(task)
        self.head.resize(max(n_tasks, self.head.n), -1)
        for grow, values in ((self.task, task), (self.worker, worker), (self.label, label)):
            grow.resize(n0 + m)[n0:] = values
        nxt = self.next.resize(n0 + m, -1)
        head = self.head.view
        order = np.argsort(task, kind="stable")
        ts = np.asarray(task)[order]
        pos = n0 + order
        first = np.ones(m, dtype=bool)
        first[1:] = ts[1:] != ts[:-1]
        prev = np.empty(m, dtype=np.int64)
        prev[1:] = pos[:-1]
        nxt[pos] = np.where(first, head[ts], prev)
        last = np.ones(m, dtype=bool)
        last[:-1] = first[1:]
        head[ts[last]] = pos[last]
        return np.arange(n0, n0 + m)

    def answers_of(self, tasks: np.ndarray) -> np.ndarray:
        """Positions of every answer of ``tasks`` (one vectorised step per answer depth)."""
        nxt = self.next.view
        front = self.head.view[tasks]
        front = front[front >= 0]
        parts = []
        while len(front):
            parts.append(front)
            front = nxt[front]
            front = front[front >= 0]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def arrays(self, pos: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(task, worker, label) of the answers at ``pos`` (default: all, arrival order)."""
        if pos is None:
            return self.task.view, self.worker.view, self.label.view
        return self.task.view[pos], self.worker.view[pos], self.label.view[pos]
