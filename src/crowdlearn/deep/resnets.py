"""The ResNet backbones: ResNet-9 (DAWNBench) and CIFAR-style ResNet-18 / ResNet-34, built and
registered through :mod:`crowdlearn.deep.backbones` (which re-exports them)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from crowdlearn.deep.backbone_parts import _check_positive, _ScaledLinear
from crowdlearn.params import Float

__all__ = ["ResNet9", "ResNet18", "ResNet34"]


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
