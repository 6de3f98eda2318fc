"""Diagnostics of real-valued answers: ``identify`` (Python and CLI) on regression crowds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn.aggregate.regression import BiasScaleRegression, MeanRegression
from crowdlearn.cli import main
from crowdlearn.errors import CrowdlearnError
from crowdlearn.identify import identify
from crowdlearn.identify import regression as R
from crowdlearn.real import RealAnswers
from crowdlearn.simulate import simulate
from crowdlearn.simulate.regression import simulate_regression

SPAMMERS = ["s-random-1", "s-random-2", "s-constant"]


def planted_crowd(seed: int = 0) -> tuple[RealAnswers, dict[str, list[str]]]:
    """A simulated regression crowd (good, noisy and adversarial workers) plus three planted
    spammers who each answer 120 tasks: two at random over the range, one always 0.7."""
    crowd = simulate_regression(300, 16, answers_per_task=5,
                                mix={"good": 10, "noisy": 3, "adversarial": 3}, seed=seed)
    a = crowd.answers
    frame = pd.DataFrame({"task": a.task_ids[a.task], "worker": "w" + pd.Series(
        a.worker_ids[a.worker]).astype(str), "value": a.value})
    rng = np.random.default_rng(seed + 1)
    extra = []
    for name in SPAMMERS:
        tasks = rng.choice(a.n_tasks, 120, replace=False)
        values = np.full(120, 0.7) if name == "s-constant" else rng.uniform(0, 1, 120)
        extra.append(pd.DataFrame({"task": tasks, "worker": name, "value": values}))
    frame = pd.concat([frame, *extra], ignore_index=True)
    truth = dict(zip(a.task_ids.tolist(), a.truth.tolist(), strict=True))
    answers = RealAnswers.from_frame(frame, truth=truth, name="planted")
    kinds = {k: ["w" + str(w) for w in a.worker_ids[crowd.worker_type == k]]
             for k in ("good", "noisy", "adversarial")}
    kinds["spammer"] = SPAMMERS
    return answers, kinds


@pytest.fixture(scope="module")
def planted() -> tuple[RealAnswers, dict[str, list[str]]]:
    return planted_crowd()


def _flagged(d, flag: str) -> list[str]:
    return sorted(d.workers["worker"][d.workers[flag]].tolist())


def test_flags_find_the_planted_workers(planted) -> None:
    answers, kinds = planted
    d = identify(answers)
    assert isinstance(d.aggregator, BiasScaleRegression)  # "default" for real values
    assert list(d.workers.columns) == ["worker", *R.WORKER_METRICS]
    assert list(d.tasks.columns) == ["task", "estimate", *R.TASK_METRICS]
    assert _flagged(d, "spammer") == sorted(kinds["spammer"])
    assert _flagged(d, "adversarial") == sorted(kinds["adversarial"])
    assert set(kinds["noisy"]) <= set(_flagged(d, "unreliable"))
    assert not set(kinds["good"]) & set(_flagged(d, "unreliable"))
    w = d.workers.set_index("worker")
    assert (w.loc[kinds["adversarial"], "scale"] < 0).all()
    assert (w.loc[kinds["good"], "peer-correlation"] > 0.7).all()
    assert (w.loc[kinds["good"], "truth-mae"] < w.loc[kinds["noisy"], "truth-mae"].min()).all()
    assert w.loc["s-constant", "peer-correlation"] == 0.0  # constant answers: no information


def test_worker_and_task_values_match_a_direct_computation(planted) -> None:
    answers, _ = planted
    est = MeanRegression().fit(answers)
    d = identify(answers, est, ["abs-deviation", "peer-correlation", "truth-mae",
                                "truth-correlation", "noise-sd", "answer-sd", "posterior-sd"])
    frame = answers.to_frame(original=False)
    frame["truth"] = answers.truth[frame["task"]]
    frame["estimate"] = est.estimates_[frame["task"]]
    sums = frame.groupby("task")["value"].agg(["sum", "count"])
    frame["peer"] = ((sums["sum"][frame["task"]].to_numpy() - frame["value"])
                     / (sums["count"][frame["task"]].to_numpy() - 1))
    for w_idx in (0, 5, answers.n_workers - 1):
        mine = frame[frame["worker"] == w_idx]
        row = d.workers.iloc[w_idx]
        assert row["abs-deviation"] == pytest.approx((mine["value"] - mine["estimate"]).abs()
                                                     .mean())
        assert row["truth-mae"] == pytest.approx((mine["value"] - mine["truth"]).abs().mean())
        assert row["truth-correlation"] == pytest.approx(
            np.corrcoef(mine["value"], mine["truth"])[0, 1], abs=1e-12)
        if mine["value"].std() > 0:
            assert row["peer-correlation"] == pytest.approx(
                np.corrcoef(mine["value"], mine["peer"])[0, 1], abs=1e-12)
    np.testing.assert_allclose(d.workers["noise-sd"], est.noise_sd_)
    np.testing.assert_allclose(d.tasks["posterior-sd"], est.posterior_sd_)
    sd = frame.groupby("task")["value"].std(ddof=1).reindex(range(answers.n_tasks))
    np.testing.assert_allclose(d.tasks["answer-sd"], sd.to_numpy())


def test_krippendorff_interval_alpha() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12
    # units, interval alpha 0.849 (units with one value are left out)
    rows = {"A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
            "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
            "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
            "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]}
    cells = [(u, obs, v) for obs, vals in rows.items() for u, v in enumerate(vals)
             if v is not None]
    t, w, v = zip(*cells, strict=True)
    assert round(R.krippendorff_alpha_interval(RealAnswers.from_arrays(t, w, v)), 3) == 0.849
    # the same value as the crowd-kit-compatible matrix form with the interval distance
    from crowdlearn.crowdkit_metrics import alpha_krippendorff, interval_distance

    a = simulate_regression(80, 8, answers_per_task=3, seed=4).answers
    rounded = RealAnswers(a.task, a.worker, np.round(a.value, 1), _sorted=True)
    frame = rounded.to_frame().rename(columns={"value": "label"})
    assert R.krippendorff_alpha_interval(rounded) == pytest.approx(
        alpha_krippendorff(frame, interval_distance), abs=1e-12)


def test_metrics_of_the_other_kind_are_refused_in_one_line(planted) -> None:
    answers, _ = planted
    with pytest.raises(CrowdlearnError, match="metric 'spam-score' makes no sense for "
                       "regression answers"):
        identify(answers, metrics=["n-answers", "spam-score"])
    labels = simulate(50, 3, 5, seed=0).answers
    with pytest.raises(CrowdlearnError, match="metric 'noise-sd' makes no sense for "
                       "classification answers"):
        identify(labels, "mv", ["noise-sd"])
    with pytest.raises(CrowdlearnError, match="'ds' takes classification answers"):
        identify(answers, "ds")


@pytest.fixture
def planted_csv(planted, tmp_path: Path) -> tuple[Path, Path]:
    answers, _ = planted
    frame = answers.to_frame()
    frame["task"] = "r" + frame["task"].astype(str)
    path = tmp_path / "ratings.csv"
    frame.to_csv(path, index=False)
    truth = tmp_path / "truth.csv"
    pd.DataFrame({"task": "r" + pd.Series(answers.task_ids).astype(str),
                  "truth": answers.truth}).to_csv(truth, index=False)
    return path, truth


def test_cli_identify_on_real_values(planted, planted_csv, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    _, kinds = planted
    path, truth = planted_csv
    out = tmp_path / "diag"
    assert main(["identify", str(path), "--truth", str(truth), "--plot", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "answers read as real values (regression)" in captured.err
    printed = captured.out
    assert "spammer workers: 3: s-constant, s-random-1, s-random-2" in printed
    assert "most ambiguous tasks (by posterior-sd, then answer-sd)" in printed
    assert "estimates vs truth" in printed
    workers = pd.read_csv(out / "workers.csv")
    assert sorted(workers["worker"][workers["adversarial"]]) == sorted(kinds["adversarial"])
    assert {"bias", "scale", "noise-sd", "peer-correlation", "truth-mae"} <= set(workers)
    tasks = pd.read_csv(out / "tasks.csv")
    assert tasks["task"].str.startswith("r").all() and "estimate" in tasks
    info = json.loads((out / "dataset.json").read_text())
    assert info["kind"] == "regression" and info["class"] == "BiasScaleRegression"
    assert set(info["flag_rules"]) == {"spammer", "adversarial", "unreliable"}
    assert info["scores"]["r2"] > 0.9 and 0 < info["metrics"]["krippendorff-alpha"] < 1
    for name in ("workers", "parameters", "values", "ambiguity", "truth"):
        assert (out / f"{name}.png").stat().st_size > 1000, name
    assert not (out / "confusions.png").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["-m", "n-answers,accuracy"], "metric 'accuracy' makes no sense for regression answers"),
    (["-m", "n-answers", "--plot"], "--plot needs -m n-answers and one of peer-correlation"),
    (["--plot", "--workers", "worst"], "--workers chooses the confusion grid"),
    (["-s", "ds"], "strategy 'ds' takes classification answers"),
    (["-m", "no-such"], "unknown metric 'no-such'"),
])
def test_cli_identify_refusals_on_real_values(planted_csv, tmp_path: Path, extra: list[str],
                                              message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = planted_csv
    out = tmp_path / "diag"
    assert main(["identify", str(path), "--kind", "regression", "-o", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()


def test_cli_identify_refuses_regression_metrics_on_class_labels(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "labels.csv"
    simulate(60, 3, 6, seed=1).answers.to_frame().to_csv(path, index=False)
    assert main(["identify", str(path), "-m", "noise-sd", "-o", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "metric 'noise-sd' makes no sense for classification answers" in err


def test_movie_reviews_spammers() -> None:
    root = os.environ.get("CROWDLEARN_DATA")
    if not root:
        pytest.skip("CROWDLEARN_DATA is not set (the shared MovieReviews crowd is needed)")
    folder = Path(root) / "movie-reviews"
    if not (folder / "answers.txt").exists():
        pytest.skip(f"no {folder}/answers.txt")
    from crowdlearn.io import read

    answers = read(folder / "answers.txt", format="crowdlayer", missing=999999999,
                   truth=folder / "labels_train_amt.txt")
    d = identify(answers)
    w = d.workers.set_index("worker")
    # annotators 1 and 6 gave 409 and 685 ratings that do not follow the reviews (their
    # correlation with the true ratings: -0.003 and 0.11); the label-free rule finds them
    assert bool(w.loc[1, "spammer"]) and bool(w.loc[6, "spammer"])
    spam = w[w["spammer"]]
    assert (spam["truth-correlation"] < 0.2).all()
    busy = w[(w["n-answers"] >= 100) & ~w["spammer"]]
    assert len(busy) >= 10 and (busy["truth-correlation"] > 0.75).all()


def test_cli_identify_draws_a_regression_fit(planted_csv, tmp_path: Path) -> None:
    path, _ = planted_csv
    fit = tmp_path / "fit"
    fit.mkdir()
    (fit / "results.json").write_text(json.dumps({  # as fit --kind regression writes it
        "kind": "regression", "history": {"epoch": [1, 2], "train_loss": [0.05, 0.03],
                                          "val_loss": [0.04, 0.035]}}))
    out = tmp_path / "diag"
    assert main(["identify", str(path), "--kind", "regression", "--plot", "--fit", str(fit),
                 "-m", "n-answers,peer-correlation", "-o", str(out), "--quiet"]) == 0
    assert (out / "training.png").stat().st_size > 1000
    assert not (out / "parameters.png").exists()  # scale and bias were not asked for
