"""Where installed data sets live (``$CROWDLEARN_HOME`` or the default root) and reading an
installed one back (:func:`load`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DatasetError
from .registry import get_record

if TYPE_CHECKING:
    from ..answers import Answers

#: the environment variable naming the data set ROOT
ENV_ROOT = "CROWDLEARN_HOME"


# ---------------------------------------------------------------------------------- paths
def default_root() -> Path:
    """``$CROWDLEARN_HOME`` when set, else ``~/.crowdlearn/datasets``."""
    env = os.environ.get(ENV_ROOT)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".crowdlearn" / "datasets"


def _root(root: str | os.PathLike[str] | None) -> Path:
    path = default_root() if root is None else Path(root).expanduser()
    if path.exists() and not path.is_dir():
        raise DatasetError(f"{path}: the data set root exists and is not a folder")
    return path


def installed_path(name: str, root: str | os.PathLike[str] | None = None) -> Path | None:
    """``ROOT/NAME`` when data set ``name`` is installed there, else ``None``."""
    record = get_record(name)
    path = _root(root) / record.name
    return path if (path / "metadata.json").is_file() else None


# ---------------------------------------------------------------------------------- load
def load(name: str, root: str | os.PathLike[str] | None = None,
         ) -> tuple[Answers | None, dict[str, Any]]:
    """Read installed data set ``name``: its answers and everything else it has.

    Returns
    -------
    answers : Answers or None
        The crowd answers with their truth (``None`` for image sets without answers:
        ``cifar10``, ``mnist``).
    extras : dict
        ``path`` (ROOT/NAME), ``metadata`` (metadata.json), and when present ``features``,
        ``features_test``, ``test_labels`` (numpy arrays), ``raw`` (the folder of raw image
        files), ``train``/``val``/``test`` (image folders), ``tasks``/``workers`` (upstream ids,
        lists in index order).

    Raises
    ------
    DatasetError
        Not installed under ``root`` (the message gives the install command).
    """
    import numpy as np

    record = get_record(name)
    root_path = _root(root)
    folder = root_path / record.name
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        where = "" if root is None else f" --root {root}"
        raise DatasetError(f"{record.name} is not installed in {root_path} (run: crowdlearn "
                           f"datasets install {record.name}{where})")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    extras: dict[str, Any] = {"path": folder, "metadata": meta}
    for key in ("features", "features_test", "test_labels"):
        p = folder / f"{key}.npy"
        if p.is_file():
            extras[key] = np.load(p, allow_pickle=False)
    for key in ("raw", "train", "val", "test"):
        if (folder / key).is_dir():
            extras[key] = folder / key
    for key in ("tasks", "workers", "test_ids"):
        p = folder / f"{key}.csv"
        if p.is_file():
            extras[key] = _read_ids(p)
    answers = None
    if (folder / "answers.json").is_file():
        from ..io import read_peerannot

        answers = read_peerannot(folder)
    return answers, extras


def _read_ids(path: Path) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return [r[1] for r in rows[1:]]
