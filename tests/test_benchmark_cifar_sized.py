"""benchmarks/cifar_sized.py: synthetic CIFAR-10 batches and a one-epoch run per strategy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import benchmark_module

pytest.importorskip("torch")


def _module():
    return benchmark_module("cifar_sized")


def test_synthetic_batches_read_as_cifar10(tmp_path):
    from crowdlearn.datasets.images import load_cifar10

    root = _module().synthetic_cifar(tmp_path, n_train=60, n_test=20, seed=1)
    images = load_cifar10(root)
    assert images.train_x.shape == (60, 3, 32, 32) and images.test_x.shape == (20, 3, 32, 32)
    assert images.n_classes == 10
    # a class is its pattern: same-class images are closer than different-class ones
    x = images.train_x.reshape(60, -1).astype(np.float64)
    y = np.asarray(images.train_y)
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    same = d[(y[:, None] == y[None]) & ~np.eye(60, dtype=bool)].mean()
    assert same < d[y[:, None] != y[None]].mean()


def test_one_epoch_per_strategy_reports_throughput(tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = _module().main(["--n-train", "40", "--n-test", "20", "--epochs", "1", "--device", "cpu",
                         "--strategies", "ccem", "annot-mix", "--json", str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["strategy"] for r in rows] == ["ccem", "annot-mix"]
    for r in rows:
        assert r["device"] == "cpu" and r["amp"] is False and r["epochs_per_s"] > 0
        assert 0.0 <= r["accuracy"] <= 1.0
    assert rows[0]["confusion_error"] is not None
    assert "| annot-mix | cpu | off | 1 |" in capsys.readouterr().out
