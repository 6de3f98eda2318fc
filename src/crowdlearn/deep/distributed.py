"""Data-parallel training on several processes with ``torch.distributed``.

The one training loop (:func:`crowdlearn.deep.train.train`) runs unchanged in each process of a
``torchrun`` launch (or of ``crowdlearn fit --devices N``, which starts ``torchrun`` for you):

* :func:`context` reads the launcher's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) and
  joins the process group once (NCCL on CUDA, gloo on the CPU); one process per device, the CUDA
  device of a process is ``cuda:LOCAL_RANK``;
* the model (backbone *and* crowd head) is wrapped in
  :class:`~torch.nn.parallel.DistributedDataParallel`: rank 0's initial weights are broadcast,
  gradients are averaged, so the heads' confusion matrices stay identical on every rank;
* every rank draws the same seeded permutation of the training tasks and takes every
  ``WORLD_SIZE``-th task of each global batch (a distributed sampler whose global batch is
  ``batch_size``, as in one process);
* each rank's loss is weighted by its share of the global batch's answers
  (:func:`scale_loss`), so the averaged gradient is the gradient of the one-process loss of the
  same global batch (exactly for heads whose loss is a mean over answers plus a regulariser,
  up to floating-point summation order; batch normalisation uses per-process statistics on the
  CPU and :class:`~torch.nn.SyncBatchNorm` on CUDA);
* validation, model selection and early stopping see the same numbers on every rank; only
  rank 0 draws a progress bar and writes checkpoints and outputs.

Reference: Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel Training",
VLDB 2020.
"""

from __future__ import annotations

import atexit
import os
import sys
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import CrowdlearnError

__all__ = ["DistContext", "context", "is_main_process", "launch_command", "launch_world_size",
           "scale_loss", "shutdown"]


@dataclass(frozen=True)
class DistContext:
    """Rank and size of the process group (``world_size == 1``: plain one-process training)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise CrowdlearnError(f"environment variable {name}={value!r} is not an integer") from None


def launch_world_size() -> int:
    """``WORLD_SIZE`` of the launch this process belongs to (1 outside a launch)."""
    return _env_int("WORLD_SIZE", 1)


def context(device: torch.device | None = None) -> DistContext:
    """The process group of this process, joined on first use (see the module docstring).

    Outside a ``torchrun`` launch (no ``WORLD_SIZE`` above 1) this is the one-process context.
    """
    world = launch_world_size()
    if world <= 1:
        return DistContext()
    import torch.distributed as dist

    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if not dist.is_initialized():
        cuda = device is not None and device.type == "cuda"
        dist.init_process_group(backend="nccl" if cuda else "gloo")
        atexit.register(_leave)  # a group left to the interpreter's exit can abort (gloo)
    return DistContext(rank=rank, world_size=world, local_rank=local)


def _leave() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def shutdown() -> None:
    """Wait for every rank, then leave the process group (nothing outside a launch).

    Call it once the ranks have no collective left (``crowdlearn fit --devices`` does, after
    training and before rank 0 writes the outputs): a process that exits with the group still
    open may be aborted by gloo's background threads, failing the whole launch.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        _leave()


def is_main_process() -> bool:
    """True outside a distributed launch and on rank 0 of one: the process that writes files."""
    return _env_int("RANK", 0) == 0


def local_cuda_device() -> torch.device:
    """``cuda:LOCAL_RANK`` (one process per GPU), made the current CUDA device."""
    local = _env_int("LOCAL_RANK", 0)
    if local >= torch.cuda.device_count():
        raise CrowdlearnError(
            f"LOCAL_RANK {local} but this machine has {torch.cuda.device_count()} CUDA device(s)")
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


class LossStep(nn.Module):
    """One training step's forward: classifier logits and the head's loss of ``batch``.

    The loss is computed inside ``forward`` so that :class:`DistributedDataParallel` sees every
    parameter (backbone and head) in the module it wraps.
    """

    def __init__(self, model: nn.Module, amp: bool) -> None:
        super().__init__()
        self.model = model
        self.amp = amp
        #: under DistributedDataParallel: add ``0 * p.sum()`` of every trainable parameter, so
        #: that a head which leaves some parameter out of a step never stalls the gradient
        #: reduction (cheaper than DDP's search for unused parameters at every step)
        self.touch_all = False

    def forward(self, batch: Any) -> tuple[Tensor, Tensor]:
        from .train import _autocast

        x = batch.x
        dev = x.device if isinstance(x, Tensor) else next(self.model.parameters()).device
        with _autocast(dev, self.amp):
            logits = self.model(x)
        logits = logits.float()
        loss = self.model.head.loss(logits, batch)
        if self.touch_all:
            loss = loss + sum(p.sum() for p in self.model.parameters() if p.requires_grad) * 0.0
        return logits, loss


def wrap(step: LossStep, ctx: DistContext, device: torch.device) -> nn.Module:
    """``step`` itself in one process; wrapped in DistributedDataParallel under a launch."""
    if not ctx.active:
        return step
    from torch.nn.parallel import DistributedDataParallel

    step.touch_all = True
    if device.type == "cuda":
        step.model.backbone = nn.SyncBatchNorm.convert_sync_batchnorm(step.model.backbone)
        return DistributedDataParallel(step, device_ids=[device.index])
    return DistributedDataParallel(step)


def scale_loss(loss: Tensor, weight: float, size: int, ctx: DistContext) -> tuple[Tensor, int]:
    """(``loss`` weighted so that the ranks' mean gradient is the global batch's, global size).

    ``weight`` is this rank's share of the batch's answers (or of its items, for heads that do
    not use answers), ``size`` its number of items. One small all-reduce per step; in one
    process ``(loss, size)`` unchanged.
    """
    if not ctx.active:
        return loss, size
    import torch.distributed as dist

    total = torch.tensor([float(weight), float(size)], dtype=torch.float64, device=loss.device)
    dist.all_reduce(total)
    g_weight, g_size = float(total[0].item()), int(total[1].item())
    if g_weight <= 0:
        return loss * 0.0, g_size
    return loss * (ctx.world_size * float(weight) / g_weight), g_size


def all_sum(value: float, ctx: DistContext, device: torch.device) -> float:
    """The sum of ``value`` over the ranks (``value`` itself in one process)."""
    if not ctx.active:
        return value
    import torch.distributed as dist

    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item())


def launch_command(n_devices: int, argv: list[str]) -> list[str]:
    """The ``torchrun`` command that runs ``crowdlearn ARGV`` in ``n_devices`` processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={int(n_devices)}", "-m", "crowdlearn", *argv]
