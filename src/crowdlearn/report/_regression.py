"""The report of real-valued (regression) answers: ``crowdlearn report`` on a
:class:`~crowdlearn.real.RealAnswers`.

The same page as for class labels where it makes sense, with the regression diagnostics of
:mod:`crowdlearn.identify.regression`: the data set (value range, Krippendorff's interval
alpha), the regression strategies compared (R^2, MAE, RMSE against the truth when known, the
highest R^2 marked best), worker quality (answers vs peer-correlation, estimated scale and bias,
the flagged workers), the most ambiguous tasks (highest posterior sd) with their answers, the
estimates against the truth, and a ``fit`` output's training results. Template:
``templates/report_regression.html.j2``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import CrowdlearnError
from ._figures import figure_uri, plot_ambiguity

#: the columns of the flagged-workers table, when computed
WORKER_COLS = ("worker", "n-answers", "bias", "scale", "noise-sd", "abs-deviation",
               "peer-correlation", "truth-mae", "truth-correlation")


def regression_names(strategies: Sequence[str]) -> list[str]:
    """The regression strategy specs of ``-s`` (``all``: every one, the default first;
    ``default``: bias-scale), a classification strategy refused in one line."""
    from ..aggregate import parse_strategy_spec
    from ..aggregate.regression import available_regression, get_regression_class
    from ..identify.regression import DEFAULT_STRATEGY

    names: list[str] = []
    for spec in strategies:
        for s in (p.strip() for p in spec.split(",")):
            if s.lower() == "all":  # the default first: its model feeds the diagnostics
                names += [DEFAULT_STRATEGY] + available_regression()
            elif s.lower() == "default":
                names.append(DEFAULT_STRATEGY)
            elif s:
                get_regression_class(parse_strategy_spec(s)[0])  # refuses ds, mv, ...
                names.append(s)
    names = list(dict.fromkeys(names))
    if not names:
        raise CrowdlearnError("-s: no strategy given")
    return names


def _comparison(answers: Any, specs: list[str]) -> tuple[list[dict[str, Any]], Any]:
    """Rows of the comparison table (best R^2 marked when truth is known) and the first
    strategy's fitted estimator."""
    from ..aggregate.regression import make_regression_strategy
    from ..aggregate.regression.results import summarize_regression
    from ..identify.regression import DEFAULT_STRATEGY

    rows, first = [], None
    for spec in specs:
        est = make_regression_strategy(spec).fit(answers)
        s = summarize_regression(est, spec)
        rows.append({"strategy": spec, "default": est.name == DEFAULT_STRATEGY,
                     "r2": s.get("r2"), "mae": s.get("mae"), "rmse": s.get("rmse"),
                     "iterations": int(s["n_iter"]), "log_likelihood": s["log_likelihood"],
                     "seconds": float(s["seconds"]), "best": False})
        if first is None:
            first = est
    scored = [r for r in rows if r["r2"] is not None and np.isfinite(r["r2"])]
    if scored:
        top = max(r["r2"] for r in scored)
        for r in scored:
            r["best"] = r["r2"] == top
    return rows, first


def _answers_text(answers: Any, rows: np.ndarray) -> list[str]:
    """``"0.2, 0.4, 0.9"`` (sorted answers) for each task in ``rows``."""
    ptr = answers.task_indptr
    return [", ".join(f"{v:g}" for v in np.sort(answers.value[ptr[r]:ptr[r + 1]]))
            for r in rows]


