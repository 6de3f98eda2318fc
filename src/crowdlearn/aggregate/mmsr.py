"""M-MSR: worker skills by robust rank-one completion of the worker agreement matrix.

See :class:`MMSR`. Everything is sparse: the workers x workers agreement statistics come from
products of (workers x tasks) one-hot CSR matrices, so the cost grows with the number of
worker pairs that share a task, never with workers x tasks.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ..answers import Answers
from ..errors import ConvergenceWarning
from ..params import N_ITER, TOL, Param, Seed
from ._em import tick
from .base import Aggregator, _as_answers, argmax_random_ties, register
from .glad import log_normalize_columns

__all__ = ["MMSR"]


@register("mmsr", "m-msr")
class MMSR(Aggregator):
    r"""Matrix Mean-Subsequence-Reduced (M-MSR) skills, then a skill-weighted vote.

    Model
    -----
    Each worker ``i`` answers correctly with probability :math:`p_i` and otherwise uniformly
    among the other ``K - 1`` classes (the one-coin model). With :math:`s_i = (K p_i - 1) /
    (K - 1)` and :math:`\tilde C_{ij}` the fraction of their common tasks on which workers
    ``i`` and ``j`` agree,

    .. math:: \mathbb{E}\left[\tfrac{K}{K-1}\tilde C_{ij} - \tfrac{1}{K-1}\right]
              = s_i s_j \quad (i \ne j),

    so :math:`s` is recovered by rank-one completion of the observed entries. M-MSR does it
    robustly (against adversarial workers): alternately, every entry of :math:`u` (and of
    :math:`v`) becomes the mean of the ratios :math:`|C_{ij}| / v_j` over the worker's
    observed pairs after discarding up to ``F`` values on each side of its current value,
    ``F = floor(min_i deg(i) / 2) - 1`` with ``deg(i)`` the number of workers sharing a task
    with ``i`` (as crowd-kit computes it: ``F = -1`` keeps only the largest ratio, ``F = 0`` is
    the plain mean). Iterations stop when :math:`\lVert u v^T - u' v'^T\rVert_F < ` ``tol``.
    The magnitudes :math:`|s_i| = u_i / \sqrt{\lVert u\rVert / \lVert v\rVert}`; worker ``i``
    is adversarial (negative) when :math:`\sum_j C_{ij} |s_j| < 0` over the workers it shares
    tasks with (that sum is about :math:`s_i \sum_j s_j |s_j|`); a worker who shares no task
    with anyone gets :math:`s_i = 0`. Skills are clipped to
    :math:`[-1/(K-1) + 1/\sqrt{n}, 1 - 1/\sqrt{n}]` (``n`` tasks with answers) and turned
    into vote weights :math:`w_i = \log \frac{(K-1) p_i}{1 - p_i}`.

    The labels are the weighted vote and ``probas_`` its softmax,
    :math:`P(c) \propto \exp(\sum_{i \text{ answered } c} w_i)`, which is the exact posterior
    of the one-coin model with these skills and uniform class priors.

    Relation to crowd-kit 1.4.2
        The statistics, ``F``, the trimming rule, the random start of ``u`` and ``v``, the
        stopping rule, the clipping and the weights are crowd-kit's (workers in sorted order;
        crowd-kit orders them by first appearance, which only changes the random start): the
        magnitudes :math:`|s_i|` agree with crowd-kit's to rounding. Deliberate differences:

        * **Memory.** crowd-kit fills a dense workers x tasks matrix row by row (and a dense
          matrix over workers plus positive pairs for the signs) and runs out of memory on
          large data; here the pair statistics are sparse products of one-hot matrices and
          the trimmed means are vectorised over all workers.
        * **Signs.** crowd-kit takes them from the eigenvector of the smallest eigenvalue of a
          random walk on a graph whose negative edges join workers with negative covariation;
          because it shifts the *whole* matrix by :math:`-1/(K-1)`, every unobserved pair and
          the diagonal also count as negative edges, so on sparse designs the graph is
          dominated by pairs that never met and many good workers come out negative (RTE: 61
          of 164 workers; accuracy of the weighted vote 0.66, cf 0.68, ms 0.47). The local
          rule above uses observed pairs only (RTE 0.93, cf 0.90, ms 0.79).
        * **Zero estimates.** When a worker's estimate becomes 0 (all its ratios are 0, e.g.
          it agrees with each co-worker on exactly half of their common tasks with two
          classes), crowd-kit divides by it, the NaN spreads to the other estimates, it runs
          all ``n_iter`` iterations and its weighted vote then fails on the missing skills;
          here ratios over a zero estimate are left out of the means.
        * **Vote.** crowd-kit divides the weighted votes by their row sum, which flips the
          winner when the sum is negative; here the label is the class with the largest
          weighted vote and ``probas_`` its softmax.

    Parameters
    ----------
    n_iter : int, default 10000
        Maximum number of M-MSR iterations; stopping there without meeting ``tol`` issues a
        :class:`~crowdlearn.errors.ConvergenceWarning`.
    tol : float, default 1e-10
        Stop when the rank-one estimate moves by less than this (Frobenius norm).
    random_state : int, optional
        Seed of the random start of ``u`` and ``v`` (and of the tie-breaking draw).

    Attributes
    ----------
    skills_ : ndarray (workers,)
        Vote weights :math:`w_i` (crowd-kit's ``skills_``); 0 for workers without answers.
    accuracies_ : ndarray (workers,)
        The estimated probabilities :math:`p_i` of a correct answer.
    votes_ : ndarray (tasks x classes)
        Weighted votes (sums of the weights of the workers who gave each class).
    scores_ : ndarray (tasks x classes)
        ``votes_`` normalised per task (crowd-kit's ``scores_``; see :func:`_weighted_vote`
        for rows whose sum is not positive). ``fit_predict_score`` returns them;
        ``predict`` / ``predict_score`` apply the fitted skills to other answers.
    probas_ : ndarray (tasks x classes)
        Softmax of ``scores_``.
    n_iter_ : int
        M-MSR iterations run; ``loss_history_`` holds the Frobenius moves.

    References
    ----------
    Q. Ma and A. Olshevsky. "Adversarial crowdsourcing through robust rank-one matrix
    completion". *NeurIPS* 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from crowdlearn import Answers
    >>> from crowdlearn.aggregate.mmsr import MMSR
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.integers(0, 3, 300)
    >>> task = np.repeat(np.arange(300), 5)
    >>> worker = np.tile(np.arange(5), 300)
    >>> good = rng.random(1500) < np.array([0.9, 0.85, 0.8, 0.7, 0.4])[worker]
    >>> label = np.where(good, truth[task], (truth[task] + rng.integers(1, 3, 1500)) % 3)
    >>> mmsr = MMSR().fit(Answers(task, worker, label))
    >>> bool((mmsr.labels_ == truth).mean() > 0.9)
    True
    >>> bool(mmsr.accuracies_[0] > mmsr.accuracies_[4])
    True
    """

    param_specs: ClassVar[dict[str, Param]] = {
        "n_iter": N_ITER, "tol": TOL, "random_state": Seed(objects=False),
    }

    def __init__(self, n_iter: int = 10000, tol: float = 1e-10,
                 random_state: int | None = 0) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.random_state = random_state

    def _fit(self, answers: Answers) -> None:
        n_workers, k = answers.n_workers, answers.n_classes
        skills = np.zeros(n_workers)
        accuracies = np.full(n_workers, 1.0 / max(k, 1))
        self.loss_history_: list[float] = []
        self.n_iter_ = 0
        if k >= 2 and answers.n_answers:
            active, acc, weights, history = _estimate_skills(
                answers, int(self.n_iter), float(self.tol), self.random_state)
            accuracies[active] = acc
            skills[active] = weights
            self.loss_history_ = history
            self.n_iter_ = len(history)
            if history and len(history) >= int(self.n_iter) and np.isfinite(history[-1]) \
                    and history[-1] >= float(self.tol):  # n_iter=0: no iteration, no warning
                warnings.warn(
                    f"MMSR stopped at its iteration cap n_iter={self.n_iter} before converging "
                    f"(last move {history[-1]:.3g}, tol {self.tol:g}); raise n_iter or tol",
                    ConvergenceWarning, stacklevel=3)
        self.skills_ = skills
        self.accuracies_ = accuracies
        self.votes_, self.scores_, self.probas_ = _weighted_vote(answers, skills)

    def _scores_frame(self, answers: Answers) -> None:
        import pandas as pd

        if answers.n_tasks == 0:
            self.scores_ = pd.DataFrame()
            return
        index = pd.Index(answers.task_ids, name="task")
        cols = pd.Index(answers.classes, name="label")
        self.scores_ = pd.DataFrame(self.scores_, index=index, columns=cols)
        self.votes_ = pd.DataFrame(self.votes_, index=index, columns=cols)

    def _to_pandas(self, answers: Answers) -> None:
        super()._to_pandas(answers)
        self._scores_frame(answers)

    def fit_predict_score(self, data: Any, true_labels: Any = None, *, gold: Any = None) -> Any:
        """Fit, then return ``scores_`` (crowd-kit's MMSR API)."""
        return self.fit(data, true_labels, gold=gold).scores_

    def _apply(self, data: Any) -> None:
        """Weighted vote of ``data`` with the fitted skills (workers unseen at fit weigh 0)."""
        import pandas as pd

        self._check_fitted()
        answers, from_frame = _as_answers(data)
        fitted = np.asarray(self._arrays["skills"])
        pos = pd.Index(self.answers_.worker_ids).get_indexer(answers.worker_ids)
        skills = np.where(pos >= 0, fitted[np.maximum(pos, 0)], 0.0)
        self.votes_, self.scores_, probas = _weighted_vote(answers, skills)
        labels = argmax_random_ties(self.votes_, self.random_state)
        if from_frame:
            self._scores_frame(answers)
            if answers.n_tasks:
                self.labels_ = pd.Series(answers.classes[labels],
                                         index=pd.Index(answers.task_ids, name="task"),
                                         name="agg_label")
            else:
                self.labels_ = pd.Series(dtype=float, name="agg_label")
        else:
            self.labels_ = labels

    def predict(self, data: Any) -> Any:
        """Labels of ``data`` by the vote weighted with the fitted skills (sets ``labels_``)."""
        self._apply(data)
        return self.labels_

    def predict_score(self, data: Any) -> Any:
        """``scores_`` of ``data`` with the fitted skills (crowd-kit's MMSR API)."""
        self._apply(data)
        return self.scores_


def _weighted_vote(answers: Answers, skills: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
    """(weighted votes, per-task normalised scores, softmax posterior), tasks x classes.

    Scores are the votes divided by their row sum (crowd-kit's ``scores_``) when that sum is
    positive; a row whose sum is negative or zero is divided by the sum of its absolute values
    instead (crowd-kit divides by the negative sum, which reverses the order of the classes).
    """
    n_tasks, k = answers.n_tasks, answers.n_classes
    cell = answers.label.astype(np.intp) * n_tasks + answers.task
    votes = np.bincount(cell, skills[answers.worker], minlength=k * n_tasks).reshape(k, n_tasks)
    probas = votes.copy()
    log_normalize_columns(probas)
    votes = np.ascontiguousarray(votes.T)
    total = votes.sum(axis=1, keepdims=True)
    denom = np.where(total > 0, total, np.abs(votes).sum(axis=1, keepdims=True))
    scores = np.full_like(votes, 1.0 / max(k, 1))
    np.divide(votes, denom, out=scores, where=denom > 0)
    return votes, scores, np.ascontiguousarray(probas.T)


def _estimate_skills(
    answers: Answers, n_iter: int, tol: float, random_state: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """M-MSR on the workers with answers: (their indices, p_i, weights, loss history)."""
    k = answers.n_classes
    task, worker, label = answers.task, answers.worker, answers.label
    # one answer per (task, worker): the last one, as crowd-kit's observation matrix keeps
    last = np.ones(len(task), dtype=bool)
    last[:-1] = (task[1:] != task[:-1]) | (worker[1:] != worker[:-1])
    task, worker, label = task[last], worker[last], label[last]
    active = np.flatnonzero(np.bincount(worker, minlength=answers.n_workers) > 0)
    w_index = np.full(answers.n_workers, -1, dtype=np.intp)
    w_index[active] = np.arange(len(active))
    w = w_index[worker]
    n_w = len(active)
    used_tasks = np.unique(task)
    n_t = len(used_tasks)
    t = np.searchsorted(used_tasks, task)

    # co-answer counts and agreement counts of every worker pair, by sparse products
    ones = np.ones(len(t))
    by_task = sp.csr_matrix((ones, (w, t)), shape=(n_w, n_t))
    by_answer = sp.csr_matrix((ones, (w, t.astype(np.int64) * k + label)), shape=(n_w, n_t * k))
    common = (by_task @ by_task.T).tocoo()
    agree = (by_answer @ by_answer.T).tocoo()
    off = common.row != common.col
    rows, cols, n_common = common.row[off], common.col[off], common.data[off]
    keys = rows.astype(np.int64) * n_w + cols
    order = np.argsort(keys)
    rows, cols, n_common, keys = rows[order], cols[order], n_common[order], keys[order]
    agreements = np.zeros(len(keys))
    a_off = agree.row != agree.col
    a_keys = agree.row[a_off].astype(np.int64) * n_w + agree.col[a_off]
    agreements[np.searchsorted(keys, a_keys)] = agree.data[a_off]
    # crowd-kit's covariation: (agree / common) * K / (K - 1) - 1 / (K - 1)
    cov = (agreements / n_common) * (k / (k - 1)) - 1.0 / (k - 1)
    indptr = np.zeros(n_w + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_w), out=indptr[1:])
    degree = np.diff(indptr)
    sparsity = int(degree.min()) if n_w else 0
    f_trim = sparsity // 2 - 1

    rng = np.random.RandomState(random_state)
    u = rng.uniform(size=n_w)
    v = u.copy()  # crowd-kit draws both from the same seed
    x_abs = np.abs(cov)
    history: list[float] = []
    floor = 1.0 / np.sqrt(n_t)
    # one sweep object per half-step: each keeps its entries sorted from one iteration to
    # the next, so that once the estimates settle the sort is a linear check
    sweep_v = _TrimmedMeans(rows, indptr, cols, x_abs, f_trim, floor)
    sweep_u = _TrimmedMeans(rows, indptr, cols, x_abs, f_trim, floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(max(n_iter, 0)):
            u_prev, v_prev = u, v
            v = sweep_v(v, u)
            u = sweep_u(u, v)
            du, dv = u - u_prev, v - v_prev
            # ||u v' - u_prev v_prev'||_F from the changes (no cancellation, no n x n matrix)
            sq = _dot(du, du) * _dot(v, v) + 2.0 * _dot(du, u_prev) * _dot(v, dv) \
                + _dot(u_prev, u_prev) * _dot(dv, dv)
            loss = float(np.sqrt(max(sq, 0.0)))
            history.append(loss)
            tick(move=f"{loss:.2e}")
            if loss < tol or not np.isfinite(loss):
                break
        scale = np.sqrt(np.sqrt(_dot(u, u)) / np.sqrt(_dot(v, v)))
        s_abs = u / scale
    signs = _signs(cov, rows, cols, s_abs, n_w)
    s = signs * s_abs
    s = np.minimum(s, 1.0 - floor)
    s = np.maximum(s, -1.0 / (k - 1) + floor)
    p = s * (k - 1) / k + 1.0 / k
    weights = np.log(p * (k - 1) / (1.0 - p))
    return active, p, weights, history


class _TrimmedMeans:
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
        # inner[p]: entries p and p + 1 lie in the same row (their order is checked)
        self.inner = rows[1:] == rows[:-1]

    def _row_counts(self, mask: np.ndarray) -> np.ndarray:
        """Number of true entries of ``mask`` per row (integer sums over each row's block)."""
        out = np.zeros(len(self.counts), dtype=np.int64)
        out[self.nonempty] = np.add.reduceat(mask.view(np.int8), self.starts, dtype=np.int64)
        return out

    def _rows_sorted(self, y: np.ndarray) -> bool:
        """Whether ``y`` is ascending within every row (exactly, by value)."""
        bad = y[1:] < y[:-1]
        bad &= self.inner
        self._bad = bad
        return not bool(bad.any())

    def _sort_rows(self, y: np.ndarray) -> None:
        """Sort (in place) the finite ratios ``y`` within the rows with an inversion.

        The key is the one of a full sort; when few rows moved, only their entries are sorted.
        """
        marked = np.zeros(len(self.counts), dtype=bool)
        marked[self.rows[1:][self._bad]] = True
        rows = np.flatnonzero(marked)
        if 4 * len(rows) > len(self.nonempty):
            idx = None
            sub = y
            row_key = self.row_key
        else:
            counts = self.counts[rows]
            # positions of those rows' entries, in order: ranges [indptr[r], indptr[r + 1])
            shift = np.repeat(self.indptr[rows] - np.cumsum(counts) + counts, counts)
            idx = np.arange(int(counts.sum()), dtype=np.int64) + shift
            sub = y[idx]
            row_key = self.row_key[idx]
        key = sub + 1.0
        np.divide(sub, key, out=key)
        key *= 0.5
        key += row_key
        order = np.argsort(key, kind="stable")
        if idx is None:
            y[:] = y[order]
            self.x, self.cols = self.x[order], self.cols[order]
        else:
            perm = idx[order]
            y[idx] = y[perm]
            self.x[idx] = self.x[perm]
            self.cols[idx] = self.cols[perm]

    def _search(self, y: np.ndarray, a: np.ndarray, right: bool) -> np.ndarray:
        """Per row, the number of entries ``< a`` (``<= a`` when ``right``) of the row.

        A binary search run on all rows at once (``y`` ascending within rows): about
        ``log2(max row length)`` steps over arrays of one entry per row.
        """
        lo = self.indptr[:-1].copy()
        hi = self.indptr[1:].copy()
        last = len(y) - 1
        while True:
            open_ = lo < hi
            if not bool(open_.any()):
                break
            mid = (lo + hi) // 2  # < hi on open rows; closed rows may point past the end
            val = y[np.minimum(mid, last)]
            go = (val <= a) if right else (val < a)
            go &= open_
            stay = open_ & ~go
            lo = np.where(go, mid + 1, lo)
            hi = np.where(stay, mid, hi)
        return lo - self.indptr[:-1]

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
        # estimate): it is left out, as if the pair were unobserved in this half-step. The
        # |C_ij| are finite, so nonzero finite divisors make every ratio finite (O(workers)).
        all_finite = bool(np.all(np.isfinite(divisor) & (divisor != 0)))
        finite = y if all_finite else np.isfinite(y)  # a placeholder when all are finite
        if not all_finite:
            all_finite = bool(finite.all())
        if f_trim < 0:
            top = np.maximum.reduceat(y if all_finite else np.where(finite, y, -np.inf),
                                      self.starts)
            ok = np.isfinite(top)
            out[self.nonempty[ok]] = np.where(top[ok] == 0, self.floor, top[ok])
            return out
        searchable = False
        if all_finite:
            if not self._rows_sorted(y):
                self._sort_rows(y)
                searchable = self._rows_sorted(y)
            else:
                searchable = True
        else:
            key = y + 1.0
            np.divide(y, key, out=key)
            key *= 0.5
            key[~finite] = 0.5  # after the row's finite values
            key += self.row_key
            if not bool(np.all(key[1:] >= key[:-1])):
                order = np.argsort(key, kind="stable")
                y_pad[:-1] = y[order]
                finite = finite[order]
                self.x, self.cols = self.x[order], self.cols[order]
        # rows are contiguous blocks: counts are integer block sums, and the trimmed mean is
        # the sum over one block of positions [lower, upper) of the row
        if searchable:  # rows ascending: counts by binary search, no pass over the pairs
            lower = np.minimum(self._search(y, own, right=False), f_trim)
            upper = self.counts - np.minimum(self.counts - self._search(y, own, right=True),
                                             f_trim)
        else:
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


def _signs(cov: np.ndarray, rows: np.ndarray, cols: np.ndarray, s_abs: np.ndarray,
           n_w: int) -> np.ndarray:
    """+1 / -1 per worker: the sign of ``sum_j C_ij |s_j|`` over the observed pairs; 0 alone.

    Since ``E[C_ij] = s_i s_j``, the sum is about ``s_i * sum_j s_j |s_j|``: it has the sign of
    ``s_i`` whenever the workers sharing tasks with ``i`` are, weighted by their estimated
    skill, better than chance on balance (crowd-kit's final "most workers are positive" flip
    makes the same assumption globally). Workers who share no task with anyone get 0.
    """
    evidence = np.bincount(rows, cov * s_abs[cols], minlength=n_w)
    return np.sign(evidence)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Dot product without BLAS (whose threads stall on a busy machine)."""
    return float((a * b).sum())
