"""The Dawid-Skene family: crowd-kit parity, EM behaviour, spectral initialisation, DSWC, WDS.

Comparing with crowd-kit
------------------------
crowd-kit's ``DawidSkene`` and ``OneCoinDawidSkene`` make the same updates from the same start,
but stop on an "evidence lower bound" that adds the log prior once per *answer* instead of once
per task. That quantity is not monotone under EM, so crowd-kit sometimes stops after 2-5
iterations (``bluebird``, ``cf``). Two comparisons are therefore made: with crowdlearn run for
exactly crowd-kit's number of iterations (same computation: posteriors equal to 1e-8), and with
each library's own stopping rule (labels, posteriors and accuracy close) on sets where crowd-kit
runs to convergence.
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers
from crowdlearn.aggregate import make_strategy
from crowdlearn.aggregate.dawid_skene import (
    WDS,
    DawidSkene,
    DawidSkeneClust,
    OneCoinDawidSkene,
    kmeans,
    spectral_confusions,
)
from crowdlearn.aggregate.voting import MajorityVote

ck = pytest.importorskip("crowdkit.aggregation")
pytestmark = pytest.mark.filterwarnings("ignore::Warning:crowdkit")


# ---------------------------------------------------------------------- helpers
def load(data_dir: Path, name: str) -> Answers:
    folder = data_dir / "truth-inference" / name
    frame = pd.read_csv(folder / "label.csv")
    truth = pd.read_csv(folder / "truth.csv")
    return Answers.from_frame(frame).with_truth_table(truth.item, truth.truth)


@cache
def crowdkit_fit(folder: str, model: str):
    """crowd-kit's fit on a benchmark (cached: crowd-kit takes seconds per set)."""
    frame = pd.read_csv(Path(folder) / "label.csv").rename(columns={"item": "task"})
    cls = {"ds": ck.DawidSkene, "onecoin": ck.OneCoinDawidSkene}[model]
    return cls(n_iter=100).fit(frame)


def aligned(frame: pd.DataFrame, answers: Answers) -> np.ndarray:
    return frame.reindex(index=answers.task_ids, columns=answers.classes).to_numpy()


def accuracy(labels: np.ndarray, answers: Answers) -> float:
    known = answers.truth_mask
    return float(np.mean(np.asarray(labels)[known] == answers.truth[known]))


def confusion_crowd(
    n_tasks: int, confusions: np.ndarray, per_task: int, seed: int, prior: np.ndarray | None = None
) -> Answers:
    """Tasks answered by ``per_task`` distinct random workers drawn from their confusions."""
    rng = np.random.default_rng(seed)
    n_workers, k = confusions.shape[:2]
    truth = rng.choice(k, n_tasks, p=prior)
    workers = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task]
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = workers.reshape(-1)
    cum = confusions.cumsum(axis=2)[worker, truth[task]]
    label = (rng.random(len(task))[:, None] > cum).sum(axis=1).clip(max=k - 1)
    return Answers(task, worker, label, classes=np.arange(k), truth=truth)


def one_coin(acc: np.ndarray, k: int) -> np.ndarray:
    conf = np.repeat(((1 - acc) / (k - 1))[:, None, None], k, 1).repeat(k, 2)
    conf[:, np.arange(k), np.arange(k)] = acc[:, None]
    return conf


def adversarial_confusions(n_workers: int = 30, k: int = 3, share: float = 0.45,
                           acc: float = 0.8) -> np.ndarray:
    """A share of workers answer the *next* class with probability ``acc`` (a consistent
    label permutation); the others are right with probability ``acc``; the rest uniform."""
    conf = np.full((n_workers, k, k), (1 - acc) / k)
    adversary = np.arange(n_workers) < int(share * n_workers)
    target = np.where(adversary[:, None], (np.arange(k) + 1) % k, np.arange(k))
    conf[np.arange(n_workers)[:, None], np.arange(k)[None], target] += acc
    return conf


def non_decreasing(history: list[float], slack: float = 1e-9) -> bool:
    return bool(np.all(np.diff(history) >= -slack))


