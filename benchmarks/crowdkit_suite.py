"""Run crowd-kit's own test suite against crowdlearn (the drop-in check of issue 12).

Usage::

    python benchmarks/crowdkit_suite.py PATH/TO/crowd-kit [pytest args...]

``PATH/TO/crowd-kit`` is a checkout of Toloka/crowd-kit (its v1.4.1 tree was measured). The
classification-aggregation, multi-label, metrics, post-processing and learning test files are
copied to a temporary folder and only their imports are rewritten: every name of
``from crowdkit.aggregation import ...`` that :mod:`crowdlearn.aggregate` exports is imported
from there (the others, e.g. ``SegmentationMajorityVote``, stay crowd-kit's and their tests are
deselected), ``crowdkit.metrics.data`` / ``crowdkit.metrics.workers`` become
:mod:`crowdlearn.metrics`, ``crowdkit.postprocessing`` becomes :mod:`crowdlearn.postprocessing`
and ``crowdkit.learning`` (CrowdLayer, CoNAL) :mod:`crowdlearn.learning`.
Test helpers (``crowdkit.aggregation.utils``, the ``base`` class used in annotations) stay
crowd-kit's: crowd-kit must be importable (it is only needed for those helpers).
Tests of private methods (GLAD's ``_e_step`` / ``_gradient``) are deselected.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

FILES = [
    "tests/conftest.py",
    "tests/__init__.py",
    "tests/aggregation/__init__.py",
    "tests/aggregation/data_gold_mv.py",
    "tests/aggregation/data_image.py",
    "tests/aggregation/data_mmsr.py",
    "tests/aggregation/data_mv.py",
    "tests/aggregation/data_wawa.py",
    "tests/aggregation/data_zbs.py",
    "tests/aggregation/test_binary_relevance_aggregation.py",
    "tests/aggregation/test_classification_aggregation.py",
    "tests/aggregation/test_classification_aggregation_edge_cases.py",
    "tests/aggregation/test_ds_aggregation.py",
    "tests/aggregation/test_glad_aggregation.py",
    "tests/aggregation/test_kos_aggregation.py",
    "tests/aggregation/test_mace_aggregation.py",
    "tests/aggregation/test_majority_vote.py",
    "tests/metrics/test_metrics.py",
    "tests/postprocessing/test_entropy_threshold.py",
    "tests/learning/__init__.py",
    "tests/learning/data_learning.py",
    "tests/learning/test_conal.py",
    "tests/learning/test_crowdlayer.py",
]
#: tests of crowd-kit classes crowdlearn does not provide, or of private methods
DESELECT = "not segmentation and not glad_e_step and not glad_derivative"

_AGG_IMPORT = re.compile(r"from crowdkit\.aggregation import (\([^)]*\)|[^\n]*)")


def _rewrite_aggregation(match: re.Match[str], ours: set[str]) -> str:
    names = [n.strip() for n in match.group(1).strip("()").split(",") if n.strip()]
    mine = [n for n in names if n in ours]
    theirs = [n for n in names if n not in ours]
    lines = []
    if mine:
        lines.append(f"from crowdlearn.aggregate import {', '.join(mine)}")
    if theirs:
        lines.append(f"from crowdkit.aggregation import {', '.join(theirs)}")
    return "\n".join(lines)


def rewrite(text: str, ours: set[str]) -> str:
    """``text`` (a crowd-kit test file) with its imports pointed at crowdlearn."""
    text = _AGG_IMPORT.sub(lambda m: _rewrite_aggregation(m, ours), text)
    text = text.replace("from crowdkit.metrics.data import", "from crowdlearn.metrics import")
    text = text.replace("from crowdkit.metrics.workers import", "from crowdlearn.metrics import")
    text = text.replace("from crowdkit.learning import", "from crowdlearn.learning import")
    return text.replace("from crowdkit.postprocessing import",
                        "from crowdlearn.postprocessing import")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    root = Path(argv[0])
    if not (root / "tests").is_dir():
        print(f"crowdkit_suite.py: {root}: not a crowd-kit source checkout (no tests/ folder); "
              "usage: python benchmarks/crowdkit_suite.py PATH/TO/crowd-kit [pytest args]",
              file=sys.stderr)
        return 2
    import crowdlearn.aggregate as agg

    ours = set(agg.__all__)
    with tempfile.TemporaryDirectory() as tmp:
        for rel in FILES:
            src, dst = root / rel, Path(tmp) / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if rel.endswith("__init__.py") and not src.exists():
                dst.write_text("")
                continue
            dst.write_text(rewrite(src.read_text(), ours))
        for sub in ("metrics", "postprocessing", "learning"):
            (Path(tmp) / "tests" / sub / "__init__.py").touch()
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-k", DESELECT,
               "--rootdir", tmp, str(Path(tmp) / "tests"), *argv[1:]]
        return subprocess.call(cmd, cwd=tmp)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
