"""Aggregating crowd tag sequences: token-level strategies and sequence-aware models.

``make_sequence_strategy("ds")`` runs the classification strategy ``ds`` on the tokens (a token is
a task, :attr:`SequenceAnswers.tokens`); any strategy of :mod:`crowdlearn.aggregate` works so
(``mv``, ``ds``, ``ibcc``, ``pooled-ds``, ...). ``hmm-crowd`` is the sequence-aware model of
:mod:`crowdlearn.sequence.hmm`. Parameters go in brackets, as on the command line:
``hmm-crowd[confusion=seq]``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..errors import CrowdlearnError, NotFittedError
from .data import SequenceAnswers
from .hmm import HMMCrowd

#: sequence-aware strategies (the others are classification strategies run on tokens)
SEQUENCE_MODELS: dict[str, type] = {"hmm-crowd": HMMCrowd}
#: the strategy of ``crowdlearn aggregate --kind sequence`` without ``-s``
DEFAULT_SEQUENCE_STRATEGY = "hmm-crowd"


class TokenAggregator:
    """A classification strategy run on tokens as tasks, ignoring their order.

    Parameters
    ----------
    strategy : str
        A name of :func:`crowdlearn.aggregate.make_strategy` (``mv``, ``ds``, ``ibcc``, ...).
    **params
        Its parameters.

    Attributes
    ----------
    labels_ : ndarray (tokens,)
        Tag index per token; ``-1`` for tokens of sentences no worker tagged (written ``O``).
    probas_ : ndarray (tokens, tags)
    estimator_ : the fitted classification strategy (``confusions_`` where it has them).
    """

    def __init__(self, strategy: str = "mv", **params: Any) -> None:
        self.strategy = strategy
        self.params = params
        self.name = strategy

    def get_params(self) -> dict[str, Any]:
        """The strategy and its parameters."""
        return {"strategy": self.strategy, **self.params}

    def fit(self, seq: SequenceAnswers) -> TokenAggregator:
        """Fit the strategy on ``seq.tokens``."""
        from ..aggregate import make_strategy

        t0 = time.perf_counter()
        est = make_strategy(self.strategy, **self.params).fit(seq.tokens)
        labels = np.asarray(est.labels_, dtype=np.int64).copy()
        labels[seq.tokens.answers_per_task() == 0] = -1
        self.labels_ = labels
        self.probas_ = np.asarray(est.probas_)
        self.estimator_ = est
        self.n_iter_ = int(getattr(est, "n_iter_", 0) or 0)
        self.fit_seconds_ = time.perf_counter() - t0
        self.sequences_ = seq
        return self

    @property
    def confusions_(self) -> np.ndarray:
        """The strategy's per-worker confusions (workers x tags x tags), when it has them."""
        if not hasattr(self, "estimator_"):
            raise NotFittedError("TokenAggregator is not fitted")
        conf = getattr(self.estimator_, "confusions_", None)
        if conf is None:
            raise AttributeError(f"strategy {self.strategy!r} has no confusion matrices")
        return np.asarray(conf)


def make_sequence_strategy(spec: str, **params: Any) -> Any:
    """An unfitted sequence aggregator from ``name[key=value,...]`` plus ``params``.

    ``hmm-crowd`` gives :class:`~crowdlearn.sequence.hmm.HMMCrowd`; any other name a
    :class:`TokenAggregator` over the classification strategy of that name (unknown names and
    parameters are refused with one line).
    """
    from ..aggregate import get_strategy_class, parse_strategy_spec

    name, bracket = parse_strategy_spec(spec)
    name = name.strip().lower()
    if name in ("default", ""):
        name = DEFAULT_SEQUENCE_STRATEGY
    merged = {**bracket, **params}
    model = SEQUENCE_MODELS.get(name)
    if model is not None:
        from ..params import check_params

        check_params(f"strategy {name!r}", model.param_specs, merged)
        return model(**merged)
    if name == "all":
        raise CrowdlearnError("-s all is not available for sequences; run one strategy at a "
                              "time (benchmarks/sequences.py compares them)")
    get_strategy_class(name)  # unknown names: the registry's one-line error
    return TokenAggregator(name, **merged)


def worker_table(est: Any, seq: SequenceAnswers) -> list[dict[str, Any]]:
    """Per-worker quality of a fitted sequence aggregator, one dict per worker.

    ``sentences``, ``tokens``: how much the worker tagged; ``agreement``: share of the worker's
    token tags equal to the aggregate; ``span_f1_vs_aggregate``: exact-span F1 of the worker's
    tags against the aggregate on the sentences the worker tagged; ``span_f1_vs_gold`` likewise
    against the gold tags (gold sentences only, when there are some); ``model_accuracy``: the
    probability of a correct tag implied by the model's confusions (weighted by the estimated tag
    frequencies), when the model has confusions.
    """
    from .metrics import _counts

    tok = seq.tokens
    labels = np.where(est.labels_ < 0, 0, est.labels_)
    n_w = seq.n_workers
    agree = np.bincount(tok.worker, weights=(tok.label == labels[tok.task]), minlength=n_w)
    n_tok = np.bincount(tok.worker, minlength=n_w)
    s_of, w_of = seq.sentence_workers
    dense = seq.dense_tags()
    names = np.asarray(seq.tags, dtype=object)
    agg = seq.sentence_tags(est.labels_)
    gold = seq.gold_tags() if seq.has_truth else None
    lengths = seq.sentence_lengths
    counts = np.zeros((n_w, 2, 3), dtype=np.int64)
    for s, w in zip(s_of.tolist(), w_of.tolist(), strict=True):
        mine = list(names[dense[s, : lengths[s], w]])
        counts[w, 0] += _counts([agg[s]], [mine])
        if gold is not None and seq.gold_sentences[s]:
            counts[w, 1] += _counts([gold[s]], [mine])
    model_acc = None
    try:
        conf = np.asarray(est.confusions_)
        if conf.ndim == 4:
            conf = conf.mean(axis=1)
        freq = np.asarray(est.probas_).sum(axis=0)
        model_acc = np.einsum("wkk->wk", conf) @ (freq / freq.sum())
    except (AttributeError, NotFittedError):
        pass
    rows = []
    for w in range(n_w):
        row = {"worker": str(seq.worker_ids[w]), "sentences": int((w_of == w).sum()),
               "tokens": int(n_tok[w]),
               "agreement": float(agree[w] / n_tok[w]) if n_tok[w] else None,
               "span_f1_vs_aggregate": _f1(counts[w, 0])}
        if gold is not None:
            row["span_f1_vs_gold"] = _f1(counts[w, 1])
        if model_acc is not None:
            row["model_accuracy"] = float(model_acc[w])
        rows.append(row)
    return rows


def _f1(c: np.ndarray) -> float | None:
    n_true, n_pred, ok = (int(x) for x in c)
    if n_true + n_pred == 0:
        return None
    return 2 * ok / (n_true + n_pred)
