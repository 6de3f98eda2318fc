"""Confusion-matrix estimation error (CCEM's metric) in crowdlearn.metrics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from crowdlearn.metrics import confusion_estimation_error, per_annotator_confusion_error


def random_confusions(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    """Row-stochastic (m, k, k) matrices with a heavy diagonal."""
    return rng.dirichlet(np.ones(k), size=(m, k)) + 3 * np.eye(k)[None]


def normalised(a: np.ndarray) -> np.ndarray:
    return a / a.sum(axis=-1, keepdims=True)


def test_identical_matrices_have_zero_error() -> None:
    true = normalised(random_confusions(np.random.default_rng(0), 5, 4))
    assert confusion_estimation_error(true, true) == 0.0
    assert confusion_estimation_error(true, true, match=False) == 0.0
    assert np.array_equal(per_annotator_confusion_error(true, true), np.zeros(5))


def test_hand_example() -> None:
    true = np.array([[[0.8, 0.2], [0.3, 0.7]], [[1.0, 0.0], [0.0, 1.0]]])
    est = np.array([[[0.6, 0.4], [0.3, 0.7]], [[0.9, 0.1], [0.0, 1.0]]])
    # annotator 0: |0.2| + |0.2| over ||T||_1 = 2; annotator 1: 0.2 / 2
    errors = per_annotator_confusion_error(true, est)
    np.testing.assert_allclose(errors, [0.2, 0.1])
    assert confusion_estimation_error(true, est) == pytest.approx(0.15)
    # one (K, K) matrix
    assert confusion_estimation_error(true[0], est[0]) == pytest.approx(0.2)
    assert per_annotator_confusion_error(true[0], est[0]).shape == (1,)
    # classes listed the other way round: only matching recovers them
    swapped = est[:, ::-1, :]
    assert confusion_estimation_error(true, swapped) == pytest.approx(0.15)
    # match=False: annotator 0: (0.5 + 0.5 + 0.3 + 0.3) / 2, annotator 1: (1 + 1 + 0.9 + 0.9) / 2
    assert confusion_estimation_error(true, swapped, match=False) == pytest.approx(
        (0.8 + 1.9) / 2)


def test_invariant_to_a_shared_row_permutation() -> None:
    rng = np.random.default_rng(1)
    true = normalised(random_confusions(rng, 6, 5))
    est = normalised(true + 0.05 * rng.random(true.shape))
    base = confusion_estimation_error(true, est)
    perm = np.array([3, 0, 4, 1, 2])
    permuted = est[:, perm, :]
    assert confusion_estimation_error(true, permuted) == pytest.approx(base, abs=1e-12)
    np.testing.assert_allclose(per_annotator_confusion_error(true, permuted),
                               per_annotator_confusion_error(true, est), atol=1e-12)
    assert confusion_estimation_error(true, permuted, match=False) > base + 0.5


def test_permutation_is_shared_and_optimal() -> None:
    """Brute force over all permutations: the matched error is the minimum of the mean error
    under one permutation applied to every annotator (never per annotator)."""
    rng = np.random.default_rng(2)
    true = normalised(rng.random((4, 4, 4)))
    est = normalised(rng.random((4, 4, 4)))
    norms = np.abs(true).sum(axis=(1, 2))
    best = min(
        float(np.mean(np.abs(est[:, list(p), :] - true).sum(axis=(1, 2)) / norms))
        for p in itertools.permutations(range(4))
    )
    assert confusion_estimation_error(true, est) == pytest.approx(best)
    per_annotator_best = np.mean([
        min(np.abs(est[m, list(p)] - true[m]).sum() / norms[m]
            for p in itertools.permutations(range(4)))
        for m in range(4)
    ])
    assert confusion_estimation_error(true, est) >= per_annotator_best - 1e-12


def test_bad_inputs() -> None:
    eye = np.eye(3)
    with pytest.raises(ValueError, match="same shape"):
        confusion_estimation_error(eye[None], np.eye(2)[None])
    with pytest.raises(ValueError, match="same shape"):
        confusion_estimation_error(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="same shape"):
        confusion_estimation_error(np.ones(3), np.ones(3))
    bad = np.stack([eye, eye])
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite value at annotator 1, row 2, column 0"):
        confusion_estimation_error(np.stack([eye, eye]), bad)
    with pytest.raises(ValueError, match="all zeros"):
        confusion_estimation_error(np.zeros((3, 3)), eye)
