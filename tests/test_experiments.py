"""``crowdlearn experiment``: the CCEM paper protocols on tiny stand-ins in the real file formats.

Fake CIFAR-10 pickle batches, MNIST idx files, a Food-11 folder of 16 x 16 PNGs, Music CSVs and a
LabelMe archive folder (the last two installed by the real installer) run through the command
line for one epoch with small backbones; the annotators' statistics, the output folder and the
error paths are checked.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crowdlearn.cli import build_parser, main
from crowdlearn.datasets import install
from crowdlearn.datasets.convert import LABELME_CLASSES, LABELME_CROWDLAYER_ORDER
from crowdlearn.datasets.protocols import (
    MACHINE_ANNOTATORS,
    PROTOCOLS,
    load_experiment,
    machine_annotators,
    run_experiment,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one torch thread

QUICK = ["--n-epochs", "1", "--accelerator", "cpu", "--threads", "1", "--no-progress"]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"]


def results(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "results.json").read_text(encoding="utf-8"))


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("crowdlearn experiment: error: ")
    return err


# ---------------------------------------------------------------------------- stand-ins
def write_cifar(folder: Path, n_per_batch: int = 40, n_test: int = 100) -> None:
    """cifar-10-batches-py with 5 x 40 training and 100 test random images."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for b in range(1, 7):
        n = n_per_batch if b < 6 else n_test
        batch = {b"batch_label": b"fake", b"labels": rng.integers(0, 10, n).tolist(),
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"filenames": [f"{b}_{i}.png".encode() for i in range(n)]}
        with open(folder / (f"data_batch_{b}" if b < 6 else "test_batch"), "wb") as f:
            pickle.dump(batch, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CIFAR_CLASSES]}, f, protocol=2)


