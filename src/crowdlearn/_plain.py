"""Plain Python data from nested results (for JSON files and weights-only checkpoints)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["plain_data"]


def _keep(value: Any) -> Any:
    return value


def plain_data(value: Any, leaf: Callable[[Any], Any] = _keep) -> Any:
    """``value`` with mappings as dicts (keys as text), tuples and lists as lists, numpy arrays
    as nested lists and numpy scalars as Python numbers; every other value goes through
    ``leaf`` (kept as it is by default), which is where callers choose what a file may hold."""
    if isinstance(value, Mapping):
        return {str(k): plain_data(v, leaf) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v, leaf) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return leaf(value)
