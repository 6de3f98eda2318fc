"""``prepare`` functions: the raw files of each data set -> crowdlearn's installed layout.

Each function has the signature ``prepare(inputs, out, record) -> dict``: it reads the raw
files through :class:`~crowdlearn.datasets.installer.Inputs`, writes the data set into ``out``
(an empty temporary folder that becomes ``ROOT/NAME`` only if everything succeeds) and returns
extra ``metadata.json`` entries. The layout is described in :mod:`crowdlearn.datasets.registry`.

Every problem with the content is a one-line :class:`~crowdlearn.errors.DataError` naming the
file (and the line or field). numpy and pandas are imported inside the functions, so that
importing the registry stays cheap.
"""

from __future__ import annotations

import csv
import pickle
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..answers import Answers
    from .installer import Inputs
    from .registry import DatasetRecord

__all__ = [
    "CIFAR10_CLASSES",
    "LABELME_CLASSES",
    "MUSIC_CLASSES",
    "prepare_cifar10",
    "prepare_cifar10h",
    "prepare_labelme",
    "prepare_mnist",
    "prepare_music",
    "prepare_snow_tsv",
    "prepare_truth_inference",
    "write_answers",
]

MUSIC_CLASSES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
                 "reggae", "rock")
#: LabelMe classes in CrowdLayer's index order (answers.txt, labels_*.txt)
LABELME_CROWDLAYER_ORDER = ("highway", "insidecity", "tallbuilding", "street", "forest",
                            "coast", "mountain", "opencountry")
#: LabelMe classes as installed (alphabetical, as peerannot's installer)
LABELME_CLASSES = tuple(sorted(LABELME_CROWDLAYER_ORDER))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
CIFAR10_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                   "data_batch_5", "test_batch")
CIFAR10_FOLDER = "cifar-10-batches-py"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")


# ---------------------------------------------------------------------------------- common
def _plain(values: Iterable[Any]) -> list[Any]:
    out = []
    for v in values:
        out.append(v.item() if hasattr(v, "item") else v)
    return out


def _write_ids(path: Path, header: str, ids: Iterable[Any]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([header, "id"])
        w.writerows(enumerate(_plain(ids)))


def write_answers(
    out: Path,
    *,
    name: str,
    task: Any,
    worker: Any,
    label: Any,
    n_tasks: int,
    worker_ids: Any,
    classes: Sequence[Any],
    truth: Any = None,
    task_names: Iterable[Any] | None = None,
    worker_names: Iterable[Any] | None = None,
    n_input: int | None = None,
) -> tuple[Answers, dict[str, Any]]:
    """Write crowd answers given as index arrays into ``out`` as a peerannot folder.

    Tasks are ``0..n_tasks-1`` (tasks without answers are kept, as ``{}``), workers get the ids
    ``worker_ids`` (``worker`` indexes them), labels index ``classes``. Every answer is kept:
    several answers of one worker to one task (some upstream files have them) are written with
    the worker's key repeated, and ``metadata.json`` records ``"duplicates": "all"`` and
    ``repeated_answers`` (see :func:`crowdlearn.io.write_peerannot`). ``tasks.csv`` and
    ``workers.csv`` map indices to the upstream ids (``task_names``, ``worker_names``).
    ``n_input``, when given, is the number of answers read upstream: every one must arrive.

    Returns the answers and the metadata entries describing them.
    """
    import numpy as np

    from ..answers import Answers
    from ..io.peerannot import write_peerannot

    task = np.asarray(task, dtype=np.int64)
    answers = Answers(
        task, np.asarray(worker), np.asarray(label), task_ids=np.arange(n_tasks),
        worker_ids=np.asarray(worker_ids), classes=np.asarray(list(classes)),
        truth=None if truth is None else np.asarray(truth), name=name, duplicates="all",
        source=name,
    )
    if n_input is not None and n_input != answers.n_answers:
        raise DataError(f"{n_input:,} answers read but {answers.n_answers:,} converted "
                        "(an answer was lost)", source=name)
    # non-peerannot files first: write_peerannot then adds its files next to them
    _write_ids(out / "tasks.csv", "task",
               task_names if task_names is not None else range(n_tasks))
    _write_ids(out / "workers.csv", "worker",
               worker_names if worker_names is not None else answers.worker_ids)
    write_peerannot(answers, out, name=name, repeated=True)
    repeats = (answers.task[1:] == answers.task[:-1]) & (answers.worker[1:] == answers.worker[:-1])
    meta = {
        "n_tasks": answers.n_tasks,
        "n_answers": answers.n_answers,
        "classes": _plain(answers.classes),
        "n_tasks_with_truth": int(answers.truth_mask.sum()) if answers.has_truth else 0,
        "repeated_answers": int(np.count_nonzero(repeats)),
    }
    return answers, meta


def _layout(**files: str) -> dict[str, str]:
    base = {
        "answers.json": "{task: {worker: label}}, labels index 'classes'",
        "tasks.csv": "task index -> upstream id",
        "workers.csv": "worker index -> upstream id",
    }
    base.update({k.replace("__", "."): v for k, v in files.items()})
    return base


def _read_csv(path: Path, origin: str, required: Sequence[str], **kwargs: Any) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(path, **kwargs)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read the table ({' '.join(str(exc).split())})",
                        source=origin) from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)} (columns: "
                        f"{', '.join(map(str, frame.columns[:8]))}...)", source=origin)
    return frame


