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
    }

    def __init__(self, n_classes: int, n_workers: int, aggregator: str = "mv",
                 soft: bool = True, aggregator_params: dict[str, Any] | None = None,
                 seed: int | None = 0) -> None:
        super().__init__(n_classes, n_workers)
        self.aggregator = aggregator
        self.soft = bool(soft)
        self.aggregator_params = dict(aggregator_params or {})
        from ...aggregate import make_strategy

        make_strategy(aggregator, **self.aggregator_params)  # its parameters, checked now
        self.seed = seed
        self.aggregator_: Any = None
        self.register_buffer("targets", torch.zeros(0, self.n_classes))

    def setup(self, answers: Answers, train_tasks: np.ndarray) -> None:
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
        return f"{super().extra_repr()}, aggregator={self.aggregator!r}, soft={self.soft}"
