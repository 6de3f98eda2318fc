"""Data-set-level agreement: Fleiss' kappa, and crowd-kit's Krippendorff alpha, consistency and
uncertainty (the adapters of :mod:`crowdlearn.crowdkit_metrics`, reused as they are).

References
----------
.. [Fle71] J. L. Fleiss. Measuring nominal scale agreement among many raters. Psychological
   Bulletin 76(5), 1971.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fleiss_kappa(answers: Any) -> float:
    r"""Fleiss' kappa [Fle71]_, generalised to a varying number of answers per task.

    Tasks with fewer than two answers are left out. With :math:`n_{ik}` the votes for class
    :math:`k` on task :math:`i` and :math:`m_i` its answers, the observed agreement is the mean
    over tasks of :math:`P_i = \sum_k n_{ik}(n_{ik}-1) / (m_i(m_i-1))`, the chance agreement
    :math:`P_e = \sum_k p_k^2` with :math:`p_k` the share of all (kept) votes for :math:`k`, and
    :math:`\kappa = (\bar P - P_e)/(1 - P_e)` (1.0 when :math:`P_e = 1`: one class only).
    With the same number of answers per task this is Fleiss' formula.
    """
    counts = answers.vote_counts().toarray()
    m = counts.sum(axis=1)
    keep = m >= 2
    if not keep.any():
        return float("nan")
    counts, m = counts[keep], m[keep]
    p_i = (counts * (counts - 1)).sum(axis=1) / (m * (m - 1))
    p_k = counts.sum(axis=0) / counts.sum()
    p_e = float((p_k ** 2).sum())
    if p_e >= 1.0:
        return 1.0
    return float((p_i.mean() - p_e) / (1.0 - p_e))


#: data-set metrics, by name
METRICS = ("fleiss-kappa", "krippendorff-alpha", "consistency", "uncertainty")


def dataset_metrics(answers: Any, metrics: Any = METRICS) -> dict[str, float]:
    """The data-set metrics asked for, by name (see :data:`METRICS`).

    ``krippendorff-alpha``, ``consistency`` (crowd-kit's default: majority vote and its worker
    skills) and ``uncertainty`` (crowd-kit's default: mean over tasks, skills 1) are
    :mod:`crowdlearn.crowdkit_metrics`, so they equal crowd-kit's values.
    """
    from .. import crowdkit_metrics as ck

    out: dict[str, float] = {}
    frame = None
    for name in metrics:
        if name == "fleiss-kappa":
            out[name] = fleiss_kappa(answers)
            continue
        if frame is None:
            frame = answers.to_frame(original=False)
        if name == "krippendorff-alpha":
            out[name] = float(ck.alpha_krippendorff(frame)) if answers.n_answers else np.nan
        elif name == "consistency":
            out[name] = float(ck.consistency(frame))
        elif name == "uncertainty":
            out[name] = float(ck.uncertainty(frame))
        else:
            raise ValueError(f"unknown data-set metric {name!r}")
    return out
