"""Files and delimited text for the readers: existence checks, line locators, UTF-8 faults,
``.npy`` loading, the header and the columns of a CSV/TSV file (fast, and without surprises).

Split from :mod:`crowdlearn.io._common`, which re-exports every name here.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | os.PathLike[str]


# ---------------------------------------------------------------------- files
def source_name(path: PathLike) -> str:
    """The name used for ``path`` in error messages (the path as given)."""
    return os.fspath(path)


def require_file(path: PathLike) -> Path:
    """``path`` as a :class:`Path`; a clear :class:`DataError` when it is missing or a folder."""
    p = Path(path)
    if not p.exists():
        raise DataError("no such file", source=source_name(path))
    if p.is_dir():
        raise DataError("is a folder, expected a file", source=source_name(path))
    return p


def require_dir(path: PathLike) -> Path:
    """``path`` as a :class:`Path`; a clear :class:`DataError` when it is missing or a file."""
    p = Path(path)
    if not p.exists():
        raise DataError("no such folder", source=source_name(path))
    if not p.is_dir():
        raise DataError("is a file, expected a folder", source=source_name(path))
    return p


def require_nonempty(path: Path) -> None:
    """Raise when ``path`` has zero bytes."""
    if path.stat().st_size == 0:
        raise DataError("empty file (0 bytes)", source=source_name(path))


class FileLineLocator:
    """Map the ``i``-th data row of a text file to its 1-based line number.

    Blank lines are skipped by the parsers, so row ``i`` is not always line ``i + 2``. The map is
    built (with numpy, once) only when an error message needs it. Quoted fields that contain
    line breaks are not taken into account.

    Parameters
    ----------
    path:
        The text file.
    header_lines:
        Number of non-blank lines before the first data row.
    """

    def __init__(self, path: PathLike, header_lines: int = 1) -> None:
        self.path = Path(path)
        self.header_lines = header_lines
        self._lines: np.ndarray | None = None

    def line(self, i: int) -> int:
        """The 1-based line number of data row ``i``."""
        if self._lines is None:
            self._lines = _data_lines(self.path, self.header_lines)
        if 0 <= i < len(self._lines):
            return int(self._lines[i])
        return int(i) + self.header_lines + 1

    def __call__(self, i: int) -> str:
        return f"line {self.line(int(i))}"


def _data_lines(path: Path, header_lines: int) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8)
    if len(data) == 0:
        return np.zeros(0, dtype=np.int64)
    newline = 10 if (data == 10).any() else 13
    breaks = np.flatnonzero(data == newline)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(data)]))
    if starts[-1] == len(data):
        starts, ends = starts[:-1], ends[:-1]
    length = ends - starts
    first = data[np.minimum(starts, len(data) - 1)]
    blank = (length == 0) | ((length == 1) & (first == 13))
    numbers = np.flatnonzero(~blank) + 1
    return numbers[header_lines:]


def not_utf8(path: PathLike, source: str | None = None) -> DataError:
    """The :class:`DataError` for a file that is not UTF-8: line and byte offset of the fault.

    Parsers decode in blocks and report offsets inside a block; the file is decoded again here
    (incrementally, in 1 MiB blocks) so that the offset is the file's (0-based) and the line is
    right.
    """
    import codecs

    src = source if source is not None else source_name(path)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    newlines = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            pending = decoder.getstate()[0]
            data = pending + chunk
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                at = offset - len(pending) + exc.start
                line = newlines + data.count(b"\n", 0, exc.start) + 1
                bad = data[exc.start:exc.end]
                return DataError(
                    f"not UTF-8 text ({exc.reason}, byte 0x{bad.hex() or '??'} at byte "
                    f"offset {at})", source=src, where=f"line {line}",
                )
            if not chunk:
                break
            newlines += chunk.count(b"\n")
            offset += len(chunk)
    return DataError("not UTF-8 text", source=src)


def load_npy(path: PathLike, source: str | None = None) -> np.ndarray:
    """A ``.npy`` array (no pickles); a :class:`DataError` for anything else.

    A damaged file, a zip archive (``.npz``) under a ``.npy`` name and an object array all
    give one line naming the file.
    """
    import zipfile

    src = source if source is not None else source_name(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"not a readable .npy array ({_one_line(exc)})", source=src) from exc
    if not isinstance(arr, np.ndarray):
        if hasattr(arr, "close"):
            arr.close()
        raise DataError("not a .npy array (a .npz archive of several arrays?)", source=src)
    return arr


# ---------------------------------------------------------------------- delimited text
def has_pyarrow() -> bool:
    """Whether pyarrow can be imported (fast CSV parsing, Parquet)."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return True


