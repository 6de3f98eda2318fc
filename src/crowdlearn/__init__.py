"""crowdlearn: learning from crowdsourced labels.

Truth inference (majority vote, Dawid-Skene and its family, GLAD, MACE, Bayesian models), end-to-end
deep learning from crowds, diagnostics, datasets and simulated annotators, on one data model:
:class:`crowdlearn.Answers`.

Heavy modules (torch, matplotlib) are imported only by the features that need them.
"""

from __future__ import annotations

from .answers import Answers
from .errors import CrowdlearnError, DataError

__version__ = "0.1.0"

__all__ = ["Answers", "CrowdlearnError", "DataError", "__version__"]
