"""Writing and reloading what a :class:`~crowdlearn.deep.CrowdClassifier` learned.

:func:`write_fit_results` writes one output folder, atomically (it is built in a hidden sibling
folder and renamed into place at the end, so a failure never leaves a partial folder):

``results.json``
    What was trained and how it went, in the spirit of peerannot's result files: strategy and
    parameters, backbone, optimisation settings, per-epoch ``train_loss``, ``val_loss``,
    ``val_accuracy`` (only when the answers carry a truth), ``test_accuracy`` (only with a test
    set) and ``lr``, the selected ``best_epoch``, the final test accuracy, the classifier's
    accuracy on the training tasks (with a truth), ``confusion_error`` (with the true
    confusions), seconds, device and versions.
``best.pth``
    The selected model (:func:`save_model`; reload it with :func:`load_model`).
``confusions.npy`` and ``workers.csv``
    Estimated annotator confusions (workers x K x K, row = true class, rows sum to 1) and the
    worker ids in the same order (one ``worker`` column). Absent when the strategy estimates
    none (two-stage training on majority vote, for example).
``predictions.csv``
    ``task, label``: the classifier's prediction for every training task (class names).
``test_predictions.csv``
    ``task, label, truth`` for the test items, when a test set is given.
``confusions.png``, ``history.png``
    With ``plot=True``: estimated confusions (beside the true ones when known) and training
    curves.

:func:`load_true_confusions` reads known confusion matrices (``crowdlearn simulate``'s
``confusions.npy``, an ``.npz`` with ``confusions`` and ``worker_ids``) in the answers' worker
order, for :func:`crowdlearn.metrics.confusion_estimation_error`.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._plain import plain_data
from ..errors import CrowdlearnError, DataError

if TYPE_CHECKING:
    from ..answers import Answers
    from .classifier import CrowdClassifier

__all__ = ["FIT_FILES", "fit_summary", "load_model", "load_true_confusions", "save_model",
           "write_fit_results"]

#: the files :func:`write_fit_results` may write, in the order it lists them
FIT_FILES = ("results.json", "best.pth", "confusions.npy", "workers.csv", "predictions.csv",
             "test_predictions.csv", "confusions.png", "history.png")

_FORMAT = "crowdlearn.CrowdClassifier"
_FORMAT_VERSION = 1


# ---------------------------------------------------------------------- save / load
def _plain_leaf(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else None


def _plain(value: Any) -> Any:
    """``value`` as plain Python data (dict, list, str, int, float, bool, None) or ``None``."""
    return plain_data(value, _plain_leaf)


def _head_spec(clf: CrowdClassifier) -> tuple[str, dict[str, Any]]:
    """The head's canonical name and the parameters it was built with (as in ``fit``)."""
    name, params = clf._head_spec()
    if name.lower().replace("_", "-") in ("two-stage", "twostage", "aggregated"):
        params.setdefault("seed", clf.seed)
    return type(clf.head_).name or name, params


def _input_shape(clf: CrowdClassifier, given: Any = None, *, required: bool = True
                 ) -> tuple[int, ...] | None:
    """The shape of one item the classifier was trained on.

    ``given``, else ``clf.input_shape_`` when the estimator records it, else the shape of the
    standardisation mean (feature vectors), of CoNAL's input, or the MLP's input width.
    """
    for shape in (given, getattr(clf, "input_shape_", None),
                  None if getattr(clf, "mean_", None) is None else np.shape(clf.mean_),
                  getattr(clf.head_, "input_shape", None) or None,
                  (clf.backbone_.in_features,) if hasattr(clf.backbone_, "in_features")
                  else None):
        if shape is not None:
            return tuple(int(s) for s in shape)
    if required:
        raise CrowdlearnError(
            "cannot tell the shape of one item from this classifier: pass input_shape= "
            "(e.g. (3, 32, 32))")
    return None


