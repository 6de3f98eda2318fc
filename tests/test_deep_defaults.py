"""Default settings of CrowdClassifier and ``crowdlearn fit``: one source, and they learn the
annotators' confusions (a spammer must not stay near the identity the confusions start from)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crowdlearn import deep_defaults  # noqa: E402
from crowdlearn.cli import build_parser  # noqa: E402
from crowdlearn.deep import CrowdClassifier, TrainConfig  # noqa: E402
from crowdlearn.deep.heads import available_heads, get_head_class  # noqa: E402
from crowdlearn.metrics import confusion_estimation_error  # noqa: E402
from crowdlearn.simulate import gaussian_features, simulate  # noqa: E402

CONFUSION_HEADS = ("ccem", "geocrowdnet-f", "geocrowdnet-w", "tracereg", "raykar", "coinnet",
                   "unionnet")
#: confusion *networks* (instance-dependent): slower than the classifier (see MaDL)
SLOW_HEADS = ("madl", "annot-mix")

#: CrowdClassifier parameter -> crowdlearn fit option (dest) with the same default
SHARED = {"backbone": "backbone", "strategy": None, "n_epochs": "n_epochs",
          "batch_size": "batch_size", "optimizer": "optimizer", "lr": "lr",
          "momentum": "momentum", "weight_decay": "weight_decay", "head_lr": "head_lr",
          "schedule": "schedule", "gamma": "gamma", "val_fraction": "val_fraction",
          "selection": "selection", "seed": "seed"}


def test_cli_classifier_and_loop_share_the_defaults() -> None:
    sig = inspect.signature(CrowdClassifier).parameters
    args = build_parser().parse_args(["fit", "answers.csv", "--features", "x.csv", "-o", "out"])
    for param, dest in SHARED.items():
        if dest is not None:
            assert getattr(args, dest) == sig[param].default, param
    from crowdlearn.cli.fit import DEFAULT_STRATEGY

    assert DEFAULT_STRATEGY == sig["strategy"].default == deep_defaults.STRATEGY
    config = TrainConfig()
    for name in ("n_epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay",
                 "schedule", "gamma"):
        assert getattr(config, name) == sig[name].default, name


def test_confusion_heads_learn_faster_than_the_classifier_by_default() -> None:
    for name in available_heads():
        factor = get_head_class(name).head_lr_factor
        if name in CONFUSION_HEADS:
            assert factor == deep_defaults.HEAD_LR_FACTOR > 1.0, name
        elif name in SLOW_HEADS:
            assert factor == 0.1, name
        else:
            assert factor == 1.0, name


def _crowd(n: int = 400, seed: int = 0):
    """3 classes; symmetric, spammer, adversarial and hammer-spammer annotators."""
    crowd = simulate(n, 3, workers="symmetric:2,spammer:2,adversarial:1,hammer-spammer:2",
                     seed=seed)
    x = gaussian_features(crowd.true_labels, 3, dim=6, separation=4.0, seed=seed)
    return crowd, x


def test_head_lr_none_is_the_strategys_default(one_thread) -> None:
    crowd, x = _crowd(100)
    kw = dict(backbone_params={"hidden": (8,)}, n_epochs=1, device="cpu", lr=2e-3)
    clf = CrowdClassifier(strategy="ccem", **kw).fit(x, crowd.answers)
    assert clf.head_lr_ == pytest.approx(2e-3 * deep_defaults.HEAD_LR_FACTOR)
    assert clf.get_params()["head_lr"] is None  # the parameter itself is left as given
    assert CrowdClassifier(strategy="crowdlayer", **kw).fit(x, crowd.answers).head_lr_ == 2e-3
    assert CrowdClassifier(strategy="ccem", head_lr=5e-4, **kw).fit(
        x, crowd.answers).head_lr_ == 5e-4


def test_default_settings_learn_the_confusions(one_thread) -> None:
    """The default strategy with its default head learning rate (``head_lr=None``) moves a
    spammer far from the identity and estimates the crowd's confusions; the old default,
    ``head_lr = lr``, leaves every matrix near the identity (error 0.94, spammers' diagonal
    0.93, where the new default gets 0.09 and 0.31). A short run: lr 1e-2, 270 steps."""
    crowd, x = _crowd(300)
    spam = crowd.worker_models == "spammer"
    lr = 1e-2
    kw = dict(backbone_params={"hidden": (16,)}, n_epochs=30, batch_size=32, lr=lr,
              device="cpu")

    def fit(**extra):
        clf = CrowdClassifier(**kw, **extra).fit(x, crowd.answers)
        diag = np.diagonal(clf.confusions_[spam], axis1=1, axis2=2).mean()
        return confusion_estimation_error(crowd.confusions, clf.confusions_), diag

    err, spam_diag = fit()
    old_err, old_spam_diag = fit(head_lr=lr)
    # a spammer answers at random: its true diagonal is 1/3, the identity's 1
    assert spam_diag < 0.5 < 0.8 < old_spam_diag
    assert err < 0.25 < 0.6 < old_err
