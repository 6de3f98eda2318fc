"""``crowdlearn aggregate``: votes -> labels, posteriors and worker reliabilities."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import add_command
from ._common import (
    add_input_arguments,
    default_out_dir,
    format_table,
    load_answers,
    parse_params,
)
from ._sequence import add_sequence_arguments

#: what ``-s`` defaults to: Dawid-Skene with partially pooled confusions (aggregate/default.py)
DEFAULT_STRATEGY = "default"

#: measured evidence for the default, shown in --help (benchmarks/aggregation.py)
DEFAULT_EVIDENCE = (
    "Measured on the 14 shared truth-inference sets (benchmarks/aggregation.py): 0.89 points "
    "below each set's best strategy on average (auto: 1.1; EBCC: 1.49; DS: 1.75), within 1.3 of "
    "the best and above majority vote on 13 sets; on zencrowd-all, where a clique of heavy "
    "workers makes the same mistakes, 7.3 below the best (EBCC) and 4.2 below majority vote. "
    "auto, the default before, was 3.9 points below the best on seven unseen sets.")

EXAMPLE = """\
crowdlearn aggregate answers.csv -s ds -o out/
crowdlearn aggregate my-peerannot-dataset/ -s "glad[n_iter=200]"
crowdlearn aggregate data/rte -s all -o out/rte     # every strategy, comparison table
crowdlearn aggregate toy-data -s dawid_skene_clust[L=2] --hard   # peerannot's names
crowdlearn aggregate answers.csv                     # the default: pooled-ds
crowdlearn aggregate ner-mturk/val -s hmm-crowd -o out/   # tag sequences (CoNLL folder)"""