def regression_context(answers: Any, strategies: Sequence[str] = ("default",), *,
                       fit: dict[str, Any] | None = None, fit_dir: Any = None,
                       n_tasks: int = 15, n_flagged: int = 30) -> dict[str, Any]:
    """Everything ``report_regression.html.j2`` shows (see the module docstring)."""
    from ..identify import plot as P
    from ..identify import plot_regression as R
    from ..identify.regression import (
        FLAG_NOTE,
        FLAG_RULES,
        FLAGS,
        MIN_FLAG_ANSWERS,
        identify_regression,
    )
    from ..plots import plot_training_history

    start = time.perf_counter()
    specs = regression_names(strategies)
    rows, est = _comparison(answers, specs)
    d = identify_regression(answers, est)
    arrays = est.result_arrays()
    v = answers.value
    per_task, per_worker = answers.answers_per_task(), answers.answers_per_worker()
    summary = {
        "name": answers.name or "answers", "n_tasks": answers.n_tasks,
        "n_workers": answers.n_workers, "n_answers": answers.n_answers,
        "values": (f"{v.min():g} to {v.max():g}, mean {v.mean():.4g}, sd {v.std():.4g}, "
                   f"{len(np.unique(v))} distinct") if len(v) else "",
        "per_task": f"{per_task.mean():.2f} (min {per_task.min()}, max {per_task.max()})",
        "per_worker": f"{np.median(per_worker):g} median (min {per_worker.min()}, "
                      f"max {per_worker.max()})",
        "n_truth": int(answers.truth_mask.sum()) if answers.has_truth else 0,
    }
    w = d.workers
    flagged_mask = np.zeros(len(w), dtype=bool)
    for f in FLAGS:
        flagged_mask |= np.asarray(w[f], dtype=bool)
    worker_cols = [c for c in WORKER_COLS if c in w] + list(FLAGS)
    if not answers.has_truth:
        worker_cols = [c for c in worker_cols if not c.startswith("truth-")]
    flagged = w[flagged_mask].sort_values("n-answers", ascending=False, kind="stable")
    t = d.tasks
    sd = np.asarray(t["answer-sd"], dtype=np.float64)
    post = np.nan_to_num(np.asarray(t["posterior-sd"], dtype=np.float64), nan=-1.0)
    # ties (mean, median: one posterior sd per answer count) broken by the answers' spread
    top = np.lexsort((-np.nan_to_num(sd, nan=-1.0), -post))[:n_tasks]
    task_rows = [{"task": t["task"].iloc[i], "answers": text,
                  "estimate": t["estimate"].iloc[i], "posterior_sd": t["posterior-sd"].iloc[i],
                  "answer_sd": sd[i],
                  "truth": answers.truth[i] if answers.has_truth else None}
                 for i, text in zip(top, _answers_text(answers, top), strict=True)]
    empirical = R.empirical_parameters(answers, MIN_FLAG_ANSWERS)[:2] if answers.has_truth \
        else None
    figures = {"workers": figure_uri(P.plot_worker_quality(w)),
               "parameters": figure_uri(R.plot_worker_parameters(w, empirical)),
               "values": figure_uri(R.plot_value_distribution(answers, arrays["estimates"])),
               "ambiguity": figure_uri(plot_ambiguity(t["posterior-sd"], "posterior-sd"))}
    coverage = None
    if answers.has_truth:
        figures["truth"] = figure_uri(R.plot_estimates_vs_truth(
            arrays["estimates"], answers.truth, arrays["posterior_sd"]))
        coverage = R.interval_coverage(arrays["estimates"], arrays["posterior_sd"],
                                       answers.truth)[0]
    training = None
    if fit is not None:
        from . import FIT_KEYS, HISTORY_KEYS

        nested = fit.get("history") if isinstance(fit.get("history"), dict) else {}
        history = {k: src[k] for src in (fit, nested) for k in HISTORY_KEYS
                   if isinstance(src.get(k), list) and src[k]}
        keys = FIT_KEYS + ("strategy", "best_val_loss", "train")
        training = {"dir": str(fit_dir),
                    "rows": [(k, _flat(fit[k])) for k in dict.fromkeys(keys)
                             if fit.get(k) is not None]}
        if history:
            figures["history"] = figure_uri(plot_training_history(history))
    return {
        "kind": "regression", "title": f"crowdlearn report: {summary['name']}",
        "summary": summary, "dataset_metrics": d.dataset, "comparison": rows,
        "has_truth": answers.has_truth, "strategy": specs[0],
        "strategy_class": type(est).__name__,
        "flag_rules": dict(FLAG_RULES), "flag_note": FLAG_NOTE,
        "n_flagged": {f: int(np.asarray(w[f], dtype=bool).sum()) for f in FLAGS},
        "n_flagged_total": int(flagged_mask.sum()), "worker_cols": worker_cols,
        "worker_rows": flagged[worker_cols].head(n_flagged).to_dict("records"),
        "task_rows": task_rows, "coverage": coverage, "training": training,
        "figures": figures, "seconds": time.perf_counter() - start,
    }


def _flat(value: Any) -> Any:
    """A results.json value as one table cell (a dict of scores as ``key value`` pairs)."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in value.items())
    return value
