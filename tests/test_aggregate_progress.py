"""Aggregation fits show one progress bar on a terminal, none in a pipe or with --quiet."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from crowdlearn import Answers
from crowdlearn.aggregate import _em, make_strategy
from crowdlearn.cli import main


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _answers() -> Answers:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 60)
    task = np.repeat(np.arange(60), 4)
    worker = np.tile(np.arange(4), 60)
    label = np.where(rng.random(240) < 0.7, truth[task], rng.integers(0, 3, 240))
    return Answers(task, worker, label)


@pytest.fixture
def no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fit counts as long (the real delay is PROGRESS_DELAY_S = 2 s)."""
    monkeypatch.delenv("CROWDLEARN_PROGRESS", raising=False)
    monkeypatch.setattr(_em, "PROGRESS_DELAY_S", 0.0)
    monkeypatch.setattr(_em, "PROGRESS_MININTERVAL_S", 0.0)


@pytest.mark.parametrize("name", ["ds", "ebcc", "mace", "mmsr"])
def test_a_terminal_shows_the_bar(monkeypatch: pytest.MonkeyPatch, no_delay: None,
                                  name: str) -> None:
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    est = make_strategy(name).fit(_answers())
    shown = term.getvalue()
    assert type(est).__name__ in shown
    assert re.search(r"\b[1-9][0-9]*it\b", shown), shown  # the bar counted iterations


def test_no_bar_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch,
                                              no_delay: None) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    make_strategy("ebcc").fit(_answers())
    assert pipe.getvalue() == ""


def test_quiet_progress_hides_the_bar(monkeypatch: pytest.MonkeyPatch, no_delay: None) -> None:
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    with _em.quiet_progress():
        make_strategy("ds").fit(_answers())
    assert term.getvalue() == ""


def test_a_short_fit_shows_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROWDLEARN_PROGRESS", raising=False)
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    make_strategy("ds").fit(_answers())  # far below PROGRESS_DELAY_S
    assert term.getvalue() == ""


def test_nested_fits_share_one_bar(monkeypatch: pytest.MonkeyPatch, no_delay: None) -> None:
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    with _em.fit_progress("outer"):
        make_strategy("ds").fit(_answers())
    assert "outer" in term.getvalue() and "DawidSkene" not in term.getvalue()


@pytest.mark.parametrize("quiet", [False, True])
def test_cli_quiet_has_no_bar(monkeypatch: pytest.MonkeyPatch, no_delay: None, tmp_path: Path,
                              quiet: bool) -> None:
    a = _answers()
    csv = tmp_path / "answers.csv"
    csv.write_text("task,worker,label\n" + "".join(
        f"t{t},w{w},c{lab}\n" for t, w, lab in zip(a.task, a.worker, a.label, strict=True)))
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    args = [str(csv), "-s", "ds", "-o", str(tmp_path / "out")] + (["--quiet"] if quiet else [])
    assert main(["aggregate", *args]) == 0
    assert ("DawidSkene" in term.getvalue()) is not quiet
