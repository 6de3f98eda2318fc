"""Simulated crowds of sequence taggers with known parameters.

True sentences are BIO tag chains over entity types; every document is tagged by a few workers,
each with her own error rates, drawn uniformly from the given ranges:

* ``miss``: an entity is left out (all its tokens ``O``);
* ``confuse``: an entity gets another type;
* ``boundary``: an entity's boundary is wrong: its last token cut off, one more token added on
  the right, or its first tag written ``I-`` instead of ``B-`` (one of the three, equally likely);
* ``false_positive``: a token outside every entity is tagged ``B-T`` (a one-token entity).

Token texts are synthetic (``w17`` outside entities, ``PER4`` inside a ``PER`` entity), so word
features carry signal as real words do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .data import SequenceAnswers


@dataclass
class SimulatedSequences:
    """A simulated crowd: the answers (with gold tags) and each worker's true error rates."""

    answers: SequenceAnswers
    workers: dict[str, np.ndarray]  # miss, confuse, boundary, false_positive (per worker)
    settings: dict[str, Any]


def _rate(rng: np.random.Generator, span: tuple[float, float], n: int, what: str) -> np.ndarray:
    lo, hi = (float(x) for x in span)
    if not 0 <= lo <= hi <= 1:
        raise DataError(f"{what} must be a range 0 <= low <= high <= 1, got {span}", field=what)
    return rng.uniform(lo, hi, size=n)


def _true_sentence(rng: np.random.Generator, length: int, types: list[str], rate: float
                   ) -> list[str]:
    tags: list[str] = []
    while len(tags) < length:
        if rng.random() < rate:
            t = types[rng.integers(len(types))]
            n = min(int(rng.geometric(0.6) + rng.integers(0, 2)), length - len(tags))
            tags += [f"B-{t}"] + [f"I-{t}"] * (max(n, 1) - 1)
            if len(tags) < length:
                tags.append("O")  # entities are separated by at least one O
        else:
            tags.append("O")
    return tags[:length]


def _entities(tags: list[str]) -> list[tuple[str, int, int]]:
    from .tags import spans

    return spans(tags)


def _worker_tags(rng: np.random.Generator, true: list[str], types: list[str], miss: float,
                 confuse: float, boundary: float, fp: float) -> list[str]:
    out = ["O"] * len(true)
    for typ, a, b in _entities(true):
        if rng.random() < miss:
            continue
        if rng.random() < confuse and len(types) > 1:
            typ = [t for t in types if t != typ][rng.integers(len(types) - 1)]
        first = "B"
        if rng.random() < boundary:
            kind = rng.integers(3)
            if kind == 0 and b - a > 1:
                b -= 1
            elif kind == 1 and b < len(true) and true[b] == "O":
                b += 1
            elif kind == 2:
                first = "I"
        out[a] = f"{first}-{typ}"
        for i in range(a + 1, b):
            out[i] = f"I-{typ}"
    for i in np.flatnonzero(rng.random(len(true)) < fp).tolist():
        if true[i] == "O" and out[i] == "O" and (i == 0 or out[i - 1] == "O"):
            out[i] = f"B-{types[rng.integers(len(types))]}"
    return out


