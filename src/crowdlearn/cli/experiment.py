"""``crowdlearn experiment``: the CCEM paper's experiments, one protocol each.

Argument parsing only: the protocols (data, annotators, the paper's settings and where they come
from) are :mod:`crowdlearn.datasets.protocols`, the training :func:`~crowdlearn.datasets.
protocols.run_experiment`. The model, optimisation and output options are those of ``crowdlearn
fit`` (copied from its parser, with the protocol's values as defaults), except ``--M``, which
here is the number of annotators to simulate, and ``--gamma``, the annotator-model parameter of
the seed command line (the multistep decay factor is ``--lr-decay``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import add_command
from .fit import STRATEGIES, _alias

#: the protocols (:data:`crowdlearn.datasets.protocols.PROTOCOLS`; not imported here, so that
#: ``crowdlearn --help`` stays light)
PROTOCOLS = ("cifar10-synthetic", "mnist-machine", "food11", "music", "labelme")

#: what the seed command line's ``--annotator_type`` means for each protocol
ANNOTATOR_TYPES = {"cifar10-synthetic": "synthetic", "food11": "synthetic",
                   "mnist-machine": "machine-classifier", "music": "real", "labelme": "real"}

EXAMPLE = """\
crowdlearn datasets install cifar10
crowdlearn experiment cifar10-synthetic --gamma 0.01 --M 5 -o out/cifar10
crowdlearn experiment cifar10-synthetic --data cifar-10-batches-py/ --answers-per-task all \\
    -s geocrowdnet-w -o out/cifar10-all
crowdlearn experiment mnist-machine --M 15 --p 0.1 -o out/mnist
crowdlearn experiment food11 --data food-11/ --backbone torchvision.models.resnet50 \\
    --pretrained -o out/food11
crowdlearn experiment music --data music-csv-folder/ -o out/music
crowdlearn experiment labelme --lambda 0.1 -o out/labelme"""

#: ``crowdlearn fit`` option groups reused here
_FIT_GROUPS = ("model", "optimisation", "output")
#: their options that mean something else here (or come from the data)
_FIT_SKIP = {"M", "gamma"}
#: their options whose default is the protocol's (None: not given)
_PROTOCOL_DEFAULTS = ("backbone", "n_epochs", "batch_size", "lr", "optimizer", "momentum",
                      "weight_decay", "schedule", "milestones", "val_fraction", "selection",
                      "pretrained", "amp")


def _fit_parser() -> argparse.ArgumentParser:
    sub = argparse.ArgumentParser(add_help=False).add_subparsers()
    from . import fit

    fit.register(sub)
    return sub.choices["fit"]


#: help texts that differ here (the copied actions are this parser's own)
_HELP = {
    "strategy": f"end-to-end strategy, optionally name[key=value,...] ({STRATEGIES}; default: "
    "the protocol's)",
    "backbone": "classifier: mlp, lenet, resnet9, resnet18, resnet34 or "
    "torchvision.models.NAME (default: the protocol's)",
    "milestones": "multistep: epochs where the learning rate is multiplied by --lr-decay",
    "seed": "seed of everything: the subset, the annotators, the weights, the validation split, "
    "the batch order and the augmentation",
}


def _copy_fit_groups(p: argparse.ArgumentParser) -> None:
    """Add ``crowdlearn fit``'s model, optimisation and output option groups to ``p``."""
    source = _fit_parser()
    for group in source._action_groups:
        if group.title not in _FIT_GROUPS:
            continue
        target = p.add_argument_group(group.title)
        for action in group._group_actions:
            if action.dest in _FIT_SKIP:
                continue
            if action.dest in _HELP and action.help is not argparse.SUPPRESS:
                action.help = _HELP[action.dest]
            target._add_action(action)


