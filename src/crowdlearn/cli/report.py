"""``crowdlearn report``: one self-contained HTML page about a crowd."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import add_command
from ._common import add_input_arguments, load_answers

EXAMPLE = """\
crowdlearn report answers.csv -o report.html
crowdlearn report data/rte -s ds,mv,glad --fit out/rte_fit -o rte.html
crowdlearn report data/rte -s all -o rte.html     # every strategy compared"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "report", "one self-contained HTML page: data set, strategies, workers, tasks",
        EXAMPLE,
        description="Write one HTML file that opens offline in any browser (figures embedded "
        "as PNG, inline CSS, no network resource): the data set summary and agreement "
        "measures, the comparison of the strategies of -s (the best marked when truth is "
        "known), worker quality with the flagged spammers and adversarial workers (the "
        "rules of `crowdlearn identify`, applied to the first strategy's model), the most "
        "ambiguous tasks with their votes, and, with --fit, the training results of a "
        "`crowdlearn fit` output folder. Real-valued answers get the regression page: "
        "regression strategies compared by R^2 / MAE / RMSE, worker bias, scale and noise "
        "with the flags of `crowdlearn identify` for real values, the tasks with the largest "
        "posterior sd, the estimates against the truth.",
    )
    add_input_arguments(p)
    p.add_argument("-s", "--strategy", dest="strategies", action="extend", nargs="+",
                   metavar="STRATEGY", default=None,
                   help="strategies to compare (repeatable or comma-separated; 'all' for "
                   "every one but auto); the first one's model feeds the worker and task "
                   "diagnostics (default: default)")
    p.add_argument("--fit", dest="fit_dir", default=None, metavar="FIT_OUT",
                   help="a `crowdlearn fit` output folder whose results.json is reported")
    p.add_argument("-o", "--out", required=True, help="the HTML file to write")
    p.add_argument("--seed", type=int, default=None,
                   help="random_state of randomised strategies")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..aggregate._em import quiet_progress

    with quiet_progress(args.quiet):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import time

    from ..io._atomic import check_writable
    from ..report import render_report, report_context, write_report

    out = Path(args.out)
    check_writable(out, folder=False, option="-o")  # before any work
    start = time.perf_counter()
    answers = load_answers(args)
    context = report_context(answers, args.strategies or ["default"], fit_dir=args.fit_dir,
                             random_state=args.seed)
    write_report(render_report(context), out)
    if not args.quiet:
        flagged = ", ".join(f"{n} {flag}" for flag, n in context["n_flagged"].items())
        print(f"{answers.n_workers} workers ({flagged}), {answers.n_tasks} tasks, "
              f"{len(context['comparison'])} strategies compared; wrote {out} "
              f"({out.stat().st_size // 1024} KiB, {time.perf_counter() - start:.1f} s)")
    return 0
