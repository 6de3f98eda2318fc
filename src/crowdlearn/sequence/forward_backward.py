"""Forward-backward and Viterbi over a batch of padded sentences (a loop over positions only).

Sentences are rows of padded arrays ``(S, L, K)``; ``mask[s, t]`` marks real tokens, which come
first in each row. Emissions are given as log-scores per token and tag; start and transition
scores as non-negative weights (probabilities, or the sub-normalised ``exp E[log A]`` of
variational Bayes). Every step is a batched product over all sentences at one position; the
forward-backward pass works on the real tokens only (sentences sorted by length, stored position
by position), never on the padding.
"""

from __future__ import annotations

import numpy as np


def forward_backward(log_emit: np.ndarray, mask: np.ndarray, start: np.ndarray,
                     trans: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Posterior marginals of a linear chain for every sentence.

    Parameters
    ----------
    log_emit : (S, L, K)
        Log-score of each tag at each token (padding ignored).
    mask : (S, L) bool
        Real tokens; each sentence's tokens are a prefix of its row.
    start : (K,)
        Weight of each first tag.
    trans : (K, K)
        ``trans[i, j]``: weight of tag ``j`` after tag ``i``.

    Returns
    -------
    gamma : (S, L, K)
        Per-token marginals (zero on padding).
    xi : (K, K)
        Expected number of ``i -> j`` transitions, summed over sentences and positions.
    first : (K,)
        Expected count of each first tag, summed over sentences.
    log_z : float
        Sum over sentences of the log normaliser (the log-likelihood when weights are
        probabilities).
    """
    s_n, l_n, k_n = log_emit.shape
    if s_n == 0 or l_n == 0:
        return (np.zeros_like(log_emit), np.zeros((k_n, k_n)), np.zeros(k_n), 0.0)
    # packed, position-major layout of the real tokens only: sentences sorted by decreasing
    # length, so the sentences alive at position t are a leading block of n_at[t] rows, stored
    # at off[t]:off[t] + n_at[t] (their predecessors at off[t - 1]:off[t - 1] + n_at[t])
    lengths = mask.sum(axis=1)
    order = np.argsort(-lengths, kind="stable")
    n_at = np.searchsorted(-lengths[order], -np.arange(l_n), side="left")
    off = np.concatenate([[0], np.cumsum(n_at)])
    n_tok = int(off[-1])
    pos_p = np.repeat(np.arange(l_n), n_at)
    row_p = order[np.arange(n_tok) - off[pos_p]]
    lp = log_emit[row_p, pos_p]                                    # (tokens, K)
    shift = lp.max(axis=1) if n_tok else np.zeros(0)
    emit = np.exp(lp - shift[:, None])
    alpha = np.empty((n_tok, k_n))
    log_c = np.zeros(n_tok)
    for t in range(l_n):
        a0, n = off[t], n_at[t]
        if n == 0:
            break
        prev = start[None, :] if t == 0 else alpha[off[t - 1]:off[t - 1] + n] @ trans
        a = prev * emit[a0:a0 + n]
        c = a.sum(axis=1)
        c = np.where(c > 0, c, 1.0)
        alpha[a0:a0 + n] = a / c[:, None]
        log_c[a0:a0 + n] = np.log(c)
    beta = np.ones((n_tok, k_n))
    xi = np.zeros((k_n, k_n))
    for t in range(l_n - 2, -1, -1):
        n = n_at[t + 1]                                            # rows with a token t + 1
        if n == 0:
            continue
        b0, a0 = off[t + 1], off[t]
        eb = emit[b0:b0 + n] * beta[b0:b0 + n]                     # (n, K)
        b = eb @ trans.T
        al = alpha[a0:a0 + n]
        tot = (al * b).sum(axis=1)                                 # sum_ij al_i A_ij eb_j
        xi += trans * ((al / np.where(tot > 0, tot, 1.0)[:, None]).T @ eb)
        norm = b.sum(axis=1, keepdims=True)
        beta[a0:a0 + n] = b / np.where(norm > 0, norm, 1.0)
    g = alpha * beta
    norm = g.sum(axis=1, keepdims=True)
    g /= np.where(norm > 0, norm, 1.0)
    gamma = np.zeros_like(log_emit, dtype=float)
    gamma[row_p, pos_p] = g
    return gamma, xi, g[:n_at[0]].sum(axis=0), float(log_c.sum() + shift.sum())


def viterbi(log_emit: np.ndarray, mask: np.ndarray, log_start: np.ndarray,
            log_trans: np.ndarray) -> np.ndarray:
    """Most probable tag sequence of every sentence, ``(S, L)`` int64 (``-1`` on padding)."""
    s_n, l_n, k_n = log_emit.shape
    out = np.full((s_n, l_n), -1, dtype=np.int64)
    if s_n == 0 or l_n == 0:
        return out
    back = np.zeros((s_n, l_n, k_n), dtype=np.int64)
    delta = log_start[None, :] + log_emit[:, 0]
    for t in range(1, l_n):
        cand = delta[:, :, None] + log_trans[None]                 # (S, from, to)
        best = cand.argmax(axis=1)
        new = np.take_along_axis(cand, best[:, None, :], axis=1)[:, 0] + log_emit[:, t]
        live = mask[:, t]
        back[:, t] = np.where(live[:, None], best, np.arange(k_n)[None, :])
        delta = np.where(live[:, None], new, delta)
    state = delta.argmax(axis=1)
    lengths = mask.sum(axis=1)
    for t in range(l_n - 1, -1, -1):
        live = t < lengths
        out[live, t] = state[live]
        if t:
            state = np.where(live, back[np.arange(s_n), t, state], state)
    return out
