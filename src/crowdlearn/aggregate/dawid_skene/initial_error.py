"""Prior confusion counts per worker (crowd-kit's ``initial_error``) for the Dawid-Skene family.

A prior confusion comes from a worker's history: ``initial_error.loc[(worker, observed), true]``
is how often ``worker`` answered ``observed`` on tasks of class ``true`` (or a probability).
It enters the first M-step only, as in crowd-kit: ``"addition"`` adds it to the counts the
initial posterior gives, ``"assign"`` replaces those counts by it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ...answers import Answers
from ...errors import DataError

STRATEGIES = ("assign", "addition")


class PriorConfusion(NamedTuple):
    """Dense prior counts ``counts[w, l, k]`` (worker, observed label, true class) and the
    (worker, observed label) rows the prior defines."""

    counts: np.ndarray
    present: np.ndarray


def prior_confusion(answers: Answers, initial_error: Any, strategy: str | None,
                    given: np.ndarray) -> PriorConfusion | None:
    """Validate ``initial_error`` and align it with ``answers`` (``None`` when unused).

    ``initial_error`` is crowd-kit's DataFrame (rows ``(worker, label)`` = observed label,
    columns = true label) or an array shaped like ``confusions_`` (workers x true x answer).
    ``given[w, l]``: worker ``w`` gave label ``l`` in the data (``"assign"`` requires a prior
    row for each of them). Workers or labels of the prior absent from the data are ignored.
    """
    if initial_error is None or strategy is None:
        return None
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Invalid initial_error_strategy: {strategy!r}, should be 'assign' or 'addition'"
        )
    w, k = answers.n_workers, answers.n_classes
    counts = np.zeros((w, k, k))
    present = np.zeros((w, k), dtype=bool)
    import pandas as pd

    if isinstance(initial_error, pd.DataFrame):
        if list(initial_error.index.names) != ["worker", "label"]:
            raise ValueError(
                f"The index of initial_error must be: ['worker', 'label'], but got: "
                f"{list(initial_error.index.names)}"
            )
        values = initial_error.to_numpy(dtype=np.float64)
        if strategy == "assign" and (values <= 1.0).all():
            sums = initial_error.groupby(level="worker", sort=False).sum().to_numpy()
            if not np.allclose(sums, 1.0):
                raise ValueError(
                    "The sum of each worker's error matrix in initial_error should be 1.0"
                )
        wi = pd.Index(answers.worker_ids).get_indexer(
            initial_error.index.get_level_values("worker"))
        li = pd.Index(answers.classes).get_indexer(initial_error.index.get_level_values("label"))
        ki = pd.Index(answers.classes).get_indexer(initial_error.columns)
        rows = np.flatnonzero((wi >= 0) & (li >= 0))
        cols = np.flatnonzero(ki >= 0)
        counts[wi[rows][:, None], li[rows][:, None], ki[cols][None, :]] = \
            values[np.ix_(rows, cols)]
        present[wi[rows], li[rows]] = True
    else:
        arr = np.asarray(initial_error, dtype=np.float64)
        if arr.shape != (w, k, k):
            raise DataError(
                f"initial_error must be a DataFrame indexed by (worker, label) or an array of "
                f"shape {(w, k, k)} (workers x true x answer), got {arr.shape}",
                field="initial_error",
            )
        if strategy == "assign" and (arr <= 1.0).all() and not np.allclose(arr.sum(axis=2), 1.0):
            raise ValueError(
                "The sum of each worker's error matrix in initial_error should be 1.0"
            )
        counts = arr.transpose(0, 2, 1).copy()
        present[:] = True
    if strategy == "assign" and (given & ~present).any():
        n = int((given & ~present).any(axis=1).sum())
        raise ValueError(
            f"All the workers in data should be in initial_error: Can not find {n} workers' "
            f"error matrix in initial_error"
        )
    return PriorConfusion(counts, present)


def apply_prior(counts: np.ndarray, prior: PriorConfusion, strategy: str) -> np.ndarray:
    """The first M-step's counts: ``counts + prior`` or the prior itself (``"assign"``)."""
    if strategy == "assign":
        return prior.counts.copy()
    return counts + prior.counts
