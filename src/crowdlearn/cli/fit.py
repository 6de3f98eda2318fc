"""``crowdlearn fit``: train a classifier from crowd answers (deep learning from crowds).

Argument parsing only: the training is :class:`crowdlearn.deep.CrowdClassifier`, the output
folder :func:`crowdlearn.deep.results.write_fit_results`. torch is imported inside :func:`run`,
after the cheap checks of the input (answers, features, options), so that mistakes are reported
at once and ``crowdlearn --help`` stays light.

Options accept the spellings of the CCEM/GeoCrowdNet reference command line as hidden aliases
(``--n_epoch``, ``--batch_size``, ``--lambda_reg``, ``--K``, ``--M``, ``--accelerator``,
``--classifier_NN``, ``--use_pretrained``, ``--regularization_type F|W``,
``--plot_confusion_matrices``, ``--experiment_name``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import deep_defaults as D
from . import add_command
from ._common import add_input_arguments, load_answers, parse_params
from ._features import read_test_features, read_train_features
from ._fit_checks import _check_options, _check_out
from ._images import add_image_arguments
from ._installed import installed_items
from ._launch import _launched, _one_process

EXAMPLE = """\
crowdlearn fit answers.csv --features items.csv -s geocrowdnet-w -o out/
crowdlearn fit ~/.crowdlearn/datasets/music -o out/music   # an installed data set as it is
crowdlearn fit music_genre_mturk.csv --task-col id --worker-col annotator --label-col class \\
    --features music_genre_gold.csv --test music_genre_test.csv -s geocrowdnet-f \\
    --lambda 0.01 --n-epochs 200 -o out/music
crowdlearn fit my-peerannot-dataset/ --images --backbone resnet18 --n-epochs 100 \\
    --optimizer sgd --lr 0.1 --schedule cosine -o out/images
crowdlearn simulate -o sim/ --n-classes 4 --n-workers 10 --features 16 --seed 0
crowdlearn fit sim/ --features sim/features.csv --true-confusions sim/confusions.npy \\
    -s "crowdlayer[conn_type=MW]" --plot-confusion-matrices -o out/sim"""

#: the end-to-end strategies, for --help without importing torch (a test keeps it in sync)
STRATEGIES = ("two-stage, crowdlayer, conal, ccem, geocrowdnet-f, geocrowdnet-w, tracereg, "
              "raykar, madl, annot-mix, coinnet, unionnet")
DEFAULT_STRATEGY = D.STRATEGY
SELECTIONS = ("auto", "val_loss", "val_accuracy", "last")


def _alias(group: Any, dest: str, *names: str, **kwargs: Any) -> None:
    """Hidden extra spellings of an option (same ``dest``, not shown in ``--help``)."""
    group.add_argument(*names, dest=dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS,
                       **kwargs)


def _selection(text: str) -> str:
    value = text.strip().lower().replace("-", "_")
    if value not in SELECTIONS:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from {', '.join(SELECTIONS)})")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fit`` sub-command."""
    p = add_command(
        sub, "fit", "train a classifier from crowd answers (deep learning from crowds)", EXAMPLE,
        description="Train a neural classifier end to end from crowd answers and item features "
        "(crowdlearn.deep.CrowdClassifier). Strategies: " + STRATEGIES + " (default "
        + DEFAULT_STRATEGY + "), optionally with parameters: name[key=value,...]. Writes "
        "results.json (per-epoch losses and accuracies, best epoch, test accuracy, confusion "
        "error), best.pth (the selected model, reloadable with crowdlearn.deep.results."
        "load_model), confusions.npy + workers.csv (estimated confusions, rows = true class, "
        "in the order of workers.csv), predictions.csv, test_predictions.csv and, on request, "
        "confusions.png and history.png, all at once into the output folder. "
        "'aggregate-deep' is another name of this command (peerannot's verb).",
        aliases=("aggregate-deep",),
    )
    add_fit_arguments(p)
    p.set_defaults(func=run)


