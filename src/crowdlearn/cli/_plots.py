"""Figure options shared by ``identify`` and ``fit``: which workers the confusion grid shows
(``--workers``) and the image format (``--plot-format``)."""

from __future__ import annotations

from typing import Any

__all__ = ["add_format_argument", "add_workers_argument", "confusions_note", "workers_choice"]

WORKER_CHOICES = ("most-active", "worst", "first")


def add_workers_argument(g: Any) -> None:
    g.add_argument("--workers", nargs="+", default=None, metavar="WHICH",
                   help="workers of the confusion grid: most-active (default: the 12 with the "
                   "most answers), worst (largest error against the truth when known, else "
                   "lowest diagonal), first, or worker ids; the figure's title and the "
                   "summary say which are shown and how many are left out")


def add_format_argument(g: Any) -> None:
    g.add_argument("--plot-format", choices=("png", "pdf", "svg"), default="png",
                   help="format of the figures (default png)")


def workers_choice(values: list[str] | None, worker_ids: Any) -> Any:
    """``--workers`` as :func:`crowdlearn.plots.plot_confusions` takes it: a selection name,
    or the indices of the given worker ids (an unknown id is an error)."""
    import numpy as np

    from ..errors import CrowdlearnError

    if not values:
        return None
    items = [v.strip() for value in values for v in value.split(",") if v.strip()]
    if len(items) == 1 and items[0] in WORKER_CHOICES:
        return items[0]
    names = [str(w) for w in np.asarray(worker_ids).tolist()]
    index = {n: i for i, n in enumerate(names)}
    bad = [v for v in items if v not in index]
    if bad:
        raise CrowdlearnError(f"--workers: unknown worker {bad[0]!r} (give "
                              f"{', '.join(WORKER_CHOICES)} or worker ids)")
    return np.array([index[v] for v in items], dtype=np.int64)


def confusions_note(fig: Any, n_workers: int) -> str:
    """What the confusion grid shows, from its title (``plot_confusions`` writes it when some
    workers are left out)."""
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    line = title.splitlines()[0] if title else ""
    if "left out" in line:
        return line + " (--workers most-active|worst|IDS to choose)"
    return f"all {n_workers} workers"

