"""UnionNet (Wei, Xie, Feng, Han & An, TNNLS 2022): the annotators' labels as one union.

UnionNet concatenates the one-hot answers of all ``M`` annotators into one vector of ``M K``
entries and learns a single *union transition matrix* ``T`` (K x M K, rows = true class) whose
rows are distributions over the whole union: ``T[k, (m, l)]`` is the probability, for an item of
class ``k``, of "annotator ``m`` answering ``l``". The model's distribution over the union is
``f(x) T`` and the loss is the cross-entropy of every observed (annotator, answer) entry:

    loss = - mean over answers r of log sum_k f_k(x_r) T[k, (m_r, l_r)]

(the paper sums over an item's answers and averages over items; the mean over answers differs
by the mean number of answers per item, a constant factor). Unlike per-annotator confusions,
the normalisation couples the annotators: ``T`` also learns how the probability mass of a class
is shared among them. ``T`` is the column-softmax of free logits that start at ``init_scale``
on each annotator block's diagonal (every block near the identity, the blocks equally likely).
Annotator ``m``'s confusion (:meth:`confusions`) is its block with rows renormalised.

Reference: H. Wei, R. Xie, L. Feng, B. Han and B. An, "Deep learning from multiple noisy
annotators as a union", IEEE Transactions on Neural Networks and Learning Systems, 2022.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...deep_defaults import HEAD_LR_FACTOR
from ...params import Float
from ..data import Batch
from .base import CrowdHead, register_head

__all__ = ["UnionNet"]


@register_head("unionnet", "union-net", "union_net")
class UnionNet(CrowdHead):
    """UnionNet (Wei et al., TNNLS 2022): one transition matrix over the union of the labels.

    Parameters
    ----------
    init_scale:
        The union logits start at ``init_scale`` on each block's diagonal, 0 elsewhere (6, as
        the CCEM family; the head learns ``head_lr_factor`` = 10 times faster than the
        classifier by default, as those heads).
    """

    head_lr_factor = HEAD_LR_FACTOR
    param_specs = {"init_scale": Float(0)}

    def __init__(self, n_classes: int, n_workers: int, init_scale: float = 6.0) -> None:
        super().__init__(n_classes, n_workers)
        self.init_scale = float(init_scale)
        eye = torch.eye(self.n_classes).expand(self.n_workers, -1, -1)
        #: (M, K true, K answer) blocks of the union logits
        self.union_logits = nn.Parameter(self.init_scale * eye.clone())

    def log_union(self) -> Tensor:
        """log T as (M, K true, K answer): for each true class a distribution over (m, l)."""
        z = self.union_logits.float()
        m, k = self.n_workers, self.n_classes
        flat = z.permute(1, 0, 2).reshape(k, m * k)            # (K true, M K)
        return F.log_softmax(flat, dim=1).reshape(k, m, k).permute(1, 0, 2)

    def answer_log_probs(self, logits: Tensor, batch: Batch) -> Tensor:
        log_f = F.log_softmax(logits, dim=-1)[batch.rows]       # (A, K true)
        log_t = self.log_union()[batch.workers]                 # (A, K true, K answer)
        return torch.logsumexp(log_f.unsqueeze(2) + log_t, dim=1)

    def confusions(self) -> Tensor:
        log_t = self.log_union()
        return F.softmax(log_t, dim=-1)  # each block's rows renormalised

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, init_scale={self.init_scale}"
