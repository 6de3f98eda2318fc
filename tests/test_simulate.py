"""Tests of crowdlearn.simulate: annotator models, assignment designs, answer statistics."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdlearn import Answers
from crowdlearn.errors import CrowdlearnError
from crowdlearn.simulate import (
    MODELS,
    SimulatedCrowd,
    SimulationError,
    assign_workers,
    confusion_matrices,
    empirical_confusions,
    model_parameters,
    parse_workers,
    power_law_activity,
    simulate,
)


def _row_stochastic(c: np.ndarray) -> bool:
    return bool((c >= 0).all() and np.allclose(c.sum(axis=2), 1.0, atol=1e-12))


# ---------------------------------------------------------------------- annotator models
@settings(max_examples=40, deadline=None)
@given(model=st.sampled_from(MODELS), n=st.integers(1, 12), k=st.integers(2, 9),
       seed=st.integers(0, 2**32 - 1))
def test_every_model_is_row_stochastic(model: str, n: int, k: int, seed: int) -> None:
    c = confusion_matrices(model, n, k, rng=seed)
    assert c.shape == (n, k, k)
    assert _row_stochastic(c)


def test_perfect_and_spammer() -> None:
    np.testing.assert_array_equal(confusion_matrices("perfect", 3, 4), np.stack([np.eye(4)] * 3))
    np.testing.assert_allclose(confusion_matrices("spammer", 2, 5), np.full((2, 5, 5), 0.2))


def test_hammer_spammer_share_and_accuracy() -> None:
    c = confusion_matrices("hammer-spammer", 10, 3, rng=1, hammer_share=0.3)
    diag = c.diagonal(axis1=1, axis2=2)
    hammers = np.all(diag == 1.0, axis=1)
    assert hammers.sum() == 3
    np.testing.assert_allclose(c[~hammers], 1 / 3)
    c = confusion_matrices("hammer-spammer", 4, 3, rng=1, hammer_share=1.0, hammer_accuracy=0.8)
    np.testing.assert_allclose(c.diagonal(axis1=1, axis2=2), 0.8)
    np.testing.assert_allclose(c[:, 0, 1], 0.1)


def test_symmetric_accuracy_and_flip() -> None:
    c = confusion_matrices("symmetric", 2, 4, accuracy=0.7)
    np.testing.assert_allclose(c.diagonal(axis1=1, axis2=2), 0.7)
    np.testing.assert_allclose(c[:, 0, 1:], 0.1)
    np.testing.assert_allclose(confusion_matrices("symmetric", 2, 4, flip=0.3), c)
    with pytest.raises(SimulationError, match="not both"):
        confusion_matrices("symmetric", 2, 4, accuracy=0.7, flip=0.3)


def test_one_coin_skills() -> None:
    c = confusion_matrices("one-coin", 50, 3, rng=0, min_skill=0.6, max_skill=0.8)
    d = c.diagonal(axis1=1, axis2=2)
    assert np.all((d >= 0.6) & (d <= 0.8))
    assert np.allclose(d, d[:, :1])  # one coin: the same skill for every class
    assert len(np.unique(d[:, 0])) == 50  # different skill per worker
    c = confusion_matrices("one-coin", 3, 3, skill=[0.5, 0.9, 1.0])
    np.testing.assert_allclose(c[:, 1, 1], [0.5, 0.9, 1.0])
    np.testing.assert_allclose(c[0, 1], [0.25, 0.5, 0.25])
    with pytest.raises(SimulationError, match="skill"):
        confusion_matrices("one-coin", 3, 3, skill=[0.5, 0.9])


def test_diagonal_is_diagonally_dominant() -> None:
    c = confusion_matrices("diagonal", 200, 6, rng=3, strength=1.0)
    d = c.diagonal(axis1=1, axis2=2)
    off = np.where(np.eye(6, dtype=bool), -np.inf, c).max(axis=2)
    assert np.all(d > off)
    weak = confusion_matrices("diagonal", 200, 6, rng=3, strength=1.0).diagonal(0, 1, 2).mean()
    strong = confusion_matrices("diagonal", 200, 6, rng=3, strength=10.0).diagonal(0, 1, 2).mean()
    assert strong > weak
    with pytest.raises(SimulationError, match="strength"):
        confusion_matrices("diagonal", 2, 3, strength=0.5)


def test_adversarial_is_a_derangement() -> None:
    c = confusion_matrices("adversarial", 100, 5, rng=4)
    assert np.all(c.diagonal(axis1=1, axis2=2) == 0)
    assert set(np.unique(c)) == {0.0, 1.0}  # deterministic answers
    np.testing.assert_allclose(c.sum(axis=1), 1.0)  # a permutation: every answer used once
    # different workers get different permutations
    assert len({tuple(m.argmax(axis=1)) for m in c}) > 20
    noisy = confusion_matrices("adversarial", 10, 5, rng=4, noise=0.2)
    assert np.all(noisy.diagonal(axis1=1, axis2=2) == 0)
    np.testing.assert_allclose(noisy.max(axis=2), 0.8 + 0.2 / 4)
    two = confusion_matrices("adversarial", 3, 2, rng=0)
    np.testing.assert_array_equal(two, np.stack([[[0, 1], [1, 0]]] * 3))


def test_separable_uniform_has_one_near_identity_annotator() -> None:
    gamma, k = 0.01, 10
    c = confusion_matrices("separable-uniform", 5, k, rng=5, gamma=gamma)
    d = c.diagonal(axis1=1, axis2=2)
    good = np.flatnonzero(d.min(axis=1) > 0.5)
    assert len(good) == 1
    g = c[good[0]]
    assert np.all(np.diag(g) >= 1 / (1 + gamma * k))  # I + gamma*U, normalised
    assert np.all(g[~np.eye(k, dtype=bool)] <= gamma)
    others = np.delete(c, good[0], axis=0)
    # J/K + 1e-4 I, normalised: diagonal (1/K + 1e-4) / (1 + 1e-4), the rest (1/K) / (1 + 1e-4)
    np.testing.assert_allclose(others[:, 0, 0], (1 / k + 1e-4) / (1 + 1e-4))
    np.testing.assert_allclose(others[:, 0, 1], (1 / k) / (1 + 1e-4))
    # the good annotator gets noisier with gamma; which worker it is varies with the seed
    noisy = confusion_matrices("separable-uniform", 5, k, rng=5, gamma=1.0)
    assert noisy.diagonal(axis1=1, axis2=2).max() < d.max()
    picks = {int(np.argmax(confusion_matrices("separable-uniform", 5, 3, rng=s)[:, 0, 0]))
             for s in range(30)}
    assert len(picks) > 2


def test_model_errors() -> None:
    with pytest.raises(SimulationError, match="unknown annotator model 'nope'"):
        confusion_matrices("nope", 2, 3)
    with pytest.raises(SimulationError, match="no parameter 'acuracy'"):
        confusion_matrices("symmetric", 2, 3, acuracy=0.5)
    with pytest.raises(SimulationError, match="n_classes"):
        confusion_matrices("perfect", 2, 1)
    with pytest.raises(SimulationError, match="n_workers"):
        confusion_matrices("perfect", 0, 3)
    with pytest.raises(SimulationError, match="accuracy"):
        confusion_matrices("symmetric", 2, 3, accuracy=1.5)
    with pytest.raises(SimulationError, match="hammer_share"):
        confusion_matrices("hammer-spammer", 2, 3, hammer_share=-0.1)
    assert issubclass(SimulationError, CrowdlearnError) and issubclass(SimulationError, ValueError)
    assert model_parameters("separable-uniform") == ("gamma", "epsilon")


# ---------------------------------------------------------------------- answers
def test_empirical_confusions_converge_to_the_true_ones() -> None:
    workers = [("diagonal", 3, {"strength": 1.5}), ("one-coin", 2), ("adversarial", 1,
                                                                      {"noise": 0.3})]
    errors = []
    for n in (300, 3000, 30000):
        crowd = simulate(n, 3, workers=workers, answers_per_task=6, seed=11)
        emp = empirical_confusions(crowd.answers)
        errors.append(np.nanmax(np.abs(emp - crowd.confusions)))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.02  # ~10,000 answers per (worker, class) row: sd < 0.005


def test_empirical_confusions_counts_and_errors() -> None:
    a = Answers(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([1, 1, 0]),
                truth=np.array([1, -1]))
    counts = empirical_confusions(a, normalize=False)
    assert counts.sum() == 2  # the task of unknown truth is ignored
    assert counts[0, 1, 1] == 1 and counts[1, 1, 1] == 1
    assert np.isnan(empirical_confusions(a)[0, 0]).all()
    with pytest.raises(SimulationError, match="truth"):
        empirical_confusions(a.with_truth(None))


def test_result_object() -> None:
    crowd = simulate(500, 4, workers="perfect:2,spammer:1,adversarial:2", answers_per_task=5,
                     seed=2, name="toy")
    assert isinstance(crowd, SimulatedCrowd)
    a = crowd.answers
    assert a.name == "toy" and (a.n_tasks, a.n_workers, a.n_classes) == (500, 5, 4)
    np.testing.assert_array_equal(a.truth, crowd.true_labels)
    assert list(crowd.worker_models) == ["perfect"] * 2 + ["spammer"] + ["adversarial"] * 2
    assert crowd.model_counts() == {"perfect": 2, "spammer": 1, "adversarial": 2}
    # perfect workers always right, adversarial never
    right = a.label == a.truth[a.task]
    assert right[a.worker < 2].all() and not right[a.worker >= 3].any()
    np.testing.assert_allclose(crowd.accuracies, [1, 1, 0.25, 0, 0])
    assert crowd.params["seed"] == 2 and crowd.params["workers"][0] == {
        "model": "perfect", "count": 2, "params": {}}
    assert crowd.summary()["majority_vote_accuracy"] > 0.5


def test_priors_and_given_true_labels() -> None:
    crowd = simulate(40000, 3, 4, priors=[0.6, 0.3, 0.1], seed=0)
    freq = np.bincount(crowd.true_labels, minlength=3) / 40000
    np.testing.assert_allclose(freq, [0.6, 0.3, 0.1], atol=0.01)
    labels = np.array([2, 0, 1, 1, 2, 0, 0])
    crowd = simulate(true_labels=labels, n_workers=3, model="perfect", seed=0)
    np.testing.assert_array_equal(crowd.true_labels, labels)
    assert crowd.answers.n_classes == 3 and crowd.params["true_labels"] == "given"
    np.testing.assert_array_equal(crowd.answers.majority_labels(), labels)


def test_explicit_confusions() -> None:
    conf = np.array([[[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])
    crowd = simulate(100, confusions=conf, answers_per_task=2, seed=0)
    a = crowd.answers
    assert list(crowd.worker_models) == ["custom", "custom"]
    np.testing.assert_array_equal(a.label[a.worker == 0], 1 - a.truth[a.task[a.worker == 0]])
    with pytest.raises(SimulationError, match="row-stochastic"):
        simulate(10, confusions=conf * 0.5)
    with pytest.raises(SimulationError, match="inconsistent number of classes"):
        simulate(10, 3, confusions=conf)


def test_zero_probability_answers_never_drawn() -> None:
    conf = np.array([[[0.5, 0.0, 0.5], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    crowd = simulate(5000, confusions=conf, answers_per_task=1, seed=3)
    emp = empirical_confusions(crowd.answers, normalize=False)[0]
    assert emp[0, 1] == 0 and emp[1, 0] == 0 and emp[1, 2] == 0 and emp[0, 0] > 0


# ---------------------------------------------------------------------- assignment
@pytest.mark.parametrize(("n_workers", "r", "activity"), [
    (50, 5, "uniform"), (50, 5, "power-law"), (8, 6, "uniform"), (8, 6, "power-law"),
    (8, 8, "uniform"),
])
def test_fixed_answers_per_task(n_workers: int, r: int, activity: str) -> None:
    crowd = simulate(2000, 3, n_workers, answers_per_task=r, activity=activity, seed=1)
    a = crowd.answers
    assert np.all(a.answers_per_task() == r)
    assert not a.has_duplicate_pairs()
    key = a.task.astype(np.int64) * n_workers + a.worker
    assert np.all(np.diff(key) > 0)  # canonical (task, worker) order
    assert Answers(a.task, a.worker, a.label) == a.with_truth(None)


def test_uniform_fixed_assignment_is_balanced() -> None:
    task, worker, weights = assign_workers(20000, 40, rng=0, answers_per_task=4)
    counts = np.bincount(worker, minlength=40)
    expected = 20000 * 4 / 40  # 2000, sd ~ 43
    assert np.abs(counts - expected).max() < 250
    np.testing.assert_allclose(weights, 1 / 40)


def _inclusion_probabilities(w: np.ndarray, r: int) -> np.ndarray:
    """Exact inclusion probabilities of successive sampling (enumeration)."""
    out = np.zeros(len(w))
    for seq in itertools.permutations(range(len(w)), r):
        prob, left = 1.0, 1.0
        for i in seq:
            prob *= w[i] / left
            left -= w[i]
        out[list(seq)] += prob
    return out


@pytest.mark.parametrize(("w", "r"), [
    ([0.5, 0.2, 0.15, 0.1, 0.05], 2),  # column-wise draws with redraws
    ([0.5, 0.2, 0.15, 0.1, 0.05], 3),  # 3 of 5: Gumbel top-k over dense keys
    ([0.94, 0.01, 0.02, 0.03], 2),  # most rows end in the masked-weights fallback
])
def test_weighted_fixed_assignment_is_successive_sampling(w: list[float], r: int) -> None:
    w_arr = np.array(w)
    n = 60000
    _, worker, _ = assign_workers(n, len(w), rng=7, answers_per_task=r, activity=w_arr)
    freq = np.bincount(worker, minlength=len(w)) / n
    np.testing.assert_allclose(freq, _inclusion_probabilities(w_arr, r), atol=0.01)


def test_bernoulli_assignment() -> None:
    crowd = simulate(20000, 3, 50, p=0.1, seed=4)
    per_task = crowd.answers.answers_per_task()
    assert abs(per_task.mean() - 5.0) < 0.1  # sd of the mean ~ 0.015
    assert abs(per_task.var() - 50 * 0.1 * 0.9) < 0.3
    per_worker = crowd.answers.answers_per_worker()
    assert np.abs(per_worker - 2000).max() < 250  # binomial sd ~ 42
    a = crowd.answers
    assert np.all(np.diff(a.task.astype(np.int64) * 50 + a.worker) > 0)  # sorted, no repeat
    full = simulate(30, 3, 4, p=1.0, seed=4)
    assert full.answers.n_answers == 120


def test_bernoulli_assignment_with_activity() -> None:
    w = np.array([0.4, 0.3, 0.2, 0.1])
    task, worker, weights = assign_workers(40000, 4, rng=2, p=0.5, activity=w)
    probs = np.minimum(1.0, 0.5 * 4 * w)  # 1, 1, 0.8, 0.4
    freq = np.bincount(worker, minlength=4) / 40000
    np.testing.assert_allclose(freq, probs, atol=0.01)
    np.testing.assert_allclose(weights, w)
    assert np.all(np.diff(task.astype(np.int64) * 4 + worker) > 0)


def test_explicit_activity_weights() -> None:
    w = np.array([0.7, 0.1, 0.1, 0.1])
    crowd = simulate(20000, 3, 4, answers_per_task=1, activity=w, seed=0)
    np.testing.assert_allclose(crowd.answers.answers_per_worker() / 20000, w, atol=0.01)
    assert crowd.params["activity"] == "custom" and crowd.params["exponent"] is None
    with pytest.raises(SimulationError, match="activity weights"):
        simulate(10, 3, 4, activity=np.array([1.0, -1.0, 1.0, 1.0]), seed=0)


def test_power_law_activity_is_skewed() -> None:
    w = power_law_activity(200, 1.0, rng=0)
    assert np.isclose(w.sum(), 1.0) and w.max() / w.min() == pytest.approx(200)
    assert np.argmax(w) != 0 or np.argmax(power_law_activity(200, 1.0, rng=1)) != 0
    for design in ({"answers_per_task": 5}, {"p": 0.025}):
        skewed = simulate(5000, 3, 200, activity="power-law", seed=3, **design)
        flat = simulate(5000, 3, 200, seed=3, **design)
        top = np.sort(skewed.answers.answers_per_worker())[::-1]
        share = top[:20].sum() / top.sum()
        flat_top = np.sort(flat.answers.answers_per_worker())[::-1]
        assert share > 0.45, design  # Zipf(1) over 200 workers: ~61 % of the weight
        assert flat_top[:20].sum() / flat_top.sum() < 0.15
    steeper = simulate(5000, 3, 200, activity="power-law", exponent=2.0, answers_per_task=5,
                       seed=3)
    top2 = np.sort(steeper.answers.answers_per_worker())[::-1]
    assert top2[:20].sum() / top2.sum() > share


# ---------------------------------------------------------------------- determinism
def test_same_seed_same_crowd_other_seed_other_crowd() -> None:
    kw = dict(workers=[("one-coin", 5), ("diagonal", 5)], answers_per_task=3,
              activity="power-law")
    a, b = simulate(300, 4, seed=9, **kw), simulate(300, 4, seed=9, **kw)
    assert a.answers == b.answers
    np.testing.assert_array_equal(a.confusions, b.confusions)
    np.testing.assert_array_equal(a.activity, b.activity)
    c = simulate(300, 4, seed=10, **kw)
    assert a.answers != c.answers
    assert not np.array_equal(a.confusions, c.confusions)
    g1 = simulate(300, 4, seed=np.random.default_rng(5), **kw)
    g2 = simulate(300, 4, seed=np.random.default_rng(5), **kw)
    assert g1.answers == g2.answers and g1.params["seed"] is None


# ---------------------------------------------------------------------- parameters
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_tasks": 10, "n_classes": 3, "n_workers": 5, "answers_per_task": 6}, "exceeds"),
    ({"n_tasks": 10, "n_classes": 3, "n_workers": 5, "answers_per_task": 2, "p": 0.5},
     "exactly one"),
    ({"n_tasks": 10, "n_classes": 3, "n_workers": 5, "p": 0.0}, "p must be in"),
    ({"n_tasks": 10, "n_classes": 3, "n_workers": 5, "p": 1.5}, "p must be in"),
    ({"n_tasks": 0, "n_classes": 3, "n_workers": 5}, "n_tasks must be at least 1"),
    ({"n_tasks": 10, "n_classes": 3}, "n_workers"),
    ({"n_classes": 3, "n_workers": 3}, "n_tasks"),
    ({"n_tasks": 10, "n_classes": 3, "n_workers": 5, "priors": [0.5, 0.6, 0.1]}, "priors"),
    ({"n_tasks": 10, "n_classes": 2, "n_workers": 5, "priors": [0.5, 0.3, 0.2]},
     "inconsistent"),
    ({"n_tasks": 10, "n_classes": 3, "n_workers": 5, "activity": "zipf"}, "unknown activity"),
    ({"n_tasks": 10, "n_classes": 3, "n_workers": 5, "activity": "power-law",
      "exponent": -1}, "exponent"),
    ({"n_tasks": 10, "n_classes": 3, "model": "perfect", "workers": [("spammer", 2)]},
     "only one"),
    ({"n_tasks": 10, "n_classes": 3, "n_workers": 4, "workers": [("spammer", 2)]},
     "hold 2 workers"),
    ({"n_tasks": 10, "n_classes": 3, "workers": [("spammer", 0)]}, "at least 1"),
    ({"n_tasks": 10, "n_classes": 3, "workers": [("spamer", 2)]}, "unknown annotator model"),
    ({"n_tasks": 10, "n_classes": 3, "n_workers": 2, "model": "symmetric",
      "model_params": {"accuracy": 2}}, "accuracy"),
    ({"n_classes": 2, "n_workers": 2, "true_labels": [0, 2]}, "outside the 2 classes"),
    ({"n_tasks": 3, "n_workers": 2, "true_labels": [0, 1]}, "2 true labels"),
    ({"n_tasks": 10, "n_classes": 3, "n_workers": 2, "model_params": {"accuracy": 0.5}},
     "model_params needs model"),
])
def test_bad_parameters_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        simulate(seed=0, **kwargs)


def test_parse_workers() -> None:
    assert parse_workers("perfect:2, symmetric:5:accuracy=0.8:flip-x=a") == [
        ("perfect", 2, {}), ("symmetric", 5, {"accuracy": 0.8, "flip_x": "a"})]
    for bad in ("perfect", "perfect:two", "nope:2", "", "symmetric:2:accuracy"):
        with pytest.raises(SimulationError):
            parse_workers(bad)


# ---------------------------------------------------------------------- size
def test_million_answers_are_fast() -> None:
    """The aggregation benchmark's crowd: 200,000 tasks x 5 answers, 2,000 workers, 5 classes."""
    start = time.perf_counter()
    crowd = simulate(200_000, 5, 2000, answers_per_task=5, seed=0)
    elapsed = time.perf_counter() - start
    assert crowd.answers.n_answers == 1_000_000
    assert crowd.answers.task.dtype == np.int32
    assert elapsed < 5.0, f"1M answers took {elapsed:.2f} s"
