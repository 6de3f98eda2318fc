"""Bounds on archive extraction: an archive bomb is refused before it fills the disk.

An archive may expand to at most ``max(MIN_BUDGET, MAX_RATIO x its size)`` bytes (never more
than :data:`MAX_BYTES`) and hold at most :data:`MAX_FILES` files. The sizes an archive declares
are checked before anything is written (a zip member never yields more than its declared size,
a tar member is exactly its header's size), and the bytes actually written are counted as well.
The real data sets stay far inside: CIFAR-10 expands 1.1 times, the label archives about 5-10
times. A refused archive can still be extracted by hand and given to ``--from`` as a folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO

from ..errors import DataError

__all__ = ["MAX_BYTES", "MAX_FILES", "MAX_RATIO", "MIN_BUDGET", "ExtractionBudget"]

#: largest expansion allowed, relative to the archive's size
MAX_RATIO = 200
#: any archive may expand to this many bytes, whatever its ratio
MIN_BUDGET = 64 << 20
#: no archive may expand to more bytes than this
MAX_BYTES = 256 << 30
#: most files one archive may hold
MAX_FILES = 2_000_000

_CHUNK = 1 << 20


def _human(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"  # pragma: no cover - unreachable


class ExtractionBudget:
    """How much one archive may still write; raises a one-line :class:`DataError` beyond it."""

    def __init__(self, archive: Path) -> None:
        self.archive = Path(archive)
        self.size = self.archive.stat().st_size
        self.limit = min(MAX_BYTES, max(MIN_BUDGET, MAX_RATIO * self.size))
        self.written = 0

    def _refuse(self, what: str) -> DataError:
        return DataError(
            f"refused to extract: {what} (limits: {_human(self.limit)} in all, i.e. "
            f"{MAX_RATIO}x the archive's {_human(self.size)} or at least "
            f"{_human(MIN_BUDGET)}, and {MAX_FILES:,} files); extract it by hand if you trust "
            "it and give the folder to --from", source=str(self.archive))

    def check_declared(self, sizes: Iterable[int]) -> None:
        """Refuse before writing when the declared member sizes exceed the limits."""
        sizes = list(sizes)
        if len(sizes) > MAX_FILES:
            raise self._refuse(f"it holds {len(sizes):,} files")
        total = sum(max(0, int(s)) for s in sizes)
        if total > self.limit:
            raise self._refuse(f"it expands to {_human(total)}")

    def copy(self, src: IO[bytes], dst: IO[bytes]) -> None:
        """Copy ``src`` to ``dst``, counting the bytes against the budget."""
        while True:
            block = src.read(_CHUNK)
            if not block:
                return
            self.written += len(block)
            if self.written > self.limit:
                raise self._refuse(f"it expands to more than {_human(self.limit)}")
            dst.write(block)

