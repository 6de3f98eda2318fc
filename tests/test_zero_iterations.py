"""Every iterative strategy accepts ``n_iter=0`` (crowd-kit's ``test_zero_iter`` asks it of
MMSR, ZeroBasedSkill, DawidSkene and GLAD): no iteration, a label for every task, no error."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from crowdlearn.aggregate.base import available, get_strategy_class
from crowdlearn.simulate import simulate

ITERATIVE = sorted(name for name in available()
                   if "n_iter" in inspect.signature(get_strategy_class(name)).parameters)


def test_the_iterative_strategies_are_found() -> None:
    assert {"ds", "glad", "mmsr", "zbs"} <= set(ITERATIVE)


@pytest.mark.parametrize("name", ITERATIVE)
def test_n_iter_zero(name: str) -> None:
    # two classes: KOS is binary only
    answers = simulate(60, 2, workers=[("one-coin", 5)], answers_per_task=3, seed=0).answers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a strategy may warn that it did not converge
        est = get_strategy_class(name)(n_iter=0).fit(answers)
    labels = np.asarray(est.labels_)
    assert labels.shape == (answers.n_tasks,)