def _codes(values: pd.Series, index: dict[Any, int], origin: str, field: str,
           what: str) -> np.ndarray:
    """Map values through ``index``; an unknown value is an error naming its line."""
    import numpy as np

    mapped = values.map(index)
    bad = mapped.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{what} {values.iloc[i]!r}", source=origin, where=f"line {i + 2}",
                        field=field)
    return mapped.to_numpy(dtype=np.int64)


def _count_rows(path: Path) -> int:
    with open(path, "rb") as f:
        return max(sum(1 for line in f if line.strip()) - 1, 0)


def _reindexed(a: Answers, out: Path, name: str, n_input: int) -> dict[str, Any]:
    """Write answers read with upstream ids as tasks/workers ``0..n-1`` (+ the id maps)."""
    import numpy as np

    _, meta = write_answers(
        out, name=name, task=a.task, worker=a.worker, label=a.label, n_tasks=a.n_tasks,
        worker_ids=np.arange(a.n_workers), classes=a.classes, truth=a.truth,
        task_names=a.task_ids, worker_names=a.worker_ids, n_input=n_input,
    )
    return meta


# ---------------------------------------------------------------------------------- labels only
def prepare_truth_inference(inputs: Inputs, out: Path, record: DatasetRecord) -> dict[str, Any]:
    """``label.csv`` (item,worker,label) + ``truth.csv`` (item,truth) -> peerannot folder.

    Tasks and workers are renumbered ``0..n-1`` in the order of their upstream ids (which are
    already ``0..n-1`` for most of these sets); ``tasks.csv`` / ``workers.csv`` keep the ids.
    Repeated (item, worker) pairs are all kept (``repeated_answers`` counts the repeats).
    """
    from ..io import read_table

    label_path, truth_path = inputs.path("label.csv"), inputs.path("truth.csv")
    a = read_table(label_path, task_col="item", worker_col="worker", label_col="label",
                   truth=truth_path, duplicates="all", name=record.name)
    meta = _reindexed(a, out, record.name, _count_rows(label_path))
    meta["kind"] = "labels"
    meta["layout"] = _layout(**{f"truth_{record.name}.npy": "true class per task, -1 unknown"})
    return meta


