"""Small helpers shared by the image loaders: the ``PathLike`` alias, folder checks, error text."""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import DataError

PathLike = str | os.PathLike[str]


def _require_folder(folder: Path) -> None:
    if not folder.exists():
        raise DataError("no such folder", source=str(folder))
    if not folder.is_dir():
        raise DataError("not a folder", source=str(folder))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
