"""CrowdTagger's epoch choice: held-out documents' crowd tags only, early stop before the cap."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from crowdlearn.sequence import CrowdTagger, SequenceAnswers, simulate_sequences  # noqa: E402

KW = dict(word_dim=8, char_filters=4, hidden=16, batch_size=8, lr=0.05, warm_start=2,
          device="cpu", seed=3, val_fraction=0.25, patience=2, n_epochs=60)


def _crowd() -> SequenceAnswers:
    return simulate_sequences(n_docs=12, sentences_per_doc=6, length=(4, 9), n_workers=5,
                              workers_per_doc=3, seed=4).answers


@pytest.mark.parametrize("strategy", ["crowdlayer", "mv"])
def test_epoch_is_chosen_on_held_out_crowd_tags_and_stops_before_the_cap(strategy: str) -> None:
    seq = _crowd()
    tagger = CrowdTagger(strategy, **KW).fit(seq)
    res = tagger.result_
    val = res.history["val_loss"]
    assert res.stopped_epoch < KW["n_epochs"]                  # patience, not the cap, ended it
    assert res.best_epoch == int(np.argmin(val)) + 1           # epochs count from 1
    assert res.stopped_epoch - res.best_epoch == KW["patience"]
    # gold tags play no part: scrambled gold, same tagger to the last bit
    rng = np.random.default_rng(0)
    tok = seq.tokens
    scrambled = SequenceAnswers(tok.with_truth(rng.integers(0, seq.n_tags, tok.n_tasks)),
                                seq.words, seq.sentence_indptr, sentence_doc=seq.sentence_doc,
                                doc_ids=seq.doc_ids)
    other = CrowdTagger(strategy, **KW).fit(scrambled)
    assert other.result_.history["val_loss"] == val
    assert all(np.array_equal(a, b) for a, b in zip(tagger.predict_proba(seq),
                                                    other.predict_proba(seq), strict=True))
