"""The ``mnist-machine`` protocol: MNIST labelled by machine-classifier annotators.

:data:`MACHINE_ANNOTATORS` lists the 15 annotators after the official code;
:func:`machine_annotators` trains them and labels the crowd's images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...answers import Answers
from ...errors import CrowdlearnError
from .common import PathLike, _installed_images, _names, _rng, _subset, _take
from .experiment import Experiment

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

    from ...deep.backbones import make_backbone

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

    from ...deep.augment import MNIST_MEAN, MNIST_STD
    from ...deep.data import resolve_device

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
    from ...deep.augment import mnist_transform

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
