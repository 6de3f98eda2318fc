"""Building blocks shared by the backbones of :mod:`crowdlearn.deep.backbones`: the activation
table, argument checks, hidden-width parsing and the scaled linear head."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from crowdlearn.errors import CrowdlearnError

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def _activation(name: str) -> nn.Module:
    key = str(name).lower()
    if key not in _ACTIVATIONS:
        raise CrowdlearnError(
            f"unknown activation {name!r} (activations: {', '.join(_ACTIVATIONS)})"
        )
    return _ACTIVATIONS[key]()


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CrowdlearnError(f"{name} must be a positive integer, got {value!r}")
    return value


def _widths(value: Any) -> bool:
    """Whether ``value`` is a hidden-layer width or a sequence of them (integers >= 1)."""
    widths = (value,) if not isinstance(value, (list, tuple)) else value
    return all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths)


class _ScaledLinear(nn.Linear):
    """A :class:`~torch.nn.Linear` whose output is multiplied by a constant ``scale``."""

    def __init__(self, in_features: int, out_features: int, scale: float, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * self.scale

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, scale={self.scale}"
