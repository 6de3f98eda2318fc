"""``crowdlearn aggregate`` on real-valued answers (``--kind regression``, or detected)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

#: the regression strategy ``-s`` means when it is left at its default
DEFAULT_REGRESSION = "bias-scale"


def refuse_regression_strategy(spec: str) -> None:
    """One-line error for a regression strategy given class labels."""
    from ..aggregate.regression import is_regression_strategy
    from ..errors import DataError

    if is_regression_strategy(spec):
        name = spec.split("[", 1)[0].strip()
        raise DataError(f"strategy {name!r} takes regression answers, got class labels; if the "
                        "labels are numbers, declare them: --kind regression")


def run_regression(args: argparse.Namespace, answers: Any, out_dir: Path, default: str
                   ) -> int:
    """Fit the regression strategy ``args.strategy`` (``all``: every one) and write its files."""
    from ..aggregate.regression import available_regression, make_regression_strategy
    from ..aggregate.regression.results import summarize_regression, write_regression_results
    from ._common import format_table, parse_params

    extra = parse_params(args.param)
    spec = DEFAULT_REGRESSION if args.strategy == default else args.strategy
    specs = available_regression() if spec.strip().lower() == "all" else [spec]
    rows = []
    for s in specs:
        est = make_regression_strategy(s, **extra)
        est.fit(answers)
        paths = write_regression_results(est, out_dir, strategy=s if s != spec or
                                         args.strategy != default else est.name)
        rows.append((est, summarize_regression(est, est.name), paths))
    if args.quiet:
        return 0
    if len(rows) == 1:
        est, s, paths = rows[0]
        line = (f"{est.name}: {answers.n_tasks} tasks, {answers.n_answers} answers, "
                f"{s['n_iter']} iterations, {s['seconds']:.3f} s")
        if s.get("r2") is not None:
            line += (f", R^2 {s['r2']:.4f}, MAE {s['mae']:.4f} on {s['n_tasks_with_truth']} "
                     "tasks")
        print(line)
        print(f"wrote {', '.join(p.name for p in paths.values())} to {out_dir}")
        return 0
    print(f"{answers!r} -> {out_dir}")
    print(format_table([[s["strategy"], s.get("r2"), s.get("mae"), s["n_iter"], s["seconds"]]
                        for _, s, _ in rows],
                       ["strategy", "R^2", "MAE", "iterations", "seconds"]))
    return 0
