"""Download, verify and install registered data sets.

:func:`install` gets every file of a :class:`~crowdlearn.datasets.registry.DatasetRecord`
(downloading it with pooch, or taking it from ``source`` files the user downloaded by hand),
verifies its checksum, runs the record's ``prepare`` into a temporary folder and renames that
folder to ``ROOT/NAME`` only when everything succeeded (:func:`crowdlearn.io.atomic_dir`): an
interrupted or failed installation never leaves a half-written data set behind.

* Downloads go to ``ROOT/.downloads/<group>/`` through :func:`pooch.retrieve` (checksum,
  progress bar, a browser User-Agent, which some hosts require); a download that stops half-way
  leaves nothing under the final name and is simply started again. Each URL is tried
  :data:`ATTEMPTS` times; mirrors are tried in order.
* A connection failure is a one-line :class:`DownloadError` naming each missing file, its URL(s)
  and the ``--from`` command to use with a file downloaded by hand.
* ``source`` (``--from``): files, folders or archives. A file named like one of the record's
  files is that file; an archive (tar, zip) holding such files provides them; a folder is
  searched for them; for a single-file data set any other file is taken as that file (renamed
  download). Archives may also be replaced by their members or by a folder holding them
  (an archive extracted by hand); then only the members can be checked, and they have no
  checksums of their own.
* Verification: the SHA-256 when the registry knows it, else the publisher's MD5; a mismatch
  is a :class:`ChecksumError` naming both values. ``verify=False`` (``--no-verify``) accepts a
  different file deliberately. Without a known checksum the installer prints the SHA-256 of the
  file it used and says that it was not verified. ``metadata.json`` records, for every file,
  its SHA-256 and how it was verified.
* Installations of one data set are serialised with a lock file (POSIX), and leftovers of an
  interrupted installation are removed first.

The default ROOT is ``$CROWDLEARN_HOME`` when set, else ``~/.crowdlearn/datasets``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import CrowdlearnError, DataError
from .registry import DatasetRecord, RemoteFile, get_record

if TYPE_CHECKING:
    from ..answers import Answers

__all__ = [
    "ChecksumError",
    "DatasetError",
    "DownloadError",
    "Inputs",
    "default_root",
    "install",
    "installed_path",
    "load",
]

#: the environment variable naming the data set ROOT
ENV_ROOT = "CROWDLEARN_HOME"
#: a browser User-Agent: some hosts (fprodrigues.com) refuse other clients
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
#: attempts per URL before trying the next mirror
ATTEMPTS = 2
#: seconds to wait before the second attempt (tests set it to 0)
RETRY_WAIT_S = 2.0
#: connect and read time-outs of a download, seconds
TIMEOUT_S = (30, 120)
DOWNLOADS = ".downloads"
_CHUNK = 1 << 20

Log = Callable[[str], None]


class DatasetError(CrowdlearnError):
    """A data set cannot be installed or loaded (one-line message)."""


class DownloadError(DatasetError):
    """A file could not be downloaded; the message says how to use ``--from`` instead."""


class ChecksumError(DatasetError):
    """A file's checksum differs from the registry's; the message names both."""


# ---------------------------------------------------------------------------------- paths
def default_root() -> Path:
    """``$CROWDLEARN_HOME`` when set, else ``~/.crowdlearn/datasets``."""
    env = os.environ.get(ENV_ROOT)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".crowdlearn" / "datasets"


def _root(root: str | os.PathLike[str] | None) -> Path:
    path = default_root() if root is None else Path(root).expanduser()
    if path.exists() and not path.is_dir():
        raise DatasetError(f"{path}: the data set root exists and is not a folder")
    return path


def installed_path(name: str, root: str | os.PathLike[str] | None = None) -> Path | None:
    """``ROOT/NAME`` when data set ``name`` is installed there, else ``None``."""
    record = get_record(name)
    path = _root(root) / record.name
    return path if (path / "metadata.json").is_file() else None


# ---------------------------------------------------------------------------------- hashes
def file_hashes(path: Path) -> dict[str, str]:
    """SHA-256 and MD5 of a file, in one pass."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            sha.update(block)
            md5.update(block)
    return {"sha256": sha.hexdigest(), "md5": md5.hexdigest()}


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


# ---------------------------------------------------------------------------------- download
def _cache_dir(root: Path, record: DatasetRecord, rf: RemoteFile) -> Path:
    return root / DOWNLOADS / (rf.cache or record.name)


