"""Crowds simulated from a known hidden Markov model, with a chosen worker structure.

Unlike :func:`crowdlearn.sequence.simulate_sequences` (entity-level error habits), this draws
the data exactly from the generative families :class:`~crowdlearn.sequence.hmm.HMMCrowd` fits,
so that the structure behind the answers is known and can differ from a model's assumptions:

* true tags: a BIO Markov chain over ``n_types`` entity types (start: ``O`` with probability
  0.8, else a uniform ``B-T``; after ``O``: ``O`` 0.85, each ``B-T`` 0.15 / types; inside an
  entity: its ``I-T`` 0.5, ``O`` 0.4, another type's ``B-`` 0.1);
* words: ``w<id>`` from a vocabulary of ``vocabulary`` ids; a tag's word is drawn from its own
  share of the vocabulary with probability ``word_signal`` and uniformly otherwise
  (``word_signal=0``: words say nothing about tags);
* worker tags, ``structure="full"``: ``l_t ~ Cat(pi_w[h_t])`` independently per token (the
  HMM-crowd worker model); ``structure="seq"``: ``l_t ~ Cat(pi_w[l_{t-1}, h_t])``, a separate
  confusion for each previous tag of the same worker (BSC-seq's sequential model). Each row has
  the correct tag with probability drawn uniformly from ``accuracy`` and spreads the rest over
  the other tags by a ``Dirichlet(0.5)`` draw; under ``"seq"`` every previous-tag context has its
  own draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DataError
from .data import SequenceAnswers
from .simulate import SimulatedSequences

__all__ = ["simulate_hmm_crowd"]

TYPES = ("LOC", "MISC", "ORG", "PER")


def _chain(types: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    tags = ["O"] + [f"{p}-{t}" for t in types for p in "BI"]
    k, n = len(tags), len(types)
    start = np.zeros(k)
    start[0] = 0.8
    start[1::2] = 0.2 / n
    trans = np.zeros((k, k))
    trans[0, 0] = 0.85
    trans[0, 1::2] = 0.15 / n
    for j in range(n):
        for row in (1 + 2 * j, 2 + 2 * j):
            trans[row, 2 + 2 * j] = 0.5
            trans[row, 0] = 0.4
            others = [1 + 2 * i for i in range(n) if i != j]
            if others:
                trans[row, others] = 0.1 / len(others)
            else:
                trans[row, 0] += 0.1
    return tags, start, trans


def _draw(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs``."""
    u = rng.random(len(probs))
    return np.minimum((np.cumsum(probs, axis=1) < u[:, None]).sum(axis=1), probs.shape[1] - 1)


def _confusions(rng: np.random.Generator, n_workers: int, n_prev: int, k: int,
                accuracy: tuple[float, float]) -> np.ndarray:
    acc = rng.uniform(accuracy[0], accuracy[1], size=(n_workers, n_prev, k))
    err = rng.dirichlet(np.full(k - 1, 0.5), size=(n_workers, n_prev, k))
    conf = np.zeros((n_workers, n_prev, k, k))
    off = ~np.eye(k, dtype=bool)
    conf[..., off] = ((1.0 - acc)[..., None] * err).reshape(n_workers, n_prev, -1)
    conf[..., np.arange(k), np.arange(k)] = acc
    return conf


