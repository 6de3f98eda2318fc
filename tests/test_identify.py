"""crowdlearn.identify: peerannot's formulas on tiny data, flags on simulated crowds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from crowdlearn.answers import Answers
from crowdlearn.identify import ALL_METRICS, identify, tasks, workers
from crowdlearn.identify.dataset import dataset_metrics, fleiss_kappa
from crowdlearn.simulate import simulate


def _brute_spam(a: np.ndarray) -> float:
    """peerannot's loop: sum over ordered class pairs of squared row differences, / 2."""
    k = a.shape[0]
    total = sum(((a[i] - a[j]) ** 2).sum() for i in range(k) for j in range(k))
    return total / 2 / (k * (k - 1))


def test_spam_score_and_trace_match_peerannot_formulas() -> None:
    rng = np.random.default_rng(0)
    c = rng.dirichlet(np.ones(4), size=(7, 4))
    assert np.allclose(workers.spam_score(c), [_brute_spam(m) for m in c])
    assert np.allclose(workers.trace(c), [np.trace(m) for m in c])
    eye, flat = np.eye(3), np.full((3, 3), 1 / 3)
    assert workers.spam_score(np.stack([eye, flat])) == pytest.approx([1.0, 0.0])
    p = 0.7  # one-coin worker: (p - (1-p)/(K-1))^2
    one = np.full((3, 3), (1 - p) / 2) + np.eye(3) * (p - (1 - p) / 2)
    assert workers.spam_score(one[None])[0] == pytest.approx((p - 0.15) ** 2)


def test_adversarial_flags_and_best_permutation() -> None:
    swap = np.eye(3)[[1, 0, 2]]  # classes 0 and 1 swapped
    perms, best = workers.best_permutation(swap[None])
    assert perms[0].tolist() == [1, 0, 2] and best[0] == pytest.approx(3.0)
    flat = np.full((3, 3), 1 / 3)
    weak = 0.9 * flat + 0.1 * swap  # a permutation wins, by too little
    flags = workers.adversarial_flags(np.stack([swap, np.eye(3), flat, weak]))
    assert flags.tolist() == [True, False, False, False]


def _tiny() -> Answers:
    # task 0: a a b ; task 1: b b ; task 2: a (one answer)
    return Answers.from_arrays(
        [0, 0, 0, 1, 1, 2], ["u", "v", "w", "u", "v", "w"], ["a", "a", "b", "b", "b", "a"],
        truth=None,
    )


def test_worker_agreements_by_hand() -> None:
    a = _tiny()
    # u: task0 'a' (1 of 2 peers agree), task1 'b' (1 of 1): 2/3; v the same;
    # w: task0 'b' (0 of 2), task2 alone (no peers): 0/2
    assert workers.peer_agreement(a) == pytest.approx([2 / 3, 2 / 3, 0.0])
    labels = np.array([0, 1, 0])  # a, b, a
    assert workers.agreement(a, labels) == pytest.approx([1.0, 1.0, 0.5])
    assert workers.n_answers(a).tolist() == [2, 2, 2]
    t = a.with_truth(np.array([1, 1, -1]))  # truth: b, b, unknown
    assert workers.accuracy(t) == pytest.approx([0.5, 0.5, 1.0])
    assert np.isnan(workers.accuracy(a)).all()


def test_task_metrics_by_hand() -> None:
    a = _tiny()
    h = -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))
    assert tasks.vote_entropy(a) == pytest.approx([h, 0.0, 0.0])
    p = np.array([[0.6, 0.4], [0.1, 0.9], [0.5, 0.5]])
    assert tasks.margin(p) == pytest.approx([0.2, 0.8, 0.0])
    assert tasks.posterior_entropy(p)[2] == pytest.approx(np.log(2))
    assert tasks.confidence(p, np.array([0, 1, 1])) == pytest.approx([0.6, 0.9, 0.5])


