"""Protocols with simulated annotators: ``cifar10-synthetic`` and ``food11``.

The training images' crowd comes from :func:`crowdlearn.simulate.simulate` (the paper's
separable-and-uniform annotators by default); see the package docstring for the settings' sources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...answers import Answers
from ...errors import CrowdlearnError
from .common import PathLike, _installed_images, _names, _rng, _subset, _take
from .experiment import Experiment


def _image_answers(answers: Answers, classes: Sequence[str], name: str) -> Answers:
    """Simulated answers (integer classes) with the data set's class names."""
    return Answers(answers.task, answers.worker, answers.label, task_ids=answers.task_ids,
                   worker_ids=answers.worker_ids, classes=np.asarray(classes),
                   truth=answers.truth, name=name, _sorted=True)


def _assignment(n_workers: int, answers_per_task: int | str | None, p: float | None,
                missing_rate: float | None) -> tuple[int | None, float | None]:
    """(answers_per_task, p) of :func:`crowdlearn.simulate.simulate` from the options."""
    if p is not None and missing_rate is not None:
        raise CrowdlearnError("give p (answer probability) or missing_rate, not both")
    if missing_rate is not None:
        if not 0.0 <= missing_rate < 1.0:
            raise CrowdlearnError(f"missing_rate must be in [0, 1), got {missing_rate}")
        p = 1.0 - float(missing_rate)
    if p is not None:
        if answers_per_task is not None:
            raise CrowdlearnError("give answers_per_task or p (missing_rate), not both")
        return None, float(p)
    if answers_per_task is None:
        return 1, None
    if isinstance(answers_per_task, str):
        if answers_per_task.strip().lower() != "all":
            try:
                answers_per_task = int(answers_per_task)
            except ValueError:
                raise CrowdlearnError(f"answers_per_task must be a number or 'all', got "
                                      f"{answers_per_task!r}") from None
        else:
            return n_workers, None
    return int(answers_per_task), None


def _simulate_annotators(
    true_labels: np.ndarray, n_classes: int, *, n_workers: int | None, gamma: float | None,
    annotators: str, annotator_params: Mapping[str, Any] | None,
    answers_per_task: int | str | None, p: float | None, missing_rate: float | None,
    seed: int | None, name: str,
) -> tuple[Any, dict[str, Any]]:
    """Simulated crowd on the training images: ``model`` for every worker, or a worker spec."""
    from ...simulate import model_parameters, parse_workers, simulate

    spec = str(annotators).strip()
    if ":" in spec:  # a worker specification: MODEL:COUNT[:KEY=VALUE],...
        if annotator_params:
            raise CrowdlearnError("annotator parameters go into the worker specification "
                                  "(MODEL:COUNT:KEY=VALUE) when one is given")
        groups = []
        for model, count, params in parse_workers(spec):
            if gamma is not None and "gamma" in model_parameters(model):
                params = {"gamma": gamma, **params}
            groups.append((model, count, params))
        m = sum(c for _, c, _ in groups)
        if n_workers is not None and n_workers != m:
            raise CrowdlearnError(f"the worker specification has {m} workers but M is "
                                  f"{n_workers}")
        source: dict[str, Any] = {"workers": groups}
    else:
        m = 5 if n_workers is None else int(n_workers)
        params = dict(annotator_params or {})
        if gamma is not None and "gamma" in model_parameters(spec):
            params.setdefault("gamma", gamma)
        source = {"model": spec, "model_params": params, "n_workers": m}
    r, prob = _assignment(m, answers_per_task, p, missing_rate)
    crowd = simulate(true_labels=np.asarray(true_labels, dtype=np.int64), n_classes=n_classes,
                     answers_per_task=r, p=prob, seed=seed, name=name, **source)
    info = {"annotators": spec, "n_workers": m, "gamma": gamma, "answers_per_task": r, "p": prob,
            "worker_models": crowd.worker_models.tolist(), "simulation": crowd.params}
    return crowd, info


