"""Temporary and backup entries of the atomic writers: naming them after their owner (host and
process), telling abandoned ones from live ones, and removing them (:func:`clean_stale`);
used and re-exported by :mod:`crowdlearn.io._atomic`."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import time
import zlib
from pathlib import Path

#: age after which a temporary whose owner cannot be probed counts as abandoned (seconds)
UNPROBED_AGE = 24 * 3600.0


#: age after which a temporary of an earlier version (no owner in its name) is removed
LEGACY_AGE = 3600.0


def _host_tag() -> str:
    return f"{zlib.crc32(socket.gethostname().encode('utf-8', 'replace')) & 0xFFFFFF:06x}"


def _owner_prefix(name: str) -> str:
    """Prefix of this process's temporaries for target ``name``."""
    return f".{name}.cl-{_host_tag()}-{os.getpid()}-"


_OWNED = re.compile(r"(?<=\.)cl-(?P<host>[0-9a-f]{6})-(?P<pid>[0-9]+)-[^.]*\.(?P<kind>tmp|old)$")
_LEGACY = re.compile(r"(?<=\.)[a-z0-9_]{8}\.(?P<kind>tmp|old)$")


def _pid_alive(pid: int) -> bool | None:
    """``True``/``False`` when the process can be probed, ``None`` when it cannot."""
    if os.name != "posix":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True


def _abandoned(entry: Path, start: int | None = None) -> str | None:
    """The kind (``tmp``/``old``) of an abandoned temporary, ``None`` when it may be in use.

    ``start``: where the temporary's own part of the name begins (after ``.TARGET.``, matched
    exactly); without it, any hidden name ending like a temporary.
    """
    name = entry.name
    if start is None:
        if not name.startswith("."):
            return None
        found = _OWNED.search(name) or _LEGACY.search(name)
        if found is None:
            return None
        start = found.start()
    try:
        age = time.time() - entry.lstat().st_mtime
    except FileNotFoundError:
        return None
    m = _OWNED.fullmatch(name, start)
    if m is not None:
        alive = None
        if m["host"] == _host_tag():
            pid = int(m["pid"])
            alive = True if pid == os.getpid() else _pid_alive(pid)
        if alive is False or (alive is None and age > UNPROBED_AGE):
            return m["kind"]
        return None
    m = _LEGACY.fullmatch(name, start)
    if m is not None and age > LEGACY_AGE:
        return m["kind"]
    return None


def clean_stale(path: str | os.PathLike[str]) -> list[str]:
    """Remove the temporaries that interrupted writes of ``path`` left beside it.

    A folder renamed aside by an interrupted swap is put back when ``path`` is missing (the
    swap stopped between its two renames); otherwise it is deleted. Temporaries of live
    processes are kept. Returns the names removed.
    """
    path = Path(path)
    parent = path.parent
    removed: list[str] = []
    prefix = f".{path.name}."
    try:
        entries = [e for e in parent.iterdir() if e.name.startswith(prefix)]
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return removed
    for entry in sorted(entries, key=lambda e: e.name.endswith(".tmp")):  # .old first
        kind = _abandoned(entry, len(prefix))
        if kind is None:
            continue
        previous = entry / "previous"
        # another process may be cleaning the same leftovers: whoever comes second finds
        # nothing to do
        with contextlib.suppress(OSError):
            if kind == "old" and not (path.exists() or path.is_symlink()) \
                    and (previous.exists() or previous.is_symlink()):
                os.replace(previous, path)
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
        removed.append(entry.name)
    return removed
