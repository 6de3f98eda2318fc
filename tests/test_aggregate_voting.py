"""Majority vote, NaiveSoft, Wawa and Zero-Based Skill: crowd-kit parity and behaviour.

crowd-kit references
--------------------
crowd-kit 1.4.2's ``Wawa`` and ``ZeroBasedSkill`` crash in ``predict`` with scikit-learn >= 1.6
(``check_is_fitted`` needs ``__sklearn_tags__``), so ``fit_predict`` cannot be called. Their
``fit`` works and only learns the skills; their ``predict`` is, in crowd-kit's own source,
``MajorityVote().fit(data, skills=self.skills_)``. The references below therefore call crowd-kit's
``fit`` and then crowd-kit's ``MajorityVote`` with the learned skills: crowd-kit's own code, minus
the failing ``check_is_fitted``.

Ties: crowd-kit takes the first tied label in its column order (class order for a weighted vote,
order of first appearance in the data for an unweighted one); crowdlearn draws by default. The
comparisons either exclude tied tasks or use ``tie_break="first"`` on a frame whose rows are
sorted by label (so that both orders are class order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers
from crowdlearn.aggregate import make_strategy
from crowdlearn.aggregate.voting import (
    MajorityVote,
    NaiveSoft,
    Wawa,
    ZeroBasedSkill,
    tied_max_probas,
    vote_frequencies,
    vote_table,
    worker_agreement,
)
from crowdlearn.errors import DataError

ck = pytest.importorskip("crowdkit.aggregation")
# crowd-kit 1.4.2 uses pandas APIs that pandas 3 deprecates: not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::Warning:crowdkit")

CK_SETS = ["bluebird", "rte", "dog", "web"]


# ---------------------------------------------------------------------- helpers
def load(data_dir: Path, name: str) -> tuple[Answers, pd.DataFrame]:
    """The benchmark as Answers (with truth) and as crowd-kit's frame, rows sorted by label."""
    folder = data_dir / "truth-inference" / name
    frame = pd.read_csv(folder / "label.csv")
    truth = pd.read_csv(folder / "truth.csv")
    answers = Answers.from_frame(frame).with_truth_table(truth.item, truth.truth)
    ck_frame = frame.rename(columns={"item": "task"}).sort_values("label", kind="stable")
    return answers, ck_frame


def simulated(n_tasks: int = 600, n_workers: int = 25, k: int = 3, per_task: int = 5,
              seed: int = 0) -> Answers:
    """Workers of accuracy 0.35-0.95, errors uniform; a few tasks end up tied."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_tasks)
    workers = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task]
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = workers.reshape(-1)
    acc = np.linspace(0.95, 0.35, n_workers)[worker]
    wrong = (truth[task] + rng.integers(1, k, len(task))) % k
    label = np.where(rng.random(len(task)) < acc, truth[task], wrong)
    return Answers(task, worker, label, classes=np.arange(k), truth=truth)


def ck_frame_of(answers: Answers) -> pd.DataFrame:
    return answers.to_frame().sort_values("label", kind="stable")


def aligned(frame: pd.DataFrame, answers: Answers) -> np.ndarray:
    """crowd-kit probas in crowdlearn's task and class order (missing classes = 0)."""
    return frame.reindex(index=answers.task_ids, columns=answers.classes).fillna(0.0).to_numpy()


def tied(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores)
    return (np.isclose(scores, scores.max(axis=1, keepdims=True), rtol=1e-12, atol=0)).sum(1) > 1


