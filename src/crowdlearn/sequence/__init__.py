"""Crowd sequence labelling: tag sequences from several workers, aggregated into one.

* :class:`SequenceAnswers` – the data model (sentences, tokens, workers, BIO tags); its
  ``tokens`` attribute is an ordinary :class:`crowdlearn.answers.Answers` with tokens as tasks.
* :func:`read_sequences` – CoNLL-style crowd folders (``ground_truth/`` + ``mturk_train_data/``),
  sentence alignment reported in :class:`AlignmentReport`.
* :func:`make_sequence_strategy` – token-level strategies (``mv``, ``ds``, ``ibcc``, ...) and
  :class:`HMMCrowd` (``hmm-crowd``), the sequence-aware model.
* :func:`evaluate` / :func:`span_scores` – exact-span precision, recall, F1 (CoNLL definition).
* :func:`simulate_sequences` – simulated crowds with known error rates;
  :func:`simulate_hmm_crowd` – crowds drawn from a known HMM (plain or sequential confusions);
* :func:`compare_heldout` / :func:`heldout_log_likelihood` – label-free model choice by the
  likelihood of held-out worker answers;
  :func:`write_sequence_results` – outputs in the input's layout.
* :class:`CrowdTagger` – a BiLSTM tagger learnt from the crowd (sequence crowd layer, or trained
  on aggregated tags); torch is imported when it is fitted.
"""

from __future__ import annotations

from .aggregate import TokenAggregator, make_sequence_strategy, worker_table
from .data import AlignmentReport, SequenceAnswers
from .heldout import compare_heldout, heldout_log_likelihood, holdout_split
from .hmm import HMMCrowd
from .metrics import evaluate, span_scores
from .reader import find_layout, read_conll, read_sequences
from .simulate import SimulatedSequences, simulate_sequences, write_simulated
from .simulate_hmm import simulate_hmm_crowd
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
    "compare_heldout",
    "evaluate",
    "find_layout",
    "heldout_log_likelihood",
    "holdout_split",
    "make_sequence_strategy",
    "read_conll",
    "read_sequences",
    "simulate_hmm_crowd",
    "simulate_sequences",
    "span_scores",
    "spans",
    "tag_set",
    "worker_table",
    "write_conll",
    "write_sequence_results",
    "write_simulated",
]
