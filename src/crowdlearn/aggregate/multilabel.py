"""Multi-label aggregation by binary relevance (crowd-kit's ``BinaryRelevance``).

Each answer is a *set* of labels; every label becomes its own two-class problem (did the
worker tick it?) solved by any classification aggregator, and a task's aggregated set holds the
labels whose problem answered yes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..answers import Answers
from ..labels import encode_ids
from .base import Aggregator, check_columns
from .voting import MajorityVote


class BinaryRelevance:
    r"""Multi-label aggregation: one binary aggregation per label.

    For every label :math:`\ell` seen in the answers, each answer becomes "ticks
    :math:`\ell`" / "does not", and a copy of ``base_aggregator`` (any crowdlearn
    classification strategy: majority vote, Dawid-Skene, GLAD, ...) aggregates these binary
    answers; task ``t`` gets :math:`\ell` when that aggregator says yes. Labels are processed in
    sorted order, so each task's list is sorted.

    Parameters
    ----------
    base_aggregator : Aggregator
        The classification aggregator cloned (same parameters) for every label
        (default :class:`MajorityVote`).

    Attributes
    ----------
    labels_ : pandas Series
        A list of labels per task (indexed by task id, named ``agg_label``).
    aggregators_ : dict
        The fitted aggregator of each label.

    References
    ----------
    Zhang & Zhou (2014), "A review on multi-label learning algorithms", *IEEE TKDE* 26(8)
    (binary relevance); crowd-kit's ``BinaryRelevance``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"task": ["t1", "t1", "t1"], "worker": ["a", "b", "c"],
    ...                    "label": [["cat", "dog"], ["cat"], ["cat", "dog"]]})
    >>> BinaryRelevance().fit_predict(df).tolist()
    [['cat', 'dog']]
    """

    def __init__(self, base_aggregator: Aggregator | None = None) -> None:
        self.base_aggregator = MajorityVote() if base_aggregator is None else base_aggregator
        if not isinstance(self.base_aggregator, Aggregator):
            raise TypeError("base_aggregator must be a crowdlearn classification aggregator, "
                            f"got {type(self.base_aggregator).__name__}")

    def fit(self, data: Any) -> BinaryRelevance:
        """Aggregate ``data``: a DataFrame with ``task``, ``worker`` and ``label`` (a list of
        labels per answer)."""
        import pandas as pd

        check_columns(data)
        self.aggregators_: dict[Any, Aggregator] = {}
        if not len(data):
            self.labels_ = pd.Series(dtype=float, name="agg_label")
            return self
        t_codes, t_ids = encode_ids(data["task"].to_numpy(), field="task")
        w_codes, w_ids = encode_ids(data["worker"].to_numpy(), field="worker")
        sizes = data["label"].map(len).to_numpy()
        flat = pd.Series(np.concatenate([np.asarray(v, dtype=object) for v in data["label"]])
                         if sizes.sum() else np.array([], dtype=object))
        codes, names = pd.factorize(flat, sort=True)
        rows = np.repeat(np.arange(len(data)), sizes)
        ticked = np.zeros((len(names), len(data)), dtype=bool)  # labels x answers
        ticked[codes, rows] = True
        chosen = np.zeros((len(names), len(t_ids)), dtype=bool)
        params = self.base_aggregator.get_params()
        for i, name in enumerate(names):  # one aggregation per label (not per answer)
            answers = Answers(t_codes, w_codes, ticked[i].astype(np.int8), task_ids=t_ids,
                              worker_ids=w_ids, classes=np.array([False, True]),
                              duplicates="all")
            agg = type(self.base_aggregator)(**params).fit(answers)
            self.aggregators_[name] = agg
            chosen[i] = answers.classes[np.asarray(agg.labels_)].astype(bool)
        per_task = [list(names[chosen[:, t]]) for t in range(len(t_ids))]
        self.labels_ = pd.Series(per_task, index=pd.Index(t_ids, name="task"),
                                 name="agg_label", dtype=object)
        return self

    def fit_predict(self, data: Any) -> Any:
        """Fit, then return ``labels_``."""
        return self.fit(data).labels_
