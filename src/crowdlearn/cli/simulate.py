"""``crowdlearn simulate``: write a simulated crowd (answers, truth, true confusion matrices).

The simulation itself is :func:`crowdlearn.simulate.simulate` (Dawid & Skene's class-conditional
annotator model, with the annotator models listed in :data:`crowdlearn.simulate.MODELS`); this
module only parses options and writes the folder, atomically: everything is built in a hidden
temporary sibling folder which is then renamed to the destination.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import add_command

if TYPE_CHECKING:
    import numpy as np

    from ..simulate import SimulatedCrowd

EXAMPLE = """\
crowdlearn simulate -o sim/ --n-tasks 1000 --n-classes 4 --n-workers 20 --model one-coin
crowdlearn simulate -o sim/ --workers "perfect:2,symmetric:10:accuracy=0.7,adversarial:3" \\
    --answers-per-task 5 --seed 1
crowdlearn simulate -o sim/ --model separable-uniform --gamma 0.01 --n-workers 5 --p 0.3
crowdlearn simulate -o sim/ --n-tasks 200000 --n-classes 5 --n-workers 2000 \\
    --activity power-law --exponent 1.2 --format csv
crowdlearn simulate -o seqsim/ --kind sequence --n-workers 8 --boundary 0.1,0.4 --seed 0
crowdlearn simulate -o sim/ --n-classes 4 --n-workers 10 --features 16 --seed 0 && \\
    crowdlearn fit sim --features sim/features.csv --true-confusions sim/confusions.npy -o fit/"""

#: shown in --help only (the authoritative list is crowdlearn.simulate.MODELS, checked in run)
_MODEL_NAMES = ("perfect, spammer, hammer-spammer, symmetric, one-coin, diagonal, adversarial, "
                "separable-uniform")
FORMATS = ("peerannot", "csv", "parquet")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` sub-command."""
    p = add_command(
        sub, "simulate", "simulate a crowd of noisy annotators with known truth", EXAMPLE,
        description="Simulate crowd answers under the Dawid-Skene model: true labels from class "
        "priors, one confusion matrix per worker from annotator models (" + _MODEL_NAMES + "; "
        "mix them with --workers), workers assigned to tasks (fixed answers per task, or each "
        "worker answers each task with probability --p; uniform or power-law activity). "
        "Writes the answers, the truth, the true confusion matrices (confusions.npy) and every "
        "parameter (simulation.json) to the output folder; with --features, also Gaussian "
        "class-conditional items (features.csv) to train a classifier on with crowdlearn fit.",
    )
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--n-tasks", type=int, default=1000, help="number of tasks")
    p.add_argument("--n-classes", type=int, default=None,
                   help="number of classes (default: the length of --priors, else 3)")
    p.add_argument("--n-workers", type=int, default=None,
                   help="number of workers with --model (default 10; implied by --workers)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--model", default=None,
                     help="annotator model of every worker (default one-coin): " + _MODEL_NAMES)
    who.add_argument("--workers", default=None, metavar="SPEC",
                     help="a mix of models: MODEL:COUNT[:NAME=VALUE...],... e.g. "
                     "'perfect:2,symmetric:5:accuracy=0.8,adversarial:3'")
    p.add_argument("--model-param", action="append", metavar="NAME=VALUE",
                   help="parameter of --model (repeatable), e.g. accuracy=0.8, "
                   "hammer_share=0.3, strength=2, noise=0.1, min_skill=0.6")
    p.add_argument("--gamma", type=float, default=None,
                   help="noise level of the separable-uniform model (CCEM, Ibrahim et al. 2023); "
                   "applies to every worker group whose model has a gamma parameter")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--answers-per-task", type=int, default=None, metavar="R",
                     help="each task gets R distinct workers (default: min(5, workers))")
    how.add_argument("--p", type=float, default=None, metavar="P",
                     help="each worker answers each task with probability P instead")
    p.add_argument("--activity", choices=("uniform", "power-law"), default="uniform",
                   help="worker activity: equal, or power-law (a few workers answer most tasks)")
    p.add_argument("--exponent", type=float, default=1.0,
                   help="exponent of the power-law activity (worker of rank r weighs r^-exponent)")
    p.add_argument("--priors", default=None, metavar="P1,P2,...",
                   help="class priors, comma-separated, summing to 1 (default uniform)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed (default: a fresh one, recorded in simulation.json)")
    p.add_argument("--features", type=int, default=None, metavar="DIM",
                   help="also write features.csv (task, f0..f{DIM-1}): one Gaussian feature "
                   "vector per task around its true class's mean, for crowdlearn fit")
    p.add_argument("--separation", type=float, default=3.0,
                   help="with --features: distance of the class means from the origin, in noise "
                   "standard deviations (larger is easier)")
    p.add_argument("--format", choices=FORMATS, default="peerannot",
                   help="answers format; parquet: a partitioned data set written chunk by "
                   "chunk (part-NNNNN.parquet, truth in _truth/), for crowds too large for "
                   "memory and for crowdlearn aggregate --engine dask")
    p.add_argument("--partitions", type=int, default=None, metavar="N",
                   help="with --format parquet: number of files, each a disjoint set of tasks "
                   "simulated with its own seed derived from --seed (default: one per million "
                   "answers)")
    p.add_argument("--name", default="simulated", help="data set name")
    p.add_argument("--force", action="store_true",
                   help="replace the output folder if it exists and is not empty")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--kind", choices=("classification", "regression", "sequence"),
                   default="classification",
                   help="regression: real-valued answers from good, biased, noisy, scaled and "
                   "adversarial workers (--workers good:COUNT,biased:COUNT,...), written as "
                   "answers.csv (task,worker,value), answers.truth.csv, workers.csv (each "
                   "worker's true type, scale, bias and noise sd) and settings.json; sequence: "
                   "a CoNLL crowd folder of tag sequences (options below)")
    from ._sequence import add_simulate_arguments

    add_simulate_arguments(p)
    p.set_defaults(func=run)


