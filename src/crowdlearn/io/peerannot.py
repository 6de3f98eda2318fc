"""peerannot data set folders.

Layout (as written by peerannot's installers, e.g. ``datasets/labelme/labelme.py``,
``datasets/music/music.py``, and by ``peerannot simulate``)::

    answers.json      {"task": {"worker": label, ...}, ...}   labels are class indices
    metadata.json     {"name": ..., "n_classes": K, "n_workers": W, ...}     (optional here)
    truth_<name>.npy  true class index per task, task order   (or ground_truth.npy)
    train/<class>/<file stem>-<task index>.<ext>, val/..., test/...     (images; optional)

Reading
-------
* JSON keys are text. Task and worker keys that are all canonical integers (``"0"``, ``"12"``)
  become integer ids; otherwise they stay text. Tasks listed with ``{}`` are kept as tasks
  without answers.
* Labels must be integers (whole floats accepted); anything else is a :class:`DataError`
  naming the task and worker keys. With ``n_classes`` in the metadata, labels must lie in
  ``0..n_classes-1``. Without metadata the classes are ``0..max`` over the answers and the truth.
* ``metadata.json`` keys used: ``name`` (the data set name, else the folder name),
  ``n_classes``, ``n_workers`` (peerannot's meaning: worker indices are below it; checked for
  integer worker ids; workers without answers are not added), ``classes`` (or
  ``class_names``): the class names, indexed by the labels. Other keys (``n_task``, ``url``,
  ...) are ignored.
* Truth: ``truth_<name>.npy``, else the only ``truth_*.npy``, else ``ground_truth.npy``
  (peerannot's simulator); values are class indices in task order, ``-1`` or NaN unknown.
  Without a truth file, when ``train/`` holds one sub-folder per class and the class names are
  known (metadata or ``classes=``), the truth is derived like peerannot's ``load_data``: the
  image ``train/<class>/<stem>-<i>.<ext>`` says that task ``i`` is of class ``<class>``. When
  the sub-folders are not exactly named after classes (peerannot's CIFAR-10H folder order is not
  its class order) nothing is derived.
* Two answers of one worker to one task (a JSON key repeated) follow ``duplicates``. A folder
  whose ``metadata.json`` says ``"duplicates": "all"`` (written with ``repeated=True``, as the
  data set installer does for upstream files that repeat answers) holds them on purpose: its
  repeated answers are all kept unless ``"first"`` or ``"last"`` is asked for.

Writing
-------
:func:`write_peerannot` writes ``answers.json`` (original ids as keys, class indices as
values, indented like peerannot's installers), ``metadata.json`` (``name``, ``n_classes``,
``n_workers``, ``nb_workers``, ``n_task``, and ``classes`` when the classes are not ``0..K-1``)
and ``truth_<name>.npy`` (int64, ``-1`` unknown) when there is truth. Images are not part of
:class:`~crowdlearn.answers.Answers` and are not written; an existing folder's other content is
kept. Reading the folder back gives equal answers, provided text ids do not look like integers
and every worker has an answer (a worker without answers cannot be listed in answers.json).
Several answers of one worker to one task are refused, unless ``repeated=True``: the worker's
key is then repeated inside the task's object (valid JSON that crowdlearn reads back whole;
Python's ``json`` module, hence peerannot, keeps only the last) and ``metadata.json`` records
``"duplicates": "all"`` and ``repeated_answers`` (the number of answers that repeat a pair).
"""

from __future__ import annotations

import json
import re
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError, option
from ._atomic import atomic_write
from ._common import (
    PathLike,
    RawTruth,
    build_answers,
    check_duplicates_policy,
    encode_text_keys,
    not_utf8,
    publish_folder,
    require_nonempty,
    source_name,
)
from .truth import load_truth

if TYPE_CHECKING:
    from ..answers import Answers

__all__ = ["read_peerannot", "truth_file_name", "write_peerannot"]

#: a metadata.json declaring more classes is refused (arrays of that size would be allocated)
MAX_METADATA_CLASSES = 100_000
ANSWERS_FILE = "answers.json"
METADATA_FILE = "metadata.json"


def truth_file_name(name: str) -> str:
    """peerannot's truth file name for data set ``name``: ``truth_<name>.npy``."""
    safe = re.sub(r"[^\w.-]+", "_", name).strip("._") or "dataset"
    return f"truth_{safe}.npy"


def _owned(name: str) -> bool:
    return name in (ANSWERS_FILE, METADATA_FILE, "ground_truth.npy") or (
        name.startswith("truth_") and name.endswith(".npy")
    )


