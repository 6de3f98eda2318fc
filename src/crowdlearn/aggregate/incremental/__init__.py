"""Incremental aggregation: ``partial_fit(new_answers)`` for majority vote, Wawa, Dawid-Skene and
one-coin Dawid-Skene, and the saved state behind ``crowdlearn aggregate NEW --update STATE``.

An update reads the new answers, the answers of the tasks they touch (through a per-task index
of the answer log) and worker-sized statistics, so its cost grows with the batch, not with the
history (``benchmarks/incremental.py``). Majority vote is exact; Wawa keeps exact skills and
revises the weighted vote of the touched tasks; Dawid-Skene and one-coin run a few EM
iterations on the touched tasks, warm-started, with worker parameters re-estimated from counts
maintained over every task. Untouched tasks keep their last posterior until a full
:meth:`~IncrementalMixin.sweep` (see :mod:`._states` for the exact statement of the
approximation). Saved states: :mod:`._io` (``state.json`` + ``arrays.npz``, versioned, no
pickle).
"""

from __future__ import annotations

from typing import Any

from ._api import STATE_PARAMS, IncrementalMixin, estimator_from_state

__all__ = ["STATE_PARAMS", "IncrementalMixin", "estimator_from_state", "load_state",
           "save_state"]


def __getattr__(name: str) -> Any:
    if name in ("load_state", "save_state"):
        from . import _io

        return getattr(_io, name)
    raise AttributeError(name)
