"""Diagnostic figures (crowdlearn.plots): built headless, saved atomically."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crowdlearn.plots import plot_confusions, plot_training_history


def confusions(m: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.dirichlet(np.ones(k), size=(m, k)) + 2 * np.eye(k)[None]
    return a / a.sum(axis=-1, keepdims=True)


def test_confusions_true_and_estimated(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    true = confusions(5, 3)
    est = 0.9 * true + 0.1 / 3
    out = tmp_path / "figs" / "confusions.png"
    fig = plot_confusions(est, true, classes=["a", "b", "c"],
                          worker_names=[f"w{i}" for i in range(5)], max_workers=3, path=out)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2 * 3 + 1  # two rows of three annotators, one colour bar
    assert fig.axes[0].get_title() == "w0\ntrue"
    assert fig.axes[3].get_title().startswith("estimated\nL1 error ")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b", "c"]
    for ax in fig.axes[:6]:
        assert ax.images[0].get_clim() == (0.0, 1.0)  # one colour scale
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["confusions.png"]  # no temporary left


def test_confusions_matched_and_chosen_workers(tmp_path: Path) -> None:
    true = confusions(4, 3, seed=1)
    swapped = true[:, [2, 0, 1], :]  # the estimated classes in another order
    fig = plot_confusions(swapped, true, workers=[3, 1], path=tmp_path / "c.svg")
    assert len(fig.axes) == 2 * 2 + 1
    assert fig.axes[0].get_title() == "annotator 3\ntrue"
    assert fig.axes[2].get_title() == "estimated\nL1 error 0.000"  # rows re-matched
    np.testing.assert_allclose(fig.axes[2].images[0].get_array(), true[3])
    assert "reordered" in fig.get_suptitle()
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")
    raw = plot_confusions(swapped, true, workers=[3], match=False, show_error=False)
    assert raw.axes[1].get_title() == "estimated"
    np.testing.assert_allclose(raw.axes[1].images[0].get_array(), swapped[3])


def test_confusions_estimated_only() -> None:
    est = confusions(20, 4)
    fig = plot_confusions(est)
    assert len(fig.axes) == 12 + 1  # max_workers=12 by default
    assert plot_confusions(est[0]).axes[0].get_title() == "annotator 0"
    with pytest.raises(ValueError, match="same shape"):
        plot_confusions(est, est[:, :3, :3])
    with pytest.raises(IndexError):
        plot_confusions(est, workers=[20])


def test_training_history(tmp_path: Path) -> None:
    history = {
        "train_loss": [1.2, 0.8, 0.5, 0.4],
        "val_loss": [1.3, 0.9, 0.7],
        "val_accuracy": [0.5, 0.6, 0.7, 0.72],
        "test_accuracy": [0.45, None, 0.66, 0.7],
        "learning_rate": [0.1, 0.1, 0.01, 0.01],
    }
    out = tmp_path / "history.png"
    fig = plot_training_history(history, path=out)
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train_loss", "val_loss"]
    assert [line.get_label() for line in acc_ax.get_lines()] == ["val_accuracy",
                                                                 "test_accuracy"]
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylabel() == "accuracy"
    assert list(loss_ax.get_lines()[0].get_xdata()) == [1, 2, 3, 4]
    assert out.stat().st_size > 1000
    assert len(plot_training_history({"train_loss": [1.0, 0.5]}).axes) == 1
    with pytest.raises(ValueError, match="no loss or accuracy"):
        plot_training_history({"lr": [0.1]})
    with pytest.raises(ValueError, match="suffix"):
        plot_training_history({"train_loss": [1.0]}, path=tmp_path / "history.unknown")


def test_import_is_lazy() -> None:
    code = "import sys, crowdlearn.plots; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_confusions_worker_selection_is_named_in_the_title() -> None:
    est = confusions(20, 3)
    est[7] = np.full((3, 3), 1 / 3)  # the worst: a uniform spammer
    activity = np.arange(20)  # worker 19 the most active
    fig = plot_confusions(est, activity=activity, max_workers=4)
    title = fig._suptitle.get_text()
    assert "the most active 4 of 20 annotators (16 left out)" in title
    assert [ax.get_title() for ax in fig.axes[:4]] == [f"annotator {i}" for i in (19, 18, 17, 16)]
    worst = plot_confusions(est, workers="worst", max_workers=1)
    assert worst.axes[0].get_title() == "annotator 7"
    assert "the worst (lowest mean diagonal) 1 of 20" in worst._suptitle.get_text()
    first = plot_confusions(est)  # no activity: the first 12, and the title says so
    assert "first 12 of 20 annotators (8 left out)" in first._suptitle.get_text()
    chosen = plot_confusions(est, workers=[3, 5])
    assert "selected 2 of 20 annotators (18 left out)" in chosen._suptitle.get_text()
    assert plot_confusions(est[:3])._suptitle is None  # all shown: no note
    with pytest.raises(ValueError, match="activity"):
        plot_confusions(est, workers="most-active")
    with pytest.raises(ValueError, match="one of"):
        plot_confusions(est, workers="best")
