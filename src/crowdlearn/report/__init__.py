"""A self-contained HTML report of a crowd: ``crowdlearn report``.

:func:`build_report` fits the aggregation strategies asked for, diagnoses workers and tasks with
:func:`crowdlearn.identify.identify` (with the first strategy's fitted model) and renders one
HTML page from the Jinja2 template ``templates/report.html.j2``: the data set summary, the
strategy comparison (the best row marked when truth is known, as
:mod:`crowdlearn.aggregate.comparison` marks it), worker quality with the flagged workers, the
most ambiguous tasks with their votes, and, given a ``fit`` output folder, its training results.
Real-valued answers get the regression page of :mod:`._regression` (template
``templates/report_regression.html.j2``).
Figures are PNGs embedded as ``data:`` URIs and the CSS is inline, so the page needs no network
and no other file. :func:`write_report` writes it atomically.

Jinja2 and matplotlib are imported only when a report is built.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CrowdlearnError
from ._figures import figure_uri, plot_ambiguity

__all__ = ["build_report", "report_context", "render_report", "write_report"]

#: how many of the most ambiguous tasks the report lists
N_TASKS = 15
#: how many flagged workers the report lists (the rest are counted)
N_FLAGGED = 30
#: how many workers' confusion matrices the report shows (the most active)
N_CONFUSIONS = 8
#: the per-epoch curves of a fit's ``results.json`` drawn in the training figure
HISTORY_KEYS = ("train_loss", "val_loss", "val_accuracy", "test_accuracy")
#: the scalar results of a fit's ``results.json`` listed in the report, in order
FIT_KEYS = ("strategy_spec", "backbone", "n_epochs", "best_epoch", "best_val_loss",
            "best_val_accuracy", "train_accuracy", "final_test_accuracy", "n_test",
            "confusion_error", "seconds", "device")


def _strategy_names(strategies: Sequence[str]) -> list[str]:
    from ..aggregate.comparison import comparison_order

    names: list[str] = []
    for spec in strategies:
        for s in (p.strip() for p in spec.split(",")):
            if s.lower() == "all":
                names += comparison_order()
            elif s:
                names.append(s)
    names = list(dict.fromkeys(names))
    if not names:
        raise CrowdlearnError("-s: no strategy given")
    return names


def _comparison(answers: Any, specs: list[str], random_state: int | None
                ) -> tuple[list[dict[str, Any]], Any]:
    """Rows of the comparison table and the first strategy's fitted aggregator."""
    from ..aggregate import get_strategy_class, make_strategy, parse_strategy_spec
    from ..aggregate.comparison import mark_best
    from ..aggregate.results import summarize

    default = get_strategy_class("default").name
    rows, first = [], None
    for spec in specs:
        name, params = parse_strategy_spec(spec)
        cls = get_strategy_class(name)
        row: dict[str, Any] = {"strategy": spec, "accuracy": None, "default": cls.name == default,
                               "iterations": None, "log_likelihood": None, "seconds": None,
                               "note": ""}
        if cls.binary_only and answers.n_classes != 2:
            if first is None and spec == specs[0]:
                raise CrowdlearnError(f"-s: {spec} handles two classes only, this data set has "
                                      f"{answers.n_classes}")
            row["note"] = "binary only"
        else:
            if random_state is not None and "random_state" in cls._param_names():
                params.setdefault("random_state", random_state)
            est = make_strategy(name, **params).fit(answers)
            s = summarize(est, spec)
            ll = s["log_likelihood"]
            row.update(accuracy=s.get("accuracy"), iterations=int(s["n_iter"]),
                       log_likelihood=None if ll is None else float(ll),
                       seconds=float(s["seconds"]))
            if first is None:
                first = est
        rows.append(row)
    return mark_best(rows), first


