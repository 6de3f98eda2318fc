"""``crowdlearn identify`` on real-valued answers (``--kind regression``, or detected)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import CrowdlearnError
from .identify import _number, _plain, _print_written

#: how many of the most ambiguous tasks the summary lists
SHOWN_TASKS = 5


def _refuse_classifier_options(args: argparse.Namespace) -> None:
    """Options that only make sense for class labels, refused in one line."""
    for option, given in (("--features", args.features is not None),
                          ("--images", args.images is not None),
                          ("--workers", bool(args.workers)),
                          ("--margin", args.margin is not None)):
        if given:
            what = "chooses the confusion grid" if option == "--workers" else \
                "feeds aum and waum, which train a classifier on class labels"
            raise CrowdlearnError(f"{option} {what}; regression answers have none")


def run_identify_regression(args: argparse.Namespace, answers: Any, out_dir: Path,
                            metrics: list[str] | None) -> int:
    """Score every worker and task of real-valued ``answers`` and write workers.csv,
    tasks.csv, dataset.json (and the figures with ``--plot``)."""
    import time

    from ..identify import identify
    from ..identify.plot import REGRESSION_QUALITY_COLUMNS
    from ..identify.regression import FLAG_NOTE, FLAG_RULES, FLAGS, metric_names
    from ._common import say_kind_note
    from .identify import staged_output

    _refuse_classifier_options(args)
    names = metric_names(metrics)  # a class-label metric: refused before any work
    if args.plot and ("n-answers" not in names
                      or not any(m in REGRESSION_QUALITY_COLUMNS for m in names)):
        raise CrowdlearnError("--plot needs -m n-answers and one of "
                              f"{', '.join(REGRESSION_QUALITY_COLUMNS)}")
    if args.fit and not args.plot:
        raise CrowdlearnError("--fit and --workers choose figures: add --plot")
    say_kind_note(args)
    start = time.perf_counter()
    d = identify(answers, args.strategy, names)
    seconds = time.perf_counter() - start
    flagged = {flag: [_plain(v) for v in d.workers["worker"][d.workers[flag]]]
               for flag in FLAGS if flag in d.workers}
    info: dict[str, Any] = {
        "dataset": answers.name, "kind": "regression", "strategy": args.strategy,
        "class": type(d.aggregator).__name__, "n_tasks": answers.n_tasks,
        "n_workers": answers.n_workers, "n_answers": answers.n_answers,
        "metrics": {k: _number(v) for k, v in d.dataset.items()},
        "flag_rules": {f: FLAG_RULES[f] for f in flagged}, "flag_note": FLAG_NOTE,
        "flagged": flagged, "seconds": round(seconds, 4),
    }
    if answers.has_truth:
        from ..metrics_regression import regression_scores

        info["scores"] = {k: _number(v) for k, v in regression_scores(
            answers.truth, d.aggregator.result_arrays()["estimates"]).items()}
    with staged_output(out_dir, d, info) as tmp:
        figures = _plots(args, answers, d, tmp) if args.plot else {}
    if not args.quiet:
        _print_summary(answers, d, info, out_dir, figures)
    return 0


def _plots(args: argparse.Namespace, answers: Any, d: Any, tmp: Path) -> dict[str, str]:
    """Draw the regression figures into ``tmp``; file name -> what it shows."""
    from ..identify import plot as P
    from ..identify import plot_regression as R
    from ..plots import save_figure
    from ..report._figures import plot_ambiguity

    fmt = args.plot_format
    arrays = d.aggregator.result_arrays()
    out: dict[str, str] = {}
    P.plot_worker_quality(d.workers, path=tmp / f"workers.{fmt}")
    out[f"workers.{fmt}"] = ""
    if {"scale", "bias"} <= set(d.workers):
        from ..identify.regression import MIN_FLAG_ANSWERS as N

        empirical = R.empirical_parameters(answers, N)[:2] if answers.has_truth else None
        R.plot_worker_parameters(d.workers, empirical, path=tmp / f"parameters.{fmt}")
        out[f"parameters.{fmt}"] = "estimated scale and bias" + (
            f", beside the least-squares line of the answers on the truth ({N}+ answers)"
            if empirical is not None else "")
    R.plot_value_distribution(answers, arrays["estimates"], path=tmp / f"values.{fmt}")
    out[f"values.{fmt}"] = ""
    key = next((k for k in ("posterior-sd", "answer-sd") if k in d.tasks), None)
    if key is not None:
        save_figure(plot_ambiguity(d.tasks[key], key), tmp / f"ambiguity.{fmt}")
        out[f"ambiguity.{fmt}"] = f"by {key}"
    if answers.has_truth:
        R.plot_estimates_vs_truth(arrays["estimates"], answers.truth, arrays["posterior_sd"],
                                  path=tmp / f"truth.{fmt}")
        out[f"truth.{fmt}"] = f"{int(answers.truth_mask.sum())} tasks with truth"
    if args.fit:
        P.plot_fit_history(args.fit, path=tmp / f"training.{fmt}")
        out[f"training.{fmt}"] = f"from {args.fit}"
    return out


def _print_summary(answers: Any, d: Any, info: dict[str, Any], out_dir: Path,
                   figures: dict[str, str]) -> None:
    from ._common import format_table

    print(f"{answers.n_workers} workers, {answers.n_tasks} tasks, {answers.n_answers} answers "
          f"(regression, {type(d.aggregator).__name__}, {info['seconds']:.2f} s)")
    for flag, ids in info["flagged"].items():
        shown = ", ".join(map(str, ids[:10])) + (f", ... ({len(ids) - 10} more)"
                                                 if len(ids) > 10 else "")
        print(f"{flag} workers: {len(ids)}" + (f": {shown}" if ids else ""))
    for name, value in d.dataset.items():
        print(f"{name}: {value:.4f}")
    s = info.get("scores")
    if s and s.get("r2") is not None:
        print(f"estimates vs truth: R^2 {s['r2']:.4f}, MAE {s['mae']:.4f} on {s['n']} tasks")
    key = next((k for k in ("posterior-sd", "answer-sd") if k in d.tasks), None)
    if key is not None and len(d.tasks):
        # ties (mean, median: one posterior sd per answer count) broken by the answers' spread
        by = [key] + (["answer-sd"] if key != "answer-sd" and "answer-sd" in d.tasks else [])
        top = d.tasks.sort_values(by, ascending=False, kind="stable", na_position="last")
        cols = ["task", "estimate"] + [c for c in ("posterior-sd", "answer-sd") if c in top]
        print(f"most ambiguous tasks (by {', then '.join(by)}):")
        rows = zip(*(top.head(SHOWN_TASKS)[c].tolist() for c in cols), strict=True)
        print(format_table([list(r) for r in rows], cols))
    _print_written(out_dir, figures)
