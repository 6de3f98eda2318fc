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

This module holds downloading, locking and the installation itself; the input files (archives,
:class:`Inputs`, ``--from`` matching) are in :mod:`crowdlearn.datasets.inputs`, checksums in
:mod:`crowdlearn.datasets.verify`, the ROOT and :func:`load` in :mod:`crowdlearn.datasets.local`,
the errors in :mod:`crowdlearn.datasets.errors` (all re-exported here).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import ChecksumError, DatasetError, DownloadError
from .inputs import Inputs, Log, Resolved, _extract, _match_sources  # noqa: F401 (_extract: tests)
from .local import ENV_ROOT, _root, default_root, installed_path, load  # noqa: F401 (ENV_ROOT)
from .registry import DatasetRecord, RemoteFile, get_record
from .verify import _verify, file_hashes  # noqa: F401 (file_hashes: re-exported)

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

#: a browser User-Agent: some hosts (fprodrigues.com) refuse other clients
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
#: attempts per URL before trying the next mirror
ATTEMPTS = 2
#: seconds to wait before the second attempt (tests set it to 0)
RETRY_WAIT_S = 2.0
#: connect and read time-outs of a download, seconds
TIMEOUT_S = (30, 120)
DOWNLOADS = ".downloads"


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
    new_root = not root_path.exists()
    root_path.mkdir(parents=True, exist_ok=True)
    downloaded: list[Path] = []
    try:
        with _lock(root_path, record.name):
            _clean_leftovers(root_path, record.name, say)
            if dest.exists() and not force:
                raise DatasetError(f"{record.name} is already installed at {dest} (use "
                                   "--force to reinstall)")
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
    finally:
        # no empty cache folder stays behind (a failed install keeps what it downloaded
        # completely, for the next try), nor a root this call created and left empty
        _remove_empty_caches(root_path, record)
        if new_root:
            with contextlib.suppress(OSError):
                root_path.rmdir()  # only when empty
    meta = json.loads((dest / "metadata.json").read_text(encoding="utf-8"))
    say(f"installed {record.name} to {dest} ({_describe(meta)})")
    _check_sizes(record, meta, say)
    return dest


def _remove_downloads(root: Path, files: Sequence[Path]) -> None:
    """Delete downloaded files (:func:`_remove_empty_caches` then removes their folders)."""
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _remove_empty_caches(root: Path, record: DatasetRecord) -> None:
    """Remove the record's download folders that are empty, then ``ROOT/.downloads`` if it is
    (other data sets' cached files are kept)."""
    for folder in [*sorted({_cache_dir(root, record, rf) for rf in record.files}),
                   root / DOWNLOADS]:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty (or missing)


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