def crowd_from_args(args: argparse.Namespace) -> SimulatedCrowd:
    """Run :func:`crowdlearn.simulate.simulate` with the command-line options."""
    from ..simulate import (
        SimulationError,
        model_parameters,
        parse_param,
        parse_workers,
        simulate,
    )

    priors = None
    if args.priors:
        try:
            priors = [float(x) for x in args.priors.split(",") if x.strip()]
        except ValueError:
            raise SimulationError(f"--priors must be comma-separated numbers, got {args.priors!r}")\
                from None
    n_classes = args.n_classes
    if n_classes is None and priors is None:
        n_classes = 3
    if args.model_param and args.workers:
        raise SimulationError("--model-param goes with --model; put parameters of --workers "
                              "groups in the spec (MODEL:COUNT:NAME=VALUE)")
    model_params = dict(parse_param(x) for x in args.model_param or ())
    if args.workers:
        groups: list[tuple[str, int, dict[str, Any]]] = parse_workers(args.workers)
        if args.n_workers is not None and args.n_workers != sum(c for _, c, _ in groups):
            raise SimulationError(f"--n-workers {args.n_workers} does not match --workers "
                                  f"({sum(c for _, c, _ in groups)} workers)")
    else:
        n_workers = 10 if args.n_workers is None else args.n_workers
        groups = [(args.model or "one-coin", n_workers, model_params)]
    if args.gamma is not None:
        targets = [g for g in groups if "gamma" in model_parameters(g[0])]
        if not targets:
            raise SimulationError("--gamma needs a model with a gamma parameter "
                                  "(separable-uniform)")
        for g in targets:
            g[2].setdefault("gamma", args.gamma)
    return simulate(
        args.n_tasks, n_classes, workers=groups, priors=priors,
        answers_per_task=args.answers_per_task, p=args.p, activity=args.activity,
        exponent=args.exponent, seed=args.seed, name=args.name,
    )


