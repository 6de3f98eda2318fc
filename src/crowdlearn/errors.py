"""Exceptions raised by crowdlearn.

Every problem with user input is a :class:`DataError`: a one-line message that names the file
(or object), the place inside it (line, field, key) and what is wrong. The command-line tool prints
it as is and exits with status 2; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations


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