def cifar10_synthetic(
    *,
    root: PathLike | None = None,
    data: PathLike | None = None,
    n_workers: int | None = None,
    gamma: float | None = 0.01,
    annotators: str = "separable-uniform",
    annotator_params: Mapping[str, Any] | None = None,
    answers_per_task: int | str | None = None,
    p: float | None = None,
    missing_rate: float | None = None,
    limit: int | None = None,
    seed: int | None = 0,
) -> Experiment:
    """CIFAR-10 with simulated annotators (the paper's synthetic-annotator experiment).

    Parameters
    ----------
    root, data:
        The installed ``cifar10`` data set under ``root`` (``crowdlearn datasets install
        cifar10``), or ``data``: a ``cifar-10-batches-py`` folder (or its parent, or the
        ``.tar.gz``).
    n_workers:
        Number of annotators M (default 5; implied by a worker specification).
    gamma:
        Parameter of the annotator models that have one (``separable-uniform``: the good
        annotator's ``I + gamma U``).
    annotators:
        A :data:`crowdlearn.simulate.MODELS` name for every annotator, or a worker
        specification ``"MODEL:COUNT[:KEY=VALUE],..."`` (:func:`crowdlearn.simulate.parse_workers`).
    annotator_params:
        Further parameters of the model (not with a worker specification).
    answers_per_task, p, missing_rate:
        Who labels what: ``answers_per_task`` distinct annotators per image (an int, or
        ``"all"``; default 1, as the official run), or each annotator labels each image with
        probability ``p`` (= 1 - ``missing_rate``).
    limit:
        Use at most ``limit`` random training images and ``limit`` test images (smoke tests).
    seed:
        Seeds the subset, the annotators, and (as the settings' ``seed``) the training.
    """
    from ...deep.augment import cifar10_transform

    images = _installed_images("cifar10", root, data)
    rng = _rng(seed, 1)
    tr = _subset(len(images.train_y), limit, rng)
    te = _subset(len(images.test_y), limit, rng)
    x, y = _take(images.train_x, tr), _take(images.train_y, tr)
    crowd, sim = _simulate_annotators(
        y, images.n_classes, n_workers=n_workers, gamma=gamma, annotators=annotators,
        annotator_params=annotator_params, answers_per_task=answers_per_task, p=p,
        missing_rate=missing_rate, seed=seed, name="cifar10-synthetic")
    settings = dict(backbone="resnet9", strategy="geocrowdnet-f", lam=0.01, n_epochs=80,
                    batch_size=400, optimizer="adam", lr=1e-3, weight_decay=1e-4,
                    schedule="onecycle", val_fraction=0.05, selection="val_accuracy",
                    transform=cifar10_transform(seed=seed), seed=seed)
    return Experiment(
        name="cifar10-synthetic", x=x, answers=_image_answers(crowd.answers, images.classes,
                                                               "cifar10-synthetic"),
        x_test=_take(images.test_x, te), y_test=_names(images.classes, _take(images.test_y, te)),
        true_confusions=crowd.confusions, settings=settings,
        info={"source": images.source, "n_train_images": len(y), "limit": limit, **sim})


def food11(
    *,
    root: PathLike | None = None,
    data: PathLike | None = None,
    size: int = 224,
    n_workers: int | None = None,
    gamma: float | None = 0.01,
    annotators: str = "separable-uniform",
    annotator_params: Mapping[str, Any] | None = None,
    answers_per_task: int | str | None = None,
    p: float | None = None,
    missing_rate: float | None = None,
    limit: int | None = None,
    seed: int | None = 0,
) -> Experiment:
    """Food-11 (folders ``training/``, ``validation/``, ``evaluation/``) with simulated annotators.

    ``data`` is the Food-11 folder (either variant, :func:`~crowdlearn.datasets.images.
    load_image_folder`), else ``root/food11``. Images are resized to ``size`` x ``size`` once
    (cached). The annotator options are those of :func:`cifar10_synthetic`. The default
    classifier, a pretrained ``torchvision.models.resnet50``, needs torchvision and its weights
    (downloaded once by torchvision, or in its cache): without them the error says so; any
    other backbone can be given instead.
    """
    from ...deep.augment import imagenet_transform
    from ..images import load_image_folder

    if data is None:
        from ..installer import default_root

        data = (default_root() if root is None else Path(root).expanduser()) / "food11"
        if not Path(data).is_dir():
            raise CrowdlearnError(f"no Food-11 folder at {data}: give it with --data FOLDER "
                                  "(training/, validation/, evaluation/)")
    images = load_image_folder(data, size=size)
    rng = _rng(seed, 1)
    tr = _subset(len(images.train_y), limit, rng)
    te = _subset(len(images.test_y), limit, rng)
    x, y = _take(images.train_x, tr), _take(images.train_y, tr)
    crowd, sim = _simulate_annotators(
        y, images.n_classes, n_workers=n_workers, gamma=gamma, annotators=annotators,
        annotator_params=annotator_params, answers_per_task=answers_per_task, p=p,
        missing_rate=missing_rate, seed=seed, name="food11")
    settings = dict(backbone="torchvision.models.resnet50", pretrained=True,
                    strategy="geocrowdnet-f", lam=1e-4, n_epochs=30, batch_size=128,
                    optimizer="adam", lr=1e-3, weight_decay=1e-4, schedule="onecycle",
                    val_fraction=0.05, selection="val_accuracy",
                    transform=imagenet_transform(size, seed=seed), seed=seed)
    x_val = y_val = None
    if images.val_x is not None:
        va = _subset(len(images.val_y), limit, rng)
        x_val, y_val = _take(images.val_x, va), _names(images.classes, _take(images.val_y, va))
    return Experiment(
        name="food11", x=x, answers=_image_answers(crowd.answers, images.classes, "food11"),
        x_test=_take(images.test_x, te), y_test=_names(images.classes, _take(images.test_y, te)),
        true_confusions=crowd.confusions, settings=settings, x_val=x_val, y_val=y_val,
        info={"source": images.source, "size": size, "n_train_images": len(y), "limit": limit,
              **sim})