# ---------------------------------------------------------------------- crowd-kit parity
@pytest.mark.parametrize("name", CK_SETS)
def test_majority_vote_matches_crowdkit(data_dir: Path, name: str) -> None:
    answers, frame = load(data_dir, name)
    ref = ck.MajorityVote().fit(frame)
    ref_probas = aligned(ref.probas_, answers)
    # crowd-kit's probas are the vote shares: crowdlearn's NaiveSoft, exactly
    assert np.abs(NaiveSoft().fit(answers).probas_ - ref_probas).max() < 1e-12
    # hard labels: identical on every task without a tie (ties are broken by a seeded draw)
    ties = tied(ref_probas)
    mv = MajorityVote().fit(answers)
    ref_labels = ref.labels_.reindex(answers.task_ids).to_numpy()
    assert np.array_equal(mv.labels_[~ties], ref_labels[~ties])
    # ... and everywhere with crowd-kit's rule (rows sorted by label -> class order)
    first = MajorityVote(tie_break="first").fit(answers)
    assert np.array_equal(first.labels_, ref_labels)
    # skills: agreement with the labels, as crowd-kit computes it
    ref_skills = ref.skills_.reindex(answers.worker_ids).to_numpy()
    assert np.allclose(first.skills_, ref_skills, atol=1e-12)


@pytest.mark.parametrize("name", CK_SETS)
def test_wawa_matches_crowdkit(data_dir: Path, name: str) -> None:
    answers, frame = load(data_dir, name)
    ref = ck.Wawa().fit(frame)  # learns the skills (crowd-kit's predict would crash)
    ref_mv = ck.MajorityVote().fit(frame, skills=ref.skills_)  # = crowd-kit's Wawa.predict
    ref_probas = aligned(ref_mv.probas_, answers)
    ref_skills = ref.skills_.reindex(answers.worker_ids).to_numpy()

    exact = Wawa(tie_break="first").fit(answers)
    assert np.allclose(exact.skills_, ref_skills, atol=1e-12)
    assert np.abs(exact.probas_ - ref_probas).max() < 1e-12
    assert np.array_equal(exact.labels_, ref_mv.labels_.reindex(answers.task_ids).to_numpy())

    # the default (random ties) gives the same result wherever no majority-vote tie is involved
    default = Wawa().fit(answers)
    ties = tied(vote_table(answers))
    if not ties.any():
        assert np.abs(default.probas_ - ref_probas).max() < 1e-12
    keep = ~tied(ref_probas)
    agree = np.mean(default.labels_[keep] == ref_probas.argmax(axis=1)[keep])
    assert agree >= (0.995 if ties.mean() < 0.1 else 0.9), agree


@pytest.mark.parametrize("name", ["bluebird", "rte"])
def test_zero_based_skill_matches_crowdkit(data_dir: Path, name: str) -> None:
    answers, frame = load(data_dir, name)
    n_iter = 25  # covers a learning-rate reduction (every 20 steps); crowd-kit is slow
    ref = ck.ZeroBasedSkill(n_iter=n_iter).fit(frame)
    ref_mv = ck.MajorityVote().fit(frame, skills=ref.skills_)  # = crowd-kit's ZBS.predict
    ours = ZeroBasedSkill(n_iter=n_iter, tie_break="first").fit(answers)
    ref_skills = ref.skills_.reindex(answers.worker_ids).to_numpy()
    assert np.allclose(ours.skills_, ref_skills, atol=1e-12)
    assert np.abs(ours.probas_ - aligned(ref_mv.probas_, answers)).max() < 1e-12
    assert ours.n_iter_ < n_iter  # stopped at the exact fixed point


def test_voters_match_crowdkit_on_a_simulated_crowd() -> None:
    answers = simulated(seed=3)
    frame = ck_frame_of(answers)
    ref_mv = ck.MajorityVote().fit(frame)
    assert np.array_equal(MajorityVote(tie_break="first").fit(answers).labels_,
                          ref_mv.labels_.reindex(answers.task_ids).to_numpy())
    ref_w = ck.Wawa().fit(frame)
    ref_wp = aligned(ck.MajorityVote().fit(frame, skills=ref_w.skills_).probas_, answers)
    assert np.abs(Wawa(tie_break="first").fit(answers).probas_ - ref_wp).max() < 1e-12
    ref_z = ck.ZeroBasedSkill(n_iter=30).fit(frame)
    ref_zp = aligned(ck.MajorityVote().fit(frame, skills=ref_z.skills_).probas_, answers)
    ours = ZeroBasedSkill(n_iter=30, tie_break="first").fit(answers)
    assert np.abs(ours.probas_ - ref_zp).max() < 1e-12


