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

The model file is :mod:`.model_file` (:func:`save_model`, :func:`load_model`), the known
confusions compared with the estimated ones :mod:`.true_confusions`
(:func:`load_true_confusions`); both are importable from here too.
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

from ..errors import CrowdlearnError
from .model_file import _head_spec, _input_shape, _plain, load_model, save_model
from .true_confusions import load_true_confusions

if TYPE_CHECKING:
    from .classifier import CrowdClassifier

__all__ = ["FIT_FILES", "fit_summary", "load_model", "load_true_confusions", "save_model",
           "write_fit_results"]

#: the files :func:`write_fit_results` may write, in the order it lists them
FIT_FILES = ("results.json", "best.pth", "confusions.npy", "workers.csv", "predictions.csv",
             "test_predictions.csv", "confusions.png", "history.png")


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
