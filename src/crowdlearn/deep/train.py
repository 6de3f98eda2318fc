"""The one training loop of every end-to-end strategy.

``train`` fits a :class:`CrowdModel` (a backbone that outputs class logits, plus a crowd head
that turns them into annotator answer distributions) on :class:`~crowdlearn.deep.data.CrowdData`:

* data stay on the training device; an epoch is a seeded permutation of the training task
  indices cut into batches, each batch gathering its tasks' answers by tensor indexing (the data
  object makes the batches: :class:`~crowdlearn.deep.sequence.SequenceCrowdData` batches whole
  sentences of token tasks, and ``batch_size`` counts its ``n_units``);
* SGD (momentum, Nesterov) / Adam / AdamW, weight decay on the backbone (the head has its own
  learning rate and weight decay), multistep / cosine / one-cycle schedules, gradient clipping;
* automatic mixed precision on CUDA (fp16 autocast + gradient scaling; heads compute in fp32);
* after every epoch: validation loss (the head's data term on the validation tasks' answers), and
  when the truth is known and asked for, validation accuracy; test accuracy when a test set is
  given (reported only, never used for selection);
* under ``torchrun`` (or ``crowdlearn fit --devices N``), data-parallel training on every process
  of the launch (:mod:`crowdlearn.deep.distributed`: DistributedDataParallel, every rank a share of
  each global batch, the same validation and selection everywhere, only rank 0 writes);
* model selection keeps the weights of the best epoch (``selection``); with ``patience``, training
  stops early once the selection score has not improved for that many epochs; optional
  checkpoints (``last.pth`` every epoch, ``best.pth``), a progress bar with the loss and accuracies.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .. import deep_defaults as D
from ..answers import Answers
from ..errors import CrowdlearnError
from .data import CrowdData
from .heads.base import CrowdHead

__all__ = ["CrowdModel", "TrainConfig", "TrainResult", "predict_logits", "seed_everything",
           "train"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "multistep", "cosine", "onecycle")
SELECTIONS = ("val_loss", "val_accuracy", "last")


class CrowdModel(nn.Module):
    """A classifier (``backbone``: items -> class logits) with a crowd ``head`` on top.

    ``forward(x)`` returns the classifier's logits; the head is used only by the loss.
    """

    def __init__(self, backbone: nn.Module, head: CrowdHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        return self.backbone(x)


@dataclass
class TrainConfig:
    """Optimisation settings of :func:`train` (see the module docstring).

    Defaults from :mod:`crowdlearn.deep_defaults`. ``head_lr=None`` here is the classifier's
    ``lr`` (:class:`~crowdlearn.deep.CrowdClassifier` passes its strategy's default instead).
    """

    n_epochs: int = D.N_EPOCHS
    batch_size: int = D.BATCH_SIZE
    optimizer: str = D.OPTIMIZER
    lr: float = D.LR
    momentum: float = D.MOMENTUM
    nesterov: bool = False
    weight_decay: float = D.WEIGHT_DECAY
    head_lr: float | None = None
    head_weight_decay: float = 0.0
    schedule: str = D.SCHEDULE
    milestones: tuple[int, ...] = ()
    gamma: float = D.GAMMA
    amp: bool = True
    grad_clip: float | None = None
    selection: str = "val_loss"
    patience: int | None = None
    eval_batch_size: int = 1024
    verbose: bool = True

    def validate(self) -> None:
        if self.optimizer.lower() not in OPTIMIZERS:
            raise CrowdlearnError(
                f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        if self.schedule.lower() not in SCHEDULES:
            raise CrowdlearnError(
                f"unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}")
        if self.selection not in SELECTIONS:
            raise CrowdlearnError(
                f"unknown selection {self.selection!r}; choose from {', '.join(SELECTIONS)}")
        if self.n_epochs < 1 or self.batch_size < 1:
            raise CrowdlearnError("n_epochs and batch_size must be at least 1")
        if not self.lr > 0:
            raise CrowdlearnError(f"lr must be positive, got {self.lr}")
        if self.patience is not None:
            if self.patience < 1:
                raise CrowdlearnError(f"patience must be at least 1, got {self.patience}")
            if self.selection == "last":
                raise CrowdlearnError("patience needs a selection score (val_loss or "
                                      "val_accuracy), not selection 'last'")


@dataclass
class TrainResult:
    """What :func:`train` returns. ``history`` maps a metric name to one value per epoch.

    ``stopped_epoch`` is the last epoch trained (``n_epochs`` unless ``patience`` stopped
    training early).
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    stopped_epoch: int = 0
    best_score: float = math.nan
    seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int | None) -> None:
    """Seed torch's global generators (CPU and CUDA) for the initial weights; ``None``: no-op.

    The batch order has its own generator, seeded by :func:`train`'s ``seed``.
    """
    if seed is not None:
        torch.manual_seed(int(seed))


