"""``crowdlearn convert``: read crowd answers in one format, write them in another (atomically).

Only :mod:`argparse` is imported at start-up; the readers and writers load in :func:`run`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from . import add_command
from ._common import add_input_arguments, load_answers

if TYPE_CHECKING:
    from ..answers import Answers

#: output formats (kept here so that ``--help`` does not import crowdlearn.io)
TO_FORMATS = ("csv", "tsv", "parquet", "peerannot", "crowdlayer", "truth-inference")

EXAMPLE = """\
crowdlearn convert data/truth-inference/rte rte.csv --to csv
crowdlearn convert answers.csv datasets/mine --to peerannot
crowdlearn convert datasets/labelme labelme.npy --to crowdlayer
crowdlearn convert answers.txt answers.parquet --from crowdlayer --to parquet \\
    --truth labels_train.txt
crowdlearn convert raw.csv clean.csv --to csv --duplicates last"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``convert`` sub-command."""
    p = add_command(
        sub, "convert", "convert crowd answers between formats", EXAMPLE,
        description="Read crowd answers (task/worker/label table, peerannot folder, "
        "truth-inference folder, CrowdLayer matrix) and write them, with their ground truth, "
        "in another format. The output is written atomically: a reader never sees a "
        "half-written file or folder. CrowdLayer matrices keep only the order of tasks and "
        "workers, not their ids or the class names.",
    )
    add_input_arguments(p, positional="input")
    p.add_argument("--from", dest="input_format", default=None, metavar="FORMAT",
                   help="input format (same as --format)")
    p.add_argument("output", help="output file or folder")
    p.add_argument("--to", required=True, choices=TO_FORMATS, metavar="FORMAT",
                   help="output format: " + ", ".join(TO_FORMATS))
    p.add_argument("--no-overwrite", action="store_true",
                   help="fail when the output already exists")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Convert the input named on the command line."""
    from ..io import write
    from ..io._atomic import check_writable

    check_writable(args.output, folder=None)  # before reading: a bad destination fails at once
    answers = load_answers(args, positional="input")
    out = write(answers, args.output, format=args.to, overwrite=not args.no_overwrite)
    if args.to == "crowdlayer" and not args.quiet and not _positional_ids(answers):
        print("note: a CrowdLayer matrix keeps only the order of tasks and workers; their ids "
              "(and class names) are not stored", file=sys.stderr)
    if not args.quiet:
        truth = (f", truth for {int(answers.truth_mask.sum()):,} tasks"
                 if answers.has_truth else "")
        print(f"wrote {out} ({args.to}): {answers.n_answers:,} answers, {answers.n_tasks:,} "
              f"tasks, {answers.n_workers:,} workers, {answers.n_classes} classes{truth}")
    return 0


def _positional_ids(answers: Answers) -> bool:
    """Whether task ids, worker ids and classes are ``0..n-1`` (what a matrix keeps)."""
    import numpy as np

    return all(
        ids.dtype.kind in "iu" and np.array_equal(ids, np.arange(len(ids)))
        for ids in (answers.task_ids, answers.worker_ids, answers.classes)
    )
