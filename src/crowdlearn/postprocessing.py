"""Post-processing of crowd answers (crowd-kit's ``crowdkit.postprocessing`` names)."""

from __future__ import annotations

from .crowdkit_metrics import entropy_threshold

__all__ = ["entropy_threshold"]
