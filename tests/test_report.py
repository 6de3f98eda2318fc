"""``crowdlearn report``: one self-contained HTML file, checked as text and in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from crowdlearn.aggregate.comparison import comparison_order
from crowdlearn.cli import main
from crowdlearn.errors import CrowdlearnError
from crowdlearn.report import build_report
from crowdlearn.simulate import simulate

CHROMIUM = "/usr/bin/chromium"
TABLES = ("summary-table", "class-table", "comparison-table", "flagged-table", "tasks-table")


@pytest.fixture(scope="module")
def crowd() -> object:
    return simulate(300, 3, workers=[("one-coin", 8, {"skill": 0.8}), ("spammer", 2),
                                     ("adversarial", 1)], answers_per_task=4, seed=0)


@pytest.fixture
def crowd_csv(crowd: object, tmp_path: Path) -> tuple[Path, Path]:
    frame = crowd.answers.to_frame()
    frame["task"] = "item-" + frame["task"].astype(str)
    answers = tmp_path / "answers.csv"
    frame.to_csv(answers, index=False)
    truth = tmp_path / "truth.csv"
    pd.DataFrame({"task": "item-" + pd.Series(crowd.answers.task_ids).astype(str),
                  "truth": crowd.true_labels}).to_csv(truth, index=False)
    return answers, truth


@pytest.fixture
def fit_dir(tmp_path: Path) -> Path:
    out = tmp_path / "fit"
    out.mkdir()
    (out / "results.json").write_text(json.dumps({
        "strategy_spec": "crowdlayer", "backbone": "mlp", "n_epochs": 3, "best_epoch": 2,
        "train_loss": [1.0, 0.7, 0.6], "val_loss": [1.1, 0.8, 0.9],
        "val_accuracy": [0.5, 0.7, 0.68], "best_val_loss": 0.8, "train_accuracy": 0.81}))
    return out


def _tables(html: str) -> list[str]:
    return re.findall(r'<table id="([\w-]+)"', html)


def test_report_is_one_self_contained_file(crowd_csv: tuple[Path, Path], fit_dir: Path,
                                           tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    answers, truth = crowd_csv
    out = tmp_path / "sub" / "report.html"
    assert main(["report", str(answers), "--truth", str(truth), "-s", "ds,mv", "-s", "glad",
                 "--fit", str(fit_dir), "-o", str(out), "--seed", "0"]) == 0
    assert "3 strategies compared; wrote" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # one file, no temp left
    html = out.read_text(encoding="utf-8")
    assert _tables(html) == [*TABLES, "training-table"]
    # worker quality, confusion matrices of the most active workers, task ambiguity, training
    assert html.count('src="data:image/png;base64,') == 4
    assert not re.search(r"https?://", html)
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", html)  # nothing else to load
    assert "confusion matrices of the 8 most active of 11 workers (3 left out)" in html
    # the comparison: three rows in the order asked, the most accurate marked best
    comparison = html.split('id="comparison-table"')[1].split("</table>")[0]
    rows = re.findall(r"<tr( class=\"best\")?><td>(\w+)", comparison)
    assert [name for _, name in rows] == ["ds", "mv", "glad"]
    assert sum(bool(best) for best, _ in rows) >= 1
    assert "best</span>" in comparison
    # flagged workers: the two spammers and the adversarial one, by their ids
    flagged = html.split('id="flagged-table"')[1].split("</table>")[0]
    assert flagged.count("<tr>") == 1 + 3
    tasks = html.split('id="tasks-table"')[1].split("</table>")[0]
    assert tasks.count("item-") == 15 and "<th>truth</th>" in tasks
    assert "crowdlayer" in html and "best_val_loss" in html


def test_report_without_truth_marks_no_best(crowd: object) -> None:
    html = build_report(crowd.answers.with_truth(None), ["mv", "ds"])
    assert 'class="best"' not in html and "No true labels" in html
    assert "training-table" not in html and "<th>truth</th>" not in html
    assert html.count("data:image/png;base64,") == 2  # majority vote: no confusion matrices
    assert "mv learns no per-worker confusion matrices" in html


def test_report_errors(crowd_csv: tuple[Path, Path], tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    answers, _ = crowd_csv
    folder = tmp_path / "folder"
    folder.mkdir()
    # -o is checked before the (missing) input is read
    assert main(["report", str(tmp_path / "missing.csv"), "-o", str(folder)]) == 2
    assert "expected a file name" in capsys.readouterr().err
    out = tmp_path / "r.html"
    assert main(["report", str(answers), "--fit", str(tmp_path), "-o", str(out)]) == 2
    assert "results.json: no such file" in capsys.readouterr().err
    assert main(["report", str(answers), "-s", "nosuch", "-o", str(out)]) == 2
    assert "nosuch" in capsys.readouterr().err
    assert not out.exists()


def test_report_in_headless_chromium(crowd_csv: tuple[Path, Path], fit_dir: Path,
                                     tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no {CHROMIUM} (Debian's chromium package; .ci/run installs it when apt "
                    "can): the browser check of the report is skipped")
    answers, truth = crowd_csv
    out = tmp_path / "report.html"
    assert main(["report", str(answers), "--truth", str(truth), "-s", "ds,mv",
                 "--fit", str(fit_dir), "-o", str(out), "--quiet"]) == 0
    done = _chromium(out, tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert _tables(dom) == [*TABLES, "training-table"]
    assert dom.count('src="data:image/png;base64,') == 4
    assert "Most ambiguous tasks" in dom
    assert _console_errors(done.stderr) == []
    # the check sees a page error: the same page with a failing script
    bad = tmp_path / "bad.html"
    bad.write_text(out.read_text(encoding="utf-8").replace(
        "</body>", "<script>console.error('boom'); notDefined();</script></body>"),
        encoding="utf-8")
    errors = _console_errors(_chromium(bad, tmp_path / "profile2").stderr)
    assert any("boom" in e for e in errors) and any("Uncaught" in e for e in errors)


def _chromium(page: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--dump-dom", page.resolve().as_uri()]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _console_errors(stderr: str) -> list[str]:
    """The page's console messages and failed loads in chromium's log (``...:CONSOLE:N] ...``,
    ``CONSOLE(N)``, ``Uncaught ...``, ``net::ERR_...``); the dbus and GPU noise of a headless
    container is not the page's."""
    return [line for line in stderr.splitlines()
            if "Uncaught" in line or "net::ERR" in line
            or re.search(r"CONSOLE[:(]|console\(", line, re.IGNORECASE)]


def test_report_of_a_clean_crowd_and_every_strategy() -> None:
    clean = simulate(120, 2, workers=[("one-coin", 5, {"skill": 0.9})], answers_per_task=3,
                     seed=2)
    html = build_report(clean.answers, ["all"], random_state=0)
    assert "No worker is flagged." in html and "flagged-table" not in html
    comparison = html.split('id="comparison-table"')[1].split("</table>")[0]
    assert comparison.count("<tr") == 1 + len(comparison_order())  # header + every strategy
    three = simulate(60, 3, workers=[("one-coin", 4, {"skill": 0.9})], answers_per_task=3,
                     seed=2)
    with pytest.raises(CrowdlearnError, match="two classes only"):
        build_report(three.answers, ["kos"])
