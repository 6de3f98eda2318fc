"""The one place that decides the kind of answers a command works on.

``class`` (class labels, every strategy of :mod:`crowdlearn.aggregate`) or ``sequence`` (tag
sequences, :mod:`crowdlearn.sequence`). ``--kind`` states it; without it the input decides: a
CoNLL-style crowd folder (:func:`crowdlearn.sequence.find_layout`) is ``sequence``, anything else
``class``.
"""

from __future__ import annotations

import argparse
from typing import Any

#: answer kinds the command-line tool knows
KINDS: tuple[str, ...] = ("class", "sequence")


def add_kind_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--kind`` option (default: detected from the input)."""
    parser.add_argument("--kind", choices=KINDS, default=None,
                        help="kind of answers (default: detected; a folder of per-worker CoNLL "
                        "files is 'sequence')")


def answer_kind(path: Any, kind: str | None = None, **layout: Any) -> str:
    """``kind`` when given, else ``sequence`` for a sequence folder and ``class`` otherwise.

    ``--kind sequence`` on something that is not a sequence folder is a :class:`DataError`.
    """
    from .sequence.reader import find_layout

    if kind not in (None, "sequence"):
        return kind
    found = isinstance(path, (str, bytes)) or hasattr(path, "__fspath__")
    is_seq = found and find_layout(path, **layout) is not None
    if kind == "sequence" and not is_seq:
        from .sequence.reader import read_sequences

        read_sequences(path, **layout)  # raises the reader's one-line error
    return "sequence" if is_seq else "class"
