"""Scale: Dawid-Skene to convergence at 1M, 10M and 100M answers, in memory vs Dask.

For each size, a crowd is simulated once with ``crowdlearn simulate --format parquet`` (5
classes, 5 answers per task, 2,000 one-coin workers, one Parquet file per million answers,
cached under ``--data-dir``). Each engine then runs in its own process, started afresh:

* ``memory``: ``pandas.read_parquet`` of the folder, ``Answers.from_frame``, ``DawidSkene().fit``;
* ``dask``: ``crowdlearn.distributed.aggregate(folder, "ds", workers=N)``: a LocalCluster of N
  single-threaded worker processes (``--worker-memory`` each), the files read by the workers
  (already partitioned by task: no shuffle), EM from per-partition sums; results kept on the
  cluster (``collect=False``: no gather of the posteriors).

While a run lasts, the resident memory (RSS) of its process tree is polled every 0.1 s
(psutil): the table gives the peak of the whole tree (the machine's share of the run), the
peak of the largest single process and, for Dask, the largest worker process. Wall time is
from process start to exit (cluster start and shutdown included); ``fit s`` is the time
inside the strategy call (reading included for Dask, not for memory: see ``read s``).

Usage::

    python benchmarks/scale.py                          # 1M and 10M, both engines
    python benchmarks/scale.py --sizes 100M --engines dask
    python benchmarks/scale.py --sizes 1M --workers 2 --data-dir /tmp/scale
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SIZES = {"1M": 1_000_000, "10M": 10_000_000, "100M": 100_000_000}
ANSWERS_PER_TASK = 5


def simulate(n_answers: int, folder: Path) -> None:
    if (folder / "_crowdlearn.json").exists():
        return
    cmd = [sys.executable, "-m", "crowdlearn", "simulate", "-o", str(folder), "--n-tasks",
           str(n_answers // ANSWERS_PER_TASK), "--n-classes", "5", "--n-workers", "2000",
           "--answers-per-task", str(ANSWERS_PER_TASK), "--format", "parquet", "--seed", "0",
           "--name", folder.name, "--force"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"# simulated {folder.name} in {time.perf_counter() - t:.1f} s", flush=True)


def run_one(engine: str, folder: str, workers: int, memory: str) -> None:
    """Child process: fit and print one JSON line."""
    import numpy as np

    t0 = time.perf_counter()
    out: dict = {}
    if engine == "memory":
        import pandas as pd

        from crowdlearn import Answers
        from crowdlearn.aggregate import DawidSkene

        frame = pd.read_parquet(folder)
        answers = Answers.from_frame(frame)
        del frame
        out["read_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        est = DawidSkene().fit(answers)
        out["fit_s"] = time.perf_counter() - t1
        labels = est.labels_
    else:
        from crowdlearn.distributed import aggregate

        est = aggregate(folder, "ds", workers=workers, memory_limit=memory, collect=False)
        out["fit_s"] = est.fit_seconds_
        out["read_s"] = None
        labels = None
    out.update(n_iter=int(est.n_iter_), loglik=float(est.log_likelihood_),
               n_answers=int(est.answers_.n_answers))
    if labels is not None:
        out["label_checksum"] = int(np.asarray(labels).sum())
    print("RESULT " + json.dumps(out), flush=True)


def measure(engine: str, folder: Path, workers: int, memory: str) -> dict:
    import psutil

    cmd = [sys.executable, __file__, "--child", engine, "--folder", str(folder),
           "--workers", str(workers), "--worker-memory", memory]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak_total = peak_single = peak_worker = 0
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        total = 0
        for p in procs:
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            peak_single = max(peak_single, rss)
            if p.pid != root.pid:  # a Dask worker (forked or spawned)
                peak_worker = max(peak_worker, rss)
        peak_total = max(peak_total, total)
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    lines = [x for x in stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not lines:
        tail = "\n".join(stderr.splitlines()[-15:])
        return {"error": f"exit {proc.returncode}: {tail}", "wall_s": wall}
    res = json.loads(lines[-1][len("RESULT "):])
    res.update(wall_s=wall, peak_total_gb=peak_total / 2**30,
               peak_process_gb=peak_single / 2**30,
               peak_worker_gb=peak_worker / 2**30 if engine == "dask" else None)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1M,10M", help="comma-separated: 1M, 10M, 100M")
    ap.add_argument("--engines", default="memory,dask")
    ap.add_argument("--workers", type=int, default=2, help="Dask LocalCluster workers")
    ap.add_argument("--worker-memory", default="2.75GiB")
    ap.add_argument("--data-dir", default="/tmp/crowdlearn-scale")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_one(args.child, args.folder, args.workers, args.worker_memory)
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = []
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        folder = Path(args.data_dir) / f"scale-{size}"
        simulate(SIZES[size], folder)
        for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
            r = measure(engine, folder, args.workers, args.worker_memory)
            r.update(size=size, engine=engine)
            rows.append(r)
            print("# " + json.dumps(r), flush=True)
    head = ["answers", "engine", "iterations", "wall s", "fit s", "read s", "peak tree GB",
            "peak process GB", "peak worker GB", "loglik/answer"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))

    def f(x: object, d: int = 2) -> str:
        return "-" if x is None else (f"{x:.{d}f}" if isinstance(x, float) else str(x))

    for r in rows:
        if "error" in r:
            print(f"| {r['size']} | {r['engine']} | failed after {r['wall_s']:.0f} s: "
                  f"{r['error'].splitlines()[-1] if r['error'] else ''} |")
            continue
        print("| " + " | ".join([r["size"], r["engine"], f(r["n_iter"]), f(r["wall_s"], 1),
                                 f(r["fit_s"], 1), f(r["read_s"], 1), f(r["peak_total_gb"]),
                                 f(r["peak_process_gb"]), f(r["peak_worker_gb"]),
                                 f(r["loglik"], 6)]) + " |")


if __name__ == "__main__":
    main()
