"""Diagnostic figures: annotators' confusion matrices and training curves.

The functions build :class:`matplotlib.figure.Figure` objects directly, without
``matplotlib.pyplot``: no global state and no GUI backend, so they work headless, in threads
and in scripts alike. matplotlib is imported only when a function is called. Show a figure in a
notebook by leaving it as the cell's value, or save it with ``path=``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_confusions", "plot_training_history"]

_ANNOTATE_UP_TO = 6  # write the values in the cells when there are at most this many classes


def plot_confusions(
    estimated: Any,
    true: Any = None,
    *,
    workers: Sequence[int] | np.ndarray | str | None = None,
    classes: Sequence[Any] | None = None,
    worker_names: Sequence[Any] | None = None,
    max_workers: int = 12,
    activity: Sequence[int] | np.ndarray | None = None,
    match: bool = True,
    show_error: bool = True,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Heatmaps of annotators' confusion matrices, estimated and (optionally) true.

    One column per annotator. With ``true``, the first row shows the true confusion matrices and
    the second the estimated ones; without it, one row of estimated matrices. Every panel uses
    the same colour scale (0 to 1) and a shared colour bar; rows are the true class, columns the
    answer.

    Parameters
    ----------
    estimated:
        Confusion matrices, shape ``(M, K, K)`` (or ``(K, K)`` for one annotator), rows summing
        to 1.
    true:
        The true confusion matrices, same shape, or ``None``.
    workers:
        Which annotators to show: indices, or ``"most-active"`` (the ``max_workers`` with the
        most answers, from ``activity``), ``"worst"`` (the ``max_workers`` with the largest
        L1 error against ``true``, or without it the lowest mean diagonal), ``"first"``.
        Default ``"most-active"`` when ``activity`` is given, else ``"first"``. When some
        annotators are left out, the figure's title says which are shown and how many are
        left out.
    classes:
        Class names for the axes (default ``0 .. K-1``).
    worker_names:
        Names of all ``M`` annotators for the titles (default ``annotator <index>``).
    max_workers:
        How many annotators to show when ``workers`` is not a list of indices.
    activity:
        Answers given by each of the ``M`` annotators (for ``"most-active"``).
    match:
        With ``true``: reorder the estimated classes by the permutation shared by all
        annotators that best matches the true ones (as
        :func:`crowdlearn.metrics.confusion_estimation_error` does) before drawing them.
    show_error:
        With ``true``: put each annotator's relative L1 error
        (:func:`crowdlearn.metrics.per_annotator_confusion_error`) in the estimated panel's
        title.
    path:
        Where to save the figure (atomically); the format comes from the suffix (``.png``,
        ``.pdf``, ``.svg``, ...). Missing parent folders are created.

    Returns
    -------
    matplotlib.figure.Figure
        ``rows x len(workers)`` heatmap axes followed by one colour-bar axes.

    Examples
    --------
    >>> import numpy as np
    >>> est = np.array([[[0.9, 0.1], [0.2, 0.8]]] * 3)
    >>> fig = plot_confusions(est, est)
    >>> len(fig.axes)  # 2 rows x 3 annotators + the colour bar
    7
    """
    from matplotlib.figure import Figure

    from .metrics import _confusion_pair, _shared_permutation, per_annotator_confusion_error

    est = np.asarray(estimated, dtype=np.float64)
    if true is None:
        if est.ndim == 2:
            est = est[None]
        if est.ndim != 3 or est.shape[1] != est.shape[2] or est.shape[0] == 0:
            raise ValueError(f"estimated must have shape (M, K, K) or (K, K), got {est.shape}")
        tru = None
    else:
        tru, est = _confusion_pair(true, est)
    n_annot, k = est.shape[0], est.shape[1]
    if worker_names is not None and len(worker_names) != n_annot:
        raise ValueError(f"{len(worker_names)} worker names for {n_annot} annotators")
    names = [str(c) for c in classes] if classes is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for {k} classes")

    errors = None
    reordered = False
    if tru is not None:
        if match:
            perm = _shared_permutation(tru, est)
            reordered = not np.array_equal(perm, np.arange(k))
            est = est[:, perm, :]
        if show_error:
            errors = per_annotator_confusion_error(tru, est, match=False)

    selection, shown = _select_workers(workers, est, tru, n_annot, max_workers, activity,
                                       errors)
    panels = [("true", tru), ("estimated", est)] if tru is not None else [("estimated", est)]
    n_rows, n_cols = len(panels), len(shown)
    notes = []
    if len(np.unique(shown)) < n_annot:
        left_out = n_annot - len(np.unique(shown))
        notes.append(f"{selection} {len(shown)} of {n_annot} annotators ({left_out} left out)")
    if reordered:
        notes.append("estimated classes reordered to match the true ones")
    # a fixed layout in inches (constrained layout takes seconds with many panels)
    side = 1.4 + 0.1 * k
    gap_x, gap_y = 0.25, 0.55  # between panels (room for two-line titles)
    left, right, bottom = 0.75, 1.1, 0.35 + 0.06 * max(len(n) for n in names)
    top = 0.75 + 0.17 * len(notes)
    width = left + right + n_cols * side + (n_cols - 1) * gap_x
    height = bottom + top + n_rows * side + (n_rows - 1) * gap_y
    fig = Figure(figsize=(width, height))
    grid = fig.subplots(n_rows, n_cols, squeeze=False, gridspec_kw=dict(
        left=left / width, right=1 - right / width, bottom=bottom / height,
        top=1 - top / height, wspace=gap_x / side, hspace=gap_y / side))
    image = None
    for r, (kind, mats) in enumerate(panels):
        for c, w in enumerate(shown):
            ax = grid[r, c]
            image = ax.imshow(mats[w], vmin=0.0, vmax=1.0, cmap="viridis",
                              interpolation="nearest")
            who = str(worker_names[w]) if worker_names is not None else f"annotator {w}"
            if kind == "true":
                title = f"{who}\ntrue"
            elif tru is None:
                title = who
            else:
                title = "estimated" + (f"\nL1 error {errors[w]:.3f}" if errors is not None
                                       else "")
            ax.set_title(title, fontsize=9)
            _confusion_ticks(ax, names, left=c == 0, bottom=r == n_rows - 1)
            if k <= _ANNOTATE_UP_TO:
                _annotate(ax, mats[w])
    bar = fig.add_axes((1 - (right - 0.25) / width, bottom / height, 0.15 / width,
                        (height - bottom - top) / height))
    fig.colorbar(image, cax=bar, label="probability")
    if notes:
        fig.suptitle("\n".join(notes), fontsize=9, y=1 - 0.05 / height, va="top")
    if path is not None:
        save_figure(fig, path)
    return fig


