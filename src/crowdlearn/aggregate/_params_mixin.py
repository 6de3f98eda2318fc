"""The scikit-learn style parameter protocol shared by the classification
(:class:`~crowdlearn.aggregate.base.Aggregator`) and regression
(:class:`~crowdlearn.aggregate.regression.base.RegressionAggregator`) strategy bases."""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

from ..errors import CrowdlearnError
from ..params import check_params, specs_of

_P = TypeVar("_P", bound="ParamsMixin")


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``repr`` from the constructor signature."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters and their current values."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self: _P, **params: Any) -> _P:
        """Set constructor parameters; returns ``self``."""
        valid = set(self._param_names())
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _forget_fit(self) -> None:
        """Drop the fitted (trailing-underscore) attributes of a previous fit."""
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, attr)


def check_strategy_params(cls: Any, params: dict[str, Any]) -> None:
    """Refuse parameters ``cls`` does not take and values its ``param_specs`` refuse."""
    valid = set(cls._param_names())
    unknown = sorted(set(params) - valid)
    if unknown:
        raise CrowdlearnError(
            f"strategy {cls.name!r} has no parameter {', '.join(unknown)} "
            f"(parameters: {', '.join(sorted(valid)) or 'none'})"
        )
    check_params(f"strategy {cls.name!r}", specs_of(cls), params)
