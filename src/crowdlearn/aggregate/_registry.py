"""The name registry decorator shared by the classification and regression strategy registries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

_C = TypeVar("_C", bound=type)


def registering(registry: dict[str, Any], names: tuple[str, ...],
                what: str = "strategy") -> Callable[[_C], _C]:
    """A class decorator that enters the class in ``registry`` under each of ``names`` (lower
    case; another class under the same name is a ``ValueError``) and, when it has none, sets its
    ``name`` to the first."""

    def deco(cls: _C) -> _C:
        for n in names:
            key = n.lower()
            if key in registry and registry[key] is not cls:
                raise ValueError(f"{what} name {key!r} registered twice")
            registry[key] = cls
        if not cls.name:  # type: ignore[attr-defined]
            cls.name = names[0].lower()  # type: ignore[attr-defined]
        return cls

    return deco
