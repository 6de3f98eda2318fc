"""``prepare`` functions: the raw files of each data set -> crowdlearn's installed layout.

Each function has the signature ``prepare(inputs, out, record) -> dict``: it reads the raw
files through :class:`~crowdlearn.datasets.installer.Inputs`, writes the data set into ``out``
(an empty temporary folder that becomes ``ROOT/NAME`` only if everything succeeds) and returns
extra ``metadata.json`` entries. The layout is described in :mod:`crowdlearn.datasets.registry`.

Every problem with the content is a one-line :class:`~crowdlearn.errors.DataError` naming the
file (and the line or field). numpy and pandas are imported inside the functions, so that
importing the registry stays cheap.

This module holds the label-table data sets (truth-inference files, Snow et al., Music,
LabelMe); the image-array sets are in :mod:`crowdlearn.datasets.convert_images`, the shared
layout writers in :mod:`crowdlearn.datasets.layout` (both re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from .convert_images import (  # noqa: F401 (re-exported)
    CIFAR10_BATCHES,
    CIFAR10_CLASSES,
    CIFAR10_FOLDER,
    MNIST_FILES,
    load_cifar_batch,
    prepare_cifar10,
    prepare_cifar10h,
    prepare_mnist,
)
from .layout import _codes, _count_rows, _layout, _read_csv, _reindexed, _write_ids, write_answers

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

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
