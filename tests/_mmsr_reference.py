"""Reference copy of M-MSR's trimmed-mean half-step as it was before the speed-up of issue 11.

Kept verbatim (renamed) so that tests can check the faster :class:`_TrimmedMeans` against it.
"""

from __future__ import annotations

import numpy as np


class ReferenceTrimmedMeans:
    """One M-MSR half-step: per worker, the trimmed mean of ``|C_ij| / d_j`` around its value.

    crowd-kit's rule, vectorised over workers: with the row's ratios sorted and ``a`` the
    worker's current value, drop the ``F`` smallest if at least ``F`` lie below ``a`` (else
    all those below), then likewise the ``F`` largest above ``a``; a single remaining 0
    becomes ``floor``; a row with nothing left keeps ``a``. ``F = -1`` (crowd-kit's
    ``y[-1:]``) keeps the largest ratio.

    The entries (CSR order of the observed pairs) are kept sorted within rows between calls:
    the sort key is ``row + r / (2 (1 + r))`` and numpy's stable sort (timsort) is linear on
    the nearly sorted keys of successive iterations; an already sorted key skips the sort.
    """

    def __init__(self, rows: np.ndarray, indptr: np.ndarray, cols: np.ndarray,
                 x_abs: np.ndarray, f_trim: int, floor: float) -> None:
        self.rows = rows
        self.row_key = rows.astype(np.float64)
        self.indptr = indptr
        self.counts = np.diff(indptr)
        self.nonempty = np.flatnonzero(self.counts > 0)
        self.starts = indptr[self.nonempty]  # reduceat offsets of the rows with entries
        self.cols = cols.copy()
        self.x = x_abs.copy()
        self.f_trim, self.floor = f_trim, floor

    def _row_counts(self, mask: np.ndarray) -> np.ndarray:
        """Number of true entries of ``mask`` per row (integer sums over each row's block)."""
        out = np.zeros(len(self.counts), dtype=np.int64)
        out[self.nonempty] = np.add.reduceat(mask.view(np.int8), self.starts, dtype=np.int64)
        return out

    def __call__(self, own: np.ndarray, divisor: np.ndarray) -> np.ndarray:
        n, f_trim = len(own), self.f_trim
        out = own.copy()
        if len(self.rows) == 0:
            return out
        # one spare slot at the end: the block sums below may end at len(y)
        y_pad = np.empty(len(self.x) + 1)
        y_pad[-1] = 0.0
        y = y_pad[:-1]
        np.divide(self.x, divisor[self.cols], out=y)
        # a ratio over a zero estimate is undefined (crowd-kit propagates the NaN to every
        # estimate): it is left out, as if the pair were unobserved in this half-step
        finite = np.isfinite(y)
        all_finite = bool(finite.all())
        if f_trim < 0:
            top = np.maximum.reduceat(np.where(finite, y, -np.inf), self.starts)
            ok = np.isfinite(top)
            out[self.nonempty[ok]] = np.where(top[ok] == 0, self.floor, top[ok])
            return out
        key = y + 1.0
        np.divide(y, key, out=key)
        key *= 0.5
        if not all_finite:
            key[~finite] = 0.5  # after the row's finite values
        key += self.row_key
        if not bool(np.all(key[1:] >= key[:-1])):
            order = np.argsort(key, kind="stable")
            y_pad[:-1] = y[order]
            finite = finite[order]
            self.x, self.cols = self.x[order], self.cols[order]
        # rows are contiguous blocks: counts are integer block sums, and the trimmed mean is
        # the sum over one block of positions [lower, upper) of the row
        a = np.repeat(own, self.counts)
        lower = np.minimum(self._row_counts(y < a), f_trim)
        if all_finite:
            upper = self.counts - np.minimum(self._row_counts(y > a), f_trim)
        else:
            upper = (self._row_counts(finite)
                     - np.minimum(self._row_counts((y > a) & finite), f_trim))
        kept = np.maximum(upper - lower, 0)
        has = kept > 0
        lo = self.indptr[:-1] + lower
        total = np.zeros(n)
        if has.any():
            bounds = np.stack([lo[has], lo[has] + kept[has]], axis=1).reshape(-1)
            total[has] = np.add.reduceat(y_pad, bounds)[::2]
        mean = np.divide(total, kept, out=np.zeros(n), where=has)
        mean = np.where((kept == 1) & (total == 0), self.floor, mean)
        out[has] = mean[has]
        return out
