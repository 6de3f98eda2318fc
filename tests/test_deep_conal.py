"""CoNAL crowd head (crowdlearn.deep.heads.conal): model, gradients, regulariser, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from crowdlearn.answers import Answers
from crowdlearn.deep.data import CrowdData
from crowdlearn.deep.heads import CoNAL, available_heads, make_head
from crowdlearn.errors import CrowdlearnError

K = 3
EYE = np.eye(K)
DERANGEMENT = np.roll(EYE, 1, axis=1)  # true class k is always answered k + 1 (mod K)


def good(p: float) -> np.ndarray:
    """Confusion of an annotator right with probability ``p``, uniform errors."""
    return p * EYE + (1 - p) / (K - 1) * (1 - EYE)


def clusters(rng: np.random.Generator, means: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(len(means), size=n)
    x = means[y] + rng.normal(size=(n, means.shape[1]))
    return x.astype(np.float32), y


def crowd(seed: int, confusions: list[np.ndarray], n: int = 600, d: int = 10, sep: float = 3.0,
          n_test: int = 2000):
    """Gaussian clusters (one per class) labelled by every annotator with known confusions."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(K, d))
    means *= sep / np.linalg.norm(means, axis=1, keepdims=True)
    x, y = clusters(rng, means, n)
    tasks, workers, labels = [], [], []
    for m, conf in enumerate(confusions):
        u = rng.random(n)
        tasks.append(np.arange(n))
        workers.append(np.full(n, m))
        labels.append((u[:, None] > np.cumsum(conf[y], axis=1)).sum(1))  # inverse-CDF draw
    answers = Answers.from_arrays(task=np.concatenate(tasks), worker=np.concatenate(workers),
                                  label=np.concatenate(labels), n_classes=K)
    assert (answers.task_ids == np.arange(n)).all()
    x_test, y_test = clusters(rng, means, n_test)
    return x, y, answers, x_test, y_test


def small_batch(seed: int = 0, n: int = 20, item_shape: tuple[int, ...] = (6,), n_workers: int = 4):
    """A batch whose items have 1 to ``n_workers`` answers each (every annotator present)."""
    rng = np.random.default_rng(seed)
    tasks, workers = [], []
    for t in range(n):
        others = [w for w in range(n_workers) if w != t % n_workers]
        chosen = [t % n_workers, *rng.permutation(others)[: rng.integers(0, n_workers)]]
        tasks += [t] * len(chosen)
        workers += [int(w) for w in chosen]
    labels = rng.integers(K, size=len(tasks))
    answers = Answers.from_arrays(task=tasks, worker=workers, label=labels, n_classes=K)
    x = rng.normal(size=(n, *item_shape)).astype(np.float32)
    return CrowdData(x, answers).batch(torch.arange(n)), answers


def test_registered_and_defaults() -> None:
    assert "conal" in available_heads()
    head = make_head("conal", n_classes=K, n_workers=4, input_shape=(6,), embedding_dim=0)
    assert isinstance(head, CoNAL)
    assert head.scale == 1e-5 and head.embedding_dim_aux == 20 and head.input_dim == 6
    # parametrisation and initialisation of the original: C = W_m = 2 I
    torch.testing.assert_close(head.common.detach(), 2 * torch.eye(K))
    torch.testing.assert_close(head.local.detach(), 2 * torch.eye(K).expand(4, K, K))
    assert head.annotator_embedding.weight.shape == (4, 20)
    assert head.instance_embedding.in_features == 6
    assert head.instance_embedding.out_features == 20
    assert "scale=1e-05" in repr(head)


def test_make_head_params_and_errors() -> None:
    head = make_head("CoNAL", n_classes=K, n_workers=2, input_shape=(1, 4, 4), embedding_dim=0,
                     scale=0.5, embedding_dim_aux=7)
    assert head.scale == 0.5 and head.embedding_dim_aux == 7 and head.input_dim == 16
    with pytest.raises(CrowdlearnError, match="no parameter"):
        make_head("conal", n_classes=K, n_workers=2, input_shape=(4,), lam=0.1)
    with pytest.raises(CrowdlearnError, match="embedding_dim_aux"):
        make_head("conal", n_classes=K, n_workers=2, input_shape=(4,), embedding_dim_aux=0)
    with pytest.raises(CrowdlearnError, match="scale"):
        make_head("conal", n_classes=K, n_workers=2, input_shape=(4,), scale=math.inf)
    with pytest.raises(CrowdlearnError, match="input_shape"):
        make_head("conal", n_classes=K, n_workers=2, input_shape=(4, 0))


