"""Atomic writes: a reader never sees a half-written file or a folder mixing two runs.

* :func:`atomic_write` opens a temporary file next to the target and moves it over the target
  with :func:`os.replace` only when the ``with`` block ends without an exception.
* :func:`atomic_dir` yields an empty temporary sibling folder to fill; at the end it takes the
  place of the target folder as a whole (an existing target is renamed aside first and removed
  after the swap, so no moment shows a folder with files of two runs).
* :func:`atomic_update` adds or replaces a *group* of files in a folder that may hold other
  files (results of other strategies, for example): the group is written into an empty staging
  folder; at the end the staging folder receives hard links to every other entry of the
  existing folder (a copy where hard links are not supported) and is swapped into place as
  with :func:`atomic_dir`. Readers see the old folder or the new one, never half of the group;
  files outside the group are kept unless listed in ``remove``. Two writers of the same folder
  are serialised by an advisory lock on its parent, so neither loses the other's files.
* :func:`replace_files_into` moves finished files into an existing folder one by one (each move
  atomic), for folders that are too big to re-link (a data set's images).
* :func:`check_writable` tells, before any work, whether an output can be written there, with
  an error naming the user's path.

Temporary names start with a dot, live in the target's folder (the final rename never crosses
file systems) and record their owner: ``.NAME.cl-HOST-PID-XXXX.tmp`` (``.old`` for a folder
renamed aside). Every write first removes the leftovers of interrupted writes of the same
target whose process is gone (on another host, or where processes cannot be probed: after a
day); a target that an interrupted swap left missing is restored from its renamed-aside copy.
Temporaries of earlier versions (no owner recorded) are removed after an hour.

A folder that must stay where it is (it holds the current folder, so that a shell there would be
left in a deleted folder, or it is a mount point) or whose parent cannot be written is staged
inside itself instead and its entries are moved in one by one: each file is still atomic, the
group no longer is.

Permissions follow the process umask, as for an ordinary ``open`` or ``mkdir``; an updated
folder keeps its own mode.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import CrowdlearnError
from ._stale import _abandoned, _owner_prefix, clean_stale

__all__ = ["OutputError", "atomic_dir", "atomic_update", "atomic_write", "check_writable",
           "clean_stale", "replace_files_into"]


class OutputError(CrowdlearnError, OSError):
    """An output cannot be written: the message names the user's path and the reason."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _user_error(exc: OSError, target: Path, tmp: Path | None = None) -> OutputError:
    """``exc`` re-worded to name the user's ``target`` instead of a temporary path."""
    name = str(exc.filename) if exc.filename else ""
    shown = str(target)
    if tmp is not None and name.startswith(str(tmp)):
        shown = str(target / os.path.relpath(name, tmp)) if name != str(tmp) else str(target)
    reason = exc.strerror or str(exc)
    return OutputError(f"{shown}: cannot write: {reason}")


# ---------------------------------------------------------------------- checking ahead
def check_writable(path: str | os.PathLike[str], *, folder: bool | None = True,
                   option: str | None = None) -> Path:
    """Raise :class:`OutputError` unless an output can be written at ``path``.

    Nothing is left behind. ``path`` (a folder when ``folder`` is true, a file when it is
    false, either when ``None``) must not be the wrong kind of entry; an existing folder must
    let this process create entries in it, otherwise the nearest existing ancestor must
    (probed with a real temporary entry, removed at once: permission bits alone do not show
    read-only file systems, and a process running as root ignores them). ``option``
    (``"-o"``) is added to the message.
    """
    path = Path(path)
    label = f"{option} {path}" if option else str(path)
    if path.exists():
        if folder and not path.is_dir():
            raise OutputError(f"{label}: exists and is not a folder")
        if folder is False and path.is_dir():
            raise OutputError(f"{label}: is a folder, expected a file name")
    probe_in = path if path.is_dir() else path.parent
    while not probe_in.exists():
        if probe_in.parent == probe_in:
            break
        probe_in = probe_in.parent
    if probe_in.exists() and not probe_in.is_dir():
        raise OutputError(f"{label}: {probe_in} is not a folder")
    try:
        made = tempfile.mkdtemp(prefix=_owner_prefix(path.name), suffix=".tmp", dir=probe_in)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.EACCES, errno.EPERM):
            reason = "permission denied"
        raise OutputError(f"{label}: cannot write in {probe_in}: {reason}") from exc
    os.rmdir(made)
    return path


