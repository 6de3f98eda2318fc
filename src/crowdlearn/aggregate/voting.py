"""Voting strategies: majority vote, vote frequencies, Wawa, Zero-Based Skill and gold-weighted
majority vote.

One import path for the voting family, which lives in one module per concept:

* :mod:`.votes`: the vote arithmetic (vote tables and shares, majorities and tie-breaking,
  worker agreement) on the answer index arrays;
* :mod:`.majority`: plain votes, :class:`MajorityVote` (optionally weighted by given skills)
  and :class:`NaiveSoft`;
* :mod:`.skill_voting`: votes weighted by skills learned from the answers, :class:`Wawa` and
  :class:`ZeroBasedSkill`;
* :mod:`.gold_voting`: votes weighted by accuracy on gold tasks, :class:`GoldMajorityVote`.

Class names and parameters follow crowd-kit (``MajorityVote``, ``Wawa``, ``ZeroBasedSkill``) and
peerannot (``NaiveSoft``); the deliberate differences are listed in each class docstring.
"""

from __future__ import annotations

from .gold_voting import GoldMajorityVote
from .majority import MajorityVote, NaiveSoft
from .skill_voting import Wawa, ZeroBasedSkill
from .votes import (
    hard_labels,
    tied_max_probas,
    vote_frequencies,
    vote_table,
    worker_agreement,
)

__all__ = [
    "GoldMajorityVote",
    "MajorityVote",
    "NaiveSoft",
    "Wawa",
    "ZeroBasedSkill",
    "hard_labels",
    "tied_max_probas",
    "vote_frequencies",
    "vote_table",
    "worker_agreement",
]
