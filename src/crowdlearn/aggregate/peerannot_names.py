"""peerannot's strategy and parameter names as aliases of crowdlearn's strategies.

peerannot 0.0.1.post43 (``peerannot agginfo``) names its strategies ``majority_voting``,
``naive_soft``, ``dawid_skene``, ``dawid_skene_clust``, ``glad``, ``wds``, ``plantnet``,
``twothird``, ``iwmv`` and ``wawa``; its papers and older releases ``MV``, ``NaiveSoft``,
``DS``, ``GLAD``, ``WDS`` and ``DSWC[L=...]``. Every one of them (any case) resolves to a
crowdlearn strategy, and peerannot's bracket parameters (``L``, ``AI``, ``AIweight``; and
``maxiter`` / ``epsilon`` / ``nb_iter`` of its ``run()``, for every strategy) are accepted.
"""

from __future__ import annotations

from . import agreement, dawid_skene, plantnet, voting  # noqa: F401 - registers the names
from .base import add_aliases

#: peerannot name -> crowdlearn canonical name
PEERANNOT_STRATEGIES: dict[str, str] = {
    "majority_voting": "mv",
    "naive_soft": "naivesoft",
    "dawid_skene": "ds",
    "dawid_skene_clust": "dswc",
    "glad": "glad",
    "wds": "wds",
    "plantnet": "plantnet",
    "twothird": "twothird",
    "iwmv": "iwmv",
    "wawa": "wawa",
}

#: strategies whose ``get_probas()`` is their hard labels in peerannot: ``peerannot
#: aggregate`` writes hard labels (``-1`` where undecided) for them even without ``--hard``
PEERANNOT_HARD_ONLY: frozenset[str] = frozenset({"mv", "twothird", "iwmv", "wawa", "plantnet"})

add_aliases("mv", "majority_voting", "majority-voting", "majorityvoting")
add_aliases("naivesoft", "naive_soft", "naive-soft")
add_aliases("ds", "dawid_skene", "dawidskene")
add_aliases("dswc", "dawid_skene_clust", "dawid-skene-clust", "dawidskeneclust",
            params={"L": "n_clusters", "l": "n_clusters"})
add_aliases("plantnet", params={"AI": "ai", "AIweight": "ai_weight", "aiweight": "ai_weight"})
