"""Checking downloaded and ``--from`` files: their hashes (:func:`file_hashes`) against the
registry's SHA-256 / MD5 checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from .errors import ChecksumError
from .inputs import Log
from .registry import RemoteFile

_CHUNK = 1 << 20


# ---------------------------------------------------------------------------------- hashes
def file_hashes(path: Path) -> dict[str, str]:
    """SHA-256 and MD5 of a file, in one pass."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            sha.update(block)
            md5.update(block)
    return {"sha256": sha.hexdigest(), "md5": md5.hexdigest()}


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
