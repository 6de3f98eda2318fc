"""Two-stage training: aggregate the answers, then train the classifier on the aggregated labels.

The first stage is any label-aggregation strategy of :mod:`crowdlearn.aggregate` (MV, DS, GLAD,
...); the second trains the classifier with the cross-entropy against its posteriors (``soft``)
or its hard labels. This is peerannot's ``train`` command as a crowd head, so that it shares the
training loop, model selection and outputs of the end-to-end strategies.

Reference: the "aggregate then learn" baseline of Rodrigues & Pereira (AAAI 2018) and of
Lefort et al., "Identify ambiguous tasks combining crowdsourced labels by weighting Areas Under
the Margin" (peerannot, 2023).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...answers import Answers
from ...params import Bool, Custom, Seed
from ..data import Batch
from .base import CrowdHead, register_head

__all__ = ["TwoStage"]


def _is_strategy(value: Any) -> bool:
    from ...aggregate import get_strategy_class, parse_strategy_spec

    get_strategy_class(parse_strategy_spec(value)[0])  # raises for an unknown name
    return True


@register_head("two-stage", "twostage", "two_stage", "aggregated")
class TwoStage(CrowdHead):
    """Train on labels aggregated by a label-only strategy (two-stage baseline).

    Parameters
    ----------
    aggregator:
        Name of an aggregation strategy (``crowdlearn aggregate --help`` lists them), with
        optional bracket parameters, e.g. ``"ds[max_iter=50]"``.
    soft:
        Train on the aggregator's posteriors (``True``) or on one-hot hard labels.
    aggregator_params:
        Extra constructor parameters of the aggregator.
    seed:
        Seed of the aggregator (tie breaking, random initialisations).
    labels:
        Labels given instead of an aggregator (``crowdlearn train --labels``, peerannot's
        ``train --labels``): a ``.npy`` path or an array in the answers' task order, hard
        (class index per task, ``-1`` for none, as ``peerannot aggregate --hard`` and its
        hard-only strategies write them) or soft (tasks x classes, rows normalised; a row of
        zeros or NaN for none). Tasks without a label get no weight.

    After :meth:`setup`: ``aggregator_`` (the fitted strategy) and the ``targets`` buffer
    (tasks x classes).
    """

    uses_answers = False

    param_specs = {
        "aggregator": Custom("an aggregation strategy (crowdlearn aggregate --help lists them)",
                             _is_strategy, bad=("no-such-strategy", 3, "ds[n_iter=abc")),
        "soft": Bool(),
        "aggregator_params": Custom("a dict of parameters", lambda v: isinstance(v, dict),
                                    bad=("abc",), none=True),
        "seed": Seed(objects=False),
        "labels": Custom("hard (tasks,) or soft (tasks x K) labels: an array or a .npy path",
                         lambda v: isinstance(v, (str, os.PathLike)) or hasattr(v, "__array__"),
                         bad=(3.5, b"abc"), none=True),
    }

    def __init__(self, n_classes: int, n_workers: int, aggregator: str = "mv",
                 soft: bool = True, aggregator_params: dict[str, Any] | None = None,
                 seed: int | None = 0, labels: Any = None) -> None:
        super().__init__(n_classes, n_workers)
        self.labels = labels
        self.aggregator = aggregator
        self.soft = bool(soft)
        self.aggregator_params = dict(aggregator_params or {})
        from ...aggregate import make_strategy

        make_strategy(aggregator, **self.aggregator_params)  # its parameters, checked now
        self.seed = seed
        self.aggregator_: Any = None
        self.register_buffer("targets", torch.zeros(0, self.n_classes))

    def setup(self, answers: Answers, train_tasks: np.ndarray) -> None:
        if self.labels is not None:
            targets = given_targets(self.labels, answers.n_tasks, self.n_classes)
            if not self.soft:
                has = targets.sum(axis=1) > 0
                targets = np.eye(self.n_classes, dtype=np.float32)[targets.argmax(axis=1)]
                targets[~has] = 0.0
            self.targets = torch.as_tensor(targets, device=self.targets.device)
            return
        from ...aggregate import make_strategy

        agg = make_strategy(self.aggregator, **self.aggregator_params)
        if (self.seed is not None and "random_state" in agg.get_params()
                and "random_state" not in self.aggregator_params
                and "random_state" not in self.aggregator):
            agg.set_params(random_state=self.seed)
        agg.fit(answers.with_truth(None))  # the first stage never sees the truth
        self.aggregator_ = agg
        if self.soft:
            targets = np.asarray(agg.probas_, dtype=np.float32)
        else:
            targets = np.eye(self.n_classes, dtype=np.float32)[np.asarray(agg.labels_)]
        # a task without answers has no aggregated label (MV would draw one at random, DS give
        # the prior): it gets no weight, as in the end-to-end heads, which never see it
        has = (answers.answers_per_task() > 0).astype(np.float32)
        self.targets = torch.as_tensor(targets * has[:, None], device=self.targets.device)

    def nll(self, logits: Tensor, batch: Batch) -> Tensor:
        target = self.targets[batch.tasks]
        weight = target.sum(dim=1)  # 1 for tasks with answers, 0 for tasks without
        loss = -(target * F.log_softmax(logits.float(), dim=-1)).sum(dim=1)
        return loss.sum() / weight.sum().clamp_min(1.0)

    def confusions(self) -> Tensor | None:
        conf = getattr(self.aggregator_, "confusions_", None)
        if conf is None:
            return None
        return torch.as_tensor(np.asarray(conf), dtype=torch.float32)

    def extra_repr(self) -> str:
        source = f"labels={self.labels!r}" if isinstance(self.labels, str) else \
            f"aggregator={self.aggregator!r}"
        return f"{super().extra_repr()}, {source}, soft={self.soft}"


def given_targets(labels: Any, n_tasks: int, n_classes: int) -> np.ndarray:
    """(tasks x classes) float32 training targets from a labels file or array: hard labels
    (``-1`` for none) one-hot, soft labels row-normalised; rows without a label are zero."""
    from ...errors import DataError

    source = str(labels) if isinstance(labels, str) else None
    if source is not None:
        try:
            arr = np.load(source, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read labels: {exc}", source=source) from exc
    else:
        arr = np.asarray(labels)
    if arr.ndim == 1:
        if arr.shape[0] != n_tasks:
            raise DataError(f"{arr.shape[0]} labels for {n_tasks} tasks", source=source,
                            field="labels")
        if arr.dtype.kind == "f":
            if np.any(np.isfinite(arr) & (arr != np.round(arr))):
                raise DataError("hard labels must be class indices", source=source,
                                field="labels")
            arr = np.where(np.isfinite(arr), arr, -1)
        if arr.dtype.kind not in "iuf":
            raise DataError(f"labels must be numbers, got {arr.dtype}", source=source,
                            field="labels")
        hard = arr.astype(np.int64)
        if np.any((hard < -1) | (hard >= n_classes)):
            bad = int(hard[(hard < -1) | (hard >= n_classes)][0])
            raise DataError(f"label {bad} outside -1..{n_classes - 1}", source=source,
                            field="labels")
        out = np.zeros((n_tasks, n_classes), dtype=np.float32)
        known = hard >= 0
        out[np.flatnonzero(known), hard[known]] = 1.0
        return out
    if arr.ndim != 2 or arr.shape != (n_tasks, n_classes) or arr.dtype.kind not in "iuf":
        raise DataError(f"labels of shape {arr.shape}: expected ({n_tasks},) hard or "
                        f"({n_tasks}, {n_classes}) soft labels", source=source, field="labels")
    soft = np.nan_to_num(arr.astype(np.float64), nan=0.0)
    if np.any(soft < 0):
        raise DataError("soft labels must not be negative", source=source, field="labels")
    total = soft.sum(axis=1, keepdims=True)
    out = np.divide(soft, total, out=np.zeros_like(soft), where=total > 0)
    return out.astype(np.float32)
