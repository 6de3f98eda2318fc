"""Protocols with real Mechanical Turk crowds: ``music`` and ``labelme``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...answers import Answers
from ...errors import DataError
from .common import PathLike, _installed_folder, _limit_real, _names
from .experiment import Experiment


def _music_csv(folder: Path) -> tuple[Answers, np.ndarray, np.ndarray, np.ndarray]:
    """Answers (with truth), features, test features and test labels from the upstream CSVs."""
    import pandas as pd

    from ...io import read
    from ...io.features import read_features
    from ...io.truth import read_truth

    gold_path, test_path = folder / "music_genre_gold.csv", folder / "music_genre_test.csv"
    answers = read(folder / "music_genre_mturk.csv", task_col="id", worker_col="annotator",
                   label_col="class")
    answers = read_truth(gold_path, answers, task_col="id", truth_col="class")
    cols = [c for c in pd.read_csv(gold_path, nrows=0).columns if str(c).startswith("feature")]
    x = read_features(gold_path, answers, id_col="id", columns=cols).X
    test = read_features(test_path, id_col="id", columns=cols, label_col="class")
    return answers, x, test.X, np.asarray(test.labels)


def _music_installed(folder: Path) -> tuple[Answers, np.ndarray, np.ndarray, np.ndarray]:
    from ...io import read_peerannot

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


def _labelme_features(folder: Path, answers: Answers) -> dict[str, Any] | None:
    """VGG-16 features of the installed folder, if any: crowdlearn's names or Rodrigues'."""
    from ..convert import LABELME_CROWDLAYER_ORDER

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
    from ...io import read_peerannot

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
        from ...deep.augment import imagenet_transform
        from ..images import load_image_folder

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
