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
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

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

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def _activation(name: str) -> nn.Module:
    key = str(name).lower()
    if key not in _ACTIVATIONS:
        raise CrowdlearnError(
            f"unknown activation {name!r} (activations: {', '.join(_ACTIVATIONS)})"
        )
    return _ACTIVATIONS[key]()


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CrowdlearnError(f"{name} must be a positive integer, got {value!r}")
    return value


def _widths(value: Any) -> bool:
    """Whether ``value`` is a hidden-layer width or a sequence of them (integers >= 1)."""
    widths = (value,) if not isinstance(value, (list, tuple)) else value
    return all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths)


class _ScaledLinear(nn.Linear):
    """A :class:`~torch.nn.Linear` whose output is multiplied by a constant ``scale``."""

    def __init__(self, in_features: int, out_features: int, scale: float, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * self.scale

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, scale={self.scale}"


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
# ResNet-9 (DAWNBench)
# --------------------------------------------------------------------------------------------


def _conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution (padding 1, no bias) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class _Residual(nn.Module):
    """``x + f(x)``."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.inner(x)


class ResNet9(nn.Module):
    """The DAWNBench ResNet-9 for 32x32 images (Myrtle.ai, David Page).

    From Page (2018), "How to train your ResNet" (Myrtle.ai blog series), the network that won
    the DAWNBench CIFAR-10 training-time competition (Coleman et al. 2017, "DAWNBench: an
    end-to-end deep learning benchmark and competition")::

        prep    conv 64
        layer1  conv 128, max-pool 2, residual(conv 128, conv 128)
        layer2  conv 256, max-pool 2
        layer3  conv 512, max-pool 2, residual(conv 512, conv 512)
        global max-pool, linear 512 -> n_classes (no bias), times ``scale``

    where each conv is ``Conv2d(3x3, padding 1, bias=False) -> BatchNorm -> ReLU``.
    About 6.57M parameters for 10 classes. The global pool is adaptive, so inputs of any size
    of at least 8x8 work.

    Parameters
    ----------
    n_classes:
        Number of output logits.
    in_channels:
        Channels of the input images.
    scale:
        Constant multiplying the logits (0.125 in the original); ``None`` or 1 for none. It is
        part of :attr:`classifier` (a ``Linear`` subclass), so ``classifier(features(x))`` still
        gives the logits.

    Attributes
    ----------
    embedding_dim:
        512.
    classifier:
        The final ``Linear(512, n_classes, bias=False)``, scaled by ``scale``.
    """

    param_specs = {"scale": Float(0, low_open=True, none=True)}

    def __init__(self, n_classes: int, in_channels: int = 3, scale: float | None = 0.125) -> None:
        super().__init__()
        n_classes = _check_positive("n_classes", n_classes)
        in_channels = _check_positive("in_channels", in_channels)
        self.prep = _conv_bn(in_channels, 64)
        self.layer1 = nn.Sequential(
            _conv_bn(64, 128),
            nn.MaxPool2d(2),
            _Residual(nn.Sequential(_conv_bn(128, 128), _conv_bn(128, 128))),
        )
        self.layer2 = nn.Sequential(_conv_bn(128, 256), nn.MaxPool2d(2))
        self.layer3 = nn.Sequential(
            _conv_bn(256, 512),
            nn.MaxPool2d(2),
            _Residual(nn.Sequential(_conv_bn(512, 512), _conv_bn(512, 512))),
        )
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.embedding_dim = 512
        if scale is None or float(scale) == 1.0:
            self.classifier: nn.Linear = nn.Linear(512, n_classes, bias=False)
        else:
            self.classifier = _ScaledLinear(512, n_classes, float(scale), bias=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 512-dimensional globally max-pooled representation."""
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        return self.pool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(B, n_classes)``."""
        return self.classifier(self.features(x))


# --------------------------------------------------------------------------------------------
# CIFAR-style ResNet-18 / ResNet-34
# --------------------------------------------------------------------------------------------


class _BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class _CifarResNet(nn.Module):
    """CIFAR-style ResNet with basic blocks (the kuangliu/pytorch-cifar layout).

    3x3 stem conv 64 (stride 1, no max-pool), four stages of basic blocks with 64, 128, 256, 512
    channels (strides 1, 2, 2, 2), adaptive average pool, linear.
    """

    def __init__(
        self,
        block_counts: Sequence[int],
        n_classes: int,
        in_channels: int = 3,
        widths: Sequence[int] = (64, 128, 256, 512),
    ) -> None:
        super().__init__()
        n_classes = _check_positive("n_classes", n_classes)
        in_channels = _check_positive("in_channels", in_channels)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        stages: list[nn.Module] = []
        c_in = widths[0]
        for i, (count, width) in enumerate(zip(block_counts, widths, strict=True)):
            blocks = []
            for j in range(count):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(_BasicBlock(c_in, width, stride))
                c_in = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.embedding_dim = c_in
        self.classifier = nn.Linear(c_in, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The globally average-pooled representation, shape ``(B, embedding_dim)``."""
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.pool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(B, n_classes)``."""
        return self.classifier(self.features(x))


class ResNet18(_CifarResNet):
    """ResNet-18 for CIFAR-sized images (He, Zhang, Ren & Sun 2016).

    He et al. (2016), "Deep residual learning for image recognition", CVPR, in the CIFAR layout
    of kuangliu/pytorch-cifar: 3x3 stem conv with stride 1 and no max-pool, basic-block stages
    [2, 2, 2, 2] with 64-128-256-512 channels, average pool, linear. About 11.17M parameters
    for 10 classes.

    Parameters
    ----------
    n_classes:
        Number of output logits.
    in_channels:
        Channels of the input images.

    Attributes
    ----------
    embedding_dim:
        512.
    classifier:
        The final ``Linear(512, n_classes)``.
    """

    def __init__(self, n_classes: int, in_channels: int = 3) -> None:
        super().__init__((2, 2, 2, 2), n_classes, in_channels)


class ResNet34(_CifarResNet):
    """ResNet-34 for CIFAR-sized images (He, Zhang, Ren & Sun 2016).

    As :class:`ResNet18` with basic-block stages [3, 4, 6, 3]; about 21.28M parameters for 10
    classes. He et al. (2016), "Deep residual learning for image recognition", CVPR.

    Parameters
    ----------
    n_classes:
        Number of output logits.
    in_channels:
        Channels of the input images.

    Attributes
    ----------
    embedding_dim:
        512.
    classifier:
        The final ``Linear(512, n_classes)``.
    """

    def __init__(self, n_classes: int, in_channels: int = 3) -> None:
        super().__init__((3, 4, 6, 3), n_classes, in_channels)


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