def write_crowd(crowd: SimulatedCrowd, out: Path, *, fmt: str = "peerannot",
                force: bool = False, extra: dict[str, Any] | None = None,
                features: np.ndarray | None = None) -> list[str]:
    """Write ``crowd`` into the folder ``out`` atomically; return the names of the files.

    Files: the answers and their truth, written by :func:`crowdlearn.io.write` in format
    ``fmt`` (peerannot: ``answers.json``, ``metadata.json``, ``truth_<name>.npy``; csv:
    ``answers.csv`` and ``answers.truth.csv``), ``confusions.npy`` (workers x K x K, row = true
    class) and ``simulation.json`` (every parameter, the worker models and, for non-uniform
    activity, the activity weights). Reading the folder (peerannot) or ``answers.csv`` back
    with :func:`crowdlearn.io.read` gives the answers with their truth.

    Row ``m`` of ``confusions.npy`` is the worker with id ``m``: ids are ``0..M-1``, but a
    worker who answered nothing (possible with ``--p``) is absent from the answers, so the
    answers read back may list fewer workers than the file has matrices (``crowdlearn fit
    --true-confusions`` matches them by id).

    In the csv format, tasks that received no answer (possible with ``--p``) are left out of
    ``answers.csv`` and ``answers.truth.csv``: a table has no row to name them by (the peerannot
    format keeps them); the command says how many.

    ``features`` (tasks x DIM, task order), when given, is written as ``features.csv`` with
    columns ``task, f0 .. f{DIM-1}``, every task included.
    """
    import json

    import numpy as np

    from ..errors import CrowdlearnError
    from ..io import write, write_truth
    from ..io._atomic import atomic_dir

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CrowdlearnError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise CrowdlearnError(f"{out}: folder exists and is not empty (use --force to replace it)")
    with atomic_dir(out) as tmp:
        answers = crowd.answers
        if fmt == "csv":
            answered = np.flatnonzero(answers.answers_per_task() > 0)
            if len(answered) < answers.n_tasks:  # a table cannot name a task without answers
                answers = answers.select_tasks(answered, keep_all_workers=True)
            write(answers, tmp / "answers.csv", format="csv")
        else:
            write(answers, tmp, format=fmt)
        if not any("truth" in f.name for f in tmp.iterdir()):  # the writers add it themselves
            write_truth(answers, tmp / "truth.csv")
        np.save(tmp / "confusions.npy", crowd.confusions)
        if features is not None:
            write_features(features, crowd.answers.task_ids, tmp / "features.csv")
        meta = dict(crowd.params)
        meta["format"] = fmt
        meta["worker_models"] = [str(x) for x in crowd.worker_models]
        if meta.get("activity") != "uniform":
            meta["activity_weights"] = [float(x) for x in crowd.activity]
        meta.update(extra or {})
        (tmp / "simulation.json").write_text(json.dumps(meta, indent=2) + "\n")
        files = sorted(p.name for p in tmp.iterdir())
    return files


def write_features(X: np.ndarray, task_ids: np.ndarray, path: Path) -> None:
    """Write ``task, f0 .. f{d-1}`` rows, 9 significant digits (float32 round trip)."""
    import numpy as np
    import pandas as pd

    X = np.asarray(X)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    frame.insert(0, "task", np.asarray(task_ids))
    frame.to_csv(path, index=False, float_format="%.9g", lineterminator="\n")


def summary_text(crowd: SimulatedCrowd) -> str:
    """One paragraph describing a simulated crowd (sizes, models, assignment, MV accuracy)."""
    a = crowd.answers
    s = a.summary()
    per_task, per_worker = s["answers_per_task"], s["answers_per_worker"]
    models = ", ".join(f"{n} x{c}" for n, c in crowd.model_counts().items())
    prm = crowd.params
    if prm["assignment"] == "fixed":
        design = f"{prm['answers_per_task']} distinct workers per task"
    else:
        design = f"each worker answers each task with probability {prm['p']:g}"
    activity = prm["activity"]
    if activity == "power-law":
        activity = f"power-law activity (exponent {prm['exponent']:g})"
    else:
        activity = f"{activity} activity"
    text = (
        f"Simulated crowd {a.name!r}: {a.n_tasks:,} tasks, {a.n_workers:,} workers ({models}), "
        f"{a.n_classes} classes; {a.n_answers:,} answers, {per_task['mean']:.2f} per task "
        f"(min {per_task['min']}, max {per_task['max']}), {per_worker['mean']:.1f} per worker "
        f"(min {per_worker['min']}, max {per_worker['max']}); {design}, {activity}; "
        f"seed {prm['seed']}."
    )
    acc = s.get("majority_vote_accuracy")
    if acc is not None:
        text += f" Majority-vote accuracy against the truth: {acc:.4f}."
    return text