def idx_bytes(arr: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def digits(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """28 x 28 'digits' a classifier can tell apart: a bright 6 x 6 block placed by class."""
    x = rng.integers(0, 60, (len(labels), 28, 28))
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 5)
        x[i, 2 + 12 * r: 8 + 12 * r, 1 + 5 * c: 7 + 5 * c] = 250
    return x


def write_mnist(folder: Path, n_train: int = 400, n_test: int = 50) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    y_train, y_test = rng.integers(0, 10, n_train), rng.integers(0, 10, n_test)
    for name, arr, magic in (("train-images-idx3-ubyte", digits(y_train, rng), 2051),
                             ("train-labels-idx1-ubyte", y_train, 2049),
                             ("t10k-images-idx3-ubyte", digits(y_test, rng), 2051),
                             ("t10k-labels-idx1-ubyte", y_test, 2049)):
        (folder / name).write_bytes(idx_bytes(arr, magic))


def save_image(path: Path, value: int, size: int = 16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    arr[..., 0] = value
    Image.fromarray(arr).save(path, format="PNG")


def write_food11(folder: Path) -> None:
    """The Kaggle layout: {training,validation,evaluation}/<class>/*.png, 3 classes."""
    for split, n in (("training", 10), ("validation", 2), ("evaluation", 3)):
        for k, cls in enumerate(("Bread", "Egg", "Soup")):
            for i in range(n):
                save_image(folder / split / cls / f"{i}.png", 80 * k + i)


def write_music_csvs(folder: Path, n_gold: int = 60, n_test: int = 20) -> Path:
    """The three Music CSV files (id, feature0.., class; mturk: annotator), 6 workers."""
    rng = np.random.default_rng(2)
    genres = ["blues", "classical", "jazz", "rock"]
    folder.mkdir(parents=True)

    def frame(ids: list[str], labels: list[str]) -> pd.DataFrame:
        data: dict[str, Any] = {"id": ids}
        for j in range(5):
            data[f"feature{j}"] = rng.normal(size=len(ids)).round(5)
        data["class"] = labels
        return pd.DataFrame(data)

    gold_ids = [f"song{i:03d}.mp3" for i in range(n_gold)]
    gold = frame(gold_ids, [genres[i % 4] for i in range(n_gold)])
    test = frame([f"test{i:03d}.mp3" for i in range(n_test)],
                 [genres[i % 4] for i in range(n_test)])
    rows = [(s, f"W{w}") for i, s in enumerate(gold_ids) for w in range(6) if (i + w) % 3 == 0]
    crowd = pd.DataFrame({"id": [s for s, _ in rows], "annotator": [w for _, w in rows],
                          "class": [gold.set_index("id").loc[s, "class"] if w != "W5" else "rock"
                                    for s, w in rows]})
    gold.to_csv(folder / "music_genre_gold.csv", index=False)
    test.to_csv(folder / "music_genre_test.csv", index=False)
    crowd.to_csv(folder / "music_genre_mturk.csv", index=False)
    return folder


def write_labelme_upstream(folder: Path) -> dict[str, Any]:
    """deep_LabelMe extracted: LabelMe/{train,valid,test}/<class>/*.jpg, answers.txt, ..."""
    base = folder / "LabelMe"
    order = list(LABELME_CROWDLAYER_ORDER)
    rng = np.random.default_rng(3)
    train = [(order[i % 8], f"tr{i}.jpg") for i in range(24)]
    answers = np.full((len(train), 5), -1)
    for i, (cls, _) in enumerate(train):
        for w in rng.choice(5, 2, replace=False):
            answers[i, w] = order.index(cls) if w < 4 else rng.integers(8)
    splits = {"train": train, "valid": [(order[i % 8], f"va{i}.jpg") for i in range(8)],
              "test": [(order[i % 8], f"te{i}.jpg") for i in range(8)]}
    for split, items in splits.items():
        for j, (cls, name) in enumerate(items):
            save_image(base / split / cls / name, 30 * order.index(cls) + j)
        (base / f"filenames_{split}.txt").write_text("\n".join(n for _, n in items) + "\n")
    (base / "answers.txt").write_text("\n".join(" ".join(map(str, r)) for r in answers) + "\n")
    return splits


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every stand-in, written once: cifar, mnist and food11 folders; music and labelme
    installed (and music's CSV folder) under one root."""
    base = tmp_path_factory.mktemp("experiments")
    write_cifar(base / "cifar-10-batches-py")
    write_mnist(base / "mnist")
    write_food11(base / "food-11")
    root = base / "root"
    csvs = write_music_csvs(base / "music-csv")
    install("music", root, source=csvs, verify=False, log=None)
    write_labelme_upstream(base / "labelme-upstream")
    install("labelme", root, source=base / "labelme-upstream", log=None)
    return {"cifar": base / "cifar-10-batches-py", "mnist": base / "mnist",
            "food11": base / "food-11", "root": root, "music-csv": csvs}


# ---------------------------------------------------------------------------- the command
def test_every_protocol_is_a_command() -> None:
    from crowdlearn.cli import experiment

    assert experiment.PROTOCOLS == tuple(PROTOCOLS)
    assert "experiment" in build_parser().format_help()
    args = build_parser().parse_args(["experiment", "music", "-o", "x"])
    # protocol settings stay unset unless given: the protocol's values apply
    assert (args.n_epochs, args.batch_size, args.lr, args.backbone, args.selection) == (
        None, None, None, None, None)


def test_cifar10_synthetic_every_annotator_labels_every_image(
        data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["experiment", "cifar10-synthetic", "--data", str(data["cifar"]), "--gamma",
                 "0.01", "--M", "5", "--answers-per-task", "all", "--backbone", "mlp", *QUICK,
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "confusion error" in printed
    s = results(out)
    assert 0.0 <= s["final_test_accuracy"] <= 1.0 and s["n_test"] == 100
    assert s["confusion_error"] is not None and s["confusion_error"] > 0
    assert (s["n_tasks"], s["n_workers"], s["n_answers"]) == (200, 5, 1000)
    a = s["annotators"]
    assert a["missing_rate"] == 0.0 and a["tasks_without_answers"] == 0
    # separable-and-uniform: exactly one near-perfect annotator, the others near-uniform
    true = np.load(out / "true_confusions.npy")
    assert true.shape == (5, 10, 10)
    good = np.flatnonzero(true.diagonal(axis1=1, axis2=2).min(axis=1) > 0.9)
    assert len(good) == 1
    others = np.delete(true, good, axis=0)
    np.testing.assert_allclose(others, 0.1, atol=1e-3)
    accuracy = np.array(a["worker_accuracy"])
    assert accuracy[good[0]] > 0.9 and np.all(np.delete(accuracy, good) < 0.4)
    assert s["protocol"]["name"] == "cifar10-synthetic" and s["protocol"]["gamma"] == 0.01
    answers = pd.read_csv(out / "answers.csv")
    assert len(answers) == 1000 and set(answers["label"]) <= set(CIFAR_CLASSES)
    assert (out / "confusions.npy").is_file() and (out / "best.pth").is_file()


def test_cifar10_paper_settings_with_resnet9(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["experiment", "cifar10-synthetic", "--data", str(data["cifar"]), "--limit",
                 "16", *QUICK, "--quiet", "-o", str(out)]) == 0
    s = results(out)
    assert s["backbone"] == "resnet9" and s["strategy"] == "geocrowdnet-f"
    assert (s["n_tasks"], s["n_test"], s["n_answers"]) == (16, 16, 16)  # one answer per image
    p = s["classifier_params"]
    assert (p["lam"], p["batch_size"], p["optimizer"], p["lr"], p["weight_decay"],
            p["schedule"], p["val_fraction"], p["selection"]) == (
        0.01, 400, "adam", 1e-3, 1e-4, "onecycle", 0.05, "val_accuracy")
    assert s["confusion_error"] is not None and "final_test_accuracy" in s


def test_cifar10_assignment_designs(data: dict[str, Path]) -> None:
    one = load_experiment("cifar10-synthetic", data=data["cifar"])
    assert one.answers.n_answers == one.answers.n_tasks == 200  # the official run: 1 per image
    assert one.stats["missing_rate"] == pytest.approx(0.8)
    half = load_experiment("cifar10-synthetic", data=data["cifar"], p=0.5, n_workers=8)
    assert half.answers.n_workers == 8
    assert half.stats["missing_rate"] == pytest.approx(0.5, abs=0.06)
    missing = load_experiment("cifar10-synthetic", data=data["cifar"], missing_rate=0.75)
    assert missing.stats["missing_rate"] == pytest.approx(0.75, abs=0.06)
    again = load_experiment("cifar10-synthetic", data=data["cifar"], p=0.5, n_workers=8)
    np.testing.assert_array_equal(again.answers.label, half.answers.label)  # seeded
    mixed = load_experiment("cifar10-synthetic", data=data["cifar"],
                            annotators="perfect:1,spammer:2", answers_per_task="all")
    assert mixed.info["worker_models"] == ["perfect", "spammer", "spammer"]
    np.testing.assert_allclose(mixed.true_confusions[0], np.eye(10))
    with pytest.raises(Exception, match="answers_per_task or p"):
        load_experiment("cifar10-synthetic", data=data["cifar"], p=0.5, answers_per_task=2)


def test_cifar10_from_the_installed_data_set(data: dict[str, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    assert main(["experiment", "cifar10-synthetic", "--root", str(root), *QUICK,
                 "-o", str(tmp_path / "out")]) == 2
    assert "crowdlearn datasets install cifar10" in one_line_error(capsys)
    assert not (tmp_path / "out").exists()
    raw = root / "cifar10" / "raw" / "cifar-10-batches-py"
    raw.mkdir(parents=True)
    for f in data["cifar"].iterdir():
        if f.is_file():
            (raw / f.name).write_bytes(f.read_bytes())
    (root / "cifar10" / "metadata.json").write_text('{"name": "cifar10", "kind": "images"}')
    clf, s = run_experiment("cifar10-synthetic", root=root, backbone="mlp", n_epochs=1,
                            device="cpu", threads=1)
    assert s["n_tasks"] == 200 and s["confusion_error"] is not None
    assert clf.confusions_.shape == (5, 10, 10)
    assert clf.head_lr_ == clf.lr == 1e-3  # the paper's one optimiser rate, not the 10x default


def test_mnist_machine_annotators(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["experiment", "mnist-machine", "--data", str(data["mnist"]), "--pool", "100",
                 "--n-tasks", "300", *QUICK, "--quiet", "-o", str(out)]) == 0
    s = results(out)
    assert s["backbone"] == "lenet" and (s["n_tasks"], s["n_workers"]) == (300, 15)
    a = s["annotators"]
    assert a["tasks_without_answers"] == 0  # at least one answer per image
    assert 0.86 <= a["missing_rate"] <= 0.91  # p = 0.1 of 15 labels, plus the forced ones
    assert s["confusion_error"] is not None and "final_test_accuracy" in s
    names = s["protocol"]["worker_models"]
    assert len(names) == 15 and {n.split("(")[0] for n in names} == {
        kind for kind, _ in MACHINE_ANNOTATORS}
    true = np.load(out / "true_confusions.npy")
    np.testing.assert_allclose(true.sum(axis=2), 1.0)
    assert max(s["protocol"]["annotator_accuracy_all_images"]) > 0.5


def test_mnist_true_confusions_are_the_annotators_own(data: dict[str, Path]) -> None:
    exp = load_experiment("mnist-machine", data=data["mnist"], pool=100, n_tasks=200, p=1.0)
    a = exp.answers
    assert a.n_answers == 200 * 15 and exp.stats["missing_rate"] == 0.0
    counts = np.zeros((15, 10, 10))
    np.add.at(counts, (a.worker, a.truth[a.task], a.label), 1.0)
    np.testing.assert_allclose(exp.true_confusions, counts / counts.sum(axis=2, keepdims=True))
    clf = exp.classifier(n_epochs=1, backbone="mlp")
    assert (clf.backbone, clf.n_epochs, clf.lam, clf.batch_size) == ("mlp", 1, 1e-3, 64)


def test_machine_annotators_learn_from_their_pool() -> None:
    rng = np.random.default_rng(5)
    y_pool, y = rng.integers(0, 10, 120), rng.integers(0, 10, 100)
    pool, x = digits(y_pool, rng)[:, None].astype(np.uint8), digits(y, rng)[:, None]
    labels, names = machine_annotators(pool, y_pool, x.astype(np.uint8), 15, seed=0)
    assert labels.shape == (100, 15) and len(names) == 15
    accuracy = (labels == y[:, None]).mean(axis=0)
    distance = [i for i, n in enumerate(names) if n.startswith(("knn", "centroid"))]
    assert accuracy[distance].min() > 0.9  # blocks are easy for neighbours and centroids
    again, _ = machine_annotators(pool, y_pool, x.astype(np.uint8), 15, seed=0)
    np.testing.assert_array_equal(again, labels)


def test_food11_with_a_small_backbone(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["experiment", "food11", "--data", str(data["food11"]), "--size", "16",
                 "--backbone", "mlp", "--answers-per-task", "all", *QUICK, "--quiet",
                 "-o", str(out)]) == 0
    s = results(out)
    assert s["classes"] == ["Bread", "Egg", "Soup"] and s["n_tasks"] == 30 and s["n_test"] == 9
    assert s["confusion_error"] is not None and "final_test_accuracy" in s
    assert s["n_val_split"] == 6 and 0.0 <= s["val_split_accuracy"] <= 1.0
    assert s["classifier_params"]["pretrained"] is False  # mlp: no pretrained weights asked


def test_food11_default_backbone_needs_torchvision(
        data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision fails
    for folder in (data["food11"], tmp_path / "no-such-folder"):  # checked before the data
        assert main(["experiment", "food11", "--data", str(folder), *QUICK,
                     "-o", str(tmp_path / "out")]) == 2
        err = one_line_error(capsys)
        assert "backbone 'torchvision.models.resnet50' needs torchvision" in err
        assert not (tmp_path / "out").exists()


def test_music_installed_and_from_csv_files(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["experiment", "music", "--root", str(data["root"]), *QUICK, "--quiet",
                 "-o", str(out)]) == 0
    s = results(out)
    assert (s["n_tasks"], s["n_workers"], s["n_test"]) == (60, 6, 20)
    assert s["confusion_error"] is None and "final_test_accuracy" in s
    p = s["classifier_params"]
    assert (s["strategy"], p["lam"], p["batch_size"], s["backbone_params"]) == (
        "geocrowdnet-w", 0.01, 128, {"hidden": [128], "dropout": 0.5})
    assert not (out / "true_confusions.npy").exists()
    _, csv = run_experiment("music", data=data["music-csv"], n_epochs=1, device="cpu",
                            strategy="crowdlayer")  # no lambda for the crowd layer
    assert (csv["n_tasks"], csv["n_answers"], csv["n_test"]) == (60, s["n_answers"], 20)
    assert csv["strategy"] == "crowdlayer" and csv["classifier_params"]["lam"] is None


def test_labelme_images_then_features(data: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "labelme").parent.mkdir()
    import shutil

    shutil.copytree(data["root"] / "labelme", root / "labelme")
    out = tmp_path / "images"
    assert main(["experiment", "labelme", "--root", str(root), "--backbone", "mlp", "--size",
                 "16", *QUICK, "--quiet", "-o", str(out)]) == 0
    s = results(out)
    assert (s["n_tasks"], s["n_workers"], s["n_test"], s["n_val_split"]) == (24, 5, 8, 8)
    assert s["protocol"]["items"] == "images (16 x 16)"
    # VGG-16 features in the installed folder (Rodrigues' file names): the paper's MLP
    rng = np.random.default_rng(4)
    folder = root / "labelme"
    np.save(folder / "data_train_vgg16.npy", rng.normal(size=(24, 4, 4, 8)).astype(np.float32))
    np.save(folder / "data_test_vgg16.npy", rng.normal(size=(8, 4, 4, 8)).astype(np.float32))
    np.save(folder / "labels_test.npy", np.arange(8))  # CrowdLayer's class order
    exp = load_experiment("labelme", root=root)
    assert exp.y_test.tolist() == list(LABELME_CROWDLAYER_ORDER)
    assert set(exp.answers.classes) == set(LABELME_CLASSES)
    out = tmp_path / "features"
    assert main(["experiment", "labelme", "--root", str(root), *QUICK, "--quiet",
                 "-o", str(out)]) == 0
    s = results(out)
    assert s["backbone"] == "mlp" and s["input_shape"] == [4, 4, 8]
    assert s["classifier_params"]["lam"] == 0.2 and "final_test_accuracy" in s


def test_options_that_do_not_apply_are_errors(data: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "out")
    assert main(["experiment", "music", "--root", str(data["root"]), "--gamma", "0.1", *QUICK,
                 "-o", out]) == 2
    assert "option 'gamma' does not apply" in one_line_error(capsys)
    assert main(["experiment", "cifar10-synthetic", "--data", str(data["cifar"]),
                 "--annotator_type", "real", *QUICK, "-o", out]) == 2
    assert "cifar10-synthetic has synthetic annotators" in one_line_error(capsys)
    assert main(["experiment", "mnist-machine", "--data", str(data["mnist"]), *QUICK,
                 "-o", out]) == 2
    assert "pool must be between 1 and 399" in one_line_error(capsys)
    assert main(["experiment", "music", "--root", str(data["root"]), "--K", "4", *QUICK,
                 "-o", out]) == 2
    assert "K is 4 but music has 10 classes" in one_line_error(capsys)


def test_music_real_data(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["experiment", "music", "--data", str(data_dir / "music"), "--n-epochs", "2",
                 "--accelerator", "cpu", "--no-progress", "--quiet", "-o", str(out)]) == 0
    s = results(out)
    assert (s["n_tasks"], s["n_workers"], s["n_answers"], s["n_test"]) == (700, 44, 2945, 300)
    assert s["n_tasks_with_truth"] == 700 and s["final_test_accuracy"] > 0.1


def test_protocol_files_are_part_of_the_atomic_folder(
    data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """answers.csv is written into the same temporary folder as fit's files: a failure while
    writing it leaves no output folder (not one whose results.json lists missing files)."""
    from crowdlearn.answers import Answers

    def broken(self: Answers, *args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Answers, "to_frame", broken)
    out = tmp_path / "out"
    assert main(["experiment", "music", "--root", str(data["root"]), *QUICK, "--quiet",
                 "-o", str(out)]) == 2
    assert "No space left" in capsys.readouterr().err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == []
