"""The errors of data set installation: :class:`DatasetError` and its kinds (a download that
failed, a checksum that did not match)."""

from __future__ import annotations

from ..errors import CrowdlearnError


class DatasetError(CrowdlearnError):
    """A data set cannot be installed or loaded (one-line message)."""


class DownloadError(DatasetError):
    """A file could not be downloaded; the message says how to use ``--from`` instead."""


class ChecksumError(DatasetError):
    """A file's checksum differs from the registry's; the message names both."""
