"""Progress bars: the one place that decides whether a bar is drawn.

A bar redraws itself with carriage returns; written into a log file or a pipe that is noise
(thousands of ``\\r`` updates). :func:`progress_bar` therefore draws only when it was asked for
*and* someone watches: standard error is a terminal, or the code runs in a Jupyter kernel
(where :mod:`tqdm.auto` draws a widget). The environment variable ``CROWDLEARN_PROGRESS``
overrides the guess: ``0`` never draws, ``1`` always draws (when asked for).

Every progress bar of crowdlearn (training epochs, aggregation iterations, restarts) goes through
:func:`progress_bar`; code that only needs the decision calls :func:`show_progress`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["progress_bar", "show_progress"]

#: environment variable that forces bars on (``1``) or off (``0``)
ENV = "CROWDLEARN_PROGRESS"


def _in_notebook() -> bool:
    """Running inside a Jupyter (IPython) kernel, where tqdm.auto draws a widget."""
    if "ipykernel" not in sys.modules:
        return False
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _stderr_is_terminal() -> bool:
    stream = sys.stderr
    try:
        return stream is not None and bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced by an object without isatty
        return False


def show_progress(requested: bool = True) -> bool:
    """Whether a progress bar should be drawn.

    Parameters
    ----------
    requested:
        The caller's own setting (``verbose=True``, no ``--quiet``/``--no-progress``); ``False``
        always wins.

    Returns
    -------
    bool
        ``requested`` and (``CROWDLEARN_PROGRESS=1``, or, unless ``CROWDLEARN_PROGRESS=0``,
        standard error is a terminal or the code runs in a Jupyter kernel).
    """
    if not requested:
        return False
    forced = os.environ.get(ENV, "").strip().lower()
    if forced in ("0", "false", "no", "off"):
        return False
    if forced in ("1", "true", "yes", "on"):
        return True
    return _stderr_is_terminal() or _in_notebook()


def progress_bar(iterable: Any = None, *, requested: bool = True, **kwargs: Any) -> Any:
    """A :mod:`tqdm.auto` bar, disabled unless :func:`show_progress` says to draw it.

    A disabled bar still iterates over ``iterable`` and accepts ``update``, ``set_postfix`` and
    ``close`` (they do nothing), so callers never branch on it.

    Parameters
    ----------
    iterable:
        As for :class:`tqdm.tqdm` (or ``None`` with ``total=``).
    requested:
        The caller's own setting, see :func:`show_progress`.
    **kwargs:
        Passed to tqdm (``total``, ``desc``, ``unit``, ``leave``...).

    Examples
    --------
    >>> bar = progress_bar(total=3, requested=False)
    >>> bar.update(1); bar.close()
    """
    from tqdm.auto import tqdm

    kwargs.setdefault("file", sys.stderr)
    return tqdm(iterable, disable=not show_progress(requested), **kwargs)
