"""Atomic writes: a reader never sees a half-written file or folder.

* :func:`atomic_write` opens a temporary file next to the target and moves it over the target
  with :func:`os.replace` only when the ``with`` block ends without an exception.
* :func:`atomic_dir` yields a temporary sibling folder to fill; at the end it takes the place of
  the target (an existing target is renamed aside first and removed after the swap).
* :func:`replace_files_into` moves finished files from a temporary folder into an existing folder
  one by one, each move atomic, keeping the folder's other content (images of a peerannot data
  set, for example).

Temporary names start with a dot and live in the target's folder, so that the final rename never
crosses file systems. Permissions follow the process umask, as for an ordinary ``open``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_dir", "atomic_write", "replace_files_into"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling folder that becomes ``path`` when the block succeeds.

    Parameters
    ----------
    path:
        The final folder. Its parent is created when missing. An existing folder (or file) at
        ``path`` is replaced only at the very end: it is renamed aside, the new folder renamed
        into place, and the old one deleted. On an exception the temporary folder is deleted and
        ``path`` is untouched.

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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists() or path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old",
                                        dir=path.parent))
            aside = old / "previous"
            os.replace(path, aside)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(aside, path)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_files_into(
    built: str | os.PathLike[str], folder: str | os.PathLike[str],
    remove: Iterable[str | os.PathLike[str]] = (),
) -> None:
    """Move every file of the folder ``built`` into the existing ``folder``, one atomic move each.

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
