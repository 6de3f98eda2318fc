"""Annot-Mix (Herde, Lührs, Huseljic & Sick, ECAI 2024): mixup over items *and* annotators.

Annot-Mix uses MaDL's annotator-performance network (one confusion matrix per (item, annotator)
pair, :mod:`crowdlearn.deep.heads._annotator_model`) and trains it with an extension of mixup
(Zhang et al., ICLR 2018) to the triples (item, annotator, answer). Each training batch's answers
``(x_a, m_a, l_a)`` are paired with a random permutation ``pi`` of themselves and mixed with a
coefficient ``lam_a ~ Beta(alpha, alpha)`` drawn per pair:

    x~ = lam x_a + (1 - lam) x_pi(a)                    the items (inputs of the classifier)
    u~ = lam E[m_a] + (1 - lam) E[m_pi(a)]              the annotator embeddings (= mixing the
                                                        annotators' one-hot vectors)
    z~ = lam e_{l_a} + (1 - lam) e_{l_pi(a)}            the answers, as soft labels

and the loss is the cross-entropy ``- sum_l z~_l log sum_k f_k(x~) P(x~, u~)[k, l]``, averaged
over the batch's answers. The classifier thus sees one mixed item per answer. As in the original,
the confusion network reads the classifier's hidden representation with its gradient stopped
(``detach``) and starts at ``eta = 0.9`` on the diagonal; ``alpha = 1`` (uniform coefficients).
Validation, prediction and :meth:`answer_log_probs` use the unmixed model.

Reference: M. Herde, L. Lührs, D. Huseljic and B. Sick, "Annot-Mix: learning with noisy class
labels from multiple annotators via a mixup extension", ECAI 2024, 2910-2918.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...answers import Answers
from ...params import Bool, Float, Int
from ..data import Batch
from ._annotator_model import AnnotatorPerformance, FeatureTap, mix_answer_log_probs
from .base import CrowdHead, register_head

__all__ = ["AnnotMix", "MixedBatch"]


@dataclass
class MixedBatch(Batch):
    """A batch of mixed answers: item ``i`` is answer ``i`` mixed with answer ``pi(i)``.

    ``rows`` is ``arange(A)``; ``workers``/``labels`` are the first answers', ``workers2``/
    ``labels2`` their partners', ``lam`` (A,) the weight of the first.
    """

    workers2: Tensor | None = None
    labels2: Tensor | None = None
    lam: Tensor | None = None


@register_head("annot-mix", "annotmix", "annot_mix")
class AnnotMix(CrowdHead):
    """Annot-Mix (Herde et al., ECAI 2024): MaDL's confusion network trained with mixup.

    Parameters
    ----------
    alpha:
        Mixup coefficients ``~ Beta(alpha, alpha)``; 0 switches mixup off (MaDL without
        weighting, with the gradient stopped at the hidden representation).
    eta:
        Prior probability of a correct answer, the confusion network's start (0.9).
    embed_dim:
        Size of the annotator and instance embeddings of the confusion network.
    detach:
        Stop the confusion network's gradient at the classifier's representation (original).
    """

    #: the confusion network learns 10 times slower than the classifier by default: at the
    #: same rate it memorises the answers of each item through the instance embedding (on a
    #: simulated crowd of 400 items, 3 classes, 4 annotators, 40 epochs at lr 3e-3: MaDL 66%
    #: accuracy and confusion error 0.38 at 1x, 97% and 0.14 at 0.1x; 48% at 10x)
    head_lr_factor = 0.1
    param_specs = {"alpha": Float(0), "eta": Float(0, 1, low_open=True, high_open=True),
                   "embed_dim": Int(1), "detach": Bool()}

    def __init__(self, n_classes: int, n_workers: int, input_shape: tuple[int, ...] = (),
                 embedding_dim: int = 0, alpha: float = 1.0, eta: float = 0.9,
                 embed_dim: int = 16, detach: bool = True) -> None:
        super().__init__(n_classes, n_workers)
        self.alpha, self.eta, self.embed_dim = float(alpha), float(eta), int(embed_dim)
        self.detach = bool(detach)
        use_backbone = int(embedding_dim) > 0
        in_dim = int(embedding_dim) if use_backbone else int(np.prod(input_shape or (1,)))
        self.tap = FeatureTap(use_backbone)
        self.ap = AnnotatorPerformance(n_classes, n_workers, in_dim, embed_dim, eta)
        self._rng = np.random.default_rng(0)
        self._gen = torch.Generator().manual_seed(0)

    def setup(self, answers: Answers, train_tasks: np.ndarray) -> None:
        # seeded from torch's global generator, which CrowdClassifier seeds: repeatable runs
        seed = int(torch.randint(0, 2**31 - 1, (1,)))
        self._rng = np.random.default_rng(seed)
        self._gen = torch.Generator().manual_seed(seed)

    def bind_backbone(self, backbone: nn.Module) -> None:
        self.tap.bind(backbone)

    def train_batch(self, batch: Batch) -> Batch:
        n = batch.n_answers
        if self.alpha <= 0 or n < 2:  # (one mixed item would break batch normalisation)
            return batch
        dev = batch.x.device
        lam = torch.as_tensor(self._rng.beta(self.alpha, self.alpha, size=n),
                              dtype=torch.float32, device=dev)
        perm = torch.randperm(n, generator=self._gen).to(dev)
        x = batch.x[batch.rows]
        shape = (n,) + (1,) * (x.dim() - 1)
        x = lam.reshape(shape) * x + (1 - lam.reshape(shape)) * x[perm]
        return MixedBatch(x=x, tasks=batch.tasks[batch.rows], rows=torch.arange(n, device=dev),
                          workers=batch.workers, labels=batch.labels,
                          workers2=batch.workers[perm], labels2=batch.labels[perm], lam=lam)

    def _features(self, batch: Batch) -> Tensor:
        feats = self.tap.features(batch.x)
        return (feats.detach() if self.detach else feats)[batch.rows]

    def answer_log_probs(self, logits: Tensor, batch: Batch) -> Tensor:
        log_f = F.log_softmax(logits.float(), dim=-1)[batch.rows]
        log_conf = self.ap.log_confusions(self._features(batch), batch.workers)
        return mix_answer_log_probs(log_f, log_conf)

    def nll(self, logits: Tensor, batch: Batch) -> Tensor:
        if not isinstance(batch, MixedBatch):
            return super().nll(logits, batch)
        lam = batch.lam.unsqueeze(1)
        emb = self.ap.annotator
        u = lam * emb(batch.workers) + (1 - lam) * emb(batch.workers2)
        log_conf = F.log_softmax(self.ap.logits(self._features(batch), u).float(), dim=-1)
        log_p = mix_answer_log_probs(F.log_softmax(logits.float(), dim=-1), log_conf)
        k = self.n_classes
        z = lam * F.one_hot(batch.labels, k) + (1 - lam) * F.one_hot(batch.labels2, k)
        return -(z * log_p).sum(1).mean()

    def answer_confusions(self, logits: Tensor, batch: Batch) -> Tensor:
        return self.ap.log_confusions(self._features(batch), batch.workers).exp()

    def confusions(self) -> Tensor:
        return self.ap.mean_confusions()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha}, eta={self.eta}"
