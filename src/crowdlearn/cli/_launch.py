"""``crowdlearn fit --devices N``: data-parallel training in N processes.

Outside a launch, :func:`_launched` starts the same command under ``torchrun``
(:func:`crowdlearn.deep.distributed.launch_command`); under a launch it checks that ``--devices``
agrees with the launch's ``WORLD_SIZE``. :func:`_one_process` refuses a launch for the inputs that
train in one process only (sequence and regression answers).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._fit_checks import _check_out


def _launched(args: argparse.Namespace) -> int | None:
    """With ``--devices N`` (N > 1) outside a launch: run this command under ``torchrun`` in N
    processes and return its exit status; ``None`` when this process should train itself."""
    from ..errors import CrowdlearnError

    n = getattr(args, "devices", None)
    if n is None or n == 1:
        return None
    if n < 1:
        raise CrowdlearnError(f"--devices must be at least 1, got {n}")
    from ..deep.distributed import launch_command, launch_world_size

    world = launch_world_size()
    if world > 1:
        if world != n:
            raise CrowdlearnError(f"--devices {n} but this launch has WORLD_SIZE={world}")
        return None
    if args.accelerator in ("gpu", "cuda") or str(args.accelerator).startswith("cuda"):
        import torch

        if torch.cuda.device_count() < n:
            raise CrowdlearnError(f"--devices {n} but {torch.cuda.device_count()} CUDA "
                                  "device(s) are visible")
    import subprocess

    _check_out(Path(args.out), args.force)  # fail before starting N processes
    return subprocess.call(launch_command(n, args.argv))


def _one_process(what: str) -> None:
    from ..deep.distributed import launch_world_size
    from ..errors import CrowdlearnError

    if launch_world_size() > 1:
        raise CrowdlearnError(f"data-parallel training (--devices, torchrun) is for class "
                              f"labels; train {what} in one process")
