"""Checks of a model file's content before a model is built from it.

:func:`crowdlearn.deep.results.load_model` reads ``best.pth`` with ``torch.load(weights_only=True)``
(no code runs), then :func:`check_checkpoint` refuses entries of the wrong type or size, and
:func:`check_shapes` compares the weights with a model built on torch's ``meta`` device (no
memory): a crafted file whose settings would build a huge model (``backbone_params`` asking for
a 160 GB layer) is refused with one line before anything is allocated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DataError

__all__ = ["check_checkpoint", "check_shapes"]


#: entries of a model file and the types they must have (checked before anything is built)
_CKPT_TYPES: dict[str, tuple[type, ...]] = {
    "state_dict": (dict,), "params": (dict,), "backbone": (str, type(None)),
    "backbone_params": (dict, type(None)), "input_shape": (list, tuple),
    "strategy": (str,), "strategy_params": (dict, type(None)), "classes": (list,),
    "worker_ids": (list,), "n_classes": (int,), "n_workers": (int,), "best_epoch": (int,),
    "history": (dict,),
}


def check_checkpoint(ckpt: dict[str, Any], path: Path) -> None:
    """One-line :class:`DataError` unless the model file's entries have the saved types."""
    import torch

    def bad(message: str) -> DataError:
        return DataError(f"not a valid crowdlearn model file: {message}", source=str(path))

    for key, types in _CKPT_TYPES.items():
        if key not in ckpt:
            raise bad(f"'{key}' is missing")
        if not isinstance(ckpt[key], types) or isinstance(ckpt[key], bool):
            raise bad(f"'{key}' is a {type(ckpt[key]).__name__}")
    for key in ("mean", "scale", "confusions"):
        if ckpt.get(key) is not None and not isinstance(ckpt[key], torch.Tensor):
            raise bad(f"'{key}' is a {type(ckpt[key]).__name__}, not a tensor")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor)
               for k, v in ckpt["state_dict"].items()):
        raise bad("'state_dict' must map names to tensors")
    shape = ckpt["input_shape"]
    if not shape or not all(isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 1 << 20
                            for n in shape):
        raise bad(f"'input_shape' {shape!r} is not a list of positive sizes")
    for key, given in (("n_classes", "classes"), ("n_workers", "worker_ids")):
        if not 0 < ckpt[key] == len(ckpt[given]):
            raise bad(f"'{key}' is {ckpt[key]} but '{given}' has {len(ckpt[given])} entries")
    for key in ("backbone_params", "strategy_params"):
        for name, value in (ckpt[key] or {}).items():
            if not isinstance(name, str) or not _plain_value(value):
                raise bad(f"'{key}' entry {name!r} is not a plain value")


def _plain_value(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_value(v) for k, v in value.items())
    return False


def check_shapes(model: Any, state: dict[str, Any], path: Path) -> None:
    """Refuse saved weights whose names or parameter shapes differ from ``model``'s."""
    expected = dict(model.named_parameters())
    missing = sorted(set(expected) - set(state))
    if missing:
        raise DataError(f"the weights do not fit the model (missing {missing[0]!r})",
                        source=str(path))
    for name, param in expected.items():
        if tuple(state[name].shape) != tuple(param.shape):
            raise DataError(
                f"the weights do not fit the model ({name!r}: saved {tuple(state[name].shape)}, "
                f"the saved settings build {tuple(param.shape)})", source=str(path))
