"""The worker-quality figure: answers given against a quality score, flagged workers marked.

Built on :class:`matplotlib.figure.Figure` without ``pyplot`` (headless, no global state);
matplotlib is imported only when the function is called.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: quality columns the figure can show, in order of preference
QUALITY_COLUMNS = ("spam-score", "accuracy", "agreement", "peer-agreement", "trace",
                   "glad-ability", "mace-competence", "onecoin-skill")
#: the same for real-valued answers (crowdlearn.identify.regression)
REGRESSION_QUALITY_COLUMNS = ("peer-correlation", "truth-correlation")


def plot_worker_quality(workers: Any, quality: str | None = None, *,
                        path: str | os.PathLike[str] | None = None) -> Figure:
    """Scatter of each worker's number of answers (log scale) against a quality score.

    ``workers`` is the per-worker table of :func:`crowdlearn.identify.identify` (columns
    ``n-answers`` and a quality column; ``spammer``, ``adversarial`` and (regression)
    ``unreliable`` flags are drawn in their own colours, with their counts in the legend).
    ``quality`` defaults to the first column of :data:`QUALITY_COLUMNS`, then of
    :data:`REGRESSION_QUALITY_COLUMNS`, present. Saved to ``path`` when given.
    """
    from matplotlib.figure import Figure

    from ..errors import CrowdlearnError

    if quality is None:
        quality = next((c for c in QUALITY_COLUMNS + REGRESSION_QUALITY_COLUMNS
                        if c in workers), None)
    if "n-answers" not in workers or quality is None or quality not in workers:
        raise CrowdlearnError("the worker-quality figure needs the n-answers metric and one of "
                              f"{', '.join(QUALITY_COLUMNS)}")
    n = np.asarray(workers["n-answers"], dtype=np.float64)
    y = np.asarray(workers[quality], dtype=np.float64)
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    spam = np.asarray(workers["spammer"], dtype=bool) if "spammer" in workers else \
        np.zeros(len(n), dtype=bool)
    adv = np.asarray(workers["adversarial"], dtype=bool) if "adversarial" in workers else \
        np.zeros(len(n), dtype=bool)
    unrel = np.asarray(workers["unreliable"], dtype=bool) if "unreliable" in workers else \
        np.zeros(len(n), dtype=bool)
    rest = ~(spam | adv | unrel)
    groups = [(rest, "other workers", "tab:blue", "o"),
              (spam, "spammers", "tab:red", "x"),
              (adv, "adversarial", "tab:orange", "s"),
              (unrel, "unreliable", "tab:purple", "^")]
    for mask, label, colour, marker in groups:
        if mask.any() or label == "other workers":
            ax.scatter(n[mask], y[mask], s=18, c=colour, marker=marker, alpha=0.7,
                       label=f"{label} ({int(mask.sum())})")
    if len(n) and n.max() > 0:
        ax.set_xscale("log")
    ax.set_xlabel("answers given")
    ax.set_ylabel(quality)
    ax.set_title("Worker quality")
    ax.legend(loc="best", fontsize="small")
    if path is not None:
        from ..plots import save_figure

        save_figure(fig, path)
    return fig


def _save(fig: Figure, path: str | os.PathLike[str] | None) -> Figure:
    if path is not None:
        from ..plots import save_figure

        save_figure(fig, path)
    return fig


def plot_class_distribution(answers: Any, labels: Any, *,
                            path: str | os.PathLike[str] | None = None) -> Figure:
    """Bar chart of the share of each class among the votes and among the aggregated labels
    (``labels``: class index per task, ``-1`` for undecided, left out)."""
    from matplotlib.figure import Figure

    k = answers.n_classes
    votes = np.bincount(np.asarray(answers.label, dtype=np.int64), minlength=k)
    lab = np.asarray(labels, dtype=np.int64)
    agg = np.bincount(lab[lab >= 0], minlength=k)
    fig = Figure(figsize=(max(4.8, 0.55 * k + 2.5), 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(k)
    ax.bar(x - 0.2, votes / max(votes.sum(), 1), width=0.4,
           label=f"votes ({int(votes.sum())})", color="tab:gray")
    ax.bar(x + 0.2, agg / max(agg.sum(), 1), width=0.4,
           label=f"aggregated labels ({int(agg.sum())})", color="tab:blue")
    ax.set_xticks(x, [str(c) for c in answers.classes], rotation=45 if k > 8 else 0,
                  ha="right" if k > 8 else "center")
    ax.set_xlabel("class")
    ax.set_ylabel("share")
    ax.set_title("Class distribution: votes vs aggregated labels")
    ax.legend(fontsize="small")
    return _save(fig, path)


def calibration_bins(confidence: Any, correct: Any, n_bins: int = 10
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Reliability of posteriors: for ``n_bins`` equal-width confidence bins (``[0, 1]``, the
    last closed), the mean confidence, the accuracy and the count of the tasks in each, and
    the expected calibration error ``sum_b n_b/n |acc_b - conf_b|`` (Guo et al. 2017). Empty
    bins are NaN."""
    c = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    keep = np.isfinite(c)
    c, ok = c[keep], ok[keep]
    b = np.clip((c * n_bins).astype(np.int64), 0, n_bins - 1)
    n = np.bincount(b, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore"):
        mean_c = np.bincount(b, c, minlength=n_bins) / n
        acc = np.bincount(b, ok, minlength=n_bins) / n
    ece = float(np.nansum(n / max(n.sum(), 1) * np.abs(acc - mean_c)))
    return mean_c, acc, n.astype(np.int64), ece


def plot_calibration(confidence: Any, correct: Any, *, n_bins: int = 10,
                     path: str | os.PathLike[str] | None = None) -> Figure:
    """Reliability diagram of the aggregated labels against the truth: accuracy per bin of the
    posterior of the chosen label (``confidence``), the diagonal for perfect calibration, the
    number of tasks per bin, and the expected calibration error in the title."""
    from matplotlib.figure import Figure

    mean_c, acc, n, ece = calibration_bins(confidence, correct, n_bins)
    edges = np.linspace(0, 1, n_bins + 1)
    fig = Figure(figsize=(5.2, 5.6), layout="constrained")
    ax, ax_n = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ls="--", color="tab:gray", label="perfect calibration")
    ax.bar(edges[:-1], np.nan_to_num(acc), width=1 / n_bins, align="edge", alpha=0.7,
           edgecolor="black", color="tab:blue", label="accuracy")
    ax.plot(mean_c, acc, "o-", color="tab:orange", label="mean confidence vs accuracy")
    ax.set_ylabel("accuracy against the truth")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Calibration of the aggregated labels ({int(n.sum())} tasks with truth, "
                 f"ECE {ece:.3f})", fontsize=9)
    ax.legend(fontsize="small", loc="upper left")
    ax_n.bar(edges[:-1], n, width=1 / n_bins, align="edge", color="tab:gray")
    ax_n.set_xlabel("confidence (posterior of the chosen label)")
    ax_n.set_ylabel("tasks")
    ax_n.set_xlim(0, 1)
    return _save(fig, path)