def _is_network_error(exc: BaseException) -> bool:
    """Connection failures, time-outs, HTTP errors (not local disk errors)."""
    import socket

    if isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror, socket.timeout)):
        return True
    with contextlib.suppress(ImportError):
        import requests

        if isinstance(exc, requests.exceptions.RequestException):
            return True
    with contextlib.suppress(ImportError):
        import urllib.error

        if isinstance(exc, urllib.error.URLError):
            return True
    return False


def _usable_urls(rf: RemoteFile, verify: bool) -> list[str]:
    """The URLs ``rf`` may be downloaded from: without a known checksum only TLS vouches for
    the content, so plain-HTTP ones are dropped unless ``verify`` is off (``--no-verify``)."""
    urls = list(rf.urls)
    if verify and rf.known_hash is None:
        urls = [u for u in urls if not u.lower().startswith("http://")]
        if not urls:
            raise DatasetError(
                f"{rf.fname} would be downloaded over plain HTTP ({rf.urls[0]}) and the "
                "registry has no checksum for it, so its content cannot be verified: download "
                f"it yourself and pass --from {rf.fname}, or pass --no-verify to accept it "
                "unverified")
    return urls


def _download(rf: RemoteFile, cache: Path, *, verify: bool, progress: bool, log: Log,
              ) -> tuple[Path, str]:
    """Fetch ``rf`` into ``cache`` (pooch); returns the path and the URL used."""
    import pooch

    from .._progress import show_progress

    known = rf.known_hash if verify else None
    urls = _usable_urls(rf, verify)
    progress = show_progress(progress)
    errors: list[str] = []
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # our own messages say what is downloaded
    try:
        return _download_urls(rf, urls, cache, known, errors, progress=progress, log=log)
    finally:
        logger.setLevel(level)


def _download_urls(rf: RemoteFile, urls: Sequence[str], cache: Path, known: str | None,
                   errors: list[str], *, progress: bool, log: Log) -> tuple[Path, str]:
    import pooch

    for url in urls:
        for attempt in range(ATTEMPTS):
            try:
                downloader = pooch.HTTPDownloader(
                    progressbar=progress, headers={"User-Agent": USER_AGENT},
                    timeout=TIMEOUT_S,
                )
                path = pooch.retrieve(url, known_hash=known, fname=rf.fname, path=cache,
                                      progressbar=progress, downloader=downloader)
                return Path(path), url
            except Exception as exc:  # noqa: BLE001 - errors of pooch, requests, sockets
                text = " ".join(str(exc).split())
                if isinstance(exc, ValueError) and "hash" in text.lower():
                    if attempt + 1 == ATTEMPTS:
                        raise ChecksumError(
                            f"{rf.fname} downloaded from {url} has the wrong checksum: {text} "
                            "(--no-verify accepts it deliberately)"
                        ) from exc
                    log(f"{rf.fname}: checksum mismatch, downloading again")
                    continue
                if not _is_network_error(exc):
                    raise
                errors.append(f"{url}: {type(exc).__name__}: {text}")
                if attempt + 1 < ATTEMPTS:
                    log(f"{rf.fname}: download failed ({type(exc).__name__}), retrying")
                    time.sleep(RETRY_WAIT_S)
    raise DownloadError("; ".join(errors[-1:]) or f"cannot download {rf.fname}")


# ---------------------------------------------------------------------------------- verify
#: how the messages name the registry's checksums (keys: RemoteFile and file_hashes fields)
_HASH_NAMES = {"sha256": "SHA-256", "md5": "MD5"}


def _check_hash(rf: RemoteFile, hashes: dict[str, str], origin: str, algorithm: str) -> None:
    """Raise :class:`ChecksumError` unless the file's ``algorithm`` hash is the registry's."""
    expected, got = getattr(rf, algorithm), hashes[algorithm]
    if got != expected:
        raise ChecksumError(
            f"{origin}: {_HASH_NAMES[algorithm]} mismatch for {rf.fname}: expected {expected}, "
            f"got {got} (a different or corrupted file; --no-verify accepts it deliberately)")