def save_model(clf: CrowdClassifier, path: str | os.PathLike[str], *,
               input_shape: tuple[int, ...] | None = None) -> Path:
    """Save a fitted classifier to ``path`` (a ``.pth`` file), atomically.

    The file is a :func:`torch.save` dictionary of plain data and CPU tensors (loadable with
    ``torch.load(path, weights_only=True)``): the model's ``state_dict`` (backbone and crowd
    head, the selected epoch's weights), the backbone's name, parameters and input shape, the
    strategy and its parameters, the classes, the worker ids, the standardisation mean and
    scale, the estimated confusions, the training history and the estimator's parameters.

    A backbone given as an ``nn.Module`` (not by name) is saved by weights only: pass an
    identical module to :func:`load_model`. A ``transform`` is not saved either.

    ``input_shape`` (the shape of one item) is needed only for image backbones trained without
    standardisation; feature vectors' shape is known from the model.
    """
    import torch

    from .. import __version__
    from ..io._atomic import atomic_write

    clf._check_fitted()
    head_name, head_params = _head_spec(clf)
    params = {k: _plain(v) for k, v in clf.get_params().items()
              if k not in ("backbone", "transform", "device", "verbose")}
    mean = getattr(clf, "mean_", None)
    scale = getattr(clf, "scale_", None)
    ckpt = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "crowdlearn_version": __version__,
        "state_dict": {k: v.detach().cpu() for k, v in clf.model_.state_dict().items()},
        "backbone": clf.backbone if isinstance(clf.backbone, str) else None,
        "backbone_class": type(clf.backbone_).__name__,
        "backbone_params": _plain(dict(clf.backbone_params or {})),
        "input_shape": list(_input_shape(clf, input_shape)),
        "strategy": head_name,
        "strategy_params": _plain(head_params),
        "params": params,
        "classes": _plain(np.asarray(clf.classes_)),
        "worker_ids": _plain(np.asarray(clf.worker_ids_)),
        "n_classes": int(clf.n_classes_),
        "n_workers": int(clf.n_workers_),
        "mean": None if mean is None else torch.as_tensor(np.asarray(mean, np.float32)),
        "scale": None if scale is None else torch.as_tensor(np.asarray(scale, np.float32)),
        "confusions": None if clf.confusions_ is None
        else torch.as_tensor(np.asarray(clf.confusions_, np.float32)),
        "best_epoch": int(clf.best_epoch_),
        "selection": str(clf.selection_),
        "history": _plain(dict(clf.history_)),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        torch.save(ckpt, f)
    return path


