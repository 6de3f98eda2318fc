"""Figures as ``data:`` URIs, for pages that must not load any other file."""

from __future__ import annotations

import base64
import io
from typing import Any


def figure_uri(fig: Any, dpi: int = 96) -> str:
    """``data:image/png;base64,...`` of a :class:`matplotlib.figure.Figure`."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def plot_ambiguity(values: Any, name: str) -> Any:
    """Histogram of a per-task ambiguity score (``posterior-entropy``, ``vote-entropy``)."""
    import numpy as np
    from matplotlib.figure import Figure

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax = fig.add_subplot()
    ax.hist(v, bins=40, color="tab:blue", alpha=0.8)
    ax.set_xlabel(name)
    ax.set_ylabel("tasks")
    ax.set_title(f"Task ambiguity ({len(v)} tasks)")
    ax.grid(True, alpha=0.3)
    return fig
