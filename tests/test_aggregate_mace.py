"""MACE: exact parity with crowd-kit on one restart, distinct restarts, spammer detection,
accuracy and speed on real data."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers
from crowdlearn.aggregate import mace as mace_module
from crowdlearn.aggregate import make_strategy
from crowdlearn.aggregate.mace import MACE
from crowdlearn.errors import CrowdlearnError


def _load(data_dir: Path, name: str) -> Answers:
    folder = data_dir / "truth-inference" / name
    truth = pd.read_csv(folder / "truth.csv")
    answers = Answers.from_frame(pd.read_csv(folder / "label.csv"), duplicates="all")
    return answers.with_truth_table(truth["item"].to_numpy(), truth["truth"].to_numpy())


def _accuracy(answers: Answers, labels: np.ndarray) -> float:
    known = answers.truth_mask
    return float(np.mean(np.asarray(labels)[known] == answers.truth[known]))


def _spam_crowd(seed: int = 0, n_tasks: int = 400, k: int = 4) -> tuple[Answers, np.ndarray]:
    """Workers 0-5 are reliable (theta 0.8), 6-7 always answer class 2, 8-9 answer at random."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_tasks)
    n_workers, per_task = 10, 5
    worker = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task].reshape(-1)
    task = np.repeat(np.arange(n_tasks), per_task)
    knows = rng.random(len(task)) < np.where(worker < 6, 0.8, 0.0)
    spam = np.where(worker < 8, np.where(worker < 6, rng.integers(0, k, len(task)), 2),
                    rng.integers(0, k, len(task)))
    label = np.where(knows, truth[task], spam)
    return Answers(task, worker, label, classes=np.arange(k), truth=truth), truth


def _crowdkit_order(answers: Answers) -> pd.DataFrame:
    """The answers as a frame in which workers and labels first appear in sorted order.

    crowd-kit indexes its parameters by first appearance but stores its M-step counts in
    sorted order; on such a frame both orders coincide and crowd-kit is correct.
    """
    frame = answers.to_frame(original=False)
    frame = frame.sort_values(["worker", "task"], kind="stable").reset_index(drop=True)
    frame["label"] = pd.factorize(frame["label"])[0]
    return frame