def prepare_snow_tsv(inputs: Inputs, out: Path, record: DatasetRecord) -> dict[str, Any]:
    """Snow et al.'s ``*.standardized.tsv`` (annotation, worker, item, response, gold)."""
    import pandas as pd

    from ..answers import Answers

    member = record.files[0].members[0]
    path = inputs.path(member)
    origin = inputs.origin(member)
    frame = _read_csv(path, origin, (), sep="\t")
    if frame.shape[1] < 5:
        raise DataError(f"expected 5 columns (annotation id, worker, item, response, gold), "
                        f"found {frame.shape[1]}", source=origin)
    worker, task, response, gold = (frame.iloc[:, i] for i in (1, 2, 3, 4))
    a = Answers.from_arrays(
        task.to_numpy(), worker.to_numpy(), response.to_numpy(),
        classes=sorted(set(response.tolist()) | set(gold.tolist())),
        truth=pd.Series(gold.to_numpy(), index=task.to_numpy()), name=record.name,
        duplicates="all", source=origin,
    )
    meta = _reindexed(a, out, record.name, len(frame))
    meta["kind"] = "labels"
    meta["layout"] = _layout(**{f"truth_{record.name}.npy": "true class per task, -1 unknown"})
    return meta


# ---------------------------------------------------------------------------------- music
def prepare_music(inputs: Inputs, out: Path, record: DatasetRecord) -> dict[str, Any]:
    """The Music genre CSV files -> answers, truth, features (train and test).

    Task ``i`` is row ``i`` of ``music_genre_gold.csv`` (its ``id`` in ``tasks.csv``), and row
    ``i`` of ``features.npy``. Workers are numbered in order of first appearance in
    ``music_genre_mturk.csv``. Classes: the 10 genres, alphabetically (as peerannot).
    """
    import numpy as np
    import pandas as pd

    names = ("music_genre_gold.csv", "music_genre_test.csv", "music_genre_mturk.csv")
    paths = {n: inputs.path(n) for n in names}
    origins = {n: inputs.origin(n) for n in names}
    gold = _read_csv(paths[names[0]], origins[names[0]], ("id", "class"))
    test = _read_csv(paths[names[1]], origins[names[1]], ("id", "class"))
    crowd = _read_csv(paths[names[2]], origins[names[2]], ("id", "annotator", "class"))
    feats = [c for c in gold.columns if str(c).startswith("feature")]
    if not feats:
        raise DataError("no feature columns (feature0, feature1, ...)", source=origins[names[0]])
    missing = [c for c in feats if c not in test.columns]
    if missing:
        raise DataError(f"missing feature column {missing[0]}", source=origins[names[1]])
    class_index = {c: i for i, c in enumerate(MUSIC_CLASSES)}
    ids = gold["id"].astype(str)
    dup = ids.duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        raise DataError(f"song {ids.iloc[i]!r} listed twice", source=origins[names[0]],
                        where=f"line {i + 2}", field="id")
    task_index = {s: i for i, s in enumerate(ids)}
    truth = _codes(gold["class"].astype(str), class_index, origins[names[0]], "class",
                   "unknown genre")
    test_labels = _codes(test["class"].astype(str), class_index, origins[names[1]], "class",
                         "unknown genre")
    task = _codes(crowd["id"].astype(str), task_index, origins[names[2]], "id",
                  "song not in music_genre_gold.csv:")
    label = _codes(crowd["class"].astype(str), class_index, origins[names[2]], "class",
                   "unknown genre")
    worker, worker_names = pd.factorize(crowd["annotator"].astype(str), sort=False)

    def features(frame: pd.DataFrame, origin: str) -> np.ndarray:
        try:
            x = frame[feats].to_numpy(dtype=np.float32)
        except (ValueError, TypeError) as exc:
            raise DataError(f"non-numeric feature value ({exc})", source=origin) from exc
        if not np.isfinite(x).all():
            r, c = np.argwhere(~np.isfinite(x))[0]
            raise DataError("missing or non-finite value", source=origin,
                            where=f"line {int(r) + 2}", field=feats[int(c)])
        return x

    np.save(out / "features.npy", features(gold, origins[names[0]]), allow_pickle=False)
    np.save(out / "features_test.npy", features(test, origins[names[1]]), allow_pickle=False)
    np.save(out / "test_labels.npy", test_labels, allow_pickle=False)
    _write_ids(out / "test_ids.csv", "row", test["id"].astype(str))
    answers, meta = write_answers(
        out, name=record.name, task=task, worker=worker, label=label, n_tasks=len(ids),
        worker_ids=np.arange(len(worker_names)), classes=MUSIC_CLASSES, truth=truth,
        task_names=ids, worker_names=worker_names, n_input=len(crowd),
    )
    meta.update({
        "kind": "features",
        "n_test": len(test),
        "n_features": len(feats),
        "layout": _layout(**{
            "truth_music.npy": "true genre per task",
            "features.npy": f"float32 ({len(ids)}, {len(feats)}): row i = task i (row i of "
            "music_genre_gold.csv)",
            "features_test.npy": f"float32 ({len(test)}, {len(feats)}): the test songs (no "
            "crowd answers), rows of music_genre_test.csv",
            "test_labels.npy": "int64 true genre of each test row",
            "test_ids.csv": "test row -> song id",
        }),
    })
    return meta


