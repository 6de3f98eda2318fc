"""Figures as ``data:`` URIs, for pages that must not load any other file."""

from __future__ import annotations

import base64
import io
from typing import Any


def figure_uri(fig: Any, dpi: int = 96) -> str:
    """``data:image/png;base64,...`` of a :class:`matplotlib.figure.Figure`."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