def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "aggregate", "infer true labels from crowd answers (truth inference)", EXAMPLE,
        description="Aggregate crowd answers with a truth-inference strategy and write, for "
        "data set D and strategy S (as given, lower case): labels_D_S.npy (peerannot's file: "
        "posteriors, or hard labels for the strategies peerannot gives hard labels only; "
        "labels_D_S_hard.npy with --hard), probas_D_S.npy, labels_D_S.csv, workers_D_S.npz "
        "and summary_D_S.json, all in one flat folder (no run overwrites another strategy's "
        "files). Strategies: pooled-ds (the default, also named 'default'), mv, naivesoft, "
        "wawa, zbs, twothird, iwmv, ds, onecoin, wds, dswc, plantnet, ibcc, ebcc, bwa, glad, "
        "kos, mace, mmsr, auto, all (every strategy but auto; prints the comparison and saves "
        "it as comparison.csv and comparison.json); peerannot's names (majority_voting, "
        "naive_soft, dawid_skene, dawid_skene_clust[L=..], ...) in any case. The default, "
        "pooled-ds, is Dawid-Skene with each worker's confusion matrix shrunk towards the "
        "crowd's pooled confusion (a worker with few answers is judged mostly by the crowd's "
        "error pattern); it is as fast as Dawid-Skene. " + DEFAULT_EVIDENCE,
    )
    add_input_arguments(p)
    add_sequence_arguments(p)
    p.add_argument("-s", "--strategy", default=DEFAULT_STRATEGY,
                   help="strategy name, optionally with parameters: name[key=value,...]; "
                   "'all' runs every strategy")
    p.add_argument("-o", "--out", default=None,
                   help="output folder (default: DATA/labels for a folder, else "
                   "<file stem>_labels next to the file)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="strategy parameter (repeatable), e.g. --param n_iter=50")
    p.add_argument("--hard", action="store_true",
                   help="write peerannot's hard-label file labels_<dataset>_<strategy>_hard.npy "
                   "(class indices, -1 where undecided) instead of labels_<dataset>_<strategy>.npy")
    p.add_argument("--seed", type=int, default=None,
                   help="random_state of randomised strategies and of tie-breaking")
    p.add_argument("--gold", default=None, metavar="FILE",
                   help="gold labels: known true labels of some tasks (same formats as "
                   "--truth), held fixed by every strategy; accuracy is then reported on the "
                   "other tasks and on the gold tasks apart")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print nothing but errors (and no progress bar)")
    from ._dask import add_dask_arguments

    add_dask_arguments(p)
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="run the EM on torch tensors: cpu, cuda, cuda:N or auto (CUDA when "
                   "present, else numpy); strategies mv, naivesoft, wawa, ds, onecoin, glad, "
                   "pooled-ds (the default); without it, numpy")
    p.add_argument("--update", default=None, metavar="STATE_DIR",
                   help="incremental update: add DATA's answers to the fit saved in STATE_DIR "
                   "(created when missing; -s mv, wawa, ds (default) or onecoin), write the "
                   "results for every answer so far and the new state")
    p.add_argument("--update-iter", type=int, default=3, metavar="N",
                   help="with --update: EM iterations over the tasks the new answers touch")
    p.add_argument("--sweep", action="store_true",
                   help="with --update: then revise every task from the whole history")
    p.add_argument("--update-refresh", type=float, default=None, metavar="R",
                   help="with --update: also revisit R earlier tasks (round-robin) per task the "
                   "new answers touch (default 1; 0: only the touched tasks). Larger R brings "
                   "ds closer to a full refit at a cost still proportional to the batch "
                   "(measured: 98.58%% of tasks agree at 1, 99.10%% at 3, 99.49%% at 8)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..aggregate._em import quiet_progress

    # a fit of 2 s or more draws a progress bar on a terminal; --quiet switches it off
    with quiet_progress(args.quiet):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from ..aggregate import get_strategy_class, make_strategy, parse_strategy_spec
    from ..aggregate.results import summarize, write_results
    from ..io._atomic import check_writable

    if args.engine == "dask":
        from ._dask import run_dask

        return run_dask(args, DEFAULT_STRATEGY)
    out_dir = Path(args.out) if args.out else default_out_dir(args.data, "labels")
    check_writable(out_dir, option="-o" if args.out else None)  # before any work
    from ._sequence import is_sequence, run_aggregate

    if is_sequence(args):  # tag sequences: crowdlearn.sequence (--kind sequence)
        return run_aggregate(args, out_dir)
    answers = load_answers(args)
    from ._regression import refuse_regression_strategy, run_regression

    if getattr(answers, "kind", "classification") == "regression":
        return run_regression(args, answers, out_dir, DEFAULT_STRATEGY)
    refuse_regression_strategy(args.strategy)
    gold = _read_gold(args.gold, answers)
    extra = parse_params(args.param)
    if args.update is None and args.update_refresh is not None:
        from ..errors import CrowdlearnError

        raise CrowdlearnError("--update-refresh is a setting of incremental updates: add "
                              "--update STATE_DIR")
    if args.update is not None:
        from ._update import run_update

        spec = None if args.strategy == DEFAULT_STRATEGY else args.strategy
        return run_update(args, answers, out_dir, spec, _with_seed(
            get_strategy_class(spec or "ds"), extra, args.seed))
    if args.strategy.strip().lower() == "all":
        return _run_all(args, answers, out_dir, extra, gold)

    name, bracket = parse_strategy_spec(args.strategy)
    cls = get_strategy_class(name)
    params = {**bracket, **_with_seed(cls, extra, args.seed)}
    params = _with_device(cls, params, args.device)
    est = make_strategy(name, **params)
    est.fit(answers, gold=gold)
    # files are named after -s as typed (peerannot's rule); without -s, after the strategy run
    spec = cls.name if args.strategy == DEFAULT_STRATEGY else args.strategy
    paths = write_results(est, out_dir, strategy=spec, hard=args.hard)
    if not args.quiet:
        s = summarize(est, cls.name)
        line = (f"{cls.name}: {answers.n_tasks} tasks, {answers.n_answers} answers, "
                f"{s['n_iter']} iterations, {s['seconds']:.3f} s")
        if "n_gold_tasks" in s:
            line += f", {s['n_gold_tasks']} gold tasks"
        if s.get("accuracy") is not None:
            other = " other" if "n_gold_tasks" in s else ""
            line += (f", accuracy {s['accuracy']:.4f} on {s['n_tasks_with_truth']}{other} "
                     f"tasks")
        if s.get("accuracy_gold") is not None:
            line += (f" (gold tasks: {s['accuracy_gold']:.4f} on "
                     f"{s['n_tasks_with_truth_gold']})")
        print(line)
        if hasattr(est, "reason_"):
            print(f"auto: {est.reason_}")
        print(f"wrote {', '.join(p.name for p in paths.values())} to {out_dir}")
    return 0


def _read_gold(path: str | None, answers: Any) -> Any:
    """Class index per task from the ``--gold`` file (-1 where unknown), or ``None``."""
    if path is None:
        return None
    from ..io.truth import read_truth

    return read_truth(path, answers.with_truth(None)).truth


def _run_all(args: argparse.Namespace, answers: Any, out_dir: Path, extra: dict,
             gold: Any = None) -> int:
    """``-s all``: every strategy but ``auto`` (the default included), a row each in README
    order, the best marked when truth is known, the table saved as comparison.csv/.json."""
    from ..aggregate import get_strategy_class, make_strategy
    from ..aggregate.comparison import comparison_order, mark_best, write_comparison
    from ..aggregate.results import summarize, write_results

    default = get_strategy_class(DEFAULT_STRATEGY).name
    rows = []
    for name in comparison_order():
        cls = get_strategy_class(name)
        row = {"strategy": name, "accuracy": None, "default": name == default,
               "iterations": None, "log_likelihood": None, "seconds": None, "note": ""}
        if cls.binary_only and answers.n_classes != 2:
            row["note"] = "binary only"
        else:
            est = make_strategy(name, **_with_device(cls, _with_seed(cls, extra, args.seed),
                                                     args.device, strict=False))
            est.fit(answers, gold=gold)
            write_results(est, out_dir, strategy=name, hard=args.hard)
            s = summarize(est, name)
            ll = s["log_likelihood"]
            row.update(accuracy=s.get("accuracy"), iterations=int(s["n_iter"]),
                       log_likelihood=None if ll is None else float(ll),
                       seconds=round(float(s["seconds"]), 4))
        rows.append(row)
    mark_best(rows)
    paths = write_comparison(rows, out_dir)
    if not args.quiet:
        print(f"{answers!r} -> {out_dir}")
        print(format_table(
            [[r["strategy"] + (" (default)" if r["default"] else ""), r["accuracy"],
              "*" if r["best"] else "", r["iterations"], r["log_likelihood"], r["seconds"],
              r["note"]] for r in rows],
            ["strategy", "accuracy", "best", "iterations", "log-lik/answer", "seconds", "note"]))
        print(f"wrote {paths['csv'].name} and {paths['json'].name} to {out_dir}")
    return 0


def _with_device(cls: type, params: dict, device: str | None, strict: bool = True) -> dict:
    """``params`` with ``device`` (``--device``) for the strategies that have a torch path."""
    if device is None:
        return params
    if "device" not in cls._param_names():
        if not strict:
            return params
        from ..aggregate._device import TORCH_STRATEGIES
        from ..errors import CrowdlearnError

        raise CrowdlearnError(f"--device: strategy {cls.name!r} runs on numpy only (torch: "
                              f"{', '.join(TORCH_STRATEGIES)})")
    return {**params, "device": params.get("device", device)}


def _with_seed(cls: type, params: dict, seed: int | None) -> dict:
    out = dict(params)
    if seed is not None and "random_state" in cls._param_names():
        out.setdefault("random_state", seed)
    return out
