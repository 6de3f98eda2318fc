"""``crowdlearn info``: what is in a crowd data set (sizes, answer counts, majority-vote accuracy).

Only :mod:`argparse` is imported at start-up; the readers (pandas, numpy) load in :func:`run`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from . import add_command
from ._common import add_input_arguments, load_answers

if TYPE_CHECKING:
    import numpy as np

    from ..answers import Answers

EXAMPLE = """\
crowdlearn info answers.csv
crowdlearn info data/truth-inference/rte            # label.csv + truth.csv
crowdlearn info datasets/labelme --json             # peerannot folder, JSON summary
crowdlearn info music_genre_mturk.csv --task-col id --worker-col annotator --label-col class \\
    --truth music_genre_gold.csv                    # truth: its 'class' column (--truth-col)
crowdlearn info answers.txt --format crowdlayer"""

_BARS = " ▁▂▃▄▅▆▇█"
_MAX_CLASSES_SHOWN = 20


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``info`` sub-command."""
    p = add_command(
        sub, "info", "describe a crowd data set (sizes, answer counts, majority vote accuracy)",
        EXAMPLE,
        description="Read crowd answers in any supported format and print the data set's name, "
        "numbers of tasks, workers, classes (with their names) and answers, the distributions "
        "of answers per task and per worker (min/median/mean/max and a histogram), and, when "
        "the ground truth is known, the accuracy of the majority vote.",
    )
    add_input_arguments(p, positional="path")
    from ._sequence import add_sequence_arguments

    add_sequence_arguments(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary of the data set named on the command line."""
    import json

    from ._sequence import is_sequence, run_info

    if is_sequence(args, "path"):  # tag sequences: documents, sentences, alignment
        return run_info(args)
    answers = load_answers(args, positional="path")
    if getattr(answers, "kind", "classification") == "regression":
        from ._regression import info_regression

        return info_regression(args, answers)
    summary = answers.summary()
    summary["path"] = str(args.path)
    summary["answers_per_task"]["histogram"] = histogram(answers.answers_per_task())
    summary["answers_per_worker"]["histogram"] = histogram(answers.answers_per_worker())
    if summary.get("majority_vote_accuracy") is not None:
        summary.update(majority_vote_ties(answers))
    if args.json:
        print(json.dumps(_plain(summary), indent=2, ensure_ascii=False))
        return 0
    print(render(summary))
    return 0


def majority_vote_ties(answers: Answers, seed: int = 0) -> dict[str, Any]:
    """How tied votes weigh on the majority-vote accuracy (tasks with truth and answers).

    ``majority_vote_accuracy`` breaks ties with the seeded draw of ``crowdlearn aggregate -s mv``
    (``seed`` 0, its default). Returns ``majority_vote_ties`` (tasks whose top classes tie),
    ``majority_vote_tie_seed`` and ``majority_vote_accuracy_range``: the accuracy if every tie
    went wrong, and if every tie that includes the true class went right.
    """
    import numpy as np

    from ..aggregate.votes import _class_major_votes

    counts = _class_major_votes(answers)  # (classes, tasks)
    top = counts.max(axis=0)
    known = answers.truth_mask & (top > 0)
    n_known = int(known.sum())
    if not n_known:
        return {}
    tied = counts == top
    n_top = tied.sum(axis=0)
    idx = np.flatnonzero(known)
    truth = answers.truth[idx]
    truth_on_top = tied[truth, idx]
    sure = int((truth_on_top & (n_top[idx] == 1)).sum())
    maybe = int((truth_on_top & (n_top[idx] > 1)).sum())
    return {"majority_vote_ties": int((n_top[idx] > 1).sum()), "majority_vote_tie_seed": seed,
            "majority_vote_accuracy_range": [sure / n_known, (sure + maybe) / n_known]}


def histogram(counts: np.ndarray, max_bins: int = 10) -> list[dict[str, int]]:
    """Counts of tasks (or workers) per range of answer counts, at most ``max_bins`` ranges.

    Returns a list of ``{"low": a, "high": b, "count": n}``: ``n`` items have between ``a`` and
    ``b`` answers (inclusive). Ranges have equal integer widths and cover ``min..max``.
    """
    import numpy as np

    if len(counts) == 0:
        return []
    lo, hi = int(counts.min()), int(counts.max())
    width = max(1, -(-(hi - lo + 1) // max_bins))
    n_bins = -(-(hi - lo + 1) // width)
    per_bin = np.bincount((counts - lo) // width, minlength=n_bins)
    return [
        {"low": lo + i * width, "high": min(hi, lo + (i + 1) * width - 1), "count": int(c)}
        for i, c in enumerate(per_bin)
    ]


def _histogram_line(bins: list[dict[str, int]]) -> str:
    if not bins:
        return ""
    top = max(b["count"] for b in bins) or 1
    bars = "".join(_BARS[-(-b["count"] * (len(_BARS) - 1) // top)] for b in bins)
    parts = []
    for b in bins:
        span = str(b["low"]) if b["low"] == b["high"] else f"{b['low']}-{b['high']}"
        parts.append(f"{span}:{b['count']}")
    return f"{bars}  {' '.join(parts)}"


def render(summary: dict[str, Any]) -> str:
    """The plain-text report of :func:`run`."""
    classes = [str(c) for c in summary["classes"]]
    shown = ", ".join(classes[:_MAX_CLASSES_SHOWN])
    if len(classes) > _MAX_CLASSES_SHOWN:
        shown += f", ... ({len(classes) - _MAX_CLASSES_SHOWN} more)"
    lines = [
        f"name:      {summary['name']}",
        f"path:      {summary['path']}",
        f"tasks:     {summary['n_tasks']:,}"
        + (f" ({summary['tasks_without_answers']:,} without answers)"
           if summary["tasks_without_answers"] else ""),
        f"workers:   {summary['n_workers']:,}",
        f"classes:   {summary['n_classes']:,} ({shown})",
        f"answers:   {summary['n_answers']:,}",
    ]
    for key, label in (("answers_per_task", "per task"), ("answers_per_worker", "per worker")):
        d = summary[key]
        lines.append(
            f"answers {label + ':':<12}min {d['min']}, median {d['median']:g}, "
            f"mean {d['mean']:.2f}, max {d['max']}"
        )
        hist = _histogram_line(d.get("histogram", []))
        if hist:
            lines.append(f"  {hist}")
    n_truth = summary["n_tasks_with_truth"]
    if n_truth:
        lines.append(f"truth:     {n_truth:,} tasks")
        acc = summary.get("majority_vote_accuracy")
        if acc is not None:
            lines.append(f"majority vote accuracy: {acc:.4f} (on tasks with truth and answers)")
            ties = summary.get("majority_vote_ties")
            if ties:
                low, high = summary["majority_vote_accuracy_range"]
                lines.append(f"  {ties:,} tied votes broken by a draw seeded "
                             f"{summary['majority_vote_tie_seed']}, as 'aggregate -s mv' does; "
                             f"{low:.4f} to {high:.4f} as the ties fall")
    else:
        lines.append("truth:     none")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """JSON-ready copy (numpy scalars to Python)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value