# ---------------------------------------------------------------------- crowd-kit parity
@pytest.mark.parametrize("name", ["bluebird", "rte", "dog", "web"])
def test_dawid_skene_is_crowdkits_computation(data_dir: Path, name: str) -> None:
    answers = load(data_dir, name)
    ref = crowdkit_fit(str(data_dir / "truth-inference" / name), "ds")
    n_iter = len(ref.loss_history_)
    ours = DawidSkene(n_iter=n_iter, tol=0.0).fit(answers)
    assert ours.n_iter_ == n_iter
    assert np.abs(ours.probas_ - aligned(ref.probas_, answers)).max() < 1e-8
    priors = ref.priors_.reindex(answers.classes).to_numpy()
    assert np.allclose(ours.priors_, priors, atol=1e-8)
    # crowd-kit's errors_: rows (worker, observed label), columns true label
    errors = ref.errors_
    w = answers.worker_ids.searchsorted(errors.index.get_level_values("worker").to_numpy())
    lab = answers.classes.searchsorted(errors.index.get_level_values("label").to_numpy())
    ours_rows = ours.confusions_[w, :, lab]  # (rows, true)
    assert np.abs(ours_rows - errors[list(answers.classes)].to_numpy()).max() < 1e-8


@pytest.mark.parametrize("name", ["rte", "dog", "web"])
def test_dawid_skene_converges_to_crowdkits_answer(data_dir: Path, name: str) -> None:
    answers = load(data_dir, name)
    ref = crowdkit_fit(str(data_dir / "truth-inference" / name), "ds")
    ref_probas = aligned(ref.probas_, answers)
    ours = DawidSkene().fit(answers)
    top = np.sort(ref_probas, axis=1)
    clear = top[:, -1] - top[:, -2] > 1e-9  # exclude exact ties
    assert np.mean(ours.labels_[clear] == ref_probas.argmax(axis=1)[clear]) >= 0.995
    assert np.abs(ours.probas_ - ref_probas).mean() < 2e-3


@pytest.mark.parametrize("name", ["bluebird", "rte", "dog", "web"])
def test_dawid_skene_accuracy_within_a_point_of_crowdkit(data_dir: Path, name: str) -> None:
    answers = load(data_dir, name)
    ref = crowdkit_fit(str(data_dir / "truth-inference" / name), "ds")
    ref_acc = accuracy(aligned(ref.probas_, answers).argmax(axis=1), answers)
    assert abs(accuracy(DawidSkene().fit(answers).labels_, answers) - ref_acc) <= 0.01


@pytest.mark.parametrize("name", ["bluebird", "rte"])
def test_one_coin_is_crowdkits_computation(data_dir: Path, name: str) -> None:
    answers = load(data_dir, name)
    ref = crowdkit_fit(str(data_dir / "truth-inference" / name), "onecoin")
    n_iter = len(ref.loss_history_)
    ours = OneCoinDawidSkene(n_iter=n_iter, tol=0.0).fit(answers)
    assert np.abs(ours.probas_ - aligned(ref.probas_, answers)).max() < 1e-8
    assert np.allclose(ours.skills_, ref.skills_.reindex(answers.worker_ids).to_numpy(),
                       atol=1e-8)
    own = OneCoinDawidSkene().fit(answers)
    assert abs(accuracy(own.labels_, answers)
               - accuracy(aligned(ref.probas_, answers).argmax(axis=1), answers)) <= 0.01


