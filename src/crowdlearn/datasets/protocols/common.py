"""Helpers shared by the protocol loaders: seeded streams, random subsets, installed data."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...answers import Answers
from ...errors import CrowdlearnError

PathLike = str | os.PathLike[str]


def _rng(seed: int | None, *stream: int) -> np.random.Generator:
    return np.random.default_rng(None if seed is None else [int(seed), *stream])


def _subset(n: int, limit: int | None, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted random positions of at most ``limit`` of ``n`` items (``None``: all of them)."""
    if limit is None or limit >= n:
        return None
    if limit < 1:
        raise CrowdlearnError(f"limit must be at least 1, got {limit}")
    return np.sort(rng.choice(n, int(limit), replace=False))


def _take(x: Any, idx: np.ndarray | None) -> np.ndarray:
    return np.asarray(x) if idx is None else np.asarray(x[idx])


def _installed_folder(name: str, root: PathLike | None, data: PathLike | None) -> Path:
    """``data`` as given, else ``root/name`` of an installed data set (error: how to install)."""
    if data is not None:
        folder = Path(data).expanduser()
        if not folder.exists():
            raise FileNotFoundError(2, "No such file or directory", str(folder))
        return folder
    from ..installer import load

    _, extras = load(name, root)
    return Path(extras["path"])


def _names(classes: Sequence[Any], labels: np.ndarray) -> np.ndarray:
    return np.asarray(classes)[np.asarray(labels, dtype=np.int64)]


def _installed_images(name: str, root: PathLike | None, data: PathLike | None) -> Any:
    """The ImageSet of ``data`` (a folder the loader accepts) or of the installed ``name``
    (``cifar10`` or ``mnist``, read from its ``raw/`` folder)."""
    from .. import images

    loader = {"cifar10": images.load_cifar10, "mnist": images.load_mnist}[name]
    if data is not None:
        return loader(data)
    from ..installer import load

    _, extras = load(name, root)
    return loader(extras.get("raw", extras["path"]))


def _limit_real(answers: Answers, x: Any, x_test: Any, y_test: Any, limit: int | None,
                seed: int | None) -> tuple[Answers, Any, Any, Any]:
    rng = _rng(seed, 1)
    tr = _subset(answers.n_tasks, limit, rng)
    if tr is not None:
        answers, x = answers.select_tasks(tr, keep_all_workers=True), np.asarray(x[tr])
    te = None if x_test is None else _subset(len(x_test), limit, rng)
    if te is not None:
        x_test, y_test = np.asarray(x_test[te]), np.asarray(y_test)[te]
    return answers, x, x_test, y_test