def test_docstring_example_runs() -> None:
    result = doctest.testmod(mace_module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.filterwarnings("ignore")  # crowd-kit's pandas deprecation warnings
@pytest.mark.parametrize(("name", "method"), [("rte", "vb"), ("dog", "em")])
def test_one_restart_reproduces_crowdkit(data_dir: Path, name: str, method: str) -> None:
    # restart 0 draws crowd-kit's exact starting point, so one restart is the same computation
    ck = pytest.importorskip("crowdkit.aggregation")
    frame = _crowdkit_order(_load(data_dir, name).select_tasks(np.arange(300)))
    theirs = ck.MACE(n_restarts=1, n_iter=15, method=method).fit(frame)
    ours = MACE(n_restarts=1, n_iter=15, method=method).fit(frame)
    p_theirs = theirs.probas_.reindex(index=ours.probas_.index, columns=ours.probas_.columns)
    assert np.allclose(p_theirs.to_numpy(), ours.probas_.to_numpy(), rtol=0, atol=1e-10)
    assert np.allclose(theirs.spamming_, ours.spamming_, rtol=0, atol=1e-10)
    assert np.allclose(theirs.thetas_, ours.thetas_, rtol=0, atol=1e-10)
    assert (theirs.labels_.reindex(ours.labels_.index) == ours.labels_).all()


def test_restarts_use_distinct_seeds_and_the_best_is_kept() -> None:
    answers, _ = _spam_crowd()
    starts = MACE(n_restarts=4, n_iter=0).fit(answers).restart_log_likelihoods_
    assert len(np.unique(starts)) == 4, "each restart must start from its own random point"
    est = MACE(n_restarts=4, n_iter=5).fit(answers)
    assert est.log_likelihood_ == est.restart_log_likelihoods_.max()
    # restart 0 is seeded by random_state itself: a single restart is the first of several
    first = MACE(n_restarts=1, n_iter=5).fit(answers).restart_log_likelihoods_[0]
    assert first == pytest.approx(est.restart_log_likelihoods_[0], rel=0, abs=1e-12)
    other_seed = MACE(n_restarts=1, n_iter=0, random_state=1).fit(answers)
    assert other_seed.restart_log_likelihoods_[0] != starts[0]


@pytest.mark.parametrize("method", ["vb", "em"])
def test_finds_spammers_and_their_habits(method: str) -> None:
    answers, truth = _spam_crowd()
    est = MACE(method=method).fit(answers)
    assert est.skills_[:6].min() > 0.6
    assert est.skills_[6:].max() < 0.2
    assert np.all(est.spam_distributions_[6:8].argmax(axis=1) == 2)
    assert np.allclose(est.spam_distributions_.sum(axis=1), 1.0)
    assert np.allclose(est.priors_, 0.25)
    assert np.mean(est.labels_ == truth) > np.mean(answers.majority_labels() == truth) + 0.05


def test_spam_distributions_follow_their_workers_in_any_row_order() -> None:
    # crowd-kit 1.4.2 gives worker "z" (first row, always answers 0) the label distribution of
    # worker "a" (first in sorted order, always answers 1): its M-step counts are sorted by
    # worker while its parameters are in order of first appearance
    rows = [(f"t{t:02d}", w, lab) for t in range(20)
            for w, lab in (("z", 0), ("a", 1), ("m", t % 2))]
    frame = pd.DataFrame(rows, columns=["task", "worker", "label"])
    est = MACE(method="em", n_restarts=1, n_iter=1).fit(frame)
    spam = pd.DataFrame(est.spam_distributions_, index=est.skills_.index)
    assert spam.loc["z", 0] > 0.9 and spam.loc["a", 1] > 0.9
    shuffled = MACE(method="em", n_restarts=1, n_iter=1).fit(
        frame.sample(frac=1.0, random_state=0))
    assert np.allclose(shuffled.probas_.loc[est.probas_.index].to_numpy(),
                       est.probas_.to_numpy())


def test_smoothing_is_honoured_in_em() -> None:
    answers, _ = _spam_crowd(n_tasks=100)
    default = MACE(method="em", n_restarts=1).fit(answers)
    explicit = MACE(method="em", n_restarts=1, smoothing=0.01 / 4).fit(answers)
    heavy = MACE(method="em", n_restarts=1, smoothing=20.0).fit(answers)
    assert np.allclose(default.probas_, explicit.probas_)
    assert not np.allclose(default.thetas_, heavy.thetas_, atol=1e-3)


@pytest.mark.parametrize(("name", "minimum"), [
    ("rte", 0.92), ("dog", 0.83), ("web", 0.83), ("sentiment", 0.95), ("bluebird", 0.75),
])
def test_accuracy_on_real_data(data_dir: Path, name: str, minimum: float) -> None:
    answers = _load(data_dir, name)
    assert _accuracy(answers, MACE().fit(answers).labels_) >= minimum


def test_accuracy_on_relevance(data_dir: Path) -> None:
    # 98,453 answers, 10 restarts (timing vs crowd-kit lives in benchmarks/aggregation.py)
    answers = _load(data_dir, "relevance")
    est = MACE().fit(answers)
    assert _accuracy(answers, est.labels_) > 0.58


def test_bad_method_and_registry() -> None:
    answers, _ = _spam_crowd(n_tasks=30)
    with pytest.raises(CrowdlearnError, match="method"):
        MACE(method="gibbs").fit(answers)
    est = make_strategy("mace[n_restarts=2,method=em]")
    assert isinstance(est, MACE) and est.fit(answers).restart_log_likelihoods_.shape == (2,)


@pytest.mark.parametrize("method", ["vb", "em"])
def test_float32_estep_matches_float64(data_dir: Path, method: str) -> None:
    # issue 11: dtype="float32" runs the E-step in single precision; labels are those of the
    # float64 path and log-likelihoods agree to about 1e-7 per answer
    for answers in (_spam_crowd(3)[0], _load(data_dir, "rte")):
        wide = MACE(method=method, n_restarts=3).fit(answers)
        narrow = MACE(method=method, n_restarts=3, dtype="float32").fit(answers)
        assert narrow.probas_.dtype == np.float64
        np.testing.assert_array_equal(narrow.labels_, wide.labels_)
        np.testing.assert_allclose(narrow.restart_log_likelihoods_,
                                   wide.restart_log_likelihoods_, rtol=0, atol=1e-5)
        np.testing.assert_allclose(narrow.probas_, wide.probas_, rtol=0, atol=1e-3)
        np.testing.assert_allclose(narrow.probas_.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        np.testing.assert_allclose(narrow.skills_, wide.skills_, rtol=0, atol=1e-4)


def test_float32_shifts_large_log_ratios_before_exp() -> None:
    # 150 agreeing reliable answers per task: the cell log-ratios exceed float32's exp range
    # (about 88), so the float32 path must subtract each task's largest before exp
    rng = np.random.default_rng(5)
    n_tasks, per_task, k = 40, 150, 3
    truth = rng.integers(0, k, n_tasks)
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = np.tile(np.arange(per_task), n_tasks)
    right = rng.random(len(task)) < 0.9
    label = np.where(right, truth[task], rng.integers(0, k, len(task)))
    answers = Answers(task, worker, label, classes=np.arange(k), truth=truth)
    wide = MACE(n_restarts=2, n_iter=10).fit(answers)
    narrow = MACE(n_restarts=2, n_iter=10, dtype="float32").fit(answers)
    assert np.isfinite(narrow.probas_).all()
    np.testing.assert_array_equal(narrow.labels_, wide.labels_)
    np.testing.assert_allclose(narrow.log_likelihood_, wide.log_likelihood_, rtol=0, atol=1e-5)
    with pytest.raises(CrowdlearnError, match="dtype"):
        MACE(dtype="float16").fit(answers)