def _answers_per_task(text: str) -> int | str:
    if text.strip().lower() == "all":
        return "all"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'all', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``experiment`` sub-command."""
    p = add_command(
        sub, "experiment", "run a CCEM paper experiment (data, annotators, paper settings)",
        EXAMPLE,
        description="Run one of the experiment protocols of Ibrahim, Nguyen & Fu (ICLR 2023) "
        "with the paper's settings (crowdlearn.datasets.protocols; the module documents each "
        "setting and its source in the official code): cifar10-synthetic (simulated "
        "separable-and-uniform annotators, ResNet-9), mnist-machine (15 machine-classifier "
        "annotators, ~90% of the answers missing, LeNet), food11 (simulated annotators, "
        "pretrained ResNet-50), music and labelme (real Mechanical Turk answers, MLP). Every "
        "model and optimisation option of crowdlearn fit overrides the protocol's. Writes the "
        "output folder of crowdlearn fit plus answers.csv and true_confusions.npy, and prints "
        "the final test accuracy and the confusion estimation error.",
    )
    p.add_argument("protocol", choices=PROTOCOLS, metavar="PROTOCOL",
                   help=f"the experiment: {', '.join(PROTOCOLS)}")
    p.add_argument("-o", "--out", required=True, metavar="DIR",
                   help="output folder (must be new or empty unless --force)")
    p.add_argument("--force", action="store_true",
                   help="replace the output folder if it exists and is not empty")

    g = p.add_argument_group("data")
    g.add_argument("--root", default=None, metavar="DIR",
                   help="where data sets are installed (crowdlearn datasets install; default "
                   "$CROWDLEARN_HOME, else ~/.crowdlearn/datasets)")
    g.add_argument("--data", default=None, metavar="PATH",
                   help="the data themselves instead: cifar-10-batches-py folder, MNIST idx "
                   "folder, Food-11 folder, music CSV or installed folder, labelme folder")
    g.add_argument("--limit", type=int, default=None, metavar="N",
                   help="at most N random training and N test items (quick runs)")
    g.add_argument("--size", type=int, default=None, metavar="PIXELS",
                   help="food11, labelme images: resize to PIXELS x PIXELS (default 224)")

    g = p.add_argument_group("annotators")
    g.add_argument("--M", dest="n_workers", type=int, default=None, metavar="M",
                   help="number of annotators (cifar10-synthetic, food11: 5; mnist-machine: "
                   "15)")
    g.add_argument("--gamma", type=float, default=None,
                   help="parameter of annotator models that have one (separable-uniform: the "
                   "good annotator is I + gamma U; default 0.01)")
    g.add_argument("--annotators", default=None, metavar="MODEL",
                   help="simulated annotators: a model of crowdlearn simulate "
                   "(separable-uniform, hammer-spammer, one-coin, symmetric, diagonal, "
                   "adversarial, ...) or a worker specification MODEL:COUNT[:KEY=VALUE],... "
                   "(default separable-uniform)")
    g.add_argument("--annotator-param", action="append", metavar="KEY=VALUE",
                   help="annotator model parameter (repeatable), e.g. hammer_share=0.2")
    g.add_argument("--answers-per-task", type=_answers_per_task, default=None, metavar="R",
                   help="simulated annotators: R distinct annotators label each image, or "
                   "'all' (default 1, the official run's per-sample budget)")
    g.add_argument("--p", type=float, default=None,
                   help="each annotator labels each image with probability P instead "
                   "(mnist-machine: default 0.1)")
    g.add_argument("--missing-rate", type=float, default=None, metavar="R",
                   help="the same as --p 1-R")
    g.add_argument("--n-tasks", default=None, metavar="N",
                   help="mnist-machine: images labelled by the crowd (default 1000, or 'all')")
    g.add_argument("--pool", type=int, default=None, metavar="N",
                   help="mnist-machine: training images that train the annotators (default "
                   "10000)")
    _alias(g, "annotator_type", "--annotator-type", "--annotator_type",
           choices=("synthetic", "machine-classifier", "real"))
    _alias(g, "num_workers", "--num-workers", "--num_workers", type=int)

    _copy_fit_groups(p)
    g = next(x for x in p._action_groups if x.title == "optimisation")
    g.add_argument("--lr-decay", dest="lr_gamma", type=float, default=None, metavar="GAMMA",
                   help="multistep schedule: factor of the learning rate at each milestone "
                   "(crowdlearn fit's --gamma)")
    p.set_defaults(func=run, **dict.fromkeys(_PROTOCOL_DEFAULTS))


# ---------------------------------------------------------------------- run
def _check(args: argparse.Namespace) -> None:
    from ..errors import CrowdlearnError

    for name, value, low in (("--n-epochs", args.n_epochs, 1), ("--batch-size", args.batch_size, 1),
                             ("--M", args.n_workers, 1), ("--limit", args.limit, 1),
                             ("--size", args.size, 8), ("--pool", args.pool, 1),
                             ("--threads", args.threads, 1), ("--K", args.K, 2)):
        if value is not None and value < low:
            raise CrowdlearnError(f"{name} must be at least {low}, got {value}")
    if args.lr is not None and not args.lr > 0:
        raise CrowdlearnError(f"--lr must be positive, got {args.lr}")
    if args.p is not None and not 0.0 < args.p <= 1.0:
        raise CrowdlearnError(f"--p must be in (0, 1], got {args.p}")
    if args.val_fraction is not None and not 0.0 <= args.val_fraction < 1.0:
        raise CrowdlearnError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        raise CrowdlearnError(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.schedule == "multistep" and not args.milestones:
        raise CrowdlearnError("--schedule multistep needs --milestones")
    kind = getattr(args, "annotator_type", None)
    if kind is not None and kind != ANNOTATOR_TYPES[args.protocol]:
        raise CrowdlearnError(f"--annotator_type {kind}: {args.protocol} has "
                              f"{ANNOTATOR_TYPES[args.protocol]} annotators")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of run_experiment that were given on the command line."""
    from ..simulate import parse_param
    from .fit import _strategy, model_params

    opts: dict[str, Any] = {
        "root": args.root, "data": args.data, "limit": args.limit, "size": args.size,
        "n_workers": args.n_workers, "gamma": args.gamma, "annotators": args.annotators,
        "answers_per_task": args.answers_per_task, "p": args.p,
        "missing_rate": args.missing_rate, "n_tasks": args.n_tasks, "pool": args.pool,
        "seed": args.seed, "device": args.accelerator,
        "lam": args.lam, "backbone": args.backbone, "pretrained": args.pretrained,
        "n_epochs": args.n_epochs, "batch_size": args.batch_size, "lr": args.lr,
        "optimizer": args.optimizer, "momentum": args.momentum,
        "weight_decay": args.weight_decay, "head_lr": args.head_lr, "schedule": args.schedule,
        "milestones": None if args.milestones is None else tuple(args.milestones),
        "lr_decay": args.lr_gamma, "amp": args.amp, "val_fraction": args.val_fraction,
        "selection": args.selection,
    }
    if args.annotator_param:
        opts["annotator_params"] = dict(parse_param(x) for x in args.annotator_param)
    if args.strategy is not None or getattr(args, "regularization_type", None) is not None:
        opts["strategy"] = _strategy(args)
    strategy_params, backbone_params = model_params(args)
    opts["strategy_params"] = strategy_params or None
    opts["backbone_params"] = backbone_params or None
    return {k: v for k, v in opts.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    """Check the options, run the protocol, print the summary."""
    import time

    from .fit import _check_out, summary_text

    start = time.perf_counter()
    _check(args)
    out = Path(args.out)
    _check_out(out, args.force)
    opts = _options(args)
    extra = {"name": args.experiment_name} if args.experiment_name else None

    from ..datasets.protocols import run_experiment

    _, s = run_experiment(
        args.protocol, out=out, overwrite=True, plot=args.plot_confusion_matrices,
        threads=args.threads, verbose=not (args.no_progress or args.quiet), n_classes=args.K,
        extra=extra, **opts)
    if not args.quiet:
        print(protocol_text(s))
        print(summary_text(s, out, time.perf_counter() - start))
    return 0


def protocol_text(s: dict[str, Any]) -> str:
    """The lines about the protocol and its annotators printed before ``crowdlearn fit``'s."""
    proto, a = s.get("protocol", {}), s.get("annotators", {})
    rows = [("experiment", f"{proto.get('name')} ({proto.get('items') or proto.get('source')})")]
    line = (f"{a.get('n_workers', 0):,} annotators, {a.get('n_answers', 0):,} answers, "
            f"{a.get('answers_per_task', 0):.2f} per task")
    if a.get("missing_rate") is not None:
        line += f", {100 * a['missing_rate']:.1f}% missing"
    if a.get("answer_accuracy") is not None:
        line += f", {100 * a['answer_accuracy']:.1f}% correct"
    rows.append(("annotators", line))
    if s.get("val_split_accuracy") is not None:
        rows.append(("val split", f"{s['val_split_accuracy']:.4f} on {s['n_val_split']:,} "
                                  "items (the data set's validation split)"))
    width = max(len("confusion error"), *(len(k) for k, _ in rows))
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