# ---------------------------------------------------------------------- files
@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    encoding: str | None = None,
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the block succeeds.

    Parameters
    ----------
    path:
        The final file. Its folder must exist.
    mode:
        ``"w"`` (text, UTF-8 unless ``encoding`` says otherwise) or ``"wb"`` (binary).
    encoding, newline:
        As for :func:`open` (text mode only).

    Yields
    ------
    file object
        Write to it; on an exception the temporary file is removed and ``path`` is untouched.
        The file gets the mode an ordinary ``open`` would give (``0o666 & ~umask``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_write(target) as f:
    ...     _ = f.write("hello")
    >>> target.read_text()
    'hello'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    clean_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=_owner_prefix(path.name), suffix=".tmp", dir=path.parent)
    try:
        if "b" in mode:
            f: IO[Any] = os.fdopen(fd, mode)
        else:
            f = os.fdopen(fd, mode, encoding=encoding or "utf-8", newline=newline)
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------- folders
@contextlib.contextmanager
def _parent_lock(parent: Path) -> Iterator[None]:
    """An advisory lock on the folder ``parent`` (none where ``flock`` is unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:
        fd = os.open(parent, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _resolve_target(path: str | os.PathLike[str]) -> Path:
    path = Path(os.path.abspath(path))  # "-o ." names the current folder, not ""
    if path.is_symlink() and path.is_dir():  # write into the folder the link points to
        path = path.resolve()
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder")
    return path


def _must_stay(target: Path) -> bool:
    """Whether the folder ``target`` must be updated in place rather than swapped: it holds
    the current folder (a shell there would be left in a deleted folder) or is a mount
    point (it cannot be renamed)."""
    if not target.is_dir():
        return False
    here = Path.cwd().resolve()
    real = target.resolve()
    return real == here or real in here.parents or os.path.ismount(real)


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``; an existing ``path`` is renamed aside and deleted after."""
    if not (path.exists() or path.is_symlink()):
        os.replace(tmp, path)
        return
    old = Path(tempfile.mkdtemp(prefix=_owner_prefix(path.name), suffix=".old", dir=path.parent))
    aside = old / "previous"
    os.replace(path, aside)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(aside, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _remove_entry(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()


def _move_in(tmp: Path, target: Path) -> None:
    """Move every entry of ``tmp`` into ``target`` (each move atomic), replacing namesakes."""
    for item in sorted(tmp.iterdir()):
        dest = target / item.name
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        os.replace(item, dest)


#: a commit: (staging folder, target, staged inside the target) -> None
Commit = Callable[[Path, Path, bool], None]


@contextlib.contextmanager
def _staged(path: str | os.PathLike[str], commit: Commit) -> Iterator[Path]:
    """Stage in a temporary sibling of ``path`` and ``commit`` it; where the folder must stay
    (:func:`_must_stay`) or its parent cannot be written, stage inside the folder instead."""
    target = _resolve_target(path)
    shown = Path(path)  # messages name the path as the user gave it
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(target)
        inside = _must_stay(target)
        tmp: Path | None = None
        if not inside:
            try:
                tmp = Path(tempfile.mkdtemp(prefix=_owner_prefix(target.name), suffix=".tmp",
                                            dir=target.parent))
            except PermissionError:
                if not target.is_dir():
                    raise
                inside = True  # a writable folder in a read-only parent
        if tmp is None:
            tmp = Path(tempfile.mkdtemp(prefix=_owner_prefix(target.name), suffix=".tmp",
                                        dir=target))
    except OSError as exc:
        raise _user_error(exc, shown) from exc
    try:
        try:
            yield tmp
            with _parent_lock(target if inside else target.parent):
                commit(tmp, target, inside)
        except OSError as exc:
            name = str(exc.filename or "")
            if isinstance(exc, CrowdlearnError) or (name and not (
                    name.startswith(str(tmp)) or name.startswith(str(target)))):
                raise
            raise _user_error(exc, shown, tmp) from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_dir(path: str | os.PathLike[str]) -> contextlib.AbstractContextManager[Path]:
    """Yield an empty temporary sibling folder that replaces the folder ``path`` as a whole.

    Parameters
    ----------
    path:
        The final folder. Its parent is created when missing. An existing folder at ``path`` is
        replaced only at the very end: it is renamed aside, the new folder renamed into place,
        and the old one deleted. On an exception the temporary folder is deleted and ``path``
        is untouched. Errors of the file system name ``path`` (:class:`OutputError`), never the
        temporary folder.

    Yields
    ------
    Path
        The temporary folder to fill.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "dataset"
    >>> with atomic_dir(target) as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> sorted(p.name for p in target.iterdir())
    ['a.txt']
    """
    def commit(tmp: Path, target: Path, inside: bool) -> None:
        if inside:  # the folder stays: its old entries go, the new ones are moved in
            for entry in list(target.iterdir()):
                if entry != tmp:
                    _remove_entry(entry)
            _move_in(tmp, target)
            return
        os.chmod(tmp, 0o777 & ~_umask())
        _swap_into_place(tmp, target)

    return _staged(path, commit)


def _link_tree(src: Path, dst: Path) -> None:
    """Recreate ``src`` under ``dst`` with hard links (copies where links are refused)."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        dst.mkdir()
        shutil.copystat(src, dst)
        for child in src.iterdir():
            _link_tree(child, dst / child.name)
    else:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


def atomic_update(
    path: str | os.PathLike[str],
    remove: Iterable[str] | Callable[[str], bool] = (),
) -> contextlib.AbstractContextManager[Path]:
    """Yield an empty staging folder whose files are added to the folder ``path`` as one group.

    At the end of the block, under a lock on ``path``'s parent, the staging folder receives a
    hard link to every entry of the existing ``path`` that it does not hold itself and that
    ``remove`` does not name, then replaces ``path`` as :func:`atomic_dir` does. Files of the
    group replace the existing ones of the same name, other files stay, and a failure or a kill
    at any moment leaves either the old folder or the new one.

    Parameters
    ----------
    path:
        The folder to update (created when missing).
    remove:
        Names of existing entries to drop (stale files of an earlier write of the same group),
        or a predicate on the names. Hidden temporaries of interrupted writes are never kept.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> with atomic_update(target) as tmp:
    ...     _ = (tmp / "ds.npy").write_text("1")
    >>> with atomic_update(target) as tmp:
    ...     _ = (tmp / "mv.npy").write_text("2")
    >>> sorted(p.name for p in target.iterdir())
    ['ds.npy', 'mv.npy']
    """
    drop = remove if callable(remove) else frozenset(remove).__contains__

    def commit(tmp: Path, target: Path, inside: bool) -> None:
        if inside:  # the folder stays: the group is moved in file by file
            _move_in(tmp, target)
            for entry in list(target.iterdir()):
                if entry != tmp and (drop(entry.name) or _abandoned(entry) is not None):
                    _remove_entry(entry)
            return
        if target.is_dir():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
            for entry in target.iterdir():
                name = entry.name
                if (tmp / name).exists() or (tmp / name).is_symlink() or drop(name) \
                        or _abandoned(entry) is not None:
                    continue
                _link_tree(entry, tmp / name)
        else:
            os.chmod(tmp, 0o777 & ~_umask())
        _swap_into_place(tmp, target)

    return _staged(path, commit)


def replace_files_into(
    built: str | os.PathLike[str], folder: str | os.PathLike[str],
    remove: Iterable[str | os.PathLike[str]] = (),
) -> None:
    """Move every file of the folder ``built`` into the existing ``folder``, one atomic move each.

    Each file is atomic, the group is not: use :func:`atomic_update` when readers must never
    see half of the group and re-linking the folder's other entries is affordable.

    Parameters
    ----------
    built:
        A folder of finished files (no sub-folders), on the same file system as ``folder``.
    folder:
        The destination; files of the same name are replaced, other content is kept.
    remove:
        Files of ``folder`` to delete after the moves (stale files of an earlier write).
    """
    built, folder = Path(built), Path(folder)
    mode = 0o666 & ~_umask()
    for item in sorted(built.iterdir()):
        if not item.is_file():
            raise ValueError(f"{item}: only plain files can be moved into a folder")
        os.chmod(item, mode)
        os.replace(item, folder / item.name)
    for name in remove:
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
