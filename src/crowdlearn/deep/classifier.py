"""``CrowdClassifier``: a scikit-learn-style estimator that learns a classifier from crowd answers.

>>> from crowdlearn.deep import CrowdClassifier                     # doctest: +SKIP
>>> clf = CrowdClassifier("mlp", strategy="geocrowdnet-w", n_epochs=200).fit(X, answers)
>>> clf.predict(X_test), clf.confusions_.shape                      # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .. import deep_defaults as D
from ..answers import Answers
from ..errors import CrowdlearnError, NotFittedError
from ..params import POSITIVE, Bool, Choice, Custom, Float, Int, Param, Seed, check_params, specs_of

__all__ = ["ONE_THREAD_MAX_PARAMS", "CrowdClassifier", "split_tasks"]

#: ``threads="auto"`` trains models with fewer parameters than this on one CPU thread
ONE_THREAD_MAX_PARAMS = 1_000_000


def _is_module(value: Any) -> bool:
    return isinstance(value, str) or (callable(value) and hasattr(value, "parameters"))


def _is_epochs(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(Int(1).accepts(v) for v in value)


def split_tasks(n_tasks: int, val_fraction: float, seed: int | None) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """Seeded random (train, validation) split of task indices; both sorted."""
    if not 0.0 <= val_fraction < 1.0:
        raise CrowdlearnError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = int(round(val_fraction * n_tasks))
    if n_val and n_tasks - n_val < 1:
        n_val = n_tasks - 1
    perm = np.random.default_rng(seed).permutation(n_tasks)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


class CrowdClassifier:
    """Train a neural classifier end to end from crowd answers (or on aggregated labels).

    One estimator for every end-to-end strategy of :mod:`crowdlearn.deep.heads` — the crowd layer
    (Rodrigues & Pereira, AAAI 2018), CoNAL (Chu, Ma & Wang, AAAI 2021), CCEM, GeoCrowdNet(F)
    and GeoCrowdNet(W) (Ibrahim, Nguyen & Fu, ICLR 2023), TraceReg (Tanno et al., CVPR 2019),
    Raykar's joint likelihood (Raykar et al., JMLR 2010) — and for two-stage training on labels
    aggregated by any :mod:`crowdlearn.aggregate` strategy.

    Parameters
    ----------
    backbone:
        A name of :func:`crowdlearn.deep.backbones.make_backbone` (``"mlp"``, ``"lenet"``,
        ``"resnet9"``, ``"resnet18"``, ``"resnet34"``, ``"torchvision.models.NAME"``) or an
        ``nn.Module`` that maps items to class logits.
    strategy:
        End-to-end strategy name, optionally with bracket parameters
        (``"crowdlayer[conn_type=VW]"``, ``"two-stage[aggregator=ds]"``).
    backbone_params, strategy_params:
        Extra constructor parameters of the backbone and of the strategy's head.
    lam:
        Regularisation weight of ``geocrowdnet-f``, ``geocrowdnet-w`` and ``tracereg`` (their
        default when ``None``).
    pretrained:
        Load pretrained weights (torchvision backbones only).
    n_epochs, batch_size, optimizer, lr, momentum, weight_decay, head_lr, head_weight_decay,
    schedule, milestones, gamma, grad_clip, amp:
        Optimisation, see :class:`crowdlearn.deep.train.TrainConfig`. ``head_lr`` (the crowd
        head's learning rate) ``None``: the strategy's default, ``lr`` times its head's
        ``head_lr_factor`` (10 for the confusion heads ``ccem``, ``geocrowdnet-f``,
        ``geocrowdnet-w``, ``tracereg`` and ``raykar``, whose confusions otherwise barely leave
        their near-identity start; 1 for the others). The defaults of this signature are
        :mod:`crowdlearn.deep_defaults`, which ``crowdlearn fit`` shares.
    val_fraction:
        Share of the tasks (and all their answers) held out for model selection.
    selection:
        ``"auto"`` (validation loss when there is a validation split, else the last epoch),
        ``"val_loss"``, ``"val_accuracy"`` (uses the truth of the validation tasks: only when you
        ask for it) or ``"last"``.
    patience:
        Stop training once the selection score has not improved for this many epochs (early
        stopping; the best epoch's weights are kept as always). ``None``: train ``n_epochs``.
    standardize:
        Standardise feature vectors with the training items' mean and standard deviation
        (``"auto"``: for 2-d float inputs).
    transform:
        Batched device transformation ``transform(x, train) -> x`` (augmentation); items are
        cast to float32 otherwise.
    device:
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"gpu"``/``"cuda"``.
    seed:
        Seeds the weights, the validation split and the batch order: CPU runs are repeatable.
    threads:
        CPU threads of torch during ``fit`` (restored afterwards). ``"auto"`` (default): one
        thread for a model of fewer than :data:`ONE_THREAD_MAX_PARAMS` parameters on the CPU
        (small models gain nothing from more threads, lose much on a busy machine, and one
        thread gives bit-identical runs), torch's setting otherwise (large models, CUDA);
        ``None``: torch's setting; an integer: that many.
    verbose:
        Show a progress bar with the loss and accuracies.

    Attributes
    ----------
    model_ : CrowdModel
        The trained backbone + head (weights of the selected epoch).
    confusions_ : ndarray or None
        (workers x classes x classes) estimated annotator confusions, rows = true class.
    history_ : dict
        Per-epoch ``train_loss``, ``val_loss``, ``val_accuracy``, ``test_accuracy`` and ``lr``.
    head_lr_ : float
        The crowd head's learning rate used (``head_lr``, or the strategy's default).
    best_epoch_, stopped_epoch_ : int
        The selected epoch and the last epoch trained (before ``n_epochs`` with ``patience``).
    probas_, labels_ :
        The classifier's posterior and hard label for every training task (task order).
    threads_ : int
        The number of CPU threads torch used during ``fit``.
    classes_, n_classes_, n_workers_, input_shape_, answers_, train_tasks_, val_tasks_,
    device_, fit_seconds_.
    """

    param_specs: dict[str, Param] = {
        "backbone": Custom("a backbone name or a torch.nn.Module", _is_module, bad=(3,)),
        "strategy": Custom("an end-to-end strategy name", lambda v: isinstance(v, str),
                           bad=(3,)),
        "backbone_params": Custom("a dict", lambda v: isinstance(v, dict), bad=("x",), none=True),
        "strategy_params": Custom("a dict", lambda v: isinstance(v, dict), bad=("x",), none=True),
        "lam": Float(0, none=True), "pretrained": Bool(), "n_epochs": Int(1),
        "batch_size": Int(1), "optimizer": Choice("sgd", "adam", "adamw"), "lr": POSITIVE,
        "momentum": Float(0), "weight_decay": Float(0),
        "head_lr": Float(0, low_open=True, none=True), "head_weight_decay": Float(0),
        "schedule": Choice("none", "multistep", "cosine", "onecycle"),
        "milestones": Custom("a list of epochs (integers >= 1)", _is_epochs, bad=(3, [0])),
        "gamma": POSITIVE, "grad_clip": Float(0, low_open=True, none=True), "amp": Bool(),
        "val_fraction": Float(0, 1, high_open=True),
        "selection": Choice("auto", "val_loss", "val_accuracy", "last"),
        "patience": Int(1, none=True), "standardize": Param("bool", choices=("auto",)),
        "transform": Custom("a callable", callable, bad=("abc",), none=True),
        "device": Custom("a device name (auto, cpu, gpu, cuda:N) or a torch.device",
                         lambda v: isinstance(v, str) or type(v).__name__ == "device", bad=(3,)),
        "seed": Seed(objects=False), "verbose": Bool(),
        "threads": Int(1, none=True, also=("auto",)),
    }

    def __init__(
        self,
        backbone: Any = D.BACKBONE,
        strategy: str = D.STRATEGY,
        *,
        backbone_params: dict[str, Any] | None = None,
        strategy_params: dict[str, Any] | None = None,
        lam: float | None = None,
        pretrained: bool = False,
        n_epochs: int = D.N_EPOCHS,
        batch_size: int = D.BATCH_SIZE,
        optimizer: str = D.OPTIMIZER,
        lr: float = D.LR,
        momentum: float = D.MOMENTUM,
        weight_decay: float = D.WEIGHT_DECAY,
        head_lr: float | None = None,
        head_weight_decay: float = 0.0,
        schedule: str = D.SCHEDULE,
        milestones: tuple[int, ...] = (),
        gamma: float = D.GAMMA,
        grad_clip: float | None = None,
        amp: bool = True,
        val_fraction: float = D.VAL_FRACTION,
        selection: str = D.SELECTION,
        patience: int | None = None,
        standardize: bool | str = "auto",
        transform: Any = None,
        device: Any = "auto",
        seed: int | None = D.SEED,
        verbose: bool = False,
        threads: int | str | None = "auto",
    ) -> None:
        self.backbone = backbone
        self.strategy = strategy
        self.backbone_params = backbone_params
        self.strategy_params = strategy_params
        self.lam = lam
        self.pretrained = pretrained
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.head_lr = head_lr
        self.head_weight_decay = head_weight_decay
        self.schedule = schedule
        self.milestones = milestones
        self.gamma = gamma
        self.grad_clip = grad_clip
        self.amp = amp
        self.val_fraction = val_fraction
        self.selection = selection
        self.patience = patience
        self.standardize = standardize
        self.transform = transform
        self.device = device
        self.seed = seed
        self.verbose = verbose
        self.threads = threads

    # ------------------------------------------------------------------ sklearn params
    _PARAMS = ("backbone", "strategy", "backbone_params", "strategy_params", "lam",
               "pretrained", "n_epochs", "batch_size", "optimizer", "lr", "momentum",
               "weight_decay", "head_lr", "head_weight_decay", "schedule", "milestones", "gamma",
               "grad_clip", "amp", "val_fraction", "selection", "patience", "standardize",
               "transform", "device", "seed", "verbose", "threads")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._PARAMS}

    def set_params(self, **params: Any) -> CrowdClassifier:
        for k, v in params.items():
            if k not in self._PARAMS:
                raise ValueError(f"CrowdClassifier has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        return f"CrowdClassifier(backbone={self.backbone!r}, strategy={self.strategy!r})"

    # ------------------------------------------------------------------ helpers
    def _train_config(self, selection: str, head_lr: float | None = None):
        from .train import TrainConfig

        return TrainConfig(
            n_epochs=self.n_epochs, batch_size=self.batch_size, optimizer=self.optimizer,
            lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay,
            head_lr=self.head_lr if head_lr is None else head_lr,
            head_weight_decay=self.head_weight_decay,
            schedule=self.schedule, milestones=tuple(self.milestones or ()), gamma=self.gamma,
            amp=self.amp, grad_clip=self.grad_clip, selection=selection,
            patience=self.patience, verbose=self.verbose)

    def _head_spec(self) -> tuple[str, dict[str, Any]]:
        from ..aggregate.base import parse_strategy_spec

        name, params = parse_strategy_spec(self.strategy)
        params.update(self.strategy_params or {})
        if self.lam is not None:
            params["lam"] = self.lam
        return name, params

    def _prepare_x(self, X: Any, task_ids: np.ndarray | None = None) -> np.ndarray:
        """Items as an array in task order (aligning a DataFrame or Features by task id)."""
        if hasattr(X, "align") and hasattr(X, "X"):  # crowdlearn.io.features.Features
            X = X.align(task_ids).X if task_ids is not None else X.X
        elif hasattr(X, "loc") and hasattr(X, "index") and task_ids is not None:
            missing = ~np.isin(task_ids, X.index.to_numpy())
            if missing.any():
                raise CrowdlearnError(
                    f"X has no row for {int(missing.sum())} task(s), e.g. "
                    f"{', '.join(map(str, task_ids[missing][:3]))}")
            X = X.loc[task_ids].to_numpy()
        elif hasattr(X, "to_numpy"):
            X = X.to_numpy()
        import torch

        return X if isinstance(X, torch.Tensor) else np.asarray(X)

    def _standardize(self, x: Any) -> Any:
        if getattr(self, "mean_", None) is None:
            return x
        return ((np.asarray(x, dtype=np.float32) - self.mean_) / self.scale_).astype(np.float32)

    def _encode_y(self, y: Any, what: str = "y") -> np.ndarray:
        from ..labels import encode_labels

        # true labels are matched to the classes by name (an integer names the class that
        # spells it), never taken as positions: ``[0, 1]`` against classes ``cat, dog`` is an
        # error, not a silent ``cat, dog`` (give ``classes_[indices]`` for positions)
        codes, _ = encode_labels(np.asarray(y), classes=self.classes_, field=what)
        return codes.astype(np.int64)

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, answers: Any, *, X_test: Any = None, y_test: Any = None,
            checkpoint_dir: Any = None) -> CrowdClassifier:
        """Train on items ``X`` and their crowd ``answers``.

        Parameters
        ----------
        X:
            Items in the answers' task order (array or tensor, one row per task), a DataFrame
            indexed by task id, or :class:`~crowdlearn.io.features.Features`.
        answers:
            :class:`~crowdlearn.answers.Answers`, a task/worker/label DataFrame, or a path any
            :func:`crowdlearn.io.read` accepts.
        X_test, y_test:
            Optional test items and their true labels: test accuracy per epoch in ``history_``
            (never used for model selection).
        checkpoint_dir:
            Folder for ``last.pth`` (every epoch) and ``best.pth``.
        """
        import torch

        from .backbones import make_backbone
        from .data import CrowdData, resolve_device
        from .heads import make_head
        from .train import CrowdModel, seed_everything, train

        check_params("CrowdClassifier", specs_of(type(self)), self.get_params())
        start = time.perf_counter()
        from ..kinds import refuse_kind

        refuse_kind(str(self.strategy), "classification", answers)  # CrowdRegressor: real values
        if not isinstance(answers, Answers):
            from ..io import read

            answers = read(answers, duplicates="all") if hasattr(answers, "columns") \
                else read(answers)
        if answers.n_answers == 0:
            raise CrowdlearnError("no answers to learn from")
        self.answers_ = answers
        self.classes_ = np.asarray(answers.classes)
        self.n_classes_ = answers.n_classes
        self.n_workers_ = answers.n_workers
        self.worker_ids_ = np.asarray(answers.worker_ids)
        x = self._prepare_x(X, np.asarray(answers.task_ids))
        if x.shape[0] != answers.n_tasks:
            raise CrowdlearnError(
                f"X has {x.shape[0]} rows for {answers.n_tasks} tasks: give one item per task in "
                "the answers' task order (or a DataFrame indexed by task id)")
        std = self.standardize
        if std == "auto":
            std = isinstance(x, np.ndarray) and x.ndim == 2 and x.dtype.kind == "f"
        self.mean_ = self.scale_ = None
        if std:
            xf = np.asarray(x, dtype=np.float64)
            if not np.isfinite(xf).all():
                raise CrowdlearnError("X contains NaN or infinite values")
            self.mean_ = xf.mean(axis=0).astype(np.float32)
            sd = xf.std(axis=0)
            self.scale_ = np.where(sd > 0, sd, 1.0).astype(np.float32)
            x = self._standardize(x)

        dev = resolve_device(self.device)
        self.device_ = dev
        self.train_tasks_, self.val_tasks_ = split_tasks(answers.n_tasks, self.val_fraction,
                                                         self.seed)
        selection = self.selection
        if selection == "auto":
            selection = "val_loss" if len(self.val_tasks_) else "last"

        seed_everything(self.seed)
        input_shape = tuple(int(d) for d in x.shape[1:])
        self.input_shape_ = input_shape
        if isinstance(self.backbone, str):
            backbone = make_backbone(self.backbone, input_shape, self.n_classes_,
                                     pretrained=self.pretrained, **(self.backbone_params or {}))
        elif isinstance(self.backbone, torch.nn.Module):
            import copy

            backbone = copy.deepcopy(self.backbone)
        else:
            raise CrowdlearnError(
                f"backbone must be a name or a torch.nn.Module, got {type(self.backbone)}")
        name, params = self._head_spec()
        if name.lower().replace("_", "-") in ("two-stage", "twostage", "aggregated"):
            params.setdefault("seed", self.seed)
        head = make_head(name, n_classes=self.n_classes_, n_workers=self.n_workers_,
                         input_shape=input_shape,
                         embedding_dim=int(getattr(backbone, "embedding_dim", 0)), **params)
        model = CrowdModel(backbone, head).to(dev)
        data = CrowdData(x, answers, dev, transform=self.transform)

        test = None
        if X_test is not None:
            if y_test is None:
                raise CrowdlearnError("X_test given without y_test")
            xt = self._standardize(self._prepare_x(X_test))
            test = (xt, self._encode_y(y_test, "y_test"))
        truth = answers.truth if answers.truth is not None else None
        # head_lr=None: the strategy's default, lr times its head's head_lr_factor
        self.head_lr_ = float(self.lr * head.head_lr_factor if self.head_lr is None
                              else self.head_lr)
        saved_threads = torch.get_num_threads()
        torch.set_num_threads(self._threads(model, dev, saved_threads))
        self.threads_ = torch.get_num_threads()
        try:
            result = train(model, data, answers, self.train_tasks_, self.val_tasks_,
                           self._train_config(selection, self.head_lr_), truth=truth, test=test,
                           seed=self.seed, checkpoint_dir=checkpoint_dir)
        finally:
            torch.set_num_threads(saved_threads)
        self.model_ = model
        self.backbone_ = model.backbone
        self.head_ = model.head
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.stopped_epoch_ = result.stopped_epoch
        self.best_score_ = result.best_score
        self.selection_ = selection
        self.train_result_ = result
        conf = model.head.confusions()
        self.confusions_ = None if conf is None else conf.detach().float().cpu().numpy()
        self.probas_ = self._predict_proba_prepared(data.x)
        self.labels_ = self.probas_.argmax(axis=1)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _threads(self, model: Any, device: Any, current: int) -> int:
        """The thread count ``threads`` asks for (see the class docstring)."""
        if self.threads == "auto":
            small = sum(p.numel() for p in model.parameters()) < ONE_THREAD_MAX_PARAMS
            return 1 if small and getattr(device, "type", str(device)) == "cpu" else current
        return current if self.threads is None else int(self.threads)

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this CrowdClassifier is not fitted yet; call fit first")

    def _predict_proba_prepared(self, x: Any) -> np.ndarray:
        import torch

        from .train import predict_logits

        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.ascontiguousarray(x))
        logits = predict_logits(self.model_.backbone, x, transform=self.transform,
                                device=self.device_)
        return torch.softmax(logits, dim=1).cpu().numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of items ``X`` (items x classes)."""
        self._check_fitted()
        return self._predict_proba_prepared(self._standardize(self._prepare_x(X)))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class of each item, in the answers' label space (``classes_``)."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy of :meth:`predict` against the true labels ``y``."""
        codes = self._encode_y(y)
        pred = self.predict_proba(X).argmax(axis=1)
        return float(np.mean(pred == codes)) if len(codes) else math.nan