def _read_fit(fit_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(fit_dir) / "results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CrowdlearnError(f"--fit: {path}: no such file (give a `crowdlearn fit` output "
                              "folder)") from None
    except (OSError, ValueError) as exc:
        raise CrowdlearnError(f"--fit: {path}: cannot read it ({exc})") from None
    if not isinstance(results, dict):
        raise CrowdlearnError(f"--fit: {path}: not a results object")
    return results


def _votes_text(counts: Any, rows: np.ndarray, classes: np.ndarray) -> list[str]:
    """``"a: 3, b: 1"`` for each task in ``rows`` (vote counts, largest first)."""
    out = []
    for r in rows:
        start, end = counts.indptr[r], counts.indptr[r + 1]
        cols, n = counts.indices[start:end], counts.data[start:end]
        order = np.argsort(-n, kind="stable")
        out.append(", ".join(f"{classes[cols[i]]}: {int(n[i])}" for i in order))
    return out


def report_context(answers: Any, strategies: Sequence[str] = ("default",), *,
                   fit_dir: str | os.PathLike[str] | None = None,
                   random_state: int | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain values (figures as ``data:`` URIs).

    See :func:`build_report` for the parameters.
    """
    from ..identify import identify
    from ..identify.plot import plot_worker_quality
    from ..identify.workers import PERMUTATION_MARGIN, SPAM_THRESHOLD
    from ..plots import plot_confusions, plot_training_history

    start = time.perf_counter()
    fit = _read_fit(fit_dir) if fit_dir is not None else None  # bad input before any work
    if getattr(answers, "kind", "classification") == "regression":
        from ._regression import regression_context

        return regression_context(answers, strategies, fit=fit, fit_dir=fit_dir,
                                  n_tasks=N_TASKS, n_flagged=N_FLAGGED)
    specs = _strategy_names(strategies)
    rows, est = _comparison(answers, specs, random_state)
    if est is None:
        raise CrowdlearnError("-s: no strategy applies to this data set")
    d = identify(answers, est)
    classes = np.asarray(answers.classes)
    per_task, per_worker = answers.answers_per_task(), answers.answers_per_worker()
    summary = {
        "name": answers.name or "answers", "n_tasks": answers.n_tasks,
        "n_workers": answers.n_workers, "n_answers": answers.n_answers,
        "n_classes": answers.n_classes,
        "classes": ", ".join(map(str, classes[:20])) + (" ..." if len(classes) > 20 else ""),
        "per_task": f"{per_task.mean():.2f} (min {per_task.min()}, max {per_task.max()})",
        "per_worker": f"{np.median(per_worker):g} median (min {per_worker.min()}, "
                      f"max {per_worker.max()})",
        "n_truth": int(answers.truth_mask.sum()) if answers.has_truth else 0,
    }
    votes = np.bincount(answers.label, minlength=answers.n_classes)
    labels = np.asarray(est.result_arrays()["labels"], dtype=np.int64)
    decided = np.bincount(labels[labels >= 0], minlength=answers.n_classes)
    class_rows = [{"class": str(c), "votes": int(v), "vote_share": v / max(votes.sum(), 1),
                   "labels": int(n), "label_share": n / max(decided.sum(), 1)}
                  for c, v, n in zip(classes, votes, decided, strict=True)]

    w = d.workers
    flags = [f for f in ("spammer", "adversarial") if f in w]
    flagged_mask = np.zeros(len(w), dtype=bool)
    for f in flags:
        flagged_mask |= np.asarray(w[f], dtype=bool)
    worker_cols = [c for c in ("worker", "n-answers", "spam-score", "trace", "agreement",
                               "peer-agreement", "accuracy", *flags) if c in w]
    flagged = w[flagged_mask].sort_values("n-answers", ascending=False, kind="stable")
    worker_rows = flagged[worker_cols].head(N_FLAGGED).to_dict("records")

    t = d.tasks
    key = next(k for k in ("posterior-entropy", "vote-entropy") if k in t)
    top = np.argsort(-np.nan_to_num(np.asarray(t[key], dtype=np.float64), nan=-1.0),
                     kind="stable")[:N_TASKS]
    counts = answers.vote_counts().tocsr()
    task_rows = [{"task": t["task"].iloc[i], "votes": v, "label": t["label"].iloc[i],
                  "confidence": t["confidence"].iloc[i], "entropy": t[key].iloc[i],
                  "truth": (str(classes[answers.truth[i]]) if answers.has_truth
                            and answers.truth[i] >= 0 else "")}
                 for i, v in zip(top, _votes_text(counts, top, classes), strict=True)]

    figures = {"workers": figure_uri(plot_worker_quality(w))}
    figures["ambiguity"] = figure_uri(plot_ambiguity(t[key], key))
    notes: dict[str, str] = {}
    conf = est.result_arrays().get("confusions")
    if conf is not None and np.ndim(conf) == 3:
        figures["confusions"] = figure_uri(plot_confusions(
            conf, classes=[str(c) for c in classes], worker_names=[str(x) for x in
                                                                   answers.worker_ids],
            workers="most-active", activity=per_worker, max_workers=N_CONFUSIONS))
        shown = min(N_CONFUSIONS, answers.n_workers)
        notes["confusions"] = (f"the {shown} most active of {answers.n_workers} workers" +
                               (f" ({answers.n_workers - shown} left out)"
                                if shown < answers.n_workers else ""))
    training = None
    if fit is not None:
        history = {k: fit[k] for k in HISTORY_KEYS if isinstance(fit.get(k), list) and fit[k]}
        training = {"dir": str(fit_dir),
                    "rows": [(k, fit[k]) for k in FIT_KEYS if fit.get(k) is not None]}
        if history:
            figures["history"] = figure_uri(plot_training_history(history))
    return {
        "title": f"crowdlearn report: {summary['name']}",
        "summary": summary, "dataset_metrics": d.dataset, "class_rows": class_rows,
        "comparison": rows, "has_truth": answers.has_truth, "strategy": specs[0],
        "strategy_class": type(est).__name__,
        "flag_rules": {"spammer": f"spam score < {SPAM_THRESHOLD}",
                       "adversarial": "a label permutation of the confusion matrix beats its "
                       f"diagonal by more than {PERMUTATION_MARGIN} per class"},
        "n_flagged": {f: int(np.asarray(w[f], dtype=bool).sum()) for f in flags},
        "n_flagged_total": int(flagged_mask.sum()), "worker_cols": worker_cols,
        "worker_rows": worker_rows, "task_key": key, "task_rows": task_rows,
        "training": training, "figures": figures, "notes": notes,
        "seconds": time.perf_counter() - start,
    }


def render_report(context: dict[str, Any]) -> str:
    """The HTML page of a :func:`report_context`."""
    import jinja2

    from .. import __version__

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crowdlearn.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True)
    env.filters["num"] = _num
    name = "report_regression.html.j2" if context.get("kind") == "regression" else \
        "report.html.j2"
    return env.get_template(name).render(version=__version__, **context)


def _num(value: Any, digits: int = 4) -> str:
    """A table cell: integers as they are, floats rounded, missing values empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}g}" if abs(value) >= 1e4 else \
            f"{float(value):.{digits}f}".rstrip("0").rstrip(".") or "0"
    return str(value)