def test_weighted_majority_vote_matches_crowdkit() -> None:
    answers = simulated(seed=4)
    frame = ck_frame_of(answers)
    rng = np.random.default_rng(0)
    skills = pd.Series(rng.random(answers.n_workers), index=answers.worker_ids)
    ref = ck.MajorityVote().fit(frame, skills=skills)
    ours = MajorityVote(tie_break="first").fit(answers, skills)
    assert np.array_equal(ours.labels_, ref.labels_.reindex(answers.task_ids).to_numpy())
    # probas_ are crowd-kit's weighted vote shares; posterior="tied" the best classes
    assert np.allclose(ours.probas_, aligned(ref.probas_, answers))
    tied_mv = MajorityVote(tie_break="first", posterior="tied").fit(answers, skills)
    assert np.allclose(tied_mv.probas_, tied_max_probas(aligned(ref.probas_, answers)))
    assert np.array_equal(MajorityVote().fit_predict(answers, skills.to_numpy()), ours.labels_)


# ---------------------------------------------------------------------- behaviour
def test_majority_vote_ties_are_uniform_and_drawn_with_the_seed() -> None:
    task = np.repeat(np.arange(400), 2)
    worker = np.tile([0, 1], 400)
    label = np.tile([0, 1], 400)  # every task is a 1-1 tie
    answers = Answers(task, worker, label)
    mv = MajorityVote(random_state=1).fit(answers)
    assert np.allclose(mv.probas_, 0.5)
    assert np.allclose(MajorityVote(posterior="tied").fit(answers).probas_, 0.5)
    share = mv.labels_.mean()
    assert 0.4 < share < 0.6, share  # not always the first class (crowd-kit's rule)
    assert np.array_equal(MajorityVote(random_state=1).fit(answers).labels_, mv.labels_)
    assert not np.array_equal(MajorityVote(random_state=2).fit(answers).labels_, mv.labels_)
    assert np.all(MajorityVote(tie_break="first").fit(answers).labels_ == 0)


def test_majority_vote_on_a_small_example() -> None:
    answers = Answers.from_arrays(["a", "a", "a", "b", "b", "c"], ["x", "y", "z", "x", "y", "z"],
                                  ["cat", "cat", "dog", "dog", "cat", "dog"])
    mv = MajorityVote().fit(answers)
    assert np.allclose(mv.probas_, [[2 / 3, 1 / 3], [0.5, 0.5], [0, 1]])  # crowd-kit's shares
    tied = MajorityVote(posterior="tied").fit(answers)
    assert np.allclose(tied.probas_, [[1, 0], [0.5, 0.5], [0, 1]])
    assert np.array_equal(tied.labels_, mv.labels_)
    assert mv.labels_[0] == 0 and mv.labels_[2] == 1
    assert np.allclose(NaiveSoft().fit(answers).probas_, [[2 / 3, 1 / 3], [0.5, 0.5], [0, 1]])
    # x and y agree on "a"; on the tied "b" exactly one of them agrees; z: 1 of 2
    assert mv.skills_[0] + mv.skills_[1] == pytest.approx(1.5)
    assert mv.skills_[2] == pytest.approx(0.5)


def test_task_without_answers_gets_the_uniform_posterior() -> None:
    answers = Answers(np.array([0, 0, 2]), np.array([0, 1, 0]), np.array([1, 1, 0]),
                      task_ids=np.array([10, 11, 12]), classes=np.arange(3))
    for est in (MajorityVote(), NaiveSoft(), Wawa(), ZeroBasedSkill()):
        probas = est.fit(answers).probas_
        assert np.allclose(probas[1], 1 / 3), type(est).__name__
        assert np.allclose(probas.sum(axis=1), 1.0)


