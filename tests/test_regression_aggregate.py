"""Regression aggregation: mean, median, Raykar et al. 2010 EM, bias + scale EM; refusals."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers
from crowdlearn.aggregate import DawidSkene, MajorityVote
from crowdlearn.aggregate.regression import (
    BiasScaleRegression,
    MeanRegression,
    MedianRegression,
    RaykarRegression,
    available_regression,
    get_regression_class,
    make_regression_strategy,
)
from crowdlearn.aggregate.regression.base import _REGISTRY
from crowdlearn.cli import main
from crowdlearn.errors import CrowdlearnError, DataError
from crowdlearn.metrics_regression import mae, r2_score
from crowdlearn.params import ParameterError, check_params, missing_specs, specs_of
from crowdlearn.real import RealAnswers
from crowdlearn.simulate.regression import simulate_regression

TINY = RealAnswers.from_arrays([0, 0, 0, 1, 1, 2], ["a", "b", "c", "a", "b", "c"],
                               [0.1, 0.3, 0.8, 0.5, 0.6, 0.2])


def test_mean_and_median_on_tiny_data() -> None:
    np.testing.assert_allclose(MeanRegression().fit_predict(TINY), [0.4, 0.55, 0.2])
    np.testing.assert_allclose(MedianRegression().fit_predict(TINY), [0.3, 0.55, 0.2])
    est = MeanRegression().fit(TINY)
    # descriptive worker bias: mean residual of the worker's answers
    np.testing.assert_allclose(est.bias_, [(-0.3 - 0.05) / 2, (-0.1 + 0.05) / 2, 0.2])


def test_raykar_matches_a_brute_force_fixed_point() -> None:
    rng = np.random.default_rng(3)
    t = np.repeat(np.arange(12), 3)
    w = np.concatenate([rng.choice(5, 3, replace=False) for _ in range(12)])
    y = rng.normal(size=len(t))
    a = RealAnswers(t, w, y)
    est = RaykarRegression(noise_prior=0.0, tol=1e-12, max_iter=5000).fit(a)
    # plain loops over the paper's updates (flat prior, posterior variance in the M-step)
    var = np.ones(5)
    z = np.zeros(12)
    v = np.zeros(12)
    mean_all = np.array([y[t == i].mean() for i in range(12)])
    s2 = sum(((y[t == i] - mean_all[i]) ** 2).sum() for i in range(12)) / (len(y) - 12)
    z, v = mean_all, np.full(12, s2 / 3)
    for _ in range(5000):
        for k in range(5):
            mine = w == k
            var[k] = np.mean((y[mine] - z[t[mine]]) ** 2 + v[t[mine]])
        for i in range(12):
            lam = 1 / var[w[t == i]]
            z[i] = (lam * y[t == i]).sum() / lam.sum()
            v[i] = 1 / lam.sum()
    np.testing.assert_allclose(est.estimates_, z, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(est.noise_sd_, np.sqrt(var), rtol=1e-5)
    np.testing.assert_allclose(est.posterior_sd_, np.sqrt(v), rtol=1e-5)


def test_raykar_objective_never_decreases_and_converges() -> None:
    crowd = simulate_regression(500, 20, answers_per_task=4, seed=5)
    est = RaykarRegression().fit(crowd.answers)
    h = np.array(est.history_)
    assert est.converged_ and est.n_iter_ < est.max_iter
    assert (np.diff(h) >= -1e-10).all()


def test_raykar_recovers_noise_levels() -> None:
    crowd = simulate_regression(3000, 20, answers_per_task=5, seed=2,
                                mix={"good": 0.6, "noisy": 0.4})
    est = RaykarRegression().fit(crowd.answers)
    np.testing.assert_allclose(est.noise_sd_, crowd.noise_sd, rtol=0.15)
    mean = MeanRegression().fit_predict(crowd.answers)
    assert r2_score(crowd.answers.truth, est.estimates_) > r2_score(crowd.answers.truth, mean)


@pytest.mark.parametrize("seed", [0, 1])
def test_bias_scale_recovers_worker_parameters(seed: int) -> None:
    crowd = simulate_regression(3000, 30, answers_per_task=5, seed=seed)
    est = BiasScaleRegression().fit(crowd.answers)
    assert est.converged_
    np.testing.assert_allclose(est.scale_, crowd.scale, atol=0.1)
    np.testing.assert_allclose(est.bias_, crowd.bias, atol=0.08)
    np.testing.assert_allclose(est.noise_sd_, crowd.noise_sd, atol=0.03)
    adversarial = crowd.worker_type == "adversarial"
    assert (est.scale_[adversarial] < 0).all() and (est.scale_[~adversarial] > 0).all()
    truth = crowd.answers.truth
    assert r2_score(truth, est.estimates_) > 0.98
    for other in (MeanRegression(), MedianRegression(), RaykarRegression()):
        assert r2_score(truth, est.estimates_) > r2_score(truth, other.fit_predict(
            crowd.answers)) + 0.01
    # posterior sd is calibrated: about 95% of truths inside +-1.96 sd
    inside = np.abs(est.estimates_ - truth) < 1.96 * est.posterior_sd_
    assert 0.9 < inside.mean() < 0.99


def test_bias_scale_is_anchored_on_the_typical_worker() -> None:
    # every worker shifted by +0.2 and scaled by 2: the model cannot see it; the typical worker
    # defines the units, so the estimates are the typical worker's view of the truth
    crowd = simulate_regression(1000, 15, answers_per_task=5, seed=4, mix={"good": 1.0})
    a = crowd.answers
    moved = RealAnswers(a.task, a.worker, 2 * a.value + 0.2, task_ids=a.task_ids,
                        worker_ids=a.worker_ids)
    est = BiasScaleRegression().fit(moved)
    assert np.median(est.scale_) == pytest.approx(1.0, abs=1e-9)
    assert np.median(est.bias_) == pytest.approx(0.0, abs=0.02)
    assert r2_score(2 * a.truth + 0.2, est.estimates_) > 0.98


def test_bias_scale_warns_at_its_iteration_cap() -> None:
    crowd = simulate_regression(300, 10, answers_per_task=3, seed=0)
    with pytest.warns(Warning, match="max_iter=1"):
        BiasScaleRegression(max_iter=1).fit(crowd.answers)


def test_dataframe_input_gives_series_with_original_ids() -> None:
    frame = pd.DataFrame({"task": ["x", "x", "y"], "worker": [10, 20, 10],
                          "label": [0.2, 0.4, 0.9]})
    est = RaykarRegression().fit(frame)
    assert list(est.estimates_.index) == ["x", "y"]
    assert list(est.noise_sd_.index) == [10, 20]


def test_classification_strategies_refuse_real_values() -> None:
    for est, name in ((DawidSkene(), "ds"), (MajorityVote(), "mv")):
        with pytest.raises(DataError, match=rf"^strategy '{name}' takes classification answers, "
                           r"got real values \(regression\); use a regression strategy"):
            est.fit(TINY)


def test_regression_strategies_refuse_class_labels() -> None:
    labels = Answers.from_arrays([0, 0, 1], ["a", "b", "a"], [0, 1, 1])
    for cls in (MeanRegression, RaykarRegression, BiasScaleRegression):
        with pytest.raises(DataError, match=rf"^strategy '{cls.name}' takes regression "
                           "answers, got classification answers"):
            cls().fit(labels)
    with pytest.raises(CrowdlearnError, match="strategy 'ds' takes classification answers"):
        get_regression_class("ds")


@pytest.mark.parametrize("cls", sorted(set(_REGISTRY.values()), key=lambda c: c.name),
                         ids=lambda c: c.name)
def test_every_regression_parameter_has_a_spec_that_refuses_bad_values(cls: type) -> None:
    assert missing_specs(cls) == []
    check_params(cls.__name__, specs_of(cls), cls().get_params())
    for name, spec in specs_of(cls).items():
        for bad in spec.bad_values():
            with pytest.raises(ParameterError, match=rf"strategy '{cls.name}': {name} must be"):
                make_regression_strategy(cls.name, **{name: bad})
            with pytest.raises(ParameterError):
                cls(**{name: bad}).fit(TINY)


def test_available_regression_order() -> None:
    assert available_regression() == ["mean", "median", "raykar-regression", "bias-scale"]


def _write_csv(tmp_path):
    crowd = simulate_regression(200, 8, answers_per_task=3, seed=1)
    frame = crowd.answers.to_frame()
    frame["task"] = "T" + frame["task"].astype(str)
    data = tmp_path / "r.csv"
    frame.to_csv(data, index=False)
    return data


def test_cli_aggregate_regression_writes_estimates_and_workers(tmp_path, capsys) -> None:
    data = _write_csv(tmp_path)
    out = tmp_path / "out"
    assert main(["aggregate", str(data), "-s", "raykar-regression", "-o", str(out)]) == 0
    est = pd.read_csv(out / "estimates_r_raykar-regression.csv")
    assert list(est.columns) == ["task", "estimate", "posterior_sd"]
    assert est["task"].iloc[0] == "T0"
    workers = pd.read_csv(out / "workers_r_raykar-regression.csv")
    assert list(workers.columns) == ["worker", "n_answers", "bias", "scale", "noise_sd"]
    summary = json.loads((out / "summary_r_raykar-regression.json").read_text())
    assert summary["kind"] == "regression" and summary["converged"]
    # the default strategy for real values is bias-scale
    assert main(["aggregate", str(data), "-o", str(out), "--quiet"]) == 0
    assert (out / "estimates_r_bias-scale.csv").is_file()


def test_cli_refuses_crossed_kinds_in_one_line(tmp_path, capsys) -> None:
    data = _write_csv(tmp_path)
    assert main(["aggregate", str(data), "-s", "ds", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "strategy 'ds' takes classification answers" in err[0]
    labels = tmp_path / "l.csv"
    labels.write_text("task,worker,label\n1,a,0\n1,b,1\n", encoding="utf-8")
    assert main(["aggregate", str(labels), "-s", "mean", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "strategy 'mean' takes regression answers" in err[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["aggregate", str(labels), "--kind", "regression", "-s", "mean", "-o",
                     str(tmp_path / "o"), "--quiet"]) == 0


def test_metrics() -> None:
    assert r2_score([1, 2, 3], [1, 2, 3]) == 1.0
    assert mae([0, 1, np.nan], [1, 1, 5]) == 0.5


def test_cli_simulate_regression_saves_true_parameters_and_info_describes(tmp_path,
                                                                          capsys) -> None:
    out = tmp_path / "sim"
    assert main(["simulate", "--kind", "regression", "-o", str(out), "--n-tasks", "400",
                 "--workers", "good:6,biased:2,scaled:1,adversarial:1", "--seed", "1",
                 "--quiet"]) == 0
    workers = pd.read_csv(out / "workers.csv")
    assert list(workers.columns) == ["worker", "type", "scale", "bias", "noise_sd"]
    assert (workers["scale"][workers["type"] == "adversarial"] < 0).all()
    assert main(["info", str(out / "answers.csv")]) == 0
    text = capsys.readouterr().out
    assert "regression" in text and "tasks 400, workers 10, answers 2000" in text
    assert "answers per task: min 5" in text and "R^2" in text
    assert main(["aggregate", str(out / "answers.csv"), "-s", "bias-scale", "-o",
                 str(tmp_path / "agg"), "--quiet"]) == 0
    est = pd.read_csv(tmp_path / "agg" / "workers_answers_bias-scale.csv")
    np.testing.assert_allclose(est["scale"], workers["scale"], atol=0.15)


def test_cli_regression_refuses_gold(tmp_path, capsys) -> None:
    data = _write_csv(tmp_path)
    assert main(["aggregate", str(data), "--gold", str(data), "-o", str(tmp_path / "o")]) == 2
    assert "--gold is for class labels" in capsys.readouterr().err
