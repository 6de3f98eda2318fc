"""The experiment protocols of the CCEM paper, one function each, and :func:`run_experiment`.

Ibrahim, Nguyen & Fu, "Deep learning from crowdsourced labels: coupled cross-entropy
minimization, identifiability, and regularization", ICLR 2023. Each protocol function loads a
data set, builds (or reads) its crowd answers and returns an :class:`Experiment`: training items
in the answers' task order, the answers (with the truth), test items and labels, the true
annotator confusions when they are known, and the :class:`~crowdlearn.deep.CrowdClassifier`
settings of the paper. :func:`run_experiment` trains and scores it and writes the output folder
of ``crowdlearn fit``; ``crowdlearn experiment NAME`` is the same from the command line.

=====================  =================================================================
``cifar10-synthetic``  CIFAR-10, simulated annotators (separable-and-uniform), ResNet-9
``mnist-machine``      MNIST labelled by 15 machine classifiers, ~90% answers missing, LeNet
``food11``             Food-11 image folders, simulated annotators, pretrained ResNet-50
``music``              Music genres, 44 Mechanical Turk workers, MLP on 124 audio features
``labelme``            LabelMe scenes, 59 Mechanical Turk workers, MLP on VGG-16 features
=====================  =================================================================

Settings and where they come from
---------------------------------
Official code: https://github.com/shahanaibrahimosu/end-to-end-crowdsourcing, commit
``35c01c53e27e`` (files named below); "seed README": the README of the unofficial PyTorch
implementation that crowdlearn's command line follows (its example commands).

cifar10-synthetic (``main_synthetic_cifar10.py``, ``algorithms/trainer_proposed.py``,
``helpers/data_load.py``, ``results/cifar10_synthetic/log_Sep-28-2022_...txt``)
    M = 5 annotators, ``conf_mat_type='separable-and-uniform'``, gamma = 0.01
    (``helpers/functions.py: generate_confusion_matrices``, crowdlearn's ``separable-uniform``);
    the released log runs ``annotator_label_pattern='per-sample-budget'`` with ``l=1``: each
    image is labelled by **one** annotator drawn at random (``--answers-per-task 1``, the
    default here; ``all`` or ``--p`` give the other designs). ResNet-9
    (``classifier_NN='resnet9'``); ``VOLMINEECS_LOGDETH`` = GeoCrowdNet(F); the hyperparameter
    "tuning" list the script uses for CIFAR-10 is lambda = 0.01, learning rate 0.001 (the log:
    "Training with lambda=0.01 learning_rate = 0.001"); ``n_epoch=80``, ``batch_size=400``;
    ``optim.Adam(lr, weight_decay=1e-4)`` with ``OneCycleLR(max_lr=lr, epochs=80)`` stepped
    every batch (the SGD and MultiStepLR [30, 60] lines are commented out); 95/5
    training/validation split (``split_per=0.95``); the model of the epoch with the best
    validation **accuracy** (true labels of the validation images) is tested.
mnist-machine (``main_machine_mnist.py``, ``helpers/functions.py:
generate_machine_classifier_annotations``)
    10,000 random training images train M = 15 machine annotators (linear / RBF / polynomial
    SVMs, k-NN with k = 3, 5, 7, small CNNs and MLPs trained 5-20 epochs, logistic
    regressions), each on 100-400 random images of that pool (two of them on 9,000), with Adam
    (lr 0.001, weight decay 1e-3, batch 512); N = 1,000 other training images (the
    ``--N`` default; the code's comments mention 5,000-15,000 too) are labelled by every
    annotator and each label is kept with probability p = 0.1 (``'random'`` pattern, about
    90% missing); the "true" confusions are the annotators' empirical confusions. LeNet,
    ``n_epoch=50``, ``batch_size=64``, Adam lr 0.001 with weight decay 1e-4, no schedule,
    lambda 0.001 (both F and W regularisers are run), 95/5 split, selection by validation
    accuracy. Without scikit-learn, the SVMs become a multi-class hinge-loss linear classifier
    and nearest-centroid classifiers, the CNNs LeNets (see :data:`MACHINE_ANNOTATORS`); every
    image gets at least one answer here (the official mask may leave an image unlabelled).
food11 (seed README)
    ``--M 5 --gamma 0.01 --regularization_type F --lambda_reg 0.0001 --n_epoch 30
    --classifier_NN torchvision.models.resnet50 --use_pretrained --annotator_type synthetic``;
    the rest as cifar10-synthetic (Adam 0.001, weight decay 1e-4, one-cycle, 95/5 split), batch
    128, images resized to 224 x 224 with ImageNet normalisation and flips.
music (seed README; ``trainer_proposed.py``)
    ``--M 44 --lambda_reg 0.01 --batch_size 128 --n_epoch 1000``, its example run named
    ``music_W_lambda0.01`` (GeoCrowdNet(W)); an MLP with one hidden layer of 128 units and
    dropout 0.5 (``fcnn_dropout_batchnorm``; its batch normalisation of the input is the
    standardisation here), Adam lr 0.001 with weight decay 1e-4; 10% of the songs held out.
labelme (``main_real_labelme.py``, ``helpers/data_load.py``)
    Rodrigues' VGG-16 features (``data_train_vgg16.npy``, 4 x 4 x 512) into ``fcnn_dropout``
    (Linear 128, ReLU, dropout 0.5), 100 epochs, batch 100, Adam with weight decay 1e-4,
    GeoCrowdNet(F); lambda and learning rate are tuned on the validation images over {0.2, 0.1}
    x {0.01, 0.001}: the defaults here are the script's untuned ones, lambda 0.2 and lr 0.001.
    Without features in the installed folder, the images with a pretrained VGG-16.

Not copied: the official code's weight decay on the confusion parameters (crowdlearn's heads
have their own parametrisation; ``head_weight_decay`` is 0) and its hyperparameter grids
(one run per call here). Everything is seeded by ``seed``: the subset, the annotators, the
split, the weights and the augmentation.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..answers import Answers
from ..errors import CrowdlearnError, DataError

__all__ = [
    "MACHINE_ANNOTATORS",
    "PROTOCOLS",
    "Experiment",
    "annotator_stats",
    "cifar10_synthetic",
    "food11",
    "labelme",
    "load_experiment",
    "machine_annotators",
    "mnist_machine",
    "music",
    "run_experiment",
]

PathLike = str | os.PathLike[str]

#: files :func:`run_experiment` adds to the output folder of ``crowdlearn fit``
PROTOCOL_FILES = ("answers.csv", "true_confusions.npy")


# ---------------------------------------------------------------------------- Experiment
@dataclass(eq=False, repr=False, kw_only=True)
class Experiment:
    """One protocol's data and settings, ready for :class:`~crowdlearn.deep.CrowdClassifier`.

    Attributes
    ----------
    name:
        The protocol (``"cifar10-synthetic"``, ...).
    x:
        Training items in the answers' task order: ``uint8`` images ``(N, C, H, W)`` or float
        features.
    answers:
        The crowd answers, with the truth of the training items.
    x_test, y_test:
        Test items and their true labels (class names, as ``answers.classes``).
    true_confusions:
        ``(workers, K, K)`` confusions in the answers' worker order, rows = true class: the
        simulated ones, or the machine annotators' empirical ones; ``None`` for real crowds.
    settings:
        Keyword arguments of :class:`~crowdlearn.deep.CrowdClassifier` (the paper's).
    info:
        Provenance and parameters recorded in ``results.json`` (``protocol``).
    x_val, y_val:
        The data set's own validation split, when it has one (scored, never trained on).
    """

    name: str
    x: Any
    answers: Answers
    x_test: Any = None
    y_test: Any = None
    true_confusions: np.ndarray | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    x_val: Any = None
    y_val: Any = None

    @property
    def stats(self) -> dict[str, Any]:
        """:func:`annotator_stats` of the answers."""
        return annotator_stats(self.answers)

    def classifier(self, **overrides: Any) -> Any:
        """A :class:`~crowdlearn.deep.CrowdClassifier` with the settings (and ``overrides``)."""
        from ..deep import CrowdClassifier

        return CrowdClassifier(**_merge_settings(self.settings, overrides))

    def __repr__(self) -> str:
        a = self.answers
        test = 0 if self.x_test is None else len(self.x_test)
        return (f"Experiment({self.name!r}, {a.n_tasks} tasks, {a.n_workers} workers, "
                f"{a.n_classes} classes, {a.n_answers} answers, {test} test items)")


def annotator_stats(answers: Answers) -> dict[str, Any]:
    """Counts and accuracies of the annotators (accuracy needs the answers' truth).

    ``missing_rate`` is the share of (task, worker) pairs without an answer; ``worker_accuracy``
    the share of each worker's answers equal to the truth (``None`` without answers).
    """
    n_t, n_w, n_a = answers.n_tasks, answers.n_workers, answers.n_answers
    per_task = np.bincount(answers.task, minlength=n_t)
    per_worker = np.bincount(answers.worker, minlength=n_w)
    out: dict[str, Any] = {
        "n_tasks": n_t, "n_workers": n_w, "n_answers": n_a,
        "answers_per_task": float(per_task.mean()) if n_t else 0.0,
        "tasks_without_answers": int((per_task == 0).sum()),
        "missing_rate": 1.0 - n_a / (n_t * n_w) if n_t and n_w else None,
        "worker_answers": per_worker.tolist(),
    }
    if answers.truth is not None:
        truth = answers.truth[answers.task]
        known = truth >= 0
        hits = (answers.label[known] == truth[known]).astype(np.float64)
        right = np.bincount(answers.worker[known], weights=hits, minlength=n_w)
        seen = np.bincount(answers.worker[known], minlength=n_w)
        out["worker_accuracy"] = [round(float(r / s), 4) if s else None
                                  for r, s in zip(right, seen, strict=True)]
        out["answer_accuracy"] = float(right.sum() / seen.sum()) if seen.sum() else None
    return out


# ---------------------------------------------------------------------------- helpers
def _rng(seed: int | None, *stream: int) -> np.random.Generator:
    return np.random.default_rng(None if seed is None else [int(seed), *stream])


def _subset(n: int, limit: int | None, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted random positions of at most ``limit`` of ``n`` items (``None``: all of them)."""
    if limit is None or limit >= n:
        return None
    if limit < 1:
        raise CrowdlearnError(f"limit must be at least 1, got {limit}")
    return np.sort(rng.choice(n, int(limit), replace=False))


def _take(x: Any, idx: np.ndarray | None) -> np.ndarray:
    return np.asarray(x) if idx is None else np.asarray(x[idx])


def _installed_folder(name: str, root: PathLike | None, data: PathLike | None) -> Path:
    """``data`` as given, else ``root/name`` of an installed data set (error: how to install)."""
    if data is not None:
        folder = Path(data).expanduser()
        if not folder.exists():
            raise FileNotFoundError(2, "No such file or directory", str(folder))
        return folder
    from .installer import load

    _, extras = load(name, root)
    return Path(extras["path"])


def _names(classes: Sequence[Any], labels: np.ndarray) -> np.ndarray:
    return np.asarray(classes)[np.asarray(labels, dtype=np.int64)]


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
    from ..simulate import model_parameters, parse_workers, simulate

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


# ---------------------------------------------------------------------------- cifar10
def _installed_images(name: str, root: PathLike | None, data: PathLike | None) -> Any:
    """The ImageSet of ``data`` (a folder the loader accepts) or of the installed ``name``
    (``cifar10`` or ``mnist``, read from its ``raw/`` folder)."""
    from . import images

    loader = {"cifar10": images.load_cifar10, "mnist": images.load_mnist}[name]
    if data is not None:
        return loader(data)
    from .installer import load

    _, extras = load(name, root)
    return loader(extras.get("raw", extras["path"]))


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
    from ..deep.augment import cifar10_transform

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


# ---------------------------------------------------------------------------- food11
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
    from ..deep.augment import imagenet_transform
    from .images import load_image_folder

    if data is None:
        from .installer import default_root

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


# ---------------------------------------------------------------------------- mnist
#: The machine annotators of ``mnist-machine``, in order (worker ``m`` is entry ``m % 15``),
#: after the official list ``LINEAR_SVM, CNN_5, KNN_3, FCNN_10, LOGISTIC_REGRESSION_N_100,
#: RBF_SVM, CNN_10, KNN_5, FCNN_15, LOGISTIC_REGRESSION_N_200, POLY_SVM, CNN_15, KNN_7,
#: FCNN_20, LOGISTIC_REGRESSION_N_300``: kind and parameters (``n``: training images, else a
#: random 100, 200, 300 or 400; ``epochs`` of Adam). The SVMs are a linear multi-class hinge
#: classifier and nearest-centroid classifiers; the CNNs LeNets; the MLPs one hidden layer of
#: 128 units.
MACHINE_ANNOTATORS: tuple[tuple[str, dict[str, int]], ...] = (
    ("linear-svm", {"n": 9000, "epochs": 10}),
    ("cnn", {"epochs": 5}),
    ("knn", {"k": 3}),
    ("mlp", {"epochs": 10}),
    ("logistic", {"n": 100, "epochs": 10}),
    ("centroid", {}),
    ("cnn", {"epochs": 10}),
    ("knn", {"k": 5, "n": 9000}),
    ("mlp", {"epochs": 15}),
    ("logistic", {"n": 200, "epochs": 10}),
    ("centroid", {}),
    ("cnn", {"epochs": 15}),
    ("knn", {"k": 7}),
    ("mlp", {"epochs": 20}),
    ("logistic", {"n": 300, "epochs": 10}),
)

_TRAIN_SIZES = (100, 200, 300, 400)


def _torch_annotator(kind: str, x: Any, y: Any, queries: Any, n_classes: int, epochs: int,
                     seed: int) -> Any:
    """Train a small torch classifier (Adam, lr 1e-3, weight decay 1e-3, batch 512)."""
    import torch

    from ..deep.backbones import make_backbone

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    shape = tuple(x.shape[1:])
    if kind == "cnn":
        net = make_backbone("lenet", shape, n_classes)
    else:
        net = make_backbone("mlp", shape, n_classes, hidden=(128,) if kind == "mlp" else (),
                            dropout=0.0)
    net = net.to(x.device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-3)
    loss_fn = torch.nn.MultiMarginLoss() if kind == "linear-svm" else torch.nn.CrossEntropyLoss()
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen).to(x.device)
        for start in range(0, len(x), 512):
            idx = order[start:start + 512]
            opt.zero_grad()
            loss_fn(net(x[idx]), y[idx]).backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        return torch.cat([net(queries[s:s + 4096]).argmax(1)
                          for s in range(0, len(queries), 4096)])


def _distance_annotator(kind: str, x: Any, y: Any, queries: Any, n_classes: int,
                        k: int) -> Any:
    """k nearest neighbours (majority of their labels) or the nearest class centroid."""
    import torch

    ref = x.flatten(1)
    if kind == "centroid":
        counts = torch.bincount(y, minlength=n_classes).to(ref.dtype)
        ref = torch.zeros(n_classes, ref.shape[1], device=ref.device).index_add_(0, y, ref)
        ref = ref / counts.clamp(min=1)[:, None]
    ref_sq = (ref * ref).sum(1)
    out = []
    for s in range(0, len(queries), 2048):
        q = queries[s:s + 2048].flatten(1)
        d = ref_sq[None, :] - 2.0 * q @ ref.T  # + |q|^2, the same for every reference
        if kind == "centroid":
            d[:, counts == 0] = float("inf")
            out.append(d.argmin(1))
            continue
        near = d.topk(min(k, len(ref)), dim=1, largest=False).indices
        votes = torch.zeros(len(q), n_classes, device=q.device)
        votes.scatter_add_(1, y[near], torch.ones_like(near, dtype=votes.dtype))
        out.append(votes.argmax(1))  # ties: the smallest class
    return torch.cat(out)


def machine_annotators(
    pool_x: np.ndarray,
    pool_y: np.ndarray,
    x: np.ndarray,
    n_workers: int = 15,
    *,
    n_classes: int = 10,
    seed: int | None = 0,
    device: Any = "cpu",
) -> tuple[np.ndarray, list[str]]:
    """Train ``n_workers`` machine annotators on random parts of ``pool`` and label ``x``.

    Worker ``m`` is :data:`MACHINE_ANNOTATORS` ``[m % 15]``, trained on its number of random
    images of the pool (at most the pool). Images are ``uint8`` ``(N, 1, H, W)``, scaled with
    the MNIST mean and standard deviation.

    Returns
    -------
    labels : ndarray of int64, shape (len(x), n_workers)
        Every annotator's label of every item of ``x``.
    names : list of str
        What each annotator is, e.g. ``"knn(k=3, n=200)"``.
    """
    import torch

    from ..deep.augment import MNIST_MEAN, MNIST_STD
    from ..deep.data import resolve_device

    if len(pool_x) == 0:
        raise CrowdlearnError("no images to train the machine annotators on")
    dev = resolve_device(device)

    def prep(a: np.ndarray) -> Any:
        t = torch.as_tensor(np.ascontiguousarray(a), device=dev).float().div_(255.0)
        return t.sub_(MNIST_MEAN[0]).div_(MNIST_STD[0])

    pool, queries = prep(pool_x), prep(x)
    targets = torch.as_tensor(np.asarray(pool_y, dtype=np.int64), device=dev)
    labels = np.empty((len(x), n_workers), dtype=np.int64)
    names = []
    for m in range(n_workers):
        kind, params = MACHINE_ANNOTATORS[m % len(MACHINE_ANNOTATORS)]
        rng = _rng(seed, 2, m)
        n = min(int(params.get("n") or rng.choice(_TRAIN_SIZES)), len(pool))
        idx = torch.as_tensor(np.sort(rng.choice(len(pool), n, replace=False)), device=dev)
        xs, ys = pool[idx], targets[idx]
        if kind in ("knn", "centroid"):
            pred = _distance_annotator(kind, xs, ys, queries, n_classes, params.get("k", 1))
            detail = f"k={params['k']}, n={n}" if kind == "knn" else f"n={n}"
        else:
            stream = int(rng.integers(2**31))
            pred = _torch_annotator(kind, xs, ys, queries, n_classes, params["epochs"], stream)
            detail = f"n={n}, epochs={params['epochs']}"
        labels[:, m] = pred.cpu().numpy()
        names.append(f"{kind}({detail})")
    return labels, names



def mnist_machine(
    *,
    root: PathLike | None = None,
    data: PathLike | None = None,
    n_workers: int | None = None,
    p: float | None = None,
    missing_rate: float | None = None,
    n_tasks: int | str | None = 1000,
    pool: int = 10_000,
    limit: int | None = None,
    seed: int | None = 0,
    device: Any = "auto",
) -> Experiment:
    """MNIST labelled by machine annotators (the paper's machine-annotator experiment).

    Parameters
    ----------
    root, data:
        The installed ``mnist`` data set under ``root``, or ``data``: a folder of the idx files.
    n_workers:
        Number of machine annotators (default 15, :data:`MACHINE_ANNOTATORS`).
    p, missing_rate:
        Each annotator's label of each image is kept with probability ``p`` (default 0.1, so
        about 90% missing; = 1 - ``missing_rate``); an image left without any label gets the
        label of one annotator drawn at random.
    n_tasks:
        Training images labelled by the crowd (default 1,000 as the official script;
        ``"all"``: every training image outside the pool).
    pool:
        Training images set aside to train the annotators (default 10,000).
    limit:
        At most ``limit`` crowd-labelled images and ``limit`` test images.
    device:
        Where the annotators are trained (``"auto"``: CUDA when available).
    """
    from ..deep.augment import mnist_transform

    images = _installed_images("mnist", root, data)
    m = 15 if n_workers is None else int(n_workers)
    if m < 1:
        raise CrowdlearnError(f"the number of annotators must be at least 1, got {m}")
    if p is not None and missing_rate is not None:
        raise CrowdlearnError("give p (answer probability) or missing_rate, not both")
    prob = 0.1 if p is None and missing_rate is None else (
        float(p) if p is not None else 1.0 - float(missing_rate))
    if not 0.0 < prob <= 1.0:
        raise CrowdlearnError(f"the answer probability must be in (0, 1], got {prob}")
    n_train = len(images.train_y)
    if not 0 < pool < n_train:
        raise CrowdlearnError(f"pool must be between 1 and {n_train - 1} (the training images "
                              f"minus at least one to label), got {pool}")
    rest = n_train - pool
    if n_tasks is None or (isinstance(n_tasks, str) and n_tasks.strip().lower() == "all"):
        n = rest
    else:
        n = int(n_tasks)
        if not 0 < n <= rest:
            raise CrowdlearnError(f"n_tasks must be between 1 and {rest} (the {n_train} "
                                  f"training images minus the pool of {pool}), got {n}")
    if limit is not None:
        n = min(n, int(limit))
    rng = _rng(seed, 1)
    perm = rng.permutation(n_train)
    pool_idx, task_idx = np.sort(perm[:pool]), np.sort(perm[pool:pool + n])
    x, y = _take(images.train_x, task_idx), _take(images.train_y, task_idx)
    k = images.n_classes
    labels, names = machine_annotators(_take(images.train_x, pool_idx),
                                       _take(images.train_y, pool_idx), x, m, n_classes=k,
                                       seed=seed, device=device)
    # the annotators' confusions on these images (rows = true class; a class absent: uniform)
    counts = np.zeros((m, k, k))
    np.add.at(counts, (np.repeat(np.arange(m), n), np.tile(y, m), labels.T.reshape(-1)), 1.0)
    totals = counts.sum(axis=2, keepdims=True)
    conf = np.where(totals > 0, counts / np.maximum(totals, 1.0), 1.0 / k)
    mask = _rng(seed, 3).random((n, m)) < prob
    empty = np.flatnonzero(~mask.any(axis=1))
    mask[empty, _rng(seed, 4).integers(m, size=len(empty))] = True
    task, worker = np.nonzero(mask)
    answers = Answers(task, worker, labels[task, worker], task_ids=np.arange(n),
                      worker_ids=np.arange(m), classes=np.asarray(images.classes),
                      truth=y.astype(np.int64), name="mnist-machine", _sorted=True)
    te = _subset(len(images.test_y), limit, rng)
    settings = dict(backbone="lenet", strategy="geocrowdnet-f", lam=1e-3, n_epochs=50,
                    batch_size=64, optimizer="adam", lr=1e-3, weight_decay=1e-4,
                    val_fraction=0.05, selection="val_accuracy", transform=mnist_transform(),
                    seed=seed)
    accuracy = (labels == y[:, None]).mean(axis=0)
    return Experiment(
        name="mnist-machine", x=x, answers=answers, x_test=_take(images.test_x, te),
        y_test=_names(images.classes, _take(images.test_y, te)), true_confusions=conf,
        settings=settings,
        info={"source": images.source, "n_workers": m, "p": prob, "pool": pool,
              "n_tasks": n, "limit": limit, "worker_models": names,
              "annotator_accuracy_all_images": [round(float(a), 4) for a in accuracy],
              "true_confusions": "empirical confusions of every annotator's label of every "
              "crowd-labelled image"})


# ---------------------------------------------------------------------------- music
def _music_csv(folder: Path) -> tuple[Answers, np.ndarray, np.ndarray, np.ndarray]:
    """Answers (with truth), features, test features and test labels from the upstream CSVs."""
    import pandas as pd

    from ..io import read
    from ..io.features import read_features
    from ..io.truth import read_truth

    gold_path, test_path = folder / "music_genre_gold.csv", folder / "music_genre_test.csv"
    answers = read(folder / "music_genre_mturk.csv", task_col="id", worker_col="annotator",
                   label_col="class")
    answers = read_truth(gold_path, answers, task_col="id", truth_col="class")
    cols = [c for c in pd.read_csv(gold_path, nrows=0).columns if str(c).startswith("feature")]
    x = read_features(gold_path, answers, id_col="id", columns=cols).X
    test = read_features(test_path, id_col="id", columns=cols, label_col="class")
    return answers, x, test.X, np.asarray(test.labels)


def _music_installed(folder: Path) -> tuple[Answers, np.ndarray, np.ndarray, np.ndarray]:
    from ..io import read_peerannot

    answers = read_peerannot(folder)
    arrays = {}
    for key in ("features", "features_test", "test_labels"):
        path = folder / f"{key}.npy"
        if not path.is_file():
            raise DataError(f"no {key}.npy: not an installed music folder (crowdlearn datasets "
                            "install music)", source=str(folder))
        arrays[key] = np.load(path, allow_pickle=False)
    x = arrays["features"][np.asarray(answers.task_ids, dtype=np.int64)]
    y_test = _names(answers.classes, arrays["test_labels"])
    return answers, x, arrays["features_test"], y_test


def music(
    *,
    root: PathLike | None = None,
    data: PathLike | None = None,
    limit: int | None = None,
    seed: int | None = 0,
) -> Experiment:
    """Music genres (Rodrigues et al. 2014): 700 songs, 44 Mechanical Turk workers, 124 features.

    ``data`` is an installed ``music`` folder or a folder of the upstream CSV files
    (``music_genre_gold.csv``, ``music_genre_test.csv``, ``music_genre_mturk.csv``); else the
    installed copy under ``root``. The truth of the training songs (the gold file's class) is
    attached to the answers: training accuracy, and the paper's selection by validation
    accuracy, use it.
    """
    folder = _installed_folder("music", root, data)
    if (folder / "music_genre_mturk.csv").is_file():
        answers, x, x_test, y_test = _music_csv(folder)
    else:
        answers, x, x_test, y_test = _music_installed(folder)
    answers, x, x_test, y_test = _limit_real(answers, x, x_test, y_test, limit, seed)
    settings = dict(backbone="mlp", backbone_params={"hidden": (128,), "dropout": 0.5},
                    strategy="geocrowdnet-w", lam=0.01, n_epochs=1000, batch_size=128,
                    optimizer="adam", lr=1e-3, weight_decay=1e-4, val_fraction=0.1,
                    selection="val_accuracy", seed=seed)
    return Experiment(name="music", x=np.asarray(x, dtype=np.float32), answers=answers,
                      x_test=np.asarray(x_test, dtype=np.float32), y_test=y_test,
                      settings=settings, info={"source": str(folder), "limit": limit})


def _limit_real(answers: Answers, x: Any, x_test: Any, y_test: Any, limit: int | None,
                seed: int | None) -> tuple[Answers, Any, Any, Any]:
    rng = _rng(seed, 1)
    tr = _subset(answers.n_tasks, limit, rng)
    if tr is not None:
        answers, x = answers.select_tasks(tr, keep_all_workers=True), np.asarray(x[tr])
    te = None if x_test is None else _subset(len(x_test), limit, rng)
    if te is not None:
        x_test, y_test = np.asarray(x_test[te]), np.asarray(y_test)[te]
    return answers, x, x_test, y_test


# ---------------------------------------------------------------------------- labelme
def _labelme_features(folder: Path, answers: Answers) -> dict[str, Any] | None:
    """VGG-16 features of the installed folder, if any: crowdlearn's names or Rodrigues'."""
    from .convert import LABELME_CROWDLAYER_ORDER

    classes = np.asarray(answers.classes)
    rows = np.asarray(answers.task_ids, dtype=np.int64)
    if (folder / "features.npy").is_file():
        out: dict[str, Any] = {"x": np.load(folder / "features.npy")[rows],
                               "files": "features.npy"}
        if (folder / "features_test.npy").is_file():
            out["x_test"] = np.load(folder / "features_test.npy")
            out["y_test"] = _names(classes, np.load(folder / "test_labels.npy"))
        return out
    if (folder / "data_train_vgg16.npy").is_file():
        upstream = np.array([list(classes).index(c) for c in LABELME_CROWDLAYER_ORDER])
        out = {"x": np.load(folder / "data_train_vgg16.npy")[rows],
               "files": "data_*_vgg16.npy"}
        for split, key in (("test", "test"), ("valid", "val")):
            if (folder / f"data_{split}_vgg16.npy").is_file():
                out[f"x_{key}"] = np.load(folder / f"data_{split}_vgg16.npy")
                labels = np.load(folder / f"labels_{split}.npy").astype(np.int64).reshape(-1)
                out[f"y_{key}"] = _names(classes, upstream[labels])  # CrowdLayer's class order
        return out
    return None


def labelme(
    *,
    root: PathLike | None = None,
    data: PathLike | None = None,
    size: int = 224,
    limit: int | None = None,
    seed: int | None = 0,
) -> Experiment:
    """LabelMe scenes (Rodrigues & Pereira 2018): 1,000 images, 59 Mechanical Turk workers.

    ``data`` is an installed ``labelme`` folder (else the one under ``root``). With VGG-16
    features in it (``features.npy`` [+ ``features_test.npy``, ``test_labels.npy``], or
    Rodrigues' ``data_train_vgg16.npy`` [+ ``data_test_vgg16.npy``, ``labels_test.npy``,
    ``data_valid_vgg16.npy``, ``labels_valid.npy``]; rows in task order) the paper's MLP is
    trained on them; otherwise the images (``train/``, ``val/``, ``test/``, resized to
    ``size``) with a pretrained ``torchvision.models.vgg16`` (torchvision needed).
    """
    from ..io import read_peerannot

    folder = _installed_folder("labelme", root, data)
    answers = read_peerannot(folder)
    feats = _labelme_features(folder, answers)
    x_val = y_val = None
    if feats is not None:
        x, x_test, y_test = feats["x"], feats.get("x_test"), feats.get("y_test")
        x_val, y_val = feats.get("x_val"), feats.get("y_val")
        settings: dict[str, Any] = dict(backbone="mlp",
                                        backbone_params={"hidden": (128,), "dropout": 0.5})
        mode = f"VGG-16 features ({feats['files']})"
    else:
        from ..deep.augment import imagenet_transform
        from .images import load_image_folder

        images = load_image_folder(folder, size=size, ids="index")
        x, _ = images.select(answers.task_ids, "train")
        x_test, y_test = images.test_x, _names(images.classes, images.test_y)
        if images.val_x is not None:
            x_val, y_val = images.val_x, _names(images.classes, images.val_y)
        settings = dict(backbone="torchvision.models.vgg16", pretrained=True,
                        transform=imagenet_transform(size, seed=seed))
        mode = f"images ({size} x {size})"
    answers, x, x_test, y_test = _limit_real(answers, x, x_test, y_test, limit, seed)
    settings.update(strategy="geocrowdnet-f", lam=0.2, n_epochs=100, batch_size=100,
                    optimizer="adam", lr=1e-3, weight_decay=1e-4, val_fraction=0.1,
                    selection="val_accuracy", seed=seed)
    return Experiment(name="labelme", x=x, answers=answers, x_test=x_test, y_test=y_test,
                      settings=settings, x_val=x_val, y_val=y_val,
                      info={"source": str(folder), "items": mode, "limit": limit})


# ---------------------------------------------------------------------------- registry
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


def _lam_applies(strategy: str) -> bool:
    from ..aggregate.base import parse_strategy_spec
    from ..deep.heads import get_head_class

    cls = get_head_class(parse_strategy_spec(strategy)[0])
    return "lam" in inspect.signature(cls.__init__).parameters


def _merge_settings(settings: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The protocol's settings with ``overrides``; protocol parts tied to what is replaced go.

    A new backbone drops the protocol's backbone parameters (and pretrained weights, unless it
    is a torchvision model too); a new strategy drops the protocol's lambda unless the new
    strategy takes one.
    """
    out = dict(settings)
    over = {k: v for k, v in overrides.items() if v is not None}
    if "backbone" in over and over["backbone"] != out.get("backbone"):
        out.pop("backbone_params", None)
        if not str(over["backbone"]).lower().startswith("torchvision."):
            out.pop("pretrained", None)
    if "strategy" in over and over["strategy"] != out.get("strategy"):
        out.pop("strategy_params", None)
        if "lam" not in over and not _lam_applies(over["strategy"]):
            out.pop("lam", None)
    for key in ("backbone_params", "strategy_params"):
        if key in over:
            out[key] = {**(out.get(key) or {}), **over.pop(key)} or None
    out.update(over)
    return out


#: default backbones known before loading (labelme's depends on the files it finds)
_DEFAULT_BACKBONES = {"cifar10-synthetic": "resnet9", "mnist-machine": "lenet",
                      "food11": "torchvision.models.resnet50", "music": "mlp"}


def _check_backbone(name: Any) -> None:
    """Fail before loading any data when a torchvision backbone cannot be built here."""
    if isinstance(name, str) and name.strip().lower().startswith("torchvision.models."):
        from ..deep.backbones import make_backbone

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
        CPU threads of torch during the run.
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

    from ..deep import CrowdClassifier
    from ..deep.results import check_out_dir, fit_summary, write_fit_results

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
        _check_backbone(settings.get("backbone"))
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
        paths = write_fit_results(clf, out, X_test=exp.x_test, y_test=exp.y_test,
                                  true_confusions=exp.true_confusions, plot=plot,
                                  overwrite=True, extra=info, input_shape=shape)
    finally:
        torch.set_num_threads(saved_threads)
    folder = Path(out)
    exp.answers.to_frame().to_csv(folder / "answers.csv", index=False, lineterminator="\n")
    if exp.true_confusions is not None:
        np.save(folder / "true_confusions.npy", np.asarray(exp.true_confusions, np.float64))
    summary = json.loads(paths["results.json"].read_text(encoding="utf-8"))
    return clf, summary


def _jsonable(value: Any) -> Any:
    """Plain JSON data (tuples as lists, numpy scalars and arrays as numbers and lists)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value