def test_missing_skills_policies() -> None:
    answers = simulated(n_tasks=30, n_workers=4, per_task=3)
    partial = pd.Series([1.0, 1.0, 1.0], index=answers.worker_ids[:3])
    with pytest.raises(DataError, match="no skill"):
        MajorityVote().fit(answers, partial)
    MajorityVote(on_missing_skill="value", default_skill=0.5).fit(answers, partial)
    ignored = MajorityVote(on_missing_skill="ignore").fit(answers, partial)
    only3 = answers.select_answers(answers.worker < 3)
    assert np.array_equal(ignored.probas_, MajorityVote().fit(only3).probas_)
    assert np.isnan(ignored.skills_[3])  # dropped, as crowd-kit drops the worker
    with pytest.raises(ValueError, match="no worker"):
        MajorityVote(on_missing_skill="ignore").fit(answers, pd.Series([], dtype=float))
    with pytest.raises(ValueError, match="default_skill"):
        MajorityVote(default_skill=0.5).fit(answers, partial)


def test_wawa_weights_votes_by_agreement() -> None:
    # worker 2 always disagrees with the two others: its vote must not break ties any more
    task = np.repeat(np.arange(4), 3)
    worker = np.tile([0, 1, 2], 4)
    label = np.array([0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0])
    answers = Answers(task, worker, label)
    wawa = Wawa().fit(answers)
    assert np.allclose(wawa.skills_, [1.0, 1.0, 0.0])
    assert np.allclose(wawa.probas_, np.eye(2)[[0, 1, 0, 1]])


def test_zero_based_skill_tol_zero_equals_running_every_iteration() -> None:
    answers = simulated(seed=5)
    stopped = ZeroBasedSkill(n_iter=60).fit(answers)
    full = ZeroBasedSkill(n_iter=60, tol=-1.0).fit(answers)  # never stops early
    assert stopped.n_iter_ < full.n_iter_ == 60
    assert np.array_equal(stopped.skills_, full.skills_)
    assert np.array_equal(stopped.probas_, full.probas_)


def test_skill_weighted_voters_beat_majority_vote_on_a_heterogeneous_crowd() -> None:
    answers = simulated(n_tasks=2000, n_workers=30, per_task=5, seed=6)
    acc = {}
    for est in (MajorityVote(), NaiveSoft(), Wawa(), ZeroBasedSkill()):
        acc[type(est).__name__] = np.mean(est.fit(answers).labels_ == answers.truth)
    assert acc["MajorityVote"] > 0.8
    assert acc["Wawa"] > acc["MajorityVote"] + 0.01, acc
    assert acc["ZeroBasedSkill"] > acc["MajorityVote"] + 0.01, acc
    # skills track the simulated accuracies (0.95 down to 0.35)
    zbs = ZeroBasedSkill().fit(answers)
    assert np.corrcoef(zbs.skills_, np.linspace(0.95, 0.35, 30))[0, 1] > 0.95


def test_dataframe_input_gives_crowdkit_shaped_results() -> None:
    answers = simulated(n_tasks=50, n_workers=6)
    frame = answers.to_frame()
    frame["task"] = "t" + frame["task"].astype(str)
    frame["worker"] = "w" + frame["worker"].astype(str)
    for est in (MajorityVote(), Wawa(), ZeroBasedSkill()):
        labels = est.fit_predict(frame)
        assert isinstance(labels, pd.Series) and labels.name == "agg_label"
        assert labels.index.name == "task" and labels.index[0].startswith("t")
        assert isinstance(est.probas_, pd.DataFrame)
        assert np.allclose(est.probas_.sum(axis=1), 1.0)
        assert isinstance(est.skills_, pd.Series)
        assert set(est.skills_.index) == set(frame["worker"])


