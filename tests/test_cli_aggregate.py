"""``crowdlearn aggregate``: files written, strategy selection, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn.cli import main
from crowdlearn.simulate import simulate


@pytest.fixture
def crowd_csv(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    crowd = simulate(300, 3, workers=[("one-coin", 6), ("adversarial", 2)], answers_per_task=4,
                     seed=3)
    frame = crowd.answers.to_frame()
    frame["task"] = "item-" + frame["task"].astype(str)
    answers = tmp_path / "answers.csv"
    frame.to_csv(answers, index=False)
    truth = tmp_path / "truth.csv"
    pd.DataFrame({"task": "item-" + pd.Series(crowd.answers.task_ids).astype(str),
                  "truth": crowd.true_labels}).to_csv(truth, index=False)
    return answers, truth, crowd.true_labels


def test_ds_writes_labels_posteriors_confusions_and_summary(
    crowd_csv: tuple[Path, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, truth, true_labels = crowd_csv
    out = tmp_path / "out"
    assert main(["aggregate", str(answers), "--truth", str(truth), "-s", "ds", "-o",
                 str(out)]) == 0
    assert "accuracy" in capsys.readouterr().out
    labels = pd.read_csv(out / "labels.csv")
    assert list(labels.columns) == ["task", "label", "confidence"]
    probas = np.load(next(out.glob("probas_*_ds.npy")))
    chosen = np.load(next(out.glob("labels_*_ds.npy")))
    assert np.allclose(labels["confidence"], probas[np.arange(len(chosen)), chosen])
    assert labels["task"].str.startswith("item-").all()  # original ids kept
    hard = np.load(out / "labels_answers_ds.npy")
    probas = np.load(out / "probas_answers_ds.npy")
    assert hard.shape == (300,) and probas.shape == (300, 3)
    assert np.array_equal(hard, probas.argmax(axis=1))
    workers = np.load(out / "workers_answers_ds.npz")
    assert workers["confusions"].shape == (8, 3, 3)
    assert np.allclose(workers["confusions"].sum(axis=2), 1)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategy"] == "ds" and summary["n_iter"] >= 1
    assert summary["parameters"]["n_iter"] == 100
    # the task order of labels.csv is the order of the .npy files
    order = labels["task"].str.slice(5).astype(int).to_numpy()
    assert summary["accuracy"] == pytest.approx(np.mean(hard == true_labels[order]))
    assert summary["accuracy"] > 0.9


def test_bracket_and_param_options_reach_the_strategy(
    crowd_csv: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    answers, _, _ = crowd_csv
    out = tmp_path / "o"
    assert main(["aggregate", str(answers), "-s", "ds[n_iter=2]", "--param", "tol=0",
                 "-o", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["n_iter"] == 2 and summary["parameters"]["tol"] == 0
    assert summary["n_iter"] == 2


def test_all_runs_every_strategy_and_prints_a_table(
    crowd_csv: tuple[Path, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, truth, _ = crowd_csv
    out = tmp_path / "all"
    assert main(["aggregate", str(answers), "--truth", str(truth), "-s", "all", "-o",
                 str(out)]) == 0
    text = capsys.readouterr().out
    for name in ("mv", "ds", "glad"):
        assert any(line.startswith(name + " ") for line in text.splitlines()), name
        assert (out / name / "summary.json").is_file()
    assert "binary only" in text  # KOS on three classes


def test_all_runs_the_default_in_readme_order_marks_the_best_and_saves_the_table(
    crowd_csv: tuple[Path, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from crowdlearn.aggregate.comparison import STRATEGY_ORDER

    answers, truth, _ = crowd_csv
    out = tmp_path / "all"
    assert main(["aggregate", str(answers), "--truth", str(truth), "-s", "all", "-o",
                 str(out)]) == 0
    text = capsys.readouterr().out
    assert any(line.startswith("pooled-ds (default) ") for line in text.splitlines())
    table = pd.read_csv(out / "comparison.csv")
    rows = json.loads((out / "comparison.json").read_text())
    expected = [n for n in STRATEGY_ORDER if n != "auto"]
    assert table["strategy"].tolist() == expected == [r["strategy"] for r in rows]
    assert table.loc[table["default"], "strategy"].tolist() == ["pooled-ds"]
    best = table["accuracy"].max()
    assert table.loc[table["best"], "accuracy"].eq(best).all() and table["best"].any()
    assert not table.loc[table["accuracy"] < best, "best"].any()
    kos = rows[expected.index("kos")]
    assert kos["accuracy"] is None and kos["note"] == "binary only" and not kos["best"]
    assert (out / "pooled-ds" / "summary.json").is_file()


def test_all_without_truth_marks_no_best(
    crowd_csv: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    answers, _, _ = crowd_csv
    out = tmp_path / "all"
    assert main(["aggregate", str(answers), "-s", "all", "-o", str(out), "--quiet"]) == 0
    rows = json.loads((out / "comparison.json").read_text())
    assert not any(r["best"] for r in rows) and all(r["accuracy"] is None for r in rows)


def test_the_comparison_order_is_the_readme_table_order() -> None:
    from crowdlearn.aggregate import available
    from crowdlearn.aggregate.comparison import STRATEGY_ORDER

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Aggregation strategies", 1)[1].split("\n## ", 1)[0]
    names = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    assert tuple(names) == STRATEGY_ORDER
    assert sorted(STRATEGY_ORDER) == sorted(available())


def test_no_strategy_runs_the_default(
    crowd_csv: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    answers, _, _ = crowd_csv
    out = tmp_path / "d"
    assert main(["aggregate", str(answers), "-o", str(out), "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text())["strategy"] == "pooled-ds"


def test_unknown_strategy_is_a_one_line_error(
    crowd_csv: tuple[Path, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, _, _ = crowd_csv
    assert main(["aggregate", str(answers), "-s", "nope", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown aggregation strategy 'nope'" in err and "\n" not in err
    assert main(["aggregate", str(answers), "-s", "ds[bogus=1]", "-o", str(tmp_path / "x")]) == 2
    assert "has no parameter bogus" in capsys.readouterr().err


def test_default_output_folder_sits_beside_the_file(
    crowd_csv: tuple[Path, Path, np.ndarray]
) -> None:
    answers, _, _ = crowd_csv
    assert main(["aggregate", str(answers), "-s", "mv", "--quiet"]) == 0
    assert (answers.parent / "answers_labels" / "labels.csv").is_file()
