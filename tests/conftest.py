"""Shared fixtures.

Real data sets live outside the repository; tests find them through ``CROWDLEARN_DATA``
(``.ci/run`` sets it to ``../shared/data``) and skip with a clear reason when it is unset.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def data_root() -> Path | None:
    """The folder named by ``CROWDLEARN_DATA``, or ``None`` when unset or missing."""
    value = os.environ.get("CROWDLEARN_DATA")
    if not value:
        return None
    path = Path(value)
    return path if path.is_dir() else None


def benchmark_module(name: str) -> ModuleType:
    """The script ``benchmarks/NAME.py`` imported as a module (benchmarks are not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def one_thread():
    """One torch thread for the test (restored after): tiny models only pay for intra-op
    threads, and on a busy 2-core machine they stall."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def data_dir() -> Path:
    """``$CROWDLEARN_DATA``; skips the test when it is not set."""
    root = data_root()
    if root is None:
        pytest.skip("CROWDLEARN_DATA is not set (or not a folder): real data sets unavailable")
    return root
