"""Held-out answer likelihood (label-free model choice), the HMM simulator, the ELBO trace."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from crowdlearn.errors import CrowdlearnError, DataError
from crowdlearn.sequence import HMMCrowd, SequenceAnswers, evaluate, make_sequence_strategy
from crowdlearn.sequence.heldout import compare_heldout, heldout_log_likelihood, holdout_split
from crowdlearn.sequence.simulate_hmm import simulate_hmm_crowd

SENTS = [["Anna", "met", "Bob"], ["in", "Rome"], ["Bob", "left", "Rome", "today"]]
ANSWERS = [
    (0, "w1", ["B-PER", "O", "B-PER"]), (0, "w2", ["B-PER", "O", "O"]),
    (0, "w3", ["B-PER", "I-PER", "B-PER"]), (1, "w1", ["O", "B-LOC"]),
    (1, "w2", ["O", "B-LOC"]), (1, "w3", ["O", "O"]), (2, "w1", ["B-PER", "O", "B-LOC", "O"]),
    (2, "w2", ["B-PER", "O", "B-LOC", "O"]), (2, "w3", ["B-PER", "O", "I-LOC", "O"]),
]


def _tiny() -> SequenceAnswers:
    return SequenceAnswers.from_sentences(SENTS, ANSWERS)


def _enumerated(model: HMMCrowd, seq: SequenceAnswers, held: np.ndarray) -> float:
    """log p(held tags | other tags, words) by summing over every tag path of every sentence."""
    tags = list(seq.tags)
    k = len(tags)
    conf = model.confusions_ if model.confusion == "seq" else model.confusions_[:, None]
    windex = {w: i for i, w in enumerate(model.vocabulary_)} if model.words else {}
    tok = seq.tokens
    total = 0.0
    for s in range(seq.n_sentences):
        a, b = seq.sentence_indptr[s], seq.sentence_indptr[s + 1]
        rest, extra = np.zeros((b - a, k)), np.zeros((b - a, k))
        for i in np.flatnonzero((tok.task >= a) & (tok.task < b)):
            t, w, lab = tok.task[i] - a, tok.worker[i], tok.label[i]
            before = np.flatnonzero((tok.task == tok.task[i] - 1) & (tok.worker == w))
            prev = tok.label[before[0]] if t > 0 and len(before) else k
            ctx = prev if model.confusion == "seq" else 0
            (extra if held[i] else rest)[t] += np.log(conf[w, ctx, :, lab])
        for t in range(b - a):
            if seq.words[a + t] in windex:
                rest[t] += np.log(model.word_emissions_[windex[seq.words[a + t]]])
        if not held[(tok.task >= a) & (tok.task < b)].any():
            continue
        z = {}
        for name, emit in (("rest", rest), ("all", rest + extra)):
            tot = 0.0
            for path in itertools.product(range(k), repeat=b - a):
                p = model.start_[path[0]] * np.exp(emit[0, path[0]])
                for t in range(1, b - a):
                    p *= model.transitions_[path[t - 1], path[t]] * np.exp(emit[t, path[t]])
                tot += p
            z[name] = np.log(tot)
        total += z["all"] - z["rest"]
    return total / held.sum()


@pytest.mark.parametrize("confusion,words", [("full", False), ("seq", False), ("seq", True)])
def test_hmm_heldout_likelihood_equals_enumeration(confusion: str, words: bool) -> None:
    seq = _tiny()
    fit, held = holdout_split(seq, share=0.4, seed=1)
    model = HMMCrowd(confusion=confusion, words=words, max_iter=20).fit(fit)
    got = heldout_log_likelihood(model, seq, held)
    assert got == pytest.approx(_enumerated(model, seq, held), rel=1e-9)
    assert got < 0


def test_token_heldout_likelihood_by_hand() -> None:
    seq = _tiny()
    fit, held = holdout_split(seq, share=0.4, seed=1)
    ds = make_sequence_strategy("ibcc").fit(fit)
    tok = seq.tokens
    want = np.mean([np.log(ds.probas_[tok.task[i]] @ ds.confusions_[tok.worker[i], :,
                                                                    tok.label[i]])
                    for i in np.flatnonzero(held)])
    assert heldout_log_likelihood(ds, seq, held) == pytest.approx(want, rel=1e-12)
    ml = make_sequence_strategy("ds").fit(fit)   # zero cells: a held-out tag it calls impossible
    assert heldout_log_likelihood(ml, seq, held) == -np.inf
    with pytest.raises(CrowdlearnError, match="no confusions"):
        heldout_log_likelihood(make_sequence_strategy("mv").fit(fit), seq, held)


def test_holdout_split_holds_whole_sentences_per_worker() -> None:
    sim = simulate_hmm_crowd(n_sentences=60, n_workers=6, workers_per_sentence=3, seed=2)
    seq = sim.answers
    fit, held = holdout_split(seq, share=0.25, seed=0)
    tok = seq.tokens
    s = seq.token_sentence[tok.task]
    pair = s * seq.n_workers + tok.worker
    # a worker's sentence is held out whole or not at all
    per_pair = np.bincount(pair, weights=held) / np.maximum(np.bincount(pair), 1)
    assert set(np.unique(per_pair[np.bincount(pair) > 0])) <= {0.0, 1.0}
    s_of, w_of = seq.sentence_workers
    held_pairs = per_pair[s_of * seq.n_workers + w_of] == 1
    n_w = np.bincount(w_of)
    assert np.array_equal(np.bincount(w_of, weights=held_pairs),
                          np.minimum(np.floor(0.25 * n_w + 0.5), n_w - 1))
    assert fit.tokens.n_answers == tok.n_answers - held.sum()
    assert fit.n_workers == seq.n_workers and fit.truth is None
    with pytest.raises(CrowdlearnError, match="share"):
        holdout_split(seq, share=1.0)


@pytest.mark.parametrize("structure", ["full", "seq"])
def test_heldout_likelihood_picks_the_true_worker_structure(structure: str) -> None:
    """Answers drawn from the plain confusion favour it; answers drawn from the sequential
    confusion favour that one: the criterion sees the structure without any gold tag."""
    sim = simulate_hmm_crowd(n_sentences=300, structure=structure, word_signal=0.0, seed=0)
    rows = compare_heldout(["hmm-crowd[confusion=full,words=false]",
                            "hmm-crowd[confusion=seq,words=false]"], sim.answers)
    best = max(rows, key=lambda r: r["loglik"])
    assert f"confusion={structure}" in best["spec"]
    assert abs(rows[0]["loglik"] - rows[1]["loglik"]) > 0.01


def test_simulated_hmm_crowd_follows_its_parameters() -> None:
    sim = simulate_hmm_crowd(n_sentences=2000, n_workers=4, workers_per_sentence=4,
                             structure="full", seed=3)
    seq = sim.answers
    tok = seq.tokens
    k = seq.n_tags
    emp = np.zeros((seq.n_workers, k, k))
    np.add.at(emp, (tok.worker, tok.truth[tok.task], tok.label), 1)
    emp /= emp.sum(axis=2, keepdims=True)
    true = sim.settings["confusions"][:, 0]
    common = np.bincount(tok.truth, minlength=k) > 2000       # well-estimated rows
    np.testing.assert_allclose(emp[:, common], true[:, common], atol=0.03)
    assert list(seq.tags) == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    with pytest.raises(DataError, match="structure"):
        simulate_hmm_crowd(structure="bsc")


def test_elbo_never_decreases_and_tolerance_is_reached() -> None:
    sim = simulate_hmm_crowd(n_sentences=200, structure="seq", word_signal=0.5, seed=1)
    model = HMMCrowd().fit(sim.answers)
    h = np.asarray(model.history_) * sim.answers.tokens.n_answers
    assert np.all(np.diff(h) >= -1e-8 * np.abs(h[1:]))
    assert model.converged_ and model.n_iter_ < model.max_iter
    assert evaluate(sim.answers, model.labels_)["f1"] > 0.9