@pytest.mark.parametrize("item_shape", [(6,), (1, 3, 4)])
def test_shapes_and_normalisation(item_shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    batch, answers = small_batch(item_shape=item_shape)
    head = CoNAL(K, answers.n_workers, item_shape)
    logits = torch.randn(batch.size, K)
    out = head.answer_log_probs(logits, batch)
    assert out.shape == (batch.n_answers, K)
    torch.testing.assert_close(out.exp().sum(1), torch.ones(batch.n_answers))
    gates = head.gates(batch.x).detach()
    assert gates.shape == (batch.size, answers.n_workers)
    lo, hi = 1 / (1 + math.e), 1 / (1 + math.exp(-1))  # sigmoid of a cosine similarity
    assert float(gates.min()) >= lo - 1e-6 and float(gates.max()) <= hi + 1e-6
    torch.testing.assert_close(head.gates(batch.x[batch.rows], batch.workers),
                               gates[batch.rows, batch.workers])
    loss = head.loss(logits, batch)
    assert loss.ndim == 0 and torch.isfinite(loss)


def test_matches_dense_formula() -> None:
    """The gathered per-answer computation equals the model written for every (item, annotator)."""
    torch.manual_seed(1)
    batch, answers = small_batch(seed=3)
    m = answers.n_workers
    head = CoNAL(K, m, (6,), embedding_dim_aux=5)
    with torch.no_grad():  # move away from the symmetric initialisation
        head.common.add_(torch.randn(K, K))
        head.local.add_(torch.randn(m, K, K))
    logits = torch.randn(batch.size, K)
    f = F.softmax(logits, dim=1)                                            # (B, K)
    v = head.instance_embedding(batch.x)
    u = head.annotator_embedding(torch.arange(m))
    w = torch.sigmoid((v / v.norm(dim=1, keepdim=True)) @ (u / u.norm(dim=1, keepdim=True)).T)
    common = f @ head.common                                                # (B, K)
    individual = torch.einsum("bk,mkl->bml", f, head.local)                 # (B, M, K)
    h = w[:, :, None] * common[:, None, :] + (1 - w[:, :, None]) * individual
    expected = F.log_softmax(h, dim=2)[batch.rows, batch.workers]
    torch.testing.assert_close(head.answer_log_probs(logits, batch), expected)


def test_gradients_reach_everything() -> None:
    torch.manual_seed(0)
    batch, answers = small_batch()
    head = CoNAL(K, answers.n_workers, (6,), scale=1e-3)
    logits = torch.randn(batch.size, K, requires_grad=True)
    head.loss(logits, batch).backward()
    # at initialisation C = W_m: the gate has no effect, so the auxiliary network gets no gradient
    assert float(head.instance_embedding.weight.grad.abs().sum()) == 0.0
    assert torch.isfinite(head.local.grad).all()  # the norm at W_m = C: finite (sub)gradient
    head.zero_grad()
    logits.grad = None
    with torch.no_grad():
        head.local.add_(0.5 * torch.randn_like(head.local))
    head.loss(logits, batch).backward()
    grads = {
        "logits": logits.grad,
        "common": head.common.grad,
        "local": head.local.grad,
        "instance": head.instance_embedding.weight.grad,
        "annotator": head.annotator_embedding.weight.grad,
    }
    for name, g in grads.items():
        assert g is not None, name
        assert torch.isfinite(g).all(), name
        assert float(g.abs().sum()) > 0, name


def test_regularizer_sign_and_effect() -> None:
    torch.manual_seed(0)
    batch, answers = small_batch()
    m = answers.n_workers
    logits = torch.randn(batch.size, K)
    head = CoNAL(K, m, (6,), scale=0.1)
    assert head.regularizer(logits, batch).item() == 0.0  # C = W_m at initialisation
    with torch.no_grad():
        head.local.add_(0.3 * torch.randn(m, K, K))
    dist = (head.local - head.common).flatten(1).norm(dim=1).sum()
    reg = head.regularizer(logits, batch)
    torch.testing.assert_close(reg, -0.1 * dist)
    assert reg.item() < 0
    # minimising the regulariser alone moves the individual matrices away from the common one
    reg.backward()
    with torch.no_grad():
        head.local.sub_(head.local.grad)
        head.common.sub_(head.common.grad)
    assert (head.local - head.common).flatten(1).norm(dim=1).sum().item() > dist.item()
    # the loss is the data term plus the regulariser; scale=0 switches it off
    torch.testing.assert_close(head.loss(logits, batch), head.nll(logits, batch)
                               + head.regularizer(logits, batch))
    assert CoNAL(K, m, (6,), scale=0.0).regularizer(logits, batch) == 0.0


def test_confusions() -> None:
    head = CoNAL(K, 4, (6,))
    conf = head.confusions()
    assert conf.shape == (4, K, K)
    torch.testing.assert_close(conf.sum(2), torch.ones(4, K))
    torch.testing.assert_close(conf[1], F.softmax(2 * torch.eye(K), dim=1))
    torch.testing.assert_close(head.common_confusion(), F.softmax(2 * torch.eye(K), dim=1))
    with torch.no_grad():
        head.common.copy_(torch.randn(K, K))
        head.local.copy_(torch.randn(4, K, K))
    torch.testing.assert_close(head.confusions(), F.softmax(head.local.detach(), dim=2))
    torch.testing.assert_close(head.confusions(gate=1.0)[2], head.common_confusion())
    gate = torch.tensor([0.0, 0.3, 0.5, 1.0])
    mixed = head.confusions(gate=gate)
    torch.testing.assert_close(mixed.sum(2), torch.ones(4, K))
    expected = F.softmax(0.3 * head.common + 0.7 * head.local[1], dim=1)
    torch.testing.assert_close(mixed[1], expected.detach())
    torch.testing.assert_close(mixed[0], head.confusions()[0])


def test_wrong_item_shape_raises() -> None:
    batch, answers = small_batch(item_shape=(6,))
    head = CoNAL(K, answers.n_workers, (5,))
    with pytest.raises(CrowdlearnError, match="items of shape"):
        head.answer_log_probs(torch.randn(batch.size, K), batch)


def _accuracy(clf: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float((clf(torch.as_tensor(x)).argmax(1).numpy() == y).mean())


def test_learns_through_an_adversary(one_thread: None) -> None:
    """2 good annotators (80% right) and 1 adversary answering a derangement of the truth.

    Majority voting is right on ~69% of the items and its labels are biased toward the
    derangement, which shifts a classifier trained on them; CoNAL learns the adversary's
    confusion and trains a clearly better classifier.
    """
    x, y, answers, x_test, y_test = crowd(0, [good(0.8), good(0.8), DERANGEMENT])
    mv = answers.majority_labels(seed=0)
    assert 0.6 < (mv == y).mean() < 0.75
    steps = 300

    torch.manual_seed(0)
    clf = torch.nn.Linear(x.shape[1], K)
    head = make_head("conal", n_classes=K, n_workers=answers.n_workers, input_shape=(10,))
    opt = torch.optim.Adam([{"params": clf.parameters(), "lr": 0.05},
                            {"params": head.parameters(), "lr": 0.01}])
    batch = CrowdData(x, answers).batch(torch.arange(answers.n_tasks))
    for _ in range(steps):
        loss = head.loss(clf(batch.x), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()

    torch.manual_seed(0)
    mv_clf = torch.nn.Linear(x.shape[1], K)
    mv_opt = torch.optim.Adam(mv_clf.parameters(), lr=0.05)
    xt, mvt = torch.as_tensor(x), torch.as_tensor(mv, dtype=torch.int64)
    for _ in range(steps):
        mv_loss = F.cross_entropy(mv_clf(xt), mvt)
        mv_opt.zero_grad()
        mv_loss.backward()
        mv_opt.step()

    acc, acc_mv = _accuracy(clf, x_test, y_test), _accuracy(mv_clf, x_test, y_test)
    assert acc > 0.9, (acc, acc_mv)
    assert acc > acc_mv + 0.03, (acc, acc_mv)

    # each annotator's confusion at its mean gate: good ones diagonal, the adversary deranged
    conf = head.confusions(gate=head.gates(torch.as_tensor(x)).mean(0)).detach().numpy()
    assert conf.shape == (3, K, K)
    np.testing.assert_allclose(conf.sum(2), 1.0, rtol=1e-5)
    assert (conf[:2].argmax(2) == np.arange(K)).all()
    assert (conf[2].argmax(1) == DERANGEMENT.argmax(1)).all()
