"""Matching one worker's sentences to the reference sentences of a document.

The rule (never a guess; every sentence not matched is counted and listed):

1. **Which reference sentence.** When the worker's file has as many sentences as the reference,
   sentence ``i`` is matched with reference sentence ``i``. Otherwise each worker sentence is
   matched with the next unused reference sentence (in order) that has the same text in the sense
   of rule 2 (with ``align="length"``: the same tokens); a sentence with no such reference
   sentence is unaligned.
2. **Same text.** Tokens are compared after removing an annotation suffix pasted onto a token
   (``Britain/LOC``, ``Davis/B-MISC``: a ``/`` followed by an optional ``B-``/``I-`` and 2-5
   capital letters at the end of the token) and surrounding white space. A sentence is aligned
   when its tokens equal the reference's (``exact`` or ``annotated``), or when the concatenation
   of its tokens equals the reference's concatenation (``retokenised``: ``German`` ``y`` for
   ``Germany``, an empty token): each reference token then takes the tag of the worker token in
   which its first character lies; a reference token that starts *inside* a worker token
   continues that token's entity (``I-T`` after ``B-T``/``I-T``, ``O`` after ``O``).
   With ``align="length"`` a sentence is kept exactly when it has the reference's number of
   tokens, whatever its text (``length_only`` when the text differs), and never re-tokenised:
   the simple rule of the shared data set's README, kept to reproduce its numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_SUFFIX = re.compile(r"/(?:[BI]-)?[A-Z]{2,5}$")

#: values of ``align``
ALIGN_MODES = ("text", "length")


def normalise(token: str) -> str:
    """A token without white space around it and without a pasted annotation suffix."""
    return _SUFFIX.sub("", token.strip())


def match_sentence(ref: Sequence[str], tokens: Sequence[str], tags: Sequence[str],
                   align: str = "text") -> tuple[list[str] | None, str]:
    """The worker's ``tags`` carried onto the reference tokens ``ref``, and how they matched.

    Returns ``(tags for ref, kind)`` with kind ``exact``, ``annotated``, ``retokenised`` or
    ``length_only``, or ``(None, reason)`` when the sentence cannot be aligned.
    """
    if len(tokens) == len(ref):
        if list(tokens) == list(ref):
            return list(tags), "exact"
        if all(normalise(a) == normalise(b) for a, b in zip(ref, tokens, strict=True)):
            return list(tags), "annotated"
        if align == "length":
            return list(tags), "length_only"
    if align == "length":
        return None, f"{len(tokens)} tokens for {len(ref)}"
    r_norm = [normalise(t) for t in ref]
    w_norm = [normalise(t) for t in tokens]
    if "".join(r_norm) != "".join(w_norm):
        return None, ("same length, other text" if len(tokens) == len(ref)
                      else f"{len(tokens)} tokens for {len(ref)}, other text")
    if any(not t for t in r_norm):
        return None, "reference has an empty token"
    r_len = np.fromiter((len(t) for t in r_norm), dtype=np.int64, count=len(r_norm))
    w_len = np.fromiter((len(t) for t in w_norm), dtype=np.int64, count=len(w_norm))
    r_start = np.cumsum(r_len) - r_len
    keep = np.flatnonzero(w_len > 0)  # empty worker tokens cover no character
    w_start = (np.cumsum(w_len) - w_len)[keep]
    host = keep[np.searchsorted(w_start, r_start, side="right") - 1]
    inside = w_start[np.searchsorted(w_start, r_start, side="right") - 1] != r_start
    out = []
    for h, cont in zip(host.tolist(), inside.tolist(), strict=True):
        tag = tags[h]
        out.append(tag if not cont else ("O" if tag == "O" else "I-" + tag[2:]))
    return out, "retokenised"


def match_file(ref_doc: Sequence[Sequence[str]], sentences: Sequence[Sequence[str]],
               tags: Sequence[Sequence[str]], align: str = "text"
               ) -> list[tuple[int, list[str] | None, str]]:
    """Match every sentence of one worker's file with a reference sentence of its document.

    Returns one ``(reference sentence index or -1, tags or None, kind or reason)`` per worker
    sentence (see the module rule).
    """
    out: list[tuple[int, list[str] | None, str]] = []
    if len(sentences) == len(ref_doc):
        for i, (tok, tg) in enumerate(zip(sentences, tags, strict=True)):
            got, kind = match_sentence(ref_doc[i], tok, tg, align)
            out.append((i if got is not None else -1, got, kind))
        return out
    nxt = 0
    for tok, tg in zip(sentences, tags, strict=True):
        found = False
        for j in range(nxt, len(ref_doc)):
            got, kind = match_sentence(ref_doc[j], tok, tg, "text")
            if got is not None and not (align == "length" and kind == "retokenised"):
                out.append((j, got, kind))
                nxt = j + 1
                found = True
                break
        if not found:
            out.append((-1, None, f"{len(sentences)} sentences in the file for "
                        f"{len(ref_doc)} in the document, and no later sentence has this text"))
    return out


def reference_from_workers(files: Sequence[Sequence[Sequence[str]]]) -> list[list[str]]:
    """Reference sentences of a document without gold, derived from its workers' files.

    ``files`` are the workers' token lists in worker-id order. The number of sentences is the
    most common count among the files (ties: the first file's count among the tied); sentence
    ``i`` is the most common normalised token sequence at position ``i`` among the files with that
    count (ties: the first file in worker order), spelt as in the first file that has it.
    """
    counts: dict[int, int] = {}
    for f in files:
        counts[len(f)] = counts.get(len(f), 0) + 1
    best = max(counts.values())
    n = next(len(f) for f in files if counts[len(f)] == best)
    chosen = [f for f in files if len(f) == n]
    ref: list[list[str]] = []
    for i in range(n):
        seen: dict[tuple[str, ...], list] = {}
        for f in chosen:
            key = tuple(normalise(t) for t in f[i])
            if key in seen:
                seen[key][0] += 1
            else:
                seen[key] = [1, list(f[i])]
        top = max(v[0] for v in seen.values())
        ref.append(next(v[1] for v in seen.values() if v[0] == top))
    return ref
