"""Exceptions raised by crowdlearn.

Every problem with user input is a :class:`DataError`: a one-line message that names the file
(or object), the place inside it (line, field, key) and what is wrong. The command-line tool prints
it as is and exits with status 2; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_CLI_SPELLING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "crowdlearn_cli_spelling", default=False)


def option(name: str, value: str, python: str | None = None, flag: str | None = None) -> str:
    """How the user sets option ``name`` to ``value``, for advice in error messages.

    ``duplicates='first'`` from Python, ``--duplicates first`` inside the command-line tool
    (see :func:`cli_spelling`). ``name`` is the Python keyword; the flag is ``flag``, by default
    ``--`` plus the name with ``-`` for ``_``. ``python`` replaces ``repr(value)`` in the
    Python spelling.
    """
    if _CLI_SPELLING.get():
        return f"{flag or '--' + name.replace('_', '-')} {value}"
    return f"{name}={python if python is not None else repr(value)}"


@contextlib.contextmanager
def cli_spelling() -> Iterator[None]:
    """Within this block, :func:`option` spells options as command-line flags."""
    token = _CLI_SPELLING.set(True)
    try:
        yield
    finally:
        _CLI_SPELLING.reset(token)


class CrowdlearnError(Exception):
    """Base class of every error crowdlearn raises on purpose."""


class DataError(CrowdlearnError, ValueError):
    """Bad input data: a one-line message naming the source, the place and the field.

    Parameters
    ----------
    message:
        What is wrong, e.g. ``"label 'cat' is not one of the declared classes"``.
    source:
        The file (or a description such as ``"DataFrame"``) the data came from.
    where:
        The place inside the source: ``"line 12"``, ``'task "7", worker "w3"'``.
    field:
        The column or key involved, e.g. ``"label"``.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        where: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.where = where
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.source:
            parts.append(str(self.source))
        if self.where:
            parts.append(self.where)
        if self.field:
            parts.append(f"field '{self.field}'")
        parts.append(self.message)
        return ": ".join(parts).replace("\n", " ")


class NotFittedError(CrowdlearnError, AttributeError):
    """An estimator was used before ``fit``."""


class CrowdlearnWarning(UserWarning):
    """Base class of every warning crowdlearn issues on purpose."""


class ConvergenceWarning(CrowdlearnWarning):
    """An iterative fit stopped at its iteration cap before meeting its convergence rule."""


class MissingColumnError(DataError, KeyError):
    """A required column (``task``, ``worker``, ``label``) is missing from a table.

    Both a :class:`DataError` (one-line message, exit status 2 in the CLI) and a ``KeyError``,
    which is what pandas code (and crowd-kit) raises for a missing column.
    """

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return self._format()