def test_fleiss_kappa_textbook_and_crowdkit_adapters() -> None:
    # Fleiss (1971)-style check: 3 raters, 4 tasks, counts per class
    counts = np.array([[3, 0], [0, 3], [2, 1], [1, 2]])
    task = np.repeat(np.arange(4), 3)
    label = np.concatenate([np.repeat([0, 1], c) for c in counts])
    a = Answers.from_arrays(task, np.tile([0, 1, 2], 4), label)
    p_i = np.array([1, 1, 1 / 3, 1 / 3]).mean()
    p_e = 0.5 ** 2 * 2
    assert fleiss_kappa(a) == pytest.approx((p_i - p_e) / (1 - p_e))
    from crowdlearn import crowdkit_metrics as ck

    d = dataset_metrics(a)
    assert d["krippendorff-alpha"] == pytest.approx(ck.alpha_krippendorff(a.to_frame()))
    assert set(d) == {"fleiss-kappa", "krippendorff-alpha", "consistency", "uncertainty"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flags_catch_simulated_spammers_and_adversaries(seed: int) -> None:
    crowd = simulate(600, 3, workers=[("one-coin", 8, {"skill": 0.75}), ("spammer", 3),
                                      ("adversarial", 2)], answers_per_task=5, seed=seed)
    d = identify(crowd.answers, "ds", ["spammer", "adversarial", "spam-score"])
    assert np.flatnonzero(d.workers["spammer"]).tolist() == [8, 9, 10]
    assert np.flatnonzero(d.workers["adversarial"]).tolist() == [11, 12]


def test_identify_every_metric_and_model_reuse() -> None:
    crowd = simulate(200, 2, workers=[("one-coin", 5, {"skill": 0.8})], answers_per_task=3,
                     seed=3)
    d = identify(crowd.answers, "glad", "all", random_state=0)
    assert set(ALL_METRICS) - {"fleiss-kappa", "krippendorff-alpha", "consistency",
                               "uncertainty", "aum", "waum"} <= set(d.workers.columns) | \
        set(d.tasks.columns)
    assert not {"aum", "waum"} & set(d.tasks.columns)  # "all" without items: label-only
    assert np.allclose(d.workers["glad-ability"], d.aggregator.result_arrays()["skills"])
    assert len(d.workers) == 5 and len(d.tasks) == 200
    default = identify(crowd.answers, d.aggregator)  # a fitted aggregator: its own metrics
    assert "glad-ability" in default.workers and "mace-competence" not in default.workers
    mv = identify(crowd.answers, "mv", ["trace"])  # no confusions: Dawid-Skene's
    ds = identify(crowd.answers, "ds", ["trace"])
    assert np.allclose(mv.workers["trace"], ds.workers["trace"])


def test_unknown_metric_is_a_user_error() -> None:
    from crowdlearn.errors import CrowdlearnError

    with pytest.raises(CrowdlearnError, match="unknown metric 'bogus'"):
        identify(_tiny(), "mv", ["bogus"])


def test_permutation_brute_force_agrees() -> None:
    rng = np.random.default_rng(5)
    c = rng.dirichlet(np.ones(4), size=(6, 4))
    _, best = workers.best_permutation(c)
    brute = [max(sum(m[k, p[k]] for k in range(4)) for p in itertools.permutations(range(4)))
             for m in c]
    assert best == pytest.approx(brute)


def test_permutation_enumeration_and_hungarian_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(6)
    c = rng.dirichlet(np.ones(5), size=(9, 5))
    perms, best = workers.best_permutation(c)
    monkeypatch.setattr(workers, "ENUMERATED_CLASSES", 2)
    perms2, best2 = workers.best_permutation(c)
    assert best == pytest.approx(best2) and (perms == perms2).all()


def test_dataset_metrics_equal_crowdkit() -> None:
    ck = pytest.importorskip("crowdkit.metrics.data")
    # two classes, five answers a task: no tied majority votes (crowd-kit 1.4.2 breaks ties
    # otherwise than crowdlearn's MajorityVote(tie_break="first"), which consistency uses)
    crowd = simulate(150, 2, workers=[("one-coin", 5, {"skill": 0.7}), ("spammer", 1)],
                     answers_per_task=5, seed=4)
    frame = crowd.answers.to_frame(original=False)
    d = dataset_metrics(crowd.answers)
    assert d["krippendorff-alpha"] == pytest.approx(ck.alpha_krippendorff(frame))
    assert d["consistency"] == pytest.approx(ck.consistency(frame))
    assert d["uncertainty"] == pytest.approx(ck.uncertainty(frame))