def load_model(path: str | os.PathLike[str], *, backbone: Any = None, device: Any = "cpu",
               transform: Any = None) -> CrowdClassifier:
    """Rebuild a :class:`CrowdClassifier` saved by :func:`save_model` (``best.pth``).

    Parameters
    ----------
    path:
        The ``.pth`` file.
    backbone:
        An ``nn.Module`` of the saved architecture, needed only when the model was trained
        with a backbone module rather than a backbone name.
    device:
        Where to put the model (``"cpu"``, ``"gpu"``, ``"auto"``).
    transform:
        The batched ``transform(x, train)`` used in training, if any (not saved).

    Returns
    -------
    CrowdClassifier
        Ready to ``predict`` / ``predict_proba`` (the same outputs as the saved classifier) with
        ``classes_``, ``worker_ids_``, ``confusions_``, ``history_``, ``best_epoch_``,
        ``model_``. It does not hold the training answers (``answers_``, ``probas_``).

    Examples
    --------
    >>> clf = load_model("out/best.pth")                         # doctest: +SKIP
    >>> clf.predict(read_features("test.csv"))                    # doctest: +SKIP
    """
    import copy

    import torch

    from .backbones import make_backbone
    from .classifier import CrowdClassifier
    from .data import resolve_device
    from .heads import make_head
    from .train import CrowdModel

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "No such file", str(path))
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors of every kind
        raise DataError(f"not a crowdlearn model file ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:200]})", source=str(path)) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != _FORMAT:
        raise DataError("not a crowdlearn model file (save one with crowdlearn.deep.results."
                        "save_model or crowdlearn fit)", source=str(path))
    if int(ckpt.get("format_version", 0)) > _FORMAT_VERSION:
        raise DataError(f"model file format {ckpt['format_version']} is newer than this "
                        f"crowdlearn understands ({_FORMAT_VERSION})", source=str(path))
    from ._checkpoint import check_checkpoint, check_shapes

    check_checkpoint(ckpt, path)
    params = dict(ckpt["params"])
    if "milestones" in params:
        params["milestones"] = tuple(params["milestones"] or ())
    params = {k: v for k, v in params.items() if k in CrowdClassifier._PARAMS}
    n_classes, n_workers = int(ckpt["n_classes"]), int(ckpt["n_workers"])
    input_shape = tuple(int(s) for s in ckpt["input_shape"])
    if ckpt["backbone"] is None and backbone is None:
        raise CrowdlearnError(
            f"{path}: the model was trained with a backbone module "
            f"({ckpt.get('backbone_class')}), not a name: pass backbone=<an identical module>")

    def build() -> Any:
        if ckpt["backbone"] is not None:
            net = make_backbone(ckpt["backbone"], input_shape, n_classes,
                                **{**dict(ckpt["backbone_params"] or {}), "pretrained": False})
        else:
            net = copy.deepcopy(backbone)
        head = make_head(ckpt["strategy"], n_classes=n_classes, n_workers=n_workers,
                         input_shape=input_shape,
                         embedding_dim=int(getattr(net, "embedding_dim", 0)),
                         **dict(ckpt["strategy_params"] or {}))
        return CrowdModel(net, head)

    # first on the meta device (no memory): a model whose parameters differ from the saved
    # weights (a crafted file asking for a huge backbone) is refused before anything is allocated
    try:
        with torch.device("meta"):
            check_shapes(build(), ckpt["state_dict"], path)
        model = build()
    except DataError:
        raise
    except (CrowdlearnError, TypeError, ValueError, KeyError, RuntimeError,
            NotImplementedError) as exc:
        raise DataError(f"cannot rebuild the saved model ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:200]})", source=str(path)) from exc
    backbone_arg: Any = ckpt["backbone"] if ckpt["backbone"] is not None else backbone
    state = ckpt["state_dict"]
    # buffers sized by the data (two-stage's per-task targets) take the saved shape
    for name, buf in list(model.named_buffers()):
        saved = state.get(name)
        if saved is not None and tuple(saved.shape) != tuple(buf.shape):
            owner_name, _, leaf = name.rpartition(".")
            owner = model.get_submodule(owner_name) if owner_name else model
            owner.register_buffer(leaf, torch.empty_like(saved))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise DataError(f"the weights do not fit the model ({str(exc).splitlines()[0]})",
                        source=str(path)) from exc
    dev = resolve_device(device)
    model.to(dev).eval()

    clf = CrowdClassifier(backbone=backbone_arg, device=device, transform=transform, **params)
    clf.model_ = model
    clf.backbone_ = model.backbone
    clf.head_ = model.head
    clf.device_ = dev
    clf.input_shape_ = input_shape
    clf.classes_ = np.asarray(ckpt["classes"])
    clf.n_classes_ = n_classes
    clf.n_workers_ = n_workers
    clf.worker_ids_ = np.asarray(ckpt["worker_ids"])
    clf.mean_ = None if ckpt["mean"] is None else ckpt["mean"].numpy()
    clf.scale_ = None if ckpt["scale"] is None else ckpt["scale"].numpy()
    clf.confusions_ = None if ckpt["confusions"] is None else ckpt["confusions"].numpy()
    clf.best_epoch_ = int(ckpt["best_epoch"])
    clf.selection_ = ckpt["selection"]
    clf.history_ = dict(ckpt["history"])
    clf.stopped_epoch_ = len(clf.history_.get("epoch", []))
    return clf