def simulate_hmm_crowd(
    n_sentences: int = 300,
    length: tuple[int, int] = (5, 25),
    n_types: int = 2,
    n_workers: int = 10,
    workers_per_sentence: int = 4,
    structure: str = "full",
    accuracy: tuple[float, float] = (0.6, 0.95),
    word_signal: float = 0.0,
    vocabulary: int = 100,
    seed: int | None = None,
) -> SimulatedSequences:
    """Simulate a crowd from a known HMM (see the module documentation).

    Returns the answers (gold tags = the true chain; one document per 10 sentences), each
    worker's mean probability of a correct tag (``workers["accuracy"]``) and the settings
    (with the true ``start``, ``transitions`` and ``confusions``:
    ``(workers, contexts, true, given)``, one context under ``"full"``, ``tags + 1`` under
    ``"seq"`` with the last one the sentence start).
    """
    if structure not in ("full", "seq"):
        raise DataError(f"structure must be 'full' or 'seq', got {structure!r}",
                        field="structure")
    if not 1 <= n_types <= len(TYPES):
        raise DataError(f"n_types must be in 1..{len(TYPES)}, got {n_types}", field="n_types")
    if not 1 <= workers_per_sentence <= n_workers:
        raise DataError(f"workers_per_sentence must be in 1..{n_workers}, got "
                        f"{workers_per_sentence}", field="workers_per_sentence")
    if not 1 <= length[0] <= length[1]:
        raise DataError(f"length must be 1 <= low <= high, got {length}", field="length")
    if not (0.0 <= word_signal <= 1.0 and 0.0 <= accuracy[0] <= accuracy[1] <= 1.0):
        raise DataError("word_signal and accuracy must lie in [0, 1]", field="accuracy")
    rng = np.random.default_rng(seed)
    tags, start, trans = _chain(list(TYPES[:n_types]))
    k = len(tags)
    lengths = rng.integers(length[0], length[1] + 1, size=n_sentences)
    l_max = int(lengths.max())
    truth = np.zeros((n_sentences, l_max), dtype=np.int64)
    for t in range(l_max):
        live = np.flatnonzero(lengths > t)
        probs = np.broadcast_to(start, (len(live), k)) if t == 0 else trans[truth[live, t - 1]]
        truth[live, t] = _draw(rng, probs)
    # words: each tag owns a block of the vocabulary
    block = max(vocabulary // k, 1)
    own = truth * block + rng.integers(0, block, size=truth.shape)
    anywhere = rng.integers(0, vocabulary, size=truth.shape)
    word_id = np.where(rng.random(truth.shape) < word_signal, own, anywhere)
    # workers
    n_prev = k + 1 if structure == "seq" else 1
    conf = _confusions(rng, n_workers, n_prev, k, accuracy)
    who = np.argsort(rng.random((n_sentences, n_workers)), axis=1)[:, :workers_per_sentence]
    pair_s = np.repeat(np.arange(n_sentences), workers_per_sentence)
    pair_w = who.reshape(-1)
    given = np.zeros((len(pair_s), l_max), dtype=np.int64)
    for t in range(l_max):
        live = np.flatnonzero(lengths[pair_s] > t)
        prev = np.full(len(live), k) if t == 0 else given[live, t - 1]
        ctx = prev if structure == "seq" else np.zeros(len(live), dtype=np.int64)
        given[live, t] = _draw(rng, conf[pair_w[live], ctx, truth[pair_s[live], t]])
    names = [f"w{i:0{len(str(n_workers))}d}" for i in range(n_workers)]
    tag_arr = np.asarray(tags, dtype=object)
    sentences = [[f"w{x}" for x in word_id[s, :lengths[s]]] for s in range(n_sentences)]
    gold = [list(tag_arr[truth[s, :lengths[s]]]) for s in range(n_sentences)]
    answers = [(int(s), names[w], list(tag_arr[given[i, :lengths[s]]]))
               for i, (s, w) in enumerate(zip(pair_s.tolist(), pair_w.tolist(), strict=True))]
    n_docs = (n_sentences + 9) // 10
    seq = SequenceAnswers.from_sentences(
        sentences, answers, gold=gold, tags=tags,
        sentence_doc=np.arange(n_sentences) // 10,
        doc_ids=[f"doc{i:0{len(str(n_docs))}d}" for i in range(n_docs)], name="simulated-hmm")
    order = np.argsort(names)
    settings: dict[str, Any] = {
        "n_sentences": n_sentences, "length": list(length), "n_types": n_types,
        "n_workers": n_workers, "workers_per_sentence": workers_per_sentence,
        "structure": structure, "accuracy": list(accuracy), "word_signal": word_signal,
        "vocabulary": vocabulary, "seed": seed, "start": start, "transitions": trans,
        "confusions": conf[order]}
    acc = np.einsum("wckk->wk", conf).mean(axis=1)
    return SimulatedSequences(seq, {"accuracy": acc[order]}, settings)