def read_peerannot(
    folder: PathLike,
    *,
    truth: Any = None,
    classes: Any = None,
    n_classes: int | None = None,
    duplicates: str = "error",
    name: str | None = None,
) -> Answers:
    """Read a peerannot data set folder (or its ``answers.json``).

    Parameters
    ----------
    folder:
        The folder holding ``answers.json``, or the path of ``answers.json`` itself.
    truth:
        ``None``: the folder's truth file (or the ``train/`` class folders, see the module
        documentation); ``False``: none; else a truth file, mapping or array
        (:mod:`crowdlearn.io.truth`).
    classes, n_classes:
        Class names indexed by the labels / number of classes; they override metadata.json.
    duplicates:
        ``"error"``, ``"first"``, ``"last"`` or ``"all"`` for repeated (task, worker) keys.
    name:
        Data set name (default: metadata's ``name``, else the folder name).

    Returns
    -------
    Answers
    """
    check_duplicates_policy(duplicates)
    path = Path(folder)
    if path.name == ANSWERS_FILE and path.is_file():
        path = path.parent
    if not path.exists():
        raise DataError("no such folder", source=source_name(folder))
    if not path.is_dir():
        raise DataError("is a file, expected a peerannot folder (or its answers.json)",
                        source=source_name(folder))
    answers_path = path / ANSWERS_FILE
    if not answers_path.is_file():
        raise DataError(f"no {ANSWERS_FILE} in the folder", source=source_name(folder))
    meta = _read_metadata(path / METADATA_FILE)
    src = source_name(answers_path)
    if duplicates == "error" and meta.get("duplicates") == "all":
        duplicates = "all"  # the folder says that its repeated answers are meant

    names = _class_names(classes, n_classes, meta, path / METADATA_FILE)
    k = len(names) if names is not None else (n_classes if n_classes is not None
                                              else meta.get("n_classes"))
    data_name = name if name is not None else (meta.get("name") or path.resolve().name)

    task_keys, lengths, worker_keys, labels = _parse_answers(answers_path)
    if names is None and n_classes is None and k is not None and k > MAX_METADATA_CLASSES:
        raise DataError(f"n_classes {k:,} exceeds the {MAX_METADATA_CLASSES:,} classes a metadata "
                        "file may declare (read(..., n_classes=N) overrides it)",
                        source=source_name(path / METADATA_FILE), field="n_classes")
    t_entry, task_ids = encode_text_keys(task_keys, source=src, field="task")
    w_codes, worker_ids = encode_text_keys(worker_keys, source=src, field="worker")
    t_codes = np.repeat(t_entry, lengths)
    ends = np.cumsum(lengths)

    def locate(i: int) -> str:  # answer i (file order) -> its JSON keys
        entry = int(np.searchsorted(ends, int(i), side="right"))
        return f"task {json.dumps(task_keys[entry])}, worker {json.dumps(worker_keys[int(i)])}"

    _check_n_workers(meta, worker_ids, path / METADATA_FILE)

    raw: RawTruth | None
    if truth is None:
        raw = _folder_truth(path, data_name, names)
    else:
        raw = load_truth(truth)
    label_arr = np.empty(len(labels), dtype=object)
    label_arr[:] = labels
    return build_answers(
        t_codes, w_codes, label_arr, truth=raw,
        n_classes=k if names is None else None, class_names=names,
        require_integer_labels=True, name=data_name, duplicates=duplicates, source=src,
        locate=locate, task_ids=task_ids, worker_ids=worker_ids,
    )


def _load_json(path: Path) -> Any:
    require_nonempty(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(path) from exc
    try:
        return json.loads(text, object_pairs_hook=tuple)
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON: {exc.msg}", source=source_name(path),
                        where=f"line {exc.lineno}, column {exc.colno}") from exc
    except RecursionError as exc:
        raise DataError("JSON nested too deeply (expected {task: {worker: label}})",
                        source=source_name(path)) from exc


