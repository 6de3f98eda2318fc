"""Behaviour of the end-to-end training loop, the crowd heads and CrowdClassifier."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny models: threads only add contention on a shared 2-core machine

from crowdlearn.answers import Answers  # noqa: E402
from crowdlearn.deep import CrowdClassifier, CrowdData, make_head  # noqa: E402
from crowdlearn.deep.heads import available_heads  # noqa: E402
from crowdlearn.errors import CrowdlearnError, NotFittedError  # noqa: E402
from crowdlearn.metrics import confusion_estimation_error  # noqa: E402
from crowdlearn.simulate import simulate  # noqa: E402

K = 5


def _blobs(n: int, seed: int = 0, spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """K Gaussian clusters in 5-d, well separated."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * np.eye(K, 5)
    y = rng.integers(0, K, n)
    x = centres[y] + spread * rng.normal(size=(n, 5))
    return x.astype(np.float32), y


#: three adversaries, each a different derangement of the classes, that agree on some classes:
#: all three answer 1 for class 0, two of them agree on classes 1-3, none on class 4
ADVERSARIES = [[1, 2, 3, 4, 0], [1, 2, 4, 0, 3], [1, 3, 4, 0, 2]]


def _crowd(y: np.ndarray, seed: int = 0):
    """2 good annotators (90% right) and 3 adversaries (90% of the time their derangement):
    the adversaries outvote or tie the good annotators on most classes, so majority voting
    fails, but they disagree with one another, so their confusions can be learnt."""
    eye = np.eye(K)
    good = 0.9 * eye + 0.1 * (1 - eye) / (K - 1)
    conf = [good, good]
    for perm in ADVERSARIES:
        p = eye[perm]
        conf.append(0.9 * p + 0.1 * (1 - p) / (K - 1))
    return simulate(true_labels=y, n_classes=K, answers_per_task=5, confusions=np.array(conf),
                    seed=seed)


@pytest.fixture(scope="module")
def problem():
    x, y = _blobs(600)
    xt, yt = _blobs(400, seed=1)
    return x, _crowd(y), xt, yt


def _fit(strategy: str, problem, **kw) -> CrowdClassifier:
    x, crowd, xt, yt = problem
    params = dict(backbone_params={"hidden": (32,), "dropout": 0.0}, n_epochs=60,
                  batch_size=64, lr=1e-2, seed=0, device="cpu")
    params.update(kw)
    return CrowdClassifier("mlp", strategy, **params).fit(x, crowd.answers, X_test=xt,
                                                          y_test=yt)


def test_every_strategy_is_registered() -> None:
    names = available_heads()
    for name in ("two-stage", "crowdlayer", "conal", "ccem", "geocrowdnet-f", "geocrowdnet-w",
                 "tracereg", "raykar"):
        assert name in names


@pytest.mark.parametrize("strategy", ["ccem", "geocrowdnet-w", "tracereg", "crowdlayer",
                                      "raykar"])
def test_training_loss_decreases(problem, strategy) -> None:
    clf = _fit(strategy, problem, n_epochs=20)
    loss = clf.history_["train_loss"]
    assert len(loss) == 20 and loss[-1] < loss[0] - 0.15
    assert np.mean(loss[-5:]) < np.mean(loss[5:10]) < np.mean(loss[:5])


@pytest.mark.parametrize("strategy", ["geocrowdnet-f", "conal"])
def test_end_to_end_beats_majority_vote_training(problem, strategy) -> None:
    x, crowd, xt, yt = problem
    mv = _fit("two-stage[aggregator=mv]", problem)
    e2e = _fit(strategy, problem)
    # the adversaries outvote the good annotators on class 0 and tie on three more classes
    assert mv.score(xt, yt) < 0.65
    assert e2e.score(xt, yt) > 0.88
    assert e2e.score(xt, yt) > mv.score(xt, yt) + 0.25


def test_estimated_confusions_approach_the_true_ones(problem) -> None:
    x, crowd, xt, yt = problem
    clf = _fit("geocrowdnet-f", problem)
    err = confusion_estimation_error(crowd.confusions, clf.confusions_)
    assert clf.confusions_.shape == (5, K, K)
    np.testing.assert_allclose(clf.confusions_.sum(axis=2), 1.0, atol=1e-5)
    assert err < 0.25
    # far better than the identity the matrices start from
    start = np.broadcast_to(np.eye(K), crowd.confusions.shape)
    assert err < 0.5 * confusion_estimation_error(crowd.confusions, start, match=False)


def test_confusion_error_falls_with_more_items() -> None:
    errors = []
    for n in (150, 1200):
        x, y = _blobs(n, seed=3)
        crowd = _crowd(y, seed=3)
        clf = CrowdClassifier("mlp", "ccem", backbone_params={"hidden": (), "dropout": 0.0},
                              n_epochs=40, batch_size=64, lr=2e-2, val_fraction=0.0,
                              device="cpu").fit(x, crowd.answers)
        errors.append(confusion_estimation_error(crowd.confusions, clf.confusions_))
    assert errors[1] < errors[0]


