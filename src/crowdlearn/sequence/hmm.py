"""HMM-crowd: a hidden Markov chain of true tags observed through per-worker confusions."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma, gammaln

from ..aggregate._em import fit_progress, run_em
from ..errors import NotFittedError
from ..params import N_ITER, POSITIVE, TOL, Bool, Choice, Param, check_params
from .data import SequenceAnswers
from .forward_backward import forward_backward, viterbi

__all__ = ["HMMCrowd", "bio_allowed"]


def bio_allowed(tags: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(first, after)`` boolean masks of valid BIO tags: ``I-T`` never starts a sentence and
    follows only ``B-T`` or ``I-T``; everything else is allowed."""
    tags = [str(t) for t in tags]
    k = len(tags)
    first = np.array([not t.startswith("I-") for t in tags])
    after = np.ones((k, k), dtype=bool)
    for j, t in enumerate(tags):
        if t.startswith("I-"):
            after[:, j] = [p in (f"B-{t[2:]}", t) for p in tags]
    return first, after


def _elog_dirichlet(a: np.ndarray) -> np.ndarray:
    """``E[log p]`` under ``Dirichlet(a)`` along the last axis."""
    return digamma(a) - digamma(a.sum(axis=-1, keepdims=True))


def _kl_dirichlet(a: np.ndarray, b: np.ndarray) -> float:
    """``KL(Dir(a) || Dir(b))`` summed over all rows (Dirichlets along the last axis; ``b``
    broadcasts against ``a``)."""
    b = np.broadcast_to(b, a.shape)
    a0, b0 = a.sum(axis=-1), b.sum(axis=-1)
    return float(np.sum(gammaln(a0) - gammaln(b0)) - np.sum(gammaln(a) - gammaln(b))
                 + np.sum((a - b) * _elog_dirichlet(a)))