def _parse_answers(path: Path) -> tuple[list[str], np.ndarray, list[str], list[Any]]:
    """Flatten ``{task: {worker: label}}`` without a Python loop per answer.

    JSON objects are decoded as tuples of (key, value) pairs, so that repeated keys survive
    (and meet the duplicates policy) and objects are told apart from arrays (lists).
    """
    src = source_name(path)
    top = _load_json(path)
    if not isinstance(top, tuple):
        raise DataError("expected a JSON object {task: {worker: label}} at the top level",
                        source=src)
    if not top:
        raise DataError("no tasks (empty JSON object)", source=src)
    task_keys = list(map(itemgetter(0), top))
    inner = list(map(itemgetter(1), top))
    if set(map(type, inner)) != {tuple}:
        i = next(j for j, v in enumerate(inner) if not isinstance(v, tuple))  # error path
        raise DataError(
            f"expected an object {{worker: label}}, got {_json_type(inner[i])}", source=src,
            where=f"task {json.dumps(task_keys[i])}",
        )
    lengths = np.fromiter(map(len, inner), dtype=np.int64, count=len(inner))
    pairs = list(chain.from_iterable(inner))
    if not pairs:
        raise DataError("no answers (every task has an empty object)", source=src)
    worker_keys = list(map(itemgetter(0), pairs))
    labels = list(map(itemgetter(1), pairs))
    return task_keys, lengths, worker_keys, labels


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _read_metadata(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    pairs = _load_json(path)
    src = source_name(path)
    if not isinstance(pairs, tuple):
        raise DataError("expected a JSON object", source=src)
    meta = dict(pairs)
    for key in ("n_classes", "n_workers"):
        if key in meta:
            v = meta[key]
            if not isinstance(v, int) or isinstance(v, bool) or v < (1 if key == "n_classes"
                                                                     else 0):
                raise DataError(f"expected a positive integer, got {json.dumps(v)}",
                                source=src, field=key)
    if "duplicates" in meta and meta["duplicates"] not in ("all", "error"):
        raise DataError(f"expected \"all\" or \"error\", got {json.dumps(meta['duplicates'])}",
                        source=src, field="duplicates")
    if "name" in meta and not isinstance(meta["name"], str):
        raise DataError(f"expected a string, got {json.dumps(meta['name'])}", source=src,
                        field="name")
    for key in ("classes", "class_names"):
        if key in meta:
            v = meta[key]
            meta[key] = _names_array(v, src, key)
    return meta


def _names_array(value: Any, src: str, key: str) -> np.ndarray:
    items = list(value) if isinstance(value, (list, tuple)) else None
    if items is None or not items:
        raise DataError("expected a non-empty list of class names", source=src, field=key)
    if all(isinstance(v, str) for v in items):
        arr = np.array(items, dtype=str)
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        arr = np.array(items, dtype=np.int64)
    else:
        raise DataError("class names must be all text or all integers", source=src, field=key)
    if len(np.unique(arr)) != len(arr):
        raise DataError("class names are not distinct", source=src, field=key)
    return arr


def _class_names(
    classes: Any, n_classes: int | None, meta: dict[str, Any], meta_path: Path
) -> np.ndarray | None:
    if classes is not None:
        names = np.asarray(list(classes))
        if n_classes is not None and len(names) != n_classes:
            raise DataError(f"{len(names)} class names given but n_classes is {n_classes}",
                            source=source_name(meta_path), field="n_classes")
        return names
    names = meta.get("classes", meta.get("class_names"))
    if names is None:
        return None
    k = n_classes if n_classes is not None else meta.get("n_classes")
    if k is not None and len(names) != k:
        raise DataError(f"{len(names)} class names but n_classes is {k}",
                        source=source_name(meta_path), field="classes")
    return names


def _check_n_workers(meta: dict[str, Any], worker_ids: np.ndarray, meta_path: Path) -> None:
    """peerannot numbers workers 0..n_workers-1: check it when the ids are such indices."""
    n = meta.get("n_workers")
    if (n is None or worker_ids.dtype.kind not in "iu" or not len(worker_ids)
            or int(worker_ids.min()) < 0):
        return
    top = int(worker_ids.max())
    if top >= n:
        raise DataError(
            f"n_workers is {n} but answers.json has worker {top} (peerannot's worker indices "
            f"are 0..n_workers-1)", source=source_name(meta_path), field="n_workers",
        )


def _folder_truth(path: Path, data_name: str, names: np.ndarray | None) -> RawTruth | None:
    candidates = [path / truth_file_name(data_name)]
    found = sorted(p for p in path.glob("truth_*.npy") if p.is_file())
    if len(found) == 1:
        candidates.append(found[0])
    candidates.append(path / "ground_truth.npy")
    for c in candidates:
        if c.is_file():
            return load_truth(c)
    if len(found) > 1:
        raise DataError(
            f"several truth files ({', '.join(p.name for p in found)}) and none is "
            f"{truth_file_name(data_name)}; pass {option('truth', 'FILE', '...')} to choose",
            source=source_name(path),
        )
    return _train_folder_truth(path / "train", names)


def _train_folder_truth(train: Path, names: np.ndarray | None) -> RawTruth | None:
    if names is None or not train.is_dir():
        return None
    folders = sorted(p for p in train.iterdir() if p.is_dir())
    index = {str(n): i for i, n in enumerate(names.tolist())}
    if not folders or any(f.name not in index for f in folders):
        return None
    tasks: list[int] = []
    labels: list[Any] = []
    files: list[str] = []
    for f in folders:  # one entry per image file: a task, not an answer
        for img in sorted(p for p in f.iterdir() if p.is_file()):
            tail = img.stem.rsplit("-", 1)[-1]
            if "-" not in img.stem or not tail.isdigit():
                raise DataError("image name must end with -<task index> (peerannot layout)",
                                source=source_name(img))
            tasks.append(int(tail))
            labels.append(names[index[f.name]])
            files.append(str(img.relative_to(train.parent)))
    if not tasks:
        return None
    label_arr = np.empty(len(labels), dtype=object)
    label_arr[:] = labels
    return RawTruth(task=np.array(tasks, dtype=np.int64), label=label_arr,
                    source=source_name(train), locate=lambda i: f"file {files[int(i)]}",
                    fields=("task", "class folder"))


def write_peerannot(
    answers: Answers, folder: PathLike, *, name: str | None = None, repeated: bool = False,
) -> Path:
    """Write ``answers`` as a peerannot data set folder (atomically).

    Parameters
    ----------
    answers:
        The answers; a worker may answer a task only once (``answers.json`` maps each worker
        of a task to one label), unless ``repeated``.
    folder:
        The output folder. Created (or replaced) atomically; when it holds other content
        (images), only peerannot's answer files are replaced.
    name:
        Data set name (default: ``answers.name``, else the folder name).
    repeated:
        Keep several answers of one worker to one task by repeating the worker's key (see the
        module documentation); ``metadata.json`` then says ``"duplicates": "all"``.

    Returns
    -------
    Path
        ``folder``.
    """
    folder = Path(folder)
    n_repeated = _n_repeated(answers)
    if n_repeated and not repeated:
        raise DataError(
            f"answers.json cannot hold two answers of one worker to one task ({n_repeated:,} "
            f"answers repeat a pair); keep one of each when reading "
            f"({option('duplicates', 'first|last', repr('first') + ' or ' + repr('last'))}) "
            "or write a table", source=source_name(folder))
    data_name = name or answers.name or folder.resolve().name
    task_keys = [_key(v) for v in answers.task_ids.tolist()]
    worker_keys = [_key(v) for v in answers.worker_ids.tolist()]
    workers = list(map(worker_keys.__getitem__, answers.worker.tolist()))
    labels = answers.label.tolist()
    bounds = answers.task_indptr.tolist()
    spans = list(zip(task_keys, bounds[:-1], bounds[1:], strict=True))
    meta: dict[str, Any] = {
        "name": data_name,
        "n_classes": answers.n_classes,
        "n_workers": _n_workers(answers.worker_ids),
        "nb_workers": answers.n_workers,
        "n_task": answers.n_tasks,
    }
    if not (answers.classes.dtype.kind in "iu"
            and np.array_equal(answers.classes, np.arange(answers.n_classes))):
        meta["classes"] = [c.item() if isinstance(c, np.generic) else c
                           for c in answers.classes]
    if n_repeated:
        meta["duplicates"] = "all"
        meta["repeated_answers"] = n_repeated

    def build(tmp: Path) -> None:
        with atomic_write(tmp / ANSWERS_FILE) as f:
            if n_repeated:
                _dump_repeated(f, spans, workers, labels)
            else:
                body = {key: dict(zip(workers[a:b], labels[a:b], strict=True))
                        for key, a, b in spans}
                json.dump(body, f, ensure_ascii=False, indent=3)
            f.write("\n")
        with atomic_write(tmp / METADATA_FILE) as f:
            json.dump(meta, f, ensure_ascii=False, indent=3)
            f.write("\n")
        if answers.has_truth:
            assert answers.truth is not None
            with atomic_write(tmp / truth_file_name(data_name), "wb") as f:
                np.save(f, answers.truth.astype(np.int64), allow_pickle=False)

    return publish_folder(folder, build, _owned)


def _n_repeated(answers: Answers) -> int:
    """How many answers repeat the (task, worker) pair of the answer before them."""
    same = (answers.task[1:] == answers.task[:-1]) & (answers.worker[1:] == answers.worker[:-1])
    return int(np.count_nonzero(same))


def _dump_repeated(f: Any, spans: list[tuple[str, int, int]], workers: list[str],
                   labels: list[Any]) -> None:
    """``answers.json`` laid out as ``json.dump(indent=3)`` does, keys repeated as they come."""
    f.write("{")
    for n, (key, a, b) in enumerate(spans):
        f.write(("," if n else "") + "\n   " + json.dumps(key, ensure_ascii=False) + ": {")
        if a == b:
            f.write("}")
            continue
        inner = ",".join(f"\n      {json.dumps(w, ensure_ascii=False)}: {json.dumps(v)}"
                         for w, v in zip(workers[a:b], labels[a:b], strict=True))
        f.write(inner + "\n   }")
    f.write("\n}")


def _key(value: Any) -> str:
    return str(value)


def _n_workers(worker_ids: np.ndarray) -> int:
    """peerannot's ``n_workers``: worker indices are below it."""
    if worker_ids.dtype.kind in "iu" and len(worker_ids) and int(worker_ids.min()) >= 0:
        return int(worker_ids.max()) + 1
    return len(worker_ids)
