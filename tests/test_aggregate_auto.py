"""Tests of ``auto``: choosing an aggregation strategy from held-out answers, without truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdlearn.aggregate import Aggregator, available, make_strategy
from crowdlearn.aggregate.auto import (
    DEFAULT_CANDIDATES,
    AutoAggregator,
    collapsed_classes,
    heldout_loglik,
    holdout_split,
    plugin_confusions,
)
from crowdlearn.answers import Answers
from crowdlearn.errors import CrowdlearnError
from crowdlearn.simulate import simulate


def _asymmetric_crowd(seed: int = 0, n_tasks: int = 600) -> Answers:
    """Binary crowd where most workers say "1" for most true-0 tasks: majority vote is badly
    wrong on class 0, a full confusion model (Dawid-Skene) is right."""
    conf = np.empty((20, 2, 2))
    conf[:14] = [[0.35, 0.65], [0.05, 0.95]]  # biased towards class 1
    conf[14:] = [[0.85, 0.15], [0.15, 0.85]]  # honest, symmetric
    return simulate(n_tasks, confusions=conf, answers_per_task=5, seed=seed).answers


def _uneven_answers(seed: int = 0) -> Answers:
    """Tasks with 1 to 8 answers each, from 30 workers, 3 classes."""
    rng = np.random.default_rng(seed)
    n_per = rng.integers(1, 9, size=400)
    task = np.repeat(np.arange(400), n_per)
    worker = np.concatenate([rng.choice(30, size=k, replace=False) for k in n_per])
    label = rng.integers(0, 3, size=len(task))
    return Answers(task, worker, label)


# ---------------------------------------------------------------------------- holdout split
def test_holdout_split_keeps_an_answer_of_every_task() -> None:
    answers = _uneven_answers()
    hidden = holdout_split(answers, 0.3, np.random.default_rng(0))
    n = answers.answers_per_task()
    n_hidden = np.bincount(answers.task[hidden], minlength=answers.n_tasks)
    assert np.all(n - n_hidden >= 1)
    assert np.all(n_hidden[n == 1] == 0)
    # stochastic rounding of 0.3 * n: floor or floor + 1, capped at n - 1
    low = np.floor(0.3 * n)
    assert np.all((n_hidden >= np.minimum(low, n - 1)) & (n_hidden <= np.minimum(low + 1, n - 1)))
    # expected share 0.3 on the tasks with room to hide
    assert abs(n_hidden[n >= 4].sum() / n[n >= 4].sum() - 0.3) < 0.03


def test_holdout_split_is_random_within_tasks_and_seeded() -> None:
    answers = _uneven_answers()
    a = holdout_split(answers, 0.2, np.random.default_rng(5))
    b = holdout_split(answers, 0.2, np.random.default_rng(5))
    c = holdout_split(answers, 0.2, np.random.default_rng(6))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # not always the first answers of a task: every position inside a task gets hidden
    pos = np.arange(answers.n_answers) - answers.task_indptr[answers.task]
    assert set(np.unique(pos[a]).tolist()) == set(range(8))


def test_holdout_split_rejects_bad_share() -> None:
    with pytest.raises(ValueError, match="holdout"):
        holdout_split(_uneven_answers(), 1.0, np.random.default_rng(0))


# ---------------------------------------------------------------------------- scoring
def test_plugin_confusions_by_hand() -> None:
    # worker 0 answers tasks 0 and 1; worker 1 answers task 0; worker 2 answers nothing
    answers = Answers(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([0, 1, 1]),
                      worker_ids=np.arange(3))
    probas = np.array([[0.8, 0.2], [0.1, 0.9]])
    conf = plugin_confusions(answers, probas, smoothing=1.0)
    # counts[w, k, l]: worker 0 said 0 on task 0 and 1 on task 1
    counts = np.zeros((3, 2, 2))
    counts[0, :, 0] = probas[0]
    counts[0, :, 1] = probas[1]
    counts[1, :, 1] = probas[0]
    pooled = counts.sum(axis=0) + 1.0
    pooled /= pooled.sum(axis=1, keepdims=True)
    expected = (counts + pooled) / (counts.sum(axis=2, keepdims=True) + 1.0)
    np.testing.assert_allclose(conf, expected)
    np.testing.assert_allclose(conf.sum(axis=2), 1.0)
    np.testing.assert_allclose(conf[2], pooled)  # no answers: the pooled confusion


def test_heldout_loglik_by_hand() -> None:
    probas = np.array([[0.7, 0.3], [0.2, 0.8]])
    conf = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.5, 0.5]]])
    got = heldout_loglik(probas, conf, np.array([0, 1]), np.array([1, 0]), np.array([1, 0]))
    expected = np.log([0.7 * 0.4 + 0.3 * 0.5, 0.2 * 0.9 + 0.8 * 0.2])
    np.testing.assert_allclose(got, expected)


# ---------------------------------------------------------------------------- choice
def test_auto_prefers_dawid_skene_on_asymmetric_workers() -> None:
    answers = _asymmetric_crowd()
    truth = answers.truth
    auto = make_strategy("auto", candidates=["mv", "ds"]).fit(answers)
    assert auto.chosen_ == "ds"
    assert auto.scores_["ds"]["loglik"] > auto.scores_["mv"]["loglik"]
    assert "'ds'" in auto.reason_ and "'mv'" in auto.reason_
    # the choice matters: DS is much more accurate here (checked after the fact)
    mv = make_strategy("mv").fit(answers)
    assert np.mean(auto.labels_ == truth) > np.mean(mv.labels_ == truth) + 0.05
    # the chosen strategy, refitted on all answers, is what auto exposes
    ds = make_strategy("ds").fit(answers)
    np.testing.assert_array_equal(auto.labels_, ds.labels_)
    np.testing.assert_allclose(auto.probas_, ds.probas_)
    np.testing.assert_allclose(auto.confusions_, ds.confusions_)
    assert auto.n_iter_ == ds.n_iter_
    assert isinstance(auto.estimator_, type(ds))


@pytest.mark.parametrize("confusion", ["plugin", "model"])
def test_auto_choice_holds_for_both_confusion_sources(confusion: str) -> None:
    auto = AutoAggregator(candidates=["mv", "ds"], confusion=confusion)
    assert auto.fit(_asymmetric_crowd(seed=1)).chosen_ == "ds"


def test_auto_never_reads_truth() -> None:
    answers = _asymmetric_crowd(seed=2)
    rng = np.random.default_rng(0)
    shuffled = answers.with_truth(rng.permutation(answers.truth))
    runs = [AutoAggregator(candidates=["mv", "ds", "onecoin"]).fit(a)
            for a in (answers, shuffled, answers.with_truth(None))]
    for other in runs[1:]:
        assert other.chosen_ == runs[0].chosen_
        for name, s in runs[0].scores_.items():
            assert other.scores_[name]["per_split"] == s["per_split"]
        np.testing.assert_array_equal(other.labels_, runs[0].labels_)


def test_auto_is_deterministic_for_a_seed() -> None:
    answers = _asymmetric_crowd(seed=3)
    a = AutoAggregator(candidates=["mv", "ds", "glad"], random_state=7).fit(answers)
    b = AutoAggregator(candidates=["mv", "ds", "glad"], random_state=7).fit(answers)
    c = AutoAggregator(candidates=["mv", "ds", "glad"], random_state=8).fit(answers)
    assert a.chosen_ == b.chosen_
    assert a.reason_ == b.reason_
    for name in a.scores_:
        assert a.scores_[name]["per_split"] == b.scores_[name]["per_split"]
        assert a.scores_[name]["per_split"] != c.scores_[name]["per_split"]
        assert len(a.scores_[name]["per_split"]) == a.n_splits_
        assert a.scores_[name]["seconds"] > 0


def test_auto_default_candidates_follow_the_registry() -> None:
    auto = AutoAggregator()
    assert "auto" in available()
    multi = auto.candidate_list(5)
    binary = auto.candidate_list(2)
    assert "auto" not in multi
    assert set(multi) <= set(available()) and set(multi) <= set(DEFAULT_CANDIDATES)
    assert set(multi) <= set(binary)
    assert "mv" in multi and "ds" in multi
    from crowdlearn.aggregate import get_strategy_class

    assert not any(get_strategy_class(n).binary_only for n in multi)


class _Broken(Aggregator):
    name = "broken"

    def __init__(self) -> None:
        pass

    def _fit(self, answers: Answers) -> None:
        raise CrowdlearnError("this strategy always fails")


def test_auto_skips_and_reports_a_failing_candidate() -> None:
    auto = AutoAggregator(candidates=["mv", _Broken()]).fit(_asymmetric_crowd())
    assert auto.chosen_ == "mv"
    assert "always fails" in auto.scores_["broken"]["error"]
    assert "broken" in auto.reason_ and "failed" in auto.reason_


def test_auto_needs_answers_to_hold_out() -> None:
    single = Answers(np.arange(10), np.arange(10) % 3, np.arange(10) % 2)
    with pytest.raises(CrowdlearnError, match="held out"):
        AutoAggregator(candidates=["mv", "ds"]).fit(single)


def test_auto_on_a_dataframe_returns_pandas_like_the_others() -> None:
    frame = _asymmetric_crowd(n_tasks=200).to_frame()
    frame["task"] = "t" + frame["task"].astype(str)
    auto = AutoAggregator(candidates=["mv", "ds"]).fit(frame)
    assert isinstance(auto.labels_, pd.Series)
    assert auto.labels_.index[0].startswith("t")
    assert auto.probas_.shape == (200, 2)


def test_auto_on_real_data_picks_ds_over_mv(data_dir) -> None:
    folder = data_dir / "truth-inference" / "bluebird"
    labels = pd.read_csv(folder / "label.csv")
    answers = Answers.from_frame(labels, task="item")
    auto = AutoAggregator(candidates=["mv", "ds"]).fit(answers)
    # bluebird: DS is ~14 points more accurate than majority vote (Welinder et al. 2010)
    assert auto.chosen_ == "ds"


# ---------------------------------------------------------------------------- collapse guard
def test_collapsed_classes() -> None:
    # answers name class 2 a third of the time
    answers = Answers(np.repeat(np.arange(6), 3), np.tile(np.arange(3), 6), np.tile([0, 1, 2], 6))
    assert collapsed_classes(answers, np.array([0, 1, 2, 0, 1, 2]), 0.1).tolist() == []
    assert collapsed_classes(answers, np.array([0, 1, 1, 0, 1, 0]), 0.1).tolist() == [2]
    # one task in six labelled 2 (share 1/6 >= 0.1 * 1/3): not collapsed
    assert collapsed_classes(answers, np.array([0, 1, 2, 0, 1, 0]), 0.1).tolist() == []


class _MergeLastClass(Aggregator):
    """Dawid-Skene with the posterior of the last class moved onto the one before it."""

    name = "merge"

    def __init__(self) -> None:
        pass

    def _fit(self, answers: Answers) -> None:
        probas = np.array(make_strategy("ds").fit(answers).probas_)
        probas[:, -2] += probas[:, -1]
        probas[:, -1] = 0.0
        self.probas_ = probas


def _three_class_crowd() -> Answers:
    return simulate(400, 3, 15, model="one-coin", answers_per_task=4, seed=4).answers


def test_auto_flags_a_candidate_that_collapses_a_class() -> None:
    answers = _three_class_crowd()
    auto = AutoAggregator(candidates=["mv", "ds", _MergeLastClass()]).fit(answers)
    assert auto.scores_["merge"]["collapsed"] == [2]
    assert auto.scores_["ds"]["collapsed"] == []
    assert auto.chosen_ != "merge"
    assert "collapsing" in auto.reason_
    off = AutoAggregator(candidates=["mv", "ds", _MergeLastClass()], collapse_ratio=0)
    assert off.fit(answers).scores_["merge"]["collapsed"] == []


def test_auto_still_chooses_when_every_candidate_collapses() -> None:
    auto = AutoAggregator(candidates=[_MergeLastClass()]).fit(_three_class_crowd())
    assert auto.chosen_ == "merge"
    assert "every candidate collapsed" in auto.reason_
    assert not np.any(auto.labels_ == 2)


def test_auto_uses_more_splits_on_small_data() -> None:
    small = _asymmetric_crowd(n_tasks=300)  # 1,500 answers: 300 held out per split
    assert AutoAggregator(candidates=["mv"]).fit(small).n_splits_ == 10
    assert AutoAggregator(candidates=["mv"], min_hidden=1000).fit(small).n_splits_ == 4
    assert AutoAggregator(candidates=["mv"], min_hidden=10).fit(small).n_splits_ == 3
    fixed = AutoAggregator(candidates=["mv"], n_splits=2).fit(small)
    assert fixed.n_splits_ == 2 and len(fixed.scores_["mv"]["per_split"]) == 2
    assert "over 2 split(s)" in fixed.reason_


@pytest.mark.parametrize("tasks", [[0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1, 1, 1]])
def test_auto_works_on_crowds_of_one_or_two_tasks(tasks: list[int]) -> None:
    # with so few answers a random split may hide none; auto then hides one answer of a task
    # with several instead of claiming that every task has a single answer
    n = len(tasks)
    answers = Answers.from_arrays(tasks, [f"w{i % 3}" for i in range(n)], [i % 2 for i in range(n)])
    est = AutoAggregator().fit(answers)
    assert est.labels_.shape == (len(set(tasks)),)
    assert all(len(s["per_split"]) == est.n_splits_ for s in est.scores_.values()
               if s["error"] is None)


def test_auto_says_why_when_no_task_has_two_answers() -> None:
    answers = Answers.from_arrays([0, 1], ["a", "b"], [0, 1])
    with pytest.raises(CrowdlearnError, match="every task has a single answer"):
        AutoAggregator().fit(answers)
