"""``crowdlearn fit --images``: an image-folder data set (peerannot layout) as the items."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crowdlearn.cli import main
from crowdlearn.io import write_peerannot
from crowdlearn.simulate import simulate

pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

CLASSES = ("cat", "dog", "frog")
FAST = ["--n-epochs", "15", "--batch-size", "32", "--lr", "0.01", "--accelerator", "cpu",
        "--threads", "1", "--no-progress", "--quiet", "--hidden", "16", "--dropout", "0"]


def _image(k: int, rng: np.random.Generator) -> np.ndarray:
    """8x8 RGB: class k is a bright channel k, plus noise."""
    arr = rng.integers(0, 60, size=(8, 8, 3)).astype(np.uint8)
    arr[:, :, k] += 150
    return arr


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """peerannot layout: answers.json (tasks 0..n-1), train/<class>/<class>-<task>.png, test/."""
    root = tmp_path_factory.mktemp("img") / "pets"
    rng = np.random.default_rng(0)
    n = 150
    y = rng.integers(0, 3, n)
    crowd = simulate(true_labels=y, n_classes=3, n_workers=6, answers_per_task=3,
                     model="one-coin", model_params={"skill": 0.7}, seed=0)
    write_peerannot(crowd.answers.with_truth(None), root, name="pets")
    for t, k in enumerate(y):
        path = root / "train" / CLASSES[k] / f"{CLASSES[k]}-{t}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_image(int(k), rng)).save(path)
    for i, k in enumerate(rng.integers(0, 3, 60)):
        path = root / "test" / CLASSES[k] / f"{CLASSES[k]}-{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_image(int(k), rng)).save(path)
    return root


def test_fit_on_a_peerannot_image_folder(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["fit", str(dataset), "--images", "-s", "crowdlayer", *FAST, "-o",
                 str(out), "--cache-dir", str(tmp_path / "cache")]) == 0
    assert not (dataset / ".cache").exists()  # nothing written into the user's data folder
    assert [p.name.startswith("image_folder-") for p in (tmp_path / "cache").iterdir()] == [True]
    res = json.loads((out / "results.json").read_text())
    images = res["inputs"]["images"]
    assert images["ids"] == "index" and images["shape"] == [3, 8, 8]
    assert images["n_test"] == 60 and images["augment"] is True
    assert res["input_shape"] == [3, 8, 8]
    # the classes are visible in the pixels: the classifier learns them from noisy answers
    assert res["final_test_accuracy"] > 0.9
    assert len(res["test_accuracy"]) == 15


def test_images_are_matched_to_tasks_by_file_index(dataset: Path, tmp_path: Path) -> None:
    """Shuffling which file holds which task would break training: the index is the task."""
    from crowdlearn.datasets.image_items import load_image_items
    from crowdlearn.io import read

    answers = read(dataset)
    items = load_image_items(dataset, answers, augment=False)
    assert items.transform.crop_padding == 0 and not items.transform.flip
    x = items.train.X
    assert x.shape == (answers.n_tasks, 3, 8, 8) and x.dtype == np.uint8
    bright = x.reshape(len(x), 3, -1).mean(axis=2).argmax(axis=1)
    folders = {}
    for p in (dataset / "train").rglob("*.png"):
        folders[int(p.stem.rsplit("-", 1)[1])] = CLASSES.index(p.parent.name)
    expected = np.array([folders[int(t)] for t in answers.task_ids])
    np.testing.assert_array_equal(bright, expected)
    # the test split's labels are in the answers' class space (0..2 for peerannot's answers)
    assert set(np.unique(items.test.labels)) <= set(np.asarray(answers.classes).tolist())


@pytest.mark.parametrize(("extra", "message"), [
    (["--images", "--features", "x.csv"], "with --features FILE or --images"),
    (["--images", "--test", "t.csv"], "--test is for feature tables"),
    (["--images", "--image-size", "0"], "--image-size must be at least 1"),
])
def test_image_option_errors(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             extra: list[str], message: str) -> None:
    assert main(["fit", str(dataset), *extra, *FAST, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_missing_images_name_the_folder(dataset: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(dataset, partial, ignore=shutil.ignore_patterns(".cache"))
    next((partial / "train" / "cat").glob("*.png")).unlink()
    assert main(["fit", str(partial), "--images", *FAST, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no features for 1 of 150 tasks" in err
    assert "partial" in err