# ---------------------------------------------------------------------------------- labelme
def _lines(path: Path) -> list[str]:
    return [s.strip() for s in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if s.strip()]


def _int_matrix(path: Path, origin: str) -> np.ndarray:
    import numpy as np

    try:
        arr = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise DataError(f"expected a matrix of numbers ({exc})", source=origin) from exc
    if not np.array_equal(arr, np.round(arr)):
        raise DataError("expected integer labels", source=origin)
    return arr.astype(np.int64)


def prepare_labelme(inputs: Inputs, out: Path, record: DatasetRecord) -> dict[str, Any]:
    """Rodrigues' ``deep_LabelMe.tar.gz`` -> answers, truth and peerannot's image folders.

    Task ``i`` is row ``i`` of ``answers.txt`` / ``filenames_train.txt`` (CrowdLayer's order),
    its image ``train/<class>/<stem>-<i>.jpg``; workers keep CrowdLayer's column index. Labels
    are converted from CrowdLayer's class order to the alphabetical one (as peerannot). The
    validation and test images go to ``val/`` and ``test/`` (numbered in the order of
    ``filenames_valid.txt`` / ``filenames_test.txt`` when present, else by class and name).
    """
    import numpy as np

    fname = record.files[0].fname
    top = inputs.tree(fname)
    answers_path = inputs.find("answers.txt")
    if answers_path is None:
        raise DataError("no answers.txt (CrowdLayer answer matrix) in the archive",
                        source=inputs.origin(fname))
    base = answers_path.parent
    origin = f"{inputs.origin(fname)}:{answers_path.relative_to(top).as_posix()}"
    names_path = base / "filenames_train.txt"
    if not names_path.is_file():
        raise DataError("no filenames_train.txt next to answers.txt", source=inputs.origin(fname))
    matrix = _int_matrix(answers_path, origin)
    names = _lines(names_path)
    if len(names) != matrix.shape[0]:
        raise DataError(f"{matrix.shape[0]} rows but filenames_train.txt lists {len(names)} "
                        "images", source=origin)
    k = len(LABELME_CROWDLAYER_ORDER)
    bad = (matrix < -1) | (matrix >= k)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"label {matrix[r, c]} outside -1..{k - 1}", source=origin,
                        where=f"line {int(r) + 1}, column {int(c) + 1}")
    to_alpha = np.array([LABELME_CLASSES.index(c) for c in LABELME_CROWDLAYER_ORDER])

    def index_split(folder: Path) -> dict[str, tuple[str, Path]]:
        found: dict[str, tuple[str, Path]] = {}
        for d in sorted(p for p in folder.iterdir() if p.is_dir()):
            if d.name not in LABELME_CLASSES:
                raise DataError(f"unknown class folder {d.name!r} (expected "
                                f"{', '.join(LABELME_CLASSES)})", source=str(folder))
            for f in sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")):
                found[f.name] = (d.name, f)
        return found

    def place(split_out: str, order: Sequence[str], files: dict[str, tuple[str, Path]],
              where: str) -> np.ndarray:
        labels = np.empty(len(order), dtype=np.int64)
        for i, name in enumerate(order):
            if name not in files:
                raise DataError(f"image {name!r} not found in any class folder", source=where,
                                where=f"line {i + 1}")
            cls, path = files[name]
            labels[i] = LABELME_CLASSES.index(cls)
            inputs.take(path, out / split_out / cls / f"{Path(name).stem}-{i}{path.suffix}")
        return labels

    train_dir = base / "train"
    if not train_dir.is_dir():
        raise DataError("no train/ image folder next to answers.txt", source=inputs.origin(fname))
    truth = place("train", names, index_split(train_dir), str(names_path))
    labels_path = base / "labels_train.txt"
    if labels_path.is_file():
        given = _int_matrix(labels_path, str(labels_path)).ravel()
        if len(given) == len(truth):
            mismatch = np.flatnonzero(to_alpha[np.clip(given, 0, k - 1)] != truth)
            if len(mismatch):
                i = int(mismatch[0])
                raise DataError(f"label of {names[i]} disagrees with its class folder",
                                source=str(labels_path), where=f"line {i + 1}")
    sizes = {}
    for split, split_out in (("valid", "val"), ("test", "test")):
        folder = base / split
        if not folder.is_dir():
            continue
        files = index_split(folder)
        list_path = base / f"filenames_{split}.txt"
        order = _lines(list_path) if list_path.is_file() else sorted(
            files, key=lambda n: (files[n][0], n))
        place(split_out, order, files, str(list_path if list_path.is_file() else folder))
        sizes[split_out] = len(order)
    rows, cols = np.nonzero(matrix != -1)
    used = np.unique(cols)
    _, meta = write_answers(
        out, name=record.name, task=rows, worker=np.searchsorted(used, cols),
        label=to_alpha[matrix[rows, cols]], n_tasks=len(names), worker_ids=used,
        classes=LABELME_CLASSES, truth=truth, task_names=names, worker_names=used,
    )
    meta.update({
        "kind": "images",
        "n_val": sizes.get("val", 0),
        "n_test": sizes.get("test", 0),
        "layout": _layout(**{
            "truth_labelme.npy": "true class per task",
            "train/<class>/<stem>-<task>.jpg": "image of task <task> (row of answers.txt)",
            "val/<class>/<stem>-<i>.jpg": "validation images (no crowd answers)",
            "test/<class>/<stem>-<i>.jpg": "test images (no crowd answers)",
        }),
        "worker_ids": "CrowdLayer answer-matrix columns",
    })
    return meta


