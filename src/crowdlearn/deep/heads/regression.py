"""Crowd heads for regression: the regression crowd layer and two-stage training.

The backbone outputs one number per item (its estimate of the true value, shape (B, 1)). The
heads define the loss; the one training loop (:func:`crowdlearn.deep.train.train`) is unchanged.

:class:`RegressionCrowdLayer` (Rodrigues & Pereira, "Deep learning from crowds", AAAI 2018,
regression; the ``B``, ``S``, ``S+B`` and ``B+S`` connections of their CrowdLayer code) maps the
output ``f`` to annotator ``w``'s answer:

=====  ==========================  ====================================
type   annotator output            assumption
=====  ==========================  ====================================
B      ``f + b_w``                 each annotator has a bias
S      ``s_w f``                   each annotator has a scale
S+B    ``s_w f + b_w``             scale, then bias
B+S    ``s_w (f + b_w)``           bias, then scale
=====  ==========================  ====================================

(``s_w`` starts at 1, ``b_w`` at 0; the answer-weighted mean scale is held at 1 and the
mean bias at 0, a differentiable anchor: without it a shift of ``f`` is absorbed by the
biases.) The loss is the mean squared error over the *observed*
answers of the batch only (the missing ones never enter: answers are gathered, not masked out of
a dense matrix). After training, ``f`` estimates the truth in the units of the typical
annotator (biases and scales are identified only relative to the crowd, as in aggregation).

:class:`RegressionTwoStage` first aggregates the answers (``mean``, ``median``,
``raykar-regression`` or ``bias-scale``; every task aggregated from its own answers), then
regresses the backbone on those estimates (MSE); validation uses the validation tasks'
estimates.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from ...params import Choice, Param
from ..data import Batch
from .base import CrowdHead

__all__ = ["REGRESSION_HEADS", "RegressionCrowdLayer", "RegressionTwoStage",
           "make_regression_head"]

CONNECTIONS = ("B", "S", "S+B", "B+S")


class RegressionCrowdLayer(CrowdHead):
    """Regression crowd layer (Rodrigues & Pereira, AAAI 2018): per-annotator bias and/or scale
    on the network's output, masked MSE over observed answers. See the module docstring."""

    param_specs: ClassVar[dict[str, Param]] = {"conn_type": Choice(*CONNECTIONS)}

    def __init__(self, n_workers: int, conn_type: str = "S+B") -> None:
        super().__init__(1, n_workers)
        conn = str(conn_type).upper()
        self.conn_type = conn
        self.name = "crowdlayer-" + conn.replace("+", "").lower()
        self.scale = torch.nn.Parameter(torch.ones(n_workers)) if "S" in conn else None
        self.bias = torch.nn.Parameter(torch.zeros(n_workers)) if "B" in conn else None
        self.register_buffer("share", torch.full((n_workers,), 1.0 / max(n_workers, 1)))

    def setup(self, answers: Any, train_tasks: np.ndarray) -> None:
        """Each annotator's share of the training answers (the identifiability anchor)."""
        keep = np.isin(answers.task, np.asarray(train_tasks))
        n = np.bincount(answers.worker[keep], minlength=self.n_workers).astype(np.float64)
        self.share = torch.tensor(n / max(n.sum(), 1.0), dtype=torch.float32,
                                  device=self.share.device)

    def effective(self) -> tuple[Tensor | None, Tensor | None]:
        """(scale, bias) per annotator after the anchor: answer-weighted mean scale 1 and mean
        bias 0 (``f`` -> ``c f + d`` with compensating annotator parameters leaves every
        annotator output unchanged, so the crowd's average annotator fixes the units)."""
        s = b = None
        if self.scale is not None:
            s = self.scale / (self.share * self.scale).sum().clamp_min(1e-3)
        if self.bias is not None:
            b = self.bias - (self.share * self.bias).sum()
        return s, b

    def annotator_outputs(self, out: Tensor, batch: Batch) -> Tensor:
        """Each answer's predicted value (A,) from the network outputs ``out`` (B, 1)."""
        f = out.float().reshape(out.shape[0], -1)[:, 0][batch.rows]
        w = batch.workers
        s, b = self.effective()
        if self.conn_type == "B":
            return f + b[w]
        if self.conn_type == "S":
            return s[w] * f
        if self.conn_type == "S+B":
            return s[w] * f + b[w]
        return s[w] * (f + b[w])

    def nll(self, logits: Tensor, batch: Batch) -> Tensor:
        """Mean squared error over the batch's observed answers."""
        if batch.n_answers == 0:
            return logits.sum() * 0.0
        return torch.mean((self.annotator_outputs(logits, batch) - batch.labels.float()) ** 2)

    def worker_parameters(self) -> dict[str, np.ndarray]:
        """Learned ``scale`` and ``bias`` per annotator (1 and 0 where not in the connection)."""
        n = self.n_workers
        st, bt = self.effective()
        s = st.detach().cpu().numpy() if st is not None else np.ones(n)
        b = bt.detach().cpu().numpy() if bt is not None else np.zeros(n)
        return {"scale": s.astype(np.float64), "bias": b.astype(np.float64)}

    def extra_repr(self) -> str:
        return f"n_workers={self.n_workers}, conn_type={self.conn_type!r}"


