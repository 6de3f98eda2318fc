"""Where an aggregation runs: the numpy path (default) or torch tensors (``device=``).

``device=None`` (the default of every strategy that has the option) keeps the numpy path and
never imports torch. ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` run the E- and M-steps on torch
tensors (float64) on that device (:mod:`._torch_em`); ``"auto"`` means CUDA when torch sees a
GPU, else the numpy path (faster than torch on a CPU). The EM loop is the same
:func:`~crowdlearn.aggregate._em.run_em` on either path; on a device, the only host
synchronisation per iteration is the objective read by its convergence test.
"""

from __future__ import annotations

from typing import Any

from ..errors import CrowdlearnError
from ..params import Custom

#: strategies with a torch path (their ``device`` parameter)
TORCH_STRATEGIES = ("mv", "naivesoft", "wawa", "ds", "onecoin", "pooled-ds", "glad")


def _device_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    name = value.lower()
    return name in ("auto", "cpu", "cuda", "gpu") or (
        name.startswith("cuda:") and name[5:].isdigit())


#: the ``device`` parameter's spec (``None``: numpy)
DEVICE = Custom("None (numpy), 'cpu', 'cuda', 'cuda:N' or 'auto' (CUDA if present, else numpy)",
                _device_ok, ["tpu", 3], none=True)


def resolve_device(device: Any) -> Any | None:
    """The torch device to run on, or ``None`` for the numpy path (torch imported only here)."""
    if device is None:
        return None
    name = str(device).lower()
    if not _device_ok(name):
        raise CrowdlearnError(f"unknown device {device!r} (use cpu, cuda, cuda:N or auto)")
    try:
        import torch
    except ImportError:
        if name == "auto":
            return None
        raise CrowdlearnError(f"device {device!r} needs torch (pip install torch)") from None
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else None
    if name in ("cuda", "gpu") or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise CrowdlearnError(f"device {device!r} asked for, but CUDA is not available "
                                  f"here (use --device cpu or auto)")
        return torch.device("cuda" if name == "gpu" else name)
    return torch.device("cpu")


def fit_on_device(est: Any, answers: Any) -> bool:
    """Fit ``est`` on its ``device`` with torch when one is asked for; ``False``: use numpy."""
    device = resolve_device(getattr(est, "device", None))
    if device is None or not answers.n_answers:  # nothing to move: numpy's empty results
        return False
    if est.name == "glad":
        from ._torch_glad import fit_glad

        fit_glad(est, answers, device)
        return True
    from . import _torch_em

    _torch_em.FITS[est.name](est, answers, device)
    return True
