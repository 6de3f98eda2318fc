"""MaDL, Annot-Mix, COINNet and UnionNet crowd heads: shapes, masking, training, recovery."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

import torch.nn.functional as F  # noqa: E402

from crowdlearn.answers import Answers  # noqa: E402
from crowdlearn.deep import CrowdClassifier  # noqa: E402
from crowdlearn.deep.data import CrowdData  # noqa: E402
from crowdlearn.deep.heads import (  # noqa: E402
    AnnotMix,
    COINNet,
    MaDL,
    UnionNet,
    available_heads,
    make_head,
)
from crowdlearn.deep.heads.annotmix import MixedBatch  # noqa: E402

K, M = 3, 4
NEW = ("madl", "annot-mix", "coinnet", "unionnet")
EYE = np.eye(K)


def good(p: float) -> np.ndarray:
    return p * EYE + (1 - p) / (K - 1) * (1 - EYE)


def crowd(seed: int, confusions: list[np.ndarray], n: int = 400, d: int = 8, keep: float = 0.7):
    """Gaussian clusters labelled by annotators with known confusions; each answer kept with
    probability ``keep`` (missing answers)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(K, d))
    means *= 3.0 / np.linalg.norm(means, axis=1, keepdims=True)
    y = rng.integers(K, size=n)
    x = (means[y] + rng.normal(size=(n, d))).astype(np.float32)
    tasks, workers, labels = [], [], []
    for m, conf in enumerate(confusions):
        u = rng.random(n)
        lab = (u[:, None] > np.cumsum(conf[y], axis=1)).sum(1)
        sel = rng.random(n) < keep
        sel[m::len(confusions)] = True  # every item keeps at least one answer
        tasks.append(np.flatnonzero(sel))
        workers.append(np.full(int(sel.sum()), m))
        labels.append(lab[sel])
    answers = Answers.from_arrays(task=np.concatenate(tasks), worker=np.concatenate(workers),
                                  label=np.concatenate(labels), n_classes=K)
    order = np.argsort(answers.task_ids)
    assert (answers.task_ids[order] == np.arange(n)).all()
    return x[answers.task_ids], y[answers.task_ids], answers


def small_batch(n: int = 6):
    """Items 0..n-1; item 2 has no answer at all (masked)."""
    rng = np.random.default_rng(0)
    tasks, workers = [], []
    for t in range(n):
        if t == 2:
            continue
        ws = rng.permutation(M)[: rng.integers(1, M + 1)]
        tasks += [t] * len(ws)
        workers += [int(w) for w in ws]
    tasks.append(2)  # task 2 exists but its only answer is given to a separate item below
    workers.append(0)
    labels = rng.integers(K, size=len(tasks))
    answers = Answers.from_arrays(task=tasks, worker=workers, label=labels, n_classes=K)
    x = rng.normal(size=(answers.n_tasks, 5)).astype(np.float32)
    data = CrowdData(x, answers)
    return data, answers


def _head(name: str, **kw):
    return make_head(name, n_classes=K, n_workers=M, input_shape=(5,), embedding_dim=0, **kw)


def test_registered_with_their_aliases() -> None:
    names = available_heads()
    for n in NEW:
        assert n in names
    assert isinstance(_head("annotmix"), AnnotMix) and isinstance(_head("coin-net"), COINNet)
    assert isinstance(_head("MaDL"), MaDL) and isinstance(_head("union_net"), UnionNet)


@pytest.mark.parametrize("name", NEW)
def test_shapes_and_initial_confusions(name: str) -> None:
    data, answers = small_batch()
    head = _head(name)
    head.setup(answers, np.arange(answers.n_tasks))
    batch = data.batch(torch.arange(answers.n_tasks))
    logits = torch.randn(batch.size, K)
    lp = head.answer_log_probs(logits, batch)
    assert lp.shape == (batch.n_answers, K)
    if name != "unionnet":  # UnionNet's rows carry the annotator's share of the union
        torch.testing.assert_close(lp.exp().sum(1), torch.ones(batch.n_answers))
    conf = head.confusions()
    assert conf.shape == (M, K, K)
    torch.testing.assert_close(conf.sum(-1), torch.ones(M, K))
    assert bool((conf.diagonal(dim1=1, dim2=2) > 0.75).all())  # starts near the identity
    ac = head.answer_confusions(logits, batch)
    assert ac.shape == (batch.n_answers, K, K)


