"""Sequence aggregators, the simulator, the writer and the command line on tiny data."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crowdlearn.errors import CrowdlearnError
from crowdlearn.params import ParameterError
from crowdlearn.sequence import SequenceAnswers, read_sequences
from crowdlearn.sequence.aggregate import TokenAggregator, make_sequence_strategy
from crowdlearn.sequence.hmm import HMMCrowd, bio_allowed
from crowdlearn.sequence.metrics import evaluate
from crowdlearn.sequence.simulate import simulate_sequences, write_simulated


@pytest.fixture(scope="module")
def boundary_crowd() -> SequenceAnswers:
    """Workers who often get boundaries and B-/I- wrong, and miss entities."""
    return simulate_sequences(n_docs=20, sentences_per_doc=10, n_workers=8, workers_per_doc=3,
                              miss=(0.1, 0.3), boundary=(0.3, 0.6), confuse=(0.0, 0.1),
                              seed=3).answers


def test_token_strategies_reuse_classification_engine(boundary_crowd: SequenceAnswers) -> None:
    for name in ("mv", "ds", "ibcc"):
        est = make_sequence_strategy(name).fit(boundary_crowd)
        assert isinstance(est, TokenAggregator)
        assert est.labels_.shape == (boundary_crowd.n_tokens,)
        assert evaluate(boundary_crowd, est.labels_)["f1"] > 0.5
    assert make_sequence_strategy("ds").fit(boundary_crowd).confusions_.shape == (8, 9, 9)


def test_sequence_model_beats_token_ds_on_boundary_errors(
        boundary_crowd: SequenceAnswers) -> None:
    ds = evaluate(boundary_crowd, make_sequence_strategy("ds").fit(boundary_crowd).labels_)
    hmm = HMMCrowd().fit(boundary_crowd)      # defaults: sequential confusion, word emissions
    assert evaluate(boundary_crowd, hmm.labels_)["f1"] > ds["f1"] + 0.1   # 0.92 vs 0.76
    assert hmm.confusions_.shape == (8, 10, 9, 9)
    np.testing.assert_allclose(hmm.confusions_.sum(axis=-1), 1.0)
    np.testing.assert_allclose(hmm.transitions_.sum(axis=1), 1.0)


def test_hmm_decodes_valid_bio_and_leaves_untagged_sentences_undecided() -> None:
    seq = SequenceAnswers.from_sentences(
        [["a", "b", "c"], ["d", "e"]],
        [(0, "w1", ["O", "I-PER", "I-PER"]), (0, "w2", ["O", "B-PER", "I-PER"])])
    for confusion in ("full", "seq"):
        est = HMMCrowd(confusion=confusion).fit(seq)
        tags = seq.sentence_tags(est.labels_)[0]
        assert tags[1] != "I-PER" or tags[0] != "O"
        assert (est.labels_[3:] == -1).all()


def test_previous_tags_of_the_same_worker() -> None:
    seq = SequenceAnswers.from_sentences(
        [["a", "b"], ["c"]], [(0, "w1", ["B-PER", "I-PER"]), (0, "w2", ["O", "O"]),
                              (1, "w1", ["O"])])
    prev = HMMCrowd._previous_tags(seq)
    names = list(seq.tags)
    # answers sorted by (token, worker): a/w1, a/w2, b/w1, b/w2, c/w1
    assert prev.tolist() == [seq.n_tags, seq.n_tags, names.index("B-PER"), 0, seq.n_tags]


def test_bio_allowed() -> None:
    first, after = bio_allowed(["O", "B-PER", "I-PER"])
    assert first.tolist() == [True, True, False]
    assert after[:, 2].tolist() == [False, True, True]


def test_refusals() -> None:
    with pytest.raises(ParameterError, match="confusion"):
        make_sequence_strategy("hmm-crowd[confusion=odd]")
    with pytest.raises(CrowdlearnError):
        make_sequence_strategy("nope")
    with pytest.raises(CrowdlearnError, match="all"):
        make_sequence_strategy("all")


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crowdlearn", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_simulate_aggregate_info_round_trip(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    r = _cli("simulate", "-o", str(sim), "--kind", "sequence", "--n-docs", "4",
             "--n-workers", "5", "--seed", "1")
    assert r.returncode == 0, r.stderr
    info = json.loads((sim / "simulation.json").read_text())
    assert set(info["workers"]) == {f"w{i}" for i in range(5)}
    seq = read_sequences(sim)
    assert seq.n_docs == 4 and seq.alignment.unaligned == 0 and seq.gold_sentences.all()
    r = _cli("info", str(sim))
    assert r.returncode == 0 and "sentences 40" in r.stdout and "0 not aligned" in r.stdout
    out = tmp_path / "out"
    r = _cli("aggregate", str(sim), "-s", "hmm-crowd", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "span F1" in r.stdout and "aligned 120 worker sentences" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "doc0.txt", "doc1.txt", "doc2.txt", "doc3.txt", "summary.json", "workers.csv"]
    # the output is in the input's layout: read back as gold, its words are the reference's
    again = tmp_path / "again"
    (again / "mturk_train_data" / "x").mkdir(parents=True)
    for p in out.glob("doc*.txt"):
        (again / "mturk_train_data" / "x" / p.name).write_text(p.read_text())
    back = read_sequences(again)
    assert list(back.words) == list(seq.words)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategy"] == "hmm-crowd" and 0 < summary["scores"]["f1"] <= 1
    with open(out / "workers.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and {"agreement", "span_f1_vs_gold", "model_accuracy"} <= set(rows[0])


def test_cli_refusals_one_line_exit_2(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    (root / "mturk_train_data" / "w1").mkdir(parents=True)
    (root / "mturk_train_data" / "w1" / "d.txt").write_text("John B-PER\nruns VERB\n")
    r = _cli("aggregate", str(root), "-s", "mv", "-o", str(tmp_path / "o"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "d.txt" in r.stderr and "line 2" in r.stderr
    assert not (tmp_path / "o").exists()
    r = _cli("info", str(tmp_path), "--kind", "sequence")
    assert r.returncode == 2 and "not a sequence data set" in r.stderr
    (root / "mturk_train_data" / "w1" / "d.txt").write_text("John B-PER\nruns O\n")
    r = _cli("aggregate", str(root), "-s", "hmm-crowd[decode=best]", "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and "decode" in r.stderr


def test_simulate_writes_known_parameters(tmp_path: Path) -> None:
    sim = simulate_sequences(n_docs=2, sentences_per_doc=3, n_workers=3, workers_per_doc=2,
                             miss=(0.2, 0.2), seed=0)
    assert np.allclose(sim.workers["miss"], 0.2)
    write_simulated(tmp_path / "s", sim)
    assert read_sequences(tmp_path / "s").tokens.n_answers == sim.answers.tokens.n_answers


def test_info_json_reports_alignment_and_length_rule(tmp_path: Path) -> None:
    root = tmp_path / "c"
    (root / "gold").mkdir(parents=True)
    (root / "gold" / "d.txt").write_text("In O\nGermany B-LOC\n\nHe O\nran O\n")
    (root / "workers" / "w1").mkdir(parents=True)
    (root / "workers" / "w1" / "d.txt").write_text("In O\nGerman B-LOC\ny I-LOC\n\nHe O\nran O\n")
    r = _cli("info", str(root), "--json")
    a = json.loads(r.stdout)["alignment"]
    assert (a["exact"], a["retokenised"], a["unaligned"]) == (1, 1, 0)
    r = _cli("info", str(root), "--json", "--align", "length")
    a = json.loads(r.stdout)["alignment"]
    assert (a["aligned"], a["unaligned"]) == (1, 1)
    assert a["unaligned_examples"] == [["w1", "d", 0, "3 tokens for 2"]]
