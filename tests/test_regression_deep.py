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
