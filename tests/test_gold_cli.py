"""``crowdlearn aggregate --gold FILE``: gold labels held fixed, accuracy reported apart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn.cli import main
from crowdlearn.simulate import simulate


def test_aggregate_gold_file_is_used_and_reported_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crowd = simulate(300, 3, workers=[("one-coin", 6), ("adversarial", 2)], answers_per_task=4,
                     seed=3)
    answers = tmp_path / "answers.csv"
    crowd.answers.to_frame().to_csv(answers, index=False)
    truth = tmp_path / "truth.csv"
    ids = pd.Series(crowd.answers.task_ids)
    pd.DataFrame({"task": ids, "truth": crowd.true_labels}).to_csv(truth, index=False)
    gold = tmp_path / "gold.csv"
    on_gold = np.arange(300) % 5 == 0
    wrong = (crowd.true_labels + 1) % 3  # deliberately wrong gold: it must show up
    pd.DataFrame({"task": ids[on_gold], "truth": wrong[on_gold]}).to_csv(gold, index=False)
    out = tmp_path / "out"
    assert main(["aggregate", str(answers), "--truth", str(truth), "--gold", str(gold),
                 "-s", "ds", "-o", str(out)]) == 0
    line = capsys.readouterr().out
    assert "60 gold tasks" in line and "other tasks" in line and "gold tasks: 0.0000" in line
    summary = json.loads((out / "summary_answers_ds.json").read_text())
    assert summary["n_gold_tasks"] == 60 and summary["n_tasks_with_truth"] == 240
    assert summary["accuracy_gold"] == 0.0  # the gold labels were kept, wrong as they are
    hard = np.load(out / "probas_answers_ds.npy").argmax(axis=1)
    assert np.array_equal(hard[on_gold], wrong[on_gold])
    assert summary["accuracy"] == pytest.approx(np.mean(hard[~on_gold]
                                                        == crowd.true_labels[~on_gold]))


def test_aggregate_gold_file_with_unknown_label_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = tmp_path / "answers.csv"
    pd.DataFrame({"task": [1, 1, 2], "worker": [1, 2, 1], "label": [0, 1, 1]}).to_csv(
        answers, index=False)
    gold = tmp_path / "gold.csv"
    pd.DataFrame({"task": [1], "truth": [7]}).to_csv(gold, index=False)
    assert main(["aggregate", str(answers), "--gold", str(gold), "-o",
                 str(tmp_path / "o")]) == 2
    assert "gold.csv" in capsys.readouterr().err