# ---------------------------------------------------------------------------------- cifar
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches: plain containers and numpy arrays, nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PICKLE_ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch")


def load_cifar_batch(path: Path, origin: str) -> dict[str, Any]:
    """Read one CIFAR-10 python batch (restricted unpickling) as a dict with text keys."""
    try:
        with open(path, "rb") as f:
            raw = _BatchUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"not a CIFAR python batch ({exc})", source=origin) from exc
    if not isinstance(raw, dict):
        raise DataError("not a CIFAR python batch (expected a dict)", source=origin)
    return {(k.decode("latin-1") if isinstance(k, bytes) else str(k)): v for k, v in raw.items()}


def _cifar_raw(inputs: Inputs, out: Path, fname: str) -> dict[str, Any]:
    """Check the CIFAR-10 batches and place them in ``out/raw/cifar-10-batches-py``."""
    import numpy as np

    members = inputs.members(fname)
    dest = out / "raw" / CIFAR10_FOLDER
    counts: dict[str, int] = {}
    test_labels = None
    for name in CIFAR10_BATCHES:
        origin = inputs.origin(name)
        batch = load_cifar_batch(members[name], origin)
        data, labels = batch.get("data"), batch.get("labels")
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
                or data.shape[1] != 3072:
            raise DataError("'data' must be a uint8 array of shape (n, 3072)", source=origin)
        labels_arr = np.asarray(labels)
        if labels_arr.shape != (data.shape[0],) or labels_arr.dtype.kind not in "iu" \
                or (len(labels_arr) and (labels_arr.min() < 0 or labels_arr.max() > 9)):
            raise DataError("'labels' must hold one class 0..9 per image", source=origin)
        counts[name] = int(data.shape[0])
        if name == "test_batch":
            test_labels = labels_arr.astype(np.int64)
    meta = load_cifar_batch(members["batches.meta"], inputs.origin("batches.meta"))
    classes = [n.decode() if isinstance(n, bytes) else str(n)
               for n in meta.get("label_names", [])] or list(CIFAR10_CLASSES)
    if len(classes) != 10:
        raise DataError(f"expected 10 label_names, found {len(classes)}",
                        source=inputs.origin("batches.meta"))
    for name in (*CIFAR10_BATCHES, "batches.meta"):
        inputs.take(members[name], dest / name)
    n_train = sum(counts[f"data_batch_{i}"] for i in range(1, 6))
    assert test_labels is not None
    return {"classes": classes, "n_train": n_train, "n_test": counts["test_batch"],
            "test_labels": test_labels,
            "raw": {"format": "cifar10-python", "folder": f"raw/{CIFAR10_FOLDER}",
                    "files": [*CIFAR10_BATCHES, "batches.meta"], "images": counts,
                    "image_shape": [3, 32, 32]}}


