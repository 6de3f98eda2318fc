"""The data model of crowd tag sequences.

:class:`SequenceAnswers` holds sentences (token texts grouped by document) and the tags workers
gave to their tokens. A token of a sentence *is* a task: the answers are an ordinary
:class:`crowdlearn.answers.Answers` over tokens (task = global token index, class = tag), so every
classification aggregator runs on ``seq.tokens`` unchanged, and sequence-aware models add the
token order through :attr:`SequenceAnswers.sentence_indptr`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from ..answers import MISSING, Answers
from ..errors import DataError
from .tags import check_tag, encode_tags, tag_set

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class AlignmentReport:
    """How the workers' sentences were matched to the reference sentences of their documents.

    Counts are of *worker sentences* (one worker's tagging of one sentence).

    Attributes
    ----------
    exact:
        Same tokens as the reference.
    annotated:
        Same number of tokens, equal once an annotation suffix pasted onto a token
        (``Britain/LOC``, ``Davis/B-MISC``) is removed on both sides.
    retokenised:
        Another number of tokens but the same characters (``German`` ``y`` for ``Germany``, an empty
        token): each reference token takes the tag of the worker token where it starts.
    length_only:
        Same number of tokens but other text, accepted only with ``align="length"``.
    unaligned:
        Not matched to any reference sentence: dropped, and listed in :attr:`unaligned_items`.
    unaligned_items:
        ``(worker, document, sentence number in the worker's file (0-based), reason)``.
    reference:
        ``"gold"`` when the gold files gave the reference sentences, ``"workers"`` when they were
        derived from the workers' files, ``"given"`` for sentences built in Python.
    """

    exact: int = 0
    annotated: int = 0
    retokenised: int = 0
    length_only: int = 0
    unaligned: int = 0
    unaligned_items: tuple[tuple[str, str, int, str], ...] = field(default=(), repr=False)
    reference: str = "given"

    @property
    def aligned(self) -> int:
        """Worker sentences kept."""
        return self.exact + self.annotated + self.retokenised + self.length_only

    def summary(self) -> str:
        """One line: kept and dropped worker sentences, and why."""
        parts = [f"{self.exact} exact", f"{self.annotated} after removing pasted tags"
                 if self.annotated else "", f"{self.retokenised} re-tokenised"
                 if self.retokenised else "", f"{self.length_only} by length only"
                 if self.length_only else ""]
        kept = ", ".join(p for p in parts if p)
        return (f"aligned {self.aligned} worker sentences to the {self.reference} sentences "
                f"({kept}); {self.unaligned} not aligned (dropped)")

    def as_dict(self) -> dict[str, Any]:
        """The counts (and the first 50 unaligned items) as plain JSON-able values."""
        return {
            "reference": self.reference, "aligned": self.aligned, "exact": self.exact,
            "annotated": self.annotated, "retokenised": self.retokenised,
            "length_only": self.length_only, "unaligned": self.unaligned,
            "unaligned_examples": [list(x) for x in self.unaligned_items[:50]],
        }


class SequenceAnswers:
    """Crowd answers that are tag sequences: sentences, tokens, workers and tags.

    Build one with :func:`crowdlearn.sequence.read_sequences` (CoNLL-style folders),
    :meth:`from_sentences` (Python lists) or :func:`crowdlearn.sequence.simulate_sequences`.

    Attributes
    ----------
    tokens : Answers
        The answers with tokens as tasks (task ``t`` = global token index, ``classes`` = tags,
        ``truth`` = gold tag index per token, -1 unknown). Every classification aggregator takes it.
    words : ndarray of object, shape (n_tokens,)
        Token texts of the reference sentences.
    sentence_indptr : ndarray of int64, shape (n_sentences + 1,)
        Tokens of sentence ``s`` are ``sentence_indptr[s]:sentence_indptr[s+1]``.
    sentence_doc : ndarray of int32, shape (n_sentences,)
        Document index of each sentence (into ``doc_ids``); sentences are in document order.
    doc_ids : ndarray of str
        Document names (file stems), sorted.
    gold_sentences : ndarray of bool, shape (n_sentences,)
        Sentences whose gold tags are known.
    alignment : AlignmentReport
        What the reader kept and dropped.
    name : str or None

    Examples
    --------
    >>> seq = SequenceAnswers.from_sentences(
    ...     [["John", "runs"], ["In", "Paris"]],
    ...     [(0, "w1", ["B-PER", "O"]), (1, "w1", ["O", "B-LOC"]), (1, "w2", ["O", "O"])])
    >>> seq.n_sentences, seq.n_tokens, seq.n_workers, list(seq.tags)
    (2, 4, 2, ['O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER'])
    >>> seq.sentence_tags(seq.tokens.majority_labels())[0]
    ['B-PER', 'O']
    """

    def __init__(
        self,
        tokens: Answers,
        words: np.ndarray,
        sentence_indptr: np.ndarray,
        *,
        sentence_doc: np.ndarray | None = None,
        doc_ids: np.ndarray | Sequence[str] | None = None,
        gold_sentences: np.ndarray | None = None,
        alignment: AlignmentReport | None = None,
        name: str | None = None,
    ) -> None:
        indptr = np.asarray(sentence_indptr, dtype=np.int64)
        n_sent = len(indptr) - 1
        if n_sent < 0 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise DataError("sentence_indptr must start at 0 and never decrease")
        if indptr[-1] != tokens.n_tasks or len(words) != tokens.n_tasks:
            raise DataError(f"{tokens.n_tasks} token tasks, {len(words)} words and "
                            f"{indptr[-1]} tokens in sentences disagree")
        self.tokens = tokens
        self.words = np.asarray(words, dtype=object)
        self.sentence_indptr = indptr
        self.sentence_doc = (np.zeros(n_sent, dtype=np.int32) if sentence_doc is None
                             else np.asarray(sentence_doc, dtype=np.int32))
        self.doc_ids = np.asarray(["doc"] if doc_ids is None else doc_ids, dtype=object)
        if gold_sentences is None:
            gold_sentences = np.zeros(n_sent, dtype=bool)
            if tokens.truth is not None:
                known = np.add.reduceat((tokens.truth >= 0).astype(np.int64), indptr[:-1]) \
                    if tokens.n_tasks else np.zeros(n_sent, dtype=np.int64)
                gold_sentences = (known == self.sentence_lengths) & (self.sentence_lengths > 0)
        self.gold_sentences = np.asarray(gold_sentences, dtype=bool)
        self.alignment = alignment or AlignmentReport()
        self.name = name

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_sentences(
        cls,
        sentences: Sequence[Sequence[str]],
        answers: Iterable[tuple[int, Any, Sequence[str]]],
        *,
        gold: Sequence[Sequence[str] | None] | None = None,
        tags: Sequence[str] | None = None,
        sentence_doc: Sequence[int] | None = None,
        doc_ids: Sequence[str] | None = None,
        alignment: AlignmentReport | None = None,
        name: str | None = None,
        source: str | None = None,
    ) -> SequenceAnswers:
        """Build from token lists and ``(sentence index, worker id, tag list)`` answers.

        Every tag list must have its sentence's length and hold BIO tags; ``gold`` gives one tag
        list (or ``None``) per sentence. ``tags`` declares the tag set (default: from the data,
        see :func:`crowdlearn.sequence.tags.tag_set`). Two answers of one worker to one sentence
        are an error.
        """
        lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
        indptr = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        words = np.empty(int(indptr[-1]), dtype=object)
        words[:] = [w for s in sentences for w in s]
        ans = list(answers)
        used: set[str] = set()
        for k, (s, w, t) in enumerate(ans):
            if not 0 <= int(s) < len(sentences):
                raise DataError(f"sentence index {s} outside 0..{len(sentences) - 1}",
                                source=source, where=f"answer {k}", field="sentence")
            if len(t) != lengths[int(s)]:
                raise DataError(f"{len(t)} tags for a sentence of {lengths[int(s)]} tokens",
                                source=source, where=f"answer {k} (worker {w!s})", field="tag")
            for tag in t:
                if tag not in used:
                    check_tag(tag, source=source, where=f"answer {k} (worker {w!s})")
                    used.add(tag)
        gold_list = list(gold) if gold is not None else [None] * len(sentences)
        if len(gold_list) != len(sentences):
            raise DataError(f"{len(gold_list)} gold tag lists for {len(sentences)} sentences",
                            source=source, field="gold")
        for s, g in enumerate(gold_list):
            if g is None:
                continue
            if len(g) != lengths[s]:
                raise DataError(f"{len(g)} gold tags for a sentence of {lengths[s]} tokens",
                                source=source, where=f"sentence {s}", field="gold")
            for tag in g:
                if tag not in used:
                    check_tag(tag, source=source, where=f"gold of sentence {s}")
                    used.add(tag)
        names = list(tags) if tags is not None else tag_set(used)
        for t in names:
            check_tag(t, source=source, where="declared tags")
        unknown = used - set(names)
        if unknown:
            raise DataError(f"tag {sorted(unknown)[0]!r} is not in the declared tag set",
                            source=source, field="tag")
        # token-level answers: one (token, worker, tag) per tag of every answer
        n_per = np.fromiter((len(t) for _, _, t in ans), dtype=np.int64, count=len(ans))
        sent = np.fromiter((int(s) for s, _, _ in ans), dtype=np.int64, count=len(ans))
        starts = np.repeat(indptr[sent], n_per)
        offs = np.arange(int(n_per.sum())) - np.repeat(np.cumsum(n_per) - n_per, n_per)
        token = starts + offs
        w_ans = np.asarray([str(w) for _, w, _ in ans], dtype=str)
        worker_ids, w_code = np.unique(w_ans, return_inverse=True)
        worker = np.repeat(w_code.reshape(-1), n_per)
        label = encode_tags([x for _, _, t in ans for x in t], names, source=source)
        truth = None
        if any(g is not None for g in gold_list):
            truth = np.full(len(words), MISSING, dtype=np.int32)
            for s, g in enumerate(gold_list):
                if g is not None:
                    truth[indptr[s]:indptr[s + 1]] = encode_tags(g, names, source=source)
        pair = sent * max(len(worker_ids), 1) + w_code.reshape(-1)
        if len(np.unique(pair)) != len(ans):
            raise DataError("a worker answered the same sentence twice", source=source)
        tok = Answers(token, worker, label, task_ids=np.arange(len(words)),
                      worker_ids=worker_ids, classes=np.asarray(names, dtype=object),
                      truth=truth, name=name, source=source)
        return cls(tok, words, indptr, sentence_doc=sentence_doc, doc_ids=doc_ids,
                   alignment=alignment, name=name)

    # ------------------------------------------------------------------ sizes
    @property
    def n_sentences(self) -> int:
        """Number of reference sentences."""
        return len(self.sentence_indptr) - 1

    @property
    def n_tokens(self) -> int:
        """Number of tokens (tasks of :attr:`tokens`)."""
        return self.tokens.n_tasks

    @property
    def n_workers(self) -> int:
        """Number of workers."""
        return self.tokens.n_workers

    @property
    def n_tags(self) -> int:
        """Number of tags (``O`` and ``B-``/``I-`` per type)."""
        return self.tokens.n_classes

    @property
    def n_docs(self) -> int:
        """Number of documents."""
        return len(self.doc_ids)

    @property
    def tags(self) -> np.ndarray:
        """Tag names; tag index ``k`` is ``tags[k]``, ``tags[0] == 'O'``."""
        return self.tokens.classes

    @property
    def worker_ids(self) -> np.ndarray:
        """Worker ids (sorted)."""
        return self.tokens.worker_ids

    @property
    def truth(self) -> np.ndarray | None:
        """Gold tag index per token (-1 unknown), or ``None``."""
        return self.tokens.truth

    @property
    def has_truth(self) -> bool:
        """Whether some sentence has gold tags."""
        return bool(self.gold_sentences.any())

    @property
    def sentence_lengths(self) -> np.ndarray:
        """Tokens per sentence."""
        return np.diff(self.sentence_indptr)

    @cached_property
    def token_sentence(self) -> np.ndarray:
        """Sentence index of every token (int64)."""
        return np.repeat(np.arange(self.n_sentences), self.sentence_lengths)

    @cached_property
    def token_position(self) -> np.ndarray:
        """Position of every token inside its sentence (int64)."""
        return np.arange(self.n_tokens) - self.sentence_indptr[self.token_sentence]

    @cached_property
    def sentence_workers(self) -> tuple[np.ndarray, np.ndarray]:
        """``(sentence, worker)`` index pairs: who tagged which sentence (sorted, unique)."""
        s = self.token_sentence[self.tokens.task]
        key = np.unique(s * max(self.n_workers, 1) + self.tokens.worker)
        return key // max(self.n_workers, 1), key % max(self.n_workers, 1)

    def workers_per_sentence(self) -> np.ndarray:
        """How many workers tagged each sentence."""
        return np.bincount(self.sentence_workers[0], minlength=self.n_sentences)

    # ------------------------------------------------------------------ views
    def padded(self, values: np.ndarray, fill: Any = 0) -> tuple[np.ndarray, np.ndarray]:
        """Per-token ``values`` (first axis = tokens) as a padded ``(sentences, max_len, ...)``
        array and its ``(sentences, max_len)`` boolean mask of real tokens."""
        values = np.asarray(values)
        lmax = int(self.sentence_lengths.max()) if self.n_sentences else 0
        out = np.full((self.n_sentences, lmax, *values.shape[1:]), fill, dtype=values.dtype)
        mask = np.zeros((self.n_sentences, lmax), dtype=bool)
        out[self.token_sentence, self.token_position] = values
        mask[self.token_sentence, self.token_position] = True
        return out, mask

    def dense_tags(self, sentences: Any = None) -> np.ndarray:
        """Workers' tags of some sentences as ``(n, max_len, n_workers)`` int32, -1 where a worker
        did not tag the sentence and on padding (for a batch of a tagger; default all)."""
        idx = np.arange(self.n_sentences) if sentences is None else np.asarray(sentences)
        lengths = self.sentence_lengths[idx]
        lmax = int(lengths.max()) if len(idx) else 0
        out = np.full((len(idx), lmax, self.n_workers), MISSING, dtype=np.int32)
        row = np.full(self.n_sentences, -1, dtype=np.int64)
        row[idx] = np.arange(len(idx))
        t = self.tokens
        r = row[self.token_sentence[t.task]]
        keep = r >= 0
        out[r[keep], self.token_position[t.task[keep]], t.worker[keep]] = t.label[keep]
        return out

    def sentence_tags(self, labels: np.ndarray) -> list[list[str]]:
        """Per-token tag indices (``-1`` read as ``O``) as one list of tag strings per sentence."""
        labels = np.asarray(labels)
        names = np.asarray(self.tags, dtype=object)
        text = names[np.where(labels < 0, 0, labels)]
        return [list(text[a:b]) for a, b in zip(self.sentence_indptr[:-1],
                                                self.sentence_indptr[1:], strict=True)]

    def gold_tags(self) -> list[list[str]]:
        """Gold tags of every sentence (``O`` where unknown); see :attr:`gold_sentences`."""
        truth = self.truth if self.truth is not None else np.zeros(self.n_tokens, np.int32)
        return self.sentence_tags(truth)

    def select_sentences(self, sentences: Any) -> SequenceAnswers:
        """The sentences ``sentences`` (mask or increasing indices) with their answers, e.g. the
        documents of one cross-validation fold. Workers, tags and documents are kept."""
        idx = np.asarray(sentences)
        idx = np.flatnonzero(idx) if idx.dtype == bool else idx.astype(np.int64)
        if np.any(np.diff(idx) <= 0):
            raise ValueError("sentence indices must be strictly increasing")
        lengths = self.sentence_lengths[idx]
        tok = np.concatenate([np.arange(self.sentence_indptr[s], self.sentence_indptr[s + 1])
                              for s in idx]) if len(idx) else np.zeros(0, dtype=np.int64)
        sub = self.tokens.select_tasks(tok, keep_all_workers=True)
        sub = sub._replace(task_ids=np.arange(len(tok)))
        indptr = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return SequenceAnswers(sub, self.words[tok], indptr, sentence_doc=self.sentence_doc[idx],
                               doc_ids=self.doc_ids, gold_sentences=self.gold_sentences[idx],
                               alignment=self.alignment, name=self.name)

    def to_frame(self) -> pd.DataFrame:
        """One row per token answer: ``doc, sentence, token, word, worker, tag``."""
        import pandas as pd

        t = self.tokens
        s = self.token_sentence[t.task]
        return pd.DataFrame({
            "doc": self.doc_ids[self.sentence_doc[s]], "sentence": s,
            "token": self.token_position[t.task], "word": self.words[t.task],
            "worker": t.worker_ids[t.worker], "tag": np.asarray(self.tags, dtype=object)[t.label],
        })

    def summary(self) -> dict[str, Any]:
        """Sizes, coverage and the alignment counts, as plain values."""
        wps = self.workers_per_sentence()
        return {
            "kind": "sequence", "name": self.name, "documents": self.n_docs,
            "sentences": self.n_sentences, "tokens": self.n_tokens, "workers": self.n_workers,
            "tags": [str(t) for t in self.tags], "token_answers": self.tokens.n_answers,
            "worker_sentences": int(len(self.sentence_workers[0])),
            "sentences_without_answers": int((wps == 0).sum()),
            "workers_per_sentence_mean": float(wps.mean()) if len(wps) else 0.0,
            "gold_sentences": int(self.gold_sentences.sum()),
            "alignment": self.alignment.as_dict(),
        }

    def __repr__(self) -> str:
        return (f"SequenceAnswers(name={self.name!r}, documents={self.n_docs}, sentences="
                f"{self.n_sentences}, tokens={self.n_tokens}, workers={self.n_workers}, "
                f"tags={self.n_tags}, token_answers={self.tokens.n_answers})")
