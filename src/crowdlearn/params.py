"""Declarative parameter specifications: every estimator parameter is checked in one place.

Each estimator (aggregation strategy, crowd head, backbone,
:class:`~crowdlearn.deep.CrowdClassifier`) declares its constructor parameters as a class
attribute ``param_specs``, one line per parameter::

    param_specs = {"n_iter": Int(0), "tol": Float(0), "init": Choice("mv", "spectral"),
                   "random_state": Seed()}

Subclasses inherit their parents' specs and add or override entries (:func:`specs_of` merges
them along the class hierarchy). :func:`check_params` checks values against the specs and raises
:class:`ParameterError`, one line that names the estimator, the parameter, what it accepts and
the value given::

    strategy 'ds': n_iter must be an integer >= 0, got 'abc'

It is called by :func:`crowdlearn.aggregate.make_strategy` (the CLI's ``-s name[k=v]`` and
``--param``), by ``fit`` of every aggregator and of ``CrowdClassifier`` (the Python API checks as
scikit-learn does, at fit time) and when heads and backbones are built. A test walks every
registry and checks that every constructor parameter has a spec and that each spec refuses a
bad value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import CrowdlearnError

__all__ = ["Bool", "Choice", "Custom", "Float", "Int", "Param", "ParameterError", "Seed",
           "check_params", "missing_specs", "specs_of"]

_MAX_SEED = 2**32 - 1  # numpy's RandomState takes seeds in [0, 2**32)


class ParameterError(CrowdlearnError, ValueError):
    """A parameter value outside what the estimator accepts (one line; exit status 2 on the CLI)."""


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or (type(value).__module__ == "numpy"
                                       and type(value).__name__ in ("bool", "bool_"))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Param:
    """What one parameter accepts. Build it with :func:`Int`, :func:`Float`, :func:`Choice`,
    :func:`Bool`, :func:`Seed` or :func:`Custom`.

    ``accepts(value)`` says whether a value is valid, ``describe()`` says in words what is valid,
    ``bad_values()`` lists values it must refuse (used by the tests).
    """

    kind: str  # int, float, bool, choice, seed, custom
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] = ()  # valid values (choice); extra valid values (int, float)
    none: bool = False  # None is valid
    finite: bool = True  # float: refuse inf and nan
    objects: bool = True  # seed: numpy Generator / SeedSequence are valid
    doc: str = ""  # custom: what is valid, in words
    predicate: Callable[[Any], bool] | None = field(default=None, compare=False)
    bad: tuple[Any, ...] = ()  # custom: values it refuses

    # ------------------------------------------------------------------ checks
    def _in_range(self, x: float) -> bool:
        if self.low is not None and (x < self.low or (self.low_open and x == self.low)):
            return False
        hi = self.high
        return not (hi is not None and (x > hi or (self.high_open and x == hi)))

    def _is_choice(self, value: Any) -> bool:
        for c in self.choices:
            if isinstance(c, str) and isinstance(value, str):
                if c.lower() == value.strip().lower():
                    return True
            elif type(c) is type(value) and c == value:
                return True
        return False

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is valid."""
        if value is None:
            return self.none
        if self.choices and self._is_choice(value):
            return True
        if self.kind == "int":
            return _is_int(value) and self._in_range(value)
        if self.kind == "float":
            if not _is_real(value):
                return False
            x = float(value)
            if math.isnan(x) or (self.finite and math.isinf(x)):
                return False
            return self._in_range(x)
        if self.kind == "bool":
            return _is_bool(value)
        if self.kind == "seed":
            if _is_int(value):
                return 0 <= value <= _MAX_SEED
            if self.objects:
                import numpy as np

                return isinstance(value, (np.random.Generator, np.random.SeedSequence))
            return False
        if self.kind == "custom":
            assert self.predicate is not None
            try:
                return bool(self.predicate(value))
            except Exception:  # a predicate that cannot read the value refuses it
                return False
        return False  # choice: not among the choices

    def describe(self) -> str:
        """What is valid, in words: ``an integer >= 1``, ``one of mv, spectral``."""
        extra = [repr(c) if isinstance(c, str) else str(c) for c in self.choices]
        if self.kind == "choice":
            text = "one of " + ", ".join(str(c) for c in self.choices)
            extra = []
        elif self.kind == "bool":
            text = "true or false"
        elif self.kind == "seed":
            text = f"an integer seed in [0, {_MAX_SEED}]"
        elif self.kind == "custom":
            text = self.doc
        else:
            text = "an integer" if self.kind == "int" else "a number"
            text += self._range_text()
        alts = extra + (["none"] if self.none else [])
        if alts:
            text += ", or " + " or ".join(alts)
        return text

    def _range_text(self) -> str:
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            return (f" in {'(' if self.low_open else '['}{_fmt(lo)}, {_fmt(hi)}"
                    f"{')' if self.high_open else ']'}")
        if lo is not None:
            return f" {'>' if self.low_open else '>='} {_fmt(lo)}"
        if hi is not None:
            return f" {'<' if self.high_open else '<='} {_fmt(hi)}"
        return ""

    def bad_values(self) -> list[Any]:
        """Values this parameter must refuse (at least one)."""
        if self.kind == "custom":
            out = list(self.bad)
        elif self.kind == "choice":
            out = ["no-such-choice", 3.5]
        elif self.kind == "bool":
            out = ["abc", 2]
        elif self.kind == "seed":
            out = ["abc", -1, 1.5]
        else:
            out = ["abc", [1]]
            if self.kind == "int":
                out.append(1.5)
            if self.finite and self.kind == "float":
                out.append(math.nan)
            if self.low is not None:
                out.append(self.low if self.low_open else self.low - 1)
            if self.high is not None:
                out.append(self.high if self.high_open else self.high + 1)
        if not self.none:
            out.append(None)
        return [v for v in out if not self.accepts(v)]


