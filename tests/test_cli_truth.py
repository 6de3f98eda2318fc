"""A new user's first day: truth tables with many columns (--truth-col), an installed data set
given to ``fit`` as it is, and majority-vote accuracy that agrees between ``info`` and
``aggregate -s mv``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crowdlearn import Answers
from crowdlearn.aggregate import MajorityVote
from crowdlearn.cli import main
from crowdlearn.io import write

CLASSES = ["blues", "jazz", "pop"]


@pytest.fixture
def music_like(tmp_path: Path) -> tuple[Path, Path]:
    """Answers keyed by ``id``/``annotator``/``class`` and a gold table with 8 feature columns
    and the truth in ``class`` (the layout of Music's CSV files)."""
    rng = np.random.default_rng(0)
    n, m = 40, 5
    truth = rng.integers(0, 3, n)
    rows = ["id,annotator,class"]
    for t in range(n):
        for w in rng.choice(m, 3, replace=False):
            label = truth[t] if rng.random() < 0.7 else rng.integers(0, 3)
            rows.append(f"song{t}.mp3,W{w},{CLASSES[label]}")
    answers = tmp_path / "music_genre_mturk.csv"
    answers.write_text("\n".join(rows) + "\n", encoding="utf-8")
    gold = tmp_path / "music_genre_gold.csv"
    feats = ",".join(f"feature{i}" for i in range(8))
    lines = [f"id,{feats},class"] + [
        f"song{t}.mp3," + ",".join(f"{x:.3f}" for x in rng.normal(size=8)) + f",{CLASSES[y]}"
        for t, y in enumerate(truth)]
    gold.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return answers, gold


COLS = ["--task-col", "id", "--worker-col", "annotator", "--label-col", "class"]


@pytest.mark.parametrize("command", ["info", "aggregate"])
def test_truth_table_with_many_columns(music_like: tuple[Path, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str], command: str) -> None:
    answers, gold = music_like
    extra = ["--json"] if command == "info" else ["-s", "mv", "-o", str(tmp_path / "out")]
    assert main([command, str(answers), *COLS, "--truth", str(gold), *extra]) == 0
    out = capsys.readouterr().out
    if command == "info":
        assert json.loads(out)["n_tasks_with_truth"] == 40
    else:
        assert "accuracy" in out and "on 40 tasks" in out
    # the column named explicitly; an absent one is a one-line error naming the file
    assert main([command, str(answers), *COLS, "--truth", str(gold), "--truth-col", "class",
                 *extra]) == 0
    capsys.readouterr()
    assert main([command, str(answers), *COLS, "--truth", str(gold), "--truth-col", "genre",
                 *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"{gold}: line 1: no column 'genre' (--truth-col)" in err


def test_truth_col_without_truth_is_an_error(music_like: tuple[Path, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    answers, _ = music_like
    assert main(["info", str(answers), *COLS, "--truth-col", "class"]) == 2
    assert "--truth-col needs --truth" in capsys.readouterr().err


def test_info_majority_vote_accuracy_is_that_of_aggregate_mv(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # two answers per task: many ties, where different draws give different accuracies
    rng = np.random.default_rng(3)
    n = 400
    truth = rng.integers(0, 2, n)
    task = np.repeat(np.arange(n), 2)
    label = np.where(rng.random(2 * n) < 0.7, truth[task], 1 - truth[task])
    answers = Answers.from_arrays(task, np.tile([0, 1], n), label, truth=truth)
    path = tmp_path / "answers.csv"
    write(answers, path)
    np.save(tmp_path / "truth.npy", truth)
    assert main(["info", str(path), "--truth", str(tmp_path / "truth.npy"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    mv = MajorityVote().fit(answers)
    expected = float(np.mean(mv.labels_ == truth))
    assert info["majority_vote_accuracy"] == expected
    ties = int(np.sum(label[0::2] != label[1::2]))
    assert info["majority_vote_ties"] == ties > 100
    low, high = info["majority_vote_accuracy_range"]
    assert low < expected < high and np.isclose(high - low, ties / n)
    assert main(["aggregate", str(path), "--truth", str(tmp_path / "truth.npy"), "-s", "mv",
                 "-o", str(tmp_path / "out")]) == 0
    assert f"accuracy {expected:.4f}" in capsys.readouterr().out
    assert main(["info", str(path), "--truth", str(tmp_path / "truth.npy")]) == 0
    text = capsys.readouterr().out
    assert f"majority vote accuracy: {expected:.4f}" in text
    assert f"{ties} tied votes broken by a draw seeded 0, as 'aggregate -s mv' does" in text


# ---------------------------------------------------------------------- installed data sets
@pytest.fixture(scope="module")
def installed_music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import data_root

    root = data_root()
    if root is None or not (root / "music").is_dir():
        pytest.skip("CROWDLEARN_DATA is not set (or has no music/): real data sets unavailable")
    home = tmp_path_factory.mktemp("datasets")
    assert main(["datasets", "install", "music", "--from", str(root / "music"), "--root",
                 str(home), "--quiet"]) == 0
    return home / "music"


FAST = ["--n-epochs", "2", "--batch-size", "128", "--hidden", "16", "--accelerator", "cpu",
        "--threads", "1", "--no-progress", "--quiet"]


def test_fit_an_installed_data_set_as_it_is(installed_music: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["fit", str(installed_music), *FAST, "-o", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["inputs"]["features"] == str(installed_music / "features.npy")
    assert results["inputs"]["test"] == str(installed_music / "features_test.npy")
    assert results["n_test"] == 300 and results["input_shape"] == [124]
    assert 0.0 <= results["final_test_accuracy"] <= 1.0


def test_fit_test_array_takes_its_labels_beside_it(installed_music: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["fit", str(installed_music), "--features",
                 str(installed_music / "features.npy"), "--test",
                 str(installed_music / "features_test.npy"), *FAST, "-o", str(out)]) == 0
    labels = np.load(installed_music / "test_labels.npy")
    pred = (out / "test_predictions.csv").read_text().splitlines()
    assert len(pred) == len(labels) + 1
    # wrong labels file: one-line error naming it
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full(len(labels), 10))
    assert main(["fit", str(installed_music), "--test-labels", str(bad), "--test",
                 str(installed_music / "features_test.npy"), *FAST, "-o",
                 str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"crowdlearn fit: error: {bad}: row 0: class index 10 is outside 0..9 "
                   "(the answers' 10 classes)")
