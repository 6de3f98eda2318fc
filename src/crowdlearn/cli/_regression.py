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

    if getattr(args, "gold", None):
        from ..errors import CrowdlearnError

        raise CrowdlearnError("--gold is for class labels; regression strategies take no gold "
                              "values")
    extra = parse_params(args.param)
    spec = DEFAULT_REGRESSION if args.strategy == default else args.strategy
    specs = available_regression() if spec.strip().lower() == "all" else [spec]
    rows = []
    ests = [(s, make_regression_strategy(s, **extra)) for s in specs]  # refusals first
    from ._common import say_kind_note

    say_kind_note(args)  # answers detected as real values: say so before the work
    for s, est in ests:
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


def info_regression(args: argparse.Namespace, answers: Any) -> int:
    """``crowdlearn info`` on real-valued answers: sizes, value range, per-task counts."""
    import json

    from .info import histogram

    s = answers.summary()
    s["path"] = str(args.path)
    s["answers_per_task"]["histogram"] = histogram(answers.answers_per_task())
    s["answers_per_worker"]["histogram"] = histogram(answers.answers_per_worker())
    if args.json:
        from ..aggregate.regression.results import _finite

        print(json.dumps(_finite(s), indent=2, ensure_ascii=False))
        return 0
    v = s["values"] or {}
    lines = [f"{s['path']}: {s['name']} (regression: real-valued answers)",
             f"  tasks {s['n_tasks']}, workers {s['n_workers']}, answers {s['n_answers']}"]
    if v:
        lines.append(f"  values: min {v['min']:g}, max {v['max']:g}, mean {v['mean']:.4g}, "
                     f"sd {v['sd']:.4g}, {v['distinct']} distinct")
    for key, what in (("answers_per_task", "answers per task"),
                      ("answers_per_worker", "answers per worker")):
        d = s[key]
        lines.append(f"  {what}: min {d['min']}, median {d['median']:g}, mean "
                     f"{d['mean']:.3g}, max {d['max']}")
    if s["tasks_without_answers"]:
        lines.append(f"  tasks without answers: {s['tasks_without_answers']}")
    lines.append(f"  tasks with truth: {s['n_tasks_with_truth']}")
    if "mean_scores" in s:
        m = s["mean_scores"]
        lines.append(f"  mean of the answers vs truth: R^2 {m['r2']:.4f}, MAE {m['mae']:.4f}, "
                     f"RMSE {m['rmse']:.4f}")
    print("\n".join(lines))
    return 0


