"""crowd-kit's learning layers (``crowdkit.learning``) for your own PyTorch models.

A crowd-kit user who puts a crowd layer or CoNAL on top of a network of their own switches by
changing the import::

    # from crowdkit.learning import CoNAL, CrowdLayer
    from crowdlearn.learning import CoNAL, CrowdLayer

The constructors, the ``forward`` signatures and the parameter names are crowd-kit's (v1.4.1),
so code and saved ``state_dict``\\ s carry over. What differs (each said where it applies):

* :class:`CoNAL` returns proper probabilities: crowd-kit mixes the common part (the softmax of
  the classifier times the *raw* common matrix, not a distribution) with the log of the
  annotator's part, which is neither a probability nor a log-probability. Here both parts are
  the classifier's distribution passed through a row-softmax confusion, so the output rows sum
  to one and ``torch.log`` of it feeds ``nn.NLLLoss``.
* ``user_feature`` may be any array (crowd-kit's ``user_feature or ...`` fails on a numpy
  array).
* :class:`CrowdLayer` also takes ``conn_type="sw"`` (one scale per annotator), as
  ``crowdlearn fit -s "crowdlayer[conn_type=SW]"``.

crowd-kit's ``TextSummarization`` (a wrapper of Hugging Face models) is not provided. For
training from answers end to end, :class:`crowdlearn.deep.CrowdClassifier` runs these models (and
MaDL, Annot-Mix, COINNet, UnionNet, the CCEM family) in one training loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CoNAL", "CrowdLayer"]

_CONN_TYPES = ("mw", "vw", "vb", "vw+b", "sw")


class CrowdLayer(nn.Module):
    """Crowd layer (Rodrigues & Pereira, AAAI 2018) with crowd-kit's interface.

    ``forward(outputs, workers)`` maps each row of ``outputs`` (batch x K, usually the
    classifier's logits) to the output of annotator ``workers[i]``:

    ========  ==================================  ======================  ==================
    type      output                              parameters              initialisation
    ========  ==================================  ======================  ==================
    ``mw``    ``weight[w] @ x``                   ``weight`` (M, K, K)    identity
    ``vw``    ``weight[w] * x``                   ``weight`` (M, K)       ones
    ``vb``    ``x + weight[w]``                   ``weight`` (M, K)       zeros
    ``vw+b``  ``scale[w] * x + bias[w]``          ``scale``, ``bias``     ones, zeros
    ``sw``    ``weight[w] * x``                   ``weight`` (M,)         ones
    ========  ==================================  ======================  ==================

    Train with ``nn.CrossEntropyLoss()(layer(logits[rows], workers), answers)`` over the observed
    (item, annotator, answer) triples.

    Reference: F. Rodrigues and F. Pereira, "Deep learning from crowds", AAAI 2018.
    """

    def __init__(self, num_labels: int, n_workers: int, conn_type: str = "mw",
                 device: Any = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        conn = str(conn_type).lower()
        if conn not in _CONN_TYPES:
            raise ValueError(f"Unknown connection type for CrowdLayer: {conn_type!r} (one of "
                             f"{', '.join(_CONN_TYPES)})")
        self.conn_type = conn
        self.n_workers = int(n_workers)
        m, k = int(n_workers), int(num_labels)
        kw = {"device": device, "dtype": dtype}
        if conn == "mw":
            self.weight = nn.Parameter(torch.eye(k, **kw).expand(m, k, k).clone())
        elif conn == "vw":
            self.weight = nn.Parameter(torch.ones(m, k, **kw))
        elif conn == "vb":
            self.weight = nn.Parameter(torch.zeros(m, k, **kw))
        elif conn == "sw":
            self.weight = nn.Parameter(torch.ones(m, **kw))
        else:  # vw+b
            self.scale = nn.Parameter(torch.ones(m, k, **kw))
            self.bias = nn.Parameter(torch.zeros(m, k, **kw))

    def forward(self, outputs: Tensor, workers: Tensor) -> Tensor:
        c = self.conn_type
        if c == "mw":
            return torch.bmm(self.weight[workers], outputs.unsqueeze(-1)).squeeze(-1)
        if c == "vw":
            return self.weight[workers] * outputs
        if c == "vb":
            return outputs + self.weight[workers]
        if c == "sw":
            return self.weight[workers].unsqueeze(-1) * outputs
        return self.scale[workers] * outputs + self.bias[workers]

    def extra_repr(self) -> str:
        return f"n_workers={self.n_workers}, conn_type={self.conn_type!r}"


class CoNAL(nn.Module):
    """Common Noise Adaptation Layers (Chu, Ma & Wang, AAAI 2021) with crowd-kit's interface.

    ``forward(embeddings, logits, workers)`` returns the probability of each answer of annotator
    ``workers[i]`` on item ``i`` (batch x K, rows summing to one)::

        p_answer = g * softmax(logits) @ softmax(common_confusion_matrix)
                 + (1 - g) * softmax(logits) @ softmax(annotator_confusion_matrices[w])

    with the gate ``g = sigmoid(<normalise(f(embeddings)), normalise(u(user_feature[w]))>)``:
    ``f`` is two linear layers (``diff_linear_1``, 128 units, sized on the first call, and
    ``diff_linear_2``), ``u`` one linear layer of the annotator's features (one-hot by default).
    Confusion rows are the true class; their logits start at ``2 I`` as in crowd-kit. Train
    with ``nn.NLLLoss()(torch.log(out), answers)``. (crowd-kit returns a mixture of a
    probability and a log-probability here; see the module docstring.)

    Reference: Z. Chu, J. Ma and H. Wang, "Learning from crowds by modeling common
    confusions", AAAI 2021.
    """

    def __init__(self, num_labels: int, n_workers: int, com_emb_size: int = 20,
                 user_feature: Any = None) -> None:
        super().__init__()
        k, m = int(num_labels), int(n_workers)
        self.n_workers = m
        self.annotator_confusion_matrices = nn.Parameter(2.0 * torch.eye(k).expand(m, k, k)
                                                         .clone())
        self.common_confusion_matrix = nn.Parameter(2.0 * torch.eye(k))
        feats = np.eye(m, dtype=np.float32) if user_feature is None \
            else np.asarray(user_feature, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[0] != m:
            raise ValueError(f"user_feature must have one row per worker ({m}), got shape "
                             f"{feats.shape}")
        self.user_feature_vec = nn.Parameter(torch.from_numpy(feats), requires_grad=False)
        self.diff_linear_1 = nn.LazyLinear(128)
        self.diff_linear_2 = nn.Linear(128, com_emb_size)
        self.user_feature_1 = nn.Linear(feats.shape[1], com_emb_size)

    def simple_common_module(self, input: Tensor, workers: Tensor) -> Tensor:
        """The gate ``g`` (batch x 1): how much of annotator ``w``'s noise on the item is the
        crowd's common confusion."""
        item = F.normalize(self.diff_linear_2(self.diff_linear_1(input)))
        user = F.normalize(self.user_feature_1(self.user_feature_vec[workers]))
        return torch.sigmoid((item * user).sum(dim=1)).unsqueeze(1)

    def forward(self, embeddings: Tensor, logits: Tensor, workers: Tensor) -> Tensor:
        x = embeddings.reshape(embeddings.size(0), -1)
        gate = self.simple_common_module(x, workers)
        p = F.softmax(logits, dim=-1)
        common = p @ F.softmax(self.common_confusion_matrix, dim=-1)
        own = torch.bmm(p.unsqueeze(1),
                        F.softmax(self.annotator_confusion_matrices[workers], dim=-1)).squeeze(1)
        return gate * common + (1 - gate) * own
