"""crowdlearn: learning from crowdsourced labels.

Truth inference (majority vote, Dawid-Skene and its family, GLAD, MACE, Bayesian models), end-to-end
deep learning from crowds, diagnostics, datasets and simulated annotators, on one data model:
:class:`crowdlearn.Answers`.

Importing the package is cheap: :class:`Answers` (numpy, pandas) is loaded on first use, and heavy
modules (torch, matplotlib) only by the features that need them, so that ``crowdlearn --help``
starts instantly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import CrowdlearnError, DataError

if TYPE_CHECKING:
    from .answers import Answers

__version__ = "0.1.0"

__all__ = ["Answers", "CrowdlearnError", "DataError", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Answers":
        from .answers import Answers

        return Answers
    raise AttributeError(f"module 'crowdlearn' has no attribute {name!r}")
