"""Aggregation on Dask: the EM strategies over partitioned answers, on one machine or a cluster.

:func:`aggregate` reads a partitioned Parquet data set (a folder of files with ``task``,
``worker`` and ``label`` columns, local or any fsspec URL), a Dask DataFrame, or anything the
readers take, partitions the answers by task (each task's answers in one partition) and fits a
strategy whose E-step is local to a partition and whose M-step needs only worker-sized sums
(workers x classes x classes counts for Dawid-Skene). Without a client it starts a
``dask.distributed.LocalCluster`` (one thread per worker process, bounded memory per worker,
spilling to disk) and closes it afterwards; with ``scheduler="tcp://host:8786"`` (or
``client=``) the same call runs on an existing cluster.

Strategies: ``mv``, ``naivesoft``, ``wawa``, ``ds`` (majority-vote start), ``onecoin``, the
default ``pooled-ds`` and ``glad`` (its Newton M-step as map-reduce rounds, see
:mod:`._glad`; ``betas_priors_mean`` one number). After the same iterations their posteriors
equal the in-memory ones to rounding (sums of partition counts instead of one sparse product),
hard labels break exact ties with the in-memory draw. Not distributed: ``init="spectral"``
(its third-order moments and tensor power method are written for one array): a one-line
error. Gold labels and truth are not supported on this path.

Example::

    from crowdlearn.distributed import aggregate
    ds = aggregate("crowd/answers/", "ds", workers=2)          # a LocalCluster of 2 workers
    ds.confusions_.shape, ds.labels_[:5]
    aggregate("s3://bucket/answers/", "default", scheduler="tcp://10.0.0.1:8786",
              output="s3://bucket/labels/", output_format="parquet")
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import CrowdlearnError

__all__ = ["SUPPORTED", "aggregate", "dask_client"]

#: strategies with a distributed driver (canonical names)
SUPPORTED = ("mv", "naivesoft", "wawa", "ds", "onecoin", "pooled-ds", "glad")


def _require_dask() -> None:
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise CrowdlearnError(
            f"--engine dask needs dask[distributed] and pyarrow ({exc.name} is missing): "
            "pip install 'crowdlearn[dask]'") from None


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None,
                memory_limit: str | int = "auto",
                local_directory: str | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: connected to ``scheduler`` (an address such as
    ``tcp://host:8786``), or to a new ``LocalCluster`` of ``workers`` processes (default: the
    CPU count) with one thread each and ``memory_limit`` per worker (``"auto"``: the machine's
    memory shared out; data spill to ``local_directory`` past 75-85% of it, the worker pauses
    at 92%). Closed on exit."""
    _require_dask()
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    n = int(workers or os.cpu_count() or 1)
    if n < 1:
        raise CrowdlearnError(f"--workers must be at least 1, got {n}")
    import dask

    method = dask.config.get("distributed.worker.multiprocessing-method")
    if method == "spawn" and sys.platform == "linux":
        # workers forked from this process inherit its imports: 0.5 s to start two workers
        # instead of 4-5 s (measured), the steps' modules imported here first
        from . import _data, _fit, _steps  # noqa: F401

        method = "fork"
    # spill to disk past 75% of the limit (dask: 60-70%), pause at 90%: the partitions are the
    # working set of every EM iteration, spilling them early costs a disk read per iteration
    with dask.config.set({"distributed.worker.multiprocessing-method": method,
                          "distributed.worker.memory.target": 0.75,
                          "distributed.worker.memory.spill": 0.85,
                          "distributed.worker.memory.pause": 0.92,
                          "distributed.worker.memory.terminate": 0.98}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               memory_limit=memory_limit, dashboard_address=":0",
                               local_directory=local_directory)
    client = Client(cluster)
    if sys.platform == "linux":
        # forked workers keep this process's malloc settings, not dask's MALLOC_TRIM_THRESHOLD_:
        # large blocks from mmap and a low trim threshold give freed memory back to the system
        client.run(_tune_malloc)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _tune_malloc() -> None:
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD: blocks of 1 MiB or more are mmapped
        libc.mallopt(-1, 1 << 16)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass
    try:  # Arrow's own allocator keeps freed pages: read Parquet through malloc instead
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
    except ImportError:
        pass


