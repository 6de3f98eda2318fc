"""Helpers shared by the sub-commands: input options, loading answers, plain-text tables."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..answers import Answers


def add_input_arguments(parser: argparse.ArgumentParser, *, positional: str = "data") -> None:
    """The options every command that reads answers accepts."""
    parser.add_argument(
        positional,
        help="answers: a task/worker/label table (.csv, .tsv, .parquet), a peerannot folder "
        "(answers.json + metadata.json), a folder with label.csv/truth.csv, or a CrowdLayer "
        "matrix (.npy, or text with --format crowdlayer)",
    )
    parser.add_argument("--format", dest="input_format", default=None,
                        help="input format when it cannot be guessed from the path "
                        "(csv, tsv, parquet, peerannot, crowdlayer, truth-inference)")
    parser.add_argument("--truth", default=None,
                        help="ground-truth file: a task,truth table, .npy in task order, or any "
                        "table with a task id column and a label column (e.g. a features file "
                        "such as music_genre_gold.csv; see --truth-col)")
    parser.add_argument("--truth-col", default=None, metavar="COL",
                        help="true-label column of --truth (default: truth, else class or "
                        "label); its task ids are matched with --task-col, else task, item or "
                        "id")
    parser.add_argument("--duplicates", choices=("error", "first", "last", "all"),
                        default="error",
                        help="what to do when a worker answered a task more than once")
    parser.add_argument("--classes", default=None, metavar="NAME,NAME,...",
                        help="the class names, comma-separated; labels (and true labels) are "
                        "matched to them by name (by default integer labels are class indices "
                        "0..max and text labels are names)")
    parser.add_argument("--task-col", default=None,
                        help="name of the task column of a table (default: task, or item)")
    parser.add_argument("--worker-col", default="worker", help="name of the worker column")
    parser.add_argument("--label-col", default="label", help="name of the label column")
    add_kind_arguments(parser)


def add_kind_arguments(parser: argparse.ArgumentParser) -> None:
    """``--kind`` (the answer kind, crowdlearn.kinds) and ``--missing`` (a matrix's marker)."""
    from ..kinds import KINDS

    parser.add_argument("--kind", default=None, choices=KINDS,
                        help="answer kind: class labels (classification), real values "
                        "(regression) or tag sequences; default: detected (real values when "
                        "the answers are numbers not all whole, else classification)")
    parser.add_argument("--missing", type=float, default=None, metavar="VALUE",
                        help="no-answer marker of a regression CrowdLayer matrix (e.g. "
                        "999999999 for MovieReviews' answers.txt); implies --kind regression")


def default_out_dir(data: str, name: str) -> Path:
    """Where a command's results go without ``-o``: ``DATA/NAME`` for a folder, else
    ``<file stem>_NAME`` beside the file."""
    path = Path(data)
    if path.is_dir():
        return path / name
    return path.with_name(f"{path.stem}_{name}")


def load_answers(args: argparse.Namespace, *, positional: str = "data") -> Answers:
    """Read the answers named on the command line with the common options.

    ``--truth`` is read as every reader reads it (a ``task,truth`` table or ``.npy``), unless it
    is a table without a ``truth`` column, such as a features file with a ``class`` column
    (Music's gold file): its label column is ``--truth-col`` (else ``class`` or ``label``), its
    task id column ``--task-col`` (else ``task``, ``item`` or ``id``).
    """
    from ..io import read

    def answers(truth: Any) -> Answers:
        return read(getattr(args, positional), format=args.input_format, truth=truth,
                    duplicates=args.duplicates, task_col=args.task_col,
                    worker_col=args.worker_col, label_col=args.label_col,
                    classes=_class_list(getattr(args, "classes", None)),
                    kind=getattr(args, "kind", None), missing=getattr(args, "missing", None))

    if getattr(args, "kind", None) == "regression" or getattr(args, "missing", None) is not None:
        return answers(args.truth)  # regression truth: read by crowdlearn.io.real
    columns = _truth_columns(args)
    if columns is None:
        return _say_detected(args, answers(args.truth), positional)
    from ..io.truth import read_truth

    task_col, truth_col = columns
    return read_truth(args.truth, answers(None), task_col=task_col, truth_col=truth_col)


def _say_detected(args: argparse.Namespace, answers: Any, positional: str = "data") -> Any:
    """Answers detected (not declared) as real values: keep a note with the evidence for the
    regression commands to print (:func:`say_kind_note`), so that a stray ``2.5`` in a file of
    class labels is never aggregated as ratings without a word."""
    if getattr(args, "kind", None) is None and getattr(answers, "kind", None) == "regression":
        import numpy as np

        frac = answers.value != np.floor(answers.value)
        args.kind_note = (
            f"note: {getattr(args, positional, '')}: answers read as real values (regression): "
            f"{int(frac.sum())} of {len(frac)} are not whole numbers (e.g. "
            f"{answers.value[np.argmax(frac)]:g}); --kind classification reads them as class "
            "labels")
    return answers


def say_kind_note(args: argparse.Namespace) -> None:
    """Print the note of :func:`_say_detected` on stderr (not with ``--quiet``)."""
    note = getattr(args, "kind_note", None)
    if note and not getattr(args, "quiet", False):
        import sys

        print(note, file=sys.stderr)


def _truth_columns(args: argparse.Namespace) -> tuple[str, str] | None:
    """(task column, truth column) of a ``--truth`` table the readers' default rule does not
    cover; ``None`` when it does (no table, or a plain ``task,truth`` table)."""
    truth_col = getattr(args, "truth_col", None)
    if not args.truth:
        if truth_col is not None:
            from ..errors import CrowdlearnError

            raise CrowdlearnError("--truth-col needs --truth FILE")
        return None
    path = Path(args.truth)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".txt", ".parquet", ".pq") or not path.is_file():
        return None
    from ..errors import DataError
    from ..io._common import TableFile

    header = TableFile(path, parquet=suffix in (".parquet", ".pq")).columns
    plain = truth_col in (None, "truth") and "truth" in header \
        and any(c in header for c in ("task", "item"))
    if plain or (len(header) == 1 and truth_col is None):
        return None
    if truth_col is not None and truth_col not in header:
        raise DataError(f"no column {truth_col!r} (--truth-col); the header has: "
                        f"{_some(header)}", source=str(args.truth), where="line 1")
    truth_col = truth_col or next((c for c in ("truth", "class", "label") if c in header), None)
    task_col = next((c for c in (args.task_col, "task", "item", "id") if c and c in header),
                    None)
    if truth_col is None or task_col is None:
        missing = "a task id column (task, item or id; --task-col)" if task_col is None \
            else "a truth column (truth, class or label; --truth-col)"
        raise DataError(f"no {missing}; the header has: {_some(header)}",
                        source=str(args.truth), where="line 1")
    return task_col, truth_col


def _some(names: Sequence[str], limit: int = 8) -> str:
    """At most ``limit`` names, then how many more."""
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _class_list(text: str | None) -> list[str] | None:
    """``--classes a,b,c`` as a list of names (``None`` when not given)."""
    if text is None:
        return None
    from ..errors import CrowdlearnError

    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise CrowdlearnError(f"--classes: empty class name in {text!r}")
    return names


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A fixed-width text table; floats are shown with 4 significant decimals."""

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.4g}"
        return str(v)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in text]) for i, h in enumerate(headers)]
    left = [not any(_is_number(r[i]) for r in text) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        cells = zip(values, widths, left, strict=True)
        return "  ".join(v.ljust(w) if lft else v.rjust(w) for v, w, lft in cells).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(r) for r in text)
    return "\n".join(out)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_params(items: Sequence[str] | None) -> dict[str, Any]:
    """Parse repeated ``--param key=value`` options (numbers and booleans converted)."""
    from ..aggregate.base import parse_value
    from ..errors import CrowdlearnError

    params: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise CrowdlearnError(f"--param expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        params[key.strip().replace("-", "_")] = parse_value(value.strip())
    return params
