"""End-to-end crowd heads: each maps classifier logits to annotator answer distributions.

=================  =============================================================  ==========
name               strategy                                                       module
=================  =============================================================  ==========
``two-stage``      train on labels aggregated by any label-only strategy          twostage
``crowdlayer``     crowd layer, MW / VW / VB / VW+B / SW (Rodrigues & Pereira 2018) crowdlayer
``conal``          common + individual noise adaptation (Chu, Ma & Wang 2021)     conal
``ccem``           coupled cross-entropy minimisation (Ibrahim et al. 2023)       ccem
``geocrowdnet-f``  CCEM - lambda logdet(F^T F)                                    ccem
``geocrowdnet-w``  CCEM - lambda logdet(W^T W)                                    ccem
``tracereg``       CCEM + lambda sum trace(A_m) (Tanno et al. 2019)               ccem
``raykar``         joint likelihood of each item's answers (Raykar et al. 2010)   raykar
``madl``           instance-dependent confusions (Herde et al., TMLR 2023)        madl
``annot-mix``      MaDL's confusions + mixup of items and answers (ECAI 2024)     annotmix
``coinnet``        CCEM + sparse instance outliers (Nguyen et al., NeurIPS 2024)  coinnet
``unionnet``       one transition matrix over all labels (Wei et al., TNNLS 2022) unionnet
=================  =============================================================  ==========
"""

from __future__ import annotations  # noqa: I001  (registration order = table order)

from .base import CrowdHead, available_heads, get_head_class, make_head, register_head
from .twostage import TwoStage
from .crowdlayer import CrowdLayer
from .conal import CoNAL
from .ccem import CCEM, GeoCrowdNetF, GeoCrowdNetW, TraceReg
from .raykar import Raykar
from .madl import MaDL
from .annotmix import AnnotMix
from .coinnet import COINNet
from .unionnet import UnionNet

__all__ = [
    "CCEM", "COINNet", "AnnotMix", "CoNAL", "CrowdHead", "CrowdLayer", "GeoCrowdNetF",
    "GeoCrowdNetW", "MaDL", "Raykar", "TraceReg", "TwoStage", "UnionNet",
    "available_heads", "get_head_class", "make_head", "register_head",
]
