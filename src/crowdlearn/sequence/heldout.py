"""Label-free model comparison for sequence aggregators: held-out answer likelihood.

A share of each worker's tagged sentences is held out (the worker's whole tag sequence of the
sentence); each candidate model is fitted on the remaining answers and scores the held-out tag
sequences by their predictive log-likelihood given everything else the model saw of those
sentences (the other workers' tags, the words), with its fitted parameters as point values:

* :class:`~crowdlearn.sequence.hmm.HMMCrowd`: ``log p(held | rest) = log Z(rest + held) -
  log Z(rest)`` for each sentence, both normalisers from the forward algorithm over the chain of
  true tags with the posterior-mean start, transition, confusion (and word emission) parameters;
  the held-out worker's own previous tag conditions her next one under ``confusion="seq"``;
* a token-level strategy with confusions (:class:`~crowdlearn.sequence.aggregate.TokenAggregator`
  of ``ds``, ``ibcc``, ...): tokens are independent, ``sum_t log sum_h q(h_t) pi^w[h, l_t]``
  with ``q`` the posterior the strategy computed from the other answers (``-inf`` when a
  maximum-likelihood strategy such as ``ds`` gives a held-out tag probability zero; Bayesian
  ones such as ``ibcc`` never do).

Both are proper probabilities of the same observed tag sequences, so the numbers are comparable
across models (higher is better); gold tags are never read. This is the cross-validated
predictive likelihood criterion of model selection (e.g. Bishop, *Pattern Recognition and
Machine Learning*, 2006, sec. 1.3) applied to crowd answers.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import CrowdlearnError
from .data import SequenceAnswers
from .forward_backward import forward_backward

__all__ = ["holdout_split", "heldout_log_likelihood", "compare_heldout"]


def holdout_split(seq: SequenceAnswers, share: float = 0.2, seed: int | None = 0
                  ) -> tuple[SequenceAnswers, np.ndarray]:
    """Hold out ``share`` of each worker's tagged sentences (rounded; every worker keeps at
    least one sentence for fitting).

    Returns the answers left for fitting (same sentences, tokens, workers and tags; no gold
    tags) and a boolean mask over ``seq.tokens``' answers marking the held-out ones.
    """
    if not 0.0 < share < 1.0:
        raise CrowdlearnError(f"share must be in (0, 1), got {share}")
    s_of, w_of = seq.sentence_workers
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(s_of)), w_of))          # by worker, shuffled inside
    n_w = np.bincount(w_of, minlength=seq.n_workers)
    first = np.cumsum(n_w) - n_w
    rank = np.empty(len(s_of), dtype=np.int64)
    rank[order] = np.arange(len(s_of)) - first[w_of[order]]
    n_held = np.minimum(np.floor(share * n_w + 0.5), n_w - 1).astype(np.int64)
    held_pair = rank < n_held[w_of]
    tok = seq.tokens
    w = max(seq.n_workers, 1)
    pair_key = s_of.astype(np.int64) * w + w_of
    ans_key = seq.token_sentence[tok.task].astype(np.int64) * w + tok.worker
    held = held_pair[np.searchsorted(pair_key, ans_key)]
    fit_tokens = tok.select_answers(~held).with_truth(None)
    fit = SequenceAnswers(fit_tokens, seq.words, seq.sentence_indptr,
                          sentence_doc=seq.sentence_doc, doc_ids=seq.doc_ids,
                          gold_sentences=np.zeros(seq.n_sentences, dtype=bool),
                          alignment=seq.alignment, name=seq.name)
    return fit, held


def heldout_log_likelihood(model: Any, seq: SequenceAnswers, held: np.ndarray) -> float:
    """Mean log-likelihood per held-out token answer (``held`` masks ``seq.tokens``' answers)
    under ``model``, fitted on the other answers (:func:`holdout_split`)."""
    held = np.asarray(held, dtype=bool)
    n_held = int(held.sum())
    if n_held == 0:
        raise CrowdlearnError("no held-out answers to score")
    if hasattr(model, "transitions_"):
        total = _hmm_heldout(model, seq, held)
    elif hasattr(model, "estimator_"):
        total = _token_heldout(model, seq, held)
    else:
        raise CrowdlearnError(f"cannot score held-out answers under {type(model).__name__}")
    return total / n_held


def _token_heldout(model: Any, seq: SequenceAnswers, held: np.ndarray) -> float:
    try:
        conf = np.asarray(model.confusions_)                        # (workers, true, given)
    except AttributeError as exc:
        raise CrowdlearnError(f"strategy {model.name!r} has no confusions: its held-out "
                              "likelihood is undefined") from exc
    tok = seq.tokens
    q = np.asarray(model.probas_)[tok.task[held]]                   # (held, K)
    pi = conf[tok.worker[held], :, tok.label[held]]                 # (held, K)
    with np.errstate(divide="ignore"):  # a zero confusion cell (maximum likelihood): -inf
        return float(np.log((q * pi).sum(axis=1)).sum())


def _hmm_heldout(model: Any, seq: SequenceAnswers, held: np.ndarray) -> float:
    tok = seq.tokens
    k = seq.n_tags
    conf = np.asarray(model.confusions_)
    if conf.ndim == 3:                                              # "full": no previous tag
        conf = conf[:, None]
        prev = np.zeros(tok.n_answers, dtype=np.int64)
    else:
        prev = model._previous_tags(seq)
    n_prev = conf.shape[1]
    log_conf = np.log(conf).reshape(-1, k, k)                       # (w * prev, true, given)
    rows = tok.worker.astype(np.int64) * n_prev + prev
    score = log_conf[rows, :, tok.label]                            # (answers, K over true)

    def per_token(mask: np.ndarray) -> np.ndarray:
        idx = np.flatnonzero(mask)
        inc = sp.csr_matrix((np.ones(len(idx)), (tok.task[idx], np.arange(len(idx)))),
                            shape=(tok.n_tasks, len(idx)))
        return np.asarray(inc @ score[idx])

    base, extra = per_token(~held), per_token(held)
    if getattr(model, "words", False) and hasattr(model, "word_emissions_"):
        index = {w: i for i, w in enumerate(model.vocabulary_.tolist())}
        wid = np.array([index.get(str(w), -1) for w in seq.words], dtype=np.int64)
        log_phi = np.log(model.word_emissions_)                     # (V, K)
        seen = wid >= 0          # words the model never saw carry no information (constant)
        base[seen] += log_phi[wid[seen]]
    sentences = np.unique(seq.token_sentence[tok.task[held]])
    sub = np.isin(seq.token_sentence, sentences)
    row = np.searchsorted(sentences, seq.token_sentence[sub])
    pos = seq.token_position[sub]
    lmax = int(pos.max()) + 1
    mask = np.zeros((len(sentences), lmax), dtype=bool)
    mask[row, pos] = True
    emit = np.zeros((len(sentences), lmax, k))
    emit[row, pos] = base[sub]
    start, trans = np.asarray(model.start_), np.asarray(model.transitions_)
    log_z_rest = forward_backward(emit, mask, start, trans)[3]
    emit[row, pos] += extra[sub]
    log_z_all = forward_backward(emit, mask, start, trans)[3]
    return log_z_all - log_z_rest


def compare_heldout(specs: list[str], seq: SequenceAnswers, *, share: float = 0.2,
                    seeds: tuple[int, ...] = (0,)) -> list[dict[str, Any]]:
    """Fit every strategy spec (``make_sequence_strategy`` names) on each seeded hold-out split
    and score the held-out answers: one row per spec with the mean log-likelihood per held-out
    answer (``loglik``, mean over seeds), the per-seed values, iterations and seconds."""
    from .aggregate import make_sequence_strategy

    splits = [holdout_split(seq, share, s) for s in seeds]
    out = []
    for spec in specs:
        values, iters, secs = [], [], []
        for fit, held in splits:
            t0 = time.perf_counter()
            est = make_sequence_strategy(spec).fit(fit)
            secs.append(time.perf_counter() - t0)
            iters.append(int(getattr(est, "n_iter_", 0) or 0))
            values.append(heldout_log_likelihood(est, seq, held))
        out.append({"spec": spec, "loglik": float(np.mean(values)), "per_seed": values,
                    "iterations": iters, "seconds": float(np.mean(secs)),
                    "held_answers": [int(h.sum()) for _, h in splits]})
    return out
