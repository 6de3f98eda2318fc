"""``crowdlearn report`` on real-valued answers: the regression page, as text and in Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from crowdlearn.cli import main
from crowdlearn.report import build_report
from test_identify_regression import SPAMMERS, planted_crowd
from test_report import CHROMIUM, _chromium, _console_errors

TABLES = ["summary-table", "comparison-table", "flagged-table", "tasks-table"]


@pytest.fixture(scope="module")
def planted():
    return planted_crowd(seed=2)


def _tables(html: str) -> list[str]:
    return re.findall(r'<table id="([\w-]+)"', html)


def test_regression_report_sections(planted) -> None:
    answers, kinds = planted
    html = build_report(answers, ["mean", "bias-scale"])
    assert _tables(html) == TABLES
    assert html.count('src="data:image/png;base64,') == 5  # values, workers, parameters,
    assert "http://" not in html and "https://" not in html  # ambiguity, truth
    assert "real-valued answers (regression)" in html and "(BiasScaleRegression)" not in html
    row = re.search(r'<tr class="best"><td>([\w-]+)', html)
    assert row is not None and row.group(1) == "bias-scale"  # highest R^2 marked
    flagged = html[html.index('id="flagged-table"'):html.index('id="tasks"')]
    for worker in SPAMMERS + kinds["adversarial"]:
        assert f"<td>{worker}</td>" in flagged
    assert "krippendorff-alpha (interval)" in html
    assert "95% posterior intervals" in html
    assert "votes" not in html and "class-table" not in html


def test_regression_report_without_truth_marks_no_best(planted) -> None:
    answers, _ = planted
    html = build_report(answers.with_truth(None), ["all"])
    assert '<tr class="best">' not in html and "No true values" in html
    assert html.count('src="data:image/png;base64,') == 4  # no truth figure
    # -s all: the default first, its model feeds the diagnostics
    assert "<b>bias-scale</b> (BiasScaleRegression)" in html
    assert "truth-mae" not in html


@pytest.fixture
def regression_files(planted, tmp_path: Path) -> tuple[Path, Path, Path]:
    answers, _ = planted
    path = tmp_path / "ratings.csv"
    answers.to_frame().to_csv(path, index=False)
    truth = tmp_path / "truth.csv"
    pd.DataFrame({"task": answers.task_ids, "truth": answers.truth}).to_csv(truth, index=False)
    fit = tmp_path / "fit"
    fit.mkdir()
    (fit / "results.json").write_text(json.dumps({  # as crowdlearn fit --kind regression
        "kind": "regression", "strategy": "crowdlayer-sb", "best_epoch": 2, "n_epochs": 3,
        "best_val_loss": 0.01, "train": {"r2": 0.8, "mae": 0.05, "rmse": 0.07, "n": 300},
        "history": {"epoch": [1, 2, 3], "train_loss": [0.05, 0.03, 0.02],
                    "val_loss": [0.04, 0.01, 0.02]}}))
    return path, truth, fit


def test_cli_report_on_real_values(regression_files, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path, truth, fit = regression_files
    out = tmp_path / "r.html"
    assert main(["report", str(path), "--kind", "regression", "--truth", str(truth), "-s",
                 "all", "--fit", str(fit), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 spammer" in printed and "4 strategies compared" in printed
    html = out.read_text(encoding="utf-8")
    assert _tables(html) == [*TABLES, "training-table"]
    assert html.count('src="data:image/png;base64,') == 6  # + the training curves
    assert "crowdlayer-sb" in html and "r2 0.8" in html


def test_cli_report_refuses_a_class_label_strategy(regression_files, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path, _, _ = regression_files
    out = tmp_path / "r.html"
    assert main(["report", str(path), "--kind", "regression", "-s", "bias-scale,ds", "-o",
                 str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "strategy 'ds' takes classification answers" in err
    assert not out.exists()


def test_regression_report_in_headless_chromium(regression_files, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no {CHROMIUM} (Debian's chromium package; .ci/run installs it when apt "
                    "can): the browser check of the report is skipped")
    path, truth, fit = regression_files
    out = tmp_path / "report.html"
    assert main(["report", str(path), "--kind", "regression", "--truth", str(truth),
                 "--fit", str(fit), "-o", str(out), "--quiet"]) == 0
    done = _chromium(out, tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    assert _tables(done.stdout) == [*TABLES, "training-table"]
    assert done.stdout.count('src="data:image/png;base64,') == 6
    assert "Estimates against the truth" in done.stdout
    assert _console_errors(done.stderr) == []
