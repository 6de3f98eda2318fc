"""Saving and reloading a fitted :class:`~crowdlearn.deep.CrowdClassifier` (``best.pth``).

:func:`save_model` writes one :func:`torch.save` file of plain data and CPU tensors (loadable with
``torch.load(weights_only=True)``); :func:`load_model` checks it (:mod:`._checkpoint`) and rebuilds
a classifier ready to predict. :func:`crowdlearn.deep.results.write_fit_results` writes it as
``best.pth`` of the output folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._plain import plain_data
from ..errors import CrowdlearnError, DataError

if TYPE_CHECKING:
    from .classifier import CrowdClassifier

__all__ = ["load_model", "save_model"]

_FORMAT = "crowdlearn.CrowdClassifier"
_FORMAT_VERSION = 1


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
