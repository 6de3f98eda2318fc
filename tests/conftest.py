"""Shared fixtures.

Real data sets live outside the repository; tests find them through ``CROWDLEARN_DATA``
(``.ci/run`` sets it to ``../shared/data``) and skip with a clear reason when it is unset.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def data_root() -> Path | None:
    """The folder named by ``CROWDLEARN_DATA``, or ``None`` when unset or missing."""
    value = os.environ.get("CROWDLEARN_DATA")
    if not value:
        return None
    path = Path(value)
    return path if path.is_dir() else None


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