def run(args: argparse.Namespace) -> int:
    """Simulate, write the folder and print a one-paragraph summary."""
    import secrets

    from ..io._atomic import check_writable

    if getattr(args, "kind", "classification") == "regression":
        from ._regression import simulate_regression_cli

        return simulate_regression_cli(args)
    check_writable(args.out, option="-o")  # before any work
    if args.seed is None:
        args.seed = secrets.randbits(32)
    if getattr(args, "kind", None) == "sequence":  # tag sequences: crowdlearn.sequence
        from ._sequence import run_simulate

        return run_simulate(args)
    if args.features is not None and args.features < 1:
        from ..simulate import SimulationError

        raise SimulationError(f"--features must be at least 1, got {args.features}")
    if args.partitions is not None and args.format != "parquet":
        from ..simulate import SimulationError

        raise SimulationError("--partitions goes with --format parquet")
    if args.format == "parquet":
        return _run_partitioned(args)
    crowd = crowd_from_args(args)
    out = Path(args.out)
    from .. import __version__

    extra: dict[str, Any] = {"crowdlearn_version": __version__}
    features = None
    if args.features is not None:
        from ..simulate import gaussian_features

        features = gaussian_features(crowd.true_labels, crowd.answers.n_classes, args.features,
                                     separation=args.separation, seed=args.seed)
        extra["features"] = {"file": "features.csv", "dim": args.features,
                             "separation": args.separation, "model": "gaussian",
                             "seed": args.seed}
    files = write_crowd(crowd, out, fmt=args.format, force=args.force, extra=extra,
                        features=features)
    if not args.quiet:
        print(summary_text(crowd))
        empty = int((crowd.answers.answers_per_task() == 0).sum())
        if empty and args.format == "csv":
            print(f"{empty} task(s) received no answer: left out of answers.csv and "
                  "answers.truth.csv (a table cannot hold a task without answers; "
                  "--format peerannot keeps them).")
        print(f"Wrote {', '.join(files)} to {out}.")
    return 0


def _run_partitioned(args: argparse.Namespace) -> int:
    """``--format parquet``: the workers drawn once, the tasks simulated and written in chunks
    (:func:`crowdlearn.simulate.partitioned.write_partitioned`)."""
    import copy

    from .. import __version__
    from ..errors import CrowdlearnError
    from ..io._atomic import atomic_dir
    from ..simulate import SimulationError
    from ..simulate.partitioned import write_partitioned

    if args.features is not None:
        raise SimulationError("--features is not available with --format parquet")
    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise CrowdlearnError(f"{out}: folder exists and is not empty (use --force to replace it)")
    small = copy.copy(args)
    small.n_tasks = 1  # the crowd (confusions, activity) only; tasks are drawn per chunk
    base = crowd_from_args(small)
    r = base.params.get("answers_per_task")
    per_task = r if r is not None else (base.params.get("p") or 0) * base.confusions.shape[0]
    partitions = args.partitions or max(1, int(round(args.n_tasks * per_task / 1e6)))
    with atomic_dir(out) as tmp:
        summary = write_partitioned(
            base, args.n_tasks, partitions, tmp, answers_per_task=r, p=base.params.get("p"),
            seed=args.seed, name=args.name, meta={"crowdlearn_version": __version__})
    if not args.quiet:
        acc = summary["majority_vote_accuracy"]
        print(f"Simulated crowd {args.name!r}: {summary['n_tasks']:,} tasks, "
              f"{base.confusions.shape[0]:,} workers, {base.confusions.shape[1]} classes; "
              f"{summary['n_answers']:,} answers in {summary['partitions']} Parquet files; "
              f"seed {args.seed}."
              + ("" if acc is None else f" Majority-vote accuracy against the truth: {acc:.4f}."))
        print(f"Wrote part-*.parquet, _truth/, _crowdlearn.json, _confusions.npy and "
              f"_simulation.json to {out} (Parquet readers skip the names starting with _).")
    return 0
