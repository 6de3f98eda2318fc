"""``CrowdRegressor``: a neural regressor trained from real-valued crowd answers (sklearn-like).

>>> from crowdlearn.deep import CrowdRegressor                      # doctest: +SKIP
>>> reg = CrowdRegressor("crowdlayer-sb", hidden=(128,)).fit(X, answers)
>>> reg.predict(X_test)                                              # one value per item

Strategies (:data:`~crowdlearn.deep.heads.regression.REGRESSION_HEADS`): the regression crowd
layer of Rodrigues & Pereira (AAAI 2018) with ``B``, ``S``, ``S+B`` or ``B+S`` connections
(``crowdlayer-b``, ``crowdlayer-s``, ``crowdlayer-sb``, ``crowdlayer-bs``), and two-stage training
on aggregated estimates (``twostage-mean``, ``twostage-median``, ``twostage-raykar``,
``twostage-bias-scale``). The network is a multilayer perceptron (``hidden`` sizes, ReLU,
dropout) with one output, trained by the one training loop (:func:`crowdlearn.deep.train.train`)
with Adam. Model selection keeps the epoch with the lowest validation loss, computed on a
held-out fraction of the training tasks against their *crowd answers* (crowd layer) or their
aggregated estimates (two-stage), never against true values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CrowdlearnError, NotFittedError
from ..kinds import refuse_kind
from ..params import Choice, Custom, Float, Int, Seed, check_params, specs_of

__all__ = ["CrowdRegressor"]


def _sizes(v: Any) -> bool:
    return isinstance(v, (tuple, list)) and all(isinstance(h, int) and h > 0 for h in v)


class CrowdRegressor:
    """Neural regression from real-valued crowd answers (Rodrigues & Pereira, AAAI 2018).

    Parameters
    ----------
    strategy:
        A key of :data:`~crowdlearn.deep.heads.regression.REGRESSION_HEADS`.
    hidden:
        Hidden layer sizes of the MLP.
    dropout:
        Dropout after each hidden layer.
    n_epochs, batch_size, lr, weight_decay:
        Adam settings (weight decay on the network; the crowd layer has none).
    head_lr:
        Learning rate of the crowd layer's biases and scales (``None``: ``lr``).
    val_fraction:
        Fraction of the training tasks held out for model selection (crowd answers only).
    seed:
        Seed of the initial weights, the split and the batch order.
    device:
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """

    param_specs = {
        "strategy": Custom("a regression strategy name", lambda v: isinstance(v, str)
                           and v.lower() in _heads(), bad=("mw", 3)),
        "hidden": Custom("a tuple of positive layer sizes", _sizes, bad=((0,), "x")),
        "dropout": Float(0, 1, high_open=True),
        "n_epochs": Int(1), "batch_size": Int(1), "lr": Float(0, low_open=True),
        "weight_decay": Float(0), "head_lr": Float(0, low_open=True, none=True),
        "val_fraction": Float(0, 1, high_open=True), "seed": Seed(objects=False),
        "device": Choice("auto", "cpu", "cuda"),
    }

    def __init__(self, strategy: str = "crowdlayer-sb", hidden: tuple[int, ...] = (128,),
                 dropout: float = 0.2, n_epochs: int = 60, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 1e-4, head_lr: float | None = None,
                 val_fraction: float = 0.2, seed: int | None = 0, device: str = "auto"
                 ) -> None:
        self.strategy = strategy
        self.hidden = hidden
        self.dropout = dropout
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.head_lr = head_lr
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.param_specs}

    def set_params(self, **params: Any) -> CrowdRegressor:
        for k, v in params.items():
            if k not in self.param_specs:
                raise ValueError(f"CrowdRegressor has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def fit(self, X: Any, answers: Any) -> CrowdRegressor:
        """Train on items ``X`` (one row per task, in task order) and their crowd answers."""
        from torch import nn

        from .classifier import split_tasks
        from .data import CrowdData
        from .heads.regression import make_regression_head
        from .train import CrowdModel, TrainConfig, seed_everything, train

        check_params("CrowdRegressor", specs_of(type(self)), self.get_params())
        refuse_kind(self.strategy, "regression", answers)
        x = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != answers.n_tasks:
            raise CrowdlearnError(f"X must have one row per task ({answers.n_tasks}), got shape "
                                  f"{x.shape}")
        seed_everything(self.seed)
        layers: list[nn.Module] = []
        width = x.shape[1]
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(self.dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        backbone = nn.Sequential(*layers)
        head = make_regression_head(self.strategy, answers.n_workers)
        data = CrowdData(x, answers, device=self.device)
        model = CrowdModel(backbone, head).to(data.device)
        train_idx, val_idx = split_tasks(answers.n_tasks, self.val_fraction, self.seed)
        has = answers.answers_per_task() > 0
        train_idx = train_idx[has[train_idx]]
        val_idx = val_idx[has[val_idx]]
        cfg = TrainConfig(n_epochs=self.n_epochs, batch_size=self.batch_size, optimizer="adam",
                          lr=self.lr, weight_decay=self.weight_decay, head_lr=self.head_lr,
                          schedule="none", amp=False,
                          selection="val_loss" if len(val_idx) else "last", verbose=False)
        self.result_ = train(model, data, answers, train_idx, val_idx, cfg, seed=self.seed)
        self.model_ = model
        self.head_ = head
        self.n_features_in_ = x.shape[1]
        if hasattr(head, "worker_parameters"):
            wp = head.worker_parameters()
            self.scale_, self.bias_ = wp["scale"], wp["bias"]
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The network's estimate of the true value of each item."""
        if not hasattr(self, "model_"):
            raise NotFittedError("CrowdRegressor is not fitted yet; call fit first")
        import torch

        from .train import predict_logits

        x = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32)
        out = predict_logits(self.model_.backbone, torch.from_numpy(x))
        return out[:, 0].cpu().numpy().astype(np.float64)


def _heads() -> tuple[str, ...]:
    from .heads.regression import REGRESSION_HEADS

    return tuple(REGRESSION_HEADS)
