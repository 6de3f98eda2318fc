"""The :class:`ImageSet` container: decoded ``uint8`` images, labels and task ids of each split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import DataError


@dataclass(eq=False, repr=False, kw_only=True)
class ImageSet:
    """Decoded images of a data set: ``uint8`` arrays ``(N, C, H, W)`` and ``int64`` labels.

    Attributes
    ----------
    train_x, test_x, val_x:
        Images of each split, ``uint8`` ``(N, C, H, W)``; ``val_x`` is ``None`` when the data set
        has no validation split. Arrays read from the cache are copy-on-write memory maps.
    train_y, test_y, val_y:
        True class index of each image, ``int64`` ``(N,)``.
    classes:
        Class names; label ``k`` is ``classes[k]``.
    train_ids, test_ids, val_ids:
        Task id of each image: its position (``int64``) for CIFAR-10 and MNIST; for image folders,
        the file path relative to the split folder (text, ``"cat/cat-12.png"``), or the
        peerannot task index with ``ids="index"``.
    source:
        The folder (or archive) the images were read from.
    from_cache:
        Whether the arrays came from the ``.npy`` cache rather than from decoding.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    val_x: np.ndarray | None = None
    val_y: np.ndarray | None = None
    classes: tuple[str, ...]
    train_ids: np.ndarray
    test_ids: np.ndarray
    val_ids: np.ndarray | None = None
    source: str = ""
    from_cache: bool = field(default=False)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(C, H, W)`` of one image."""
        return tuple(int(s) for s in self.train_x.shape[1:])

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits present: ``("train", "test")`` or ``("train", "val", "test")``."""
        return ("train", "val", "test") if self.val_x is not None else ("train", "test")

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, y, ids)`` of split ``name`` (``"train"``, ``"val"`` or ``"test"``)."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {name!r}")
        x, y, ids = (getattr(self, f"{name}_{part}") for part in ("x", "y", "ids"))
        if x is None:
            raise DataError(f"no {name} split", source=self.source)
        return x, y, ids

    def select(self, ids: Sequence[Any] | np.ndarray, split: str = "train"
               ) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels of the tasks ``ids``, in that order (e.g. ``answers.task_ids``).

        Ids match by value as text: the integer ``12`` finds the id ``"12"`` and the reverse (JSON
        keys are text). An id that is not in the split is a :class:`DataError`.
        """
        x, y, known = self.split(split)
        position = {key: i for i, key in enumerate(_id_text(known))}
        wanted = _id_text(np.asarray(ids))
        rows = np.empty(len(wanted), dtype=np.int64)
        for j, key in enumerate(wanted):
            i = position.get(key)
            if i is None:
                raise DataError(f"task {key!r} has no image in the {split} split",
                                source=self.source, where=f"position {j}", field="task")
            rows[j] = i
        return np.asarray(x[rows]), np.asarray(y[rows])

    def __repr__(self) -> str:
        shapes = ", ".join(f"{s}={tuple(getattr(self, f'{s}_x').shape)}" for s in self.splits)
        cached = ", from cache" if self.from_cache else ""
        return (f"ImageSet({self.source!r}, {self.n_classes} classes, {shapes}{cached})")


def _id_text(ids: np.ndarray) -> list[str]:
    ids = np.asarray(ids)
    if ids.dtype.kind == "f" and np.all(np.isfinite(ids)) and np.all(ids == np.round(ids)):
        ids = ids.astype(np.int64)
    return [str(v) for v in ids.tolist()]