def test_dawid_skene_matches_crowdkit_on_a_simulated_crowd_given_as_a_frame() -> None:
    rng = np.random.default_rng(1)
    conf = rng.dirichlet(np.ones(4) * 0.5, size=(12, 4)) + 3 * np.eye(4)
    conf /= conf.sum(axis=2, keepdims=True)
    answers = confusion_crowd(500, conf, 4, seed=1)
    frame = answers.to_frame()
    frame["task"] = "task-" + frame["task"].astype(str)
    frame["worker"] = "w" + frame["worker"].astype(str)
    ref = ck.DawidSkene(n_iter=100).fit(frame)
    ours = DawidSkene(n_iter=len(ref.loss_history_), tol=0.0).fit(frame)
    assert isinstance(ours.labels_, pd.Series) and ours.labels_.index.name == "task"
    assert isinstance(ours.probas_, pd.DataFrame)
    ref_probas = ref.probas_.reindex(index=ours.probas_.index, columns=ours.probas_.columns)
    assert np.abs(ours.probas_.to_numpy() - ref_probas.to_numpy()).max() < 1e-8
    assert (ours.labels_ == ref.labels_.reindex(ours.labels_.index)).all()
    # errors_ in crowd-kit's layout, on the (worker, label) rows crowd-kit has
    mine = ours.errors_.loc[ref.errors_.index, ref.errors_.columns]
    assert np.abs(mine.to_numpy() - ref.errors_.to_numpy()).max() < 1e-8
    assert isinstance(ours.priors_, pd.Series)


# ---------------------------------------------------------------------- EM behaviour
def test_dawid_skene_em_is_monotone_and_sets_its_attributes() -> None:
    rng = np.random.default_rng(2)
    conf = rng.dirichlet(np.ones(3), size=(20, 3)) + 2 * np.eye(3)
    conf /= conf.sum(axis=2, keepdims=True)
    answers = confusion_crowd(800, conf, 4, seed=2)
    ds = DawidSkene(tol=1e-10, n_iter=500).fit(answers)
    assert len(ds.loss_history_) == ds.n_iter_ > 3
    assert non_decreasing(ds.loss_history_)
    assert ds.log_likelihood_ == ds.loss_history_[-1] < 0
    assert ds.converged_
    assert ds.confusions_.shape == (20, 3, 3)
    assert np.allclose(ds.confusions_.sum(axis=2), 1.0)
    assert np.allclose(ds.priors_.sum(), 1.0)
    assert np.allclose(ds.probas_.sum(axis=1), 1.0)
    assert np.mean(ds.labels_ == answers.truth) > 0.9
    # the learned confusions are close to the simulated ones for busy workers
    assert np.abs(ds.confusions_ - conf).mean() < 0.08
    # n_iter caps the iterations
    assert DawidSkene(n_iter=2, tol=0.0).fit(answers).n_iter_ == 2


def test_dirichlet_smoothing() -> None:
    answers = confusion_crowd(300, one_coin(np.full(150, 0.75), 3), 3, seed=3)  # 6 per worker
    plain = DawidSkene().fit(answers)
    assert (plain.confusions_ == 0).any()  # labels a worker never gave: MLE probability 0
    smooth = DawidSkene(alpha=1.0, tol=1e-9, n_iter=300).fit(answers)
    assert (smooth.confusions_ > 0).all()
    assert np.allclose(smooth.confusions_.sum(axis=2), 1.0)
    assert non_decreasing(smooth.loss_history_)  # the MAP objective increases too
    flat = DawidSkene(alpha=1e6).fit(answers)
    assert np.allclose(flat.confusions_, 1 / 3, atol=1e-3)
    with pytest.raises(ValueError, match="alpha"):
        DawidSkene(alpha=-1).fit(answers)


def test_dawid_skene_learns_permuted_workers() -> None:
    answers = confusion_crowd(2000, adversarial_confusions(share=0.45), 8, seed=4)
    mv = MajorityVote().fit(answers)
    ds = DawidSkene().fit(answers)
    assert np.mean(mv.labels_ == answers.truth) < 0.7
    assert np.mean(ds.labels_ == answers.truth) > 0.98


def test_tasks_with_many_answers_do_not_underflow() -> None:
    # 2000 answers on one task: every class's log-likelihood is far below exp's range
    n = 2000
    task = np.r_[np.zeros(n, int), np.arange(1, 201).repeat(3)]
    worker = np.r_[np.arange(n), np.tile([0, 1, 2], 200)]
    rng = np.random.default_rng(5)
    label = np.r_[rng.integers(0, 3, n), rng.integers(0, 3, 600)]
    ds = DawidSkene().fit(Answers(task, worker, label))
    assert np.all(np.isfinite(ds.probas_)) and np.allclose(ds.probas_.sum(axis=1), 1.0)
    assert np.isfinite(ds.log_likelihood_)