def _make_optimizer(model: CrowdModel, cfg: TrainConfig) -> torch.optim.Optimizer:
    head_lr = cfg.lr if cfg.head_lr is None else cfg.head_lr
    factors = model.head.lr_factors()  # head parameters at a multiple of the classifier's lr
    head = [(n, p) for n, p in model.head.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in model.backbone.parameters() if p.requires_grad],
         "lr": cfg.lr, "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in head if n not in factors],
         "lr": head_lr, "weight_decay": cfg.head_weight_decay},
    ] + [{"params": [p for n, p in head if n == name], "lr": cfg.lr * float(f),
          "weight_decay": cfg.head_weight_decay} for name, f in factors.items()]
    groups = [g for g in groups if g["params"]]
    name = cfg.optimizer.lower()
    if name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    return torch.optim.Adam(groups, lr=cfg.lr)


def _make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
    """The scheduler and whether it steps per batch (True) or per epoch (False)."""
    name = cfg.schedule.lower()
    if name == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(
            opt, milestones=list(cfg.milestones), gamma=cfg.gamma), False
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.n_epochs), False
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[g["lr"] for g in opt.param_groups],
            total_steps=cfg.n_epochs * steps_per_epoch), True
    return None, False


@torch.no_grad()
def predict_logits(backbone: nn.Module, x: Tensor, *, batch_size: int = 1024,
                   transform=None, device: torch.device | None = None) -> Tensor:
    """Classifier logits of items ``x`` (any device), in evaluation mode, batched."""
    was_training = backbone.training
    backbone.eval()
    dev = device or next(backbone.parameters()).device
    out = []
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size].to(dev)
        xb = transform(xb, False) if transform is not None else (
            xb if torch.is_floating_point(xb) else xb.float())
        with _autocast(dev, True):
            out.append(backbone(xb).float())
    backbone.train(was_training)
    if not out:
        return torch.zeros(0, 0, device=dev)
    return torch.cat(out)


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device_type="cuda", dtype=torch.float16,
                          enabled=enabled and device.type == "cuda")


@torch.no_grad()
def _evaluate(model: CrowdModel, data: CrowdData, tasks: Tensor, truth: Tensor | None,
              cfg: TrainConfig, amp: bool) -> tuple[float, float]:
    """(validation loss, validation accuracy or NaN) on ``tasks``."""
    model.eval()
    total, weight, correct, known = 0.0, 0, 0.0, 0
    for batch in data.batches(tasks, cfg.eval_batch_size):
        with _autocast(data.device, amp):
            logits = model(batch.x)
        logits = logits.float()
        w = batch.n_answers if model.head.uses_answers else batch.size
        if w:
            total += float(model.head.nll(logits, batch)) * w
            weight += w
        if truth is not None:
            t = truth[batch.tasks]
            mask = t >= 0
            correct += float((logits.argmax(1)[mask] == t[mask]).sum())
            known += int(mask.sum())
    model.train()
    loss = total / weight if weight else math.nan
    acc = correct / known if known else math.nan
    return loss, acc


