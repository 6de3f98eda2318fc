"""The exception of the crowd simulator: :class:`SimulationError`."""

from __future__ import annotations

from ..errors import CrowdlearnError


class SimulationError(CrowdlearnError, ValueError):
    """A bad simulation parameter (one-line message naming the parameter).

    Raised by every function of :mod:`crowdlearn.simulate` (the Dawid & Skene [DS79]_ crowd
    simulator); the command-line tool prints it as one line and exits with status 2.
    """
