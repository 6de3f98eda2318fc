"""``crowdlearn aggregate``: votes -> labels, posteriors and worker reliabilities."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import add_command
from ._common import add_input_arguments, format_table, load_answers, parse_params

EXAMPLE = """\
crowdlearn aggregate answers.csv -s ds -o out/
crowdlearn aggregate my-peerannot-dataset/ -s "glad[n_iter=200]"
crowdlearn aggregate data/rte -s all -o out/rte     # every strategy, comparison table
crowdlearn aggregate toy-data -s dawid_skene_clust[L=2] --hard   # peerannot's names
crowdlearn aggregate answers.csv                     # -s auto: chosen without ground truth"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "aggregate", "infer true labels from crowd answers (truth inference)", EXAMPLE,
        description="Aggregate crowd answers with a truth-inference strategy and write, for "
        "data set D and strategy S (as given, lower case): labels_D_S.npy (peerannot's file: "
        "posteriors, or hard labels for the strategies peerannot gives hard labels only; "
        "labels_D_S_hard.npy with --hard), probas_D_S.npy, labels_D_S.csv, workers_D_S.npz "
        "and summary_D_S.json, all in one flat folder (no run overwrites another strategy's "
        "files). Strategies: mv, naivesoft, wawa, zbs, twothird, iwmv, ds, onecoin, wds, dswc, "
        "plantnet, ibcc, ebcc, bwa, glad, kos, mace, mmsr, auto (default: picks one without "
        "ground truth), all (runs every strategy and prints a comparison); peerannot's names "
        "(majority_voting, naive_soft, dawid_skene, dawid_skene_clust[L=..], ...) in any case.",
    )
    add_input_arguments(p)
    p.add_argument("-s", "--strategy", default="auto",
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
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run)


def default_out_dir(data: str) -> Path:
    """Where results go when ``-o`` is not given."""
    path = Path(data)
    if path.is_dir():
        return path / "labels"
    return path.with_name(f"{path.stem}_labels")


def run(args: argparse.Namespace) -> int:
    from ..aggregate import available, get_strategy_class, make_strategy, parse_strategy_spec
    from ..aggregate.results import summarize, write_results

    answers = load_answers(args)
    out_dir = Path(args.out) if args.out else default_out_dir(args.data)
    extra = parse_params(args.param)
    if args.strategy.strip().lower() == "all":
        names = [n for n in available() if n != "auto"]
        rows = []
        for name in names:
            cls = get_strategy_class(name)
            if cls.binary_only and answers.n_classes != 2:
                rows.append([name, None, None, None, None, "binary only"])
                continue
            est = make_strategy(name, **_with_seed(cls, extra, args.seed))
            est.fit(answers)
            write_results(est, out_dir, strategy=name, hard=args.hard)
            s = summarize(est, name)
            rows.append([name, s.get("accuracy"), s["n_iter"], s["log_likelihood"],
                         s["seconds"], ""])
        if not args.quiet:
            print(f"{answers!r} -> {out_dir}")
            print(format_table(rows, ["strategy", "accuracy", "iterations", "log-lik/answer",
                                      "seconds", "note"]))
        return 0

    name, bracket = parse_strategy_spec(args.strategy)
    cls = get_strategy_class(name)
    params = {**bracket, **_with_seed(cls, extra, args.seed)}
    est = make_strategy(name, **params)
    est.fit(answers)
    paths = write_results(est, out_dir, strategy=args.strategy, hard=args.hard)
    if not args.quiet:
        s = summarize(est, cls.name)
        line = (f"{cls.name}: {answers.n_tasks} tasks, {answers.n_answers} answers, "
                f"{s['n_iter']} iterations, {s['seconds']:.3f} s")
        if "accuracy" in s:
            line += f", accuracy {s['accuracy']:.4f} on {s['n_tasks_with_truth']} tasks"
        print(line)
        if hasattr(est, "reason_"):
            print(f"auto: {est.reason_}")
        print(f"wrote {', '.join(p.name for p in paths.values())} to {out_dir}")
    return 0


def _with_seed(cls: type, params: dict, seed: int | None) -> dict:
    out = dict(params)
    if seed is not None and "random_state" in cls._param_names():
        out.setdefault("random_state", seed)
    return out
