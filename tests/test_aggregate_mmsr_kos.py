"""M-MSR and KOS: crowd-kit parity where the algorithms agree, the fixed defects (dense memory,
sign graph, unnormalised messages), adversaries, accuracy on real data."""

from __future__ import annotations

import doctest
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers
from crowdlearn.aggregate import kos as kos_module
from crowdlearn.aggregate import make_strategy
from crowdlearn.aggregate import mmsr as mmsr_module
from crowdlearn.aggregate.kos import KOS
from crowdlearn.aggregate.mmsr import MMSR
from crowdlearn.errors import CrowdlearnError


def _load(data_dir: Path, name: str) -> Answers:
    folder = data_dir / "truth-inference" / name
    truth = pd.read_csv(folder / "truth.csv")
    answers = Answers.from_frame(pd.read_csv(folder / "label.csv"), duplicates="all")
    return answers.with_truth_table(truth["item"].to_numpy(), truth["truth"].to_numpy())


def _accuracy(answers: Answers, labels: np.ndarray) -> float:
    known = answers.truth_mask
    return float(np.mean(np.asarray(labels)[known] == answers.truth[known]))


def _one_coin_crowd(accuracy: np.ndarray, n_tasks: int, per_task: int, k: int, seed: int
                    ) -> Answers:
    """Each task answered by ``per_task`` distinct random workers of the one-coin model."""
    rng = np.random.default_rng(seed)
    n_workers = len(accuracy)
    truth = rng.integers(0, k, n_tasks)
    first = rng.integers(0, n_workers, n_tasks)
    offsets = np.empty((n_tasks, per_task), dtype=np.int64)
    offsets[:, 0] = 0
    for col in range(1, per_task):  # distinct offsets: draw, then skip the ones taken
        draw = rng.integers(1, n_workers - col + 1, n_tasks)
        for prev in np.sort(offsets[:, 1:col], axis=1).T:
            draw += draw >= prev
        offsets[:, col] = draw
    worker = ((first[:, None] + offsets) % n_workers).reshape(-1)
    task = np.repeat(np.arange(n_tasks), per_task)
    right = rng.random(len(task)) < accuracy[worker]
    label = np.where(right, truth[task], (truth[task] + rng.integers(1, k, len(task))) % k)
    return Answers(task, worker, label, classes=np.arange(k), truth=truth)