@pytest.mark.parametrize("name", NEW)
def test_items_without_answers_get_no_gradient(name: str) -> None:
    """Missing answers are masked: an item with no answer in the batch does not move the loss."""
    data, answers = small_batch()
    head = _head(name, **({"lam": 0.0} if name == "coinnet" else {}))
    head.setup(answers, np.arange(answers.n_tasks))
    idx = torch.tensor([0, 1, 3, 4, 5])
    batch = data.batch(idx)
    extra = data.batch(torch.tensor([0, 1, 3, 4, 5]))  # same answers, one more answerless item
    x = torch.cat([extra.x, torch.zeros(1, 5)])
    from crowdlearn.deep.data import Batch

    padded = Batch(x=x, tasks=torch.cat([extra.tasks, torch.tensor([2])]), rows=extra.rows,
                   workers=extra.workers, labels=extra.labels)
    logits = torch.randn(batch.size + 1, K, requires_grad=True)
    loss = head.loss(logits, padded)
    loss.backward()
    assert float(logits.grad[-1].abs().sum()) == 0.0
    ref = head.loss(logits[:-1].detach(), batch)
    assert float(loss) == pytest.approx(float(ref), rel=1e-5)


def test_annot_mix_mixes_items_annotators_and_answers() -> None:
    data, answers = small_batch()
    head = _head("annot-mix")
    head.setup(answers, np.arange(answers.n_tasks))
    batch = data.batch(torch.arange(answers.n_tasks))
    mixed = head.train_batch(batch)
    assert isinstance(mixed, MixedBatch)
    n = batch.n_answers
    assert mixed.x.shape == (n, 5) and mixed.size == n
    assert bool(((mixed.lam >= 0) & (mixed.lam <= 1)).all())
    torch.testing.assert_close(mixed.rows, torch.arange(n))
    xa = batch.x[batch.rows]
    loss = head.loss(torch.randn(n, K), mixed)
    assert torch.isfinite(loss)
    # alpha = 0: no mixing
    assert _head("annot-mix", alpha=0.0).train_batch(batch) is batch
    # with lam = 1 the mixed loss is the plain loss of the same answers
    one = MixedBatch(x=xa, tasks=batch.tasks[batch.rows], rows=torch.arange(n),
                     workers=batch.workers, labels=batch.labels, workers2=batch.workers,
                     labels2=batch.labels, lam=torch.ones(n))
    logits = torch.randn(n, K)
    plain = F.nll_loss(head.answer_log_probs(logits, one), batch.labels)
    torch.testing.assert_close(head.nll(logits, one), plain)


def test_coinnet_outliers_index_the_answers_and_vanish_at_zero() -> None:
    data, answers = small_batch()
    head = _head("coinnet", lam=0.0)
    head.setup(answers, np.arange(answers.n_tasks))
    assert head.outliers.shape == (answers.n_answers, K)
    batch = data.batch(torch.tensor([4, 1, 5]))
    idx = head._answer_index(batch)
    ptr = answers.task_indptr
    expect = np.concatenate([np.arange(ptr[t], ptr[t + 1]) for t in (4, 1, 5)])
    np.testing.assert_array_equal(idx.numpy(), expect)
    logits = torch.randn(3, K)
    from crowdlearn.deep.heads import CCEM

    ccem = CCEM(K, M)
    torch.testing.assert_close(head.answer_log_probs(logits, batch),
                               ccem.answer_log_probs(logits, batch))
    assert float(head.regularizer(logits, batch)) == pytest.approx(0.01 * 1e-10 ** 0.2)
    with torch.no_grad():
        head.outliers[expect[0]] = torch.tensor([0.5, -0.5, 0.0])
    assert float(head.regularizer(logits, batch)) > 0.01 * 0.5 ** 0.4 / 3


