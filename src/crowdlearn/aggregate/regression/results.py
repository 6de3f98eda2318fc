"""Writing what a regression aggregator learned, for data set ``NAME`` and strategy ``S``:

``estimates_NAME_S.csv``
    ``task,estimate,posterior_sd`` with the original task ids (empty cells for a task the
    model cannot estimate);
``workers_NAME_S.csv``
    ``worker,n_answers,bias,scale,noise_sd`` with the original worker ids;
``summary_NAME_S.json``
    strategy, parameters, iterations, log-likelihood per answer, seconds, and R^2 / MAE / RMSE
    against the truth when the answers carry some.

The three files are written as one group (:func:`crowdlearn.io._atomic.atomic_update`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ...metrics_regression import regression_scores
from .base import RegressionAggregator

__all__ = ["summarize_regression", "write_regression_results"]


def summarize_regression(est: RegressionAggregator, strategy: str | None = None
                         ) -> dict[str, Any]:
    """A JSON-ready summary of a fitted regression aggregator."""
    from ..._plain import plain_data

    answers = est.answers_
    arrays = est.result_arrays()
    out: dict[str, Any] = {
        "strategy": strategy or est.name, "kind": "regression",
        "params": plain_data(est.get_params()), "n_tasks": answers.n_tasks,
        "n_workers": answers.n_workers, "n_answers": answers.n_answers,
        "n_iter": int(est.n_iter_), "converged": bool(est.converged_),
        "log_likelihood": None if est.log_likelihood_ is None else float(est.log_likelihood_),
        "seconds": float(est.fit_seconds_),
    }
    if answers.has_truth:
        out.update(regression_scores(answers.truth, arrays["estimates"]))
        out["n_tasks_with_truth"] = out.pop("n")
    return out


def _label(strategy: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-\[\]=,]", "_", strategy.lower())


def write_regression_results(est: RegressionAggregator, out_dir: str | Path,
                             strategy: str | None = None) -> dict[str, Path]:
    """Write the estimates, the worker table and the summary (see the module docstring)."""
    import pandas as pd

    from ...io._atomic import atomic_update
    from ...io._common import write_delimited

    answers = est.answers_
    a = est.result_arrays()
    stem = f"{answers.name or 'dataset'}_{_label(strategy or est.name)}"
    names = {"estimates": f"estimates_{stem}.csv", "workers": f"workers_{stem}.csv",
             "summary": f"summary_{stem}.json"}
    summary = summarize_regression(est, strategy)
    summary["files"] = names
    out = Path(out_dir)
    tasks = pd.DataFrame({"task": answers.task_ids, "estimate": a["estimates"],
                          "posterior_sd": a["posterior_sd"]})
    workers = pd.DataFrame({"worker": answers.worker_ids,
                            "n_answers": answers.answers_per_worker(), "bias": a["bias"],
                            "scale": a["scale"], "noise_sd": a["noise_sd"]})
    with atomic_update(out) as stage:
        write_delimited(tasks, stage / names["estimates"])
        write_delimited(workers, stage / names["workers"])
        (stage / names["summary"]).write_text(
            json.dumps(_finite(summary), indent=2, allow_nan=False), encoding="utf-8")
    return {k: out / v for k, v in names.items()}


def _finite(x: Any) -> Any:
    """``x`` with numpy scalars as Python numbers and NaN / infinities as ``None``."""
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x
