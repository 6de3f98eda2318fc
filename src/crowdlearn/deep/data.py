"""Crowd data as device tensors, batched by task index.

The training loop never touches Python objects per sample: the items ``x`` live on the training
device as one tensor, the answers as three index tensors in CSR order (answers of task ``t`` are
``indptr[t]:indptr[t + 1]``, exactly the order of :class:`~crowdlearn.answers.Answers`), and a
batch of tasks gathers its answers with a few vectorised tensor operations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..answers import Answers
from ..errors import CrowdlearnError

__all__ = ["Batch", "CrowdData", "resolve_device"]


@dataclass
class Batch:
    """One mini-batch: ``B`` items and their ``A`` crowd answers.

    Attributes
    ----------
    x:
        Items (B, ...), already on the device (augmented when training).
    tasks:
        Global task index of each item (B,).
    rows:
        For each answer, the position of its item in the batch (A,), values in ``[0, B)``.
    workers, labels:
        Worker index and answered class of each answer (A,).
    """

    x: Tensor
    tasks: Tensor
    rows: Tensor
    workers: Tensor
    labels: Tensor

    @property
    def size(self) -> int:
        return int(self.tasks.shape[0])

    @property
    def n_answers(self) -> int:
        return int(self.labels.shape[0])


def resolve_device(device: Any = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; ``"gpu"`` (the seed CLI's spelling): CUDA."""
    if isinstance(device, torch.device):
        return device
    name = "auto" if device is None else str(device).lower()
    if name == "auto":
        return _launch_device(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    if name in ("gpu", "cuda"):
        if not torch.cuda.is_available():
            raise CrowdlearnError(f"device {device!r} asked for, but CUDA is not available here")
        return _launch_device(torch.device("cuda"))
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise CrowdlearnError(f"unknown device {device!r} (use auto, cpu, gpu or cuda:N)") from exc


def _launch_device(dev: torch.device) -> torch.device:
    """Under a multi-process launch, CUDA means this process's GPU (``cuda:LOCAL_RANK``)."""
    if dev.type == "cuda":
        from .distributed import launch_world_size, local_cuda_device

        if launch_world_size() > 1:
            return local_cuda_device()
    return dev


class CrowdData:
    """Items and crowd answers held as tensors on one device.

    Parameters
    ----------
    x:
        Items in task order (``x[t]`` is task ``t`` of ``answers``): float features (N, d) or
        images (N, C, H, W), any dtype (uint8 images are converted by ``transform``).
    answers:
        The crowd answers; its task order defines the item order.
    device:
        Where the tensors live.
    transform:
        Optional batched transformation applied to ``x`` of each batch, ``transform(x, train)``
        (augmentation and normalisation on the device); ``None`` casts to float32.
    """

    def __init__(
        self,
        x: Any,
        answers: Answers,
        device: Any = "cpu",
        transform: Callable[[Tensor, bool], Tensor] | None = None,
    ) -> None:
        self.device = resolve_device(device)
        x_t = torch.as_tensor(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x)
        if x_t.shape[0] != answers.n_tasks:
            raise CrowdlearnError(
                f"{x_t.shape[0]} items for {answers.n_tasks} tasks: items must be given in task "
                "order, one per task"
            )
        self.x = x_t.to(self.device)
        self.transform = transform
        self.n_tasks = answers.n_tasks
        self.n_workers = answers.n_workers
        self.n_classes = getattr(answers, "n_classes", 1)  # regression: one output
        self.indptr = torch.tensor(answers.task_indptr, dtype=torch.int64, device=self.device)
        self.workers = torch.tensor(answers.worker, dtype=torch.int64, device=self.device)
        if getattr(answers, "kind", "classification") == "regression":  # real values (float32)
            self.labels = torch.tensor(answers.value, dtype=torch.float32, device=self.device)
        else:
            self.labels = torch.tensor(answers.label, dtype=torch.int64, device=self.device)

    @property
    def item_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def items(self, idx: Tensor, train: bool = False) -> Tensor:
        """The (transformed) items of tasks ``idx``."""
        x = self.x[idx]
        if self.transform is not None:
            return self.transform(x, train)
        return x.float() if not torch.is_floating_point(x) else x

    def batch(self, idx: Tensor, train: bool = False) -> Batch:
        """Gather tasks ``idx`` (int64 tensor on the device) and all their answers."""
        starts = self.indptr[idx]
        lens = self.indptr[idx + 1] - starts
        total = int(lens.sum())
        rows = torch.repeat_interleave(
            torch.arange(idx.shape[0], device=self.device), lens, output_size=total
        )
        first = torch.cumsum(lens, 0) - lens  # position of each task's first answer in the batch
        ans = (torch.arange(total, device=self.device) - first[rows]) + starts[rows]
        return Batch(
            x=self.items(idx, train),
            tasks=idx,
            rows=rows,
            workers=self.workers[ans],
            labels=self.labels[ans],
        )

    def n_units(self, tasks: Tensor) -> int:
        """How many batching units (here tasks) ``tasks`` make: ``batch_size`` counts these."""
        return int(tasks.shape[0])

    def batches(
        self,
        tasks: Tensor,
        batch_size: int,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        train: bool = False,
        drop_last: bool = False,
        shard: tuple[int, int] | None = None,
    ):
        """Iterate over ``tasks`` (int64 tensor) in batches, optionally in a seeded random order.

        ``shard=(rank, world_size)``: this process's share of each batch, every
        ``world_size``-th task from ``rank`` (data-parallel training).
        """
        if shuffle:
            order = torch.randperm(tasks.shape[0], generator=generator).to(tasks.device)
            tasks = tasks[order]
        n = tasks.shape[0]
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        for start in range(0, stop, batch_size):
            idx = tasks[start:start + batch_size]
            if shard is not None:
                idx = idx[shard[0]::shard[1]]
            yield self.batch(idx, train=train)
