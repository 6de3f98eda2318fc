"""Items for simulated tasks: :func:`gaussian_features`, one Gaussian vector per task."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .errors import SimulationError
from .models import _check_count

#: mixed into an integer seed of :func:`gaussian_features` so that ``simulate(seed=s)`` and
#: ``gaussian_features(..., seed=s)`` draw from independent streams
_FEATURES_STREAM = 0x6A75


def gaussian_features(
    true_labels: Sequence[int] | np.ndarray,
    n_classes: int,
    dim: int,
    *,
    separation: float = 3.0,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Items for simulated tasks: one Gaussian feature vector per task, centred on its class.

    ``x_i = mu[y_i] + e_i`` with unit Gaussian noise ``e_i ~ N(0, I_dim)``. The class means are
    ``separation`` times unit directions: the first ``K`` coordinate axes when ``dim >= K``
    (one-hot means, pairwise distance ``separation * sqrt(2)``), otherwise ``K`` random unit
    vectors (nearly orthogonal when ``dim`` is not much smaller than ``K``). A classifier can
    then learn the true class from the features while the crowd's answers stay as noisy as
    simulated, which makes end-to-end learning from crowds testable with known truth: with
    one-hot means the best possible accuracy is about ``1 - (K - 1) * Phi(-separation / sqrt 2)``
    (about 95% for 4 classes at the default 3.0, 99.3% at 4.0).

    Parameters
    ----------
    true_labels : sequence of int
        True class index of each task (``SimulatedCrowd.true_labels``).
    n_classes : int
        Number of classes ``K`` (at least ``max(true_labels) + 1``).
    dim : int
        Number of features (at least 1).
    separation : float
        Distance of each class mean from the origin, in noise standard deviations (>= 0).
    seed : int, numpy.random.Generator or None
        Makes the draw reproducible. An integer seed gives a stream independent of
        :func:`simulate`'s with the same seed (the same integer can seed both).

    Returns
    -------
    ndarray of float32, shape (n_tasks, dim)
        Row ``i`` belongs to task ``i`` (the order of ``true_labels``).

    Examples
    --------
    >>> from crowdlearn.simulate import simulate
    >>> crowd = simulate(500, 3, 5, seed=0)
    >>> X = gaussian_features(crowd.true_labels, 3, 8, seed=0)
    >>> X.shape, X.dtype
    ((500, 8), dtype('float32'))
    """
    y = np.asarray(true_labels)
    if y.ndim != 1 or (y.size and y.dtype.kind not in "iu"):
        raise SimulationError("true_labels must be a 1-d array of class indices")
    k = _check_count("n_classes", n_classes, minimum=1)
    d = _check_count("dim", dim, minimum=1)
    if y.size and (int(y.min()) < 0 or int(y.max()) >= k):
        raise SimulationError(f"true labels must be class indices 0..{k - 1}")
    separation = float(separation)
    if not (math.isfinite(separation) and separation >= 0):
        raise SimulationError(f"separation must be a finite number >= 0, got {separation!r}")
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        rng = np.random.default_rng([int(seed), _FEATURES_STREAM])
    else:
        rng = np.random.default_rng(seed)
    if d >= k:
        directions = np.eye(k, d)
    else:
        directions = rng.standard_normal((k, d))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    means = separation * directions
    X = rng.standard_normal((len(y), d))
    X += means[y.astype(np.intp)]
    return X.astype(np.float32)
