"""Guessing the format of an input path or an output name.

Reading (:func:`detect_format`):

==========================================  =================
path                                        format
==========================================  =================
folder with ``answers.json``                ``peerannot``
folder with ``label.csv``                   ``truth-inference``
a file named ``answers.json``               ``peerannot``
``.parquet`` / ``.pq``                      ``parquet``
``.npy``                                    ``crowdlayer``
``.tsv``                                    ``tsv``
``.txt`` or no known extension              ``crowdlayer`` when the first line holds only
                                            integers separated by spaces (CrowdLayer's
                                            ``answers.txt``), else as ``.csv``
``.csv``                                    ``tsv`` when the first line has a tab, else
                                            ``csv``
==========================================  =================

A first line of integers separated by commas or tabs is refused (a table needs a header line;
a matrix in such a file needs ``format="crowdlayer"``): a header-less table of task, worker
and label numbers must not be read silently as a matrix. Other files without a known extension
are refused too.

Writing (:func:`format_for_write`): ``.csv``, ``.tsv``, ``.parquet``/``.pq``, ``.npy``
(CrowdLayer); an existing peerannot or truth-inference folder keeps its format. Anything else
(``.txt``, a new folder) needs an explicit ``format``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DataError, option
from ._common import source_name
from .crowdlayer import looks_like_matrix

__all__ = ["FORMATS", "detect_format", "format_for_write"]

FORMATS: tuple[str, ...] = ("csv", "tsv", "parquet", "peerannot", "crowdlayer", "truth-inference")
"""Every format name :func:`crowdlearn.io.read` and :func:`crowdlearn.io.write` accept."""


def check_format(fmt: str) -> str:
    """``fmt`` normalised (lower case); a :class:`DataError` when it is not in :data:`FORMATS`."""
    norm = fmt.strip().lower().replace("_", "-")
    if norm not in FORMATS:
        raise DataError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", field="format")
    return norm


def detect_format(source: Any) -> str:
    """The format of an input: a pandas DataFrame gives ``"frame"``, a path one of
    :data:`FORMATS` (see the module table).

    Raises
    ------
    DataError
        The path does not exist or its format cannot be told.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return "frame"
    path = Path(source)
    src = source_name(source)
    if not path.exists():
        raise DataError("no such file or folder", source=src)
    if path.is_dir():
        if (path / "answers.json").is_file():
            return "peerannot"
        if (path / "label.csv").is_file():
            return "truth-inference"
        raise DataError("cannot tell the format of this folder (no answers.json for peerannot, "
                        "no label.csv for truth-inference)", source=src)
    suffix = path.suffix.lower()
    if path.name == "answers.json":
        return "peerannot"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".npy":
        return "crowdlayer"
    matrix = looks_like_matrix(path) if path.stat().st_size else None
    if matrix == "spaces" and suffix not in (".csv", ".tsv"):
        return "crowdlayer"
    if matrix is not None:
        raise DataError(
            "the first line holds only numbers, not column names: a task/worker/label table "
            "needs a header line (task,worker,label); for a CrowdLayer matrix pass "
            f"{option('format', 'crowdlayer')}", source=src, where="line 1",
        )
    if suffix == ".tsv":
        return "tsv"
    if suffix in (".csv", ".txt"):
        with open(path, "rb") as f:
            first = f.readline(65536)
        return "tsv" if b"\t" in first else "csv"
    raise DataError("cannot tell the format from the file name; pass "
                    f"{option('format', 'FORMAT', '...')} (one of {', '.join(FORMATS)})",
                    source=src)


def format_for_write(dest: Any) -> str:
    """The output format implied by ``dest`` (see the module documentation)."""
    path = Path(dest)
    suffix = path.suffix.lower()
    if path.is_dir():
        if (path / "answers.json").is_file():
            return "peerannot"
        if (path / "label.csv").is_file():
            return "truth-inference"
    elif suffix in (".csv", ".tsv"):
        return suffix[1:]
    elif suffix in (".parquet", ".pq"):
        return "parquet"
    elif suffix == ".npy":
        return "crowdlayer"
    raise DataError("cannot tell the output format from the name; pass format= (one of "
                    f"{', '.join(FORMATS)})", source=source_name(dest))
