"""Bayesian truth inference: IBCC, EBCC (variational Bayes) and BWA (Bayesian weighted averaging).

The three models follow Yuan Li's reference implementations
(``github.com/yuan-li/truth-inference-at-scale``: ``ibcc.py``, ``ebcc.py``, ``bwa.py`` and the
notebooks that produced the published accuracies): same priors, default hyper-parameters,
initialisation (the normalised vote counts, "soft majority vote") and stopping rule (consecutive
posteriors within ``tol`` of each other). They are written on the sparse answer arrays of
:class:`~crowdlearn.answers.Answers`: with ``X = answers.incidence`` (tasks x workers*classes),
the expected log-likelihood of every task under every class is one sparse product
``X @ E[log pi]`` and the expected confusion counts are ``X.T @ T``, so an iteration costs
O(answers x classes^2) (O(answers x classes x subtypes) for EBCC). Variational Bayes runs on the
shared EM skeleton :func:`~crowdlearn.aggregate._em.run_em`: its "M-step" updates the Dirichlet
posteriors of the parameters, its "E-step" the posterior of the true labels and returns the ELBO
(per answer), which coordinate ascent never decreases.

One module per model: :mod:`.ibcc`, :mod:`.ebcc`, :mod:`.bwa`; shared pieces in :mod:`._common`.
"""

from __future__ import annotations

from .bwa import BWA
from .ebcc import EBCC
from .ibcc import IBCC

__all__ = ["BWA", "EBCC", "IBCC"]