def test_dawid_skene_is_fast_on_a_large_crowd() -> None:
    # 300,000 answers: a vectorised fit takes well under a second; per-answer Python would not
    n_tasks, n_workers, k = 60_000, 600, 4
    rng = np.random.default_rng(6)
    truth = rng.integers(0, k, n_tasks)
    task = np.repeat(np.arange(n_tasks), 5)
    worker = ((rng.integers(0, n_workers, n_tasks)[:, None] + np.arange(5) * 100)
              % n_workers).reshape(-1)
    acc = rng.uniform(0.5, 0.9, n_workers)[worker]
    label = np.where(rng.random(len(task)) < acc, truth[task], rng.integers(0, k, len(task)))
    answers = Answers(task, worker, label)
    ds = DawidSkene().fit(answers)
    assert np.mean(ds.labels_ == truth) > 0.95


# ---------------------------------------------------------------------- spectral initialisation
@pytest.mark.parametrize("seed", [0, 1])
def test_spectral_estimate_recovers_adversarial_confusions(seed: int) -> None:
    conf = adversarial_confusions(share=0.45)
    answers = confusion_crowd(3000, conf, 8, seed=seed)
    est, prior = spectral_confusions(answers, random_state=seed)
    assert est.shape == conf.shape and np.allclose(est.sum(axis=2), 1.0)
    assert np.abs(est - conf).mean() < 0.06  # the method of moments alone, before any EM
    assert np.allclose(prior, 1 / 3, atol=0.05)
    # the posterior under the spectral estimate is already accurate ...
    first = DawidSkene(init="spectral", n_iter=0).fit(answers)
    assert first.init_ == "spectral"
    assert np.mean(first.labels_ == answers.truth) > 0.97
    # ... and EM from it converges to the right solution; majority vote is far off
    ds = DawidSkene(init="spectral").fit(answers)
    assert np.mean(ds.labels_ == answers.truth) > 0.98
    assert np.mean(MajorityVote().fit(answers).labels_ == answers.truth) < 0.7


def test_spectral_estimate_on_a_one_coin_crowd_with_five_classes() -> None:
    acc = np.linspace(0.9, 0.4, 24)
    answers = confusion_crowd(4000, one_coin(acc, 5), 6, seed=7)
    est, _ = spectral_confusions(answers)
    assert np.corrcoef(np.diagonal(est, axis1=1, axis2=2).mean(axis=1), acc)[0, 1] > 0.95


def test_spectral_init_falls_back_to_majority_vote_with_a_warning() -> None:
    answers = Answers(np.repeat(np.arange(50), 2), np.tile([0, 1], 50),
                      np.random.default_rng(8).integers(0, 3, 100))
    with pytest.warns(RuntimeWarning, match="fewer than three workers"):
        ds = DawidSkene(init="spectral").fit(answers)
    assert ds.init_ == "mv"
    assert np.allclose(ds.probas_, DawidSkene().fit(answers).probas_)
    # a class that one group never uses makes a moment matrix singular
    one_class = Answers(np.repeat(np.arange(60), 3), np.tile([0, 1, 2], 60),
                        np.where(np.tile([0, 1, 2], 60) == 0, 0, np.arange(180) % 2))
    with pytest.warns(RuntimeWarning, match="spectral initialisation unavailable"):
        assert DawidSkene(init="spectral").fit(one_class).init_ == "mv"
    with pytest.raises(ValueError, match="init"):
        DawidSkene(init="random").fit(answers)


def test_spectral_init_on_real_data(data_dir: Path) -> None:
    answers = load(data_dir, "rte")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ds = DawidSkene(init="spectral").fit(answers)
    assert ds.init_ == "spectral"
    assert abs(accuracy(ds.labels_, answers) - accuracy(DawidSkene().fit(answers).labels_,
                                                        answers)) <= 0.01