class HMMCrowd:
    r"""HMM-crowd / BSC-seq-style aggregation of crowd tag sequences, by variational Bayes.

    True tags of a sentence form a Markov chain, :math:`h_1 \sim \mathrm{Cat}(\rho)`,
    :math:`h_t \mid h_{t-1} \sim \mathrm{Cat}(A_{h_{t-1}})`; worker :math:`w` tags token :math:`t`
    with :math:`l_{wt} \sim \mathrm{Cat}(\pi^w_{h_t})` (``confusion="full"``, the HMM-crowd
    worker model of Nguyen et al. 2017) or :math:`\mathrm{Cat}(\pi^w_{l_{w,t-1}, h_t})`, a
    confusion that also depends on the worker's own previous tag (``confusion="seq"``, the
    sequential annotator model of Simpson & Gurevych 2019's BSC-seq), which captures systematic
    boundary habits (always ``B-`` inside an entity, entities cut short). Dirichlet priors:
    confusion rows :math:`\mathrm{Dir}(\beta)` with ``a_v`` on the correct tag and ``b_v``
    elsewhere (IBCC's reference values 4 and 1), transition rows and the start distribution
    :math:`\mathrm{Dir}(1)`; with ``bio=True`` invalid BIO transitions (``O -> I-T``, a sentence
    starting with ``I-T``) get a prior of ``1e-6`` (as BSC-seq does), so decoded sequences are
    valid BIO. With ``words=True`` (HMM-crowd's word emissions) each true tag also emits the
    token's text, :math:`x_t \mid h_t \sim \mathrm{Cat}(\phi_{h_t})` with
    :math:`\phi_k \sim \mathrm{Dir}(\text{word\_prior})` over the vocabulary of the tagged
    sentences (case kept): occurrences of a word anywhere in the data inform each other.
    Defaults: the sequential confusion and word emissions (both published components). The
    choice is backed by a criterion that reads no gold tag: with 20% of each worker's sentences
    held out (:mod:`crowdlearn.sequence.heldout`, three seeded splits), the default gives the
    held-out answers of ``ner-mturk/val`` the highest likelihood of the four combinations on
    every split (``benchmarks/sequence_selection.py``); ``benchmarks/sequences.py`` reports
    the span F1 of every combination.

    Mean-field variational Bayes: :math:`q(h)` comes from one forward-backward pass over all
    sentences at once (batched, a loop over positions only, padding never touched) with the
    weights :math:`\exp E[\log A]`, :math:`\exp E[\log \rho]` and emission scores
    :math:`\sum_{w} E[\log \pi^w]` gathered by one sparse product over the token answers; the
    Dirichlet posteriors add the expected counts (confusions: incidence :math:`^\top` marginals;
    transitions: the summed pairwise marginals). Iterations run on the EM skeleton
    (:func:`crowdlearn.aggregate._em.run_em`) from the token vote shares and stop when no token
    marginal moves by more than ``tol``. Tags are decoded by Viterbi (``decode="viterbi"``) or
    per-token marginals (``"marginal"``); tokens of sentences no worker tagged are left
    undecided (``-1``, written as ``O``).

    Parameters
    ----------
    confusion : {"seq", "full"}
    a_v, b_v : float
        Confusion prior (correct tag, each other tag).
    bio : bool
        Forbid invalid BIO transitions in the prior.
    decode : {"viterbi", "marginal"}
    words : bool
        Emit token texts from the true tags.
    word_prior : float
        Dirichlet pseudo-count of every (tag, word) cell.
    max_iter : int
        Iteration cap (300). On ``ner-mturk/val`` the default reaches ``tol`` at iteration 119
        (ELBO then 1.6e-5 nats below its fixed point); the former cap of 100 stopped it in the
        middle of a slow climb (ELBO 6 nats lower, marginals still moving by 0.43).
    tol : float
        Stop once no token marginal moves by more than ``tol`` in an iteration. A test on the
        ELBO alone would stop too early: on ``ner-mturk/val`` it changes by a relative 5e-7 at
        iteration 30, on a plateau it later leaves (+210 nats by iteration 119).

    Attributes
    ----------
    labels_ : ndarray (tokens,)
        Tag index per token, -1 for tokens without answers.
    probas_ : ndarray (tokens, tags)
        Marginals :math:`q(h_t)`.
    confusions_ : ndarray
        Posterior-mean confusions, ``(workers, tags, tags)`` (rows = true tag) for ``"full"``,
        ``(workers, tags + 1, tags, tags)`` (previous worker tag, ``tags`` = sentence start;
        true tag; given tag) for ``"seq"``.
    transitions_ : ndarray (tags, tags); start_ : ndarray (tags,)
    word_emissions_ : ndarray (words, tags); vocabulary_ : ndarray (words,)
        With ``words=True``: posterior-mean word distribution of each tag, over
        ``vocabulary_`` (token texts of the tagged sentences).
    log_likelihood_ : float
        Evidence lower bound (ELBO) per answer at the last iteration; ``history_`` holds it
        per iteration (non-decreasing: a test checks it).
    n_iter_, converged_, fit_seconds_

    References
    ----------
    A. T. Nguyen, B. C. Wallace, J. J. Li, A. Nenkova, M. Lease. "Aggregating and predicting
    sequence labels from crowd annotations." ACL 2017.
    E. Simpson, I. Gurevych. "A Bayesian approach for sequence tagging with crowds." EMNLP 2019.

    Examples
    --------
    >>> seq = SequenceAnswers.from_sentences(
    ...     [["John", "Smith", "runs"]],
    ...     [(0, "w1", ["B-PER", "I-PER", "O"]), (0, "w2", ["B-PER", "O", "O"]),
    ...      (0, "w3", ["B-PER", "I-PER", "O"])])
    >>> model = HMMCrowd().fit(seq)
    >>> seq.sentence_tags(model.labels_)
    [['B-PER', 'I-PER', 'O']]
    """

    name = "hmm-crowd"
    param_specs: ClassVar[dict[str, Param]] = {
        "confusion": Choice("full", "seq"), "a_v": POSITIVE, "b_v": POSITIVE, "bio": Bool(),
        "decode": Choice("viterbi", "marginal"), "words": Bool(), "word_prior": POSITIVE,
        "max_iter": N_ITER, "tol": TOL,
    }

    def __init__(self, confusion: str = "seq", a_v: float = 4.0, b_v: float = 1.0,
                 bio: bool = True, decode: str = "viterbi", words: bool = True,
                 word_prior: float = 0.1, max_iter: int = 300, tol: float = 1e-3) -> None:
        self.confusion = confusion
        self.a_v = a_v
        self.b_v = b_v
        self.bio = bio
        self.decode = decode
        self.words = words
        self.word_prior = word_prior
        self.max_iter = max_iter
        self.tol = tol

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (scikit-learn convention)."""
        return {k: getattr(self, k) for k in self.param_specs}

    # ------------------------------------------------------------------ fit
    def fit(self, seq: SequenceAnswers) -> HMMCrowd:
        """Fit on crowd tag sequences; see the class documentation."""
        check_params(f"strategy {self.name!r}", self.param_specs, self.get_params())
        t0 = time.perf_counter()
        tok = seq.tokens
        k, w_n = seq.n_tags, seq.n_workers
        n_prev = k + 1 if self.confusion == "seq" else 1
        prev = self._previous_tags(seq) if self.confusion == "seq" else \
            np.zeros(tok.n_answers, dtype=np.int64)
        cols = (tok.worker.astype(np.int64) * n_prev + prev) * k + tok.label
        inc = sp.csr_matrix((np.ones(tok.n_answers), (tok.task, cols)),
                            shape=(tok.n_tasks, w_n * n_prev * k))
        inc_t = inc.T.tocsr()
        beta = np.eye(k) * (self.a_v - self.b_v) + self.b_v              # (true, given)
        first_ok, after_ok = bio_allowed(seq.tags) if self.bio else \
            (np.ones(k, bool), np.ones((k, k), bool))
        tiny = 1e-6
        start_prior = np.where(first_ok, 1.0, tiny)
        trans_prior = np.where(after_ok, 1.0, tiny)
        # sentences somebody tagged, padded
        live = seq.workers_per_sentence() > 0
        sub_tokens = np.flatnonzero(live[seq.token_sentence])
        s_of = np.cumsum(live) - 1
        row = s_of[seq.token_sentence[sub_tokens]]
        pos = seq.token_position[sub_tokens]
        lmax = int(pos.max()) + 1 if len(pos) else 0
        mask = np.zeros((int(live.sum()), lmax), dtype=bool)
        mask[row, pos] = True

        state: dict[str, Any] = {}
        if self.words:  # one-hot token texts of the tagged sentences (tokens x vocabulary)
            vocab, wid = np.unique(seq.words[sub_tokens].astype(str), return_inverse=True)
            onehot_t = sp.csr_matrix((np.ones(len(sub_tokens)), (wid.reshape(-1),
                                      np.arange(len(sub_tokens)))),
                                     shape=(len(vocab), len(sub_tokens)))

        def m_step(t: np.ndarray) -> dict[str, np.ndarray]:
            counts = (inc_t @ t).reshape(w_n, n_prev, k, k).transpose(0, 1, 3, 2)
            conf = beta[None, None] + counts                                # (w, prev, true, l)
            if "xi" in state:
                xi, first = state["xi"], state["first"]
            else:  # from the starting marginals: consecutive tokens taken as independent
                g = t[sub_tokens]
                nxt = np.flatnonzero(pos[1:] > 0) + 1
                xi = g[nxt - 1].T @ g[nxt]
                first = g[pos == 0].sum(axis=0)
            out = {"conf": conf, "trans": trans_prior + xi, "start": start_prior + first}
            if self.words:
                out["words"] = self.word_prior + onehot_t @ t[sub_tokens]    # (V, K)
            return out

        def e_step(p: dict[str, np.ndarray]) -> tuple[np.ndarray, float]:
            elog = _elog_dirichlet(p["conf"]).transpose(0, 1, 3, 2).reshape(-1, k)
            score = inc @ elog                                              # (tokens, K)
            log_emit = np.zeros((mask.shape[0], lmax, k))
            if self.words:
                elog_w = _elog_dirichlet(p["words"].T).T                    # (V, K)
                log_emit[row, pos] = score[sub_tokens] + (onehot_t.T @ elog_w)
            else:
                log_emit[row, pos] = score[sub_tokens]
            trans = np.exp(_elog_dirichlet(p["trans"]))
            start = np.exp(_elog_dirichlet(p["start"]))
            gamma, xi, first, log_z = forward_backward(log_emit, mask, start, trans)
            state.update(xi=xi, first=first, log_emit=log_emit, trans=trans, start=start)
            out = np.full((tok.n_tasks, k), 1.0 / k)
            out[sub_tokens] = gamma[row, pos]
            # evidence lower bound: log Z of the chain under exp E[log theta] weights minus the
            # KL divergences of the Dirichlet posteriors from their priors (Beal 2003, ch. 3)
            kl = (_kl_dirichlet(p["conf"], beta) + _kl_dirichlet(p["trans"], trans_prior)
                  + _kl_dirichlet(p["start"], start_prior))
            if self.words:
                kl += _kl_dirichlet(p["words"].T, np.full(len(vocab), self.word_prior))
            return out, (log_z - kl) / max(tok.n_answers, 1)

        def stop(old: np.ndarray, new: np.ndarray) -> bool:
            return bool(np.max(np.abs(old - new), initial=0.0) <= self.tol)

        init = tok.vote_counts().toarray()
        tot = init.sum(axis=1, keepdims=True)
        init = np.divide(init, tot, out=np.full_like(init, 1.0 / k), where=tot > 0)
        with fit_progress(self.name):
            res = run_em(init, m_step, e_step, max_iter=self.max_iter, stop=stop)
        p = res.params
        labels = np.full(tok.n_tasks, -1, dtype=np.int64)
        if "log_emit" in state and self.decode == "viterbi":
            with np.errstate(divide="ignore"):  # forbidden BIO moves: weight 0, log -inf
                paths = viterbi(state["log_emit"], mask, np.log(state["start"]),
                                np.log(state["trans"]))
            labels[sub_tokens] = paths[row, pos]
        else:
            labels[sub_tokens] = res.probas[sub_tokens].argmax(axis=1)
        conf = p["conf"] / p["conf"].sum(axis=-1, keepdims=True)
        self.confusions_ = conf[:, 0] if self.confusion == "full" else conf
        self.transitions_ = p["trans"] / p["trans"].sum(axis=1, keepdims=True)
        self.start_ = p["start"] / p["start"].sum()
        if self.words:  # posterior-mean word distribution of every tag, (vocabulary, tags)
            self.word_emissions_ = p["words"] / p["words"].sum(axis=0, keepdims=True)
            self.vocabulary_ = vocab
        self.labels_ = labels
        self.probas_ = res.probas
        self.n_iter_ = res.n_iter
        self.converged_ = res.converged
        self.log_likelihood_ = res.log_likelihood
        self.history_ = res.history
        self.fit_seconds_ = time.perf_counter() - t0
        self.sequences_ = seq
        return self

    @staticmethod
    def _previous_tags(seq: SequenceAnswers) -> np.ndarray:
        """For every token answer, the same worker's tag of the previous token of the sentence
        (``n_tags`` at a sentence start)."""
        tok = seq.tokens
        w = max(tok.n_workers, 1)
        key = tok.task.astype(np.int64) * w + tok.worker                    # sorted
        want = (tok.task.astype(np.int64) - 1) * w + tok.worker
        at = np.clip(np.searchsorted(key, want), 0, max(len(key) - 1, 0))
        found = (key[at] == want) & (seq.token_position[tok.task] > 0) if len(key) else \
            np.zeros(0, bool)
        return np.where(found, tok.label[at], seq.n_tags).astype(np.int64)

    # ------------------------------------------------------------------ results
    def worker_quality(self) -> dict[str, np.ndarray]:
        """Per-worker accuracy implied by the confusions (weighted by the estimated tag
        frequencies) and the F1-like entity recall (probability of not answering ``O`` to a
        true entity tag)."""
        if not hasattr(self, "confusions_"):
            raise NotFittedError("HMMCrowd is not fitted")
        conf = self.confusions_
        if conf.ndim == 4:  # "seq": the plain mean over the previous tag
            conf = conf.mean(axis=1)
        freq = self.probas_.sum(axis=0)
        freq = freq / freq.sum()
        diag = np.einsum("wkk->wk", conf)
        return {"accuracy": diag @ freq,
                "entity_recall": 1.0 - (conf[:, 1:, 0] * freq[1:]).sum(axis=1)
                / max(freq[1:].sum(), 1e-12)}
