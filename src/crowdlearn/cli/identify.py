"""``crowdlearn identify``: who are the spammers, which tasks are ambiguous."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import add_command
from ._common import add_input_arguments, default_out_dir, format_table, load_answers

EXAMPLE = """\
crowdlearn identify answers.csv -o diag/
crowdlearn identify data/rte -s ds -m spam-score spammer adversarial vote-entropy -o diag/
crowdlearn identify answers.csv -m all -o diag/     # GLAD, MACE and one-coin fitted too
crowdlearn identify sim/ -m aum waum --features sim/features.csv --alpha 0.05 -o diag/
crowdlearn identify my-peerannot-dataset/ -m waum --images --backbone resnet18 -o diag/"""

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
        "but the GLAD/MACE/one-coin ones of another strategy than -s, and but aum and waum, "
        "which train a classifier on the items (--features or --images, as crowdlearn fit): "
        "aum (Pleiss et al. 2020: margin of the aggregated label's logit over the largest "
        "other, averaged over the training steps), waum (Lefort et al. 2024, peerannot's: "
        "every answer learnt, probability margins weighted by the worker's trust from the "
        "confusion matrices). The tasks at or below the --alpha quantile are written as "
        "peerannot writes them, identification/<backbone>/aum/too_hard_<alpha>.txt and "
        "identification/<backbone>/waum_<alpha>_<yang|pleiss>/too_hard_<alpha>.txt in the "
        "output folder ('-1 <task number>' lines: peerannot train --path-remove FILE, "
        "crowdlearn fit/train --exclude FILE). Real-valued answers (regression; -s bias-scale "
        "by default): workers n-answers, bias, scale, noise-sd, abs-deviation, "
        "peer-correlation, truth-mae, truth-correlation, spammer (peer-correlation < 0.2), "
        "adversarial (peer-correlation significantly below -0.2), unreliable (noise-sd > 2x "
        "the crowd's median); tasks estimate, n-answers, posterior-sd, answer-sd; data set "
        "krippendorff-alpha (interval); figures workers, parameters, values, ambiguity, "
        "truth. Metrics of the other kind are refused.",
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
    g = p.add_argument_group("figures")
    g.add_argument("--plot", action="store_true",
                   help="also draw workers.png (answers given against worker quality, "
                   "spam-score by default, spammers and adversarial workers highlighted), "
                   "confusions.png (estimated worker confusions, beside the empirical ones "
                   "against the truth when known), classes.png (class shares of the votes "
                   "and of the aggregated labels), ambiguity.png (histogram of the first of "
                   "waum, aum, posterior-entropy, vote-entropy computed), calibration.png "
                   "(reliability diagram, when the truth is known) and, with --fit, "
                   "training.png")
    from ._plots import add_format_argument, add_workers_argument

    add_format_argument(g)
    add_workers_argument(g)
    g.add_argument("--fit", default=None, metavar="FIT_OUT",
                   help="with --plot: also draw the training curves of this crowdlearn fit "
                   "output folder")
    p.add_argument("--seed", type=int, default=None,
                   help="random_state of randomised strategies (and seed of aum/waum's "
                   "classifier, 0 by default)")
    _add_classifier_arguments(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run)


def _add_classifier_arguments(p: argparse.ArgumentParser) -> None:
    from .. import deep_defaults as D
    from ._images import add_image_arguments

    g = p.add_argument_group("aum and waum: items and classifier (as crowdlearn fit)")
    g.add_argument("--features", default=None, metavar="FILE",
                   help="one feature vector per task (a table with a task id column, or a "
                   ".npy / .npz array in the answers' task order)")
    g.add_argument("--features-id-col", default="auto", metavar="COL",
                   help="task id column of --features (auto: task, id or item)")
    g.add_argument("--features-columns", nargs="+", default=None, metavar="COL",
                   help="feature columns (default: every numeric column but id and labels)")
    add_image_arguments(g)
    g.add_argument("--backbone", default=D.BACKBONE,
                   help="classifier: mlp, lenet, resnet9, resnet18, resnet34 or "
                   "torchvision.models.NAME")
    g.add_argument("--hidden", nargs="*", type=int, default=None, metavar="WIDTH",
                   help="mlp: hidden layer widths (none: logistic regression)")
    g.add_argument("--n-epochs", type=int, default=50, metavar="N",
                   help="training epochs (default 50, peerannot identify's)")
    g.add_argument("--batch-size", type=int, default=D.BATCH_SIZE, metavar="B")
    g.add_argument("--lr", type=float, default=D.LR, help="learning rate")
    g.add_argument("--optimizer", type=str.lower, choices=("sgd", "adam", "adamw"),
                   default=D.OPTIMIZER)
    g.add_argument("--accelerator", default="auto", metavar="DEVICE",
                   help="cpu, gpu (CUDA), auto or cuda:N")
    g.add_argument("--margin", choices=("pleiss", "top2"), default=None,
                   help="margin of the given label: over the largest other value (pleiss) or "
                   "over the second largest (top2); default pleiss for aum (logits), top2 for "
                   "waum (probabilities, peerannot's default)")
    g.add_argument("--alpha", type=float, default=0.01,
                   help="quantile of the tasks to prune (at or below it; default 0.01)")


def _metric_names(items: list[str] | None) -> list[str] | None:
    if items is None:
        return None
    from ..errors import CrowdlearnError
    from ..identify import ALL_METRICS
    from ..identify.regression import METRICS as REGRESSION_METRICS

    names = [n.strip() for item in items for n in item.split(",") if n.strip()]
    for n in names:
        if n != "all" and n not in ALL_METRICS and n not in REGRESSION_METRICS:
            raise CrowdlearnError(f"-m: unknown metric {n!r} (choose from "
                                  f"{', '.join(ALL_METRICS)}, or all; for regression "
                                  f"answers: {', '.join(REGRESSION_METRICS)})")
    return names


#: what ``identify`` writes into its output folder: tables, the summary, peerannot's
#: ``identification/`` folder and the figures of either answer kind
_OWN_FILES = frozenset({"workers.csv", "tasks.csv", "dataset.json", "identification"})
_OWN_FIGURES = frozenset({"workers", "confusions", "classes", "ambiguity", "calibration",
                          "training", "parameters", "truth", "values"})
_FIGURE_SUFFIXES = frozenset({".png", ".pdf", ".svg"})


def earlier_output(name: str) -> bool:
    """Whether ``name`` in the output folder is a file an earlier ``identify`` run wrote: such
    files are replaced as a group, so a new run never leaves an old run's figure beside its
    tables; anything else in the folder is kept."""
    path = Path(name)
    return name in _OWN_FILES or (path.stem in _OWN_FIGURES
                                  and path.suffix.lower() in _FIGURE_SUFFIXES)


@contextmanager
def staged_output(out_dir: Path, d: Any, info: dict[str, Any]) -> Iterator[Path]:
    """The output folder of one run, staged: ``workers.csv``, ``tasks.csv`` and
    ``dataset.json`` are written, the caller adds its figures to the yielded folder, and the
    whole group replaces an earlier run's files (:func:`earlier_output`) at the end."""
    import json

    from ..io._atomic import atomic_update

    with atomic_update(out_dir, remove=earlier_output) as tmp:
        d.workers.to_csv(tmp / "workers.csv", index=False, lineterminator="\n")
        d.tasks.to_csv(tmp / "tasks.csv", index=False, lineterminator="\n")
        (tmp / "dataset.json").write_text(
            json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        yield tmp


def run(args: argparse.Namespace) -> int:
    from ..aggregate._em import quiet_progress

    with quiet_progress(args.quiet):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import time

    from ..identify import identify
    from ..identify.workers import PERMUTATION_MARGIN, SPAM_THRESHOLD
    from ..io._atomic import check_writable

    out_dir = Path(args.out) if args.out else default_out_dir(args.data, "identify")
    check_writable(out_dir, option="-o" if args.out else None)  # before any work
    metrics = _metric_names(args.metrics)
    answers = load_answers(args)
    if getattr(answers, "kind", "classification") == "regression":
        from ._identify_regression import run_identify_regression

        return run_identify_regression(args, answers, out_dir, metrics)
    if metrics is not None:
        from ..identify.regression import check_metrics

        check_metrics(metrics, "classification")  # a metric of real values: one line
    if args.plot and metrics is not None and "all" not in metrics:
        from ..errors import CrowdlearnError
        from ..identify.plot import QUALITY_COLUMNS

        if "n-answers" not in metrics or not any(m in QUALITY_COLUMNS for m in metrics):
            raise CrowdlearnError("--plot needs -m n-answers and one of "
                                  f"{', '.join(QUALITY_COLUMNS)}")
    if args.plot:
        from ._plots import workers_choice

        workers_choice(args.workers, answers.worker_ids)  # an unknown id: before any work
    elif args.fit or args.workers:
        from ..errors import CrowdlearnError

        raise CrowdlearnError("--fit and --workers choose figures: add --plot")
    items, params = _classifier_inputs(args, answers, metrics)
    start = time.perf_counter()
    d = identify(answers, args.strategy, metrics, random_state=args.seed, items=items,
                 classifier_params=params)
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
    prune = _prune_files(args, answers, d)
    if prune:
        info["prune"] = {name: {"alpha": args.alpha, "file": str(path), "n_tasks": len(rows),
                                "margin": d.margins[name].margin}
                         for name, (path, rows) in prune.items()}
    with staged_output(out_dir, d, info) as tmp:
        figures = _plots(args, answers, d, tmp) if args.plot else {}
        from ..identify.aum import write_too_hard

        for path, rows in prune.values():
            (tmp / path).parent.mkdir(parents=True, exist_ok=True)
            write_too_hard(tmp / path, rows, answers.task_ids)
    if not args.quiet:
        _print_summary(answers, d, flagged, seconds, out_dir, figures)
        for name, (path, rows) in prune.items():
            print(f"{name}: {len(rows)} task(s) at or below the {args.alpha} quantile, "
                  f"listed in {out_dir / path}")
    return 0


def _plots(args: argparse.Namespace, answers: Any, d: Any, tmp: Path) -> dict[str, str]:
    """Draw the figures into ``tmp``; returns file name -> what it shows (for the summary)."""
    import numpy as np

    from ..identify import _fitted
    from ..identify import plot as P
    from ..plots import plot_confusions
    from ..report._figures import plot_ambiguity
    from ._plots import confusions_note, workers_choice

    fmt = args.plot_format
    out: dict[str, str] = {}
    P.plot_worker_quality(d.workers, path=tmp / f"workers.{fmt}")
    out[f"workers.{fmt}"] = ""
    conf = d.confusions
    if conf is None:
        arrays = d.aggregator.result_arrays()
        conf = arrays.get("confusions")
        if conf is None or np.ndim(conf) != 3:
            conf = _fitted(answers, "ds", args.seed).result_arrays()["confusions"]
    has_truth = answers.truth is not None and bool((np.asarray(answers.truth) >= 0).any())
    true = P.empirical_confusions(answers) if has_truth else None
    shown = workers_choice(args.workers, answers.worker_ids)
    keep = np.arange(answers.n_workers)
    if true is not None:
        # a worker without answers on tasks with truth has no empirical matrix: not drawn
        keep = np.flatnonzero(true.reshape(len(true), -1).sum(axis=1) > 0)
        if isinstance(shown, np.ndarray):
            shown = np.flatnonzero(np.isin(keep, shown))
            if shown.size == 0:
                from ..errors import CrowdlearnError

                raise CrowdlearnError("--workers: none of them answered a task with truth")
        true = true[keep]
    fig = plot_confusions(np.asarray(conf)[keep], true, workers=shown,
                          classes=[str(c) for c in answers.classes],
                          worker_names=[str(w) for w in answers.worker_ids[keep]],
                          activity=answers.answers_per_worker()[keep], match=False,
                          path=tmp / f"confusions.{fmt}")
    out[f"confusions.{fmt}"] = confusions_note(fig, len(keep)) + (
        ", estimated beside empirical (against the truth)" if true is not None else "") + (
        f"; {answers.n_workers - len(keep)} worker(s) without answers on tasks with truth "
        "not drawn" if len(keep) < answers.n_workers else "")
    labels = np.asarray(d.aggregator.result_arrays()["labels"], dtype=np.int64)
    P.plot_class_distribution(answers, labels, path=tmp / f"classes.{fmt}")
    out[f"classes.{fmt}"] = ""
    key = next((k for k in ("waum", "aum", "posterior-entropy", "vote-entropy")
                if k in d.tasks), None)
    if key is not None:
        from ..plots import save_figure

        save_figure(plot_ambiguity(d.tasks[key], key), tmp / f"ambiguity.{fmt}")
        out[f"ambiguity.{fmt}"] = f"by {key}"
    if has_truth:
        truth = np.asarray(answers.truth, dtype=np.int64)
        known = truth >= 0
        conf_label = np.asarray(d.tasks["confidence"], dtype=np.float64)
        P.plot_calibration(conf_label[known], (labels == truth)[known],
                           path=tmp / f"calibration.{fmt}")
        out[f"calibration.{fmt}"] = f"{int(known.sum())} tasks with truth"
    if args.fit:
        P.plot_fit_history(args.fit, path=tmp / f"training.{fmt}")
        out[f"training.{fmt}"] = f"from {args.fit}"
    return out


def _classifier_inputs(args: argparse.Namespace, answers: Any, metrics: list[str] | None
                       ) -> tuple[Any, dict[str, Any]]:
    """The items and classifier parameters of aum/waum (None, {} when neither is asked)."""
    from ..errors import CrowdlearnError
    from ..identify import CLASSIFIER_METRICS

    given = args.features is not None or args.images is not None
    wanted = metrics is not None and any(m in CLASSIFIER_METRICS for m in metrics)
    if args.features is not None and args.images is not None:
        raise CrowdlearnError("give the items with --features FILE or --images [FOLDER] "
                              "(one of them)")
    if wanted and not given:
        raise CrowdlearnError("aum and waum train a classifier: give the items with "
                              "--features FILE or --images [FOLDER]")
    if not given or not (wanted or (metrics is not None and "all" in metrics)):
        return None, {}
    for name, value, low in (("--n-epochs", args.n_epochs, 1),
                             ("--batch-size", args.batch_size, 1)):
        if value < low:
            raise CrowdlearnError(f"{name} must be at least {low}, got {value}")
    if not args.lr > 0:
        raise CrowdlearnError(f"--lr must be positive, got {args.lr}")
    if not 0.0 <= args.alpha <= 1.0:
        raise CrowdlearnError(f"--alpha must be in [0, 1], got {args.alpha}")
    transform = None
    if args.images is not None:
        from ._images import read_images

        loaded = read_images(args, answers)
        items, transform = loaded.train, loaded.transform
    else:
        from .fit import read_train_features

        items = read_train_features(args, answers)
    params: dict[str, Any] = {
        "backbone": args.backbone, "n_epochs": args.n_epochs, "batch_size": args.batch_size,
        "lr": args.lr, "optimizer": args.optimizer, "device": args.accelerator,
        "transform": transform, "verbose": not args.quiet,
    }
    if args.hidden is not None:
        params["backbone_params"] = {"hidden": tuple(args.hidden)}
    if args.margin is not None:
        params["margin"] = args.margin
    return items, params


def _prune_files(args: argparse.Namespace, answers: Any, d: Any) -> dict[str, Any]:
    """peerannot's too_hard files of the classifier metrics computed: name -> (path relative
    to the output folder, task indices)."""
    from ..identify.aum import peerannot_task_numbers, too_hard

    out: dict[str, Any] = {}
    if not d.margins:
        return out
    if peerannot_task_numbers(answers.task_ids) is None:
        if not args.quiet:
            print("note: task ids are not integers: no peerannot too_hard file (the aum/waum "
                  "columns of tasks.csv give the values)")
        return out
    model = str(args.backbone).lower()
    for name, res in d.margins.items():
        folder = "aum" if name == "aum" else \
            f"waum_{args.alpha}_{'pleiss' if res.margin == 'pleiss' else 'yang'}"
        out[name] = (Path("identification") / model / folder / f"too_hard_{args.alpha}.txt",
                     too_hard(res.values, args.alpha))
    return out


def _print_summary(answers: Any, d: Any, flagged: dict, seconds: float, out_dir: Path,
                   figures: dict[str, str]) -> None:
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
    _print_written(out_dir, figures)


def _print_written(out_dir: Path, figures: dict[str, str | None]) -> None:
    print(f"wrote workers.csv, tasks.csv, dataset.json to {out_dir}")
    for name, note in figures.items():
        print(f"  {name}" + (f": {note}" if note else ""))


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _number(value: Any) -> Any:
    """A JSON-safe number: None for a missing, NaN or infinite value; whole ints kept."""
    import math

    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value
