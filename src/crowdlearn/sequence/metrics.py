"""Exact-span precision, recall and F1 (the CoNLL-2003 / ``conlleval`` / ``seqeval`` definition).

A predicted entity counts as correct when a true entity has the same type, start and end
(:func:`crowdlearn.sequence.tags.spans` gives the spans, ``I-T`` after ``O`` starting an entity).
Precision = correct / predicted, recall = correct / true, F1 their harmonic mean; 0 where a
denominator is 0. ``seqeval`` (the optional extra ``crowdlearn[seq]``) computes them when it is
installed; otherwise the built-in implementation of the same definition does, with equal results
(tests check the two agree on random tag sequences).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .tags import spans


def _counts(true: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> tuple[int, int, int]:
    n_true = n_pred = n_ok = 0
    for t, p in zip(true, pred, strict=True):
        if len(t) != len(p):
            raise ValueError(f"a sentence has {len(t)} true and {len(p)} predicted tags")
        st, sp = set(spans(t)), set(spans(p))
        n_true += len(st)
        n_pred += len(sp)
        n_ok += len(st & sp)
    return n_true, n_pred, n_ok


def span_scores(true: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *,
                use_seqeval: bool | None = None) -> dict[str, Any]:
    """Exact-span ``precision``, ``recall``, ``f1`` (fractions) and the entity counts.

    Parameters
    ----------
    true, pred:
        One list of BIO tags per sentence, sentence lengths equal.
    use_seqeval:
        ``None`` (default): ``seqeval`` when it is installed, else the built-in implementation;
        ``True`` requires it, ``False`` never uses it.
    """
    n_true, n_pred, n_ok = _counts(true, pred)
    p = n_ok / n_pred if n_pred else 0.0
    r = n_ok / n_true if n_true else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    engine = "builtin"
    if use_seqeval or use_seqeval is None:
        try:
            import warnings

            from seqeval.metrics import f1_score, precision_score, recall_score
        except ImportError:
            if use_seqeval:
                raise
        else:
            t = [list(s) for s in true]
            q = [list(s) for s in pred]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # undefined metrics: seqeval warns, returns 0
                p, r, f = (float(precision_score(t, q)), float(recall_score(t, q)),
                           float(f1_score(t, q)))
            engine = "seqeval"
    return {"precision": p, "recall": r, "f1": f, "true_entities": n_true,
            "predicted_entities": n_pred, "correct_entities": n_ok, "engine": engine}


def evaluate(seq: Any, labels: np.ndarray, *, use_seqeval: bool | None = None
             ) -> dict[str, Any]:
    """Span scores of per-token tag indices ``labels`` on the gold sentences of ``seq``.

    A token with label ``-1`` (no answer) counts as ``O``: a sentence that no worker tagged
    predicts no entity. Adds ``sentences`` (how many gold sentences were scored).
    """
    gold = np.flatnonzero(seq.gold_sentences)
    true_all = seq.gold_tags()
    pred_all = seq.sentence_tags(labels)
    out = span_scores([true_all[i] for i in gold], [pred_all[i] for i in gold],
                      use_seqeval=use_seqeval)
    out["sentences"] = int(len(gold))
    return out
