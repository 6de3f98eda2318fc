"""Crowd sequence labelling: tag sequences from several workers, aggregated into one.

* :class:`SequenceAnswers` – the data model (sentences, tokens, workers, BIO tags); its
  ``tokens`` attribute is an ordinary :class:`crowdlearn.answers.Answers` with tokens as tasks.
* :func:`read_sequences` – CoNLL-style crowd folders (``ground_truth/`` + ``mturk_train_data/``),
  sentence alignment reported in :class:`AlignmentReport`.
"""

from __future__ import annotations

from .data import AlignmentReport, SequenceAnswers
from .reader import find_layout, read_conll, read_sequences
from .tags import spans, tag_set

__all__ = [
    "AlignmentReport",
    "SequenceAnswers",
    "find_layout",
    "read_conll",
    "read_sequences",
    "spans",
    "tag_set",
]
