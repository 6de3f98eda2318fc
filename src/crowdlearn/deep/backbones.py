"""Classifier backbones in plain PyTorch: MLP, LeNet-5, ResNet-9 and CIFAR-style ResNet-18/34.

Every backbone maps a batch of items to **logits** of shape ``(B, n_classes)`` (no softmax) and
offers the same small interface, which the crowd-learning methods rely on:

``features(x)``
    The representation just before the last linear layer, shape ``(B, embedding_dim)``.
``embedding_dim``
    The size of that representation.
``classifier``
    The last :class:`torch.nn.Linear`; ``forward(x) == classifier(features(x))``.

:func:`make_backbone` builds one by name from the shape of one input item, e.g.
``make_backbone("resnet18", (3, 32, 32), 10)``; ``"torchvision.models.NAME"`` wraps a torchvision
model (optionally pretrained) when torchvision is importable.

This module holds MLP, LeNet-5, the torchvision wrapper and the backbone registry; the ResNets
are in :mod:`crowdlearn.deep.resnets`, shared building blocks in
:mod:`crowdlearn.deep.backbone_parts` (both re-exported here).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from crowdlearn.deep.backbone_parts import _ACTIVATIONS, _activation, _check_positive, _widths
from crowdlearn.deep.resnets import ResNet9, ResNet18, ResNet34
from crowdlearn.errors import CrowdlearnError
from crowdlearn.params import Bool, Choice, Custom, Float, check_params, specs_of

__all__ = [
    "LeNet",
    "MLP",
    "ResNet9",
    "ResNet18",
    "ResNet34",
    "available_backbones",
    "count_parameters",
    "make_backbone",
]


# --------------------------------------------------------------------------------------------
# MLP
# --------------------------------------------------------------------------------------------


class MLP(nn.Module):
    """Multi-layer perceptron on flattened inputs (logistic regression when ``hidden=()``).

    Each hidden layer is ``Linear -> [BatchNorm1d] -> activation -> [Dropout]``; the last layer,
    :attr:`classifier`, is a plain ``Linear`` to ``n_classes`` logits. Inputs of shape
    ``(B, ...)`` are flattened to ``(B, in_features)``, so pre-extracted convolutional features
    (e.g. LabelMe's 4x4x512 VGG-16 features) can be fed as they are.

    Parameters
    ----------
    in_features:
        Number of input features after flattening one item.
    n_classes:
        Number of output logits.
    hidden:
        Widths of the hidden layers (an int means one layer); ``()`` gives logistic regression.
    dropout:
        Dropout probability after each hidden activation (no Dropout layer when 0).
    batch_norm:
        Insert ``BatchNorm1d`` between each hidden Linear and its activation.
    activation:
        One of ``relu``, ``leaky_relu``, ``elu``, ``gelu``, ``silu``, ``tanh``, ``sigmoid``.

    Attributes
    ----------
    embedding_dim:
        Size of :meth:`features`: the last hidden width, or ``in_features`` without hidden layer.
    classifier:
        The final ``Linear(embedding_dim, n_classes)``.
    """

    param_specs = {
        "hidden": Custom("a width (integer >= 1) or a list of widths, e.g. (256, 128) or ()",
                         _widths, bad=(0, "abc", (64, 0), 1.5)),
        "dropout": Float(0, 1, high_open=True),
        "batch_norm": Bool(),
        "activation": Choice(*_ACTIVATIONS),
    }

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        hidden: int | Sequence[int] = (128,),
        dropout: float = 0.5,
        batch_norm: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        in_features = _check_positive("in_features", in_features)
        n_classes = _check_positive("n_classes", n_classes)
        widths = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        widths = tuple(_check_positive("hidden layer width", w) for w in widths)
        if not 0.0 <= float(dropout) < 1.0:
            raise CrowdlearnError(f"dropout must be in [0, 1), got {dropout!r}")
        _activation(activation)  # validate early, before building layers
        layers: list[nn.Module] = []
        width = in_features
        for out in widths:
            layers.append(nn.Linear(width, out, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(out))
            layers.append(_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
            width = out
        self.in_features = in_features
        self.body = nn.Sequential(*layers)
        self.embedding_dim = width
        self.classifier = nn.Linear(width, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden representation, shape ``(B, embedding_dim)``."""
        return self.body(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(B, n_classes)``."""
        return self.classifier(self.features(x))


# --------------------------------------------------------------------------------------------
# LeNet-5
# --------------------------------------------------------------------------------------------


class LeNet(nn.Module):
    """LeNet-5 style convolutional network for small grey-scale images such as MNIST.

    ``conv 6@5x5 (padding 2) -> pool -> conv 16@5x5 -> pool -> fc 120 -> fc 84 -> fc n_classes``,
    after LeCun, Bottou, Bengio & Haffner (1998), "Gradient-based learning applied to document
    recognition", Proc. IEEE 86(11). Modern defaults: ReLU activations and max pooling (the
    original used scaled tanh and trainable sub-sampling; ``activation="tanh", pool="avg"``
    comes closer to it).

    Parameters
    ----------
    n_classes:
        Number of output logits.
    in_channels:
        Channels of the input images (1 for MNIST).
    input_size:
        Height and width of the input (an int for square images), e.g. 28 (MNIST) or 32; the
        size of the first fully-connected layer is computed from it. At least 12.
    activation:
        Activation after every conv and hidden fc layer (see :class:`MLP`).
    pool:
        ``"max"`` or ``"avg"`` 2x2 pooling.

    Attributes
    ----------
    embedding_dim:
        84, the width of the last hidden layer.
    classifier:
        The final ``Linear(84, n_classes)``.
    """

    param_specs = {"activation": Choice(*_ACTIVATIONS), "pool": Choice("max", "avg")}

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 1,
        input_size: int | tuple[int, int] = 28,
        activation: str = "relu",
        pool: str = "max",
    ) -> None:
        super().__init__()
        n_classes = _check_positive("n_classes", n_classes)
        in_channels = _check_positive("in_channels", in_channels)
        sizes = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        if len(sizes) != 2 or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 12 for s in sizes
        ):
            raise CrowdlearnError(
                f"LeNet needs input_size of at least 12x12 pixels, got {input_size!r}"
            )
        if pool not in ("max", "avg"):
            raise CrowdlearnError(f"pool must be 'max' or 'avg', got {pool!r}")
        pool_cls = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        _activation(activation)
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2),
            _activation(activation),
            pool_cls(2),
            nn.Conv2d(6, 16, kernel_size=5),
            _activation(activation),
            pool_cls(2),
        )
        # padding 2 keeps the size; pool halves it; the 5x5 conv removes 4 pixels; pool halves.
        h, w = (((s // 2) - 4) // 2 for s in sizes)
        self.fc = nn.Sequential(
            nn.Linear(16 * h * w, 120),
            _activation(activation),
            nn.Linear(120, 84),
            _activation(activation),
        )
        self.embedding_dim = 84
        self.classifier = nn.Linear(84, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 84-dimensional representation before the last layer."""
        return self.fc(self.conv(x).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(B, n_classes)``."""
        return self.classifier(self.features(x))


# --------------------------------------------------------------------------------------------
# torchvision wrapper
# --------------------------------------------------------------------------------------------


class _TorchvisionBackbone(nn.Module):
    """A torchvision classifier whose head is replaced by a new ``Linear`` to ``n_classes``.

    The original head is swapped for ``nn.Identity`` inside :attr:`model`, so ``model(x)`` gives
    the features and :attr:`classifier` the logits.
    """

    def __init__(self, model: nn.Module, n_classes: int, name: str) -> None:
        super().__init__()
        parent, attr, head = _find_head(model, name)
        setattr(parent, attr, nn.Identity())
        self.model = model
        self.embedding_dim = head.in_features
        self.classifier = nn.Linear(head.in_features, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The input of the original classification layer."""
        out = self.model(x)
        # Inception / GoogLeNet return (logits, aux...) named tuples in training mode.
        return out.logits if hasattr(out, "logits") else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(B, n_classes)``."""
        return self.classifier(self.features(x))


def _find_head(model: nn.Module, name: str) -> tuple[nn.Module, str, nn.Linear]:
    """The module holding the final ``Linear``, its attribute name and the ``Linear`` itself.

    Looks at ``fc`` (ResNet, Inception, RegNet, ShuffleNet), ``heads.head`` (ViT), ``head``
    (Swin), ``classifier`` (DenseNet) and ``classifier[-1]`` (VGG, EfficientNet, MobileNet,
    ConvNeXt, AlexNet).
    """
    candidates: list[tuple[nn.Module, str]] = []
    for path in ("fc", "heads.head", "head", "classifier"):
        parent: Any = model
        *outer, last = path.split(".")
        for part in outer:
            parent = getattr(parent, part, None)
        if isinstance(parent, nn.Module) and isinstance(getattr(parent, last, None), nn.Module):
            candidates.append((parent, last))
    for parent, attr in candidates:
        module = getattr(parent, attr)
        if isinstance(module, nn.Linear):
            return parent, attr, module
        if isinstance(module, nn.Sequential) and len(module) > 0:
            last_key = list(module._modules)[-1]
            if isinstance(module._modules[last_key], nn.Linear):
                return module, last_key, module._modules[last_key]  # type: ignore[return-value]
    raise CrowdlearnError(
        f"backbone {name!r}: cannot find its final Linear layer "
        "(looked at fc, heads.head, head, classifier, classifier[-1])"
    )


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    cls: type[nn.Module]
    derived: tuple[str, ...]  # constructor arguments filled from input_shape / n_classes
    image: bool  # needs a (C, H, W) input_shape
    min_size: int = 1  # smallest height / width accepted

    def parameters(self) -> list[str]:
        sig = inspect.signature(self.cls.__init__)
        return [p for p in list(sig.parameters)[1:] if p not in self.derived]


_REGISTRY: dict[str, _Entry] = {
    "mlp": _Entry(MLP, ("in_features", "n_classes"), image=False),
    "lenet": _Entry(LeNet, ("n_classes", "in_channels", "input_size"), image=True, min_size=12),
    "resnet9": _Entry(ResNet9, ("n_classes", "in_channels"), image=True, min_size=8),
    "resnet18": _Entry(ResNet18, ("n_classes", "in_channels"), image=True),
    "resnet34": _Entry(ResNet34, ("n_classes", "in_channels"), image=True),
}

_TORCHVISION_PREFIX = "torchvision.models."


def available_backbones() -> list[str]:
    """Names accepted by :func:`make_backbone` (besides ``"torchvision.models.NAME"``)."""
    return list(_REGISTRY)


def _normalize_name(name: str) -> str:
    return str(name).strip().lower().replace("-", "").replace("_", "")


def _check_input_shape(name: str, input_shape: Any, image: bool) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise CrowdlearnError(
            f"backbone {name!r}: input_shape must be a tuple of integers, got {input_shape!r}"
        ) from None
    if not shape or any(s < 1 for s in shape):
        raise CrowdlearnError(
            f"backbone {name!r}: input_shape must be non-empty and positive, got {input_shape!r}"
        )
    if image and len(shape) != 3:
        raise CrowdlearnError(
            f"backbone {name!r} needs images: input_shape must be (channels, height, width), "
            f"got {shape} (use 'mlp' for feature vectors)"
        )
    return shape


def make_backbone(
    name: str,
    input_shape: tuple[int, ...],
    n_classes: int,
    *,
    pretrained: bool = False,
    **params: Any,
) -> nn.Module:
    """Build the backbone registered as ``name`` for items of shape ``input_shape``.

    Parameters
    ----------
    name:
        One of :func:`available_backbones` (case-insensitive; ``"resnet-18"`` and
        ``"resnet_18"`` are accepted too), or ``"torchvision.models.NAME"`` for a torchvision
        model such as ``"torchvision.models.resnet50"`` (needs an importable torchvision).
    input_shape:
        Shape of one item: ``(124,)`` for a feature vector, ``(3, 32, 32)`` for an image. The
        MLP takes ``prod(input_shape)`` inputs; convolutional backbones need ``(C, H, W)``.
    n_classes:
        Number of output logits.
    pretrained:
        Load torchvision's default pretrained weights (torchvision models only).
    **params:
        Further constructor arguments, e.g. ``hidden=(256,), dropout=0.2`` for ``mlp``. For
        torchvision models they go to the torchvision builder.

    Returns
    -------
    torch.nn.Module
        Maps ``(B, *input_shape)`` to logits ``(B, n_classes)``; offers ``features(x)``,
        ``embedding_dim`` and ``classifier``.

    Raises
    ------
    CrowdlearnError
        Unknown name or parameter, unsuitable ``input_shape``, ``pretrained=True`` for a
        backbone of our own, or torchvision not importable.
    """
    raw = str(name).strip()
    if raw.lower().startswith(_TORCHVISION_PREFIX):
        model_name = raw[len(_TORCHVISION_PREFIX) :]
        return _make_torchvision(raw, model_name, input_shape, n_classes, pretrained, params)
    key = _normalize_name(raw)
    if key not in _REGISTRY:
        raise CrowdlearnError(
            f"unknown backbone {name!r}; available: {', '.join(_REGISTRY)}, "
            "or torchvision.models.NAME"
        )
    entry = _REGISTRY[key]
    if pretrained:
        raise CrowdlearnError(
            f"backbone {key!r} has no pretrained weights: pretrained weights exist only for "
            "torchvision models ('torchvision.models.NAME')"
        )
    accepted = entry.parameters()
    for p in params:
        if p in entry.derived:
            raise CrowdlearnError(
                f"backbone {key!r}: parameter {p!r} is set from input_shape / n_classes; "
                "do not pass it"
            )
        if p not in accepted:
            raise CrowdlearnError(
                f"backbone {key!r} has no parameter {p!r} "
                f"(parameters: {', '.join(accepted) or 'none'})"
            )
    check_params(f"backbone {key!r}", specs_of(entry.cls), params)
    shape = _check_input_shape(key, input_shape, entry.image)
    derived: dict[str, Any] = {"n_classes": n_classes}
    if entry.image:
        if min(shape[1:]) < entry.min_size:
            raise CrowdlearnError(
                f"backbone {key!r} needs images of at least {entry.min_size}x{entry.min_size} "
                f"pixels, got input_shape {shape}"
            )
        derived["in_channels"] = shape[0]
        if "input_size" in entry.derived:
            derived["input_size"] = (shape[1], shape[2])
    else:
        derived["in_features"] = math.prod(shape)
    return entry.cls(**derived, **params)


def _make_torchvision(
    name: str,
    model_name: str,
    input_shape: tuple[int, ...],
    n_classes: int,
    pretrained: bool,
    params: dict[str, Any],
) -> nn.Module:
    shape = _check_input_shape(name, input_shape, image=True)
    if shape[0] != 3:
        raise CrowdlearnError(
            f"backbone {name!r}: torchvision models take 3-channel images, got input_shape {shape}"
        )
    try:
        import torchvision
    except Exception as exc:  # not only ImportError: a broken install raises RuntimeError
        reason = (str(exc).strip().splitlines() or [""])[0][:120]
        raise CrowdlearnError(
            f"backbone {name!r} needs torchvision, which does not import here "
            f"({type(exc).__name__}: {reason}); use one of: {', '.join(_REGISTRY)}"
        ) from exc
    builder = getattr(torchvision.models, model_name, None)
    if not callable(builder) or model_name.startswith("_"):
        raise CrowdlearnError(f"backbone {name!r}: torchvision.models has no {model_name!r}")
    try:
        model = builder(weights="DEFAULT" if pretrained else None, **params)
    except Exception as exc:
        raise CrowdlearnError(f"backbone {name!r} could not be built: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise CrowdlearnError(f"backbone {name!r}: torchvision.models.{model_name} is no model")
    return _TorchvisionBackbone(model, _check_positive("n_classes", n_classes), name)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
