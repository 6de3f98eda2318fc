"""The default strategy (``pooled-ds``): DS with confusions partially pooled across the crowd."""

from __future__ import annotations

import numpy as np
import pytest

from crowdlearn.aggregate import PooledDawidSkene, get_strategy_class, make_strategy
from crowdlearn.answers import Answers
from crowdlearn.simulate import simulate


def _accuracy(model, answers: Answers) -> float:
    return float(np.mean(np.asarray(model.labels_) == answers.truth))


def _fit(name: str, answers: Answers):
    return make_strategy(name).fit(answers.with_truth(None))


def test_default_name_is_the_pooled_model() -> None:
    assert get_strategy_class("default") is PooledDawidSkene
    assert PooledDawidSkene.name == "pooled-ds"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beats_majority_vote_on_a_heterogeneous_crowd(seed: int) -> None:
    # a few good workers among many mediocre ones: weighting workers must pay
    crowd = simulate(1500, 3, workers=[("one-coin", 6, {"min_skill": 0.85, "max_skill": 0.95}),
                                       ("one-coin", 24, {"min_skill": 0.35, "max_skill": 0.55})],
                     answers_per_task=5, seed=seed).answers
    mv, pooled = _fit("mv", crowd), _fit("default", crowd)
    assert _accuracy(pooled, crowd) >= _accuracy(mv, crowd) + 0.03


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_never_far_below_majority_vote_on_hammer_spammer(seed: int) -> None:
    crowd = simulate(1000, 2, 30, model="hammer-spammer",
                     model_params={"hammer_share": 0.3, "hammer_accuracy": 0.9},
                     answers_per_task=5, seed=seed).answers
    mv, pooled = _fit("mv", crowd), _fit("default", crowd)
    assert _accuracy(pooled, crowd) >= _accuracy(mv, crowd) - 0.01


def _sparse_crowd(seed: int) -> Answers:
    """600 tasks, 3 classes, 5 answers each from 400 workers (most give a handful of answers),
    one-coin accuracies 0.45-0.9: maximum-likelihood confusions of such workers overfit."""
    return simulate(600, 3, 400, model="one-coin", model_params={"min_skill": 0.45,
                                                                 "max_skill": 0.9},
                    answers_per_task=5, seed=seed).answers


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_workers_do_not_fool_it_as_they_fool_dawid_skene(seed: int) -> None:
    crowd = _sparse_crowd(seed)
    mv, ds, pooled = (_fit(n, crowd) for n in ("mv", "ds", "default"))
    acc_mv, acc_ds, acc_pooled = (_accuracy(m, crowd) for m in (mv, ds, pooled))
    assert acc_pooled >= acc_mv - 0.01
    assert acc_pooled >= acc_ds + 0.01


def test_a_worker_with_one_answer_gets_nearly_the_pooled_confusion() -> None:
    crowd = _sparse_crowd(0)
    model = _fit("default", crowd)
    n = crowd.answers_per_worker()
    lone = int(np.flatnonzero(n == n.min())[0])
    busy = int(np.argmax(n))
    gap = np.abs(model.confusions_ - model.pooled_confusion_[None]).sum(axis=(1, 2))
    assert gap[lone] < gap[busy]
    np.testing.assert_allclose(model.confusions_.sum(axis=2), 1.0)
    np.testing.assert_allclose(model.pooled_confusion_.sum(axis=1), 1.0)


def test_strength_moves_between_dawid_skene_and_complete_pooling() -> None:
    crowd = _sparse_crowd(1).with_truth(None)
    weak = PooledDawidSkene(strength=1e-6).fit(crowd)
    ds = make_strategy("ds").fit(crowd)
    assert np.mean(weak.labels_ == ds.labels_) > 0.97
    strong = PooledDawidSkene(strength=1e6).fit(crowd)
    spread = np.abs(strong.confusions_ - strong.pooled_confusion_[None]).max()
    assert spread < 1e-3
    assert strong.strength_ == 1e6 and PooledDawidSkene().fit(crowd).strength_ == 3


def test_deterministic_with_seed() -> None:
    crowd = _sparse_crowd(0).with_truth(None)
    a = PooledDawidSkene(random_state=3).fit(crowd)
    b = PooledDawidSkene(random_state=3).fit(crowd)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.probas_, b.probas_)


def test_rejects_non_positive_strength() -> None:
    with pytest.raises(ValueError, match="strength"):
        PooledDawidSkene(strength=0).fit(_sparse_crowd(0))