def test_coinnet_penalty_is_the_mean_over_the_batch_items() -> None:
    """Brute force: mu * mean over the batch's answered items of (sum of the squared centred
    outliers of the item's answers + 1e-10)^(p/2), as the authors' code (sum / batch size)."""
    data, answers = small_batch()
    mu, p = 0.3, 0.6
    head = _head("coinnet", lam=0.0, mu=mu, p=p)
    head.setup(answers, np.arange(answers.n_tasks))
    with torch.no_grad():
        head.outliers.copy_(torch.randn_like(head.outliers))
    ids = [5, 0, 2, 3]
    batch = data.batch(torch.tensor(ids))
    ptr = answers.task_indptr
    e = head.outliers.detach().double().numpy()
    terms = []
    for t in ids:
        rows = e[ptr[t]:ptr[t + 1]]
        if len(rows):
            centred = rows - rows.mean(axis=1, keepdims=True)
            terms.append(((centred ** 2).sum() + 1e-10) ** (p / 2))
    expect = mu * sum(terms) / len(terms)
    assert float(head.regularizer(torch.randn(len(ids), K), batch)) == pytest.approx(expect,
                                                                                  rel=1e-5)


def test_coinnet_outliers_learn_at_the_classifiers_rate() -> None:
    """The confusions keep the head's rate, the outliers get lr * outlier_lr_factor (default
    0.3; 1 is the authors' one optimiser at one rate)."""
    from crowdlearn.deep.backbones import make_backbone
    from crowdlearn.deep.train import CrowdModel, TrainConfig, _make_optimizer

    data, answers = small_batch()
    assert _head("coinnet").outlier_lr_factor == 0.3
    for factor in (1.0, 0.5):
        head = _head("coinnet", outlier_lr_factor=factor)
        head.setup(answers, np.arange(answers.n_tasks))
        model = CrowdModel(make_backbone("mlp", (5,), K), head)
        opt = _make_optimizer(model, TrainConfig(lr=1e-3, head_lr=1e-2))
        rate = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
        assert rate[id(head.outliers)] == pytest.approx(1e-3 * factor)
        assert rate[id(head.confusion_logits)] == pytest.approx(1e-2)
        assert len(rate) == len(list(model.parameters()))
        # Adam's first step moves every outlier entry with a gradient by about its rate
        batch = data.batch(torch.arange(answers.n_tasks))
        before = head.outliers.detach().clone()
        opt.zero_grad()
        model.head.loss(model(batch.x), batch).backward()
        opt.step()
        moved = (head.outliers.detach() - before).abs().max()
        assert float(moved) == pytest.approx(1e-3 * factor, rel=1e-3)


def test_coinnet_recovers_planted_outliers() -> None:
    """Planted instance-dependent outliers (on 15% of the items one annotator answers ``y + 1``
    whatever its confusion) get the largest outlier vectors, and the classifier stays right."""
    rng = np.random.default_rng(0)
    n, d = 300, 8
    means = rng.normal(size=(K, d))
    means *= 3.0 / np.linalg.norm(means, axis=1, keepdims=True)
    y = rng.integers(K, size=n)
    x = (means[y] + rng.normal(size=(n, d))).astype(np.float32)
    task, worker = np.repeat(np.arange(n), M), np.tile(np.arange(M), n)
    label = np.where(rng.random(n * M) < 0.85, y[task],
                     (y[task] + rng.integers(1, K, size=n * M)) % K)
    planted = (rng.random(n) < 0.15)[task] & (worker == rng.integers(M, size=n)[task])
    label = np.where(planted, (y[task] + 1) % K, label)
    answers = Answers.from_arrays(task=task, worker=worker, label=label, n_classes=K)
    clf = CrowdClassifier("mlp", "coinnet", n_epochs=30, batch_size=64, val_fraction=0.0,
                          seed=0, device="cpu").fit(x, answers)
    e = clf.head_.outliers.detach()
    size = (e - e.mean(1, keepdim=True)).norm(dim=1).numpy()   # answers in task order = ours
    rank = size.argsort().argsort()                            # AUC by the rank-sum formula
    n_pos, n_neg = int(planted.sum()), int((~planted).sum())
    auc = (rank[planted].sum() - n_pos * (n_pos - 1) / 2) / (n_pos * n_neg)
    assert auc > 0.85
    assert clf.score(x, y) > 0.9


