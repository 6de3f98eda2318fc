"""``crowdlearn identify``: who are the spammers, which tasks are ambiguous."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import add_command
from ._common import add_input_arguments, default_out_dir, format_table, load_answers

EXAMPLE = """\
crowdlearn identify answers.csv -o diag/
crowdlearn identify data/rte -s ds -m spam-score spammer adversarial vote-entropy -o diag/
crowdlearn identify answers.csv -m all -o diag/     # GLAD, MACE and one-coin fitted too"""

#: how many of the most ambiguous tasks the summary lists
SHOWN_TASKS = 5


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "identify", "diagnostics: spammers, adversarial workers, ambiguous tasks", EXAMPLE,
        description="Score every worker and task from the answers and a fitted aggregation "
        "strategy, and write workers.csv (one row per worker), tasks.csv (one row per task, "
        "with the aggregated label and its confidence) and dataset.json (agreement "
        "measures, flag rules, flagged workers). Worker metrics: n-answers, agreement (with "
        "the aggregate), peer-agreement, accuracy (against --truth), trace and spam-score "
        "(peerannot's, of the estimated confusion matrices; Dawid-Skene's when the strategy "
        "learns none), spammer (spam score < 0.05), adversarial (a label permutation beats "
        "the diagonal by more than 0.2 per class), glad-ability, mace-competence, "
        "onecoin-skill. Task metrics: n-answers, vote-entropy (peerannot's entropy), "
        "posterior-entropy, margin, glad-difficulty. Data set: fleiss-kappa, "
        "krippendorff-alpha, consistency, uncertainty (crowd-kit's). By default every metric "
        "but the GLAD/MACE/one-coin ones of another strategy than -s.",
    )
    add_input_arguments(p)
    p.add_argument("-s", "--strategy", default="default",
                   help="aggregation strategy whose labels, posteriors and confusions are "
                   "used: name[key=value,...]")
    p.add_argument("-m", "--metric", dest="metrics", action="extend", nargs="+",
                   metavar="METRIC", default=None,
                   help="metrics to compute (repeatable, or comma-separated); 'all' for every "
                   "one")
    p.add_argument("-o", "--out", default=None,
                   help="output folder (default: DATA/identify for a folder, else "
                   "<file stem>_identify next to the file)")
    p.add_argument("--plot", action="store_true",
                   help="also draw workers.png: answers given against worker quality "
                   "(spam-score by default), spammers and adversarial workers highlighted")
    p.add_argument("--seed", type=int, default=None,
                   help="random_state of randomised strategies")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run)


def _metric_names(items: list[str] | None) -> list[str] | None:
    if items is None:
        return None
    from ..errors import CrowdlearnError
    from ..identify import ALL_METRICS

    names = [n.strip() for item in items for n in item.split(",") if n.strip()]
    for n in names:
        if n != "all" and n not in ALL_METRICS:
            raise CrowdlearnError(f"-m: unknown metric {n!r} (choose from "
                                  f"{', '.join(ALL_METRICS)}, or all)")
    return names


def run(args: argparse.Namespace) -> int:
    from ..aggregate._em import quiet_progress

    with quiet_progress(args.quiet):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import time

    from ..identify import identify
    from ..identify.workers import PERMUTATION_MARGIN, SPAM_THRESHOLD
    from ..io._atomic import atomic_update, check_writable

    out_dir = Path(args.out) if args.out else default_out_dir(args.data, "identify")
    check_writable(out_dir, option="-o" if args.out else None)  # before any work
    metrics = _metric_names(args.metrics)
    if args.plot and metrics is not None and "all" not in metrics:
        from ..errors import CrowdlearnError
        from ..identify.plot import QUALITY_COLUMNS

        if "n-answers" not in metrics or not any(m in QUALITY_COLUMNS for m in metrics):
            raise CrowdlearnError("--plot needs -m n-answers and one of "
                                  f"{', '.join(QUALITY_COLUMNS)}")
    answers = load_answers(args)
    start = time.perf_counter()
    d = identify(answers, args.strategy, metrics, random_state=args.seed)
    seconds = time.perf_counter() - start
    flagged = {flag: [_plain(v) for v in d.workers["worker"][d.workers[flag]]]
               for flag in ("spammer", "adversarial") if flag in d.workers}
    info: dict[str, Any] = {
        "dataset": answers.name, "strategy": args.strategy,
        "class": type(d.aggregator).__name__, "n_tasks": answers.n_tasks,
        "n_workers": answers.n_workers, "n_answers": answers.n_answers,
        "metrics": {k: _number(v) for k, v in d.dataset.items()},
        "flag_rules": {"spammer": f"spam-score < {SPAM_THRESHOLD}",
                       "adversarial": "best label permutation of the confusion matrix is not "
                       f"the identity and (best - trace) / K > {PERMUTATION_MARGIN}"},
        "flagged": flagged, "seconds": round(seconds, 4),
    }
    import json

    with atomic_update(out_dir) as tmp:
        d.workers.to_csv(tmp / "workers.csv", index=False, lineterminator="\n")
        d.tasks.to_csv(tmp / "tasks.csv", index=False, lineterminator="\n")
        (tmp / "dataset.json").write_text(
            json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if args.plot:
            from ..identify.plot import plot_worker_quality

            plot_worker_quality(d.workers).savefig(tmp / "workers.png", dpi=120)
    if not args.quiet:
        _print_summary(answers, d, flagged, seconds, out_dir, args.plot)
    return 0


def _print_summary(answers: Any, d: Any, flagged: dict, seconds: float, out_dir: Path,
                   plot: bool = False) -> None:
    print(f"{answers.n_workers} workers, {answers.n_tasks} tasks, {answers.n_answers} answers "
          f"({type(d.aggregator).__name__}, {seconds:.2f} s)")
    for flag, ids in flagged.items():
        shown = ", ".join(map(str, ids[:10])) + (f", ... ({len(ids) - 10} more)"
                                                 if len(ids) > 10 else "")
        print(f"{flag} workers: {len(ids)}" + (f": {shown}" if ids else ""))
    for name, value in d.dataset.items():
        print(f"{name}: {value:.4f}")
    key = next((k for k in ("posterior-entropy", "vote-entropy") if k in d.tasks), None)
    if key is not None and len(d.tasks):
        top = d.tasks.sort_values(key, ascending=False, kind="stable").head(SHOWN_TASKS)
        print(f"most ambiguous tasks (by {key}):")
        cols = ["task", "label", "confidence", key]
        rows = zip(*(top[c].tolist() for c in cols), strict=True)
        print(format_table([list(r) for r in rows], cols))
    print(f"wrote workers.csv, tasks.csv, dataset.json{', workers.png' if plot else ''} "
          f"to {out_dir}")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _number(value: float) -> float | None:
    import math

    return None if value is None or math.isnan(value) else float(value)
