"""BIO tags: validation, the tag set, and spans.

A tag is ``O`` or ``B-TYPE`` / ``I-TYPE`` with a non-empty ``TYPE`` (``B-PER``, ``I-LOC``). The tag
set of a data set is ``O`` followed by ``B-T, I-T`` for every entity type ``T`` seen anywhere in
the data (gold or workers), types sorted by name: both tags of a type are present even when only
one was used, so that models can put probability on either. ``I-T`` after ``O`` (or after another
type) is valid data; evaluation reads it as the start of an entity, as CoNLL's ``conlleval`` and
``seqeval`` do (see :func:`spans`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import DataError

_TAG = re.compile(r"^(?:O|[BI]-\S+)$")


def is_tag(tag: str) -> bool:
    """Whether ``tag`` is ``O``, ``B-TYPE`` or ``I-TYPE``."""
    return bool(_TAG.match(tag))


def check_tag(tag: str, *, source: str | None = None, where: str | None = None) -> str:
    """``tag``, or a :class:`DataError` naming ``source`` and ``where`` when it is not BIO."""
    if not _TAG.match(tag):
        shown = tag if len(tag) <= 30 else tag[:27] + "..."
        raise DataError(f"{shown!r} is not a BIO tag (O, B-TYPE or I-TYPE)", source=source,
                        where=where, field="tag")
    return tag


def tag_set(tags: Iterable[str]) -> list[str]:
    """The tag set of data using ``tags``: ``O``, then ``B-T``, ``I-T`` for each type ``T`` sorted.

    >>> tag_set(["O", "I-PER", "B-LOC", "O"])
    ['O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER']
    """
    types = sorted({t[2:] for t in tags if t != "O"})
    out = ["O"]
    for t in types:
        out += [f"B-{t}", f"I-{t}"]
    return out


def entity_types(tags: Sequence[str]) -> list[str]:
    """The entity types of a tag set, in its order."""
    return [t[2:] for t in tags if t.startswith("B-")]


def spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity spans ``(type, start, end)`` (end exclusive) of one sentence's BIO tags.

    The CoNLL rule (``conlleval``, ``seqeval``'s default mode): an entity starts at ``B-T``, and
    at ``I-T`` that does not continue an entity of type ``T`` (after ``O``, at the sentence start,
    or after another type); it ends before the next tag that does not continue it.

    >>> spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
    [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5), ('ORG', 5, 6)]
    """
    out: list[tuple[str, int, int]] = []
    cur: str | None = None
    start = 0
    for i, tag in enumerate(tags):
        prefix, typ = (tag[0], tag[2:]) if tag != "O" else ("O", "")
        if cur is not None and (prefix != "I" or typ != cur):
            out.append((cur, start, i))
            cur = None
        if prefix == "B" or (prefix == "I" and cur is None):
            cur, start = typ, i
    if cur is not None:
        out.append((cur, start, len(tags)))
    return out


def encode_tags(tags: Sequence[str], names: Sequence[str], *, source: str | None = None
                ) -> np.ndarray:
    """Tag strings as indices into ``names`` (int32); an unknown tag is a :class:`DataError`."""
    index = {t: i for i, t in enumerate(names)}
    try:
        return np.fromiter((index[t] for t in tags), dtype=np.int32, count=len(tags))
    except KeyError as exc:
        raise DataError(f"tag {exc.args[0]!r} is not in the tag set ({', '.join(names)})",
                        source=source, field="tag") from None
