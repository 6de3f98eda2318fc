"""Crowd sequence labelling: tag sequences from several workers, aggregated into one.

* :class:`SequenceAnswers` – the data model (sentences, tokens, workers, BIO tags); its
  ``tokens`` attribute is an ordinary :class:`crowdlearn.answers.Answers` with tokens as tasks.
* :func:`read_sequences` – CoNLL-style crowd folders (``ground_truth/`` + ``mturk_train_data/``),
  sentence alignment reported in :class:`AlignmentReport`.
* :func:`make_sequence_strategy` – token-level strategies (``mv``, ``ds``, ``ibcc``, ...) and
  :class:`HMMCrowd` (``hmm-crowd``), the sequence-aware model.
* :func:`evaluate` / :func:`span_scores` – exact-span precision, recall, F1 (CoNLL definition).
* :func:`simulate_sequences` – simulated crowds with known error rates;
  :func:`write_sequence_results` – outputs in the input's layout.
* :class:`CrowdTagger` – a BiLSTM tagger learnt from the crowd (sequence crowd layer, or trained
  on aggregated tags); torch is imported when it is fitted.
"""

from __future__ import annotations

from .aggregate import TokenAggregator, make_sequence_strategy, worker_table
from .data import AlignmentReport, SequenceAnswers
from .hmm import HMMCrowd
from .metrics import evaluate, span_scores
from .reader import find_layout, read_conll, read_sequences
from .simulate import SimulatedSequences, simulate_sequences, write_simulated
from .tagger import CrowdTagger
from .tags import spans, tag_set
from .writer import write_conll, write_sequence_results

__all__ = [
    "AlignmentReport",
    "CrowdTagger",
    "HMMCrowd",
    "SequenceAnswers",
    "SimulatedSequences",
    "TokenAggregator",
    "evaluate",
    "find_layout",
    "make_sequence_strategy",
    "read_conll",
    "read_sequences",
    "simulate_sequences",
    "span_scores",
    "spans",
    "tag_set",
    "worker_table",
    "write_conll",
    "write_sequence_results",
    "write_simulated",
]
