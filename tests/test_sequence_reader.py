"""Reading crowd tag sequences: CoNLL files, sentence alignment, the data model, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crowdlearn.errors import DataError
from crowdlearn.sequence import SequenceAnswers, read_conll, read_sequences, spans, tag_set
from crowdlearn.sequence.align import match_sentence, reference_from_workers


def _write(path: Path, sentences: list[list[tuple[str, str]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for s in sentences:
        lines += [f"{t} {g}" if t else f" {g}" for t, g in s] + [""]
    path.write_text("\n" + "\n".join(lines), encoding="utf-8")


GOLD_A = [[("John", "B-PER"), ("Smith", "I-PER"), ("runs", "O")],
          [("In", "O"), ("Germany", "B-LOC"), (".", "O")],
          [("New", "B-LOC"), ("York", "I-LOC"), ("wins", "O")]]
GOLD_B = [[("Acme", "B-ORG"), ("sells", "O")]]


@pytest.fixture
def crowd(tmp_path: Path) -> Path:
    root = tmp_path / "crowd"
    _write(root / "ground_truth" / "a.txt", GOLD_A)
    _write(root / "ground_truth" / "b.txt", GOLD_B)
    # w1: exact; a pasted tag; a split token and an empty token
    _write(root / "mturk_train_data" / "w1" / "a.txt", [
        GOLD_A[0],
        [("In", "O"), ("German", "B-LOC"), ("y", "I-LOC"), ("", "O"), (".", "O")],
        [("New/LOC", "B-LOC"), ("York", "I-LOC"), ("wins", "O")],
    ])
    # w2: skips the first sentence (2 sentences for 3), merges two tokens, garbles one sentence
    _write(root / "mturk_train_data" / "w2" / "a.txt", [
        [("In", "O"), ("Germany", "B-MISC"), (".", "O")],
        [("NewYork", "B-ORG"), ("wins", "O")],
    ])
    _write(root / "mturk_train_data" / "w2" / "b.txt", [[("Acme", "B-ORG"), ("buys", "O")]])
    return root


def test_aligns_exact_pasted_split_and_merged_tokens(crowd: Path) -> None:
    seq = read_sequences(crowd)
    rep = seq.alignment
    assert (rep.exact, rep.annotated, rep.retokenised, rep.unaligned) == (2, 1, 2, 1)
    assert rep.unaligned_items == (("w2", "b", 0, "same length, other text"),)
    assert "1 not aligned" in rep.summary()
    assert list(seq.doc_ids) == ["a", "b"] and seq.n_sentences == 4 and seq.n_tokens == 11
    w1, w2 = (seq.dense_tags()[:, :, w] for w in range(2))
    names = list(seq.tags)
    assert [names[k] for k in w1[1]] == ["O", "B-LOC", "O"]           # German+y -> Germany
    assert [names[k] for k in w1[2]] == ["B-LOC", "I-LOC", "O"]       # New/LOC
    assert (w2[0] == -1).all()                                          # w2 skipped sentence 0
    assert [names[k] for k in w2[2]] == ["B-ORG", "I-ORG", "O"]       # NewYork -> New York
    assert (w2[3] == -1).all()                                          # garbled: dropped
    assert seq.workers_per_sentence().tolist() == [1, 2, 2, 0]


def test_length_rule_keeps_equal_lengths_only(crowd: Path) -> None:
    rep = read_sequences(crowd, align="length").alignment
    assert (rep.exact, rep.annotated, rep.length_only, rep.retokenised) == (2, 1, 1, 0)
    assert rep.unaligned == 2


def test_gold_becomes_token_truth(crowd: Path) -> None:
    seq = read_sequences(crowd)
    assert seq.gold_sentences.all()
    assert seq.gold_tags()[0] == ["B-PER", "I-PER", "O"]
    assert list(seq.tags) == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG",
                              "B-PER", "I-PER"]
    assert tag_set(["I-PER", "O", "B-LOC"]) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def test_reference_from_workers_without_gold(tmp_path: Path) -> None:
    root = tmp_path / "nogold"
    for w in ("w1", "w2", "w3"):
        text = "Germany" if w != "w3" else "Germani"
        _write(root / "workers" / w / "d.txt", [[("In", "O"), (text, "B-LOC")]])
    seq = read_sequences(root)
    assert seq.alignment.reference == "workers" and not seq.has_truth
    assert list(seq.words) == ["In", "Germany"]
    assert seq.alignment.aligned == 2 and seq.alignment.unaligned == 1


def test_reference_majority_and_ties() -> None:
    files = [[["a", "b"]], [["a", "c"]], [["a", "c"], ["x"]], [["a", "c"]]]
    assert reference_from_workers(files) == [["a", "c"]]
    assert reference_from_workers([[["a"]], [["b"]]]) == [["a"]]   # tie: first worker


def test_match_sentence_refuses_other_text() -> None:
    got, why = match_sentence(["New", "York"], ["New", "Jersey"], ["B-LOC", "I-LOC"])
    assert got is None and "other text" in why


@pytest.mark.parametrize("line, message", [
    ("John B-XX-", None),
    ("John PERSON", "not a BIO tag"),
    ("John NN B-PER", "3 fields"),
    ("John", "not a BIO tag"),
])
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str | None) -> None:
    p = tmp_path / "f.txt"
    p.write_text(f"A O\n{line}\n", encoding="utf-8")
    if message is None:
        assert read_conll(p)[0][1] == ["O", "B-XX-"]
        return
    with pytest.raises(DataError, match=message) as err:
        read_conll(p)
    assert str(p) in str(err.value) and "line 2" in str(err.value)


def test_non_utf8_and_not_a_folder(tmp_path: Path) -> None:
    p = tmp_path / "f.txt"
    p.write_bytes(b"A O\n\xff B-PER\n")
    with pytest.raises(DataError, match="UTF-8"):
        read_conll(p)
    with pytest.raises(DataError, match="not a sequence data set"):
        read_sequences(tmp_path)


def test_from_sentences_refuses_wrong_lengths_duplicates_and_bad_tags() -> None:
    sents = [["a", "b"]]
    with pytest.raises(DataError, match="1 tags for a sentence of 2"):
        SequenceAnswers.from_sentences(sents, [(0, "w", ["O"])])
    with pytest.raises(DataError, match="twice"):
        SequenceAnswers.from_sentences(sents, [(0, "w", ["O", "O"]), (0, "w", ["O", "O"])])
    with pytest.raises(DataError, match="not a BIO tag"):
        SequenceAnswers.from_sentences(sents, [(0, "w", ["O", "E-PER"])])
    with pytest.raises(DataError, match="not in the declared"):
        SequenceAnswers.from_sentences(sents, [(0, "w", ["O", "B-PER"])], tags=["O"])


def test_views_padded_select_frame() -> None:
    seq = SequenceAnswers.from_sentences(
        [["a", "b", "c"], ["d"], ["e", "f"]],
        [(0, "w1", ["B-PER", "I-PER", "O"]), (2, "w1", ["O", "B-LOC"]), (2, "w2", ["O", "O"])],
        gold=[["B-PER", "I-PER", "O"], None, ["O", "B-LOC"]])
    vals, mask = seq.padded(np.arange(seq.n_tokens), fill=-1)
    assert vals.tolist() == [[0, 1, 2], [3, -1, -1], [4, 5, -1]]
    assert mask.sum() == seq.n_tokens
    assert seq.gold_sentences.tolist() == [True, False, True]
    sub = seq.select_sentences([0, 2])
    assert sub.n_sentences == 2 and list(sub.words) == ["a", "b", "c", "e", "f"]
    assert sub.tokens.n_answers == 7 and sub.gold_tags()[1] == ["O", "B-LOC"]
    frame = seq.to_frame()
    assert len(frame) == seq.tokens.n_answers
    assert frame.iloc[-1][["sentence", "token", "worker", "tag"]].tolist() == [2, 1, "w2", "O"]


def test_spans_conll_rule() -> None:
    assert spans(["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]) == [
        ("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5), ("ORG", 5, 6)]


def test_ner_mturk_alignment_counts(data_dir: Path) -> None:
    root = data_dir / "ner-mturk" / "val"
    if not root.is_dir():
        pytest.skip("ner-mturk/val is not in CROWDLEARN_DATA")
    seq = read_sequences(root)
    assert (seq.n_docs, seq.n_sentences, seq.n_workers) == (200, 2997, 46)
    assert (seq.alignment.aligned, seq.alignment.unaligned) == (13689, 5)
    short = read_sequences(root, align="length").alignment
    assert (short.aligned, short.unaligned) == (12396, 1298)   # the data README's rule
