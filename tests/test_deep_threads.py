"""CrowdClassifier's thread setting: one thread for small models by default, restored after fit,
recorded in results.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crowdlearn import Answers  # noqa: E402
from crowdlearn.cli import main  # noqa: E402
from crowdlearn.deep import CrowdClassifier  # noqa: E402


@pytest.fixture
def small() -> tuple[np.ndarray, Answers]:
    rng = np.random.default_rng(0)
    n = 60
    truth = rng.integers(0, 2, n)
    x = (rng.normal(size=(n, 4)) + truth[:, None]).astype(np.float32)
    task = np.repeat(np.arange(n), 3)
    label = np.where(rng.random(3 * n) < 0.8, truth[task], 1 - truth[task])
    return x, Answers.from_arrays(task, np.tile([0, 1, 2], n), label, truth=truth)


@pytest.mark.parametrize(("threads", "expected"), [("auto", 1), (None, 3), (2, 2)])
def test_threads_during_fit_and_restored(small, threads, expected) -> None:
    x, answers = small
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        clf = CrowdClassifier("mlp", "ccem", n_epochs=1, device="cpu", threads=threads)
        clf.fit(x, answers)
        assert clf.threads_ == expected
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_auto_keeps_torchs_setting_for_large_models(small, monkeypatch) -> None:
    from crowdlearn.deep import classifier

    monkeypatch.setattr(classifier, "ONE_THREAD_MAX_PARAMS", 10)
    x, answers = small
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        clf = CrowdClassifier("mlp", "ccem", n_epochs=1, device="cpu").fit(x, answers)
        assert clf.threads_ == 2
    finally:
        torch.set_num_threads(before)


def test_auto_runs_are_bit_identical(small) -> None:
    x, answers = small
    a = CrowdClassifier("mlp", "geocrowdnet-w", n_epochs=3, device="cpu").fit(x, answers)
    b = CrowdClassifier("mlp", "geocrowdnet-w", n_epochs=3, device="cpu").fit(x, answers)
    assert a.history_["train_loss"] == b.history_["train_loss"]
    assert np.array_equal(a.probas_, b.probas_)


def test_fit_records_threads_in_results(small, tmp_path: Path) -> None:
    x, answers = small
    answers.to_frame().to_csv(tmp_path / "answers.csv", index=False)
    np.save(tmp_path / "x.npy", x)
    for extra, expected in (([], 1), (["--threads", "2"], 2)):
        out = tmp_path / f"out{len(extra)}"
        assert main(["fit", str(tmp_path / "answers.csv"), "--features", str(tmp_path / "x.npy"),
                     "--n-epochs", "1", "--accelerator", "cpu", "--quiet", "-o", str(out),
                     *extra]) == 0
        assert json.loads((out / "results.json").read_text())["threads"] == expected
