"""The revisit budget of incremental updates: ``partial_fit(refresh=R)`` and
``aggregate --update STATE --update-refresh R`` (checked by crowdlearn.params)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn.aggregate import make_strategy
from crowdlearn.cli import main
from crowdlearn.params import ParameterError
from crowdlearn.simulate import simulate


def _batches(tmp_path: Path) -> tuple[Path, Path]:
    """Two CSV batches of one crowd: the second touches only some of the first's tasks."""
    frame = simulate(300, 3, 12, seed=3).answers.to_frame()
    first = frame[frame["task"] < 200]
    second = frame[frame["task"] >= 150]
    paths = tmp_path / "b1.csv", tmp_path / "b2.csv"
    first.to_csv(paths[0], index=False)
    second.to_csv(paths[1], index=False)
    return paths


def _labels(out: Path, stem: str) -> pd.DataFrame:
    frame = pd.read_csv(out / f"labels_{stem}_ds.csv")
    return frame.set_index("task").sort_index()


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_partial_fit_refuses_a_bad_refresh_in_one_place(bad: float) -> None:
    frame = simulate(60, 3, 6, seed=0).answers.to_frame()
    est = make_strategy("ds")
    with pytest.raises(ParameterError, match="partial_fit: refresh must be a number >= 0"):
        est.partial_fit(frame, refresh=bad)
    assert not hasattr(est, "_inc")  # refused before any state is built


def test_partial_fit_refuses_a_bad_iteration_count() -> None:
    frame = simulate(60, 3, 6, seed=0).answers.to_frame()
    with pytest.raises(ParameterError, match="n_iter must be an integer >= 0"):
        make_strategy("onecoin").partial_fit(frame, n_iter=-2)


def test_cli_update_refresh_reaches_the_update(tmp_path: Path) -> None:
    b1, b2 = _batches(tmp_path)
    assert main(["aggregate", str(b1), "--update", str(tmp_path / "st0"), "-s", "ds", "-o",
                 str(tmp_path / "o1"), "--quiet"]) == 0
    after_first = _labels(tmp_path / "o1", "b1")
    runs = {}
    for r in ("0", "5"):
        st = tmp_path / f"st{r}"
        if r != "0":  # the same first batch in a second state
            assert main(["aggregate", str(b1), "--update", str(st), "-s", "ds", "-o",
                         str(tmp_path / "o1b"), "--quiet"]) == 0
        out = tmp_path / f"out{r}"
        assert main(["aggregate", str(b2), "--update", str(st), "--update-refresh", r, "-o",
                     str(out), "--quiet"]) == 0
        runs[r] = _labels(out, "b2")
        summary = json.loads((out / "summary_b2_ds.json").read_text())
        assert summary["refresh"] == float(r)
    # tasks 0..149 are not in the second batch: with R = 0 nothing revisits them, with R = 5
    # (5 x 150 touched tasks > the 200 earlier ones) every one is revised with the new workers
    untouched = after_first.index[after_first.index < 150]
    cols = [c for c in after_first.columns if c.startswith("p_") or c == "confidence"]
    assert cols, list(after_first.columns)
    a = after_first.loc[untouched, cols].to_numpy()
    np.testing.assert_allclose(runs["0"].loc[untouched, cols].to_numpy(), a, atol=1e-12)
    assert np.abs(runs["5"].loc[untouched, cols].to_numpy() - a).max() > 1e-6


@pytest.mark.parametrize("value", ["-0.5", "nan"])
def test_cli_update_refresh_is_checked_before_any_work(tmp_path: Path, value: str,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    b1, _ = _batches(tmp_path)
    assert main(["aggregate", str(b1), "--update", str(tmp_path / "st"), "--update-refresh",
                 value, "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--update-refresh must be a number >= 0" in err
    assert not (tmp_path / "st").exists() and not (tmp_path / "out").exists()


def test_cli_update_refresh_needs_update(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    b1, _ = _batches(tmp_path)
    assert main(["aggregate", str(b1), "--update-refresh", "2", "-o",
                 str(tmp_path / "out")]) == 2
    assert "--update-refresh is a setting of incremental updates" in capsys.readouterr().err