def train(
    model: CrowdModel,
    data: CrowdData,
    answers: Answers,
    train_tasks: np.ndarray,
    val_tasks: np.ndarray | None = None,
    config: TrainConfig | None = None,
    *,
    truth: np.ndarray | None = None,
    test: tuple[Any, Any] | None = None,
    seed: int | None = 0,
    checkpoint_dir: str | Path | None = None,
    on_batch: Any = None,
) -> TrainResult:
    """Train ``model`` in place and load the weights of the selected epoch.

    Parameters
    ----------
    model:
        Backbone + crowd head, already on ``data.device``.
    data:
        Items and answers on the training device.
    answers:
        The same answers as ``data`` (the head's :meth:`~CrowdHead.setup` may aggregate them).
    train_tasks, val_tasks:
        Task indices used for training and for model selection (``val_tasks`` may be empty).
    config:
        Optimisation settings.
    truth:
        True class per task (``-1`` unknown) for the validation accuracy; used for selection
        only when ``config.selection == "val_accuracy"``.
    test:
        ``(x_test, y_test)`` evaluated after each epoch and reported in ``history`` (never
        used for selection).
    seed:
        Seed of the batch order (the caller seeds the initial weights).
    checkpoint_dir:
        When given, ``last.pth`` is written there after every epoch and ``best.pth`` at the end.
    on_batch:
        Optional ``on_batch(epoch, batch, logits)`` called at every training step with the
        classifier's logits of the batch (detached, float32, before the step's update): what
        the training-dynamics diagnostics (AUM, WAUM, :mod:`crowdlearn.identify.aum`) record.
    """
    from .distributed import LossStep, all_sum, context, scale_loss, wrap

    cfg = config or TrainConfig()
    cfg.validate()
    dev = data.device
    ctx = context(dev)
    amp = bool(cfg.amp) and dev.type == "cuda"
    gen = torch.Generator()
    gen.manual_seed(0 if seed is None else int(seed))
    train_idx = torch.as_tensor(np.asarray(train_tasks, dtype=np.int64), device=dev)
    val_idx = torch.as_tensor(np.asarray(val_tasks if val_tasks is not None else [],
                                         dtype=np.int64), device=dev)
    if train_idx.numel() == 0:
        raise CrowdlearnError("no training tasks")
    truth_t = None if truth is None else torch.tensor(np.asarray(truth), device=dev).long()
    selection = cfg.selection
    if selection == "val_loss" and val_idx.numel() == 0:
        raise CrowdlearnError("selection 'val_loss' needs validation tasks (val_fraction > 0)")
    if selection == "val_accuracy" and (truth_t is None or val_idx.numel() == 0
                                        or not bool((truth_t[val_idx] >= 0).any())):
        raise CrowdlearnError(
            "selection 'val_accuracy' needs validation tasks with a known true label")

    model.head.setup(answers, np.asarray(train_tasks))
    model.head.bind_backbone(model.backbone)
    model.to(dev)
    opt = _make_optimizer(model, cfg)
    n_train = data.n_units(train_idx)  # tasks, or sentences of sequence data
    # a last batch of one item breaks batch normalisation: drop it (it is reshuffled next epoch)
    rem = n_train % cfg.batch_size
    drop_last = (rem == 1 and n_train > 1) or (ctx.active and 0 < rem < 2 * ctx.world_size
                                               and n_train > rem)
    steps = n_train // cfg.batch_size + (0 if drop_last or n_train % cfg.batch_size == 0 else 1)
    sched, per_step = _make_scheduler(opt, cfg, max(steps, 1))
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    x_test = y_test = None
    if test is not None:
        x_test = torch.as_tensor(np.asarray(test[0]) if not isinstance(test[0], Tensor)
                                 else test[0])
        y_test = torch.as_tensor(np.asarray(test[1]), dtype=torch.int64)

    history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "lr": []}
    best_score, best_epoch, best_state = math.inf, 0, None
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None and ctx.is_main else None
    if ckpt is not None:
        ckpt.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    bar = None
    if cfg.verbose and ctx.is_main:
        from .._progress import progress_bar

        bar = progress_bar(total=cfg.n_epochs, desc=f"train {model.head.name}", unit="epoch",
                           leave=False)
    step = wrap(LossStep(model, amp), ctx, dev)  # forward + loss; DDP under a launch
    shard = {"shard": (ctx.rank, ctx.world_size)} if ctx.active else {}
    model.train()
    try:
        for epoch in range(1, cfg.n_epochs + 1):
            run_loss = torch.zeros((), device=dev)
            n_seen = 0
            for batch in data.batches(train_idx, cfg.batch_size, shuffle=True, generator=gen,
                                      train=True, drop_last=drop_last, **shard):
                batch = model.head.train_batch(batch)  # identity unless the head mixes items
                logits, loss = step(batch)
                # under a launch: weighted by this rank's share of the global batch's answers
                loss, n_global = scale_loss(
                    loss, batch.n_answers if model.head.uses_answers else batch.size,
                    batch.size, ctx)
                if on_batch is not None:
                    on_batch(epoch, batch, logits.detach().float())
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if cfg.grad_clip:
                    scaler.unscale_(opt)
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                scaler.step(opt)
                scaler.update()
                if sched is not None and per_step:
                    sched.step()
                run_loss += loss.detach() * (n_global / ctx.world_size)
                n_seen += n_global
            if sched is not None and not per_step:
                sched.step()
            train_loss = all_sum(float(run_loss), ctx, dev) / max(n_seen, 1)
            if not math.isfinite(train_loss):
                raise CrowdlearnError(
                    f"training diverged at epoch {epoch} (loss {train_loss}); lower the "
                    "learning rate or the regularisation weight")
            history["epoch"].append(epoch)
            history["train_loss"].append(train_loss)
            history["lr"].append(float(opt.param_groups[0]["lr"]))
            postfix = {"loss": f"{train_loss:.4f}"}
            if val_idx.numel():
                val_loss, val_acc = _evaluate(model, data, val_idx, truth_t, cfg, amp)
                history.setdefault("val_loss", []).append(val_loss)
                postfix["val_loss"] = f"{val_loss:.4f}"
                if truth_t is not None:
                    history.setdefault("val_accuracy", []).append(val_acc)
                    postfix["val_acc"] = f"{val_acc:.3f}"
            if x_test is not None:
                logits = predict_logits(model.backbone, x_test, batch_size=cfg.eval_batch_size,
                                        transform=data.transform, device=dev)
                acc = float((logits.argmax(1).cpu() == y_test).float().mean())
                history.setdefault("test_accuracy", []).append(acc)
                postfix["test_acc"] = f"{acc:.3f}"
            if selection == "val_loss":
                score = history["val_loss"][-1]
            elif selection == "val_accuracy":
                score = -history["val_accuracy"][-1]
            else:
                score = -float(epoch)
            if best_state is None or score < best_score:
                best_score, best_epoch = score, epoch
                best_state = copy.deepcopy(model.state_dict())
            if ckpt is not None:
                _save(model.state_dict(), ckpt / "last.pth")
            if bar is not None:
                bar.set_postfix(postfix)
                bar.update(1)
            if cfg.patience is not None and epoch - best_epoch >= cfg.patience:
                break
    finally:
        if bar is not None:
            bar.close()
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    if ckpt is not None:
        _save(best_state, ckpt / "best.pth")
    if selection == "val_accuracy":
        best_score = -best_score
    elif selection == "last":
        best_score = math.nan
    return TrainResult(history=history, best_epoch=best_epoch, best_score=best_score,
                       stopped_epoch=len(history["epoch"]),
                       seconds=time.perf_counter() - start, config=asdict(cfg))


def _save(state: dict[str, Any], path: Path) -> None:
    from ..io._atomic import atomic_write

    with atomic_write(path, "wb") as f:
        torch.save(state, f)
