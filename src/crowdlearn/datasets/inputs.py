"""The input files of an installation: archives (safe listing and extraction), the resolved
inputs handed to a data set's ``prepare`` (:class:`Inputs`), and matching ``--from`` paths to a
record's files."""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import DataError
from .errors import DatasetError
from .registry import DatasetRecord, RemoteFile

Log = Callable[[str], None]


# ---------------------------------------------------------------------------------- archives
def _is_archive(path: Path) -> bool:
    name = path.name.lower()
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")):
        return True
    if name.endswith(".zip"):
        return True
    return False


def _skip_entry(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p.startswith("._") or p == "__MACOSX" for p in parts)


def _archive_files(path: Path) -> list[str]:
    """Regular-file entries of a tar or zip archive, shallowest first."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                names = [i.filename for i in z.infolist() if not i.is_dir()]
        else:
            with tarfile.open(path) as t:
                names = [m.name for m in t.getmembers() if m.isfile()]
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(f"not a readable archive ({exc})", source=str(path)) from exc
    names = [n for n in names if not _skip_entry(n)]
    return sorted(names, key=lambda n: (len(PurePosixPath(n).parts), n))


def _find_entry(entries: Sequence[str], basename: str) -> str | None:
    for e in entries:  # shallowest first
        if PurePosixPath(e).name == basename:
            return e
    return None


def _safe_target(dest: Path, name: str) -> Path:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts:
        raise DataError(f"unsafe path {name!r} in archive", source=str(dest))
    return dest.joinpath(*p.parts)


def _extract(archive: Path, dest: Path, entries: Sequence[str] | None = None) -> None:
    """Extract ``entries`` (all regular files when ``None``) of a tar or zip into ``dest``.

    Bounded (:mod:`crowdlearn.datasets._limits`): an archive that would expand too far or hold
    too many files is refused with a one-line :class:`DataError`.
    """
    from ._limits import ExtractionBudget

    dest.mkdir(parents=True, exist_ok=True)
    budget = ExtractionBudget(archive)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                infos = [i for i in z.infolist() if not i.is_dir()
                         and not _skip_entry(i.filename)
                         and (entries is None or i.filename in entries)]
                budget.check_declared(i.file_size for i in infos)
                for info in infos:
                    target = _safe_target(dest, info.filename)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with z.open(info) as src, open(target, "wb") as out:
                        budget.copy(src, out)
        else:
            with tarfile.open(archive) as t:
                members = [m for m in t.getmembers() if m.isfile() and not _skip_entry(m.name)
                           and (entries is None or m.name in entries)]
                budget.check_declared(m.size for m in members)
                for m in members:
                    _safe_target(dest, m.name)
                if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
                    t.extractall(dest, members=members, filter="data")
                else:  # pragma: no cover - paths checked above, regular files only
                    t.extractall(dest, members=members)  # noqa: S202
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(f"cannot extract the archive ({exc})", source=str(archive)) from exc


def _find_in_folder(folder: Path, basename: str) -> Path | None:
    hits = [p for p in folder.rglob(basename) if p.is_file() and not _skip_entry(
        p.relative_to(folder).as_posix())]
    if not hits:
        return None
    return min(hits, key=lambda p: (len(p.relative_to(folder).parts), str(p)))


# ---------------------------------------------------------------------------------- inputs
@dataclass
class Resolved:
    """Where one :class:`RemoteFile` of a record comes from.

    ``kind`` is ``"file"`` (the file itself, ``path``), ``"folder"`` (a folder holding its
    members) or ``"members"`` (some of its members given one by one, in ``members``).
    """

    kind: str
    path: Path | None = None
    origin: str = ""
    url: str | None = None
    members: dict[str, Path] = field(default_factory=dict)


class Inputs:
    """The raw files of a data set, as ``prepare`` functions see them.

    ``prepare`` asks for files by name: a file of the record (:meth:`path`), a member of one of
    its archives (:meth:`path` too), or a whole archive extracted (:meth:`tree`). Archives are
    extracted on demand into a scratch folder next to ROOT/NAME, so that :meth:`take` can move
    files into the data set cheaply.
    """

    def __init__(self, record: DatasetRecord, resolved: dict[str, Resolved], scratch: Path,
                 log: Log | None = None) -> None:
        self.record = record
        self.resolved = resolved
        self.scratch = scratch
        self.log: Log = log or (lambda _msg: None)
        self._trees: dict[str, Path] = {}
        self._members: dict[tuple[str, str], Path] = {}

    def _owner(self, name: str) -> RemoteFile:
        for rf in self.record.files:
            if rf.fname == name:
                return rf
        for rf in self.record.files:
            if name in rf.members:
                return rf
        if len(self.record.files) == 1:
            return self.record.files[0]
        raise DatasetError(f"{self.record.name}: no input file named {name!r}")

    def origin(self, name: str) -> str:
        """How to name input ``name`` in error messages."""
        rf = self._owner(name)
        r = self.resolved[rf.fname]
        if r.kind == "members" and name in r.members:
            return str(r.members[name])
        base = r.origin or rf.fname
        return base if name == rf.fname else f"{base}:{name}"

    def path(self, name: str) -> Path:
        """The local path of file ``name`` (a record file, or a member of an archive)."""
        found = self.find(name)
        if found is None:
            rf = self._owner(name)
            raise DataError(f"{name} not found in {self.resolved[rf.fname].origin or rf.fname}",
                            source=self.record.name)
        return found

    def find(self, name: str) -> Path | None:
        """Like :meth:`path`, ``None`` when the file is missing."""
        rf = self._owner(name)
        r = self.resolved[rf.fname]
        if r.kind == "members":
            return r.members.get(name)
        if r.kind == "folder":
            assert r.path is not None
            return _find_in_folder(r.path, name)
        assert r.path is not None
        if name == rf.fname:
            return r.path
        key = (rf.fname, name)
        if key in self._members:
            return self._members[key]
        if rf.fname in self._trees:
            return _find_in_folder(self._trees[rf.fname], name)
        out = self._member_path(rf, r.path, name)
        if out is not None:
            self._members[key] = out
        return out

    def _member_path(self, rf: RemoteFile, path: Path, name: str) -> Path | None:
        target = self.scratch / "members" / rf.fname
        if _is_archive(path) or zipfile.is_zipfile(path) or tarfile.is_tarfile(path):
            entry = _find_entry(_archive_files(path), name)
            if entry is None:
                return None
            self.log(f"extracting {name} from {path.name}")
            _extract(path, target, [entry])
            return _safe_target(target, entry)
        if path.name.endswith(".gz") and name == path.name[:-3]:
            target.mkdir(parents=True, exist_ok=True)
            out = target / name
            try:
                from ._limits import ExtractionBudget

                with gzip.open(path, "rb") as src, open(out, "wb") as dst:
                    ExtractionBudget(path).copy(src, dst)
            except (OSError, EOFError) as exc:
                raise DataError(f"cannot decompress ({exc})", source=str(path)) from exc
            return out
        return None

    def members(self, fname: str) -> dict[str, Path]:
        """Every declared member of archive ``fname``, extracted in one pass."""
        rf = self._owner(fname)
        r = self.resolved[rf.fname]
        found: dict[str, Path | None]
        if r.kind == "file" and rf.fname not in self._trees:
            assert r.path is not None
            entries = _archive_files(r.path)
            wanted = {m: _find_entry(entries, m) for m in rf.members}
            present = [e for e in wanted.values() if e is not None]
            dest = self.scratch / "members" / rf.fname
            if present:
                self.log(f"extracting {r.path.name}")
                _extract(r.path, dest, present)
            found = {m: None if e is None else _safe_target(dest, e) for m, e in wanted.items()}
            self._members.update({(rf.fname, m): p for m, p in found.items() if p is not None})
        else:
            found = {m: self.find(m) for m in rf.members}
        missing = [m for m, p in found.items() if p is None]
        if missing:
            raise DataError(f"{', '.join(missing)} not found", source=r.origin or rf.fname)
        return {m: p for m, p in found.items() if p is not None}

    def tree(self, fname: str) -> Path:
        """The whole content of archive ``fname`` (extracted once), or the folder given."""
        rf = self._owner(fname)
        r = self.resolved[rf.fname]
        if r.kind == "folder":
            assert r.path is not None
            return r.path
        if r.kind == "members":
            raise DatasetError(f"{self.record.name}: {rf.fname} is needed whole (give the "
                               "archive or the folder it extracts to, not single members)")
        if rf.fname not in self._trees:
            assert r.path is not None
            dest = self.scratch / "tree" / rf.fname
            self.log(f"extracting {r.path.name}")
            _extract(r.path, dest)
            self._trees[rf.fname] = dest
        return self._trees[rf.fname]

    def owned(self, path: Path) -> bool:
        """Whether ``path`` lies in the scratch folder (it may then be moved, not copied)."""
        try:
            path.resolve().relative_to(self.scratch.resolve())
        except ValueError:
            return False
        return True

    def take(self, src: Path, dest: Path) -> Path:
        """Move (scratch files) or copy (the user's files) ``src`` to ``dest``."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        if self.owned(src):
            os.replace(src, dest)
        else:
            shutil.copyfile(src, dest)
        return dest


# ---------------------------------------------------------------------------------- --from
def _match_sources(record: DatasetRecord, sources: Sequence[Path], scratch: Path,
                   log: Log) -> dict[str, Resolved]:
    resolved: dict[str, Resolved] = {}
    expected = ", ".join(record.file_names)

    def take_file(rf: RemoteFile, path: Path, origin: str) -> None:
        resolved[rf.fname] = Resolved("file", path=path, origin=origin)

    for src in sources:
        if not src.exists():
            raise DatasetError(f"--from {src}: no such file or folder")
        open_files = [rf for rf in record.files
                      if rf.fname not in resolved or resolved[rf.fname].kind != "file"]
        if src.is_dir():
            got = False
            for rf in open_files:
                hit = _find_in_folder(src, rf.fname)
                if hit is not None:
                    take_file(rf, hit, str(hit))
                    got = True
                elif rf.members and any(_find_in_folder(src, m) for m in rf.members):
                    resolved[rf.fname] = Resolved("folder", path=src, origin=str(src))
                    got = True
            if not got:
                raise DatasetError(f"--from {src}: the folder holds none of the files of "
                                   f"{record.name} (expected {expected})")
            continue
        rf_by_name = next((rf for rf in record.files if rf.fname == src.name), None)
        if rf_by_name is not None:
            take_file(rf_by_name, src, str(src))
            continue
        rf_member = next((rf for rf in record.files if src.name in rf.members), None)
        if rf_member is not None:
            r = resolved.get(rf_member.fname)
            if r is None or r.kind != "members":
                r = resolved[rf_member.fname] = Resolved("members", origin=str(src))
            r.members[src.name] = src
            continue
        if _is_archive(src) or zipfile.is_zipfile(src):
            entries = _archive_files(src)
            wanted = {rf.fname: _find_entry(entries, rf.fname) for rf in open_files}
            wanted = {k: v for k, v in wanted.items() if v is not None}
            if wanted:
                dest = scratch / "from" / src.name
                log(f"extracting {', '.join(wanted)} from {src.name}")
                _extract(src, dest, list(wanted.values()))
                for rf in open_files:
                    if rf.fname in wanted:
                        take_file(rf, _safe_target(dest, wanted[rf.fname]),
                                  f"{src}:{wanted[rf.fname]}")
                continue
        if len(record.files) == 1 and record.files[0].fname not in resolved:
            take_file(record.files[0], src, str(src))
            continue
        raise DatasetError(f"--from {src}: not one of the files of {record.name} (expected "
                           f"{expected}, an archive holding them, or a folder)")
    for rf, r in ((rf, resolved.get(rf.fname)) for rf in record.files):
        if r is not None and r.kind == "members":
            missing = [m for m in rf.members if m not in r.members]
            if missing:
                raise DatasetError(f"--from: {', '.join(missing)} missing (give {rf.fname}, "
                                   f"or all of {', '.join(rf.members)})")
    return resolved
