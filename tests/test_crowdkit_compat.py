"""crowd-kit drop-in behaviours (issue 12) and gold labels in every EM strategy.

crowd-kit's own suite runs with ``python benchmarks/crowdkit_suite.py PATH/TO/crowd-kit``;
these tests pin each behaviour in crowdlearn's suite.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers
from crowdlearn.aggregate import (
    GLAD,
    KOS,
    MMSR,
    BinaryRelevance,
    DawidSkene,
    GoldMajorityVote,
    MajorityVote,
    make_strategy,
)
from crowdlearn.errors import DataError
from crowdlearn.metrics import accuracy_on_aggregates, alpha_krippendorff, consistency, uncertainty
from crowdlearn.postprocessing import entropy_threshold

TOY = pd.DataFrame(
    [["w1", "t1", "no"], ["w1", "t2", "yes"], ["w1", "t3", "yes"], ["w1", "t4", "yes"],
     ["w1", "t5", "yes"], ["w2", "t1", "yes"], ["w2", "t2", "yes"], ["w2", "t3", "no"],
     ["w2", "t4", "yes"], ["w2", "t5", "no"], ["w3", "t1", "yes"], ["w3", "t2", "no"],
     ["w3", "t3", "no"], ["w3", "t4", "yes"], ["w3", "t5", "no"], ["w4", "t1", "yes"],
     ["w4", "t2", "yes"], ["w4", "t3", "yes"], ["w4", "t4", "yes"], ["w4", "t5", "yes"],
     ["w5", "t1", "yes"], ["w5", "t2", "no"], ["w5", "t3", "no"], ["w5", "t4", "no"],
     ["w5", "t5", "no"]], columns=["worker", "task", "label"])


@pytest.mark.parametrize("column", ["task", "worker", "label"])
def test_missing_column_is_a_key_error_and_a_data_error(column: str) -> None:
    frame = TOY.drop(columns=column)
    with pytest.raises(KeyError):
        MajorityVote().fit(frame)
    with pytest.raises(DataError, match=f"missing column.*{column}"):
        DawidSkene().fit(frame)


def test_boolean_labels_give_boolean_results() -> None:
    frame = TOY.assign(label=TOY["label"] == "yes")
    labels = DawidSkene().fit(frame).labels_
    assert labels.dtype == bool
    assert labels.equals(DawidSkene().fit(TOY).labels_ == "yes")


def test_majority_vote_probas_are_vote_shares_and_tied_is_switchable() -> None:
    mv = MajorityVote().fit(TOY)
    assert mv.probas_.loc["t1", "yes"] == pytest.approx(0.8)
    tied = MajorityVote(posterior="tied").fit(TOY)
    assert tied.probas_.loc["t1", "yes"] == 1.0
    assert mv.labels_.equals(tied.labels_)


def test_missing_skills_ignored_drop_the_worker() -> None:
    skills = pd.Series([0.9, 0.8, 0.7, 0.6], index=["w1", "w2", "w3", "w4"])
    mv = MajorityVote(on_missing_skill="ignore").fit(TOY, skills=skills)
    assert "w5" not in mv.skills_.index
    with pytest.raises(ValueError):
        MajorityVote(on_missing_skill="ignore").fit(TOY, skills=pd.Series([], dtype=float))


def test_gold_majority_vote_skills_count_every_accepted_gold_label() -> None:
    frame = pd.DataFrame({"task": ["t1", "t1", "t2", "t3"], "worker": ["a", "b", "a", "b"],
                          "label": ["x", "y", "x", "x"]})
    gold = pd.Series(["x", "y", "x"], index=["t1", "t1", "t2"])  # t1 accepts x and y
    gmv = GoldMajorityVote().fit(frame, gold)
    assert gmv.skills_.to_dict() == {"a": 1.0, "b": 1.0}
    assert gmv.predict(frame).to_dict() == {"t1": "x", "t2": "x", "t3": "x"}


def test_dawid_skene_initial_error_addition_and_assign() -> None:
    index = pd.MultiIndex.from_product([["w1", "w2", "w3", "w4", "w5"], ["yes", "no"]],
                                       names=["worker", "label"])
    zero = pd.DataFrame(np.zeros((10, 2)), index=index, columns=["no", "yes"])
    plain = DawidSkene(n_iter=10).fit(TOY)
    added = DawidSkene(n_iter=10, initial_error_strategy="addition").fit(TOY, initial_error=zero)
    assert np.allclose(added.probas_, plain.probas_)  # adding zero counts changes nothing
    with pytest.raises(ValueError, match="should be 1.0"):
        DawidSkene(initial_error_strategy="assign").fit(TOY, initial_error=zero)
    with pytest.raises(ValueError, match="All the workers"):
        DawidSkene(initial_error_strategy="assign").fit(TOY, initial_error=(zero + 5)[:3])
    # assign, no iteration: the errors are the given (normalised) prior, in its row order
    prior = zero + np.arange(1, 21).reshape(10, 2)
    prior = prior / prior.groupby("worker", sort=False).sum()
    ds = DawidSkene(n_iter=0, initial_error_strategy="assign").fit(TOY, initial_error=prior)
    pd.testing.assert_frame_equal(ds.errors_, prior)
    # without a strategy initial_error is ignored, as in crowd-kit
    ignored = DawidSkene(n_iter=10).fit(TOY, initial_error=prior)
    assert np.allclose(ignored.probas_, plain.probas_)


def test_dawid_skene_true_labels_are_fixed_posteriors() -> None:
    gold = pd.Series(["no", "yes"], index=["t3", "t5"])
    for n_iter in (0, 1, 5):
        ds = DawidSkene(n_iter).fit(TOY, gold)
        assert ds.probas_.loc["t3", "no"] == 1.0 and ds.probas_.loc["t5", "yes"] == 1.0
        assert ds.labels_["t5"] == "yes"
    assert not np.allclose(DawidSkene(5).fit(TOY, gold).errors_, DawidSkene(5).fit(TOY).errors_)


def test_mmsr_scores_are_normalised_per_task_and_predict_reuses_skills() -> None:
    mmsr = MMSR(random_state=0)
    scores = mmsr.fit_predict_score(TOY)
    assert scores is mmsr.scores_
    votes = mmsr.votes_.sum(axis=1)
    assert np.allclose(scores[votes > 0].sum(axis=1), 1.0)  # crowd-kit's scores
    # a negative vote total is divided by the absolute values: the order of classes is kept
    assert (scores.to_numpy().argmax(axis=1) == mmsr.votes_.to_numpy().argmax(axis=1)).all()
    assert mmsr.predict(TOY).equals(mmsr.fit(TOY).labels_)


def test_kos_empty_input_and_non_binary_data() -> None:
    empty = KOS().fit(pd.DataFrame([], columns=["task", "worker", "label"]))
    assert empty.labels_.empty and empty.labels_.dtype == object
    three = TOY.assign(label=np.arange(len(TOY)) % 3)
    with pytest.raises(ValueError, match="two classes"):
        KOS().fit(three)


def test_binary_relevance_aggregates_label_sets_with_any_strategy() -> None:
    frame = pd.DataFrame([["t1", "w1", ["a", "b"]], ["t1", "w2", ["a"]], ["t1", "w3", ["a", "b"]],
                          ["t2", "w1", ["c"]], ["t2", "w2", ["c", "d"]], ["t2", "w3", ["e"]]],
                         columns=["task", "worker", "label"])
    for agg in (MajorityVote(), DawidSkene(), GLAD(silent=True)):
        assert BinaryRelevance(agg).fit_predict(frame).tolist() == [["a", "b"], ["c"]]


def test_crowdkit_metrics_match_crowdkit() -> None:
    ck_metrics = pytest.importorskip("crowdkit.metrics.data")
    ck_workers = pytest.importorskip("crowdkit.metrics.workers")
    assert consistency(TOY) == pytest.approx(ck_metrics.consistency(TOY), abs=1e-12)
    skills = pd.Series([0.6, 0.8, 1.0, 0.4, 0.8], index=["w1", "w2", "w3", "w4", "w5"])
    assert uncertainty(TOY, skills) == pytest.approx(ck_metrics.uncertainty(TOY, skills))
    by_worker = uncertainty(TOY, skills, compute_by="worker", aggregate=False)
    assert np.allclose(by_worker, ck_metrics.uncertainty(TOY, skills, compute_by="worker",
                                                         aggregate=False))
    assert alpha_krippendorff(TOY) == pytest.approx(ck_metrics.alpha_krippendorff(TOY))
    assert accuracy_on_aggregates(TOY) == pytest.approx(ck_workers.accuracy_on_aggregates(TOY))


def test_entropy_threshold_drops_one_button_workers() -> None:
    rows = [[t, w, "dog" if w == "A" else ["dog", "cat"][(t + ord(w)) % 2]]
            for t in range(10) for w in "ABCD"]
    frame = pd.DataFrame(rows, columns=["task", "worker", "label"])
    kept = entropy_threshold(frame, percentile=20)
    assert "A" not in set(kept["worker"]) and len(kept) == 30


# ---------------------------------------------------------------------- gold labels
def adversarial_crowd(seed: int = 0) -> tuple[Answers, np.ndarray]:
    """4 workers who permute the classes (k -> k+1, 85% of the time) and 3 honest ones (75%):
    the majority is consistently wrong, so unsupervised EM learns the permutation."""
    rng = np.random.default_rng(seed)
    n, k, w = 400, 3, 7
    truth = rng.integers(0, k, n)
    adversary = np.arange(w) < 4
    accuracy = np.where(adversary, 0.85, 0.75)
    task, worker = np.repeat(np.arange(n), w), np.tile(np.arange(w), n)
    intended = np.where(adversary[worker], (truth[task] + 1) % k, truth[task])
    noise = (intended + rng.integers(1, k, len(task))) % k
    label = np.where(rng.random(len(task)) < accuracy[worker], intended, noise)
    return Answers(task, worker, label, truth=truth), truth


@pytest.mark.parametrize("name, share, floor", [
    ("ds", 0.2, 0.95), ("onecoin", 0.2, 0.8), ("dswc", 0.2, 0.95), ("wds", 0.2, 0.8),
    ("ibcc", 0.2, 0.95), ("ebcc", 0.2, 0.95), ("mace", 0.5, 0.8), ("bwa", 0.5, 0.5),
])
def test_gold_labels_improve_accuracy_on_the_other_tasks(name: str, share: float,
                                                         floor: float) -> None:
    answers, truth = adversarial_crowd()
    rng = np.random.default_rng(1)
    gold = np.where(rng.random(len(truth)) < share, truth, -1)
    other = gold < 0
    blind = make_strategy(name).fit(answers)
    guided = make_strategy(name).fit(answers, gold=gold)
    before = np.mean(blind.labels_[other] == truth[other])
    after = np.mean(guided.labels_[other] == truth[other])
    assert before < 0.1 and after > floor, (before, after)
    assert np.array_equal(guided.labels_[~other], truth[~other])
    assert np.allclose(guided.probas_[~other], np.eye(3)[truth[~other]])


def test_gold_moves_glad_abilities_of_adversaries_below_zero() -> None:
    answers, truth = adversarial_crowd()
    gold = np.where(np.random.default_rng(1).random(len(truth)) < 0.5, truth, -1)
    blind = GLAD(silent=True).fit(answers)
    guided = GLAD(silent=True).fit(answers, gold=gold)
    assert (blind.alphas_[:4] > 0).all() and (guided.alphas_[:4] < 0).all()


def test_truth_attached_to_answers_is_not_gold() -> None:
    answers, truth = adversarial_crowd()
    assert np.mean(DawidSkene().fit(answers).labels_ == truth) < 0.1


def test_gold_labels_outside_the_classes_are_an_error() -> None:
    with pytest.raises(DataError, match="gold label"):
        DawidSkene().fit(TOY, pd.Series({"t1": "maybe"}))


def test_one_coin_and_wds_take_a_prior_confusion() -> None:
    answers, truth = adversarial_crowd()
    k, w = answers.n_classes, answers.n_workers
    history = np.zeros((w, k, k))  # (worker, true, answer) counts from a past project
    history[:4] = 100 * np.roll(np.eye(k), 1, axis=1)  # the permuters, seen permuting
    history[4:] = 100 * np.eye(k)
    for cls in ("onecoin", "wds"):
        blind = make_strategy(cls).fit(answers)
        est = make_strategy(cls, initial_error_strategy="addition")
        informed = est.fit(answers, initial_error=history)
        assert np.mean(informed.labels_ == truth) > np.mean(blind.labels_ == truth) + 0.5, cls
    one = make_strategy("onecoin", initial_error_strategy="assign", n_iter=0)
    assert np.allclose(one.fit(answers, initial_error=history).skills_, [0] * 4 + [1] * 3)


def test_frozenset_labels_as_crowdkit_takes_them() -> None:
    """crowd-kit takes any hashable label (its entropy_threshold test uses frozensets): the
    classes are the objects themselves, and labels_ gives them back."""
    import pandas as pd

    from crowdlearn.aggregate import DawidSkene, MajorityVote

    dog, cat, both = frozenset(["dog"]), frozenset(["cat"]), frozenset(["cat", "dog"])
    df = pd.DataFrame({"task": ["1"] * 3 + ["2"] * 3, "worker": list("ABCABC"),
                       "label": [dog, cat, cat, dog, dog, both]})
    labels = MajorityVote().fit_predict(df)
    assert labels.to_dict() == {"1": cat, "2": dog}
    probas = DawidSkene(n_iter=5).fit_predict_proba(df)
    assert set(probas.columns) == {dog, cat, both}
    mixed = df.assign(label=[dog, "cat", cat, dog, dog, both])
    with pytest.raises(DataError, match="frozenset"):
        MajorityVote().fit(mixed)
