"""``crowdlearn train``: train a classifier on a labels file (peerannot's ``train --labels``).

The labels are those ``crowdlearn aggregate`` or ``peerannot aggregate`` write
(``labels_<dataset>_<strategy>[_hard].npy``): hard (class index per task, ``-1`` for none) or
soft (tasks x classes). Everything else is ``crowdlearn fit``'s: the same options, items
(``--features`` or ``--images``), training loop, model selection and output folder, with the
two-stage head trained on the given labels instead of an aggregator's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import add_command

EXAMPLE = """\
crowdlearn aggregate toy-data -s dawid_skene
crowdlearn train toy-data --labels toy-data/labels/labels_toy-data_dawid_skene.npy \\
    --images --backbone resnet18 --n-epochs 50 -o out/toy
crowdlearn train answers.csv --labels labels_answers_mv.npy --features items.csv -o out/mv"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command."""
    from .fit import add_fit_arguments

    p = add_command(
        sub, "train", "train a classifier on a labels file (hard or soft labels)", EXAMPLE,
        description="Train a neural classifier on given labels (peerannot's train --labels): "
        "a .npy file of hard labels (class index per task in the answers' task order, -1 for "
        "none) or soft labels (tasks x classes), such as crowdlearn aggregate's or peerannot "
        "aggregate's labels_<dataset>_<strategy>.npy. The answers (DATA) give the tasks and "
        "classes; the items come from --features or --images. Options and output folder are "
        "crowdlearn fit's (-s is two-stage, --soft/--no-soft chooses the targets).",
    )
    p.add_argument("--labels", required=True, metavar="FILE.npy",
                   help="labels to learn: hard (n_tasks,) or soft (n_tasks x n_classes)")
    p.add_argument("--soft", action=argparse.BooleanOptionalAction, default=True,
                   help="learn soft labels as given (--no-soft: their argmax, one-hot)")
    add_fit_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train the two-stage head on ``--labels`` through ``crowdlearn fit``."""
    from ..errors import CrowdlearnError
    from . import fit

    if args.strategy is not None and args.strategy.split("[", 1)[0].strip().lower().replace(
            "_", "-") not in ("two-stage", "twostage", "aggregated"):
        raise CrowdlearnError(f"train learns given labels (two-stage); -s {args.strategy!r} is "
                              "for crowdlearn fit")
    if getattr(args, "aggregator", None) is not None:
        raise CrowdlearnError("--aggregator and --labels exclude each other: the labels are "
                              "given")
    labels = Path(args.labels)
    if not labels.is_file():
        raise CrowdlearnError(f"{labels}: no such labels file")
    args.strategy = "two-stage"
    args.param = [*(args.param or []), f"labels={labels.resolve()}",
                  f"soft={'true' if args.soft else 'false'}"]
    return fit.run(args)
