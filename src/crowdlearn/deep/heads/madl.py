"""Multi-annotator deep learning, MaDL (Herde, Huseljic & Sick, TMLR 2023).

MaDL learns, beside the classifier ``f``, an *annotator-performance* network that gives each
(item, annotator) pair its own confusion matrix ``P(x, m)`` (instance-dependent noise): see
:mod:`crowdlearn.deep.heads._annotator_model`. The probability of annotator ``m`` answering
``l`` on item ``x`` is ``sum_k f_k(x) P(x, m)[k, l]``; the loss is the negative log-likelihood
of the observed answers only (missing answers are simply absent from the batch).

Optional annotator weighting (MaDL's Eqs. 21-23): annotators whose embeddings resemble many
others' (e.g. a swarm of identical spammers) get less weight. With the cosine kernel
``k(u, v) = exp(-gamma (1 - cos(u, v)))`` on the (detached) annotator embeddings, annotator
``m``'s weight is ``w_m proportional to 1 / sum_j k(u_m, u_j)`` (mean weight 1) and each answer's
loss is multiplied by its annotator's weight; the bandwidth ``gamma`` is learnt, with a
``Gamma(1.25, 0.25)`` prior (the original's defaults) whose negative log-density, divided by the
number of training answers, joins the loss.

Reference: M. Herde, D. Huseljic and B. Sick, "Multi-annotator deep learning: a probabilistic
framework for classification", Transactions on Machine Learning Research, 2023.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...answers import Answers
from ...params import Bool, Float, Int
from ..data import Batch
from ._annotator_model import AnnotatorPerformance, FeatureTap, mix_answer_log_probs
from .base import CrowdHead, register_head

__all__ = ["MaDL"]

_GAMMA_ALPHA, _GAMMA_BETA = 1.25, 0.25


@register_head("madl")
class MaDL(CrowdHead):
    """MaDL (Herde, Huseljic & Sick, TMLR 2023): instance-dependent annotator confusions.

    Parameters
    ----------
    eta:
        Prior probability that an annotator answers correctly: the confusion network starts at
        ``eta`` on the diagonal for every item and annotator (0.8 as in the original).
    embed_dim:
        Size of the annotator and instance embeddings of the confusion network.
    detach:
        Stop the confusion network's gradient at the classifier's hidden representation (the
        original lets it flow: ``False``).
    annotator_weights:
        Weight each answer by its annotator's similarity-based weight (see the module
        docstring); off by default.

    ``confusions()`` gives each annotator's confusion at the mean training input;
    ``answer_confusions`` the instance-dependent ones.
    """

    #: the confusion network learns 10 times slower than the classifier by default: at the
    #: same rate it memorises the answers of each item through the instance embedding (on a
    #: simulated crowd of 400 items, 3 classes, 4 annotators, 40 epochs at lr 3e-3: MaDL 66%
    #: accuracy and confusion error 0.38 at 1x, 97% and 0.14 at 0.1x; 48% at 10x)
    head_lr_factor = 0.1
    param_specs = {"eta": Float(0, 1, low_open=True, high_open=True), "embed_dim": Int(1),
                   "detach": Bool(), "annotator_weights": Bool()}

    def __init__(self, n_classes: int, n_workers: int, input_shape: tuple[int, ...] = (),
                 embedding_dim: int = 0, eta: float = 0.8, embed_dim: int = 16,
                 detach: bool = False, annotator_weights: bool = False) -> None:
        super().__init__(n_classes, n_workers)
        self.eta, self.embed_dim = float(eta), int(embed_dim)
        self.detach, self.annotator_weights = bool(detach), bool(annotator_weights)
        use_backbone = int(embedding_dim) > 0
        in_dim = int(embedding_dim) if use_backbone else int(np.prod(input_shape or (1,)))
        self.tap = FeatureTap(use_backbone)
        self.ap = AnnotatorPerformance(n_classes, n_workers, in_dim, embed_dim, eta)
        mode = max(0.0, (_GAMMA_ALPHA - 1) / _GAMMA_BETA)
        self.gamma = nn.Parameter(torch.tensor(mode)) if self.annotator_weights else None
        self._n_train_answers = 1

    def setup(self, answers: Answers, train_tasks: np.ndarray) -> None:
        ptr = np.asarray(answers.task_indptr)
        t = np.asarray(train_tasks, dtype=np.int64)
        self._n_train_answers = max(int((ptr[t + 1] - ptr[t]).sum()), 1)

    def bind_backbone(self, backbone: nn.Module) -> None:
        self.tap.bind(backbone)

    def _log_conf(self, batch: Batch) -> Tensor:
        feats = self.tap.features(batch.x)
        if self.detach:
            feats = feats.detach()
        return self.ap.log_confusions(feats[batch.rows], batch.workers)

    def answer_log_probs(self, logits: Tensor, batch: Batch) -> Tensor:
        log_f = F.log_softmax(logits.float(), dim=-1)[batch.rows]
        return mix_answer_log_probs(log_f, self._log_conf(batch))

    def weights(self) -> Tensor:
        """(M,) annotator weights, mean 1 (all ones without ``annotator_weights``)."""
        dev = self.ap.annotator.weight.device
        if self.gamma is None:
            return torch.ones(self.n_workers, device=dev)
        u = F.normalize(self.ap.annotator.weight.detach().float(), dim=1)
        sims = torch.exp(-self.gamma.clamp_min(1e-5) * (1.0 - u @ u.T))
        inv = 1.0 / sims.sum(0)
        return inv / inv.sum() * self.n_workers

    def nll(self, logits: Tensor, batch: Batch) -> Tensor:
        if batch.n_answers == 0:
            return logits.sum() * 0.0
        per = F.nll_loss(self.answer_log_probs(logits.float(), batch), batch.labels,
                         reduction="none")
        if self.gamma is None:
            return per.mean()
        return (per * self.weights()[batch.workers]).mean()

    def regularizer(self, logits: Tensor, batch: Batch) -> Tensor | float:
        if self.gamma is None:
            return 0.0
        g = self.gamma.clamp_min(1e-5)
        log_prior = (_GAMMA_ALPHA * math.log(_GAMMA_BETA) - math.lgamma(_GAMMA_ALPHA)
                     + (_GAMMA_ALPHA - 1) * torch.log(g) - _GAMMA_BETA * g)
        return -log_prior / self._n_train_answers

    def answer_confusions(self, logits: Tensor, batch: Batch) -> Tensor:
        return self._log_conf(batch).exp()

    def confusions(self) -> Tensor:
        return self.ap.mean_confusions()

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, eta={self.eta}, embed_dim={self.embed_dim}, "
                f"annotator_weights={self.annotator_weights}")
