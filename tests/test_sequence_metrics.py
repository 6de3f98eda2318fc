"""Exact-span scores: the built-in implementation equals seqeval; unanswered sentences are O."""

from __future__ import annotations

import numpy as np
import pytest

from crowdlearn.sequence import SequenceAnswers
from crowdlearn.sequence.metrics import evaluate, span_scores

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _random_tags(rng: np.random.Generator, n: int) -> list[list[str]]:
    return [[TAGS[k] for k in rng.integers(0, len(TAGS), size=rng.integers(1, 9))]
            for _ in range(n)]


@pytest.mark.parametrize("seed", range(20))
def test_builtin_equals_seqeval_on_random_sequences(seed: int) -> None:
    pytest.importorskip("seqeval", reason="seqeval (extra 'seq') is not installed")
    rng = np.random.default_rng(seed)
    true = _random_tags(rng, 30)
    pred = [[t if rng.random() < 0.6 else TAGS[rng.integers(len(TAGS))] for t in s]
            for s in true]
    ours = span_scores(true, pred, use_seqeval=False)
    theirs = span_scores(true, pred, use_seqeval=True)
    assert ours["engine"] == "builtin" and theirs["engine"] == "seqeval"
    for key in ("precision", "recall", "f1"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-12)


def test_builtin_counts_by_hand() -> None:
    true = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "I-PER", "O", "I-LOC"]]      # I-LOC after O starts an entity: correct
    s = span_scores(true, pred, use_seqeval=False)
    assert (s["precision"], s["recall"], s["f1"]) == (1.0, 1.0, 1.0)
    s = span_scores(true, [["B-PER", "O", "O", "O"]], use_seqeval=False)
    assert (s["precision"], s["recall"]) == (0.0, 0.0) and s["f1"] == 0.0
    s = span_scores(true, [["O"] * 4], use_seqeval=False)
    assert s["predicted_entities"] == 0 and s["precision"] == 0.0


def test_sentence_without_workers_predicts_no_entity() -> None:
    seq = SequenceAnswers.from_sentences(
        [["John", "ran"], ["In", "Rome"]], [(0, "w", ["B-PER", "O"])],
        gold=[["B-PER", "O"], ["O", "B-LOC"]])
    labels = np.array([list(seq.tags).index("B-PER"), 0, -1, -1])
    s = evaluate(seq, labels, use_seqeval=False)
    assert (s["true_entities"], s["predicted_entities"], s["correct_entities"]) == (2, 1, 1)
    assert s["recall"] == 0.5 and s["sentences"] == 2
