"""The joint-likelihood head (Raykar et al. 2010): exact loss, posteriors, prior."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from crowdlearn.deep.data import Batch  # noqa: E402
from crowdlearn.deep.heads import Raykar, make_head  # noqa: E402
from crowdlearn.simulate import simulate  # noqa: E402

K, M = 3, 4


def _head_and_batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    head = Raykar(K, M, init_scale=2.0)
    with torch.no_grad():
        head.confusion_logits.add_(torch.randn(M, K, K, generator=g))
    logits = torch.randn(3, K, generator=g)
    # item 0: answers from workers 0, 1, 2; item 1: none; item 2: workers 3 and 1
    rows = torch.tensor([0, 0, 0, 2, 2])
    workers = torch.tensor([0, 1, 2, 3, 1])
    labels = torch.tensor([2, 0, 2, 1, 1])
    batch = Batch(x=torch.zeros(3, 1), tasks=torch.arange(3), rows=rows, workers=workers,
                  labels=labels)
    return head, logits, batch


def _brute_force(head, logits, batch):
    """sum_k f_k prod_r A_{m_r}[k, y_r] with explicit loops, per item (log) and posteriors."""
    f = torch.softmax(logits.double(), 1).numpy()
    a = torch.softmax(head.confusion_logits.detach().double(), -1).numpy()
    logs, posts = [], []
    for i in range(logits.shape[0]):
        joint = f[i].copy()
        for r in np.flatnonzero(batch.rows.numpy() == i):
            joint *= a[batch.workers[r], :, batch.labels[r]]
        logs.append(np.log(joint.sum()))
        posts.append(joint / joint.sum())
    return np.array(logs), np.array(posts)


def test_loss_is_the_joint_likelihood_per_answer() -> None:
    head, logits, batch = _head_and_batch()
    logs, posts = _brute_force(head, logits, batch)
    assert logs[1] == pytest.approx(0.0)  # an item without answers contributes nothing
    loss = head.nll(logits, batch)
    assert float(loss.detach()) == pytest.approx(-logs.sum() / 5, rel=1e-5)
    np.testing.assert_allclose(head.posteriors(logits, batch).detach().numpy(), posts,
                               rtol=1e-5, atol=1e-6)


def test_gradient_wrt_logits_is_f_minus_posterior() -> None:
    """d(-log p(answers | x)) / d logits = f - q: the EM update, one step at a time."""
    head, logits, batch = _head_and_batch(seed=1)
    logits.requires_grad_(True)
    (head.nll(logits, batch) * batch.n_answers).backward()
    f = torch.softmax(logits.detach(), 1)
    q = head.posteriors(logits.detach(), batch).detach()
    np.testing.assert_allclose(logits.grad.numpy(), (f - q).numpy(), atol=1e-5)


def test_joint_is_not_the_product_of_per_answer_marginals() -> None:
    """Unlike CCEM, the answers of one item are scored together (agreement is evidence)."""
    head, logits, batch = _head_and_batch(seed=2)
    marginal = torch.nn.functional.nll_loss(head.answer_log_probs(logits, batch), batch.labels)
    assert abs(float(marginal.detach()) - float(head.nll(logits, batch).detach())) > 1e-3


def test_prior_pulls_confusions_towards_uniform_errors() -> None:
    head = make_head("raykar", n_classes=K, n_workers=M, prior=1.0)
    crowd = simulate(n_tasks=10, n_workers=M, n_classes=K, answers_per_task=2, seed=0)
    head.setup(crowd.answers, np.arange(10))
    reg = head.regularizer(torch.zeros(1, K), None)
    reg.backward()
    g = head.confusion_logits.grad
    # lowering the diagonal (raising the off-diagonal cells) lowers the penalty
    assert bool((g.diagonal(dim1=1, dim2=2) > 0).all())
    assert float(reg.detach()) == pytest.approx(
        -float(torch.log_softmax(head.confusion_logits.detach(), -1).sum()) / 20, rel=1e-6)
    assert make_head("raykar", n_classes=K, n_workers=M).regularizer(torch.zeros(1, K), None) == 0


def test_negative_prior_is_refused() -> None:
    with pytest.raises(ValueError, match="prior"):
        Raykar(K, M, prior=-1.0)


def test_posterior_matches_dawid_skene_e_step() -> None:
    """With the classifier at DS's class priors and DS's confusions, q is DS's posterior
    (up to the last M-step: DS's posteriors come one update before its confusions)."""
    from crowdlearn.aggregate import make_strategy

    crowd = simulate(n_tasks=60, n_workers=M, n_classes=K, answers_per_task=3, seed=4)
    ans = crowd.answers
    ds = make_strategy("ds").fit(ans)
    head = Raykar(K, ans.n_workers)
    conf = np.clip(np.asarray(ds.confusions_, dtype=np.float64), 1e-12, None)
    with torch.no_grad():
        head.confusion_logits.copy_(torch.tensor(np.log(conf), dtype=torch.float32))
    logits = torch.tensor(np.log(np.asarray(ds.priors_) + 1e-12), dtype=torch.float32)
    logits = logits.expand(ans.n_tasks, K)
    batch = Batch(x=torch.zeros(ans.n_tasks, 1), tasks=torch.arange(ans.n_tasks),
                  rows=torch.tensor(ans.task, dtype=torch.int64),
                  workers=torch.tensor(ans.worker, dtype=torch.int64),
                  labels=torch.tensor(ans.label, dtype=torch.int64))
    q = head.posteriors(logits, batch).detach().numpy()
    np.testing.assert_allclose(q, ds.probas_, atol=1e-2)
    np.testing.assert_array_equal(q.argmax(1), ds.labels_)


def test_finds_the_one_good_annotator_among_spammers() -> None:
    """1 annotator 90% right, 4 answering uniformly at random: the joint likelihood learns a
    good classifier and tells the good annotator from the spammers."""
    from crowdlearn.deep import CrowdClassifier

    k = 5
    rng = np.random.default_rng(0)
    y = rng.integers(0, k, 600)
    x = (3.0 * np.eye(k)[y] + rng.normal(size=(600, k))).astype(np.float32)
    eye = np.eye(k)
    conf = np.array([0.9 * eye + 0.1 * (1 - eye) / (k - 1)] + [np.full((k, k), 1 / k)] * 4)
    crowd = simulate(true_labels=y, n_classes=k, answers_per_task=5, confusions=conf, seed=0)
    clf = CrowdClassifier("mlp", "raykar[init_scale=1]", backbone_params={"hidden": (32,)},
                          n_epochs=60, batch_size=64, lr=1e-2, seed=0, device="cpu")
    clf.fit(x, crowd.answers)
    assert np.mean(clf.labels_ == y) > 0.9
    diag = clf.confusions_.diagonal(axis1=1, axis2=2).mean(axis=1)
    assert diag[0] > 0.75 and (diag[1:] < 0.45).all()


def test_cli_help_lists_every_strategy() -> None:
    from crowdlearn.cli.fit import STRATEGIES
    from crowdlearn.deep.heads import available_heads

    assert STRATEGIES.split(", ") == available_heads()
