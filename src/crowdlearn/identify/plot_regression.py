"""Figures of real-valued (regression) diagnostics: worker scale and bias, answers vs estimates,
estimates vs truth.

Built on :class:`matplotlib.figure.Figure` without ``pyplot`` (headless, no global state);
matplotlib is imported only when a function is called. The answers-vs-quality figure is
:func:`crowdlearn.identify.plot.plot_worker_quality` (``peer-correlation`` as the quality).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .plot import _save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["empirical_parameters", "plot_estimates_vs_truth", "plot_value_distribution",
           "plot_worker_parameters"]

_FLAG_STYLE = {"spammer": ("tab:red", "x"), "adversarial": ("tab:orange", "s"),
               "unreliable": ("tab:purple", "^")}


def empirical_parameters(answers: Any, min_answers: int = 2
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each worker's least-squares line of his answers on the truth (tasks with known truth):
    ``(scale, bias, n)``; NaN where he has fewer than ``min_answers`` (at least 2) such answers
    or their truth does not vary."""
    m = answers.n_workers
    if not answers.has_truth:
        return np.full(m, np.nan), np.full(m, np.nan), np.zeros(m, dtype=np.int64)
    z = answers.truth[answers.task]
    ok = np.isfinite(z)
    w, y, z = answers.worker[ok], answers.value[ok], z[ok]
    n = np.bincount(w, minlength=m).astype(np.float64)
    safe = np.maximum(n, 1.0)
    mz, my = np.bincount(w, z, m) / safe, np.bincount(w, y, m) / safe
    dz = z - mz[w]
    szz = np.bincount(w, dz * dz, m)
    szy = np.bincount(w, dz * (y - my[w]), m)
    scale = np.full(m, np.nan)
    fit = (n >= max(min_answers, 2)) & (szz > 1e-12 * safe)
    scale[fit] = szy[fit] / szz[fit]
    return scale, my - scale * mz, n.astype(np.int64)


def plot_worker_parameters(workers: Any, empirical: tuple[np.ndarray, np.ndarray] | None = None,
                           *, path: str | os.PathLike[str] | None = None) -> Figure:
    """Each worker's estimated scale (x) and bias (y), marker area growing with his answers,
    flagged workers in their colours; with ``empirical`` = ``(scale, bias)`` against the truth
    (:func:`empirical_parameters`), those as hollow circles joined to the estimates."""
    from matplotlib.figure import Figure

    from ..errors import CrowdlearnError

    if not {"scale", "bias", "n-answers"} <= set(workers):
        raise CrowdlearnError("the worker-parameter figure needs the scale, bias and n-answers "
                              "metrics")
    a = np.asarray(workers["scale"], dtype=np.float64)
    b = np.asarray(workers["bias"], dtype=np.float64)
    n = np.asarray(workers["n-answers"], dtype=np.float64)
    size = 10 + 20 * np.log1p(n)
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = fig.add_subplot()
    ax.axvline(1.0, color="tab:gray", lw=0.8, ls="--")
    ax.axhline(0.0, color="tab:gray", lw=0.8, ls="--")
    if empirical is not None:
        ea, eb = (np.asarray(v, dtype=np.float64) for v in empirical)
        known = np.isfinite(ea) & np.isfinite(eb)
        from matplotlib.collections import LineCollection

        segments = np.stack([np.column_stack([a, b]), np.column_stack([ea, eb])], axis=1)
        ax.add_collection(LineCollection(segments[known], colors="tab:gray", linewidths=0.6,
                                         alpha=0.6))
        ax.scatter(ea[known], eb[known], s=size[known], facecolors="none",
                   edgecolors="black", lw=0.8, label=f"against the truth ({int(known.sum())})")
    flagged = np.zeros(len(a), dtype=bool)
    for flag, (colour, marker) in _FLAG_STYLE.items():
        if flag in workers:
            mask = np.asarray(workers[flag], dtype=bool) & ~flagged
            flagged |= mask
            if mask.any():
                ax.scatter(a[mask], b[mask], s=size[mask], c=colour, marker=marker,
                           label=f"{flag} ({int(mask.sum())})")
    rest = ~flagged
    ax.scatter(a[rest], b[rest], s=size[rest], c="tab:blue", alpha=0.6,
               label=f"other workers ({int(rest.sum())})")
    ax.set_xlabel("scale (answer = scale x truth + bias + noise)")
    ax.set_ylabel("bias")
    ax.set_title("Worker scale and bias" + (" (estimated, and against the truth)"
                                           if empirical is not None else " (estimated)"))
    ax.legend(loc="best", fontsize="small")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_value_distribution(answers: Any, estimates: Any, *,
                            path: str | os.PathLike[str] | None = None) -> Figure:
    """Histograms of the answers and of the aggregated estimates on shared bins (the
    regression counterpart of the class-distribution figure)."""
    from matplotlib.figure import Figure

    y = np.asarray(answers.value, dtype=np.float64)
    e = np.asarray(estimates, dtype=np.float64)
    e = e[np.isfinite(e)]
    both = np.concatenate([y, e]) if len(e) else y
    bins = np.histogram_bin_edges(both, bins=30) if len(both) else 10
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.hist(y, bins=bins, density=True, color="tab:gray", alpha=0.6,
            label=f"answers ({len(y)})")
    ax.hist(e, bins=bins, density=True, histtype="step", lw=2, color="tab:blue",
            label=f"estimates ({len(e)})")
    ax.set_xlabel("value")
    ax.set_ylabel("density")
    ax.set_title("Answers vs aggregated estimates")
    ax.legend(fontsize="small")
    return _save(fig, path)


def interval_coverage(estimates: Any, posterior_sd: Any, truth: Any) -> tuple[float, int]:
    """Share of the tasks with known truth and an estimate whose truth lies within
    ``estimate +- 1.96 posterior_sd`` (the 95% posterior interval), and their number."""
    e, s, z = (np.asarray(v, dtype=np.float64) for v in (estimates, posterior_sd, truth))
    ok = np.isfinite(e) & np.isfinite(s) & np.isfinite(z)
    if not ok.any():
        return float("nan"), 0
    return float((np.abs(z[ok] - e[ok]) <= 1.959963984540054 * s[ok]).mean()), int(ok.sum())


def plot_estimates_vs_truth(estimates: Any, truth: Any, posterior_sd: Any = None, *,
                            path: str | os.PathLike[str] | None = None) -> Figure:
    """Aggregated estimates against the true values (tasks with both), the diagonal, and R^2,
    MAE and (with ``posterior_sd``) the coverage of the 95% posterior intervals in the title."""
    from matplotlib.figure import Figure

    from ..metrics_regression import regression_scores

    e, z = np.asarray(estimates, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    ok = np.isfinite(e) & np.isfinite(z)
    s = regression_scores(z, e)
    fig = Figure(figsize=(5.2, 5.2), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(z[ok], e[ok], s=8, alpha=0.5, color="tab:blue")
    if ok.any():
        lo, hi = float(min(z[ok].min(), e[ok].min())), float(max(z[ok].max(), e[ok].max()))
        ax.plot([lo, hi], [lo, hi], ls="--", color="tab:gray", label="estimate = truth")
        ax.legend(fontsize="small", loc="upper left")
    title = f"Estimates vs truth ({s['n']} tasks): R^2 {s['r2']:.3f}, MAE {s['mae']:.4f}"
    if posterior_sd is not None:
        cover, _ = interval_coverage(e, posterior_sd, z)
        title += f"\n95% posterior intervals cover {100 * cover:.1f}% of the true values"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("true value")
    ax.set_ylabel("aggregated estimate")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)
