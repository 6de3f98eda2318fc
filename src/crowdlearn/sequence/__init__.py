"""Crowd sequence labelling: tag sequences from several workers, aggregated into one.

* :class:`SequenceAnswers` – the data model (sentences, tokens, workers, BIO tags); its
  ``tokens`` attribute is an ordinary :class:`crowdlearn.answers.Answers` with tokens as tasks.
* :func:`read_sequences` – CoNLL-style crowd folders (``ground_truth/`` + ``mturk_train_data/``),
  sentence alignment reported in :class:`AlignmentReport`.
* :class:`CrowdTagger` – a BiLSTM tagger learnt from the crowd (sequence crowd layer, or trained
  on aggregated tags); torch is imported when it is fitted.
"""

from __future__ import annotations

from .data import AlignmentReport, SequenceAnswers
from .reader import find_layout, read_conll, read_sequences
from .tagger import CrowdTagger
from .tags import spans, tag_set

__all__ = [
    "AlignmentReport",
    "CrowdTagger",
    "SequenceAnswers",
    "find_layout",
    "read_conll",
    "read_sequences",
    "spans",
    "tag_set",
]