# ---------------------------------------------------------------------- one-coin DS
def test_one_coin_recovers_worker_accuracies() -> None:
    acc = np.linspace(0.95, 0.45, 20)
    answers = confusion_crowd(3000, one_coin(acc, 4), 5, seed=9)
    oc = OneCoinDawidSkene().fit(answers)
    assert np.abs(oc.skills_ - acc).max() < 0.06
    assert np.allclose(oc.confusions_, one_coin(oc.skills_, 4))
    assert np.allclose(oc.confusions_.sum(axis=2), 1.0)
    assert non_decreasing(oc.loss_history_)
    assert np.mean(oc.labels_ == answers.truth) > 0.93


# ---------------------------------------------------------------------- WDS
def test_wds_weights_each_vote_by_the_confusion_diagonal() -> None:
    rng = np.random.default_rng(10)
    conf = rng.dirichlet(np.ones(3), size=(10, 3)) + 2 * np.eye(3)
    conf /= conf.sum(axis=2, keepdims=True)
    answers = confusion_crowd(300, conf, 3, seed=10)
    wds = WDS().fit(answers)
    ds = DawidSkene().fit(answers)
    assert np.allclose(wds.confusions_, ds.confusions_)
    # peerannot's loop, as a table computation: weight = pi[worker][vote, vote]
    frame = answers.to_frame(original=False)
    frame["w"] = ds.confusions_[frame.worker, frame.label, frame.label]
    table = frame.pivot_table(index="task", columns="label", values="w", aggfunc="sum",
                              fill_value=0.0).reindex(columns=range(3), fill_value=0.0)
    expected = table.to_numpy() / table.to_numpy().sum(axis=1, keepdims=True)
    assert np.allclose(wds.probas_, expected)
    assert wds.n_iter_ == ds.n_iter_


# ---------------------------------------------------------------------- DSWC
def two_type_crowd(seed: int = 11) -> tuple[Answers, np.ndarray]:
    good = one_coin(np.full(24, 0.85), 3)
    flip = adversarial_confusions(24, share=1.0, acc=0.8)
    kind = np.r_[np.zeros(16, int), np.ones(8, int)][np.random.default_rng(seed).permutation(24)]
    conf = np.where(kind[:, None, None] == 0, good, flip)
    return confusion_crowd(1500, conf, 6, seed=seed, prior=[0.5, 0.3, 0.2]), kind


@pytest.mark.parametrize("cluster_init", ["kmeans", "nuclear"])
def test_dswc_finds_the_worker_types(cluster_init: str) -> None:
    answers, kind = two_type_crowd()
    m = DawidSkeneClust(n_clusters=2, cluster_init=cluster_init).fit(answers)
    assert np.mean(m.labels_ == answers.truth) > 0.97
    # the clusters are the two worker types (up to naming)
    same = np.mean(m.clusters_ == kind)
    assert same in (0.0, 1.0)
    assert m.cluster_confusions_.shape == (2, 3, 3)
    assert np.allclose(m.confusions_, m.cluster_confusions_[m.clusters_])
    assert np.allclose(m.cluster_probas_.sum(axis=1), 1.0)
    assert non_decreasing(m.loss_history_)  # the ELBO never decreases
    assert m.n_restarts_ == 0


