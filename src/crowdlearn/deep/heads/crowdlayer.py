"""The crowd layer (Rodrigues & Pereira, AAAI 2018).

Each annotator ``m`` gets a small layer that maps the classifier's softmax output ``p`` to the
logits of that annotator's answer; the loss is the cross-entropy of the observed answers only (the
original's masked loss for missing answers). Connection types, as in the original Keras code:

=====  ==========================================  ================
type   annotator logits                             initialisation
=====  ==========================================  ================
MW     ``p @ W_m`` (K x K matrix)                   identity
VW     ``p * w_m`` (vector of K weights)            ones
VB     ``p + b_m`` (vector of K biases)             zeros
VW+B   ``p * w_m + b_m``                            ones, zeros
SW     ``p * s_m`` (one scalar)                     ones
=====  ==========================================  ================

Reference: F. Rodrigues and F. Pereira, "Deep learning from crowds", AAAI 2018.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import CrowdlearnError
from ...params import Choice
from ..data import Batch
from .base import CrowdHead, register_head

__all__ = ["CrowdLayer"]

ConnType = Literal["MW", "VW", "VB", "VW+B", "SW"]
_CONN_TYPES = ("MW", "VW", "VB", "VW+B", "SW")


@register_head("crowdlayer", "crowd-layer", "crowd_layer")
class CrowdLayer(CrowdHead):
    """Crowd layer (Rodrigues & Pereira, AAAI 2018) with MW, VW, VB, VW+B or SW connections.

    Parameters
    ----------
    conn_type:
        Connection type (see the module docstring), case-insensitive.
    init:
        ``"default"`` (identity for matrices, ones for weights, zeros for biases), or force
        ``"identity"``, ``"ones"`` or ``"zeros"`` for the weights (biases always start at zero).

    The estimated confusion of annotator ``m`` (:meth:`confusions`) is the layer's answer
    distribution when the classifier is certain of class ``k``: row ``k`` = softmax of the layer
    applied to the one-hot vector ``e_k``.
    """

    param_specs = {"conn_type": Choice(*_CONN_TYPES),
                   "init": Choice("default", "identity", "ones", "zeros")}

    def __init__(self, n_classes: int, n_workers: int, conn_type: str = "MW",
                 init: str = "default") -> None:
        super().__init__(n_classes, n_workers)
        conn = str(conn_type).upper().replace(" ", "")
        if conn not in _CONN_TYPES:
            raise CrowdlearnError(
                f"crowd layer conn_type {conn_type!r} is not one of {', '.join(_CONN_TYPES)}"
            )
        if init not in ("default", "identity", "ones", "zeros"):
            raise CrowdlearnError(
                f"crowd layer init {init!r} is not one of default, identity, ones, zeros"
            )
        self.conn_type = conn
        self.init = init
        m, k = self.n_workers, self.n_classes
        self.weight: nn.Parameter | None = None
        self.bias: nn.Parameter | None = None
        if conn == "MW":
            base = {"default": torch.eye(k), "identity": torch.eye(k), "ones": torch.ones(k, k),
                    "zeros": torch.zeros(k, k)}[init]
            self.weight = nn.Parameter(base.expand(m, k, k).clone())
        elif conn in ("VW", "VW+B"):
            value = 0.0 if init == "zeros" else 1.0
            self.weight = nn.Parameter(torch.full((m, k), value))
        elif conn == "SW":
            value = 0.0 if init == "zeros" else 1.0
            self.weight = nn.Parameter(torch.full((m,), value))
        if conn in ("VB", "VW+B"):
            self.bias = nn.Parameter(torch.zeros(m, k))

    def _annotator_logits(self, p: Tensor, workers: Tensor) -> Tensor:
        """Logits of annotators ``workers`` (A,) given classifier probabilities ``p`` (A, K)."""
        c = self.conn_type
        if c == "MW":
            return torch.bmm(p.unsqueeze(1), self.weight[workers]).squeeze(1)
        out = p
        if c in ("VW", "VW+B"):
            out = out * self.weight[workers]
        elif c == "SW":
            out = out * self.weight[workers].unsqueeze(1)
        if self.bias is not None:
            out = out + self.bias[workers]
        return out

    def answer_log_probs(self, logits: Tensor, batch: Batch) -> Tensor:
        p = F.softmax(logits, dim=-1)[batch.rows]
        return F.log_softmax(self._annotator_logits(p, batch.workers), dim=-1)

    @torch.no_grad()
    def confusions(self) -> Tensor:
        m, k = self.n_workers, self.n_classes
        dev = (self.weight if self.weight is not None else self.bias).device
        eye = torch.eye(k, device=dev)
        workers = torch.arange(m, device=dev).repeat_interleave(k)
        onehots = eye.repeat(m, 1)                                     # (M K, K)
        out = self._annotator_logits(onehots, workers)
        return F.softmax(out.float(), dim=-1).reshape(m, k, k)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, conn_type={self.conn_type!r}"