def test_cpu_runs_are_repeatable(problem) -> None:
    a = _fit("geocrowdnet-f", problem, n_epochs=5)
    b = _fit("geocrowdnet-f", problem, n_epochs=5)
    c = _fit("geocrowdnet-f", problem, n_epochs=5, seed=1)
    assert a.history_["train_loss"] == b.history_["train_loss"]
    np.testing.assert_array_equal(a.probas_, b.probas_)
    assert a.history_["train_loss"] != c.history_["train_loss"]


def test_two_stage_uses_the_aggregator(problem) -> None:
    x, crowd, xt, yt = problem
    ds = _fit("two-stage", problem, strategy_params={"aggregator": "ds"}, n_epochs=30)
    assert ds.head_.aggregator_.name == "ds"
    np.testing.assert_allclose(ds.confusions_, ds.head_.aggregator_.confusions_, rtol=1e-6)
    # the classifier learns the aggregator's labels
    agree = np.mean(ds.labels_ == ds.head_.aggregator_.labels_)
    assert agree > 0.9
    hard = _fit("two-stage[aggregator=mv,soft=false]", problem, n_epochs=3)
    t = hard.head_.targets.numpy()
    assert set(np.unique(t)) <= {0.0, 1.0}


@pytest.mark.parametrize("conn", ["MW", "VW", "VB", "VW+B", "SW"])
def test_crowd_layer_connection_types(problem, conn) -> None:
    clf = _fit(f"crowdlayer[conn_type={conn}]", problem, n_epochs=3)
    assert clf.confusions_.shape == (5, K, K)
    np.testing.assert_allclose(clf.confusions_.sum(axis=2), 1.0, atol=1e-5)
    assert np.isfinite(clf.history_["train_loss"]).all()


def test_geocrowdnet_f_is_finite_with_a_batch_smaller_than_the_classes() -> None:
    head = make_head("geocrowdnet-f", n_classes=10, n_workers=2, lam=1.0)
    a = Answers.from_arrays(task=[0, 1], worker=[0, 1], label=[3, 4], n_classes=10)
    data = CrowdData(np.zeros((2, 4), np.float32), a)
    batch = data.batch(torch.arange(2))
    logits = torch.zeros(2, 10, requires_grad=True)  # rank-1 probabilities: singular F^T F
    loss = head.loss(logits, batch)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    # the volume term is still there: it differs from plain CCEM's loss
    plain = make_head("ccem", n_classes=10, n_workers=2)
    assert loss.item() > plain.loss(logits, batch).item() + 1.0


def test_batches_gather_each_tasks_answers() -> None:
    a = Answers.from_arrays(task=[0, 0, 1, 2, 2, 2], worker=[0, 1, 1, 0, 1, 2],
                            label=[0, 1, 1, 2, 2, 0])
    data = CrowdData(np.arange(3, dtype=np.float32)[:, None], a)
    b = data.batch(torch.tensor([2, 0]))
    assert b.x[:, 0].tolist() == [2.0, 0.0]
    assert b.rows.tolist() == [0, 0, 0, 1, 1]
    assert b.workers.tolist() == [0, 1, 2, 0, 1]
    assert b.labels.tolist() == [2, 2, 0, 0, 1]


def test_selection_keeps_the_best_validation_epoch(problem) -> None:
    clf = _fit("ccem", problem, n_epochs=15, val_fraction=0.2)
    val = clf.history_["val_loss"]
    assert clf.best_epoch_ == int(np.argmin(val)) + 1
    assert len(clf.val_tasks_) == 120 and len(clf.train_tasks_) == 480
    last = _fit("ccem", problem, n_epochs=4, val_fraction=0.0)
    assert last.best_epoch_ == 4 and "val_loss" not in last.history_


def test_patience_stops_early_and_keeps_the_best_epoch(problem) -> None:
    full = _fit("ccem", problem, n_epochs=60, val_fraction=0.2, lr=5e-2)
    val = np.asarray(full.history_["val_loss"])
    best = int(np.argmin(val)) + 1
    patience = 3
    # where the same run must stop: the first epoch `patience` epochs after its running best
    running = np.minimum.accumulate(val)
    since = [e - int(np.flatnonzero(val[:e] == running[e - 1])[0]) - 1 for e in range(1, 61)]
    stop = next((e for e in range(1, 61) if since[e - 1] >= patience), 60)
    early = _fit("ccem", problem, n_epochs=60, val_fraction=0.2, lr=5e-2, patience=patience)
    assert stop < 60  # the check below is about a run that did stop early
    assert early.stopped_epoch_ == stop == len(early.history_["val_loss"])
    assert early.history_["val_loss"] == full.history_["val_loss"][:stop]  # same run, cut
    assert early.best_epoch_ == int(np.argmin(val[:stop])) + 1 <= best
    assert full.stopped_epoch_ == 60
    with pytest.raises(CrowdlearnError, match="patience needs a selection score"):
        _fit("ccem", problem, n_epochs=2, val_fraction=0.0, patience=2)
    with pytest.raises(CrowdlearnError, match="patience must be an integer >= 1, or none, got 0"):
        _fit("ccem", problem, n_epochs=2, patience=0)


