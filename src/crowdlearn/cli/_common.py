"""Helpers shared by the sub-commands: input options, loading answers, plain-text tables."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
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
                        help="ground-truth file (task,truth table or .npy in task order)")
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


def load_answers(args: argparse.Namespace, *, positional: str = "data") -> Answers:
    """Read the answers named on the command line with the common options."""
    from ..io import read

    return read(
        getattr(args, positional),
        format=args.input_format,
        truth=args.truth,
        duplicates=args.duplicates,
        task_col=args.task_col,
        worker_col=args.worker_col,
        label_col=args.label_col,
        classes=_class_list(getattr(args, "classes", None)),
    )


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
