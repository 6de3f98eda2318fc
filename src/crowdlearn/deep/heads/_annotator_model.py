"""The annotator-performance model shared by MaDL and Annot-Mix (Herde et al.).

Both methods replace the per-annotator confusion *matrix* of the crowd layer / CCEM family by a
small network that outputs a confusion matrix for each (item, annotator) pair:

    u_m   = E[m]                                  annotator embedding (a table, M x D)
    v(x)  = W_x h(x) + b_x                        instance embedding of the classifier's last
                                                  hidden representation h(x) (or of the raw
                                                  flattened item for a backbone without one)
    g     = relu(W_h [u_m, v(x), u_m * v(x)] + b_h) + u_m     (residual on the annotator)
    P(x, m) = row-softmax(reshape(W_o g + b_o, K x K))        rows = true class

``b_o`` starts at ``log(eta (K - 1) / (1 - eta)) * I`` so that every annotator starts with
probability ``eta`` of answering the true class (MaDL's Eq. 19), and ``W_o`` at zero, so the
initial confusions are exactly that prior. The elementwise product ``u_m * v(x)`` is the
interaction term (MaDL's outer-product layer is a richer variant of it).

:class:`FeatureTap` reads ``h(x)`` through a forward hook on the backbone's last linear layer
(``backbone.classifier``, see :mod:`crowdlearn.deep.backbones`), so the training loop does not
change: the hook stores the input of that layer at every forward pass.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import CrowdlearnError

__all__ = ["AnnotatorPerformance", "FeatureTap"]


class FeatureTap:
    """The classifier's last hidden representation of the latest forward pass.

    ``use_backbone`` False: the raw items flattened (a backbone without ``classifier``).
    """

    def __init__(self, use_backbone: bool) -> None:
        self.use_backbone = use_backbone
        self.value: Tensor | None = None
        self._handle = None

    def bind(self, backbone: nn.Module) -> None:
        if not self.use_backbone:
            return
        layer = getattr(backbone, "classifier", None)
        if not isinstance(layer, nn.Linear):
            raise CrowdlearnError(
                "this strategy reads the classifier's last hidden representation: the backbone "
                "needs a final nn.Linear named 'classifier' (every built-in backbone has one)")
        if self._handle is not None:
            self._handle.remove()
        self._handle = layer.register_forward_hook(self._store)

    def _store(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        self.value = inputs[0]

    def features(self, x: Tensor) -> Tensor:
        """(B, d) features of the items ``x`` of the latest forward pass."""
        if not self.use_backbone:
            return x.reshape(x.shape[0], -1).float()
        if self.value is None or self.value.shape[0] != x.shape[0]:
            raise CrowdlearnError("the classifier's hidden representation is not available: "
                                  "call the backbone on the batch before the head")
        return self.value.float()


class AnnotatorPerformance(nn.Module):
    """(item, annotator) -> K x K confusion logits (see the module docstring)."""

    def __init__(self, n_classes: int, n_workers: int, in_dim: int, embed_dim: int = 16,
                 eta: float = 0.8) -> None:
        super().__init__()
        k, d = int(n_classes), int(embed_dim)
        self.n_classes = k
        self.annotator = nn.Embedding(int(n_workers), d)
        nn.init.normal_(self.annotator.weight, std=1.0 / math.sqrt(d))
        self.instance = nn.Linear(int(in_dim), d)
        self.hidden = nn.Linear(3 * d, d)
        self.output = nn.Linear(d, k * k)
        nn.init.zeros_(self.output.weight)
        prior = math.log(eta * (k - 1) / (1.0 - eta)) if k > 1 else 0.0
        with torch.no_grad():
            self.output.bias.copy_((prior * torch.eye(k)).flatten())
        #: running mean of the instance inputs (for the instance-free :meth:`mean_confusions`)
        self.register_buffer("feature_mean", torch.zeros(int(in_dim)))
        self.register_buffer("feature_seen", torch.zeros(()))

    def logits(self, features: Tensor, annot: Tensor) -> Tensor:
        """Confusion logits (A, K, K) of features (A, d) and annotator embeddings (A, D)."""
        if self.training:
            with torch.no_grad():
                m = features.detach().mean(0)
                rate = 1.0 / float(self.feature_seen + 1) if self.feature_seen < 20 else 0.05
                self.feature_mean.mul_(1 - rate).add_(rate * m)
                self.feature_seen.add_(1)
        v = self.instance(features)
        g = F.relu(self.hidden(torch.cat([annot, v, annot * v], dim=-1))) + annot
        return self.output(g).reshape(-1, self.n_classes, self.n_classes)

    def log_confusions(self, features: Tensor, workers: Tensor) -> Tensor:
        return F.log_softmax(self.logits(features, self.annotator(workers)).float(), dim=-1)

    @torch.no_grad()
    def mean_confusions(self) -> Tensor:
        """(M, K, K) each annotator's confusion at the mean training input (a summary of an
        instance-dependent model)."""
        was = self.training
        self.eval()
        m = self.annotator.num_embeddings
        dev = self.feature_mean.device
        feats = self.feature_mean.expand(m, -1)
        out = self.log_confusions(feats, torch.arange(m, device=dev)).exp()
        self.train(was)
        return out


def mix_answer_log_probs(log_f: Tensor, log_conf: Tensor) -> Tensor:
    """log sum_k f_k P[k, l]: (A, K) from class log-probabilities (A, K) and log P (A, K, K)."""
    return torch.logsumexp(log_f.unsqueeze(2) + log_conf, dim=1)