def aggregate(
    data: Any,
    strategy: str = "default",
    *,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    memory_limit: str | int = "auto",
    partitions: int | None = None,
    partitioned_by_task: bool | None = None,
    duplicates: str = "error",
    classes: Any = None,
    columns: tuple[str, str, str] = ("task", "worker", "label"),
    input_format: str | None = None,
    name: str | None = None,
    collect: bool = True,
    output: str | None = None,
    output_format: str = "files",
    hard: bool = False,
    **params: Any,
) -> Any:
    """Fit ``strategy`` on ``data`` with Dask and return the fitted strategy object.

    Parameters
    ----------
    data:
        A Parquet file or folder (local path or fsspec URL), a Dask DataFrame with ``columns``,
        or anything :func:`crowdlearn.io.read` takes (read here, then partitioned).
    strategy:
        One of :data:`SUPPORTED` (aliases and ``name[key=value]`` accepted); ``params`` are
        its parameters.
    client, scheduler, workers, memory_limit:
        An existing ``distributed.Client``; else the address of a scheduler; else a
        ``LocalCluster`` of ``workers`` single-threaded processes, ``memory_limit`` each.
    partitions:
        Number of partitions after the shuffle by task (default: the number of input files,
        at least twice the number of workers for other inputs).
    partitioned_by_task:
        ``True``: every input file holds whole tasks, no shuffle. ``None`` (default): trust
        the ``_crowdlearn.json`` marker of the folder, else shuffle.
    collect:
        Gather the posteriors and labels into ``probas_`` / ``labels_`` (tasks in the
        in-memory order); ``False`` keeps them on the cluster (write them with ``output``).
    output, output_format, hard:
        Folder to write the results to: ``"files"``, the in-memory command's files (needs
        ``collect``); ``"parquet"``, ``labels_<D>_<S>/part-*.parquet`` written by the workers,
        with ``workers_<D>_<S>.npz`` and ``summary_<D>_<S>.json``.
    """
    _require_dask()
    from ..aggregate import get_strategy_class, parse_strategy_spec
    from ..params import check_params, specs_of
    from . import _fit, _output
    from ._load import load

    spec_name, bracket = parse_strategy_spec(strategy)
    cls = get_strategy_class(spec_name)
    if cls.name not in SUPPORTED:
        raise CrowdlearnError(
            f"strategy {cls.name!r} has no Dask engine; available: {', '.join(SUPPORTED)}")
    given = params
    params = {**bracket, **params}
    check_params(cls.__name__, specs_of(cls), {**cls().get_params(), **params})
    if params.get("init", "mv") != "mv":
        raise CrowdlearnError("--engine dask: ds starts from the vote shares only "
                              "(init=spectral needs the whole data set in memory)")
    if params.get("initial_error_strategy") is not None:
        raise CrowdlearnError("--engine dask: initial_error is not supported")
    if params.get("posterior", "shares") != "shares":
        raise CrowdlearnError("--engine dask: mv gives the vote shares (posterior=shares)")
    if output_format not in ("files", "parquet"):
        raise CrowdlearnError(f"output_format must be 'files' or 'parquet', got {output_format!r}")
    if output_format == "files" and output is not None and not collect:
        raise CrowdlearnError("output_format='files' needs collect=True (or use 'parquet')")
    if client is None:
        with dask_client(scheduler, workers, memory_limit) as own:
            return aggregate(data, strategy, client=own, partitions=partitions,
                             partitioned_by_task=partitioned_by_task, duplicates=duplicates,
                             classes=classes, columns=columns, input_format=input_format,
                             name=name, collect=collect, output=output,
                             output_format=output_format, hard=hard, **given)
    start = time.perf_counter()
    loaded = load(client, data, partitions=partitions, partitioned_by_task=partitioned_by_task,
                  duplicates=duplicates, classes=classes, columns=columns,
                  input_format=input_format, name=name)
    eng = _fit.Engine(client, loaded.parts, loaded.vocab)
    fitted = _fit.DRIVERS[cls.name](eng, cls.name, {**cls().get_params(), **params})
    task_ids = probas = labels = None
    if collect:
        task_ids, probas, labels = _output.collect(eng, fitted)
        per_task = _output.collect_task_attrs(eng, fitted)
        if "betas_" in per_task:  # GLAD: b = log beta per task
            import numpy as np

            fitted.attrs.update(betas_=per_task["betas_"],
                                difficulties_=np.exp(per_task["betas_"]))
    index = _output.IndexOnly(loaded.name, task_ids if task_ids is not None else
                              _empty_ids(), loaded.vocab.worker_ids, loaded.vocab.classes,
                              loaded.vocab.n_answers)
    est = _output.make_estimator(cls.name, params, fitted.attrs, index, probas, labels,
                                 time.perf_counter() - start)
    est.engine_ = "dask"
    if output is not None:
        from ..aggregate.results import result_file_names, write_results

        label = cls.name if strategy in ("default",) else strategy
        if output_format == "parquet":
            stem = result_file_names(loaded.name or "dataset", label)["summary"][
                len("summary_"):-len(".json")]
            est.files_ = _output.write_parquet(eng, fitted, est, str(output), stem)
        else:
            est.files_ = write_results(est, output, strategy=label, hard=hard)
    return est


def _empty_ids() -> Any:
    import numpy as np

    return np.zeros(0, dtype=np.int64)
