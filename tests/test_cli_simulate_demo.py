"""Tests of the ``crowdlearn simulate`` and ``crowdlearn demo`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn.cli import main
from crowdlearn.io import read
from crowdlearn.simulate import simulate


def test_simulate_peerannot_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim"
    rc = main(["simulate", "-o", str(out), "--n-tasks", "300", "--n-classes", "4",
               "--workers", "perfect:2,symmetric:5:accuracy=0.8,separable-uniform:3",
               "--gamma", "0.05", "--answers-per-task", "4", "--seed", "3"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "300 tasks, 10 workers" in text and "Majority-vote accuracy" in text
    names = {p.name for p in out.iterdir()}
    assert {"answers.json", "metadata.json", "confusions.npy", "simulation.json"} <= names
    assert any(n.startswith("truth") for n in names)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left

    meta = json.loads((out / "simulation.json").read_text())
    assert meta["seed"] == 3 and meta["n_workers"] == 10 and meta["answers_per_task"] == 4
    assert meta["workers"][2] == {"model": "separable-uniform", "count": 3,
                                  "params": {"gamma": 0.05}}
    assert meta["worker_models"][:2] == ["perfect", "perfect"] and meta["format"] == "peerannot"

    expected = simulate(300, 4, workers=[("perfect", 2), ("symmetric", 5, {"accuracy": 0.8}),
                                         ("separable-uniform", 3, {"gamma": 0.05})],
                        answers_per_task=4, seed=3)
    np.testing.assert_array_equal(np.load(out / "confusions.npy"), expected.confusions)
    back = read(out)
    assert back == expected.answers  # answers and truth survive the round trip


def test_simulate_csv_bernoulli_power_law(tmp_path: Path) -> None:
    out = tmp_path / "csv"
    rc = main(["simulate", "-o", str(out), "--n-tasks", "400", "--n-workers", "30",
               "--model", "hammer-spammer", "--model-param", "hammer_share=0.2", "--p", "0.2",
               "--activity", "power-law", "--exponent", "1.5", "--priors", "0.5,0.3,0.2",
               "--format", "csv", "--seed", "1", "--quiet"])
    assert rc == 0
    assert {p.name for p in out.iterdir()} >= {"answers.csv", "confusions.npy",
                                               "simulation.json"}
    answers = read(out / "answers.csv")
    assert answers.has_truth and answers.n_classes == 3
    conf = np.load(out / "confusions.npy")
    assert conf.shape == (30, 3, 3)
    assert (np.all(conf.diagonal(axis1=1, axis2=2) == 1.0, axis=1)).sum() == 6
    meta = json.loads((out / "simulation.json").read_text())
    assert meta["assignment"] == "bernoulli" and meta["p"] == 0.2
    assert meta["activity"] == "power-law" and len(meta["activity_weights"]) == 30
    assert meta["priors"] == [0.5, 0.3, 0.2]


def test_simulate_refuses_non_empty_folder_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    args = ["simulate", "-o", str(out), "--n-tasks", "20", "--seed", "0", "--quiet"]
    assert main(args) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "keep.txt").exists()
    assert main([*args, "--force"]) == 0
    assert not (out / "keep.txt").exists() and (out / "simulation.json").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--model", "nope"], "unknown annotator model"),
    (["--gamma", "0.1"], "--gamma needs"),
    (["--answers-per-task", "50"], "exceeds"),
    (["--model-param", "accuracy"], "NAME=VALUE"),
    (["--priors", "0.5,x"], "--priors"),
    (["--workers", "perfect:2", "--n-workers", "3"], "does not match"),
])
def test_simulate_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              extra: list[str], message: str) -> None:
    out = tmp_path / "bad"
    assert main(["simulate", "-o", str(out), "--n-tasks", "10", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("simulate", "demo"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        assert "Example:" in capsys.readouterr().out


def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seed", "5"]) == 0
    text = capsys.readouterr().out
    assert "1000 tasks, 20 workers, 4 classes, 5000 answers, 5.0 answers per task" in text
    for model in ("one-coin", "diagonal", "spammer", "adversarial"):
        assert model in text

    def accuracy_of(method: str) -> float:
        line = next(x for x in text.splitlines() if x.startswith(method))
        return float(line[len(method):].split()[2])

    from crowdlearn.aggregate import make_strategy
    from crowdlearn.cli.demo import DEMO_SIZE, DEMO_WORKERS

    crowd = simulate(DEMO_SIZE["n_tasks"], DEMO_SIZE["n_classes"], workers=list(DEMO_WORKERS),
                     answers_per_task=DEMO_SIZE["answers_per_task"], seed=5)
    mv = make_strategy("mv", random_state=5).fit(crowd.answers)
    expected = float((mv.labels_ == crowd.true_labels).mean())
    assert accuracy_of("majority vote") == pytest.approx(expected, abs=1e-4)
    assert 0.6 < accuracy_of("majority vote") < 0.95
    # Dawid-Skene reads the adversarial workers backwards and discounts spammers
    assert accuracy_of("Dawid-Skene") > accuracy_of("majority vote") + 0.1

    # [3] deep learning from crowds: the same table with the classifiers' accuracy
    deep = text[text.index("[3] Deep learning from crowds"):]
    rows = {}
    for line in deep.splitlines()[3:7]:
        method, kind, acc, seconds = line.rsplit(None, 3)
        rows[method.strip()] = (kind, float(acc), float(seconds))
    assert set(rows) == {"majority vote", "Dawid-Skene", "crowd layer", "GeoCrowdNet (W)"}
    assert rows["majority vote"][:2] == ("labels", accuracy_of("majority vote"))
    assert rows["crowd layer"][0] == rows["GeoCrowdNet (W)"][0] == "classifier"
    for method in ("crowd layer", "GeoCrowdNet (W)"):
        # the features separate the classes: the classifier beats the aggregated labels
        assert rows[method][1] > accuracy_of("Dawid-Skene")
        assert rows[method][2] > 0
    assert "trained on the answers only" in deep


def test_demo_deep_step_restores_torch_threads() -> None:
    import torch

    from crowdlearn.cli.demo import step_deep, step_simulate

    before = torch.get_num_threads()
    state = {"seed": 2}
    step_simulate(state)
    res = step_deep(state)
    assert torch.get_num_threads() == before
    assert [r[0] for r in res.rows] == ["crowd layer", "GeoCrowdNet (W)"]  # no step 2 ran
    assert all(0.9 < r[2] <= 1.0 for r in res.rows)


def test_simulate_features(tmp_path: Path) -> None:
    from crowdlearn.simulate import gaussian_features

    out = tmp_path / "sim"
    assert main(["simulate", "-o", str(out), "--n-tasks", "200", "--n-classes", "3",
                 "--n-workers", "4", "--features", "5", "--separation", "2.5", "--seed", "4",
                 "--format", "csv", "--quiet"]) == 0
    frame = pd.read_csv(out / "features.csv")
    assert list(frame.columns) == ["task", "f0", "f1", "f2", "f3", "f4"]
    truth = read(out / "answers.csv").truth
    expected = gaussian_features(truth, 3, 5, separation=2.5, seed=4)
    np.testing.assert_array_equal(frame.iloc[:, 1:].to_numpy(np.float32), expected)
    assert frame["task"].tolist() == list(range(200))
    meta = json.loads((out / "simulation.json").read_text())
    assert meta["features"] == {"file": "features.csv", "dim": 5, "separation": 2.5,
                                "model": "gaussian", "seed": 4}


def test_simulate_bad_features(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for extra, message in ((["--features", "0"], "--features must be at least 1"),
                           (["--features", "3", "--separation", "-1"], "separation")):
        out = tmp_path / "bad"
        assert main(["simulate", "-o", str(out), "--n-tasks", "10", "--seed", "0",
                     *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
        assert not out.exists()


def test_simulate_csv_leaves_out_tasks_without_answers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sparse"
    rc = main(["simulate", "-o", str(out), "--n-tasks", "50", "--n-workers", "5", "--p", "0.1",
               "--format", "csv", "--seed", "0"])
    assert rc == 0
    printed = capsys.readouterr().out
    answers = read(out / "answers.csv")  # readable: the truth names only answered tasks
    empty = 50 - answers.n_tasks
    assert empty > 0 and f"{empty} task(s) received no answer" in printed
    assert (answers.answers_per_task() > 0).all() and answers.has_truth
    truth = pd.read_csv(out / "answers.truth.csv")
    assert len(truth) == answers.n_tasks
