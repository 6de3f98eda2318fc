"""The crowd-head base class and the registry of end-to-end strategy names.

A *crowd head* is an :class:`torch.nn.Module` that sits on top of a classifier: it maps the
classifier's logits for a batch of items to a distribution over each annotator's answer, and
defines the loss of the batch. The training loop knows nothing else about it::

    logits = backbone(batch.x)
    loss = head.loss(logits, batch)

Subclasses implement :meth:`CrowdHead.answer_log_probs` (log p(answer | item, annotator) for every
answer of the batch) and optionally :meth:`CrowdHead.regularizer` and
:meth:`CrowdHead.confusions`; heads that do not score individual answers (two-stage training on
aggregated labels) override :meth:`CrowdHead.nll` instead.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...answers import Answers
from ...errors import CrowdlearnError
from ...params import Param, check_params, specs_of
from ..data import Batch

__all__ = ["CrowdHead", "available_heads", "get_head_class", "make_head", "register_head"]

_HEADS: dict[str, type[CrowdHead]] = {}

#: constructor arguments that the library fills in from the data (not user parameters)
CONTEXT_ARGS = ("n_classes", "n_workers", "input_shape", "embedding_dim")


def register_head(*names: str):
    """Class decorator: make a crowd head available under ``names`` (lower case)."""

    def deco(cls: type[CrowdHead]) -> type[CrowdHead]:
        for n in names:
            key = n.lower()
            if key in _HEADS and _HEADS[key] is not cls:
                raise ValueError(f"head name {key!r} registered twice")
            _HEADS[key] = cls
        if not cls.__dict__.get("name"):
            cls.name = names[0].lower()
        return cls

    return deco


def available_heads() -> list[str]:
    """Canonical names of every registered end-to-end strategy, in registration order."""
    seen: list[str] = []
    for cls in _HEADS.values():
        if cls.name not in seen:
            seen.append(cls.name)
    return seen


def get_head_class(name: str) -> type[CrowdHead]:
    key = name.lower().replace("_", "-")
    if key not in _HEADS:
        raise CrowdlearnError(
            f"unknown end-to-end strategy {name!r}; choose from {', '.join(available_heads())}"
        )
    return _HEADS[key]


def head_param_names(cls: type[CrowdHead]) -> list[str]:
    sig = inspect.signature(cls.__init__)
    return [
        p.name for p in sig.parameters.values()
        if p.name not in ("self", *CONTEXT_ARGS)
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def make_head(name: str, *, n_classes: int, n_workers: int, input_shape: tuple[int, ...] = (),
              embedding_dim: int = 0, **params: Any) -> CrowdHead:
    """Instantiate the head registered under ``name`` with user ``params``.

    ``n_classes``, ``n_workers``, ``input_shape`` (shape of one item) and ``embedding_dim`` (size
    of the backbone's last hidden representation) are passed to the heads that ask for them.
    """
    cls = get_head_class(name)
    valid = head_param_names(cls)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise CrowdlearnError(
            f"strategy {cls.name!r} has no parameter {', '.join(unknown)} "
            f"(parameters: {', '.join(valid) or 'none'})"
        )
    check_params(f"strategy {cls.name!r}", specs_of(cls), params)
    context = {"n_classes": n_classes, "n_workers": n_workers, "input_shape": input_shape,
               "embedding_dim": embedding_dim}
    sig = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in context.items() if k in sig}
    return cls(**kwargs, **params)


class CrowdHead(nn.Module):
    """Base class of end-to-end crowd heads (see the module docstring).

    Parameters
    ----------
    n_classes:
        Number of classes ``K`` (true and answered).
    n_workers:
        Number of annotators ``M``.
    """

    name: ClassVar[str] = ""
    #: whether the head's loss uses the individual answers (False for two-stage training)
    uses_answers: ClassVar[bool] = True
    #: what each user parameter accepts (see :mod:`crowdlearn.params`; merged with the base
    #: classes'); a test checks every constructor parameter but ``CONTEXT_ARGS`` has one
    param_specs: ClassVar[dict[str, Param]] = {}
    #: the head's default learning rate relative to the classifier's: ``CrowdClassifier``'s
    #: ``head_lr=None`` means ``lr * head_lr_factor``
    head_lr_factor: ClassVar[float] = 1.0

    def __init__(self, n_classes: int, n_workers: int) -> None:
        super().__init__()
        self.n_classes = int(n_classes)
        self.n_workers = int(n_workers)

    # ------------------------------------------------------------------ hooks
    def setup(self, answers: Answers, train_tasks: np.ndarray) -> None:
        """Called once before training with all the answers and the training task indices."""

    def bind_backbone(self, backbone: nn.Module) -> None:
        """Called once before training with the classifier (heads that read its hidden
        representation, e.g. MaDL and Annot-Mix, attach a forward hook here)."""

    def train_batch(self, batch: Batch) -> Batch:
        """A training batch as the head wants it, before the classifier sees it (identity;
        Annot-Mix returns mixed items and answers). Called only while training."""
        return batch

    def answer_log_probs(self, logits: Tensor, batch: Batch) -> Tensor:
        """log p(answer = l | item, annotator): (answers x classes) for the batch's answers."""
        raise NotImplementedError

    def answer_confusions(self, logits: Tensor, batch: Batch) -> Tensor | None:
        """(answers x K x K) confusion of each answer's annotator on its item, rows = true class
        (call right after ``backbone(batch.x)``). Class-conditional heads: their
        :meth:`confusions` of the answers' annotators; instance-dependent heads override."""
        conf = self.confusions()
        return None if conf is None else conf[batch.workers]

    def regularizer(self, logits: Tensor, batch: Batch) -> Tensor | float:
        """Extra loss term of the batch (0 unless the strategy has one)."""
        return 0.0

    def lr_factors(self) -> dict[str, float]:
        """Head parameters (by name) that learn at ``factor * lr``, a multiple of the
        *classifier's* learning rate, instead of at ``head_lr`` (none by default; COINNet's
        per-answer outliers)."""
        return {}

    def confusions(self) -> Tensor | None:
        """Estimated (M x K x K) confusion matrices, rows = true class, rows sum to 1."""
        return None

    # ------------------------------------------------------------------ losses
    def nll(self, logits: Tensor, batch: Batch) -> Tensor:
        """Mean negative log-likelihood of the batch's answers (the data term of the loss)."""
        if batch.n_answers == 0:
            return logits.sum() * 0.0
        return F.nll_loss(self.answer_log_probs(logits.float(), batch), batch.labels)

    def loss(self, logits: Tensor, batch: Batch) -> Tensor:
        """Training loss of a batch: data term plus regulariser."""
        return self.nll(logits, batch) + self.regularizer(logits.float(), batch)

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}, n_workers={self.n_workers}"


def safe_logdet(gram: Tensor, ridge: float = 1e-4) -> Tensor:
    """log det of a symmetric positive semi-definite matrix, finite even when it is singular.

    Computes ``logdet(G + ridge * mean(diag G) * I)`` through a Cholesky factor: the ridge is
    relative to the matrix's scale, so the term keeps its gradient (it is never dropped) and a
    rank-deficient ``G`` (a batch smaller than the number of classes, collapsed predictions)
    gives a large finite penalty instead of ``-inf``/NaN.
    """
    k = gram.shape[-1]
    scale = gram.diagonal(dim1=-2, dim2=-1).mean().detach().clamp_min(1e-12)
    eye = torch.eye(k, dtype=gram.dtype, device=gram.device)
    chol, info = torch.linalg.cholesky_ex(gram + ridge * scale * eye)
    if bool(info.any()):  # numerically indefinite: fall back to an eigenvalue floor
        vals = torch.linalg.eigvalsh(gram).clamp_min(ridge * scale)
        return torch.log(vals).sum()
    return 2.0 * torch.log(chol.diagonal(dim1=-2, dim2=-1)).sum()