def add_fit_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``fit`` (also those of ``train``, which adds ``--labels``)."""
    add_input_arguments(p)
    if not any("--kind" in a.option_strings for a in p._actions):
        p.add_argument("--kind", default=None, choices=("classification", "sequence"),
                       help="answer kind; 'sequence': DATA is a CoNLL crowd folder (detected "
                       "when it is one), the model a BiLSTM tagger (-s crowdlayer|mv|ds)")
    p.add_argument("-o", "--out", required=True, metavar="DIR",
                   help="output folder (must be new or empty unless --force)")
    p.add_argument("--force", action="store_true",
                   help="replace the output folder if it exists and is not empty")

    g = p.add_argument_group("items")
    g.add_argument("--features", default=None, metavar="FILE",
                   help="one feature vector per task: a table (.csv, .tsv, .parquet) with a "
                   "task id column, or a .npy / .npz array in the answers' task order; label "
                   "columns (class, label, truth) and the answers' columns are never features. "
                   "Default for an installed data set folder (crowdlearn datasets install "
                   "music): its features.npy, and features_test.npy + test_labels.npy as --test")
    g.add_argument("--features-id-col", default="auto", metavar="COL",
                   help="task id column of --features and --test (auto: task, id or item)")
    g.add_argument("--features-columns", nargs="+", default=None, metavar="COL",
                   help="feature columns (space- or comma-separated; default: every numeric "
                   "column but the id and label columns)")
    add_image_arguments(g)
    g.add_argument("--exclude", "--path-remove", default=None, metavar="FILE",
                   help="tasks left out of training: peerannot's too_hard_<alpha>.txt (of "
                   "crowdlearn identify -m aum/waum or peerannot identify; the task number "
                   "in the second column) or one task id per line")
    g.add_argument("--test", default=None, metavar="FILE",
                   help="test items with their true labels (a features table with a label "
                   "column, e.g. music_genre_test.csv): test accuracy per epoch, never used "
                   "for model selection")
    g.add_argument("--test-label-col", default=None, metavar="COL",
                   help="true-label column of --test (default: class, label or truth)")
    g.add_argument("--test-labels", default=None, metavar="FILE",
                   help="true labels of a --test array (.npy of class indices, the installed "
                   "data sets' layout; default: test_labels.npy beside features_test.npy)")
    g.add_argument("--true-confusions", default=None, metavar="FILE",
                   help="known confusion matrices (workers x K x K .npy, rows = true class, "
                   "e.g. crowdlearn simulate's confusions.npy, matched to worker ids 0..M-1; "
                   "or an .npz with confusions and worker_ids): confusion_error in "
                   "results.json")

    g = p.add_argument_group("model")
    g.add_argument("-s", "--strategy", default=None,
                   help=f"end-to-end strategy, optionally name[key=value,...] "
                   f"({STRATEGIES}; default {DEFAULT_STRATEGY})")
    _alias(g, "regularization_type", "--regularization-type", "--regularization_type",
           choices=("F", "W", "f", "w"))
    g.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="strategy parameter (repeatable), e.g. --param init_scale=4")
    g.add_argument("--lambda", "--lambda-reg", "--lam", dest="lam", type=float, default=None,
                   help="regularisation weight of geocrowdnet-f/-w and tracereg (default: the "
                   "strategy's)")
    _alias(g, "lam", "--lambda_reg", type=float)
    g.add_argument("--conn-type", default=None, metavar="TYPE",
                   help="crowd layer connection: MW, VW, VB, VW+B or SW")
    _alias(g, "conn_type", "--conn_type")
    g.add_argument("--aggregator", default=None, metavar="STRATEGY",
                   help="two-stage: the aggregation strategy whose labels are learnt (e.g. ds)")
    g.add_argument("--backbone", default=D.BACKBONE,
                   help="classifier: mlp, lenet, resnet9, resnet18, resnet34 or "
                   "torchvision.models.NAME")
    _alias(g, "backbone", "--classifier-NN", "--classifier_NN")
    g.add_argument("--hidden", nargs="*", type=int, default=None, metavar="WIDTH",
                   help="mlp: hidden layer widths (default 128; none: logistic regression)")
    g.add_argument("--dropout", type=float, default=None, help="mlp: dropout (default 0.5)")
    g.add_argument("--batch-norm", action="store_const", const=True, default=None,
                   help="mlp: batch normalisation after each hidden layer")
    g.add_argument("--backbone-param", action="append", metavar="KEY=VALUE",
                   help="backbone parameter (repeatable), e.g. --backbone-param activation=gelu")
    g.add_argument("--pretrained", action="store_true",
                   help="pretrained weights (torchvision backbones)")
    _alias(g, "pretrained", "--use-pretrained", "--use_pretrained", action="store_true")
    g.add_argument("--K", type=int, default=None,
                   help="expected number of classes (checked against the data)")
    g.add_argument("--M", type=int, default=None,
                   help="expected number of workers (checked against the data)")

    g = p.add_argument_group("optimisation")
    g.add_argument("--n-epochs", type=int, default=D.N_EPOCHS, metavar="N",
                   help="training epochs (also --n-epoch, --n_epoch)")
    _alias(g, "n_epochs", "--n-epoch", "--n_epoch", "--n_epochs", type=int)
    g.add_argument("--batch-size", type=int, default=D.BATCH_SIZE, metavar="B",
                   help="tasks per batch")
    _alias(g, "batch_size", "--batch_size", type=int)
    g.add_argument("--lr", type=float, default=D.LR, help="learning rate")
    _alias(g, "lr", "--learning-rate", "--learning_rate", type=float)
    g.add_argument("--optimizer", type=str.lower, choices=("sgd", "adam", "adamw"),
                   default=D.OPTIMIZER, help="optimizer")
    g.add_argument("--momentum", type=float, default=D.MOMENTUM, help="SGD momentum")
    g.add_argument("--weight-decay", type=float, default=D.WEIGHT_DECAY,
                   help="backbone weight decay")
    _alias(g, "weight_decay", "--weight_decay", type=float)
    g.add_argument("--schedule", type=str.lower,
                   choices=("none", "multistep", "cosine", "onecycle"), default=D.SCHEDULE,
                   help="learning-rate schedule (also --scheduler)")
    _alias(g, "schedule", "--scheduler", type=str.lower,
           choices=("none", "multistep", "cosine", "onecycle"))
    g.add_argument("--milestones", nargs="+", type=int, default=(), metavar="EPOCH",
                   help="multistep: epochs where the learning rate is multiplied by --gamma")
    g.add_argument("--gamma", type=float, default=D.GAMMA, help="multistep: decay factor")
    g.add_argument("--head-lr", type=float, default=None,
                   help="learning rate of the crowd head (default: the strategy's, --lr x "
                   f"{D.HEAD_LR_FACTOR:g} for ccem, geocrowdnet-f/-w, tracereg, raykar, coinnet "
                   "and unionnet, whose confusions start near the identity; --lr x 0.1 for "
                   "madl and annot-mix; --lr for the others; coinnet's outliers learn at "
                   "--lr x its outlier_lr_factor, 0.3)")
    _alias(g, "head_lr", "--head_lr", type=float)
    g.add_argument("--seed", type=int, default=D.SEED,
                   help="seed of the weights, the validation split and the batch order")
    g.add_argument("--accelerator", default="auto", metavar="DEVICE",
                   help="cpu, gpu (CUDA), auto (CUDA when available) or cuda:N")
    _alias(g, "accelerator", "--device")
    g.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads of torch (default: 1 for models under 1M parameters on "
                   "the CPU, fastest and bit-repeatable for them; torch's choice for larger "
                   "models; recorded in results.json)")
    g.add_argument("--devices", type=int, default=None, metavar="N",
                   help="data-parallel training on N processes (one per GPU, or N CPU "
                   "processes with gloo): starts torchrun for you; under torchrun, leave it "
                   "out (the launch's WORLD_SIZE decides); only rank 0 writes -o")
    g.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                   help="mixed precision on CUDA")
    g.add_argument("--val-fraction", type=float, default=D.VAL_FRACTION, metavar="F",
                   help="share of the tasks held out for model selection")
    _alias(g, "val_fraction", "--val_fraction", type=float)
    g.add_argument("--selection", type=_selection, default=D.SELECTION,
                   help="model selection: auto (val_loss with a validation split, else last), "
                   "val_loss, val_accuracy (uses the truth of validation tasks, --truth) or "
                   "last")
    g.add_argument("--patience", type=int, default=None, metavar="N",
                   help="early stopping: stop once the selection score has not improved for N "
                   "epochs (default: train every epoch)")

    g = p.add_argument_group("output")
    g.add_argument("--plot-confusion-matrices", action="store_true",
                   help="also draw confusions.png (estimated beside true when known) and "
                   "history.png")
    _alias(g, "plot_confusion_matrices", "--plot_confusion_matrices", "--plot",
           action="store_true")
    from ._plots import add_workers_argument

    add_workers_argument(g)
    g.add_argument("--experiment-name", default=None, metavar="NAME",
                   help="a name recorded in results.json")
    _alias(g, "experiment_name", "--experiment_name")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


# ---------------------------------------------------------------------- checks
def _strategy(args: argparse.Namespace) -> str:
    from ..errors import CrowdlearnError

    reg = getattr(args, "regularization_type", None)
    if reg is None:
        return args.strategy or DEFAULT_STRATEGY
    implied = f"geocrowdnet-{reg.lower()}"
    if args.strategy is not None:
        name = args.strategy.split("[", 1)[0].strip().lower().replace("_", "-")
        if name != implied:
            raise CrowdlearnError(f"--regularization_type {reg} means -s {implied}, but -s is "
                                  f"{args.strategy!r}")
        return args.strategy
    return implied


# ---------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> int:
    """Check the input, train, write the output folder and print a summary."""
    import time

    from ..errors import CrowdlearnError

    start = time.perf_counter()
    from ._fit_sequence import is_sequence_input

    launched = _launched(args)
    if launched is not None:
        return launched
    if is_sequence_input(args):
        _one_process("sequence answers")
        from ._fit_sequence import run_sequence

        return run_sequence(args, _check_out)
    installed_items(args)
    _check_options(args)
    out = Path(args.out)
    _check_out(out, args.force)
    spec = _strategy(args)
    answers = load_answers(args)
    if getattr(answers, "kind", "classification") == "regression":
        _one_process("regression answers")
        from ._regression import fit_regression

        return fit_regression(args, answers, out, start)
    if args.K is not None and args.K != answers.n_classes:
        raise CrowdlearnError(f"--K {args.K} but the answers have {answers.n_classes} classes")
    if args.M is not None and args.M != answers.n_workers:
        raise CrowdlearnError(f"--M {args.M} but the answers have {answers.n_workers} workers")
    transform, images_info = None, None
    if args.images is not None:
        from ._images import read_images

        items = read_images(args, answers)
        feats, test, transform, images_info = items.train, items.test, items.transform, \
            items.info
    else:
        feats = read_train_features(args, answers)
        test = read_test_features(args, feats, answers.classes) if args.test else None

    # the heavy part: torch from here on
    from ..aggregate import available as label_strategies
    from ..aggregate.base import parse_strategy_spec
    from ..deep import CrowdClassifier
    from ..deep.heads import get_head_class
    from ..deep.results import load_true_confusions, write_fit_results

    name, _ = parse_strategy_spec(spec)
    try:
        get_head_class(name)
    except CrowdlearnError as exc:
        if name.lower() in label_strategies():
            raise CrowdlearnError(f"{exc} ({name!r} is a label-only strategy: train on its "
                                  f"labels with -s two-stage --aggregator {name})") from None
        raise
    true_conf = None
    if args.true_confusions:
        true_conf = load_true_confusions(args.true_confusions, answers)

    strategy_params, backbone_params = model_params(args)
    shown = None
    if getattr(args, "workers", None):
        from ._plots import workers_choice

        if not args.plot_confusion_matrices:
            raise CrowdlearnError("--workers chooses the workers of confusions.png: add "
                                  "--plot-confusion-matrices")
        shown = workers_choice(args.workers, answers.worker_ids)
    if getattr(args, "exclude", None):
        from ._exclude import apply_exclude

        answers, feats, n_excluded = apply_exclude(args.exclude, answers, feats,
                                                   strategy_params)
        if not args.quiet:
            print(f"--exclude: {n_excluded} task(s) left out of training")
    clf = CrowdClassifier(
        args.backbone, strategy=spec, backbone_params=backbone_params or None,
        strategy_params=strategy_params or None, lam=args.lam, pretrained=args.pretrained,
        n_epochs=args.n_epochs, batch_size=args.batch_size, optimizer=args.optimizer,
        lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
        head_lr=args.head_lr, schedule=args.schedule, milestones=tuple(args.milestones or ()),
        gamma=args.gamma, amp=args.amp, val_fraction=args.val_fraction,
        selection=args.selection, patience=args.patience, transform=transform,
        device=args.accelerator, seed=args.seed, verbose=not (args.no_progress or args.quiet),
        threads="auto" if args.threads is None else args.threads,
    )
    clf.fit(feats, answers, X_test=test, y_test=None if test is None else test.labels)
    from ..deep.distributed import is_main_process, shutdown

    shutdown()  # data-parallel launch: every rank done training, the group closed cleanly
    if not is_main_process():  # data-parallel launch: rank 0 writes the outputs
        return 0
    inputs = {"answers": str(args.data), "features": args.features,
              "test": args.test, "truth": args.truth, "true_confusions": args.true_confusions,
              "exclude": getattr(args, "exclude", None)}
    if images_info is not None:
        inputs["images"] = images_info
    extra: dict[str, Any] = {"inputs": inputs}
    if args.experiment_name:
        extra["name"] = args.experiment_name
    paths = write_fit_results(
        clf, out, X_test=test, y_test=None if test is None else test.labels,
        true_confusions=true_conf, plot=args.plot_confusion_matrices, workers=shown,
        overwrite=True,
        extra=extra, input_shape=tuple(feats.X.shape[1:]))
    if not args.quiet:
        import json

        summary = json.loads(paths["results.json"].read_text(encoding="utf-8"))
        print(summary_text(summary, out, time.perf_counter() - start))
    return 0


def summary_text(s: dict[str, Any], out: Path, seconds: float) -> str:
    """The lines ``crowdlearn fit`` prints from ``results.json``."""

    def num(value: Any, fmt: str = ".4f") -> str:
        return "-" if value is None else format(value, fmt)

    shape = "x".join(str(d) for d in s.get("input_shape") or []) or "?"
    rows = [
        ("strategy", f"{s['strategy']} ({s['backbone']} on {shape} features, {s['device']})"),
        ("data", f"{s['dataset']}: {s['n_tasks']:,} tasks, {s['n_workers']:,} workers, "
                 f"{s['n_classes']} classes, {s['n_answers']:,} answers"),
        ("epochs", f"{s['n_epochs']}, best epoch {s['best_epoch']} (selection {s['selection']})"),
        ("val loss", num(s.get("best_val_loss"))),
    ]
    if s.get("best_val_accuracy") is not None:
        rows.append(("val accuracy", num(s["best_val_accuracy"])))
    if s.get("train_accuracy") is not None:
        rows.append(("train accuracy", f"{num(s['train_accuracy'])} on "
                                       f"{s['n_tasks_with_truth']:,} tasks with truth"))
    if "final_test_accuracy" in s:
        rows.append(("test accuracy", f"{num(s['final_test_accuracy'])} on "
                                      f"{s['n_test']:,} items"))
    rows.append(("confusion error", num(s.get("confusion_error"))))
    rows.append(("time", f"{seconds:.1f} s ({s['train_seconds']:.1f} s training)"))
    rows.append(("output", f"{out} ({', '.join(s['files'])})"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def model_params(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The strategy's and the backbone's parameters from ``--param``/``--backbone-param`` and
    their shortcuts (``--conn-type``, ``--aggregator``, ``--hidden``, ``--dropout``,
    ``--batch-norm``); shared by ``fit`` and ``experiment``."""
    strategy_params = parse_params(args.param)
    if args.conn_type is not None:
        strategy_params["conn_type"] = args.conn_type
    if args.aggregator is not None:
        strategy_params["aggregator"] = args.aggregator
    backbone_params = parse_params(args.backbone_param)
    if args.hidden is not None:
        backbone_params["hidden"] = tuple(args.hidden)
    if args.dropout is not None:
        backbone_params["dropout"] = args.dropout
    if args.batch_norm is not None:
        backbone_params["batch_norm"] = True
    return strategy_params, backbone_params
