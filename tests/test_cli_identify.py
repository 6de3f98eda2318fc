"""``crowdlearn identify``: files, metrics asked for, flags, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn.cli import main
from crowdlearn.simulate import simulate


@pytest.fixture
def crowd_csv(tmp_path: Path) -> tuple[Path, Path]:
    crowd = simulate(500, 3, workers=[("one-coin", 8, {"skill": 0.75}), ("spammer", 3),
                                      ("adversarial", 2)], answers_per_task=5, seed=1)
    frame = crowd.answers.to_frame()
    frame["task"] = "item-" + frame["task"].astype(str)
    frame["worker"] = "w" + frame["worker"].astype(str)
    answers = tmp_path / "answers.csv"
    frame.to_csv(answers, index=False)
    truth = tmp_path / "truth.csv"
    pd.DataFrame({"task": "item-" + pd.Series(crowd.answers.task_ids).astype(str),
                  "truth": crowd.true_labels}).to_csv(truth, index=False)
    return answers, truth


def test_identify_writes_tables_and_flags(crowd_csv: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    answers, truth = crowd_csv
    out = tmp_path / "diag"
    assert main(["identify", str(answers), "--truth", str(truth), "-s", "ds", "-o",
                 str(out)]) == 0
    printed = capsys.readouterr().out
    assert "spammer workers: 3: w10, w8, w9" in printed  # ids sort as text
    assert "adversarial workers: 2: w11, w12" in printed
    assert "most ambiguous tasks" in printed
    workers = pd.read_csv(out / "workers.csv")
    assert len(workers) == 13 and workers["worker"].str.startswith("w").all()
    assert sorted(workers["worker"][workers["spammer"]]) == ["w10", "w8", "w9"]
    assert sorted(workers["worker"][workers["adversarial"]]) == ["w11", "w12"]
    assert workers["accuracy"].notna().all()
    assert {"n-answers", "agreement", "peer-agreement", "trace", "spam-score"} <= set(workers)
    tasks = pd.read_csv(out / "tasks.csv")
    assert len(tasks) == 500 and tasks["task"].str.startswith("item-").all()
    assert {"label", "confidence", "vote-entropy", "posterior-entropy", "margin"} <= set(tasks)
    info = json.loads((out / "dataset.json").read_text())
    assert set(info["metrics"]) == {"fleiss-kappa", "krippendorff-alpha", "consistency",
                                    "uncertainty"}
    assert sorted(info["flagged"]["spammer"]) == ["w10", "w8", "w9"]
    assert "0.05" in info["flag_rules"]["spammer"]


def test_identify_only_the_metrics_asked(crowd_csv: tuple[Path, Path], tmp_path: Path) -> None:
    answers, _ = crowd_csv
    out = tmp_path / "diag"
    assert main(["identify", str(answers), "-s", "mv", "-m", "spam-score,glad-ability", "-m",
                 "margin", "-o", str(out), "--quiet", "--seed", "0"]) == 0
    workers = pd.read_csv(out / "workers.csv")
    assert list(workers.columns) == ["worker", "spam-score", "glad-ability"]
    tasks = pd.read_csv(out / "tasks.csv")
    assert list(tasks.columns) == ["task", "label", "confidence", "margin"]
    assert json.loads((out / "dataset.json").read_text())["metrics"] == {}
    assert np.isfinite(workers["glad-ability"]).all()


def test_identify_bad_metric_and_output_checked_first(
        crowd_csv: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, _ = crowd_csv
    assert main(["identify", str(answers), "-m", "bogus", "-o", str(tmp_path / "d")]) == 2
    assert "unknown metric 'bogus'" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # the output is checked before the (missing) input is read
    assert main(["identify", str(tmp_path / "missing.csv"), "-o", str(blocker)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_identify_plot_highlights_flagged_workers(crowd_csv: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    answers, _ = crowd_csv
    out = tmp_path / "diag"
    assert main(["identify", str(answers), "-s", "ds", "--plot", "-o", str(out),
                 "--quiet"]) == 0
    assert (out / "workers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from crowdlearn.identify.plot import plot_worker_quality

    fig = plot_worker_quality(pd.read_csv(out / "workers.csv"))
    ax = fig.axes[0]
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [8, 3, 2]  # others, spammers, adversarial
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "other workers (8)", "spammers (3)", "adversarial (2)"]
    assert ax.get_ylabel() == "spam-score"


def test_identify_plot_needs_its_metrics(crowd_csv: tuple[Path, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    answers, _ = crowd_csv
    assert main(["identify", str(answers), "-m", "margin", "--plot", "-o",
                 str(tmp_path / "d")]) == 2
    assert "--plot needs -m n-answers" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_identify_label_only_imports_no_heavy_module(crowd_csv: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    """The label-only metrics load neither scipy.stats (two seconds of a cold start, once
    pulled in by crowd-kit's uncertainty), nor torch, nor matplotlib."""
    import os
    import subprocess
    import sys

    answers, _ = crowd_csv
    code = ("import sys; from crowdlearn.cli import main; "
            f"assert main(['identify', {str(answers)!r}, '-m', 'all', '-o', "
            f"{str(tmp_path / 'd')!r}, '--quiet']) == 0; "
            "print(sorted(m for m in ('scipy.stats', 'torch', 'matplotlib') "
            "if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_uncertainty_entropy_equals_scipys() -> None:
    from scipy.stats import entropy

    from crowdlearn.crowdkit_metrics import _entropy_rows

    p = np.random.default_rng(0).random((20, 4))
    p[3] = [0.0, 0.0, 2.0, 0.0]
    assert np.allclose(_entropy_rows(p), entropy(p, axis=1))


def test_a_new_run_replaces_the_earlier_runs_files(crowd_csv: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    """A second ``identify`` into the same folder leaves none of the first run's figures beside
    its own tables; files identify did not write are kept."""
    answers, _ = crowd_csv
    out = tmp_path / "diag"
    assert main(["identify", str(answers), "-s", "ds", "--plot", "-o", str(out),
                 "--quiet"]) == 0
    assert (out / "workers.png").exists() and (out / "confusions.png").exists()
    (out / "my-notes.txt").write_text("mine")
    assert main(["identify", str(answers), "-s", "mv", "-o", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "dataset.json", "my-notes.txt", "tasks.csv", "workers.csv"]
    assert json.loads((out / "dataset.json").read_text())["strategy"] == "mv"
