"""The comparison table of ``crowdlearn aggregate -s all``: one row per strategy, saved as files.

Rows follow :data:`STRATEGY_ORDER`, the order of the README's strategy table (a test keeps the
two in sync); strategies registered later and missing from it come last, in registration order.
When the answers carry truth, the row(s) with the highest accuracy are marked ``best``. The
table is written as ``comparison.csv`` and ``comparison.json`` with the atomic file writer, so
that a reader never sees half a table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io._atomic import atomic_write
from .base import available

__all__ = ["COLUMNS", "STRATEGY_ORDER", "comparison_order", "mark_best", "write_comparison"]

#: The strategies in the order of the README's "Aggregation strategies" table.
STRATEGY_ORDER: tuple[str, ...] = (
    "pooled-ds", "mv", "naivesoft", "wawa", "twothird", "iwmv", "plantnet", "zbs", "ds",
    "onecoin", "dswc", "wds", "glad", "mace", "mmsr", "kos", "ibcc", "ebcc", "bwa", "auto",
)

#: Columns of the table, in order (``best`` and ``default`` are booleans).
COLUMNS: tuple[str, ...] = (
    "strategy", "accuracy", "best", "default", "iterations", "log_likelihood", "seconds", "note",
)


def comparison_order(exclude: Sequence[str] = ("auto",)) -> list[str]:
    """Registered strategies in README order, those in ``exclude`` left out."""
    registered = available()
    ordered = [n for n in STRATEGY_ORDER if n in registered]
    ordered += [n for n in registered if n not in ordered]
    return [n for n in ordered if n not in exclude]


def mark_best(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set ``best`` on the row(s) with the highest accuracy (all False without accuracies)."""
    accs = [r["accuracy"] for r in rows if r.get("accuracy") is not None]
    top = max(accs) if accs else None
    for r in rows:
        r["best"] = top is not None and r.get("accuracy") == top
    return rows


def write_comparison(rows: Sequence[dict[str, Any]],
                     out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``comparison.csv`` and ``comparison.json`` (a list of row objects) in ``out_dir``.

    Missing values are empty cells in the CSV and ``null`` in the JSON.
    """
    import csv

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = [{c: r.get(c) for c in COLUMNS} for r in rows]
    paths = {"csv": out / "comparison.csv", "json": out / "comparison.json"}
    with atomic_write(paths["csv"], newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: ("" if v is None else v) for c, v in row.items()} for row in table)
    with atomic_write(paths["json"]) as f:
        f.write(json.dumps(table, indent=1) + "\n")
    return paths
