"""Progress bars are drawn only for a watcher: never into log files or pipes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from crowdlearn._progress import progress_bar, show_progress
from crowdlearn.cli import main


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROWDLEARN_PROGRESS", raising=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not show_progress(True)
    bar = progress_bar(range(3), desc="x")
    assert list(bar) == [0, 1, 2]


def test_bar_on_a_terminal_and_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROWDLEARN_PROGRESS", raising=False)
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    assert show_progress(True) and not show_progress(False)
    bar = progress_bar(total=2, desc="x")
    bar.update(2)
    bar.close()
    assert "\r" in term.getvalue()
    monkeypatch.setenv("CROWDLEARN_PROGRESS", "0")
    assert not show_progress(True)
    monkeypatch.setenv("CROWDLEARN_PROGRESS", "1")
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert show_progress(True)


def test_fit_writes_no_carriage_returns_into_a_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CROWDLEARN_PROGRESS", raising=False)
    sim = tmp_path / "sim"
    assert main(["simulate", "-o", str(sim), "--n-tasks", "60", "--n-classes", "2",
                 "--workers", "one-coin:3", "--features", "3", "--seed", "0", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["fit", str(sim), "--features", str(sim / "features.csv"), "--n-epochs", "2",
                 "--hidden", "4", "--accelerator", "cpu", "--threads", "1", "-o",
                 str(tmp_path / "out")]) == 0
    assert "\r" not in capsys.readouterr().err