def prepare_cifar10(inputs: Inputs, out: Path, record: DatasetRecord) -> dict[str, Any]:
    """``cifar-10-python.tar.gz`` -> ``raw/cifar-10-batches-py`` + metadata (no answers)."""
    info = _cifar_raw(inputs, out, record.files[0].fname)
    return {
        "name": record.name, "kind": "images", "n_classes": len(info["classes"]),
        "classes": info["classes"], "n_tasks": info["n_train"], "n_workers": 0,
        "n_test": info["n_test"], "raw": info["raw"],
        "layout": {"raw/cifar-10-batches-py": "CIFAR-10 python batches (tasks: the images of "
                   "data_batch_1..5, in order; test: test_batch); annotators are simulated"},
    }


def prepare_cifar10h(inputs: Inputs, out: Path, record: DatasetRecord) -> dict[str, Any]:
    """``cifar10h-raw.zip`` + the CIFAR-10 batches -> answers, truth and ``raw/``.

    Attention checks (``is_attn_check == 1``) are dropped. Task ``i`` is CIFAR-10 test image
    ``i`` (``cifar10_test_test_idx``); workers keep ``annotator_id``; labels are
    ``chosen_label`` (CIFAR-10 class indices); the truth is the CIFAR-10 test label, checked
    against the file's ``true_label``.
    """
    import numpy as np

    archive = record.files[1].fname
    info = _cifar_raw(inputs, out, archive)
    test_labels = info["test_labels"]
    csv_name = record.files[0].members[0]
    origin = inputs.origin(csv_name)
    cols = ("annotator_id", "chosen_label", "true_label", "cifar10_test_test_idx",
            "is_attn_check")
    frame = _read_csv(inputs.path(csv_name), origin, cols, usecols=lambda c: c in cols)
    n_rows = len(frame)
    frame = frame[frame["is_attn_check"] != 1]
    idx = frame["cifar10_test_test_idx"].to_numpy()
    n_tasks = len(test_labels)
    bad = (idx < 0) | (idx >= n_tasks)
    if bad.any():
        i = int(frame.index[int(np.argmax(bad))])
        raise DataError(f"test image index {idx[int(np.argmax(bad))]} outside 0..{n_tasks - 1}",
                        source=origin, where=f"line {i + 2}", field="cifar10_test_test_idx")
    chosen = frame["chosen_label"].to_numpy()
    if ((chosen < 0) | (chosen > 9)).any():
        i = int(frame.index[int(np.argmax((chosen < 0) | (chosen > 9)))])
        raise DataError("label outside 0..9", source=origin, where=f"line {i + 2}",
                        field="chosen_label")
    wrong = frame["true_label"].to_numpy() != test_labels[idx]
    if wrong.any():
        i = int(frame.index[int(np.argmax(wrong))])
        raise DataError("true_label differs from the CIFAR-10 test label of the image",
                        source=origin, where=f"line {i + 2}", field="true_label")
    workers, worker_codes = np.unique(frame["annotator_id"].to_numpy(), return_inverse=True)
    _, meta = write_answers(
        out, name=record.name, task=idx, worker=worker_codes, label=chosen, n_tasks=n_tasks,
        worker_ids=workers, classes=info["classes"], truth=test_labels,
        task_names=range(n_tasks), worker_names=workers,
    )
    meta.update({
        "kind": "images",
        "attention_checks_dropped": int(n_rows - len(frame)),
        "n_test": info["n_train"],
        "raw": info["raw"],
        "layout": _layout(**{
            "truth_cifar10h.npy": "CIFAR-10 test label per task",
            "raw/cifar-10-batches-py": "CIFAR-10 python batches: task i is row i of "
            "test_batch; data_batch_1..5 (no crowd answers) serve as the test set",
        }),
        "worker_ids": "annotator_id of cifar10h-raw.csv",
    })
    return meta


