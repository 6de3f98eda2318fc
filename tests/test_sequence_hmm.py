"""Forward-backward and Viterbi against brute force; HMM-crowd on simulated crowds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from crowdlearn.sequence.forward_backward import forward_backward, viterbi


def _brute(log_emit: np.ndarray, start: np.ndarray, trans: np.ndarray):
    """Marginals, pairwise counts, first-tag counts, log Z and best path by enumeration."""
    n, k = log_emit.shape
    paths = list(itertools.product(range(k), repeat=n))
    w = np.array([start[p[0]] * np.prod([trans[p[i], p[i + 1]] for i in range(n - 1)])
                  * np.exp(sum(log_emit[i, p[i]] for i in range(n))) for p in paths])
    z = w.sum()
    gamma = np.zeros((n, k))
    xi = np.zeros((k, k))
    for p, wp in zip(paths, w, strict=True):
        for i in range(n):
            gamma[i, p[i]] += wp / z
        for i in range(n - 1):
            xi[p[i], p[i + 1]] += wp / z
    return gamma, xi, gamma[0], np.log(z), paths[int(np.argmax(w))]


def test_forward_backward_matches_brute_force_with_padding() -> None:
    rng = np.random.default_rng(0)
    k = 3
    lengths = [3, 1, 2]
    log_emit = rng.normal(size=(3, 3, k)) * 2
    mask = np.arange(3)[None, :] < np.array(lengths)[:, None]
    start = rng.dirichlet(np.ones(k))
    trans = rng.dirichlet(np.ones(k), size=k)
    gamma, xi, first, log_z = forward_backward(log_emit, mask, start, trans)
    paths = viterbi(log_emit, mask, np.log(start), np.log(trans))
    xi_sum, first_sum, z_sum = np.zeros((k, k)), np.zeros(k), 0.0
    for s, n in enumerate(lengths):
        g, x, f, lz, best = _brute(log_emit[s, :n], start, trans)
        np.testing.assert_allclose(gamma[s, :n], g, atol=1e-10)
        assert (gamma[s, n:] == 0).all()
        assert tuple(paths[s, :n]) == best and (paths[s, n:] == -1).all()
        xi_sum += x
        first_sum += f
        z_sum += lz
    np.testing.assert_allclose(xi, xi_sum, atol=1e-10)
    np.testing.assert_allclose(first, first_sum, atol=1e-10)
    assert log_z == pytest.approx(z_sum, abs=1e-9)


def test_forward_backward_unnormalised_weights() -> None:
    """Sub-normalised weights (exp E[log A] of variational Bayes) give normalised marginals."""
    rng = np.random.default_rng(1)
    log_emit = rng.normal(size=(1, 3, 2))
    start, trans = np.array([0.3, 0.2]), np.array([[0.5, 0.1], [0.2, 0.4]])
    gamma, xi, _, _ = forward_backward(log_emit, np.ones((1, 3), bool), start, trans)
    g, x, _, _, _ = _brute(log_emit[0], start, trans)
    np.testing.assert_allclose(gamma[0], g, atol=1e-10)
    np.testing.assert_allclose(xi, x, atol=1e-10)
