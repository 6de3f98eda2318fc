"""Coupled cross-entropy minimisation (CCEM) and its regularised variants.

Annotator ``m``'s confusion ``A_m`` (rows = true class, columns = answer) is the row-wise softmax of
free logits initialised close to the identity, and the probability of an answer ``l`` given the
item is ``p(l | x, m) = sum_k f_k(x) A_m[k, l]`` with ``f`` the classifier's softmax. The loss is
the negative log-likelihood of the observed (item, annotator, answer) triples only.

References
----------
- CCEM, GeoCrowdNet(F), GeoCrowdNet(W): S. Ibrahim, T. Nguyen and X. Fu, "Deep learning from
  crowdsourced labels: coupled cross-entropy minimization, identifiability, and regularization",
  ICLR 2023.
- TraceReg: R. Tanno, A. Saeedi, S. Sankaranarayanan, D. Alexander and N. Silberman, "Learning
  from noisy labels by regularized estimation of annotator confusion", CVPR 2019.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...deep_defaults import HEAD_LR_FACTOR
from ...params import Float
from ..data import Batch
from .base import CrowdHead, register_head, safe_logdet

__all__ = ["CCEM", "GeoCrowdNetF", "GeoCrowdNetW", "TraceReg"]


@register_head("ccem")
class CCEM(CrowdHead):
    """Coupled cross-entropy minimisation (Ibrahim, Nguyen & Fu, ICLR 2023).

    Parameters
    ----------
    init_scale:
        The confusion logits start at ``init_scale * I``. The official code has both ``6 I - 5``
        (same softmax as ``6 I``: 97% correct with 10 classes) and ``I``. Adam moves a logit by
        about the learning rate per step, so from ``6 I`` the matrices need thousands of steps
        at the classifier's rate: by default (``CrowdClassifier(head_lr=None)``) this head
        learns ``head_lr_factor`` = 10 times faster than the classifier
        (:data:`crowdlearn.deep_defaults.HEAD_LR_FACTOR`). Chosen by the held-out answers'
        loss (``val_loss``, no true label): on Music (100 epochs, 2 seeds) 10x lowers it from
        1.71-1.74 to 1.46-1.48 for CCEM and GeoCrowdNet(F/W) and from 2.30-2.32 to 1.46-1.59
        for Raykar, and the confusions' expected accuracy on the workers' answers goes from
        0.98 to 0.69-0.76 (the truth, used only to report it: 0.56); the Music
        cross-validation of ``benchmarks/music.py`` also chose 3-10x the classifier's rate
        for CCEM and GeoCrowdNet. On simulated crowds (500 items, 4 classes, 100 epochs) 10x
        lowers it from 1.29 to 0.82-0.86 (symmetric, spammer, adversarial and hammer-spammer
        annotators; estimation error 1.02 -> 0.15-0.23) and from 1.01 to 0.69 (hammer-spammer;
        0.59 -> 0.05-0.09); Raykar's joint loss from 2.78 to 0.86 and 1.54 to 0.61. With
        identical 60%-right annotators the two rates tie: the per-answer loss cannot tell their
        noise from a soft classifier (error 0.74-0.78; Raykar's joint likelihood can: 0.77 ->
        0.13).
    lam:
        Weight of the strategy's regulariser (unused by plain CCEM); ``None``: the strategy's
        ``default_lam`` (0.01 for GeoCrowdNet(F), GeoCrowdNet(W) and TraceReg, as in the
        official GeoCrowdNet code for Music).

    Attributes (through :meth:`confusions`): the (M, K, K) row-stochastic confusion matrices.
    """

    default_lam: float = 0.0
    head_lr_factor = HEAD_LR_FACTOR

    param_specs = {"init_scale": Float(0), "lam": Float(0, none=True)}

    def __init__(self, n_classes: int, n_workers: int, init_scale: float = 6.0,
                 lam: float | None = None) -> None:
        super().__init__(n_classes, n_workers)
        self.init_scale = float(init_scale)
        self.lam = float(self.default_lam if lam is None else lam)
        eye = torch.eye(self.n_classes).expand(self.n_workers, -1, -1)
        self.confusion_logits = nn.Parameter(self.init_scale * eye.clone())

    def log_confusions(self, workers: Tensor | None = None) -> Tensor:
        logits = self.confusion_logits if workers is None else self.confusion_logits[workers]
        return F.log_softmax(logits.float(), dim=-1)

    def confusions(self) -> Tensor:
        return self.log_confusions().exp()

    def answer_log_probs(self, logits: Tensor, batch: Batch) -> Tensor:
        log_f = F.log_softmax(logits, dim=-1)[batch.rows]            # (A, K) true class
        log_a = self.log_confusions(batch.workers)                   # (A, K true, K answer)
        return torch.logsumexp(log_f.unsqueeze(2) + log_a, dim=1)    # (A, K answer)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, init_scale={self.init_scale}, lam={self.lam}"


@register_head("geocrowdnet-f", "geocrowdnet_f", "geocrowdnetf")
class GeoCrowdNetF(CCEM):
    """GeoCrowdNet(F): CCEM - lam * logdet(F^T F), F the batch's classifier probabilities.

    Ibrahim, Nguyen & Fu, ICLR 2023. The volume term pushes the classifier's outputs to span the
    whole simplex, which makes the factorisation identifiable when some items are near-pure. The
    Gram matrix is divided by the batch size (a constant shift of the log-determinant) and
    regularised as described in :func:`~crowdlearn.deep.heads.base.safe_logdet`.
    """

    default_lam = 0.01

    def regularizer(self, logits: Tensor, batch: Batch) -> Tensor | float:
        if self.lam == 0.0:
            return 0.0
        f = F.softmax(logits, dim=-1)
        return -self.lam * safe_logdet(f.T @ f / f.shape[0])


@register_head("geocrowdnet-w", "geocrowdnet_w", "geocrowdnetw")
class GeoCrowdNetW(CCEM):
    """GeoCrowdNet(W): CCEM - lam * logdet(W^T W), W the annotators' confusions stacked.

    Ibrahim, Nguyen & Fu, ICLR 2023. ``W`` is the (M K x K) matrix whose blocks are the
    column-stochastic ``A_m`` of the paper (our row-stochastic matrices transposed), so
    ``W^T W = sum_m C_m C_m^T``; the term rewards a large volume of the stacked confusions, as
    the original trainer's ``VOLMINEECS_LOGDETW`` (``-log det(W^T W)``). A later version of the
    official code also offers the opposite, minimum-volume sign; on simulated crowds it collapses
    once the confusions learn quickly (39-46% accuracy against 93-95% with this sign, measured by
    ``benchmarks/simulated.py``'s author), so the maximum-volume sign is the one used here. The
    log-determinant is regularised as in :func:`~crowdlearn.deep.heads.base.safe_logdet`.
    """

    default_lam = 0.01

    def regularizer(self, logits: Tensor, batch: Batch) -> Tensor | float:
        if self.lam == 0.0:
            return 0.0
        c = self.confusions()                       # (M, K true, K answer)
        gram = torch.einsum("mkl,mjl->kj", c, c)    # sum_m C_m C_m^T
        return -self.lam * safe_logdet(gram)


@register_head("tracereg", "trace-reg", "trace_reg")
class TraceReg(CCEM):
    """TraceReg (Tanno et al., CVPR 2019): CCEM + lam * sum_m trace(A_m).

    Minimising the traces drives each estimated annotator to be as noisy as the data allow, which
    leaves the classifier as the cleanest explanation of the answers.
    """

    default_lam = 0.01

    def regularizer(self, logits: Tensor, batch: Batch) -> Tensor | float:
        if self.lam == 0.0:
            return 0.0
        return self.lam * self.confusions().diagonal(dim1=1, dim2=2).sum()