def test_dswc_solution_is_a_fixed_point_of_the_peerannot_updates() -> None:
    """At convergence the mean-field updates of peerannot's DawidSkeneClust (written with its
    dense tasks x workers x classes tensor on a small crowd) leave the solution unchanged."""
    answers, _ = two_type_crowd(seed=12)
    answers = answers.select_tasks(np.arange(300))
    m = DawidSkeneClust(n_clusters=2, tol=1e-13, n_iter=5000).fit(answers)
    x = np.zeros((answers.n_tasks, answers.n_workers, 3))
    x[answers.task, answers.worker, answers.label] = 1
    theta, phi, lam = m.probas_, m.cluster_probas_, m.cluster_confusions_
    rho, tau, log_lam = m.priors_, phi.mean(axis=0), np.log(lam + 1e-10)

    def normalize(a: np.ndarray) -> np.ndarray:
        a = np.exp(a - a.max(axis=1, keepdims=True))
        return a / a.sum(axis=1, keepdims=True)

    theta_new = normalize(np.einsum("ijm,jl,lkm->ik", x, phi, log_lam) + np.log(rho))
    phi_new = normalize(np.einsum("ijm,ik,lkm->jl", x, theta, log_lam) + np.log(tau))
    lam_new = np.einsum("ik,jl,ijm->lkm", theta, phi, x)
    lam_new /= lam_new.sum(axis=2, keepdims=True)
    assert np.abs(theta_new - theta).max() < 1e-4
    assert np.abs(phi_new - phi).max() < 1e-4
    assert np.abs(lam_new - lam).max() < 1e-4
    assert np.allclose(rho, theta.mean(axis=0), atol=1e-6)


def test_dswc_caps_the_number_of_clusters() -> None:
    answers = Answers(np.arange(20), np.zeros(20, int), np.arange(20) % 2)
    m = DawidSkeneClust(n_clusters=3).fit(answers)
    assert m.cluster_confusions_.shape[0] == 1
    with pytest.raises(ValueError, match="cluster_init"):
        DawidSkeneClust(cluster_init="random").fit(answers)


def test_kmeans_separates_blobs_reproducibly() -> None:
    rng = np.random.default_rng(13)
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 6.0]])
    truth = np.repeat(np.arange(3), 50)
    points = centres[truth] + rng.normal(scale=0.5, size=(150, 2))
    labels, found = kmeans(points, 3, random_state=0)
    # one-to-one correspondence between found clusters and blobs
    pairs = set(zip(labels.tolist(), truth.tolist(), strict=True))
    assert len(pairs) == 3
    assert np.abs(np.sort(found, axis=0) - np.sort(centres, axis=0)).max() < 0.3
    again, _ = kmeans(points, 3, random_state=0)
    assert np.array_equal(labels, again)
    assert len(np.unique(kmeans(points[:2], 5)[0])) == 2  # more clusters than points


# ---------------------------------------------------------------------- registry
def test_registry_names() -> None:
    assert isinstance(make_strategy("ds"), DawidSkene)
    assert isinstance(make_strategy("dawid-skene[init=spectral]"), DawidSkene)
    assert make_strategy("ds[alpha=0.5]").alpha == 0.5
    assert isinstance(make_strategy("onecoin"), OneCoinDawidSkene)
    assert isinstance(make_strategy("one-coin-ds"), OneCoinDawidSkene)
    assert isinstance(make_strategy("dswc[n_clusters=3]"), DawidSkeneClust)
    assert isinstance(make_strategy("wds"), WDS)


def test_dswc_restarts_after_a_collapsed_fit() -> None:
    from crowdlearn.aggregate._em import EMResult

    answers, _ = two_type_crowd(seed=14)
    starts: list[np.ndarray] = []

    class Collapsing(DawidSkeneClust):
        def _run(self, design, start, n_clusters, active, rng):  # type: ignore[override]
            starts.append(start)
            res = super()._run(design, start, n_clusters, active, rng)
            if len(starts) <= self.collapses:  # pretend the fit fell onto class 0
                one = np.zeros_like(res.probas)
                one[:, 0] = 1.0
                return EMResult(one, res.params, res.n_iter, -1e9 - len(starts), True, [])
            return res

    m = Collapsing(max_restarts=3)
    m.collapses = 1
    m.fit(answers)
    assert m.n_restarts_ == 1 and len(starts) == 2
    assert not np.allclose(starts[0], starts[1])  # the restart starts from jittered shares
    assert np.allclose(starts[1].sum(axis=1), 1.0)
    assert np.mean(m.labels_ == answers.truth) > 0.97
    # every attempt collapses: the one with the best objective is kept
    starts.clear()
    m.collapses = 10
    m.fit(answers)
    assert len(starts) == 4 and m.n_restarts_ == 3
    assert m.log_likelihood_ == -1e9 - 1
