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
    labels = pd.read_csv(out / "labels_answers_ds.csv")
    assert list(labels.columns) == ["task", "label", "confidence"]
    posteriors = np.load(out / "probas_answers_ds.npy")
    assert np.allclose(labels["confidence"], posteriors.max(axis=1))
    assert labels["task"].str.startswith("item-").all()  # original ids kept
    soft = np.load(out / "labels_answers_ds.npy")  # peerannot's file: DS posteriors
    probas = np.load(out / "probas_answers_ds.npy")
    assert soft.shape == (300, 3) and np.array_equal(soft, probas)
    hard = probas.argmax(axis=1)
    workers = np.load(out / "workers_answers_ds.npz")
    assert workers["confusions"].shape == (8, 3, 3)
    assert np.allclose(workers["confusions"].sum(axis=2), 1)
    summary = json.loads((out / "summary_answers_ds.json").read_text())
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
    summary = json.loads((out / "summary_answers_ds[n_iter=2].json").read_text())
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
        assert (out / f"summary_answers_{name}.json").is_file()
    assert not [p for p in out.iterdir() if p.is_dir()]  # one flat folder
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
    assert len(list(out.glob("summary_*_pooled-ds.json"))) == 1  # flat, peerannot's names


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
    (summary,) = out.glob("summary_*.json")
    assert summary.name.endswith("_pooled-ds.json")  # named after the strategy that ran
    assert json.loads(summary.read_text())["strategy"] == "pooled-ds"


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
    assert (answers.parent / "answers_labels" / "labels_answers_mv.csv").is_file()


TOY = Path(__file__).parent / "fixtures" / "peerannot_toy"


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """peerannot's toy data set folder (answers.json + metadata.json), a private copy."""
    folder = tmp_path / "toy-data"
    folder.mkdir()
    for name in ("answers.json", "metadata.json"):
        (folder / name).write_bytes((TOY / name).read_bytes())
    return folder


# what peerannot 0.0.1.post43's `peerannot aggregate toy-data -s S [--hard]` writes (measured):
# soft posteriors for naive_soft, glad, dawid_skene_clust; hard labels for the others
PEERANNOT_TOY_FILES = {
    "majority_voting": [1, 0, 1],
    "twothird": [1, 0, 1],
    "iwmv": [1, 0, 1],
    "wawa": [1, 0, 1],
    "plantnet": [1, -1, -1],
    "naive_soft": [[0.25, 0.75], [2 / 3, 1 / 3], [0.0, 1.0]],
}


def test_peerannot_names_and_contents_in_one_flat_folder(toy: Path) -> None:
    for strategy in PEERANNOT_TOY_FILES:
        assert main(["aggregate", str(toy), "-s", strategy, "--quiet"]) == 0
    for strategy in ("dawid_skene_clust[L=2]", "GLAD"):
        assert main(["aggregate", str(toy), "-s", strategy, "--quiet"]) == 0
        assert main(["aggregate", str(toy), "-s", strategy, "--hard", "--quiet"]) == 0
    out = toy / "labels"
    assert not [p for p in out.iterdir() if p.is_dir()]
    for strategy, expected in PEERANNOT_TOY_FILES.items():
        got = np.load(out / f"labels_toy-data_{strategy}.npy")
        assert np.allclose(got, expected), strategy
        if got.ndim == 1:
            assert got.dtype == np.int64
        # every run kept its own summary and labels table: nothing overwritten
        summary = json.loads((out / f"summary_toy-data_{strategy}.json").read_text())
        assert summary["files"]["labels_npy"] == f"labels_toy-data_{strategy}.npy"
    soft = np.load(out / "labels_toy-data_dawid_skene_clust[l=2].npy")
    assert soft.shape == (3, 2) and soft.dtype == np.float64
    assert np.array_equal(np.load(out / "labels_toy-data_dawid_skene_clust[l=2]_hard.npy"),
                          soft.argmax(axis=1))
    glad = np.load(out / "labels_toy-data_glad.npy")
    assert glad.shape == (3, 2) and np.load(out / "labels_toy-data_glad_hard.npy").tolist() \
        == [1, 0, 1]
    table = pd.read_csv(out / "labels_toy-data_plantnet.csv")
    assert table["label"].isna().tolist() == [False, True, True]  # undecided: empty
    assert table["confidence"].isna().tolist() == [False, True, True]
    assert json.loads((out / "summary_toy-data_plantnet.json").read_text())["n_undecided"] == 2


def test_all_writes_flat_peerannot_files(toy: Path) -> None:
    assert main(["aggregate", str(toy), "-s", "all", "--quiet"]) == 0
    out = toy / "labels"
    assert not [p for p in out.iterdir() if p.is_dir()]
    assert np.load(out / "labels_toy-data_mv.npy").tolist() == [1, 0, 1]
    assert np.load(out / "labels_toy-data_twothird.npy").tolist() == [1, 0, 1]
    assert np.load(out / "labels_toy-data_ds.npy").shape == (3, 2)
    assert (out / "summary_toy-data_glad.json").is_file()


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet_prints_nothing_and_still_writes(
    crowd_csv: tuple[Path, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    flag: str,
) -> None:
    answers, truth, _ = crowd_csv
    out = tmp_path / "out"
    assert main(["aggregate", str(answers), "--truth", str(truth), "-s", "mv", flag, "-o",
                 str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert (out / "labels_answers_mv.csv").exists()
