"""The saved incremental state: a folder with ``state.json`` and ``arrays.npz`` (no pickle).

``state.json`` (format ``crowdlearn-incremental-state``, :data:`STATE_VERSION`): the strategy,
its parameters, the sizes (tasks, workers, classes, answers, batches), the type of each id
vocabulary (``int`` or ``str``) and the SHA-256 of ``arrays.npz``. ``arrays.npz``: the ids
(``task_ids``, ``worker_ids``, ``classes``, in order of first appearance), the answer log
(``log_task``, ``log_worker``, ``log_label``, ``log_next``, ``log_head``) and the strategy's
statistics (see :mod:`._states`). Ids that are neither all integers nor all text are stored as
text. The folder is written with :func:`crowdlearn.io._atomic.atomic_dir` (replaced as a
whole); a state that is not of this format, of another version, whose arrays do not match the
recorded checksum or sizes is refused with one :class:`~crowdlearn.errors.DataError` line.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ._log import Grow, Vocab
from ._states import STATES, _State

STATE_FORMAT = "crowdlearn-incremental-state"
STATE_VERSION = 1
_LOG = ("task", "worker", "label", "next", "head")


def _id_array(values: np.ndarray) -> tuple[np.ndarray, str]:
    items = values.tolist()
    if items and all(isinstance(v, (bool, np.bool_)) for v in items):
        return np.asarray(items, dtype=bool), "bool"
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        return np.asarray(items, dtype=np.int64), "int"
    return np.asarray([str(v) for v in items], dtype=str), "str"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_state(state: _State, path: str | os.PathLike[str]) -> Path:
    """Write ``state`` to the folder ``path`` atomically (the folder is replaced as a whole)."""
    from ...io._atomic import atomic_dir

    arrays: dict[str, np.ndarray] = {}
    types: dict[str, str] = {}
    for key, vocab in (("task_ids", state.tasks), ("worker_ids", state.workers),
                       ("classes", state.classes)):
        arrays[key], types[key] = _id_array(vocab.ids)
    for name in _LOG:
        arrays[f"log_{name}"] = getattr(state.log, name).view
    for name in state.fields:
        value = getattr(state, name)
        arrays[name] = value.view if isinstance(value, Grow) else np.asarray(value)
    meta: dict[str, Any] = {
        "format": STATE_FORMAT, "version": STATE_VERSION, "strategy": state.kind,
        "params": state.params, "n_tasks": len(state.tasks), "n_workers": len(state.workers),
        "n_classes": len(state.classes), "n_answers": state.log.n_answers,
        "n_batches": state.n_batches, "n_iter": state.n_iter, "cursor": state.cursor,
        "id_types": types, "batch_digests": list(state.batch_digests),
    }
    with atomic_dir(path) as tmp:
        np.savez(tmp / "arrays.npz", **arrays)
        meta["arrays_sha256"] = _sha256(tmp / "arrays.npz")
        (tmp / "state.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return Path(path)


def load_state(path: str | os.PathLike[str]) -> _State:
    """Read a state written by :func:`save_state`; anything else is a one-line DataError."""
    folder = Path(path)
    meta_path, npz_path = folder / "state.json", folder / "arrays.npz"
    src = str(meta_path)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("not an incremental state (no state.json)", source=str(folder)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable state ({type(exc).__name__})", source=src) from None
    if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
        raise DataError(f"not a {STATE_FORMAT} file", source=src, field="format")
    if meta.get("version") != STATE_VERSION:
        raise DataError(f"state version {meta.get('version')!r} is not supported (this "
                        f"crowdlearn reads version {STATE_VERSION})", source=src, field="version")
    kind = meta.get("strategy")
    if kind not in STATES:
        raise DataError(f"unknown strategy {kind!r}", source=src, field="strategy")
    if not npz_path.is_file():
        raise DataError("arrays.npz is missing", source=str(folder))
    if _sha256(npz_path) != meta.get("arrays_sha256"):
        raise DataError("arrays.npz does not match the checksum recorded in state.json "
                        "(corrupted or edited)", source=str(npz_path))
    try:
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # a damaged zip, a pickled array
        raise DataError(f"unreadable arrays ({type(exc).__name__})",
                        source=str(npz_path)) from None
    try:
        state = STATES[kind](dict(meta["params"]))
        sizes = (int(meta["n_tasks"]), int(meta["n_workers"]), int(meta["n_classes"]),
                 int(meta["n_answers"]))
        state.n_batches, state.n_iter = int(meta["n_batches"]), int(meta["n_iter"])
        state.cursor = int(meta["cursor"])
        digests = meta.get("batch_digests", [])
        if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
            raise TypeError("batch_digests is not a list of strings")
        state.batch_digests = list(digests)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"malformed state.json ({exc})", source=src) from None
    return _fill(state, arrays, sizes, str(npz_path))


def _fill(state: _State, arrays: dict[str, np.ndarray], sizes: tuple[int, int, int, int],
          src: str) -> _State:
    n_tasks, n_workers, n_classes, n_answers = sizes
    expect = {"task_ids": (n_tasks,), "worker_ids": (n_workers,), "classes": (n_classes,),
              "log_task": (n_answers,), "log_worker": (n_answers,),
              "log_label": (n_answers,), "log_next": (n_answers,), "log_head": (n_tasks,)}
    for name in state.fields:
        expect[name] = ()
    for key, shape in expect.items():
        if key not in arrays:
            raise DataError(f"array {key!r} is missing", source=src, field=key)
        if shape and arrays[key].shape != shape:
            raise DataError(f"array {key!r} has shape {arrays[key].shape}, expected {shape}",
                            source=src, field=key)
    for key, n in (("log_task", n_tasks), ("log_worker", n_workers), ("log_label", n_classes),
                   ("log_head", n_answers)):
        values = arrays[key]
        if len(values) and (values.min() < (-1 if key == "log_head" else 0)
                            or values.max() >= n):
            raise DataError(f"array {key!r} holds indices outside 0..{n - 1}", source=src,
                            field=key)
    state.tasks = Vocab(arrays["task_ids"])
    state.workers = Vocab(arrays["worker_ids"])
    state.classes = Vocab(arrays["classes"])
    for name in _LOG:
        setattr(state.log, name, Grow(arrays[f"log_{name}"].copy()))
    for name in state.fields:
        value = arrays[name].copy()
        setattr(state, name, value if name == "tsum" else Grow(value))
    return state
