"""Label aggregation (truth inference): votes -> labels, posteriors and worker reliabilities.

Every strategy is a scikit-learn-style estimator (see :mod:`crowdlearn.aggregate.base`) and is
registered under short names (``mv``, ``ds``, ``glad``, ...) used by the CLI and
:func:`make_strategy`.
"""

from __future__ import annotations

from . import peerannot_names  # noqa: F401 - peerannot's names as aliases
from .agreement import IWMV, TwoThird, decided_labels
from .auto import AutoAggregator
from .base import (
    Aggregator,
    argmax_random_ties,
    available,
    get_strategy_class,
    make_strategy,
    parse_strategy_spec,
    register,
)
from .bayesian import BWA, EBCC, IBCC
from .dawid_skene import WDS, DawidSkene, DawidSkeneClust, OneCoinDawidSkene
from .default import PooledDawidSkene
from .glad import GLAD
from .kos import KOS
from .mace import MACE
from .mmsr import MMSR
from .multilabel import BinaryRelevance
from .plantnet import PlantNet
from .voting import GoldMajorityVote, MajorityVote, NaiveSoft, Wawa, ZeroBasedSkill

__all__ = [
    "AutoAggregator",
    "BWA",
    "BinaryRelevance",
    "EBCC",
    "GLAD",
    "IBCC",
    "IWMV",
    "KOS",
    "MACE",
    "MMSR",
    "WDS",
    "DawidSkene",
    "DawidSkeneClust",
    "GoldMajorityVote",
    "MajorityVote",
    "NaiveSoft",
    "OneCoinDawidSkene",
    "PlantNet",
    "TwoThird",
    "PooledDawidSkene",
    "Wawa",
    "ZeroBasedSkill",
    "Aggregator",
    "argmax_random_ties",
    "available",
    "decided_labels",
    "get_strategy_class",
    "make_strategy",
    "parse_strategy_spec",
    "register",
]
