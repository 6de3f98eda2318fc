"""``crowdlearn aggregate --engine dask``: the options and the run (crowdlearn.distributed)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_dask_arguments(p: argparse.ArgumentParser) -> None:
    """The engine options of ``aggregate``."""
    g = p.add_argument_group("engine (aggregation past one machine's memory)")
    g.add_argument("--engine", choices=("memory", "dask"), default="memory",
                   help="memory (default): read everything, fit in this process; dask: the "
                   "answers partitioned by task on a Dask cluster, EM from per-partition sums "
                   "(mv, naivesoft, wawa, ds, onecoin, pooled-ds, glad); DATA may be a folder of "
                   "Parquet files or an fsspec URL (s3://..., gs://...)")
    who = g.add_mutually_exclusive_group()
    who.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="with --engine dask: an existing scheduler, e.g. tcp://host:8786 "
                     "(default: start a LocalCluster here and close it afterwards)")
    who.add_argument("--workers", type=int, default=None, metavar="N",
                     help="with --engine dask: LocalCluster worker processes, one thread each "
                     "(default: the CPU count)")
    g.add_argument("--worker-memory", default="auto", metavar="SIZE",
                   help="with --engine dask: memory limit of each LocalCluster worker, e.g. "
                   "2.75GiB; data spill to disk past 75-85%% of it (default auto: the "
                   "machine's memory shared out)")
    g.add_argument("--partitions", type=int, default=None, metavar="N",
                   help="with --engine dask: partitions after the shuffle by task (default: "
                   "one per input file; files marked as partitioned by task are not shuffled)")
    g.add_argument("--output-format", choices=("files", "parquet"), default="files",
                   help="with --engine dask: files (default), the files of the in-memory engine "
                   "(results gathered here); parquet, labels_D_S/part-*.parquet written by the "
                   "workers (task, label, confidence, p_<class>) with workers_D_S.npz and "
                   "summary_D_S.json")


def run_dask(args: argparse.Namespace, default_strategy: str) -> int:
    from ..distributed import aggregate
    from ..errors import CrowdlearnError
    from ._common import _class_list, default_out_dir, parse_params

    for flag, value in (("--truth", args.truth), ("--gold", args.gold),
                        ("--update", getattr(args, "update", None)),
                        ("--update-refresh", getattr(args, "update_refresh", None))):
        if value not in (None, ""):
            raise CrowdlearnError(f"{flag} is not supported with --engine dask")
    if args.strategy.strip().lower() == "all":
        raise CrowdlearnError("-s all is not supported with --engine dask")
    if "://" in str(args.data) and not args.out:
        raise CrowdlearnError("-o is required when DATA is a URL")
    out = args.out or str(default_out_dir(args.data, "labels"))
    if "://" not in out:
        from ..io._atomic import check_writable

        check_writable(Path(out), option="-o" if args.out else None)
    params = parse_params(args.param)
    if args.seed is not None:
        params.setdefault("random_state", args.seed)
    task_col = args.task_col or "task"
    est = aggregate(
        args.data, args.strategy, scheduler=args.scheduler, workers=args.workers,
        memory_limit=args.worker_memory, partitions=args.partitions,
        duplicates=args.duplicates, classes=_class_list(args.classes),
        columns=(task_col, args.worker_col, args.label_col), input_format=args.input_format,
        collect=args.output_format == "files", output=out, output_format=args.output_format,
        hard=args.hard, **params)
    if not args.quiet:
        idx = est.answers_
        print(f"{est.name} (dask): {idx.n_answers} answers, {idx.n_workers} workers, "
              f"{est.n_iter_} iterations, {est.fit_seconds_:.3f} s")
        files = est.files_
        names = [str(getattr(v, "name", v)) for v in files.values()]
        print(f"wrote {', '.join(names)} to {out}")
    return 0
