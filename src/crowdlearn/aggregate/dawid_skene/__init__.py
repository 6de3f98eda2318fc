"""The Dawid-Skene family: DS, one-coin DS, DS with clustered workers (DSWC), weighted DS (WDS).

Shared pieces
-------------
Every model here explains an answer ``l`` of worker ``w`` on a task of true class ``k`` by a
probability :math:`\\pi^{(w)}_{k,l}` (rows = true class, columns = answer) and differs only in
how :math:`\\pi` is parametrised. With ``X = answers.incidence`` (tasks x workers*classes, 0/1):

* **E-step** (:meth:`_Design.posterior`): the log-likelihood of every task under every class is
  one sparse product ``X @ log(pi)`` (``pi`` laid out as (workers*answers) x classes), plus the
  log prior, then a softmax over classes. Scores are kept class-major (classes x tasks) so that
  the softmax runs over contiguous rows.
* **M-step counts** (:meth:`_Design.counts`): the expected number of times worker ``w`` answered
  ``l`` on a task of class ``k`` is ``X.T @ T``; DS normalises them per worker, one-coin DS keeps
  their diagonal, DSWC pools them per cluster.

An iteration therefore costs O(answers x classes) plus O(workers x classes^2), memory is
O(answers + workers x classes^2 + tasks x classes), and every EM strategy runs on the shared
skeleton :func:`~crowdlearn.aggregate._em.run_em`.

Package layout: :mod:`.shared` (the shared pieces above: :class:`_Design`, the E- and M-step
helpers and the :class:`_DSFamily` base), :mod:`.spectral` (the spectral initialisation,
:func:`spectral_confusions`), :mod:`.models` (:class:`DawidSkene`, :class:`OneCoinDawidSkene`,
:class:`WDS`) and :mod:`.worker_clusters` (:func:`kmeans` and :class:`DawidSkeneClust`). Every
name is importable from ``crowdlearn.aggregate.dawid_skene`` itself.
"""

from __future__ import annotations

# The public API (__all__) plus every other name that the single-module
# crowdlearn.aggregate.dawid_skene defined (constants, private helpers), so that every old
# import keeps working. The strategies register themselves (@register) when their submodule
# is imported: .models (ds, onecoin, wds) before .worker_clusters (dswc), as in the single
# module, which keeps the order of crowdlearn.aggregate.available().
from .models import (  # noqa: F401
    WDS,
    DawidSkene,
    OneCoinDawidSkene,
)
from .shared import (  # noqa: F401
    _UNDERFLOW,
    EPS,
    _class_priors,
    _Design,
    _ds_e_step,
    _ds_m_step,
    _DSFamily,
    _DSParams,
    _log_prior,
    _normalize_counts,
    _one_coin_conf,
    _safe_log,
    _softmax_columns,
)
from .spectral import (  # noqa: F401
    MAX_SPECTRAL_CLASSES,
    SpectralInitError,
    _solve_right,
    _symmetrize3,
    _tensor_power,
    spectral_confusions,
)
from .worker_clusters import (  # noqa: F401
    DawidSkeneClust,
    _ClustParams,
    kmeans,
)

__all__ = [
    "DawidSkene",
    "DawidSkeneClust",
    "OneCoinDawidSkene",
    "WDS",
    "kmeans",
    "spectral_confusions",
]
