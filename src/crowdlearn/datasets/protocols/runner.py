"""The registry of protocols, :func:`load_experiment` and :func:`run_experiment`.

:func:`run_experiment` trains and scores a protocol's classifier and writes the output folder of
``crowdlearn fit`` plus the protocol's files (:data:`PROTOCOL_FILES`).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..._plain import plain_data
from ...errors import CrowdlearnError
from .common import PathLike
from .experiment import Experiment, _merge_settings, annotator_stats
from .machine import mnist_machine
from .real import labelme, music
from .synthetic import cifar10_synthetic, food11

#: files :func:`run_experiment` adds to the output folder of ``crowdlearn fit``
PROTOCOL_FILES = ("answers.csv", "true_confusions.npy")


#: protocol name -> function
PROTOCOLS: dict[str, Callable[..., Experiment]] = {
    "cifar10-synthetic": cifar10_synthetic,
    "mnist-machine": mnist_machine,
    "food11": food11,
    "music": music,
    "labelme": labelme,
}


def _protocol(name: str) -> Callable[..., Experiment]:
    key = str(name).strip().lower().replace("_", "-")
    if key not in PROTOCOLS:
        raise CrowdlearnError(f"unknown experiment {name!r} (experiments: "
                              f"{', '.join(PROTOCOLS)})")
    return PROTOCOLS[key]


def _options(fn: Callable[..., Any]) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p != "self"]


def load_experiment(name: str, **options: Any) -> Experiment:
    """The :class:`Experiment` of protocol ``name`` (options: the protocol function's)."""
    fn = _protocol(name)
    unknown = sorted(set(options) - set(_options(fn)))
    if unknown:
        raise CrowdlearnError(f"experiment {name}: no option {unknown[0]!r} (options: "
                              f"{', '.join(_options(fn))})")
    return fn(**options)


#: default backbones known before loading (labelme's depends on the files it finds)
_DEFAULT_BACKBONES = {"cifar10-synthetic": "resnet9", "mnist-machine": "lenet",
                      "food11": "torchvision.models.resnet50", "music": "mlp"}


def _check_backbone(name: Any) -> None:
    """Fail before loading any data when a torchvision backbone cannot be built here."""
    if isinstance(name, str) and name.strip().lower().startswith("torchvision.models."):
        from ...deep.backbones import make_backbone

        make_backbone(name, (3, 32, 32), 2)  # raises the one-line error without torchvision


def run_experiment(
    name: str,
    *,
    out: PathLike | None = None,
    overwrite: bool = False,
    plot: bool = False,
    threads: int | None = None,
    verbose: bool = False,
    n_classes: int | None = None,
    lr_decay: float | None = None,
    extra: Mapping[str, Any] | None = None,
    **options: Any,
) -> tuple[Any, dict[str, Any]]:
    """Load protocol ``name``, train its classifier and score it; optionally write ``out``.

    Parameters
    ----------
    name:
        One of :data:`PROTOCOLS`.
    out:
        Output folder: :func:`~crowdlearn.deep.results.write_fit_results` (``results.json``,
        ``best.pth``, ``confusions.npy``, ...) plus ``answers.csv`` (the crowd answers
        trained on) and ``true_confusions.npy`` (when known). Checked before any work.
    overwrite:
        Replace a non-empty ``out``.
    plot:
        Also draw ``confusions.png`` and ``history.png``.
    threads:
        CPU threads of torch during the run (default: CrowdClassifier's ``threads="auto"``
        while training).
    verbose:
        Progress bar.
    n_classes:
        Expected number of classes (an error if the data set has another).
    lr_decay:
        Multistep schedule factor (CrowdClassifier's ``gamma``: here ``gamma`` is the
        annotator models' parameter).
    extra:
        Added to ``results.json``.
    **options:
        Options of the protocol function (``root``, ``data``, ``limit``, ``gamma``, ...; ``seed``
        goes to the protocol and the classifier) and :class:`~crowdlearn.deep.CrowdClassifier`
        parameters, which override the protocol's settings (``backbone="mlp"``,
        ``n_epochs=1``, ...).

    Returns
    -------
    (CrowdClassifier, dict)
        The fitted classifier and the summary (the content of ``results.json``): the final
        test accuracy (``final_test_accuracy``), ``confusion_error`` (with known confusions),
        ``protocol`` and ``annotators`` (:func:`annotator_stats`).
    """
    import torch

    from ...deep import CrowdClassifier
    from ...deep.results import check_out_dir, fit_summary, write_fit_results

    fn = _protocol(name)
    key = next(k for k, f in PROTOCOLS.items() if f is fn)
    if out is not None:
        check_out_dir(out, overwrite=overwrite)
    accepted = _options(fn)
    classifier = set(CrowdClassifier._PARAMS) - {"gamma", "verbose"}
    proto = {k: v for k, v in options.items() if k in accepted and v is not None}
    clf_opts = {k: v for k, v in options.items() if k in classifier
                and (k not in accepted or k in ("seed", "device"))}
    if lr_decay is not None:
        clf_opts["gamma"] = lr_decay
    unknown = sorted(set(options) - set(accepted) - classifier)
    if unknown:
        raise CrowdlearnError(f"experiment {key}: option {unknown[0]!r} does not apply (its "
                              f"options: {', '.join(accepted)}, and CrowdClassifier's)")
    if threads is not None and threads < 1:
        raise CrowdlearnError(f"threads must be at least 1, got {threads}")
    _check_backbone(clf_opts.get("backbone", _DEFAULT_BACKBONES.get(key)))
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        exp = fn(**proto)
        if n_classes is not None and n_classes != exp.answers.n_classes:
            raise CrowdlearnError(f"K is {n_classes} but {key} has {exp.answers.n_classes} "
                                  "classes")
        settings = _merge_settings(exp.settings, clf_opts)
        if settings.get("head_lr") is None and settings.get("lr") is not None:
            # the papers' code trains the crowd head with the classifier's optimiser and rate
            # (crowdlearn's own default is a 10x head rate for the confusion heads)
            settings["head_lr"] = settings["lr"]
        _check_backbone(settings.get("backbone"))
        if threads is not None:
            settings["threads"] = threads
        clf = CrowdClassifier(**{**settings, "verbose": verbose})
        clf.fit(exp.x, exp.answers, X_test=exp.x_test, y_test=exp.y_test)
        info: dict[str, Any] = {"protocol": {"name": key, **_jsonable(exp.info)},
                                "annotators": annotator_stats(exp.answers)}
        if exp.x_val is not None and len(exp.x_val):
            info["val_split_accuracy"] = clf.score(exp.x_val, exp.y_val)
            info["n_val_split"] = int(len(exp.x_val))
        if out is not None:
            info["protocol_files"] = ["answers.csv"] + (
                ["true_confusions.npy"] if exp.true_confusions is not None else [])
        info.update(extra or {})
        if out is None:
            summary = fit_summary(clf, X_test=exp.x_test, y_test=exp.y_test,
                                  true_confusions=exp.true_confusions, extra=info)
            return clf, summary
        shape = tuple(int(s) for s in np.shape(exp.x)[1:])

        def protocol_files(folder: Path) -> None:  # in the same atomic folder as fit's files
            exp.answers.to_frame().to_csv(folder / "answers.csv", index=False,
                                          lineterminator="\n")
            if exp.true_confusions is not None:
                np.save(folder / "true_confusions.npy",
                        np.asarray(exp.true_confusions, np.float64))

        paths = write_fit_results(clf, out, X_test=exp.x_test, y_test=exp.y_test,
                                  true_confusions=exp.true_confusions, plot=plot,
                                  overwrite=True, extra=info, input_shape=shape,
                                  write_more=protocol_files)
    finally:
        torch.set_num_threads(saved_threads)
    summary = json.loads(paths["results.json"].read_text(encoding="utf-8"))
    return clf, summary


def _jsonable(value: Any) -> Any:
    """Plain JSON data (tuples as lists, numpy scalars and arrays as numbers and lists, paths
    as text)."""
    return plain_data(value, lambda v: str(v) if isinstance(v, Path) else v)