def test_val_accuracy_selection_needs_truth(problem) -> None:
    x, crowd, xt, yt = problem
    no_truth = crowd.answers.with_truth(None)
    with pytest.raises(CrowdlearnError, match="known true label"):
        CrowdClassifier("mlp", "ccem", n_epochs=1, selection="val_accuracy",
                        device="cpu").fit(x, no_truth)
    ok = _fit("ccem", problem, n_epochs=3, selection="val_accuracy")
    assert ok.best_epoch_ == int(np.argmax(ok.history_["val_accuracy"])) + 1


def test_checkpoints_are_written(problem, tmp_path) -> None:
    x, crowd, xt, yt = problem
    clf = CrowdClassifier("mlp", "ccem", n_epochs=2, device="cpu").fit(
        x, crowd.answers, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "best.pth")
    assert (tmp_path / "last.pth").exists()
    assert set(state) == set(clf.model_.state_dict())


def test_dataframe_items_are_aligned_by_task_id(problem) -> None:
    import pandas as pd

    x, crowd, xt, yt = problem
    frame = pd.DataFrame(x, index=crowd.answers.task_ids)
    shuffled = frame.sample(frac=1.0, random_state=0)
    a = CrowdClassifier("mlp", "ccem", n_epochs=2, device="cpu").fit(frame, crowd.answers)
    b = CrowdClassifier("mlp", "ccem", n_epochs=2, device="cpu").fit(shuffled, crowd.answers)
    np.testing.assert_allclose(a.probas_, b.probas_, atol=1e-6)
    with pytest.raises(CrowdlearnError, match="no row for 1 task"):
        CrowdClassifier("mlp", "ccem", n_epochs=1, device="cpu").fit(frame.iloc[1:],
                                                                     crowd.answers)


def test_errors_are_clear(problem) -> None:
    x, crowd, xt, yt = problem
    with pytest.raises(NotFittedError):
        CrowdClassifier().predict(xt)
    with pytest.raises(CrowdlearnError, match="unknown end-to-end strategy"):
        CrowdClassifier("mlp", "nope", device="cpu").fit(x, crowd.answers)
    with pytest.raises(CrowdlearnError, match="has no parameter"):
        CrowdClassifier("mlp", "ccem[foo=1]", device="cpu").fit(x, crowd.answers)
    with pytest.raises(CrowdlearnError, match="rows for"):
        CrowdClassifier("mlp", "ccem", device="cpu").fit(x[:10], crowd.answers)
    with pytest.raises(CrowdlearnError, match="optimizer must be one of sgd, adam, adamw"):
        CrowdClassifier("mlp", "ccem", optimizer="lion", device="cpu").fit(x, crowd.answers)


@pytest.mark.parametrize("optimizer,schedule", [("sgd", "multistep"), ("adamw", "cosine"),
                                                ("adam", "onecycle")])
def test_optimizers_and_schedules(problem, optimizer, schedule) -> None:
    clf = _fit("ccem", problem, n_epochs=4, optimizer=optimizer, schedule=schedule,
               milestones=(2,), lr=1e-2)
    lrs = clf.history_["lr"]
    assert np.isfinite(clf.history_["train_loss"]).all()
    if schedule == "multistep":
        assert lrs[0] == pytest.approx(1e-2) and lrs[-1] == pytest.approx(1e-3)
    else:
        assert lrs[-1] < lrs[0] or schedule == "onecycle"


def test_two_stage_ignores_tasks_without_answers() -> None:
    a = simulate(n_tasks=60, n_classes=2, n_workers=2, p=0.3, seed=0).answers
    empty = a.answers_per_task() == 0
    assert empty.any()
    head = make_head("two-stage", n_classes=2, n_workers=2)
    head.setup(a, np.arange(a.n_tasks))
    np.testing.assert_allclose(head.targets.sum(dim=1).numpy(), (~empty).astype(float))


def test_integer_true_labels_are_class_names_never_positions() -> None:
    """Issue 10 item 1's sibling: y = [0, 1] against classes cat, dog is an error, not cat/dog."""
    import pandas as pd

    from crowdlearn.deep import CrowdClassifier

    rng = np.random.default_rng(0)
    truth = np.array(["cat", "dog"] * 20)
    frame = pd.DataFrame({"task": np.repeat(np.arange(40), 2), "worker": np.tile([0, 1], 40),
                          "label": np.repeat(truth, 2)})
    x = rng.normal(size=(40, 3)).astype(np.float32)
    clf = CrowdClassifier("mlp", strategy="crowdlayer", n_epochs=1, threads=1,
                          val_fraction=0, verbose=False).fit(x, frame)
    assert 0.0 <= clf.score(x, truth) <= 1.0  # names work
    with pytest.raises(CrowdlearnError, match="not one of"):
        clf.score(x, (truth == "dog").astype(int))  # positions are refused
