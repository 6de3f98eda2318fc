"""MACE: Multi-Annotator Competence Estimation (Hovy et al., 2013).

See :class:`MACE` for the model, the EM / variational-Bayes fitting and how it differs from
crowd-kit's ``MACE``. One EM iteration costs O(answers x restarts) in sparse products over the
(task, worker, label) arrays, whatever the number of classes (the posterior is only stored on
the (task, class) cells that received votes); the parameters are (workers x 2 x restarts) and
(workers x classes x restarts) tables.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma

from ..answers import Answers
from ..errors import CrowdlearnError
from ..params import N_ITER, POSITIVE, Choice, Float, Int, Param, Seed
from ._em import current_gold, tick
from .base import Aggregator, register

__all__ = ["MACE"]

_METHODS = ("vb", "em")


@register("mace")
class MACE(Aggregator):
    r"""MACE: every answer is either the truth or spam drawn from the worker's own habits.

    Model
    -----
    The true class :math:`T_i` of task ``i`` is uniform over the ``K`` classes. On each task,
    worker ``j`` spams with probability :math:`1 - \theta_j` (:math:`S_{ij} = 1`); a worker who
    does not spam answers the truth, a spamming worker answers a draw from their own label
    distribution :math:`\xi_j` (e.g. always "yes"). Hence

    .. math:: P(A_{ij} = a \mid T_i = c) = (1 - \theta_j)\,\xi_{ja} + \theta_j [a = c].

    ``method="em"`` fits :math:`\theta, \xi` by maximum likelihood with EM, adding
    ``smoothing`` to the expected counts before normalising; ``method="vb"`` (default) is the
    paper's variational Bayes with priors :math:`1 - \theta_j \sim` Beta(``alpha``, ``beta``) on
    the spam probability and a symmetric Dirichlet(10) on :math:`\xi_j`: the M-step replaces
    each probability by :math:`\exp(\psi(n + a) - \psi(\sum (n + a)))`. Both run a fixed
    ``n_iter`` iterations (as the paper and crowd-kit do) from ``n_restarts`` random starts and
    keep the run with the highest log marginal likelihood. The restarts run side by side as
    the columns of the parameter tables: one pass over the answers (a sparse product with R
    columns) updates all of them, and the log-likelihood is only evaluated after the last
    iteration (nothing else reads it).

    Relation to crowd-kit 1.4.2 (deliberate differences)
        * **Restarts.** crowd-kit seeds every restart with the same ``random_state``, so its
          ten restarts are ten copies of one run. Restart ``r`` here draws its start from its
          own seed (restart 0 from ``random_state`` itself, restart ``r > 0`` from
          ``SeedSequence(random_state, spawn_key=(r,))``), so restarts explore.
        * **Starting point.** Restart 0 draws exactly crowd-kit's starting values (uniform on
          ``[1, 2 + default_noise]`` for the spam/know pair and for :math:`\xi`, both from
          ``RandomState(random_state)``, then normalised), with workers and classes in sorted
          order. ``n_restarts=1`` therefore reproduces crowd-kit on data in which
          workers and labels first appear in sorted order (the only order in which crowd-kit
          is correct, next point).
        * **Ordering.** crowd-kit indexes its parameters by order of first appearance but
          stores the expected counts of the M-step in *sorted* order of workers and labels (a
          ``groupby``), so on most tables it silently gives one worker's label distribution
          to another (product: accuracy 0.695 in the file's row order, 0.828 with workers
          sorted). Here all
          tables are in one order.
        * **Numerics.** Task posteriors are computed in log space (crowd-kit multiplies
          probabilities and underflows on tasks with hundreds of answers), and the restart
          criterion is the exact log marginal likelihood (crowd-kit adds ``1e-8`` to each
          task's marginal likelihood before the log, which flattens the criterion on tasks
          with many answers).
        * ``smoothing`` is honoured; crowd-kit ignores the parameter and always uses
          ``0.01 / K`` (the original MACE default), which is the default here
          (``smoothing=None``).

    Parameters
    ----------
    n_restarts : int, default 10
        Number of random starts; the best (highest log marginal likelihood) is kept.
    n_iter : int, default 50
        Iterations per start.
    method : {"vb", "em"}, default "vb"
        Variational Bayes with priors, or plain EM with ``smoothing``.
    smoothing : float, optional
        Added to the expected counts in the EM M-step; ``None`` means ``0.01 / K``.
    default_noise : float, default 0.5
        Spread of the random starting values: uniform on ``[1, 2 + default_noise]`` before
        normalisation (crowd-kit's convention).
    alpha, beta : float, default 0.5
        Beta prior on (spam, no spam) for ``method="vb"``.
    random_state : int, optional
        Seed of the starts and of the tie-breaking draw in ``labels_``; ``None`` draws fresh
        entropy.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the E-step (cell log-ratios, their ``exp``, the normalisation and the
        expected counts of the M-step). ``"float32"`` halves the memory traffic of the
        (cells x restarts) arrays and speeds up ``exp``; the parameter tables, the digamma
        M-step and the log-likelihood stay in float64. Its posteriors differ from float64's
        by about 1e-6 and its log-likelihoods by about 1e-7 per answer.
    verbose : int, default 0
        Kept for compatibility: every fit of 2 s or more shows a progress bar on a terminal.

    Attributes
    ----------
    probas_ : ndarray (tasks x classes)
        Posterior of the true class.
    skills_ : ndarray (workers,)
        :math:`\theta_j`, the probability that the worker does not spam (for ``vb`` the mean
        of its variational posterior).
    spam_distributions_ : ndarray (workers x classes)
        :math:`\xi_j`, the label distribution of the worker when spamming (posterior mean for
        ``vb``).
    spamming_ : ndarray (workers x 2)
        crowd-kit's table as used in the last E-step: column 0 the spam weight, column 1 the
        no-spam weight (for ``vb`` these are the sub-normalised ``exp(E[log .])`` values).
    thetas_ : ndarray (workers x classes)
        crowd-kit's name for the spam label weights used in the last E-step.
    priors_ : ndarray (classes,)
        Uniform class priors (MACE's assumption).
    log_likelihood_ : float
        Log marginal likelihood per answer of the kept restart.
    restart_log_likelihoods_ : ndarray (n_restarts,)
        The same for every restart.
    n_iter_ : int
        Iterations of the kept restart.

    References
    ----------
    D. Hovy, T. Berg-Kirkpatrick, A. Vaswani and E. Hovy. "Learning whom to trust with
    MACE". *NAACL-HLT* 2013, 1120-1130.

    Examples
    --------
    >>> import numpy as np
    >>> from crowdlearn import Answers
    >>> from crowdlearn.aggregate.mace import MACE
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.integers(0, 2, 200)
    >>> task = np.repeat(np.arange(200), 3)
    >>> worker = np.tile([0, 1, 2], 200)
    >>> label = np.where(worker == 2, 1, truth[task])  # worker 2 always says 1
    >>> mace = MACE(n_restarts=2).fit(Answers(task, worker, label))
    >>> float((mace.labels_ == truth).mean())
    1.0
    >>> np.round(mace.skills_, 1).tolist()
    [1.0, 1.0, 0.0]
    """

    param_specs: ClassVar[dict[str, Param]] = {
        "n_restarts": Int(1), "n_iter": N_ITER, "method": Choice("vb", "em"),
        "smoothing": Float(0, none=True), "default_noise": Float(0), "alpha": POSITIVE,
        "beta": POSITIVE, "random_state": Seed(objects=False),
        "dtype": Choice("float64", "float32"), "verbose": Int(0, also=(True, False)),
    }

    def __init__(
        self,
        n_restarts: int = 10,
        n_iter: int = 50,
        method: str = "vb",
        smoothing: float | None = None,
        default_noise: float = 0.5,
        alpha: float = 0.5,
        beta: float = 0.5,
        random_state: int | None = 0,
        dtype: str = "float64",
        verbose: int = 0,
    ) -> None:
        self.n_restarts = n_restarts
        self.n_iter = n_iter
        self.method = method
        self.smoothing = smoothing
        self.default_noise = default_noise
        self.alpha = alpha
        self.beta = beta
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    # ------------------------------------------------------------------ starting values
    def _restart_seeds(self) -> list[Any]:
        """One seed per restart: ``random_state`` itself first, then spawned seeds."""
        n = max(int(self.n_restarts), 1)
        base = self.random_state
        if base is None:
            root = np.random.SeedSequence()
            return [int(s.generate_state(1)[0]) for s in root.spawn(n)]
        seeds: list[Any] = [base]
        for r in range(1, n):
            seeds.append(int(np.random.SeedSequence(base, spawn_key=(r,)).generate_state(1)[0]))
        return seeds

    def _initial_params(self, seed: Any, n_workers: int, k: int
                        ) -> tuple[np.ndarray, np.ndarray]:
        """crowd-kit's start: uniform draws on ``[1, 2 + default_noise]``, rows normalised.

        Both tables are drawn from a fresh ``RandomState(seed)``, as crowd-kit does. Returns
        ``(spamming, xi)``: (workers x 2) with columns (spam, no spam) and (workers x K).
        """
        scale = 1.0 + float(self.default_noise)
        spamming = 1.0 + scale * np.random.RandomState(seed).uniform(size=(n_workers, 2))
        xi = 1.0 + scale * np.random.RandomState(seed).uniform(size=(n_workers, k))
        return (spamming / spamming.sum(axis=1, keepdims=True),
                xi / xi.sum(axis=1, keepdims=True))

    # ------------------------------------------------------------------ fitting
    def _fit(self, answers: Answers) -> None:
        if self.method not in _METHODS:
            raise CrowdlearnError(f"MACE method must be one of {_METHODS}, got {self.method!r}")
        n_tasks, n_workers, k = answers.n_tasks, answers.n_workers, answers.n_classes
        n_answers = max(answers.n_answers, 1)
        if self.dtype not in ("float64", "float32"):
            raise CrowdlearnError(f"MACE dtype must be 'float64' or 'float32', got {self.dtype!r}")
        fdt = np.dtype(self.dtype)
        # largest extra whose exp (times the classes of a task) cannot overflow
        exp_safe = 600.0 if fdt == np.float64 else 80.0
        task = answers.task.astype(np.intp)
        wcell = answers.worker.astype(np.intp) * k + answers.label   # (worker, answer)
        # the (task, class) cells that received votes: only there does the posterior differ
        # from that of the task's unvoted classes, so an E-step costs O(answers), whatever K
        cells, answer_cell = np.unique(task.astype(np.int64) * k + answers.label,
                                       return_inverse=True)
        n_cells = len(cells)
        max_cell_answers = int(np.bincount(answer_cell).max()) if n_cells else 0
        cell_task = (cells // k).astype(np.intp)
        cell_label = (cells % k).astype(np.intp)
        first_cell = np.searchsorted(cell_task, np.arange(n_tasks))
        has_cells = np.bincount(cell_task, minlength=n_tasks)
        unvoted = (k - has_cells).astype(fdt)[:, None]
        # sparse products over answers, every restart a column: task x (worker, label),
        # cell x (worker, label), (worker, label) x cell and task x cell answer counts
        ones = np.ones(len(wcell))
        by_task = sp.csr_matrix((ones, (task, wcell)), shape=(n_tasks, n_workers * k))
        cell_pairs = sp.csr_matrix((ones.astype(fdt), (answer_cell, wcell)),
                                   shape=(n_cells, n_workers * k))
        voted = np.flatnonzero(has_cells > 0)
        task_cells = sp.csr_matrix((np.ones(n_cells, dtype=fdt), (cell_task, np.arange(n_cells))),
                                   shape=(n_tasks, n_cells))
        # CSC: the product scatters into the small (worker, label) table while reading the
        # cells in order (3x faster than gathering cells for each pair)
        by_pair = cell_pairs.T
        # answers per (worker, label): the parameters only enter through such pairs
        n_pairs = np.bincount(wcell, minlength=n_workers * k).reshape(n_workers, k, 1)
        smoothing = 0.01 / max(k, 1) if self.smoothing is None else float(self.smoothing)
        vb = self.method == "vb"
        theta_prior = np.array([float(self.alpha), float(self.beta)])
        strategy_prior = 10.0
        log_k = np.log(max(k, 1))

        # parameters of all restarts at once: spamming (W x 2 x R), columns (spam, no spam);
        # xi (W x K x R), the label distribution when spamming
        seeds = self._restart_seeds()
        starts = [self._initial_params(seed, n_workers, k) for seed in seeds]
        spamming = np.stack([s for s, _ in starts], axis=2)
        xi = np.stack([x for _, x in starts], axis=2)
        n_r = len(seeds)

        def tables(spamming: np.ndarray, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """(W x K x R) P(answer l | truth != l) and P(answer l | truth == l)."""
            wrong = np.maximum(spamming[:, :1] * xi, 1e-300)
            return wrong, wrong + spamming[:, 1:]

        def posterior(spamming: np.ndarray, xi: np.ndarray, loglik: bool = False
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
            """Posterior of each voted cell (cells x R), of each task's unvoted classes (tasks
            x R) and, on request, the log-likelihood per answer of every restart (R,).

            ``log P(truth = c) = base_t + extra_tc - lse_t`` where ``base_t`` sums the
            log-probabilities of the task's answers under "the truth is not the answer" and
            ``extra_tc >= 0`` adds ``log(right / wrong)`` of the answers that said ``c``.
            """
            wrong, right = tables(spamming, xi)
            log_wrong = np.log(wrong).reshape(-1, n_r)
            log_ratio = np.log(right).reshape(-1, n_r) - log_wrong
            extra = np.asarray(cell_pairs @ log_ratio.astype(fdt, copy=False))  # (cells x R), >= 0
            # exp(extra) cannot underflow; subtract the task's largest extra only when exp
            # could overflow. extra <= (answers in the cell) * max(log_ratio) spares the pass
            # over the cells in the usual case
            if n_cells and max_cell_answers * float(log_ratio.max()) > exp_safe \
                    and float(extra.max()) > exp_safe:
                top = np.zeros((n_tasks, n_r), dtype=fdt)
                top[voted] = np.maximum.reduceat(extra, first_cell[voted], axis=0)
                p_cell = np.exp(extra - np.repeat(top, has_cells, axis=0))
                p_rest = np.exp(-top)
            else:
                top = None
                p_cell = np.exp(extra, out=extra)
                p_rest = np.ones((n_tasks, n_r), dtype=fdt)
            total = np.asarray(task_cells @ p_cell) + unvoted * p_rest
            p_cell /= np.repeat(total, has_cells, axis=0)  # cells are sorted by task
            p_rest /= total
            ll = None
            if loglik:
                base = np.asarray(by_task @ log_wrong) - log_k
                ll = (base + np.log(total, dtype=np.float64)).sum(axis=0)
                if top is not None:
                    ll += top.sum(axis=0, dtype=np.float64)
                ll /= n_answers
            return p_cell, p_rest, ll

        def expected_counts(p_cell: np.ndarray, spamming: np.ndarray, xi: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray]:
            """Expected (spam, no spam) counts per worker (W x 2 x R) and spam label counts
            per worker (W x K x R).

            An answer ``l`` of worker ``w`` is not spam with probability
            ``P(truth = l) * theta_w / right_wl``, so summing over the answers of a
            (worker, label) pair only needs the posterior mass of ``l`` on those tasks.
            """
            _, right = tables(spamming, xi)
            mass = np.asarray(by_pair @ p_cell, dtype=np.float64).reshape(n_workers, k, -1)
            know = mass * (spamming[:, 1:] / right)
            strategy = n_pairs - know
            counts = np.stack([strategy.sum(axis=1), know.sum(axis=1)], axis=1)
            return counts, strategy

        def m_step(p_cell: np.ndarray, spamming: np.ndarray, xi: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
            counts, strategy = expected_counts(p_cell, spamming, xi)
            if vb:
                return (_variational_normalize(counts, theta_prior[None, :, None]),
                        _variational_normalize(strategy, strategy_prior))
            return _normalize(counts, smoothing), _normalize(strategy, smoothing)

        # EM with a fixed number of iterations (crowd-kit's), all restarts in one pass over
        # the answers; the kept parameters are those of the last E-step, which produced the
        # posterior (crowd-kit's final parameters)
        # gold labels (see _em.gold_context): fixed posteriors of the voted cells of gold tasks
        gold = current_gold(n_tasks, k)
        gold_cell = None if gold is None else gold[cell_task]
        known = None if gold_cell is None else np.flatnonzero(gold_cell >= 0)

        def clamp(p_cell: np.ndarray) -> np.ndarray:
            if known is not None and len(known):
                p_cell[known] = (cell_label[known] == gold_cell[known])[:, None]
            return p_cell

        n_iter = max(int(self.n_iter), 0)
        p_cell, p_rest, lls = posterior(spamming, xi, loglik=n_iter == 0)
        p_cell = clamp(p_cell)
        for i in range(n_iter):
            spamming, xi = m_step(p_cell, spamming, xi)
            p_cell, p_rest, lls = posterior(spamming, xi, loglik=i == n_iter - 1)
            p_cell = clamp(p_cell)
            tick(n_r, restarts=n_r)
        assert lls is not None
        best = int(np.argmax(lls))
        spamming, xi = spamming[:, :, best], xi[:, :, best]
        p_cell, p_rest = p_cell[:, best], p_rest[:, best]
        if vb:  # posterior means of the variational Beta / Dirichlet distributions
            counts, strategy = expected_counts(p_cell[:, None], spamming[:, :, None],
                                               xi[:, :, None])
            counts = counts[:, :, 0] + theta_prior
            strategy = strategy[:, :, 0] + strategy_prior
            self.skills_ = counts[:, 1] / counts.sum(axis=1)
            self.spam_distributions_ = strategy / strategy.sum(axis=1, keepdims=True)
        else:
            self.skills_ = _normalize(spamming, 0.0)[:, 1]
            self.spam_distributions_ = _normalize(xi, 0.0)
        probas = np.repeat(p_rest[:, None].astype(np.float64), k, axis=1)
        probas[cell_task, cell_label] = p_cell
        if fdt != np.float64:  # rows summed in float32: renormalise in float64
            probas /= probas.sum(axis=1, keepdims=True)
        self.probas_ = probas
        self.spamming_ = spamming
        self.thetas_ = xi
        self.priors_ = np.full(k, 1.0 / max(k, 1))
        self.log_likelihood_ = float(lls[best])
        self.restart_log_likelihoods_ = lls
        self.n_iter_ = n_iter


def _normalize(x: np.ndarray, smoothing: float) -> np.ndarray:
    """``x + smoothing`` divided by its sums over axis 1 (sums of zero stay zero)."""
    x = x + smoothing
    norm = x.sum(axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def _variational_normalize(x: np.ndarray, prior: Any) -> np.ndarray:
    """``exp(digamma(x + prior) - digamma(sum(x + prior)))`` over axis 1 (the VB M-step)."""
    a = x + prior
    return np.exp(digamma(a) - digamma(a.sum(axis=1, keepdims=True)))