# ---------------------------------------------------------------------------------- mnist
def _idx_header(path: Path, origin: str) -> tuple[int, tuple[int, ...]]:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] != 0x08:
            raise DataError("not an IDX file of unsigned bytes (bad magic number)", source=origin)
        ndim = head[3]
        dims = struct.unpack(f">{ndim}I", f.read(4 * ndim))
    expected = 4 + 4 * ndim
    n = 1
    for d in dims:
        n *= d
    if size != expected + n:
        raise DataError(f"size {size} bytes does not match its header {dims}", source=origin)
    return ndim, tuple(dims)


def prepare_mnist(inputs: Inputs, out: Path, record: DatasetRecord) -> dict[str, Any]:
    """The four MNIST IDX files -> ``raw/`` (decompressed) + metadata (no answers)."""
    shapes = {}
    for name in MNIST_FILES:
        origin = inputs.origin(name)
        path = inputs.path(name)
        ndim, dims = _idx_header(path, origin)
        if ndim != (3 if "images" in name else 1):
            raise DataError(f"expected {3 if 'images' in name else 1} dimensions, found {ndim}",
                            source=origin)
        shapes[name] = dims
        inputs.take(path, out / "raw" / name)
    for split in ("train", "t10k"):
        n_img = shapes[f"{split}-images-idx3-ubyte"][0]
        n_lab = shapes[f"{split}-labels-idx1-ubyte"][0]
        if n_img != n_lab:
            raise DataError(f"{n_img} images but {n_lab} labels",
                            source=inputs.origin(f"{split}-labels-idx1-ubyte"))
    return {
        "name": record.name, "kind": "images", "n_classes": 10,
        "classes": list(range(10)), "n_tasks": shapes["train-images-idx3-ubyte"][0],
        "n_workers": 0, "n_test": shapes["t10k-images-idx3-ubyte"][0],
        "raw": {"format": "mnist-idx", "folder": "raw", "files": list(MNIST_FILES),
                "images": {"train": shapes["train-images-idx3-ubyte"][0],
                           "test": shapes["t10k-images-idx3-ubyte"][0]},
                "image_shape": list(shapes["train-images-idx3-ubyte"][1:])},
        "layout": {"raw/*-ubyte": "the MNIST IDX files, decompressed; annotators are "
                   "simulated"},
    }
