"""MACE: Multi-Annotator Competence Estimation (Hovy et al., 2013).

See :class:`MACE` for the model, the EM / variational-Bayes fitting and how it differs from
crowd-kit's ``MACE``. One EM iteration costs O(answers) with ``np.bincount`` over the sparse
(task, worker, label) arrays, whatever the number of classes (the posterior is only stored on
the (task, class) cells that received votes); the parameters are (workers x 2) and (workers x
classes) tables.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma

from ..answers import Answers
from ..errors import CrowdlearnError
from ..params import N_ITER, POSITIVE, Choice, Float, Int, Param, Seed
from ._em import run_em
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
    ``n_iter`` iterations (as the paper and crowd-kit do) through the shared
    :func:`~crowdlearn.aggregate._em.run_em` skeleton, from ``n_restarts`` random starts, and
    keep the run with the highest log marginal likelihood.

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
    verbose : int, default 0
        ``1`` shows a progress bar over restarts.

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
        "verbose": Int(0, also=(True, False)),
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
        task = answers.task.astype(np.intp)
        wcell = answers.worker.astype(np.intp) * k + answers.label   # (worker, answer)
        # the (task, class) cells that received votes: only there does the posterior differ
        # from that of the task's unvoted classes, so an E-step costs O(answers), whatever K
        cells, answer_cell = np.unique(task.astype(np.int64) * k + answers.label,
                                       return_inverse=True)
        cell_task = (cells // k).astype(np.intp)
        cell_label = (cells % k).astype(np.intp)
        first_cell = np.searchsorted(cell_task, np.arange(n_tasks))
        has_cells = np.bincount(cell_task, minlength=n_tasks)
        unvoted = (k - has_cells).astype(np.float64)
        # task x (worker, label) and (worker, label) x cell answer counts: the per-task sum of
        # an E-step and the posterior mass of the M-step are sparse products (faster than
        # np.bincount over a gathered per-answer array)
        ones = np.ones(len(wcell))
        by_task = sp.csr_matrix((ones, (task, wcell)), shape=(n_tasks, n_workers * k))
        by_pair = sp.csr_matrix((ones, (wcell, answer_cell)), shape=(n_workers * k, len(cells)))
        # answers per (worker, label): the parameters only enter through such pairs
        n_pairs = np.bincount(wcell, minlength=n_workers * k).reshape(n_workers, k)
        smoothing = 0.01 / max(k, 1) if self.smoothing is None else float(self.smoothing)
        vb = self.method == "vb"
        theta_prior = np.array([float(self.alpha), float(self.beta)])
        strategy_prior = 10.0
        log_k = np.log(max(k, 1))
        state: dict[str, Any] = {}

        def tables(params: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            """(workers x K) P(answer l | truth != l) and P(answer l | truth == l)."""
            spamming, xi = params
            wrong = np.maximum(spamming[:, :1] * xi, 1e-300)
            return wrong, wrong + spamming[:, 1:]

        def posterior(params: tuple[np.ndarray, np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray, float]:
            """Posterior of each voted cell, of each task's unvoted classes, log-likelihood.

            ``log P(truth = c) = base_t + extra_tc - lse_t`` where ``base_t`` sums the
            log-probabilities of the task's answers under "the truth is not the answer" and
            ``extra_tc >= 0`` adds ``log(right / wrong)`` of the answers that said ``c``.
            """
            state["params"] = params
            wrong, right = tables(params)
            log_wrong = np.log(wrong)
            log_ratio = np.log(right) - log_wrong
            base = by_task @ log_wrong.reshape(-1) - log_k
            extra = np.bincount(answer_cell, log_ratio.reshape(-1)[wcell],
                                minlength=len(cells))
            # extra >= 0 (right >= wrong): exp(extra) cannot underflow; subtract the task's
            # largest extra only when exp could overflow
            if len(cells) and float(extra.max()) > 600.0:
                top = np.zeros(n_tasks)
                top[has_cells > 0] = np.maximum.reduceat(extra, first_cell[has_cells > 0])
                p_cell = np.exp(extra - top[cell_task])
                p_rest = np.exp(-top)
            else:
                top = np.zeros(n_tasks)
                p_cell = np.exp(extra)
                p_rest = np.ones(n_tasks)
            total = np.bincount(cell_task, p_cell, minlength=n_tasks) + unvoted * p_rest
            p_cell /= total[cell_task]
            p_rest /= total
            loglik = float((base + top + np.log(total)).sum())
            return p_cell, p_rest, loglik / n_answers

        def e_step(params: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, float]:
            p_cell, _, loglik = posterior(params)
            return p_cell, loglik  # the M-step only needs the voted cells

        def dense(params: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
            p_cell, p_rest, _ = posterior(params)
            out = np.repeat(p_rest[:, None], k, axis=1)
            out[cell_task, cell_label] = p_cell
            return out

        def expected_counts(p_cell: np.ndarray, params: tuple[np.ndarray, np.ndarray]
                            ) -> tuple[np.ndarray, np.ndarray]:
            """Expected (spam, no spam) counts per worker and spam label counts per worker.

            An answer ``l`` of worker ``w`` is not spam with probability
            ``P(truth = l) * theta_w / right_wl``, so summing over the answers of a
            (worker, label) pair only needs the posterior mass of ``l`` on those tasks.
            """
            spamming, _ = params
            _, right = tables(params)
            mass = np.asarray(by_pair @ p_cell).reshape(n_workers, k)
            know = mass * (spamming[:, 1:] / right)
            strategy = n_pairs - know
            counts = np.stack([strategy.sum(axis=1), know.sum(axis=1)], axis=1)
            return counts, strategy

        def m_step(probas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            counts, strategy = expected_counts(probas, state["params"])
            if vb:
                return (_variational_normalize(counts, theta_prior),
                        _variational_normalize(strategy, strategy_prior))
            return _normalize(counts, smoothing), _normalize(strategy, smoothing)

        seeds = self._restart_seeds()
        iterator: Any = seeds
        if self.verbose:
            from .._progress import progress_bar

            iterator = progress_bar(seeds, desc="MACE restarts")
        best: dict[str, Any] = {}
        lls = []
        for seed in iterator:
            params = self._initial_params(seed, n_workers, k)
            init_probas, init_ll = e_step(params)
            result = run_em(init_probas, m_step, e_step, tol=0.0,
                            max_iter=max(int(self.n_iter), 0))
            # run_em ends with one more M-step: keep the parameters of the last E-step, which
            # produced result.probas (crowd-kit's final parameters)
            used = state["params"]
            ll = result.log_likelihood if result.history else init_ll
            lls.append(ll)
            if not best or ll > best["ll"]:
                best = {"ll": ll, "probas": result.probas, "params": used,
                        "n_iter": result.n_iter, "history": result.history}

        spamming, xi = best["params"]
        probas = best["probas"]
        if vb:  # posterior means of the variational Beta / Dirichlet distributions
            counts, strategy = expected_counts(probas, best["params"])
            counts = counts + theta_prior
            strategy = strategy + strategy_prior
            self.skills_ = counts[:, 1] / counts.sum(axis=1)
            self.spam_distributions_ = strategy / strategy.sum(axis=1, keepdims=True)
        else:
            self.skills_ = _normalize(spamming, 0.0)[:, 1]
            self.spam_distributions_ = _normalize(xi, 0.0)
        self.probas_ = dense(best["params"])
        self.spamming_ = spamming
        self.thetas_ = xi
        self.priors_ = np.full(k, 1.0 / max(k, 1))
        self.log_likelihood_ = best["ll"]
        self.restart_log_likelihoods_ = np.array(lls)
        self.n_iter_ = best["n_iter"]
        self.loss_history_ = best["history"]


def _normalize(x: np.ndarray, smoothing: float) -> np.ndarray:
    """Rows of ``x + smoothing`` divided by their sums (rows summing to zero stay zero)."""
    x = x + smoothing
    norm = x.sum(axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def _variational_normalize(x: np.ndarray, prior: Any) -> np.ndarray:
    """``exp(digamma(x + prior) - digamma(sum(x + prior)))`` row by row (the VB M-step)."""
    a = x + prior
    return np.exp(digamma(a) - digamma(a.sum(axis=1, keepdims=True)))
