"""Scores of real-valued estimates against true values: R^2, MAE, RMSE.

Tasks whose truth is unknown (NaN) or whose estimate is missing (NaN, a task without answers)
are left out and counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["mae", "r2_score", "regression_scores", "rmse"]


def _pair(truth: Any, pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(truth, dtype=np.float64).reshape(-1)
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"truth and estimates differ in length ({len(t)} vs {len(p)})")
    keep = np.isfinite(t) & np.isfinite(p)
    return t[keep], p[keep]


def r2_score(truth: Any, pred: Any) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (NaN with fewer than 2 values)."""
    t, p = _pair(truth, pred)
    if len(t) < 2:
        return float("nan")
    ss_tot = float(((t - t.mean()) ** 2).sum())
    ss_res = float(((t - p) ** 2).sum())
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def mae(truth: Any, pred: Any) -> float:
    """Mean absolute error."""
    t, p = _pair(truth, pred)
    return float(np.abs(t - p).mean()) if len(t) else float("nan")


def rmse(truth: Any, pred: Any) -> float:
    """Root mean squared error."""
    t, p = _pair(truth, pred)
    return float(np.sqrt(((t - p) ** 2).mean())) if len(t) else float("nan")


def regression_scores(truth: Any, pred: Any) -> dict[str, float | int]:
    """``{"r2", "mae", "rmse", "n"}`` over the tasks with a known truth and an estimate."""
    t, _ = _pair(truth, pred)
    return {"r2": r2_score(truth, pred), "mae": mae(truth, pred), "rmse": rmse(truth, pred),
            "n": int(len(t))}
