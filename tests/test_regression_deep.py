"""Deep crowd regression: the regression crowd layer (B, S, S+B, B+S) and two-stage training."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crowdlearn import Answers  # noqa: E402
from crowdlearn.deep import CrowdRegressor  # noqa: E402
from crowdlearn.deep.data import CrowdData  # noqa: E402
from crowdlearn.deep.heads.regression import RegressionCrowdLayer  # noqa: E402
from crowdlearn.errors import DataError  # noqa: E402
from crowdlearn.metrics_regression import r2_score  # noqa: E402
from crowdlearn.real import RealAnswers  # noqa: E402


def test_crowd_layer_loss_is_mse_over_observed_answers_only() -> None:
    answers = RealAnswers([0, 0, 1], [0, 2, 1], [1.0, 3.0, -1.0], task_ids=np.arange(3),
                          worker_ids=np.arange(3))
    data = CrowdData(np.zeros((3, 1), dtype=np.float32), answers)
    batch = data.batch(torch.arange(3))
    for conn in ("B", "S", "S+B", "B+S"):
        head = RegressionCrowdLayer(3, conn)
        with torch.no_grad():
            if head.scale is not None:
                head.scale.copy_(torch.tensor([1.0, 1.0, 1.0]) * 2)
            if head.bias is not None:
                head.bias.copy_(torch.tensor([0.5, 0.0, 0.5]))
        out = torch.tensor([[1.0], [2.0], [7.0]])  # task 2 has no answer: never enters
        pred = head.annotator_outputs(out, batch)
        s, b = head.effective()
        f = torch.tensor([1.0, 1.0, 2.0])  # the outputs of the answers' tasks (0, 0, 1)
        w = batch.workers
        if conn == "B":
            want = f + b[w]
        elif conn == "S":
            want = s[w] * f
        elif conn == "S+B":
            want = s[w] * f + b[w]
        else:
            want = s[w] * (f + b[w])
        torch.testing.assert_close(pred, want)
        # the anchor: answer-share-weighted mean scale 1 and bias 0 (uniform shares here)
        if s is not None:
            assert float(s.mean()) == pytest.approx(1.0)
        if b is not None:
            assert float(b.mean()) == pytest.approx(0.0, abs=1e-7)
        assert pred.shape == (3,)
        loss = head.nll(out, batch)
        assert float(loss) == pytest.approx(float(((pred - batch.labels) ** 2).mean()))


def test_crowd_regressor_refuses_class_labels() -> None:
    labels = Answers.from_arrays([0, 1], ["a", "b"], [0, 1])
    with pytest.raises(DataError, match="strategy 'crowdlayer-sb' takes regression answers"):
        CrowdRegressor().fit(np.zeros((2, 1)), labels)


def _graded_bias_crowd(seed: int = 0) -> tuple[np.ndarray, RealAnswers]:
    """Tasks ordered along feature x0; worker k rates a window of neighbouring tasks (three
    workers a task, overlapping windows) with a bias falling from +0.3 to -0.3 along the
    workers: the mean of a task's answers is off by a smooth function of x0, which a network
    trained on it learns; the overlaps identify every worker's bias."""
    rng = np.random.default_rng(seed)
    n, n_workers = 600, 12
    x = rng.standard_normal((n, 4))
    x = x[np.argsort(x[:, 0])]
    truth = 1 / (1 + np.exp(-(1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2])))
    bias = np.linspace(0.3, -0.3, n_workers)
    width = 3 * n // n_workers
    tasks, workers = [], []
    for k in range(n_workers):
        first = k * n // n_workers - width // 3
        for i in range(max(first, 0), min(first + width, n)):
            tasks.append(i)
            workers.append(k)
    t, w = np.array(tasks), np.array(workers)
    y = truth[t] + bias[w] + 0.03 * rng.standard_normal(len(t))
    return x, RealAnswers(t, w, y, task_ids=np.arange(n), worker_ids=np.arange(n_workers),
                          truth=truth)


def test_crowd_layer_beats_training_on_the_mean_with_biased_workers() -> None:
    torch.set_num_threads(1)
    x, answers = _graded_bias_crowd()
    kw = dict(hidden=(32,), n_epochs=40, lr=1e-2, seed=0, device="cpu")
    r2_mean = r2_score(answers.truth, CrowdRegressor("twostage-mean", **kw).fit(
        x, answers).predict(x))
    fitted = {}
    for conn in ("crowdlayer-b", "crowdlayer-sb", "crowdlayer-bs"):  # measured: +0.24..0.30
        fitted[conn] = cl = CrowdRegressor(conn, **kw).fit(x, answers)
        assert r2_score(answers.truth, cl.predict(x)) > r2_mean + 0.1, conn
    # the B layer's learned biases follow the true ones (up to the anchor: mean bias 0)
    b = fitted["crowdlayer-b"].bias_
    assert np.corrcoef(b, np.linspace(0.3, -0.3, 12))[0, 1] > 0.9


def test_cli_fit_regression_writes_predictions_and_worker_parameters(tmp_path) -> None:
    from crowdlearn.cli import main

    sim = tmp_path / "sim"
    assert main(["simulate", "--kind", "regression", "-o", str(sim), "--n-tasks", "200",
                 "--n-workers", "8", "--features", "4", "--seed", "0", "--quiet"]) == 0
    out = tmp_path / "fit"
    assert main(["fit", str(sim / "answers.csv"), "--features", str(sim / "features.csv"),
                 "-s", "crowdlayer-bs", "--n-epochs", "3", "--accelerator", "cpu", "-o",
                 str(out), "--quiet"]) == 0
    import json

    import pandas as pd

    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred.columns) == ["task", "prediction"] and len(pred) == 200
    workers = pd.read_csv(out / "workers.csv")
    assert list(workers.columns) == ["worker", "scale", "bias"] and len(workers) == 8
    res = json.loads((out / "results.json").read_text())
    assert res["kind"] == "regression" and res["strategy"] == "crowdlayer-bs"
    assert "r2" in res["train"]


def test_crowd_classifier_refuses_real_values() -> None:
    from crowdlearn.deep import CrowdClassifier

    real = RealAnswers.from_arrays([0, 1], ["a", "b"], [0.5, 0.25])
    with pytest.raises(DataError, match="strategy 'crowdlayer' takes classification answers"):
        CrowdClassifier(strategy="crowdlayer").fit(np.zeros((2, 1), dtype=np.float32), real)
