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


def plot_worker_quality(workers: Any, quality: str | None = None, *,
                        path: str | os.PathLike[str] | None = None) -> Figure:
    """Scatter of each worker's number of answers (log scale) against a quality score.

    ``workers`` is the per-worker table of :func:`crowdlearn.identify.identify` (columns
    ``n-answers`` and a quality column; ``spammer`` and ``adversarial`` flags are drawn in
    their own colours, with their counts in the legend). ``quality`` defaults to the first
    column of :data:`QUALITY_COLUMNS` present. Saved to ``path`` when given.
    """
    from matplotlib.figure import Figure

    from ..errors import CrowdlearnError

    if quality is None:
        quality = next((c for c in QUALITY_COLUMNS if c in workers), None)
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
    rest = ~(spam | adv)
    groups = [(rest, "other workers", "tab:blue", "o"),
              (spam, "spammers", "tab:red", "x"),
              (adv, "adversarial", "tab:orange", "s")]
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