def plot_fit_history(fit_dir: str | os.PathLike[str], *,
                     path: str | os.PathLike[str] | None = None) -> Figure:
    """Training curves (losses, accuracies per epoch) of a ``crowdlearn fit`` output folder,
    read from its ``results.json``."""
    import json
    from pathlib import Path

    from ..errors import DataError
    from ..plots import plot_training_history

    source = Path(fit_dir) / "results.json"
    try:
        results = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read a fit output: {exc}", source=str(source)) from exc
    # the per-epoch curves are the lists of results.json (train_loss, val_loss, ...)
    history = {k: v for k, v in results.items() if isinstance(v, list)
               and ("loss" in k or k.endswith("accuracy"))} if isinstance(results, dict) else {}
    nested = results.get("history") if isinstance(results, dict) else None
    if not history and isinstance(nested, dict):  # a regression fit: {"history": {...}}
        history = {k: v for k, v in nested.items() if isinstance(v, list)
                   and ("loss" in k or k.endswith("accuracy"))}
    try:
        fig = plot_training_history(history)
    except ValueError as exc:
        raise DataError(str(exc), source=str(source)) from exc
    return _save(fig, path)


def empirical_confusions(answers: Any) -> np.ndarray:
    """Each worker's confusion matrix against the truth (workers x K x K, rows = true class,
    normalised; a row without answers is zero), from the tasks with a known true label."""
    k, m = answers.n_classes, answers.n_workers
    out = np.zeros((m, k, k))
    if answers.truth is None:
        return out
    truth = np.asarray(answers.truth, dtype=np.int64)[answers.task]
    known = truth >= 0
    cell = (answers.worker[known].astype(np.int64) * k + truth[known]) * k + \
        answers.label[known].astype(np.int64)
    out = np.bincount(cell, minlength=m * k * k).reshape(m, k, k).astype(np.float64)
    rows = out.sum(axis=2, keepdims=True)
    return np.divide(out, rows, out=np.zeros_like(out), where=rows > 0)
