"""The on-disk ``.npy`` cache of decoded images, keyed by a fingerprint of the source files.

The cache lives in the user's cache folder, never in the data folder: :func:`default_cache_dir`
is ``$CROWDLEARN_CACHE``, else ``$XDG_CACHE_HOME/crowdlearn``, else ``~/.cache/crowdlearn``;
decoded images go to its ``images/`` sub-folder, one entry per data set location and loader
settings (``<loader>[-<parameters>]-<hash of the folder's path>``). ``cache_dir=`` (``fit
--cache-dir``) puts the entries in another folder.

:func:`_through_cache` returns a loader's decoded :class:`~.imageset.ImageSet`, memory-mapping the
arrays of a cache entry whose ``fingerprint.json`` (size and mtime of every source file) still
matches, and writing the entry atomically otherwise (a cache that cannot be written only warns).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ...io._atomic import atomic_dir
from .helpers import PathLike
from .imageset import ImageSet

#: the environment variable naming crowdlearn's cache folder
ENV_CACHE = "CROWDLEARN_CACHE"
_CACHE_VERSION = 1
_ARRAYS = ("train_x", "train_y", "train_ids", "test_x", "test_y", "test_ids",
           "val_x", "val_y", "val_ids")


def default_cache_dir() -> Path:
    """crowdlearn's cache folder: ``$CROWDLEARN_CACHE``, else ``$XDG_CACHE_HOME/crowdlearn``
    (an absolute path only, as the XDG specification says), else ``~/.cache/crowdlearn``."""
    env = os.environ.get(ENV_CACHE, "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "crowdlearn"


def _entry_folder(root: Path, cache_dir: PathLike | None, name: str) -> Path:
    folder = default_cache_dir() / "images" if cache_dir is None else Path(cache_dir)
    # a shared cache folder: tell data sets apart by their resolved location
    digest = hashlib.sha1(str(root.resolve()).encode("utf-8")).hexdigest()[:10]
    return folder / f"{name}-{digest}"


def _entry_name(loader: str, params: dict[str, Any]) -> str:
    parts = [loader] + [f"{k}={v}" for k, v in params.items() if v is not None]
    return re.sub(r"[^\w.=-]", "_", "-".join(parts))


def _fingerprint(root: Path, files: Sequence[Path]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for f in files:
        try:
            st = f.stat()
        except OSError as exc:
            raise DataError(f"cannot read ({exc.strerror or exc})", source=str(f)) from exc
        try:
            key = f.relative_to(root).as_posix()
        except ValueError:
            key = str(f)
        out[key] = [int(st.st_size), int(st.st_mtime_ns)]
    return out


def _read_entry(entry: Path, stamp: dict[str, Any]) -> dict[str, Any] | None:
    """The cached arrays and metadata when ``entry`` holds the same ``stamp``, else ``None``."""
    try:
        stored = json.loads((entry / "fingerprint.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("stamp") != stamp:
        return None
    try:
        arrays = {
            name: np.load(entry / f"{name}.npy", mmap_mode="c", allow_pickle=False)
            for name in stored["arrays"]
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {"arrays": arrays, "meta": stored.get("meta", {})}


def _write_entry(entry: Path, stamp: dict[str, Any], arrays: dict[str, np.ndarray],
                 meta: dict[str, Any]) -> None:
    with atomic_dir(entry) as tmp:
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
        doc = {"stamp": stamp, "arrays": sorted(arrays), "meta": meta}
        (tmp / "fingerprint.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")


def _through_cache(
    loader: str,
    params: dict[str, Any],
    folder: PathLike,
    source: Path,
    files: Sequence[Path],
    decode: Callable[[], ImageSet],
    *,
    cache: bool,
    cache_dir: PathLike | None,
    extra_stamp: dict[str, Any] | None = None,
) -> ImageSet:
    """Return ``decode()``, through the cache (:func:`default_cache_dir`, or ``cache_dir``)
    when ``cache`` is true.

    ``folder`` is the loader's argument (its parent for an archive), whose path keys the entry;
    ``source`` is where the files were found.
    """
    if not cache:
        return decode()
    base = Path(folder)
    base = base.parent if base.is_file() else base
    entry = _entry_folder(base, cache_dir, _entry_name(loader, params))
    stamp = {"version": _CACHE_VERSION, "loader": loader, "params": params,
             "files": _fingerprint(base, files), **(extra_stamp or {})}
    hit = _read_entry(entry, stamp)
    if hit is not None:
        a, meta = hit["arrays"], hit["meta"]
        return ImageSet(
            train_x=a["train_x"], train_y=a["train_y"], test_x=a["test_x"], test_y=a["test_y"],
            val_x=a.get("val_x"), val_y=a.get("val_y"), classes=tuple(meta["classes"]),
            train_ids=a["train_ids"], test_ids=a["test_ids"], val_ids=a.get("val_ids"),
            source=str(source), from_cache=True,
        )
    data = decode()
    arrays = {name: getattr(data, name) for name in _ARRAYS if getattr(data, name) is not None}
    try:
        _write_entry(entry, stamp, arrays, {"classes": list(data.classes)})
    except OSError as exc:
        warnings.warn(f"{entry}: could not write the image cache ({exc}); the images will be "
                      "decoded again next time (pass cache_dir= to put the cache elsewhere)",
                      stacklevel=3)
    return data