def test_predict_applies_fitted_skills_to_new_answers() -> None:
    answers = simulated(seed=7)
    for est in (Wawa().fit(answers), ZeroBasedSkill().fit(answers)):
        assert np.allclose(est.predict_proba(answers), est.probas_)
        assert np.array_equal(est.predict(answers), est.labels_)
        half = answers.select_tasks(np.arange(0, answers.n_tasks, 2))
        expected = vote_frequencies(
            half, np.asarray(est.skills_)[np.searchsorted(answers.worker_ids, half.worker_ids)]
            [half.worker])
        assert np.allclose(est.predict_proba(half), expected)
    frame_est = Wawa().fit(answers.to_frame())
    out = frame_est.predict(answers.to_frame())
    assert isinstance(out, pd.Series) and out.index.name == "task"


def test_predict_matches_workers_by_id() -> None:
    """Fitted skills go to the workers of the same id; a worker unseen at fit time weighs 0."""
    fitted = Answers.from_arrays([0, 0, 0, 1, 1, 1], list("xyzxyz"), [1, 1, 0, 0, 0, 1])
    new = Answers.from_arrays([0, 0, 0], ["z", "y", "q"], [0, 1, 1])
    for est in (Wawa().fit(fitted), ZeroBasedSkill().fit(fitted)):
        skill = dict(zip(fitted.worker_ids, np.asarray(est.skills_), strict=True))
        weights = np.array([skill.get(w, 0.0) for w in new.worker_ids])[new.worker]
        assert np.allclose(est.predict_proba(new), vote_frequencies(new, weights))


def test_registry_names() -> None:
    assert isinstance(make_strategy("mv"), MajorityVote)
    assert isinstance(make_strategy("majority-vote"), MajorityVote)
    assert isinstance(make_strategy("naivesoft"), NaiveSoft)
    assert isinstance(make_strategy("wawa"), Wawa)
    assert isinstance(make_strategy("zero-based-skill[n_iter=5]"), ZeroBasedSkill)
    assert make_strategy("zbs", lr_init=0.5).lr_init == 0.5


def test_worker_agreement_and_vote_helpers() -> None:
    answers = simulated(n_tasks=40, n_workers=5, seed=8)
    labels = answers.truth
    frame = answers.to_frame(original=False)
    expected = (frame["label"] == labels[frame["task"]]).groupby(frame["worker"]).mean()
    assert np.allclose(worker_agreement(answers, labels), expected.to_numpy())
    table = vote_table(answers)
    assert np.array_equal(table, answers.vote_counts().toarray())
    zero = vote_frequencies(answers, np.zeros(answers.n_answers))  # all weights zero
    assert np.allclose(zero, vote_frequencies(answers))


@pytest.mark.parametrize("tie_break", ["random", "first"])
def test_majority_vote_fast_path_equals_the_generic_rule(tie_break: str) -> None:
    # integer class-major counting (the unweighted fast path) must give exactly what the
    # float rule gives: tied_max_probas, then hard_labels, then worker_agreement
    from crowdlearn.aggregate.voting import hard_labels

    rng = np.random.default_rng(3)
    n_tasks, k = 3000, 4
    task = np.repeat(np.arange(0, n_tasks, 1), rng.integers(0, 5, n_tasks))  # some tasks empty
    worker = rng.integers(0, 50, len(task))
    label = rng.integers(0, k, len(task))
    answers = Answers(task, worker, label, task_ids=np.arange(n_tasks + 2),
                      classes=np.arange(k), duplicates="all")
    mv = MajorityVote(tie_break=tie_break, random_state=7, posterior="tied").fit(answers)
    probas = tied_max_probas(vote_table(answers))
    labels = hard_labels(probas, tie_break, 7)
    assert np.array_equal(mv.probas_, probas)
    assert np.array_equal(mv.labels_, labels)
    hits = answers.label == labels[answers.task]
    n_w = np.bincount(answers.worker, minlength=answers.n_workers)
    expected = np.divide(np.bincount(answers.worker, weights=hits, minlength=answers.n_workers),
                         n_w, out=np.zeros(answers.n_workers), where=n_w > 0)
    assert np.allclose(mv.skills_, expected)
    wawa = Wawa(tie_break=tie_break, random_state=7).fit(answers)
    assert np.allclose(wawa.skills_, expected)