def _sorted_worker_frame(answers: Answers) -> pd.DataFrame:
    """Frame whose workers first appear in sorted order (crowd-kit orders them that way)."""
    frame = answers.to_frame(original=False)
    return frame.sort_values(["worker", "task"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("module", [mmsr_module, kos_module])
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------------- M-MSR
@pytest.mark.filterwarnings("ignore")  # crowd-kit's pandas deprecation warnings
@pytest.mark.parametrize(("name", "same_signs"), [("bluebird", 38), ("dog", 81)])
def test_mmsr_magnitudes_match_crowdkit(data_dir: Path, name: str, same_signs: int) -> None:
    # same statistics, trimming, random start and stopping: identical iterations; the skills
    # agree wherever the sign rules agree (crowd-kit's sign graph counts unobserved pairs as
    # negative evidence, see the class docstring)
    ck = pytest.importorskip("crowdkit.aggregation")
    frame = _sorted_worker_frame(_load(data_dir, name))
    theirs = ck.MMSR()
    their_labels = theirs.fit_predict(frame)
    ours = MMSR().fit(Answers.from_frame(frame, duplicates="all"))
    assert len(theirs.loss_history_) == ours.n_iter_
    assert np.allclose(theirs.loss_history_, ours.loss_history_, rtol=1e-6, atol=1e-12)
    their_skills = theirs.skills_.reindex(ours.answers_.worker_ids).to_numpy()
    agree = np.sign(their_skills) == np.sign(ours.skills_)
    assert agree.sum() >= same_signs
    assert np.allclose(their_skills[agree], ours.skills_[agree], rtol=1e-9, atol=1e-9)
    labels = their_labels.reindex(ours.answers_.task_ids).to_numpy()
    assert np.mean(labels == ours.answers_.classes[ours.labels_]) >= 0.98


@pytest.mark.parametrize(("name", "minimum"), [
    ("rte", 0.92), ("cf", 0.88), ("ms", 0.78), ("dog", 0.82), ("sentiment", 0.93),
])
def test_mmsr_accuracy_on_real_data(data_dir: Path, name: str, minimum: float) -> None:
    # crowd-kit 1.4.2: rte .858, cf .773, ms .470 (sign graph and vote-normalisation defects)
    answers = _load(data_dir, name)
    assert _accuracy(answers, MMSR().fit(answers).labels_) >= minimum


def test_mmsr_flags_adversaries_and_beats_majority_vote() -> None:
    accuracy = np.array([0.85] * 8 + [0.1] * 4)  # four workers answer wrong on purpose
    answers = _one_coin_crowd(accuracy, n_tasks=1500, per_task=5, k=2, seed=3)
    est = MMSR().fit(answers)
    assert np.all(est.skills_[8:] < 0) and np.all(est.skills_[:8] > 0)
    assert np.all(est.accuracies_[8:] < 0.5) and np.all(est.accuracies_[:8] > 0.5)
    probas = est.probas_
    assert np.allclose(probas.sum(axis=1), 1.0)
    assert np.array_equal(np.argmax(est.scores_, axis=1), est.labels_)
    ours = _accuracy(answers, est.labels_)
    assert ours > 0.95 and ours > _accuracy(answers, answers.majority_labels()) + 0.1


def test_mmsr_runs_on_100k_tasks_in_little_memory() -> None:
    # crowd-kit fills a dense workers x tasks matrix: 2,000 x 100,000 float64 = 1.6 GB
    accuracy = np.random.default_rng(0).uniform(0.4, 0.95, 2000)
    answers = _one_coin_crowd(accuracy, n_tasks=100_000, per_task=3, k=3, seed=0)
    tracemalloc.start()
    try:
        est = MMSR().fit(answers)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 400e6, f"peak {peak / 1e6:.0f} MB"
    assert _accuracy(answers, est.labels_) > _accuracy(answers, answers.majority_labels())
    assert np.corrcoef(est.accuracies_, accuracy)[0, 1] > 0.5


@pytest.mark.filterwarnings("ignore")
def test_mmsr_survives_a_zero_estimate() -> None:
    # worker 2 agrees with each co-worker on exactly half of the tasks: its covariations and
    # hence its estimate are 0; crowd-kit then divides by zero and ends with NaN skills
    truth = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    task, worker = np.repeat(np.arange(8), 3), np.tile([0, 1, 2], 8)
    label = truth[task].copy()
    flip = (worker == 2) & (task >= 4)
    label[flip] = 1 - label[flip]
    est = MMSR().fit(Answers(task, worker, label))
    assert np.all(np.isfinite(est.skills_)) and est.skills_[2] == 0.0
    assert est.skills_[0] > 0 and np.array_equal(est.labels_, truth)
    ck = pytest.importorskip("crowdkit.aggregation")
    theirs = ck.MMSR(n_iter=50).fit(pd.DataFrame({"task": task, "worker": worker,
                                                  "label": label}))
    assert np.isnan(theirs.skills_.to_numpy()).any()


def test_mmsr_worker_without_co_workers_gets_zero_weight() -> None:
    task = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4])
    worker = np.array([0, 1, 0, 1, 0, 1, 0, 1, 2])
    label = np.array([0, 0, 1, 1, 0, 0, 1, 0, 1])
    est = MMSR().fit(Answers(task, worker, label))
    assert est.skills_[2] == 0.0
    assert np.allclose(est.probas_[4], 0.5)
    assert isinstance(make_strategy("m-msr"), MMSR)


# ------------------------------------------------------------------------------------ KOS
@pytest.mark.parametrize("n_iter", [1, 2, 10])
def test_kos_global_normalisation_gives_crowdkits_labels(data_dir: Path, n_iter: int) -> None:
    # the recursion is linear, so rescaling never changes the labels: same start (N(1, 1)
    # drawn in answer order), same labels as crowd-kit's unnormalised messages
    ck = pytest.importorskip("crowdkit.aggregation")
    answers = _load(data_dir, "rte")
    frame = answers.to_frame()
    theirs = ck.KOS(n_iter=n_iter).fit_predict(frame).reindex(answers.task_ids).to_numpy()
    ours = KOS(n_iter=n_iter, normalize="global").fit(frame).labels_.to_numpy()
    assert np.array_equal(theirs, ours)


@pytest.mark.parametrize("n_iter", [1, 5])
def test_kos_degree_normalisation_is_kos_on_a_regular_graph(data_dir: Path, n_iter: int) -> None:
    # bluebird: every worker labels every task, so dividing by degrees is a constant
    ck = pytest.importorskip("crowdkit.aggregation")
    answers = _load(data_dir, "bluebird")
    frame = answers.to_frame()
    theirs = ck.KOS(n_iter=n_iter).fit_predict(frame).reindex(answers.task_ids).to_numpy()
    assert np.array_equal(theirs, KOS(n_iter=n_iter).fit(frame).labels_.to_numpy())


def test_kos_accuracy_does_not_collapse_with_iterations(data_dir: Path) -> None:
    answers = _load(data_dir, "rte")
    accuracy = {n: _accuracy(answers, KOS(n_iter=n).fit(answers).labels_) for n in (1, 10, 100)}
    assert min(accuracy.values()) > 0.9, accuracy
    # the raw recursion (crowd-kit's, up to scale) collapses to chance on the same data
    raw = _accuracy(answers, KOS(n_iter=10, normalize="global").fit(answers).labels_)
    assert raw < 0.6
    est = KOS(n_iter=100).fit(answers)
    assert np.all(np.isfinite(est.scores_)) and np.all((est.probas_ >= 0) & (est.probas_ <= 1))