# ---------------------------------------------------------------------- true confusions
def load_true_confusions(source: str | os.PathLike[str] | np.ndarray, answers: Answers, *,
                         worker_ids: Any = None) -> np.ndarray:
    """Known confusion matrices, one per worker of ``answers``, in the answers' worker order.

    Parameters
    ----------
    source:
        A ``.npy`` file or an array of shape (workers x K x K), rows = true class (the
        ``confusions.npy`` of ``crowdlearn simulate``), or an ``.npz`` with an array
        ``confusions`` and optionally ``worker_ids`` (one id per matrix, as ``crowdlearn
        aggregate``'s ``workers_*.npz`` and :func:`write_fit_results`'s files hold them).
    answers:
        The answers whose workers the matrices describe (and whose classes they use, in
        order).
    worker_ids:
        The worker id of each matrix, when ``source`` does not carry them.

    Matrices are matched to workers

    * by id, when ids come with the matrices (``worker_ids``, or the ``.npz``);
    * otherwise, when the answers' worker ids are integers below the number of matrices,
      matrix ``m`` is the worker with id ``m``: ``crowdlearn simulate`` numbers its workers
      ``0..M-1`` and a worker without any answer is absent from the answers read back, so
      the file may hold more matrices than the answers have workers;
    * otherwise the file must hold exactly one matrix per worker, in the answers' worker order
      (:attr:`Answers.worker_ids`, the order of ``workers.csv``).

    Raises
    ------
    DataError
        Wrong shape, number of classes or workers, a worker without a matrix, or matrices whose
        rows do not sum to 1 (the message says when the columns do: transpose them).
    """
    name = "array"
    ids = worker_ids
    if isinstance(source, np.ndarray):
        conf = source
    else:
        name = os.fspath(source)
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(2, "No such file", name)
        try:
            loaded = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"not a readable .npy/.npz file ({' '.join(str(exc).split())})",
                            source=name) from exc
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                if "confusions" not in loaded.files:
                    raise DataError(f"no array 'confusions' (arrays: "
                                    f"{', '.join(loaded.files) or 'none'})", source=name)
                conf = loaded["confusions"]
                if ids is None and "worker_ids" in loaded.files:
                    ids = loaded["worker_ids"]
        else:
            conf = loaded
    conf = np.asarray(conf)
    if conf.dtype.kind not in "iuf":
        raise DataError(f"confusion matrices must be numbers, got dtype {conf.dtype}",
                        source=name)
    conf = conf.astype(np.float64)
    k = answers.n_classes
    if conf.ndim != 3 or conf.shape[1] != conf.shape[2]:
        raise DataError(f"expected confusion matrices of shape (workers, K, K), got "
                        f"{conf.shape}", source=name)
    if conf.shape[1] != k:
        raise DataError(f"{conf.shape[1]} classes in the confusion matrices but {k} in the "
                        "answers", source=name)
    if not np.isfinite(conf).all() or (conf < 0).any():
        raise DataError("confusion matrices must be finite and non-negative", source=name)
    rows_ok = np.allclose(conf.sum(axis=2), 1.0, atol=1e-3)
    if not rows_ok:
        hint = (" (their columns do: transpose them, crowdlearn's rows are the true class)"
                if np.allclose(conf.sum(axis=1), 1.0, atol=1e-3) else "")
        raise DataError(f"the rows of the confusion matrices must sum to 1{hint}", source=name)

    workers = np.asarray(answers.worker_ids)
    m_file, m = conf.shape[0], answers.n_workers
    if ids is not None:
        ids = np.asarray(ids).reshape(-1)
        if len(ids) != m_file:
            raise DataError(f"{len(ids)} worker ids for {m_file} confusion matrices",
                            source=name)
        rows = _match(workers, ids)
        missing = rows < 0
        if missing.any():
            shown = ", ".join(str(w) for w in workers[missing][:3])
            raise DataError(f"no confusion matrix for {int(missing.sum())} of {m} workers "
                            f"({shown}{', ...' if missing.sum() > 3 else ''})", source=name)
        return conf[rows]
    if workers.dtype.kind in "iu" and m and int(workers.min()) >= 0 \
            and int(workers.max()) < m_file:
        return conf[workers.astype(np.intp)]
    if m_file == m:
        return conf
    raise DataError(
        f"{m_file} confusion matrices for {m} workers: without worker ids the file must hold "
        f"one matrix per worker in the answers' order, or be indexed by integer worker id "
        f"(as crowdlearn simulate writes it)", source=name)


def _match(wanted: np.ndarray, have: np.ndarray) -> np.ndarray:
    """Position of each wanted id in ``have`` (-1 when absent); ``3`` matches ``"3"``."""
    import pandas as pd

    if (wanted.dtype.kind in "iu") != (have.dtype.kind in "iu"):
        wanted = wanted.astype(str).astype(object)
        have = have.astype(str).astype(object)
    return pd.Index(have).get_indexer(wanted)