def test_unionnet_union_is_one_distribution_per_class() -> None:
    head = _head("unionnet")
    with torch.no_grad():
        head.union_logits.add_(torch.randn(M, K, K))
    t = head.log_union().exp()                                 # (M, K true, K answer)
    torch.testing.assert_close(t.sum(dim=(0, 2)), torch.ones(K))
    torch.testing.assert_close(head.confusions(), t / t.sum(-1, keepdim=True))


def test_madl_annotator_weights_discount_look_alikes() -> None:
    head = _head("madl", annotator_weights=True)
    with torch.no_grad():
        w = head.ap.annotator.weight
        w[1] = w[0]
        w[2] = w[0]   # annotators 0, 1, 2 identical, 3 alone
    weights = head.weights()
    assert float(weights.mean()) == pytest.approx(1.0)
    assert float(weights[3]) > float(weights[0])
    data, answers = small_batch()
    head.setup(answers, np.arange(answers.n_tasks))
    batch = data.batch(torch.arange(answers.n_tasks))
    loss = head.loss(torch.randn(batch.size, K), batch)
    loss.backward()
    assert head.gamma.grad is not None


PLANTED = [good(0.85), good(0.7), np.roll(EYE, 1, axis=1) * 0.8 + 0.2 / K, good(0.6)]


@pytest.mark.parametrize("name", NEW)
def test_trains_and_recovers_a_planted_crowd(name: str) -> None:
    x, y, answers = crowd(0, PLANTED)
    clf = CrowdClassifier("mlp", name, backbone_params={"hidden": (32,), "dropout": 0.0},
                          n_epochs=100, batch_size=64, lr=3e-3, val_fraction=0.0, seed=0)
    clf.fit(x, answers)
    loss = clf.history_["train_loss"]
    assert loss[-1] < loss[0]
    acc = float(np.mean(clf.predict(x) == y))
    assert acc > 0.8  # chance: 1/3; majority vote is fooled by the adversarial annotator less
    err = np.abs(clf.confusions_ - np.stack(PLANTED)).sum(-1).mean()
    chance = np.abs(np.full((K, K), 1 / K) - np.stack(PLANTED)).sum(-1).mean()
    assert err < 0.6 * chance
    # the adversarial annotator's answers are recognised as shifted
    assert clf.confusions_[2, 0, 1] > clf.confusions_[2, 0, 0]


def test_custom_backbone_without_classifier_uses_the_raw_items() -> None:
    x, y, answers = crowd(1, PLANTED, n=150)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, K))
    clf = CrowdClassifier(net, "madl", n_epochs=3, val_fraction=0.2, seed=0).fit(x, answers)
    assert clf.confusions_.shape == (M, K, K)


@pytest.mark.parametrize("name", NEW)
def test_saved_model_reloads_and_predicts_the_same(name: str, tmp_path) -> None:
    from crowdlearn.deep.results import load_model, save_model

    x, y, answers = crowd(2, PLANTED, n=120)
    clf = CrowdClassifier("mlp", name, n_epochs=3, val_fraction=0.2, seed=0).fit(x, answers)
    save_model(clf, tmp_path / "m.pth")
    again = load_model(tmp_path / "m.pth")
    np.testing.assert_allclose(again.predict_proba(x), clf.predict_proba(x), rtol=1e-5,
                               atol=1e-6)