def simulate_regression_cli(args: argparse.Namespace) -> int:
    """``crowdlearn simulate --kind regression``: answers.csv (task,worker,value), its truth,
    workers.csv (each worker's type and true scale, bias, noise sd), features.csv with
    ``--features``, settings.json."""
    import json
    import secrets

    import pandas as pd

    from ..io._atomic import atomic_dir, check_writable
    from ..io._common import write_delimited
    from ..io.real import write_real_table
    from ..simulate import SimulationError
    from ..simulate.regression import simulate_regression

    check_writable(args.out, option="-o")
    if args.seed is None:
        args.seed = secrets.randbits(32)
    mix = None
    if args.workers:
        mix = {}
        for part in args.workers.split(","):
            name, _, frac = part.partition(":")
            try:
                mix[name.strip()] = int(frac)
            except ValueError as exc:
                raise SimulationError(f"--workers: bad count in {part!r} (TYPE:COUNT,...)") \
                    from exc
    n_workers = sum(mix.values()) if mix else (args.n_workers or 30)
    crowd = simulate_regression(
        args.n_tasks, n_workers, answers_per_task=args.answers_per_task or 5,
        mix=mix, n_features=args.features or 0, activity=args.activity, seed=args.seed,
        name=args.name)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise SimulationError(f"{out} is not empty (--force replaces it)")
    files = ["answers.csv", "answers.truth.csv", "workers.csv", "settings.json"]
    with atomic_dir(out) as stage:
        write_real_table(crowd.answers, stage / "answers.csv")
        write_delimited(crowd.workers_frame(), stage / "workers.csv")
        if crowd.features is not None:
            feats = pd.DataFrame(crowd.features,
                                 columns=[f"x{i}" for i in range(crowd.features.shape[1])])
            feats.insert(0, "task", crowd.answers.task_ids)
            write_delimited(feats, stage / "features.csv")
            files.insert(3, "features.csv")
        settings = {"kind": "regression", "seed": args.seed, **crowd.settings}
        (stage / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
    if not args.quiet:
        counts = ", ".join(f"{v} {k}" for k, v in crowd.settings["mix"].items() if v)
        print(f"Simulated a regression crowd: {crowd.answers.n_tasks} tasks, "
              f"{crowd.answers.n_workers} workers ({counts}), {crowd.answers.n_answers} "
              f"answers, seed {args.seed}.")
        print(f"Wrote {', '.join(files)} to {out}.")
    return 0


#: the end-to-end regression strategy of ``crowdlearn fit`` when ``-s`` is not given
DEFAULT_FIT_REGRESSION = "crowdlayer-sb"


def fit_regression(args: argparse.Namespace, answers: Any, out: Path, start: float) -> int:
    """``crowdlearn fit --kind regression``: train a :class:`~crowdlearn.deep.CrowdRegressor`
    on ``--features`` and write predictions.csv (task, prediction), workers.csv (the crowd
    layer's scale and bias per worker) and results.json (history, best epoch, R^2 / MAE on the
    training tasks when their truth is known), all at once."""
    import json
    import time

    import pandas as pd

    from ..aggregate.regression.results import _finite
    from ..deep import CrowdRegressor
    from ..errors import CrowdlearnError
    from ..io._atomic import atomic_dir
    from ..io._common import write_delimited
    from ..metrics_regression import regression_scores
    from .fit import read_train_features

    if args.features is None:
        raise CrowdlearnError("regression needs --features FILE (one row of numbers per task)")
    feats = read_train_features(args, answers.task_ids)  # rows in task order
    strategy = (args.strategy or DEFAULT_FIT_REGRESSION).lower()
    device = getattr(args, "accelerator", None) or "auto"
    reg = CrowdRegressor(strategy, hidden=tuple(args.hidden) if args.hidden is not None
                         else (128,), n_epochs=args.n_epochs, batch_size=args.batch_size,
                         lr=args.lr, weight_decay=args.weight_decay,
                         val_fraction=args.val_fraction, seed=args.seed,
                         device=device if device in ("auto", "cpu", "cuda") else "auto")
    from ._common import say_kind_note

    say_kind_note(args)
    reg.fit(feats.X, answers)
    pred = reg.predict(feats.X)
    res = reg.result_
    summary: dict[str, Any] = {
        "kind": "regression", "strategy": strategy, "params": reg.get_params(),
        "n_tasks": answers.n_tasks, "n_workers": answers.n_workers,
        "n_answers": answers.n_answers, "best_epoch": res.best_epoch,
        "n_epochs": res.stopped_epoch, "best_val_loss": res.best_score,
        "history": res.history, "seconds": time.perf_counter() - start}
    if answers.has_truth:
        summary["train"] = regression_scores(answers.truth, pred)
    with atomic_dir(out) as stage:
        write_delimited(pd.DataFrame({"task": answers.task_ids, "prediction": pred}),
                        stage / "predictions.csv")
        if hasattr(reg, "scale_"):
            write_delimited(pd.DataFrame({"worker": answers.worker_ids, "scale": reg.scale_,
                                          "bias": reg.bias_}), stage / "workers.csv")
        (stage / "results.json").write_text(
            json.dumps(_finite(summary), indent=2, allow_nan=False, default=str),
            encoding="utf-8")
    if not getattr(args, "quiet", False):
        line = (f"{strategy}: {answers.n_tasks} tasks, best epoch {res.best_epoch} of "
                f"{res.stopped_epoch}, validation MSE {res.best_score:.5f}")
        if "train" in summary:
            line += f", training R^2 {summary['train']['r2']:.4f}"
        print(line)
        files = "predictions.csv, results.json" + (", workers.csv" if hasattr(reg, "scale_")
                                                   else "")
        print(f"wrote {files} to {out}")
    return 0
