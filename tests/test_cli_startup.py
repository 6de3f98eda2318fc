"""Start-up cost: help and label-only commands must not import heavy modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
from crowdlearn.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = ("torch", "matplotlib", "pandas", "scipy")
print("LOADED:" + ",".join(m for m in heavy if m in sys.modules))
"""


def _loaded(argv: list[str]) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True,
                         text=True, check=True).stdout.splitlines()[-1]
    assert out.startswith("LOADED:")
    return set(filter(None, out[len("LOADED:"):].split(",")))


def test_help_imports_nothing_heavy() -> None:
    assert _loaded(["--help"]) == set()
    assert _loaded(["aggregate", "--help"]) == set()


@pytest.mark.parametrize("command", ["info", "aggregate"])
def test_label_only_commands_do_not_import_torch(command: str, tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("task,worker,label\n1,a,0\n1,b,1\n2,a,1\n")
    argv = [command, str(csv)] + (["-s", "ds", "-o", str(tmp_path / "o")]
                                  if command == "aggregate" else [])
    loaded = _loaded(argv)
    assert "torch" not in loaded and "matplotlib" not in loaded
