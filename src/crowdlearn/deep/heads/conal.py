"""Common noise adaptation layers, CoNAL (Chu, Ma & Wang, AAAI 2021).

CoNAL splits annotation noise into a *common* confusion, shared by every annotator (the mistakes
that hard items cause whoever labels them), and an *individual* confusion per annotator. An
auxiliary network decides, for each (item, annotator) pair, how much of each is at work.

Notation: ``K`` classes, ``M`` annotators, ``f(x)`` the classifier's softmax probabilities (a row
vector), ``C`` the common (K x K) matrix, ``W_m`` annotator ``m``'s individual (K x K) matrix,
rows = true class, columns = answer. The model of annotator ``m``'s answer on item ``x`` is::

    v(x)   = A vec(x) + a                        instance embedding (E = embedding_dim_aux)
    u_m    = U e_m                               annotator embedding (row m of a table)
    w(x,m) = sigmoid(<v(x)/|v(x)|, u_m/|u_m|>)   gate: weight of the common confusion
    h(x,m) = w(x,m) f(x) C + (1 - w(x,m)) f(x) W_m
    p(answer = l | x, m) = softmax(h(x,m))_l

The data term is the cross-entropy of the observed answers under ``p`` (mean over the batch's
answers) and the regulariser, which pushes the individual matrices away from the common one so
that the two kinds of noise are told apart, is::

    R = - scale * sum_m ||W_m - C||_F

Source of each detail (official code github.com/zdchu/CoNAL, files ``conal.py``,
``workflow.py``, ``losses.py``; peerannot's ``agg_deep/CoNAL.py`` and crowd-kit's
``learning/conal.py`` agree with it):

- ``C`` and every ``W_m`` are free real matrices initialised at ``2 I``; they multiply the
  classifier's *probabilities* and the mixture ``h`` is treated as *logits* (``CrossEntropyLoss``
  on it), not as probabilities: the row-wise softmax of ``W_m`` is what the model means by
  annotator ``m``'s confusion.
- The instance embedding is a linear map of the flattened item. The original stacks two linear
  layers (``d -> 128 -> 20``) with no activation between them, which is the same family of
  functions (a linear map of rank at most 20); we use one ``Linear(prod(input_shape), E)``.
- The annotator embedding is the original's ``Linear(M, E)`` applied to the one-hot vector of the
  annotator; an ``nn.Embedding(M, E)`` (the bias of the linear layer is absorbed in the table).
- Both embeddings are L2-normalised before their inner product (``F.normalize`` in the original),
  so the gate is a sigmoid of a cosine similarity and lies in ``[sigmoid(-1), sigmoid(1)]``,
  about ``[0.27, 0.73]``; ``E = 20`` as in the original.
- The regulariser is *subtracted* from the loss in the original (``loss -= 0.00001 *
  sum(norm(kernel - common_kernel))``, per-annotator Frobenius norms, once per batch), so
  ``scale = 1e-5`` by default and a positive ``scale`` rewards individual matrices that differ
  from the common one. The term is unbounded below; at the original's scale it only breaks the
  tie between ``C`` and ``W_m`` (both start at ``2 I``). ``scale = 0`` switches it off.
- While ``C = W_m`` (at initialisation) the gate has no effect and the auxiliary network gets no
  gradient; it starts learning as soon as the data (or the regulariser) separate the matrices.

Reference: Z. Chu, J. Ma and H. Wang, "Learning from crowds by modeling common confusions",
AAAI 2021, 35(7), 5832-5840.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import CrowdlearnError
from ...params import Float, Int
from ..data import Batch
from .base import CrowdHead, register_head

__all__ = ["CoNAL"]


@register_head("conal")
class CoNAL(CrowdHead):
    """CoNAL: common + individual noise adaptation layers (Chu, Ma & Wang, AAAI 2021).

    See the module docstring for the model and the sources of each detail.

    Parameters
    ----------
    input_shape:
        Shape of one item (filled in from the data); the auxiliary network reads the flattened
        item, ``prod(input_shape)`` features.
    embedding_dim_aux:
        Size ``E`` of the auxiliary network's instance and annotator embeddings (20 in the
        original).
    scale:
        Weight of the regulariser ``-scale * sum_m ||W_m - C||_F`` (``1e-5`` in the original;
        positive values push the individual matrices away from the common one).

    Parameters of the module: ``common`` (K, K) = ``C``, ``local`` (M, K, K) = the ``W_m``,
    ``instance_embedding`` (a ``Linear``) and ``annotator_embedding`` (an ``Embedding``).

    :meth:`confusions` returns the individual confusions ``softmax(W_m)`` (row-wise), annotator
    ``m``'s answer distribution when the classifier is certain of the row's class and the gate is
    closed; pass ``gate`` to mix in the common confusion as the model does (see :meth:`gates`).
    :meth:`common_confusion` returns ``softmax(C)``.
    """

    param_specs = {"embedding_dim_aux": Int(1), "scale": Float()}

    def __init__(self, n_classes: int, n_workers: int, input_shape: tuple[int, ...] = (),
                 embedding_dim_aux: int = 20, scale: float = 1e-5) -> None:
        super().__init__(n_classes, n_workers)
        try:
            shape = tuple(int(s) for s in input_shape)
        except (TypeError, ValueError) as exc:
            raise CrowdlearnError(f"CoNAL input_shape {input_shape!r} is not a shape") from exc
        if any(s < 1 for s in shape):
            raise CrowdlearnError(f"CoNAL input_shape {shape} has an empty dimension")
        try:
            dim_aux = int(embedding_dim_aux)
        except (TypeError, ValueError):
            dim_aux = 0
        if dim_aux < 1 or dim_aux != embedding_dim_aux:
            raise CrowdlearnError(
                f"CoNAL embedding_dim_aux must be a positive integer, got {embedding_dim_aux!r}")
        scale = float(scale)
        if not math.isfinite(scale):
            raise CrowdlearnError(f"CoNAL scale must be finite, got {scale!r}")
        self.input_shape = shape
        self.input_dim = math.prod(shape)
        self.embedding_dim_aux = dim_aux
        self.scale = scale
        k, m = self.n_classes, self.n_workers
        eye2 = 2.0 * torch.eye(k)
        self.common = nn.Parameter(eye2.clone())                     # C   (K true, K answer)
        self.local = nn.Parameter(eye2.expand(m, k, k).clone())      # W_m (M, K true, K answer)
        self.instance_embedding = nn.Linear(self.input_dim, self.embedding_dim_aux)
        self.annotator_embedding = nn.Embedding(m, self.embedding_dim_aux)

    # ------------------------------------------------------------------ auxiliary network
    def _instance_codes(self, x: Tensor) -> Tensor:
        """Normalised instance embeddings v(x)/|v(x)| of items ``x`` (B, ...) -> (B, E)."""
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.input_dim:
            raise CrowdlearnError(
                f"CoNAL was built for items of shape {self.input_shape} ({self.input_dim} "
                f"features), got items of shape {tuple(x.shape[1:])}"
            )
        weight = self.instance_embedding.weight
        return F.normalize(self.instance_embedding(flat.to(weight.dtype)), dim=-1)

    def _annotator_codes(self, workers: Tensor | None = None) -> Tensor:
        """Normalised annotator embeddings u_m/|u_m| (all annotators, or ``workers``)."""
        table = self.annotator_embedding.weight
        return F.normalize(table if workers is None else table[workers], dim=-1)

    def gates(self, x: Tensor, workers: Tensor | None = None) -> Tensor:
        """Gate w(x, m), the weight of the common confusion.

        With ``workers=None``: (B, M), every item of ``x`` against every annotator; with a (B,)
        tensor of annotator indices: (B,), item ``i`` against annotator ``workers[i]``.
        """
        v = self._instance_codes(x)
        if workers is None:
            return torch.sigmoid(v @ self._annotator_codes().T)
        return torch.sigmoid((v * self._annotator_codes(workers)).sum(-1))

    # ------------------------------------------------------------------ model
    def answer_log_probs(self, logits: Tensor, batch: Batch) -> Tensor:
        f = F.softmax(logits, dim=-1)                                   # (B, K)
        v = self._instance_codes(batch.x)                               # (B, E)
        u = self._annotator_codes(batch.workers)                        # (A, E)
        w = torch.sigmoid((v[batch.rows] * u).sum(-1)).unsqueeze(1)     # (A, 1)
        common = (f @ self.common)[batch.rows]                          # (A, K)  f C
        fa = f[batch.rows]                                              # (A, K)
        local = torch.bmm(fa.unsqueeze(1), self.local[batch.workers]).squeeze(1)  # f W_m
        return F.log_softmax(w * common + (1.0 - w) * local, dim=-1)

    def regularizer(self, logits: Tensor, batch: Batch) -> Tensor | float:
        if self.scale == 0.0:
            return 0.0
        diff = (self.local - self.common).flatten(1)                   # (M, K K)
        return -self.scale * torch.linalg.vector_norm(diff, dim=1).sum()

    # ------------------------------------------------------------------ estimates
    @torch.no_grad()
    def confusions(self, gate: Tensor | float | None = None) -> Tensor:
        """Annotators' confusions (M, K, K), rows = true class, rows sum to 1.

        ``gate=None``: the individual confusions ``softmax(W_m)`` (row-wise). With a gate
        (a number, or one per annotator, shape (M,)), the confusion the model uses at that gate:
        ``softmax(g_m C + (1 - g_m) W_m)``, e.g. ``gate=head.gates(x).mean(0)`` for each
        annotator's confusion at its mean gate over items ``x``.
        """
        mats = self.local.float()
        if gate is not None:
            g = torch.as_tensor(gate, dtype=mats.dtype, device=mats.device)
            g = g.reshape(-1, 1, 1) if g.ndim else g
            mats = g * self.common.float() + (1.0 - g) * mats
        return F.softmax(mats, dim=-1)

    @torch.no_grad()
    def common_confusion(self) -> Tensor:
        """The common confusion ``softmax(C)`` (K, K), rows = true class, rows sum to 1."""
        return F.softmax(self.common.float(), dim=-1)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, input_dim={self.input_dim}, "
                f"embedding_dim_aux={self.embedding_dim_aux}, scale={self.scale}")
