"""``crowdlearn train --labels``: a classifier trained on a labels file; ``aggregate-deep``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crowdlearn.cli import build_parser, fit, main
from crowdlearn.io import read

FAST = ["--n-epochs", "6", "--batch-size", "64", "--hidden", "16", "--dropout", "0",
        "--lr", "0.01", "--accelerator", "cpu", "--threads", "1", "--no-progress", "--quiet"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated crowd with well separated Gaussian features: 240 tasks, 3 classes."""
    out = tmp_path_factory.mktemp("train") / "sim"
    assert main(["simulate", "-o", str(out), "--n-tasks", "240", "--n-classes", "3",
                 "--workers", "one-coin:4,spammer:1", "--features", "6",
                 "--separation", "5", "--seed", "2", "--quiet"]) == 0
    return out


def _train(sim: Path, labels: Path, out: Path, *extra: str) -> int:
    return main(["train", str(sim), "--labels", str(labels), "--features",
                 str(sim / "features.csv"), *FAST, "-o", str(out), *extra])


def test_train_learns_the_given_labels(sim: Path, tmp_path: Path) -> None:
    truth = read(sim).truth
    right, wrong = tmp_path / "right.npy", tmp_path / "wrong.npy"
    np.save(right, truth.astype(np.int64))
    np.save(wrong, ((truth + 1) % 3).astype(np.int64))  # every label shifted by one class
    assert _train(sim, right, tmp_path / "a") == 0
    assert _train(sim, wrong, tmp_path / "b") == 0
    acc_right = json.loads((tmp_path / "a" / "results.json").read_text())["train_accuracy"]
    acc_wrong = json.loads((tmp_path / "b" / "results.json").read_text())["train_accuracy"]
    assert acc_right > 0.9 and acc_wrong < 0.1


def test_train_on_aggregate_outputs_soft_and_hard(sim: Path, tmp_path: Path) -> None:
    labels_dir = tmp_path / "labels"
    assert main(["aggregate", str(sim), "-s", "dawid_skene", "-o", str(labels_dir),
                 "--quiet"]) == 0
    assert main(["aggregate", str(sim), "-s", "twothird", "-o", str(labels_dir),
                 "--quiet"]) == 0
    soft = next(labels_dir.glob("labels_*_dawid_skene.npy"))
    hard = next(labels_dir.glob("labels_*_twothird.npy"))  # hard, -1 where undecided
    assert np.load(soft).ndim == 2 and np.load(hard).min() == -1
    for labels, out in ((soft, tmp_path / "soft"), (hard, tmp_path / "hard")):
        assert _train(sim, labels, out) == 0
        res = json.loads((out / "results.json").read_text())
        assert res["strategy"].startswith("two-stage") and res["train_accuracy"] > 0.8


def test_bad_labels_file_is_a_one_line_error(
    sim: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((5, 3)))
    assert _train(sim, bad, tmp_path / "x") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.npy" in err and "(240, 3)" in err
    np.save(bad, np.full(240, 7))
    assert _train(sim, bad, tmp_path / "y") == 2
    assert "label 7 outside" in capsys.readouterr().err
    assert _train(sim, tmp_path / "missing.npy", tmp_path / "z") == 2
    assert "no such labels file" in capsys.readouterr().err


def test_aggregate_deep_is_fit() -> None:
    args = build_parser().parse_args(["aggregate-deep", "data", "--features", "f.csv",
                                      "-o", "out"])
    assert args.func is fit.run