_SELECTIONS = ("most-active", "worst", "first")


def _select_workers(workers: Any, est: np.ndarray, tru: np.ndarray | None, n_annot: int,
                    max_workers: int, activity: Any, errors: np.ndarray | None = None
                    ) -> tuple[str, np.ndarray]:
    """(how the annotators were chosen, in words; their indices) for :func:`plot_confusions`."""
    if workers is None:
        workers = "most-active" if activity is not None else "first"
    if isinstance(workers, str):
        if workers not in _SELECTIONS:
            raise ValueError(f"workers must be one of {', '.join(_SELECTIONS)} or indices, "
                             f"got {workers!r}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        n = min(n_annot, max_workers)
        if workers == "first":
            return "first", np.arange(n)
        if workers == "most-active":
            if activity is None:
                raise ValueError("workers='most-active' needs activity (answers per annotator)")
            act = np.asarray(activity, dtype=np.float64).reshape(-1)
            if len(act) != n_annot:
                raise ValueError(f"{len(act)} activity counts for {n_annot} annotators")
            return "the most active", np.argsort(-act, kind="stable")[:n]
        if tru is not None:
            from .metrics import per_annotator_confusion_error

            badness = errors if errors is not None else \
                per_annotator_confusion_error(tru, est, match=False)
            how = "the worst (largest L1 error)"
        else:
            badness = -np.trace(est, axis1=1, axis2=2)
            how = "the worst (lowest mean diagonal)"
        return how, np.argsort(-np.asarray(badness), kind="stable")[:n]
    shown = np.asarray(workers, dtype=np.int64).reshape(-1)
    if len(shown) == 0:
        raise ValueError("workers is empty")
    if shown.min() < -n_annot or shown.max() >= n_annot:
        raise IndexError(f"worker index out of range 0..{n_annot - 1}")
    return "selected", shown % n_annot


def _confusion_ticks(ax: Axes, names: list[str], *, left: bool, bottom: bool) -> None:
    k = len(names)
    step = max(1, k // 10)
    ticks = np.arange(0, k, step)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xticklabels([names[i] for i in ticks] if bottom else [], rotation=90, fontsize=7)
    ax.set_yticklabels([names[i] for i in ticks] if left else [], fontsize=7)
    if left:
        ax.set_ylabel("true class", fontsize=8)
    if bottom:
        ax.set_xlabel("answer", fontsize=8)


def _annotate(ax: Axes, mat: np.ndarray) -> None:
    for (i, j), v in np.ndenumerate(mat):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                color="black" if v > 0.6 else "white")


def plot_training_history(
    history: Mapping[str, Sequence[float] | np.ndarray],
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Training curves: losses in one panel, accuracies in another, epochs on the x axis.

    Parameters
    ----------
    history:
        ``{name: values per epoch}``, as the training loops record it. Keys containing
        ``loss`` (``train_loss``, ``val_loss``) go to the loss panel; keys ending in
        ``accuracy`` or ``acc`` (``val_accuracy``, ``test_accuracy``) to the accuracy panel;
        other keys are ignored. Curves may have different lengths (epoch ``i + 1`` is element
        ``i``); ``None`` or NaN leaves a gap.
    path:
        Where to save the figure (atomically); the format comes from the suffix.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per non-empty panel (losses first), so one or two.

    Raises
    ------
    ValueError
        When ``history`` has no loss and no accuracy curve.

    Examples
    --------
    >>> fig = plot_training_history({"train_loss": [1.0, 0.5], "val_accuracy": [0.6, 0.8]})
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['loss', 'accuracy']
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    losses = {k: v for k, v in history.items() if "loss" in k.lower()}
    accs = {k: v for k, v in history.items()
            if k not in losses and k.lower().endswith(("accuracy", "acc"))}
    groups = [(n, g) for n, g in (("loss", losses), ("accuracy", accs)) if g]
    if not groups:
        raise ValueError(
            f"no loss or accuracy curve in the history (keys: {', '.join(map(str, history))})"
        )
    fig = Figure(figsize=(5.0 * len(groups), 3.6), layout="tight")
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, (label, curves) in zip(axes, groups, strict=True):
        top = 0
        for name, values in curves.items():
            y = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            x = np.arange(1, len(y) + 1)
            top = max(top, len(y))
            ax.plot(x, y, marker="o" if len(y) <= 30 else None, markersize=3, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        if top:
            ax.set_xlim(0.5, top + 0.5)
        if label == "accuracy":
            values = np.concatenate([np.array([np.nan if v is None else v for v in c],
                                              dtype=np.float64) for c in curves.values()])
            finite = values[np.isfinite(values)]
            if len(finite) and finite.min() >= 0 and finite.max() <= 1:
                ax.set_ylim(0, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Save ``fig`` to ``path`` atomically, in the format of its suffix (png, pdf, svg, ...).

    Missing parent folders are created. Returns ``path``.
    """
    from .io._atomic import atomic_write

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(
            f"{os.fspath(path)}: cannot tell the image format from the suffix "
            f"(use one of {', '.join('.' + s for s in sorted(supported))})"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=fmt, dpi=120)
    return path
