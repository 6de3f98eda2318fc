"""The record types of the data set registry: :class:`RemoteFile` (one file to download) and
:class:`DatasetRecord` (one installable data set); see :mod:`crowdlearn.datasets.registry`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from .installer import Inputs

__all__ = ["DatasetRecord", "Prepare", "RemoteFile"]

#: prepare(inputs, out_folder, record) -> extra metadata (written into metadata.json)
Prepare = Callable[["Inputs", "Path", "DatasetRecord"], "dict[str, Any]"]


@dataclass(frozen=True)
class RemoteFile:
    """One file a data set is built from.

    Attributes
    ----------
    fname:
        The file name (as downloaded, and as ``--from`` expects it).
    urls:
        Where to download it, tried in order (mirrors).
    sha256:
        Its SHA-256, or ``None`` when unknown (the installer then prints the hash it computed
        and records the file as unverified).
    size:
        Its size in bytes, or ``None`` when unknown.
    md5:
        The publisher's MD5 checksum, checked when no SHA-256 is known.
    members:
        For archives: the members (base names) that ``prepare`` reads. ``--from`` also
        accepts these members themselves, or a folder holding them (an archive extracted by
        hand); the archive's checksum cannot be checked then.
    cache:
        Sub-folder of the download cache (``ROOT/.downloads/<cache>``); data sets that share
        a file share it (default: the data set's name).
    """

    fname: str
    urls: tuple[str, ...]
    sha256: str | None = None
    size: int | None = None
    md5: str | None = None
    members: tuple[str, ...] = ()
    cache: str | None = None

    @property
    def known_hash(self) -> str | None:
        """The checksum in pooch's notation (``sha256:...``, ``md5:...``), or ``None``."""
        if self.sha256:
            return f"sha256:{self.sha256}"
        if self.md5:
            return f"md5:{self.md5}"
        return None


@dataclass(frozen=True)
class DatasetRecord:
    """A data set the installer knows.

    Attributes
    ----------
    name:
        The name used on the command line and as the folder name under ROOT.
    description:
        One sentence.
    kind:
        ``"labels"`` (crowd answers only), ``"features"`` (answers + feature vectors),
        ``"images"`` (image files or image arrays).
    files:
        The files to download (see :class:`RemoteFile`).
    n_tasks, n_workers, n_classes, n_answers:
        The published sizes (``None`` when not applicable: no crowd, simulated annotators).
    licence, citation, reference, homepage:
        Terms of use, the paper(s) to cite, a short reference (``"Snow et al. 2008"``), and
        the page describing the data.
    prepare:
        ``prepare(inputs, out, record) -> dict``: converts the raw files into ``out`` (an
        empty temporary folder that becomes ROOT/NAME when it returns) and returns extra
        metadata.
    aliases:
        Other accepted names.
    notes:
        Anything else a user needs to know (sources, preprocessing).
    manual:
        Where else the files can be found by hand (added to the no-network error).
    """

    name: str
    description: str
    kind: str
    files: tuple[RemoteFile, ...]
    n_tasks: int | None
    n_workers: int | None
    n_classes: int
    n_answers: int | None
    licence: str
    citation: str
    reference: str
    homepage: str
    prepare: Prepare
    aliases: tuple[str, ...] = ()
    notes: str = ""
    manual: str = ""

    @property
    def urls(self) -> tuple[str, ...]:
        """Every download URL (each file's first URL first)."""
        return tuple(u for f in self.files for u in f.urls)

    @property
    def file_names(self) -> tuple[str, ...]:
        """The names of the downloaded files."""
        return tuple(f.fname for f in self.files)

    @property
    def sha256(self) -> tuple[str | None, ...]:
        """The SHA-256 of every file (``None`` where unknown)."""
        return tuple(f.sha256 for f in self.files)

    @property
    def size(self) -> int | None:
        """Total download size in bytes, ``None`` when a file's size is unknown."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s)

    @property
    def known_size(self) -> int:
        """Total size of the files whose size is known."""
        return sum(f.size or 0 for f in self.files)

    @property
    def checksums(self) -> str:
        """``"sha256"``, ``"md5"``, ``"partial"`` or ``"none"``: which files can be verified."""
        kinds = {"sha256" if f.sha256 else "md5" if f.md5 else "none" for f in self.files}
        if len(kinds) == 1:
            return kinds.pop()
        return "partial"

    def to_dict(self) -> dict[str, Any]:
        """The record as plain data (no ``prepare``), for JSON."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("prepare", "files")}
        out["aliases"] = list(self.aliases)
        out["files"] = [dataclasses.asdict(f) for f in self.files]
        for f in out["files"]:
            f["urls"] = list(f["urls"])
            f["members"] = list(f["members"])
        out["size"] = self.size
        return out
