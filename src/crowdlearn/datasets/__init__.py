"""Public crowdsourcing data sets: a registry, installers and loaders.

Example::

    from crowdlearn import datasets

    datasets.list_datasets(as_frame=True)       # name, size, tasks, workers, classes, licence
    path = datasets.install("music")            # download, verify, convert -> ~/.crowdlearn/...
    answers, extras = datasets.load("music")    # Answers (with truth) + features, metadata
    datasets.install("labelme", source="~/Downloads/deep_LabelMe.tar.gz")   # no network

The same from the command line: ``crowdlearn datasets list``, ``crowdlearn datasets install
NAME [--root DIR] [--from FILE] [--force] [--no-verify]``.

Every installed data set lives in ``ROOT/NAME`` (ROOT: ``$CROWDLEARN_HOME``, else
``~/.crowdlearn/datasets``) in peerannot's folder format, readable by every crowdlearn command
(``crowdlearn info ROOT/music``). The registry (:mod:`.registry`) documents the sources,
checksums and the layout; :mod:`.installer` the download and verification rules; :mod:`.convert`
the conversions.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .installer import (
    ChecksumError,
    DatasetError,
    DownloadError,
    default_root,
    install,
    installed_path,
    load,
)
from .registry import REGISTRY, DatasetRecord, RemoteFile, get_record, names

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "REGISTRY",
    "ChecksumError",
    "DatasetError",
    "DatasetRecord",
    "DownloadError",
    "RemoteFile",
    "default_root",
    "get_record",
    "install",
    "installed_path",
    "list_datasets",
    "load",
    "names",
    "summary_rows",
]

SUMMARY_COLUMNS = ("name", "kind", "download", "tasks", "workers", "classes", "answers",
                   "checksums", "installed", "licence", "reference")


def list_datasets(root: str | os.PathLike[str] | None = None, *, as_frame: bool = False,
                  ) -> list[DatasetRecord] | pd.DataFrame:
    """The registered data sets.

    Parameters
    ----------
    root:
        Where to look for installed copies (``as_frame`` only; default :func:`default_root`).
    as_frame:
        Return a pandas DataFrame (one row per data set: name, kind, download size, tasks,
        workers, classes, answers, checksums, installed, licence, reference) instead of the
        :class:`DatasetRecord` objects.
    """
    records = list(REGISTRY.values())
    if not as_frame:
        return records
    import pandas as pd

    return pd.DataFrame(summary_rows(root), columns=list(SUMMARY_COLUMNS))


def summary_rows(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """One plain dict per data set, as ``crowdlearn datasets list`` shows them."""
    from pathlib import Path

    from .installer import _human

    base = default_root() if root is None else Path(root).expanduser()
    rows = []
    for r in REGISTRY.values():
        size = r.size
        shown = _human(size) if size is not None else (
            f">{_human(r.known_size)}" if r.known_size else "?")
        rows.append({
            "name": r.name, "kind": r.kind, "download": shown, "tasks": r.n_tasks,
            "workers": r.n_workers, "classes": r.n_classes, "answers": r.n_answers,
            "checksums": r.checksums,
            "installed": (base / r.name / "metadata.json").is_file(),
            "licence": r.licence, "reference": r.reference,
        })
    return rows