def _verify(rf: RemoteFile, path: Path, origin: str, *, verify: bool, log: Log,
            downloaded: bool) -> dict[str, Any]:
    hashes = file_hashes(path)
    info: dict[str, Any] = {"file": rf.fname, "sha256": hashes["sha256"],
                            "size": path.stat().st_size}
    if not verify:
        info["verified"] = "no (--no-verify)"
        expected = rf.sha256 or rf.md5
        got = hashes["sha256"] if rf.sha256 else hashes["md5"]
        if expected and expected != got:
            log(f"note: {rf.fname} differs from the registry's file (accepted with "
                f"--no-verify): sha256 {hashes['sha256']}")
        else:
            log(f"note: {rf.fname} not verified (--no-verify): sha256 {hashes['sha256']}")
        return info
    if rf.sha256:
        _check_hash(rf, hashes, origin, "sha256")
        info["verified"] = "sha256"
        log(f"{rf.fname}: SHA-256 verified")
        return info
    if rf.md5:
        _check_hash(rf, hashes, origin, "md5")
        info["verified"] = "md5 (publisher's checksum; no SHA-256 in the registry yet)"
        log(f"note: {rf.fname}: MD5 verified; the registry has no SHA-256 yet: sha256 "
            f"{hashes['sha256']}")
        return info
    info["verified"] = "no (the registry has no checksum for this file yet)"
    how = "downloaded" if downloaded else "given"
    log(f"note: the registry has no checksum for {rf.fname}: NOT verified; the {how} file "
        f"has sha256 {hashes['sha256']} ({info['size']} bytes)")
    return info


