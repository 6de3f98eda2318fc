"""identify's figures: calibration, class distribution, empirical confusions, training curves,
--plot-format, --workers (identify and fit)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crowdlearn.answers import Answers
from crowdlearn.cli import main
from crowdlearn.identify import plot as P
from crowdlearn.simulate import simulate


def test_calibration_bins_brute_force() -> None:
    rng = np.random.default_rng(0)
    conf = rng.random(200)
    conf[:3] = [0.0, 1.0, 0.1]
    ok = rng.random(200) < conf
    mean_c, acc, n, ece = P.calibration_bins(conf, ok, 5)
    for b in range(5):
        lo, hi = b / 5, (b + 1) / 5
        inside = [(c, o) for c, o in zip(conf, ok, strict=True)
                  if lo <= c < hi or (b == 4 and c == 1.0)]
        assert n[b] == len(inside)
        assert mean_c[b] == pytest.approx(np.mean([c for c, _ in inside]))
        assert acc[b] == pytest.approx(np.mean([o for _, o in inside]))
    expected = sum(n[b] / 200 * abs(acc[b] - mean_c[b]) for b in range(5))
    assert ece == pytest.approx(expected)


def test_empirical_confusions_and_class_distribution(tmp_path: Path) -> None:
    a = Answers.from_arrays([0, 0, 1, 1, 2, 2], ["u", "v", "u", "v", "u", "v"],
                            ["x", "y", "y", "y", "x", "x"])
    a = a.with_truth(np.array([0, 1, -1]))
    conf = P.empirical_confusions(a)
    # worker u: task 0 (true x) said x, task 1 (true y) said y; v: x->y, y->y
    assert conf[0].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert conf[1].tolist() == [[0.0, 1.0], [0.0, 1.0]]
    fig = P.plot_class_distribution(a, np.array([0, 1, -1]), path=tmp_path / "c.pdf")
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([0.5, 0.5, 0.5, 0.5])
    assert (tmp_path / "c.pdf").read_bytes()[:4] == b"%PDF"


def test_plot_fit_history_reads_a_fit_folder(tmp_path: Path) -> None:
    from crowdlearn.errors import DataError

    (tmp_path / "results.json").write_text(json.dumps(
        {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "val_accuracy": [0.5, 0.8],
         "lr": [0.1, 0.1]}))
    fig = P.plot_fit_history(tmp_path, path=tmp_path / "t.png")
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(DataError, match="results.json"):
        P.plot_fit_history(tmp_path / "nowhere")


@pytest.fixture
def many_workers(tmp_path: Path) -> tuple[Path, Path]:
    crowd = simulate(300, 3, workers=[("one-coin", 16, {"skill": 0.8})], answers_per_task=4,
                     seed=5)
    frame = crowd.answers.to_frame()
    frame["worker"] = "w" + frame["worker"].astype(str)
    answers = tmp_path / "answers.csv"
    frame.to_csv(answers, index=False)
    truth = tmp_path / "truth.csv"
    truth.write_text("task,truth\n" + "".join(
        f"{t},{c}\n" for t, c in zip(crowd.answers.task_ids, crowd.true_labels, strict=True)))
    return answers, truth


def test_identify_plots_in_pdf_with_truth_and_fit(many_workers, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    answers, truth = many_workers
    fit = tmp_path / "fit"
    fit.mkdir()
    (fit / "results.json").write_text(json.dumps({"train_loss": [1.0, 0.6]}))
    out = tmp_path / "d"
    assert main(["identify", str(answers), "--truth", str(truth), "--plot", "--plot-format",
                 "pdf", "--fit", str(fit), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in ("workers", "confusions", "classes", "ambiguity", "calibration", "training"):
        assert (out / f"{name}.pdf").read_bytes()[:4] == b"%PDF", name
    # the default grid says what it shows and what it left out
    assert "the most active 12 of 16 annotators (4 left out)" in printed
    assert "estimated beside empirical" in printed


def test_identify_workers_option(many_workers, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    answers, truth = many_workers
    out = tmp_path / "d"
    assert main(["identify", str(answers), "--plot", "--workers", "w3", "w7", "-o",
                 str(out)]) == 0
    assert "selected 2 of 16 annotators (14 left out)" in capsys.readouterr().out
    assert (out / "confusions.png").is_file() and not (out / "calibration.png").exists()
    assert main(["identify", str(answers), "--plot", "--workers", "worst", "-o",
                 str(out)]) == 0
    assert "the worst (lowest mean diagonal) 12 of 16" in capsys.readouterr().out
    assert main(["identify", str(answers), "--plot", "--workers", "nobody", "-o",
                 str(out)]) == 2
    assert "unknown worker 'nobody'" in capsys.readouterr().err
    assert main(["identify", str(answers), "--workers", "w3", "-o", str(out)]) == 2
    assert "add --plot" in capsys.readouterr().err


def test_fit_workers_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    sim = tmp_path / "sim"
    assert main(["simulate", "-o", str(sim), "--n-classes", "3", "--n-workers", "5",
                 "--n-tasks", "80", "--features", "4", "--seed", "0"]) == 0
    base = ["fit", str(sim), "--features", str(sim / "features.csv"), "--n-epochs", "1",
            "--no-progress", "-s", "crowdlayer"]
    assert main([*base, "--workers", "1", "-o", str(tmp_path / "f0")]) == 2
    assert "--plot-confusion-matrices" in capsys.readouterr().err
    out = tmp_path / "f1"
    assert main([*base, "--plot-confusion-matrices", "--workers", "1", "3", "-o",
                 str(out)]) == 0
    assert (out / "confusions.png").is_file()


def test_identify_plot_with_workers_outside_the_truth(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """A worker who answered no task with a known truth has no empirical confusion matrix: the
    grid leaves them out and says so (it used to fail on an all-zero matrix)."""
    answers = tmp_path / "a.csv"
    answers.write_text("task,worker,label\n" + "".join(
        f"{t},w{w},{(t + (w == 2)) % 2}\n" for t in range(6) for w in range(3)) +
        "6,late,1\n7,late,0\n")
    truth = tmp_path / "t.csv"
    truth.write_text("task,truth\n" + "".join(f"{t},{t % 2}\n" for t in range(6)))
    out = tmp_path / "d"
    assert main(["identify", str(answers), "--truth", str(truth), "--plot", "-o",
                 str(out)]) == 0
    assert "1 worker(s) without answers on tasks with truth not drawn" in \
        capsys.readouterr().out
    assert (out / "confusions.png").is_file()