# ---------------------------------------------------------------------- constructors
def Int(low: int | None = None, high: int | None = None, *, none: bool = False,  # noqa: N802
        also: Iterable[Any] = ()) -> Param:
    """An integer in ``[low, high]`` (``None`` when ``none``; the values ``also`` too)."""
    return Param("int", low=low, high=high, none=none, choices=tuple(also))


def Float(low: float | None = None, high: float | None = None, *,  # noqa: N802
          low_open: bool = False, high_open: bool = False, none: bool = False,
          finite: bool = True, also: Iterable[Any] = ()) -> Param:
    """A real number in the range (integers are accepted); infinities only when not ``finite``."""
    return Param("float", low=low, high=high, low_open=low_open, high_open=high_open,
                 none=none, finite=finite, choices=tuple(also))


def Choice(*values: Any, none: bool = False) -> Param:  # noqa: N802
    """One of ``values`` (strings compare case-insensitively)."""
    return Param("choice", choices=values, none=none)


def Bool() -> Param:  # noqa: N802
    """``True`` or ``False``."""
    return Param("bool")


def Seed(*, none: bool = True, objects: bool = True) -> Param:  # noqa: N802
    """A random seed: an integer in ``[0, 2**32 - 1]``, ``None`` (fresh entropy) and, when
    ``objects``, a numpy ``Generator`` or ``SeedSequence``."""
    return Param("seed", none=none, objects=objects)


def Custom(doc: str, predicate: Callable[[Any], bool], bad: Iterable[Any], *,  # noqa: N802
           none: bool = False) -> Param:
    """Anything ``predicate`` accepts; ``doc`` says what in words, ``bad`` lists refused values."""
    return Param("custom", doc=doc, predicate=predicate, bad=tuple(bad), none=none)


# ---------------------------------------------------------------------- checking
def specs_of(cls: type) -> dict[str, Param]:
    """The parameter specs of ``cls``: its ``param_specs`` merged over its base classes."""
    out: dict[str, Param] = {}
    for klass in reversed(cls.__mro__):
        out.update(klass.__dict__.get("param_specs", {}) or {})
    return out


def missing_specs(cls: type, skip: Iterable[str] = ()) -> list[str]:
    """Constructor parameters of ``cls`` without a spec (but those in ``skip``)."""
    import inspect

    specs = specs_of(cls)
    sig = inspect.signature(cls.__init__)
    return [p.name for p in sig.parameters.values()
            if p.name != "self" and p.name not in skip and p.name not in specs
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def check_params(owner: str, specs: Mapping[str, Param], values: Mapping[str, Any],
                 *, hint: str = "") -> None:
    """Raise :class:`ParameterError` for the first value its spec refuses, or an unknown name.

    ``owner`` names the estimator in the message (``"strategy 'ds'"``); ``hint`` is appended to
    the message about an unknown name.
    """
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None:
            raise ParameterError(
                f"{owner} has no parameter {name!r} "
                f"(parameters: {', '.join(sorted(specs)) or 'none'}){hint}")
        if not spec.accepts(value):
            raise ParameterError(f"{owner}: {name} must be {spec.describe()}, got {value!r}")


# ---------------------------------------------------------------------- common specs
#: iterations of an iterative method (0: the starting point only)
N_ITER = Int(0)
#: a stopping tolerance (a negative one, or -inf as crowd-kit uses, never stops early)
TOL = Float(finite=False)
#: a prior / pseudo-count that must be positive
POSITIVE = Float(0, low_open=True)
#: a random seed (``random_state``)
SEED = Seed()
#: how exact ties become hard labels
TIE_BREAK = Choice("random", "first")
#: incremental updates: earlier tasks revisited per task a batch touches (0: none)
REFRESH = Float(0)
#: the keyword arguments of ``partial_fit`` (:mod:`crowdlearn.aggregate.incremental`), checked
#: at every call; ``aggregate --update`` checks its options against the same specs
PARTIAL_FIT_SPECS: dict[str, Param] = {"n_iter": N_ITER, "refresh": REFRESH, "sweep": Bool(),
                                       "sweep_every": Int(0)}