class RegressionTwoStage(CrowdHead):
    """Two-stage regression: aggregate the answers, then regress on the estimates (MSE)."""

    uses_answers: ClassVar[bool] = False
    param_specs: ClassVar[dict[str, Param]] = {
        "aggregator": Choice("mean", "median", "raykar-regression", "bias-scale")}

    def __init__(self, n_workers: int, aggregator: str = "mean") -> None:
        super().__init__(1, n_workers)
        self.aggregator = str(aggregator).lower()
        self.name = "twostage-" + self.aggregator
        self.register_buffer("targets", torch.zeros(0))

    def setup(self, answers: Any, train_tasks: np.ndarray) -> None:
        """Aggregate every task's answers (an answer never crosses tasks, so validation
        tasks' estimates use only their own answers)."""
        from ...aggregate.regression import make_regression_strategy

        est = make_regression_strategy(self.aggregator).fit(answers)
        self.targets = torch.tensor(np.nan_to_num(est.result_arrays()["estimates"]),
                                    dtype=torch.float32, device=self.targets.device)

    def nll(self, logits: Tensor, batch: Batch) -> Tensor:
        f = logits.float().reshape(logits.shape[0], -1)[:, 0]
        return torch.mean((f - self.targets[batch.tasks]) ** 2)


#: regression strategy name -> (head class, fixed parameters)
REGRESSION_HEADS: dict[str, tuple[type[CrowdHead], dict[str, Any]]] = {
    "crowdlayer-b": (RegressionCrowdLayer, {"conn_type": "B"}),
    "crowdlayer-s": (RegressionCrowdLayer, {"conn_type": "S"}),
    "crowdlayer-sb": (RegressionCrowdLayer, {"conn_type": "S+B"}),
    "crowdlayer-bs": (RegressionCrowdLayer, {"conn_type": "B+S"}),
    "twostage-mean": (RegressionTwoStage, {"aggregator": "mean"}),
    "twostage-median": (RegressionTwoStage, {"aggregator": "median"}),
    "twostage-raykar": (RegressionTwoStage, {"aggregator": "raykar-regression"}),
    "twostage-bias-scale": (RegressionTwoStage, {"aggregator": "bias-scale"}),
}


def make_regression_head(name: str, n_workers: int) -> CrowdHead:
    """The regression head registered as ``name`` (:data:`REGRESSION_HEADS`)."""
    from ...errors import CrowdlearnError

    key = name.lower()
    if key not in REGRESSION_HEADS:
        raise CrowdlearnError(f"unknown regression strategy {name!r}; choose from "
                              f"{', '.join(REGRESSION_HEADS)}")
    cls, params = REGRESSION_HEADS[key]
    return cls(n_workers, **params)
