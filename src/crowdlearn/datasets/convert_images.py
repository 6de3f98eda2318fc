"""``prepare`` functions of the image-array data sets (CIFAR-10, CIFAR-10H, MNIST): the upstream
binary files are checked (restricted unpickling of the CIFAR batches, IDX headers) and kept
under ``raw/``; CIFAR-10H's crowd answers are converted. See :mod:`crowdlearn.datasets.convert`."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from .layout import _layout, _read_csv, write_answers

if TYPE_CHECKING:
    from .installer import Inputs
    from .registry import DatasetRecord

__all__ = ["CIFAR10_CLASSES", "load_cifar_batch", "prepare_cifar10", "prepare_cifar10h",
           "prepare_mnist"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
CIFAR10_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                   "data_batch_5", "test_batch")
CIFAR10_FOLDER = "cifar-10-batches-py"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")


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