def simulate_sequences(
    n_docs: int = 20,
    sentences_per_doc: int = 10,
    length: tuple[int, int] = (5, 20),
    types: tuple[str, ...] = ("PER", "LOC", "ORG", "MISC"),
    entity_rate: float = 0.12,
    n_workers: int = 10,
    workers_per_doc: int = 3,
    miss: tuple[float, float] = (0.05, 0.3),
    confuse: tuple[float, float] = (0.0, 0.2),
    boundary: tuple[float, float] = (0.0, 0.2),
    false_positive: tuple[float, float] = (0.0, 0.02),
    vocabulary: int = 200,
    seed: int | None = None,
) -> SimulatedSequences:
    """Simulate a crowd of sequence taggers (see the module documentation).

    Each document is tagged in full by ``workers_per_doc`` distinct workers drawn uniformly.
    Returns the answers with gold tags and the workers' true rates.
    """
    if workers_per_doc > n_workers or workers_per_doc < 1:
        raise DataError(f"workers_per_doc must be in 1..{n_workers}, got {workers_per_doc}",
                        field="workers_per_doc")
    if not 1 <= length[0] <= length[1]:
        raise DataError(f"length must be 1 <= low <= high, got {length}", field="length")
    rng = np.random.default_rng(seed)
    types_l = list(types)
    rates = {"miss": _rate(rng, miss, n_workers, "miss"),
             "confuse": _rate(rng, confuse, n_workers, "confuse"),
             "boundary": _rate(rng, boundary, n_workers, "boundary"),
             "false_positive": _rate(rng, false_positive, n_workers, "false_positive")}
    names = [f"w{i:0{len(str(n_workers))}d}" for i in range(n_workers)]
    docs = [f"doc{i:0{len(str(n_docs))}d}" for i in range(n_docs)]
    sentences, gold, sentence_doc, answers = [], [], [], []
    for d in range(n_docs):
        who = rng.choice(n_workers, size=workers_per_doc, replace=False)
        for _ in range(sentences_per_doc):
            n = int(rng.integers(length[0], length[1] + 1))
            true = _true_sentence(rng, n, types_l, entity_rate)
            words = [f"{t[2:]}{rng.integers(vocabulary // 4 + 1)}" if t != "O"
                     else f"w{rng.integers(vocabulary)}" for t in true]
            s = len(sentences)
            sentences.append(words)
            gold.append(true)
            sentence_doc.append(d)
            for w in sorted(who.tolist()):
                answers.append((s, names[w], _worker_tags(
                    rng, true, types_l, rates["miss"][w], rates["confuse"][w],
                    rates["boundary"][w], rates["false_positive"][w])))
    tags = ["O"] + [f"{p}-{t}" for t in sorted(types_l) for p in "BI"]
    seq = SequenceAnswers.from_sentences(sentences, answers, gold=gold, tags=tags,
                                         sentence_doc=sentence_doc, doc_ids=docs,
                                         name="simulated")
    order = np.argsort(names)
    settings = {"n_docs": n_docs, "sentences_per_doc": sentences_per_doc,
                "length": list(length), "types": types_l, "entity_rate": entity_rate,
                "n_workers": n_workers, "workers_per_doc": workers_per_doc, "miss": list(miss),
                "confuse": list(confuse), "boundary": list(boundary),
                "false_positive": list(false_positive), "vocabulary": vocabulary, "seed": seed}
    return SimulatedSequences(seq, {k: v[order] for k, v in rates.items()}, settings)


def write_simulated(out: str | os.PathLike[str], sim: SimulatedSequences) -> Path:
    """Write ``out/ground_truth/<doc>.txt``, ``out/mturk_train_data/<worker>/<doc>.txt`` (the
    layout :func:`crowdlearn.sequence.read_sequences` reads) and ``out/simulation.json`` (the
    settings and every worker's true rates), atomically."""
    import json

    from ..io._atomic import atomic_dir
    from .writer import write_conll

    seq = sim.answers
    with atomic_dir(out) as tmp:
        (tmp / "ground_truth").mkdir()
        write_conll(tmp / "ground_truth", seq, seq.truth)
        dense = seq.dense_tags()
        s_of, w_of = seq.sentence_workers
        for w in range(seq.n_workers):
            folder = tmp / "mturk_train_data" / str(seq.worker_ids[w])
            folder.mkdir(parents=True)
            mine = np.flatnonzero(w_of == w)
            docs = np.unique(seq.sentence_doc[s_of[mine]])
            for d in docs.tolist():
                sents = np.flatnonzero(seq.sentence_doc == d)
                sub = seq.select_sentences(sents)
                labels = dense[sents][:, :, w]
                flat = labels[sub.token_sentence, sub.token_position]
                sub = SequenceAnswers(sub.tokens, sub.words, sub.sentence_indptr,
                                      sentence_doc=np.zeros(len(sents), np.int32),
                                      doc_ids=[seq.doc_ids[d]])
                write_conll(folder, sub, flat)
        info = {"settings": sim.settings, "workers": {
            str(seq.worker_ids[w]): {k: float(v[w]) for k, v in sim.workers.items()}
            for w in range(seq.n_workers)}}
        (tmp / "simulation.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return Path(out)
