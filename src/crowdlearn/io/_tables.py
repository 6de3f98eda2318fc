"""Table input files of the readers: :class:`TableFile` (one delimited or Parquet file: its
columns, checks and reading); re-exported by :mod:`crowdlearn.io._common`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from ..labels import Locator
from ._text import (
    FileLineLocator,
    PathLike,
    _one_line,
    delimiter_for,
    read_columns,
    read_header,
    require_file,
    require_nonempty,
    source_name,
)

if TYPE_CHECKING:
    import pandas as pd


# ---------------------------------------------------------------------- table files
class TableFile:
    """A CSV, TSV or Parquet file with a header: its columns, a row locator, column reading.

    Parameters
    ----------
    path:
        The file (checked to exist and to be non-empty).
    parquet:
        Whether it is a Parquet file (needs pyarrow).
    sep:
        Field separator of a text file (``None``: from the extension or the first line).
    """

    def __init__(self, path: PathLike, *, parquet: bool = False, sep: str | None = None) -> None:
        self.path = require_file(path)
        self.source = source_name(path)
        require_nonempty(self.path)
        self.parquet = parquet
        if parquet:
            pq = _pyarrow_parquet(self.source)
            try:
                self.columns = [str(c) for c in pq.read_schema(self.path).names]
            except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
                raise DataError(f"not a Parquet file ({_one_line(exc)})",
                                source=self.source) from exc
            from ..labels import row_locator

            self.locate: Locator = row_locator()
            self.sep = ""
        else:
            self.sep = delimiter_for(self.path, sep)
            self.columns = read_header(self.path, self.sep)
            self.locate = FileLineLocator(self.path)

    def task_column(self, task_col: str | None) -> str:
        """``task_col``, or ``task`` / ``item`` (crowd-kit's names) when it is ``None``."""
        if task_col is not None:
            return task_col
        for name in ("task", "item"):
            if name in self.columns:
                return name
        raise DataError(
            f"missing column 'task' (or 'item'); the header has: {', '.join(self.columns)}",
            source=self.source, where=None if self.parquet else "line 1", field="task",
        )

    def require(self, names: Sequence[str]) -> None:
        """Raise a :class:`DataError` naming the first of ``names`` that is not a column, or
        that names several columns (which of them would be meant is unknowable)."""
        missing = [n for n in names if n not in self.columns]
        if missing:
            listed = ", ".join(repr(m) for m in missing)
            raise DataError(
                f"missing column {listed}; the header has: {', '.join(self.columns)}",
                source=self.source, where=None if self.parquet else "line 1", field=missing[0],
            )
        for n in names:
            at = [i + 1 for i, c in enumerate(self.columns) if c == n]
            if len(at) > 1:
                raise DataError(
                    f"the header names {len(at)} columns {n!r} (columns "
                    f"{', '.join(map(str, at))}); rename them so that each name is unique",
                    source=self.source, where=None if self.parquet else "line 1", field=n,
                )

    def read(self, names: Sequence[str], *, id_columns: Sequence[str] = ()) -> pd.DataFrame:
        """The columns ``names`` (checked to exist); an error when there is no data row."""
        self.require(names)
        unique = list(dict.fromkeys(names))
        if self.parquet:
            import pandas as pd

            try:
                frame = pd.read_parquet(self.path, columns=unique)
            except Exception as exc:
                raise DataError(f"cannot read Parquet file ({_one_line(exc)})",
                                source=self.source) from exc
        else:
            frame = read_columns(self.path, unique, sep=self.sep, id_columns=id_columns)
        if len(frame) == 0:
            raise DataError("no data rows (only a header)", source=self.source)
        return frame


def _pyarrow_parquet(source: str) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DataError("Parquet needs pyarrow: pip install pyarrow", source=source) from exc
    return pq