# ---------------------------------------------------------------------- summary and files
def _versions() -> dict[str, str]:
    import torch

    from .. import __version__

    return {"crowdlearn": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _num(value: Any) -> Any:
    """A JSON-ready number: ``None`` for NaN and infinities."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def fit_summary(
    clf: CrowdClassifier,
    *,
    X_test: Any = None,
    y_test: Any = None,
    true_confusions: np.ndarray | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``results.json`` for a fitted classifier (see the module docstring).

    ``true_confusions`` must be in the answers' worker order (:func:`load_true_confusions`).
    """
    from ..metrics import confusion_estimation_error

    clf._check_fitted()
    answers = clf.answers_
    head_name, head_params = _head_spec(clf)
    hist = {k: [_num(v) for v in vals] for k, vals in clf.history_.items() if k != "epoch"}
    best = int(clf.best_epoch_)
    out: dict[str, Any] = {
        "strategy": head_name,
        "strategy_spec": clf.strategy if isinstance(clf.strategy, str) else repr(clf.strategy),
        "params": _plain(head_params),
        "backbone": clf.backbone if isinstance(clf.backbone, str)
        else type(clf.backbone_).__name__,
        "backbone_params": _plain(dict(clf.backbone_params or {})),
        "classifier_params": {k: _plain(v) for k, v in clf.get_params().items()
                              if k not in ("backbone", "transform", "verbose")},
        "dataset": answers.name,
        "n_tasks": answers.n_tasks,
        "n_workers": answers.n_workers,
        "n_classes": answers.n_classes,
        "n_answers": answers.n_answers,
        "input_shape": _plain(_input_shape(clf, required=False)),
        "classes": _plain(np.asarray(clf.classes_)),
        "n_train_tasks": int(len(clf.train_tasks_)),
        "n_val_tasks": int(len(clf.val_tasks_)),
        "selection": clf.selection_,
        "n_epochs": len(clf.history_.get("epoch", [])),
        "best_epoch": best,
        "train_loss": hist.get("train_loss", []),
        "val_loss": hist.get("val_loss", []),
    }
    if "val_accuracy" in hist:
        out["val_accuracy"] = hist["val_accuracy"]
    if "test_accuracy" in hist:
        out["test_accuracy"] = hist["test_accuracy"]
    out["lr"] = hist.get("lr", [])
    for key in ("train_loss", "val_loss", "val_accuracy"):
        values = hist.get(key) or []
        out[f"best_{key}"] = values[best - 1] if 0 < best <= len(values) else None
    if answers.has_truth:
        known = answers.truth_mask
        out["train_accuracy"] = float(np.mean(clf.labels_[known] == answers.truth[known]))
        out["n_tasks_with_truth"] = int(known.sum())
    if X_test is not None:
        codes = clf._encode_y(y_test, "y_test")
        pred = clf.predict_proba(X_test).argmax(axis=1)
        out["final_test_accuracy"] = float(np.mean(pred == codes)) if len(codes) else None
        out["n_test"] = int(len(codes))
    out["confusion_error"] = None
    if true_confusions is not None and clf.confusions_ is not None:
        out["confusion_error"] = confusion_estimation_error(true_confusions, clf.confusions_)
    out["seconds"] = round(float(clf.fit_seconds_), 3)
    out["train_seconds"] = round(float(clf.train_result_.seconds), 3)
    out["device"] = str(clf.device_)
    out["threads"] = getattr(clf, "threads_", None)
    # the crowd head's learning rate used (``head_lr=None`` resolves to the strategy's default)
    out["head_lr_used"] = getattr(clf, "head_lr_", None)
    out["versions"] = _versions()
    if extra:
        out.update(extra)
    return out


def write_fit_results(
    clf: CrowdClassifier,
    out_dir: str | os.PathLike[str],
    *,
    X_test: Any = None,
    y_test: Any = None,
    test_ids: Any = None,
    true_confusions: np.ndarray | None = None,
    plot: bool = False,
    workers: Any = None,
    overwrite: bool = False,
    extra: dict[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
    write_more: Callable[[Path], None] | None = None,
) -> dict[str, Path]:
    """Write the folder described in the module docstring; returns the files' final paths.

    Parameters
    ----------
    clf:
        A fitted classifier.
    out_dir:
        The output folder. It is replaced as a whole, at the very end (atomically).
    X_test, y_test, test_ids:
        Test items (or :class:`~crowdlearn.io.features.Features`), their true labels and ids
        (default: the ids of ``X_test`` when it is ``Features``, else ``0..n-1``).
    true_confusions:
        Known confusions in the answers' worker order (:func:`load_true_confusions`).
    plot:
        Also draw ``confusions.png`` and ``history.png``.
    workers:
        The workers ``confusions.png`` shows (``plot_confusions``' ``workers``: indices,
        ``"most-active"`` (default), ``"worst"``, ``"first"``).
    overwrite:
        Replace an existing non-empty ``out_dir``; without it that is an error (raised before
        anything is written).
    extra:
        Added to ``results.json``.
    input_shape:
        Shape of one training item, for :func:`save_model` (needed only for image backbones
        trained without standardisation).
    write_more:
        Called with the temporary folder before it is swapped into place, to add files of the
        caller's own (``crowdlearn experiment``'s ``answers.csv``) to the same atomic folder.
    """
    import pandas as pd

    from ..io._atomic import atomic_dir

    out = Path(out_dir)
    check_out_dir(out, overwrite=overwrite)
    if X_test is not None and test_ids is None and hasattr(X_test, "task_ids") \
            and not getattr(X_test, "positional", False):
        test_ids = X_test.task_ids
    summary = fit_summary(clf, X_test=X_test, y_test=y_test, true_confusions=true_confusions,
                          extra=extra)
    answers = clf.answers_
    classes = np.asarray(clf.classes_)
    written: list[str] = []
    with atomic_dir(out) as tmp:
        save_model(clf, tmp / "best.pth", input_shape=input_shape)
        written.append("best.pth")
        if clf.confusions_ is not None:
            np.save(tmp / "confusions.npy", np.asarray(clf.confusions_, dtype=np.float32))
            pd.DataFrame({"worker": np.asarray(clf.worker_ids_)}).to_csv(
                tmp / "workers.csv", index=False, lineterminator="\n")
            written += ["confusions.npy", "workers.csv"]
        pd.DataFrame({"task": np.asarray(answers.task_ids), "label": classes[clf.labels_]}) \
            .to_csv(tmp / "predictions.csv", index=False, lineterminator="\n")
        written.append("predictions.csv")
        if X_test is not None:
            pred = clf.predict(X_test)
            ids = np.arange(len(pred)) if test_ids is None else np.asarray(test_ids)
            frame = {"task": ids, "label": pred}
            if y_test is not None:
                frame["truth"] = np.asarray(y_test)
            pd.DataFrame(frame).to_csv(tmp / "test_predictions.csv", index=False,
                                       lineterminator="\n")
            written.append("test_predictions.csv")
        if plot:
            from ..plots import plot_confusions, plot_training_history

            if clf.confusions_ is not None:
                plot_confusions(clf.confusions_, true_confusions, classes=list(classes),
                                worker_names=[str(w) for w in clf.worker_ids_],
                                activity=answers.answers_per_worker(), workers=workers,
                                path=tmp / "confusions.png")
                written.append("confusions.png")
            plot_training_history(clf.history_, path=tmp / "history.png")
            written.append("history.png")
        written.insert(0, "results.json")
        summary["files"] = sorted(written, key=FIT_FILES.index)
        text = json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False)
        (tmp / "results.json").write_text(text + "\n", encoding="utf-8")
        if write_more is not None:
            write_more(tmp)
    return {name: out / name for name in summary["files"]}


def check_out_dir(out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Refuse an output path that is a file, or a non-empty folder unless ``overwrite``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CrowdlearnError(f"{out}: exists and is not a folder")
    if out.is_dir() and not overwrite and any(out.iterdir()):
        raise CrowdlearnError(f"{out}: folder exists and is not empty (overwrite=True "
                              "replaces it)")
    return out

