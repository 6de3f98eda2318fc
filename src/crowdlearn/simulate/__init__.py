"""Simulated crowds: true labels, annotator confusion matrices, task assignment and answers.

A simulated crowd follows the class-conditional annotator model of Dawid & Skene (1979): each
task ``i`` has a true class ``y_i`` drawn from the class priors, each worker ``m`` has a
(K x K) row-stochastic confusion matrix ``C[m]`` (row = true class, column = answer), and the
answer of worker ``m`` to task ``i`` is drawn from the row ``C[m, y_i]``, independently of every
other answer. :func:`simulate` draws all of it (true labels, confusion matrices from named
annotator models, which worker answers which task) and returns a :class:`SimulatedCrowd` whose
:class:`~crowdlearn.Answers` carry the truth.

Everything is vectorised: a million answers (200,000 tasks x 5 answers, 2,000 workers,
5 classes) take a fraction of a second. One seed (an integer or a ``numpy.random.Generator``)
makes the whole crowd reproducible.

References
----------
.. [DS79] A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates
   using the EM algorithm", *Journal of the Royal Statistical Society C*, 28(1):20-28, 1979.
.. [KOS11] D. R. Karger, S. Oh and D. Shah, "Iterative learning for reliable crowdsourcing
   systems", *NeurIPS* 2011 (the hammer-spammer model).
.. [ZCZJ14] Y. Zhang, X. Chen, D. Zhou and M. I. Jordan, "Spectral methods meet EM: a provably
   optimal algorithm for crowdsourcing", *NeurIPS* 2014 (the one-coin model).
.. [INF23] S. Ibrahim, T. Nguyen and X. Fu, "Deep learning from crowdsourced labels: coupled
   cross-entropy minimization, identifiability, and regularization", *ICLR* 2023; official code
   https://github.com/shahanaibrahimosu/end-to-end-crowdsourcing (``helpers/functions.py``,
   ``generate_confusion_matrices``), used for the ``separable-uniform`` and ``diagonal`` models.

Package layout: :mod:`.models` (annotator models and their confusion matrices),
:mod:`.assignment` (which worker answers which task), :mod:`.crowd` (answers,
:class:`SimulatedCrowd` and :func:`simulate`), :mod:`.features` (Gaussian items for the tasks)
and :mod:`.errors` (:class:`SimulationError`). Every name is importable from
``crowdlearn.simulate`` itself.
"""

from __future__ import annotations

# The public API (__all__) plus the names that were importable from the single-module
# crowdlearn.simulate and are not in __all__ (model_parameters and parse_param, used by the
# command line; WorkerGroup; the private helpers), so that every old import keeps working.
from .assignment import (  # noqa: F401
    _CHUNK_ELEMENTS,
    ACTIVITIES,
    _bernoulli_positions,
    _categorical,
    _distinct_per_row,
    _masked_draw,
    assign_workers,
    power_law_activity,
)
from .crowd import (  # noqa: F401
    SimulatedCrowd,
    WorkerGroup,
    _draw_labels,
    _jsonable,
    _normalise_groups,
    empirical_confusions,
    simulate,
)
from .errors import SimulationError
from .features import (  # noqa: F401
    _FEATURES_STREAM,
    gaussian_features,
)
from .models import (  # noqa: F401
    _MODELS,
    MODELS,
    _adversarial,
    _check_count,
    _check_range,
    _derangements,
    _diagonal,
    _hammer_spammer,
    _lookup_model,
    _ModelFn,
    _one_coin,
    _perfect,
    _separable_uniform,
    _spammer,
    _symmetric,
    _symmetric_matrix,
    _validate_confusions,
    confusion_matrices,
    model_parameters,
    parse_param,
    parse_workers,
)

__all__ = [
    "ACTIVITIES",
    "MODELS",
    "SimulatedCrowd",
    "SimulationError",
    "assign_workers",
    "confusion_matrices",
    "empirical_confusions",
    "gaussian_features",
    "parse_workers",
    "power_law_activity",
    "simulate",
]