# ---------------------------------------------------------------------------------- locking
@contextlib.contextmanager
def _lock(root: Path, name: str) -> Iterator[None]:
    """Serialise installations of ``name``: an exclusive ``flock`` on ``ROOT/.NAME.lock``,
    a file that is removed again when the installation ends (a waiting process notices that
    the file it locked was removed and locks the new one)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    path = root / f".{name}.lock"
    while True:
        f = open(path, "a+")  # noqa: SIM115 - closed below
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            f.close()
            raise DatasetError(f"{name} is being installed by another process "
                               f"(lock {path})") from exc
        try:
            same = os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        f.close()  # removed by the process that held it: lock the new file
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        f.close()


def _clean_leftovers(root: Path, name: str, log: Log) -> None:
    """Remove temporary folders an interrupted installation of ``name`` left in ROOT."""
    for p in root.glob(f".{name}.*"):
        if p.is_dir() and p.name.endswith((".tmp", ".old", ".work")):
            log(f"removing leftovers of an interrupted installation: {p.name}")
            shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------------------------- install
def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _sources(source: Any) -> list[Path]:
    if source is None:
        return []
    if isinstance(source, (str, os.PathLike)):
        return [Path(source).expanduser()]
    return [Path(s).expanduser() for s in source]


def install(
    name: str,
    root: str | os.PathLike[str] | None = None,
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    force: bool = False,
    verify: bool = True,
    *,
    progress: bool = True,
    log: Log | None = _stderr,
    keep_downloads: bool = False,
) -> Path:
    """Download (or take from ``source``), verify and install data set ``name``.

    Parameters
    ----------
    name:
        A registered name (see :func:`crowdlearn.datasets.list_datasets`) or alias.
    root:
        The folder of installed data sets (default :func:`default_root`); the data set goes to
        ``root/<name>``.
    source:
        Files downloaded by hand (``--from``): one path or several; files, archives holding
        them, or folders. Files not found there are downloaded.
    force:
        Reinstall (the installed copy is replaced atomically, at the end). Without it an
        installed data set is left as it is and its path returned.
    verify:
        Check checksums; ``False`` accepts files that differ from the registry's, and files
        without a known checksum offered only over plain HTTP.
    progress:
        Show download progress bars (only when standard error is a terminal).
    log:
        Where notes go (default: standard error); ``None`` for silence.

    keep_downloads:
        Keep the downloaded files in ``ROOT/.downloads/`` (a later install of a data set
        sharing them, CIFAR-10 for ``cifar10`` and ``cifar10h``, then skips the download).
        By default they are deleted once the data set is installed.

    Returns
    -------
    Path
        ``root/<name>`` (also when it was already installed).

    Raises
    ------
    DownloadError
        No network (or a dead URL): the message names the files, URLs and the ``--from``
        command to use instead.
    ChecksumError
        A file differs from the registry's (both hashes in the message).
    DataError, DatasetError
        Bad content, unknown name, an unverifiable plain-HTTP download, an archive that
        expands too far.
    """
    record = get_record(name)
    say: Log = log or (lambda _m: None)
    root_path = _root(root)
    dest = root_path / record.name
    sources = _sources(source)
    if dest.is_dir() and not force and not sources:
        say(f"{record.name} is already installed at {dest} (--force reinstalls it)")
        return dest
    from ..io._atomic import check_writable

    check_writable(dest, option="--root" if root is not None else None)
    root_path.mkdir(parents=True, exist_ok=True)
    downloaded: list[Path] = []
    with _lock(root_path, record.name):
        _clean_leftovers(root_path, record.name, say)
        if dest.exists() and not force:
            raise DatasetError(f"{record.name} is already installed at {dest} (use --force "
                               "to reinstall)")
        scratch = Path(tempfile.mkdtemp(prefix=f".{record.name}.", suffix=".work",
                                        dir=root_path))
        try:
            resolved = _match_sources(record, sources, scratch, say)
            provenance = _gather(record, resolved, root_path, verify=verify,
                                 progress=progress, log=say, downloaded=downloaded)
            inputs = Inputs(record, resolved, scratch, say)
            with _atomic_dir(dest) as tmp:
                extra = record.prepare(inputs, tmp, record) or {}
                _finish_metadata(tmp, record, provenance, extra)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if not keep_downloads:
            _remove_downloads(root_path, downloaded)
    meta = json.loads((dest / "metadata.json").read_text(encoding="utf-8"))
    say(f"installed {record.name} to {dest} ({_describe(meta)})")
    _check_sizes(record, meta, say)
    return dest


def _remove_downloads(root: Path, files: Sequence[Path]) -> None:
    """Delete downloaded files, then the cache folders they leave empty."""
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        folder = path.parent
        while folder != root and folder.is_relative_to(root / DOWNLOADS):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break
            folder = folder.parent


def _atomic_dir(dest: Path) -> contextlib.AbstractContextManager[Path]:
    """:func:`crowdlearn.io.atomic_dir` (imported late: it pulls in the readers)."""
    from ..io._atomic import atomic_dir

    return atomic_dir(dest)


def _gather(record: DatasetRecord, resolved: dict[str, Resolved], root: Path, *,
            verify: bool, progress: bool, log: Log,
            downloaded: list[Path] | None = None) -> list[dict[str, Any]]:
    """Verify the given files, download the others; one provenance entry per file."""
    provenance: list[dict[str, Any]] = []
    failures: list[tuple[RemoteFile, str]] = []
    for rf in record.files:  # refuse unverifiable downloads before downloading anything
        if rf.fname not in resolved:
            _usable_urls(rf, verify)
    for rf in record.files:
        r = resolved.get(rf.fname)
        if r is None and failures:  # offline: do not wait for every other file to fail
            failures.append((rf, failures[0][1]))
        elif r is None:
            cache = _cache_dir(root, record, rf)
            if (cache / rf.fname).is_file():
                log(f"using {rf.fname} from the download cache {cache}")
            else:
                log(f"downloading {rf.fname}" + (f" ({_human(rf.size)})" if rf.size else ""))
            try:
                path, url = _download(rf, cache, verify=verify, progress=progress, log=log)
            except DownloadError as exc:
                failures.append((rf, str(exc)))
                continue
            resolved[rf.fname] = Resolved("file", path=path, origin=str(path), url=url)
            if downloaded is not None:
                downloaded.append(path)
            info = _verify(rf, path, str(path), verify=verify, log=log, downloaded=True)
            info["url"] = url
            provenance.append(info)
        elif r.kind == "file":
            assert r.path is not None
            info = _verify(rf, r.path, r.origin, verify=verify, log=log, downloaded=False)
            info["from"] = r.origin
            provenance.append(info)
        else:
            given = [str(p) for p in r.members.values()] if r.kind == "members" else [r.origin]
            log(f"note: {rf.fname} given as its extracted content ({', '.join(given)}): "
                "its checksum cannot be verified")
            provenance.append({"file": rf.fname, "from": given, "sha256": None,
                               "verified": "no (extracted content given instead of the file)"})
    if failures:
        raise DownloadError(_download_help(record, failures))
    return provenance


def _download_help(record: DatasetRecord, failures: list[tuple[RemoteFile, str]]) -> str:
    reason = failures[0][1]
    files = "; ".join(f"{rf.fname} from {' or '.join(rf.urls)}" for rf, _ in failures)
    names = [rf.fname for rf, _ in failures]
    target = names[0] if len(names) == 1 else "FOLDER"
    plural = "s" if len(names) > 1 else ""
    extra = f" {record.manual}" if record.manual else ""
    return (f"cannot download {', '.join(names)} ({reason}); no network? Download by hand: "
            f"{files}; then run: crowdlearn datasets install {record.name} --from {target} "
            f"(expected file name{plural}: {', '.join(names)}; --from also takes an archive or "
            f"a folder holding them, and can be repeated).{extra}")


def _finish_metadata(folder: Path, record: DatasetRecord, provenance: list[dict[str, Any]],
                     extra: dict[str, Any]) -> None:
    from .. import __version__
    from ..io._atomic import atomic_write

    path = folder / "metadata.json"
    meta: dict[str, Any] = {}
    if path.is_file():
        meta = json.loads(path.read_text(encoding="utf-8"))
    meta.setdefault("name", record.name)
    meta.update(extra)
    meta.setdefault("n_classes", record.n_classes)
    meta.update({
        "kind": meta.get("kind", record.kind),
        "description": record.description,
        "licence": record.licence,
        "citation": record.citation,
        "homepage": record.homepage,
        "notes": record.notes,
        "source": provenance,
        "installed_by": f"crowdlearn {__version__}",
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    with atomic_write(path) as f:
        json.dump(meta, f, ensure_ascii=False, indent=3)
        f.write("\n")


def _describe(meta: dict[str, Any]) -> str:
    parts = []
    for key, what in (("n_tasks", "tasks"), ("nb_workers", "workers"),
                      ("n_classes", "classes"), ("n_answers", "answers")):
        if meta.get(key) is not None:
            parts.append(f"{meta[key]:,} {what}")
    if meta.get("n_test"):
        parts.append(f"{meta['n_test']:,} test items")
    return ", ".join(parts)


def _check_sizes(record: DatasetRecord, meta: dict[str, Any], log: Log) -> None:
    got = {"tasks": meta.get("n_tasks"), "workers": meta.get("nb_workers"),
           "answers": meta.get("n_answers", None)}
    want = {"tasks": record.n_tasks, "workers": record.n_workers, "answers": record.n_answers}
    diff = [f"{k} {got[k]:,} (published: {want[k]:,})" for k in want
            if want[k] is not None and got[k] is not None and got[k] != want[k]]
    if diff:
        log(f"note: {record.name} differs from the published sizes: {', '.join(diff)}")


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


# ---------------------------------------------------------------------------------- load
def load(name: str, root: str | os.PathLike[str] | None = None,
         ) -> tuple[Answers | None, dict[str, Any]]:
    """Read installed data set ``name``: its answers and everything else it has.

    Returns
    -------
    answers : Answers or None
        The crowd answers with their truth (``None`` for image sets without answers:
        ``cifar10``, ``mnist``).
    extras : dict
        ``path`` (ROOT/NAME), ``metadata`` (metadata.json), and when present ``features``,
        ``features_test``, ``test_labels`` (numpy arrays), ``raw`` (the folder of raw image
        files), ``train``/``val``/``test`` (image folders), ``tasks``/``workers`` (upstream ids,
        lists in index order).

    Raises
    ------
    DatasetError
        Not installed under ``root`` (the message gives the install command).
    """
    import numpy as np

    record = get_record(name)
    root_path = _root(root)
    folder = root_path / record.name
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        where = "" if root is None else f" --root {root}"
        raise DatasetError(f"{record.name} is not installed in {root_path} (run: crowdlearn "
                           f"datasets install {record.name}{where})")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    extras: dict[str, Any] = {"path": folder, "metadata": meta}
    for key in ("features", "features_test", "test_labels"):
        p = folder / f"{key}.npy"
        if p.is_file():
            extras[key] = np.load(p, allow_pickle=False)
    for key in ("raw", "train", "val", "test"):
        if (folder / key).is_dir():
            extras[key] = folder / key
    for key in ("tasks", "workers", "test_ids"):
        p = folder / f"{key}.csv"
        if p.is_file():
            extras[key] = _read_ids(p)
    answers = None
    if (folder / "answers.json").is_file():
        from ..io import read_peerannot

        answers = read_peerannot(folder)
    return answers, extras


def _read_ids(path: Path) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return [r[1] for r in rows[1:]]