def read_header(path: Path, sep: str) -> list[str]:
    """The column names of a delimited text file (first non-blank line), as written.

    Repeated names stay repeated (pandas would rename the second ``label`` to ``label.1``);
    :class:`TableFile` refuses to read a column whose name is not unique.
    """
    import pandas as pd

    try:
        row = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, engine="c",
                          keep_default_na=False, index_col=False)
        return ["" if isinstance(c, float) else str(c) for c in row.iloc[0].tolist()] \
            if len(row) else []
    except pd.errors.EmptyDataError as exc:
        raise DataError("empty file (no header line)", source=source_name(path)) from exc
    except UnicodeDecodeError as exc:
        raise not_utf8(path) from exc
    except pd.errors.ParserError as exc:
        raise parser_error(exc, source_name(path)) from exc


def read_columns(
    path: Path,
    columns: Sequence[str],
    *,
    sep: str,
    id_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Read some columns of a delimited text file with a header, fast and without surprises.

    * pyarrow's multi-threaded parser when available, else pandas' C parser; on a parse error
      the C parser is used again to report the line.
    * Only empty cells are missing values (``"NA"`` or ``"None"`` stay text).
    * Columns that the parser would turn into booleans, dates or non-finite floats are read
      again as text, so that ``true``, ``2020-01-01`` or ``inf`` stay what the file says; id
      columns (``id_columns``) holding non-whole numbers are text too (``"1.5"`` is an id).
    """
    import pandas as pd

    options: dict[str, Any] = dict(sep=sep, keep_default_na=False, na_values=[""])

    def parse(dtype: Any = None, engine: str | None = None) -> pd.DataFrame:
        use = engine or ("pyarrow" if has_pyarrow() else "c")
        try:
            if use == "pyarrow":
                return pd.read_csv(path, engine="pyarrow", dtype=dtype, usecols=list(columns),
                                   **options)
            # pandas' C parser: all columns, so that a row with too many fields is an error
            # (with usecols it would be cut silently)
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(path, engine="c", dtype=dtype, index_col=False,
                                    low_memory=False, **options)
            return frame[list(columns)]
        except UnicodeDecodeError as exc:
            raise not_utf8(path) from exc
        except pd.errors.ParserWarning as exc:
            raise DataError("rows have more fields than the header", source=source_name(path),
                            where="line 1") from exc
        except (pd.errors.ParserError, ValueError) as exc:
            if use == "pyarrow":
                return parse(dtype, "c")
            raise parser_error(exc, source_name(path)) from exc

    frame = parse()
    if has_pyarrow() and any(_is_binary(frame[c]) for c in columns):
        frame = parse(engine="c")  # pyarrow reads invalid UTF-8 as bytes: let pandas report it
    as_text = [c for c in columns if _needs_text(frame[c], c in id_columns)]
    if as_text:
        again = parse({c: str for c in as_text})
        for c in as_text:
            frame[c] = again[c]
    return frame


def _is_binary(col: pd.Series) -> bool:
    import pandas as pd

    return col.dtype.kind == "O" and pd.api.types.infer_dtype(col, skipna=True) == "bytes"


def _needs_text(col: pd.Series, is_id: bool) -> bool:
    import pandas as pd

    kind = col.dtype.kind
    if kind in "bMm":
        return True
    if kind == "f":
        values = col.to_numpy()
        finite = np.isfinite(values)
        if not finite.all():
            return True
        # an id must stay exact: non-whole numbers, and integers a float cannot hold exactly
        # (a 23-digit worker number), are text
        return is_id and not bool(((np.floor(values) == values)
                                   & (np.abs(values) < 2.0 ** 53)).all())
    if kind == "O" and is_id:  # pandas' C parser: Python ints beyond 64 bits
        return pd.api.types.infer_dtype(col, skipna=True) == "integer" and \
            col.dtype.kind == "O"
    return False


def parser_error(exc: BaseException, source: str) -> DataError:
    """A :class:`DataError` from a pandas parser error, with the line when it says one."""
    import re

    text = _one_line(exc)
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if m:
        return DataError(f"expected {m.group(1)} fields, found {m.group(3)}", source=source,
                         where=f"line {m.group(2)}")
    return DataError(f"malformed table: {text}", source=source)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def delimiter_for(path: Path, sep: str | None) -> str:
    """The field separator: ``sep`` if given, tab for ``.tsv`` or a tab in the first line."""
    if sep is not None:
        return sep
    if path.suffix.lower() == ".tsv":
        return "\t"
    if path.suffix.lower() == ".csv":
        return ","
    with open(path, "rb") as f:
        first = f.readline(65536)
    return "\t" if b"\t" in first else ","