@pytest.mark.parametrize(("name", "minimum"), [
    ("rte", 0.9), ("sentiment", 0.93), ("product", 0.9), ("sp", 0.88),
])
def test_kos_accuracy_on_real_data(data_dir: Path, name: str, minimum: float) -> None:
    answers = _load(data_dir, name)
    assert _accuracy(answers, KOS().fit(answers).labels_) >= minimum


def test_kos_skills_rank_workers_and_probas_follow_scores() -> None:
    accuracy = np.array([0.95, 0.9, 0.85, 0.8, 0.5, 0.5, 0.2])
    answers = _one_coin_crowd(accuracy, n_tasks=800, per_task=4, k=2, seed=1)
    est = KOS().fit(answers)
    assert est.skills_[0] > est.skills_[4] > est.skills_[6]
    assert est.skills_[6] < 0
    assert np.array_equal(est.probas_[:, 0] > 0.5, est.scores_ > 0)
    assert _accuracy(answers, est.labels_) > _accuracy(answers, answers.majority_labels())


def test_kos_rejects_more_than_two_classes_and_bad_normalisation() -> None:
    answers = Answers(np.arange(6), np.zeros(6, int), np.arange(6) % 3)
    with pytest.raises(CrowdlearnError, match="two classes"):
        KOS().fit(answers)
    two = Answers(np.arange(6), np.zeros(6, int), np.arange(6) % 2)
    with pytest.raises(CrowdlearnError, match="normalize"):
        KOS(normalize="none").fit(two)


def test_mmsr_warns_when_it_stops_at_the_iteration_cap() -> None:
    import warnings

    from crowdlearn.errors import ConvergenceWarning

    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 200)
    task = np.repeat(np.arange(200), 5)
    worker = np.concatenate([rng.choice(12, 5, replace=False) for _ in range(200)])
    label = np.where(rng.random(1000) < 0.8, truth[task], 1 - truth[task])
    answers = Answers(task, worker, label)
    with pytest.warns(ConvergenceWarning, match="iteration cap n_iter=2"):
        est = MMSR(n_iter=2).fit(answers)
    assert est.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert MMSR().fit(answers).n_iter_ < 10000


@pytest.mark.parametrize(("seed", "per_task", "k"), [(0, 3, 2), (1, 5, 3), (2, 4, 5)])
def test_mmsr_fast_trimmed_means_equal_the_reference(monkeypatch: pytest.MonkeyPatch, seed: int,
                                                      per_task: int, k: int) -> None:
    """The re-sort of only the rows whose order moved (issue 11) gives the same skills and
    probas as the full per-iteration sort it replaced (kept in ``_mmsr_reference``)."""
    from _mmsr_reference import ReferenceTrimmedMeans

    rng = np.random.default_rng(seed)
    accuracy = np.concatenate([rng.uniform(0.5, 0.95, 40), rng.uniform(0.0, 0.3, 5)])
    answers = _one_coin_crowd(accuracy, 1500, per_task, k, seed)
    fast = MMSR(random_state=seed).fit(answers)
    monkeypatch.setattr(mmsr_module, "_TrimmedMeans", ReferenceTrimmedMeans)
    ref = MMSR(random_state=seed).fit(answers)
    assert fast.n_iter_ == ref.n_iter_ and fast.n_iter_ > 5
    np.testing.assert_allclose(fast.skills_, ref.skills_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.accuracies_, ref.accuracies_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.probas_, ref.probas_, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(fast.labels_, ref.labels_)


@pytest.mark.parametrize("seed", range(6))
def test_mmsr_half_step_equals_the_reference_on_random_rows(seed: int) -> None:
    """One half-step after another on random rows (zero divisors, ties, empty rows and the
    F = -1 / F = 0 rules included) equals the reference half-step."""
    from _mmsr_reference import ReferenceTrimmedMeans

    rng = np.random.default_rng(seed)
    n = 30
    counts = rng.integers(0, 12, n)
    rows = np.repeat(np.arange(n), counts)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    cols = rng.integers(0, n, len(rows))
    x = np.round(rng.random(len(rows)), 1)  # ties
    for f_trim in (-1, 0, 1, 3):
        fast = mmsr_module._TrimmedMeans(rows, indptr, cols, x, f_trim, 0.01)
        ref = ReferenceTrimmedMeans(rows, indptr, cols, x, f_trim, 0.01)
        own = rng.random(n)
        for step in range(6):
            divisor = rng.random(n) + 0.05
            if step == 3:
                divisor[rng.integers(0, n, 3)] = 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                got, want = fast(own, divisor), ref(own, divisor)
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
            own = got