def build_report(answers: Any, strategies: Sequence[str] = ("default",), *,
                 fit_dir: str | os.PathLike[str] | None = None,
                 random_state: int | None = None) -> str:
    """One self-contained HTML page describing a crowd's ``answers``.

    Parameters
    ----------
    answers : Answers or RealAnswers
        Real values get the regression page (regression strategies, ``"default"`` is
        ``bias-scale``; diagnostics of :mod:`crowdlearn.identify.regression`).
    strategies : sequence of str
        Strategy specs (``"ds"``, ``"glad[n_iter=50]"``, comma-separated lists, ``"all"``) to
        compare; the first one's labels, posteriors and confusion matrices are the ones the
        worker and task diagnostics use (:func:`crowdlearn.identify.identify`).
    fit_dir : path, optional
        A ``crowdlearn fit`` output folder: its ``results.json`` adds training results.
    random_state : int, optional
        Seed of randomised strategies.

    Examples
    --------
    >>> from crowdlearn.simulate import simulate
    >>> crowd = simulate(200, 3, workers=[("one-coin", 6, {"skill": 0.8}), ("spammer", 2)],
    ...                  answers_per_task=4, seed=0)
    >>> html = build_report(crowd.answers, ["mv", "ds"])
    >>> "data:image/png;base64," in html and "http://" not in html
    True
    """
    return render_report(report_context(answers, strategies, fit_dir=fit_dir,
                                        random_state=random_state))


def write_report(html: str, path: str | os.PathLike[str]) -> Path:
    """Write ``html`` to ``path`` atomically (a reader never sees half a page)."""
    from ..io._atomic import atomic_write

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target, encoding="utf-8") as f:
        f.write(html)
    return target
