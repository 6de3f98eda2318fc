"""Batched image augmentation and normalisation on the training device.

:class:`ImageTransform` is a ``transform(x, train) -> x`` for :class:`~crowdlearn.deep.CrowdData`
and :class:`~crowdlearn.deep.CrowdClassifier`: the images stay ``uint8`` on the device (4 bytes
fewer per pixel than float) and each batch is, in a few tensor operations and no Python loop over
images,

1. resized (optional, bilinear with antialiasing) — for pretrained ImageNet backbones;
2. when training: randomly cropped after zero padding and horizontally flipped — the standard
   CIFAR augmentation ("4 pixels are padded on each side, and a 32 x 32 crop is randomly sampled
   from the padded image or its horizontal flip", He, Zhang, Ren & Sun, *Deep residual learning
   for image recognition*, CVPR 2016, section 4.2);
3. scaled to ``[0, 1]`` and normalised per channel, ``(x / 255 - mean) / std``.

The crop pads the batch once, then copies every image row from its per-image offset with one
``index_select`` over a sliding-window view; the flip is a ``torch.where`` on a per-image mask.
Offsets and flips are drawn from a :class:`torch.Generator` on the batch's device, seeded by
``seed``: the same seed gives the same augmentations (bit for bit on CPU).

Presets: :func:`cifar10_transform`, :func:`mnist_transform`, :func:`imagenet_transform`;
:func:`channel_stats` computes the mean and standard deviation of another data set.

>>> import torch
>>> t = cifar10_transform(seed=0)
>>> x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
>>> t(x, train=True).shape, t(x, train=True).dtype
(torch.Size([8, 3, 32, 32]), torch.float32)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import CrowdlearnError

__all__ = [
    "CIFAR10_MEAN", "CIFAR10_STD", "IMAGENET_MEAN", "IMAGENET_STD", "MNIST_MEAN", "MNIST_STD",
    "ImageTransform", "channel_stats", "cifar10_transform", "imagenet_transform",
    "mnist_transform",
]

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
"""Per-channel mean of the CIFAR-10 training images, on the ``[0, 1]`` scale."""
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
"""Per-channel standard deviation of the CIFAR-10 training images (over all pixels)."""
MNIST_MEAN = (0.1307,)
"""Mean of the MNIST training images (the PyTorch examples' value)."""
MNIST_STD = (0.3081,)
"""Standard deviation of the MNIST training images."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
"""ImageNet mean that torchvision's pretrained models expect."""
IMAGENET_STD = (0.229, 0.224, 0.225)
"""ImageNet standard deviation that torchvision's pretrained models expect."""


def _floats(values: Any, what: str) -> tuple[float, ...]:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise CrowdlearnError(f"{what} must be one finite number per channel, got {values!r}")
    return tuple(float(v) for v in arr)


class ImageTransform:
    """Normalise (and, when training, augment) batches of images on their device.

    Parameters
    ----------
    mean, std:
        Per-channel mean and standard deviation on the ``[0, 1]`` scale (one value each for
        grayscale, or one value for all channels). A 1-channel batch given 3-channel statistics is
        repeated to 3 channels (MNIST into an ImageNet backbone).
    crop_padding:
        Pad ``p`` zero pixels on every side, then crop back to the original size at a random
        offset in ``[0, 2p]`` per image (content moves by at most ``p`` pixels); ``0``: no crop.
        The padding is black (pixel value 0, before normalisation), as torchvision's
        ``RandomCrop(padding=p)``.
    flip:
        Flip each image horizontally with probability 1/2.
    train_only_augment:
        Augment only when called with ``train=True`` (default); ``False`` augments evaluation
        batches too (test-time augmentation).
    size:
        Resize every batch to ``size`` (an int or ``(height, width)``) first, in training and in
        evaluation, with bilinear interpolation and antialiasing.
    seed:
        Seed of the per-device :class:`torch.Generator` of the crops and flips; ``None`` draws
        from torch's global generator (which ``torch.manual_seed`` seeds).

    Input ``x`` of ``__call__`` is ``(B, C, H, W)``, ``uint8`` (0..255) or floating point
    (already on ``[0, 1]``), on any device; the result is ``float32`` on the same device.
    """

    def __init__(
        self,
        mean: float | Sequence[float],
        std: float | Sequence[float],
        *,
        crop_padding: int = 4,
        flip: bool = True,
        train_only_augment: bool = True,
        size: int | tuple[int, int] | None = None,
        seed: int | None = None,
    ) -> None:
        self.mean = _floats(mean, "mean")
        self.std = _floats(std, "std")
        if len(self.mean) != len(self.std):
            raise CrowdlearnError(f"{len(self.mean)} means but {len(self.std)} standard deviations")
        if min(self.std) <= 0:
            raise CrowdlearnError(f"std must be positive, got {self.std}")
        if int(crop_padding) != crop_padding or crop_padding < 0:
            raise CrowdlearnError(f"crop_padding must be an integer >= 0, got {crop_padding!r}")
        self.crop_padding = int(crop_padding)
        self.flip = bool(flip)
        self.train_only_augment = bool(train_only_augment)
        if size is None:
            self.size: tuple[int, int] | None = None
        else:
            hw = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
            if len(hw) != 2 or min(int(s) for s in hw) < 1:
                raise CrowdlearnError(f"size must be a positive int or (height, width), got "
                                      f"{size!r}")
            self.size = (int(hw[0]), int(hw[1]))
        self.seed = None if seed is None else int(seed)
        self._generators: dict[str, torch.Generator] = {}
        self._stats: dict[tuple[str, int], tuple[Tensor, Tensor]] = {}

    # ------------------------------------------------------------------ state
    def manual_seed(self, seed: int | None) -> ImageTransform:
        """Restart the random augmentations from ``seed`` (on every device)."""
        self.seed = None if seed is None else int(seed)
        self._generators.clear()
        return self

    def __getstate__(self) -> dict[str, Any]:
        # generators and device constants are caches: rebuilt (from the seed) after a copy
        state = self.__dict__.copy()
        state["_generators"] = {}
        state["_stats"] = {}
        return state

    def __repr__(self) -> str:
        return (f"ImageTransform(mean={self.mean}, std={self.std}, "
                f"crop_padding={self.crop_padding}, flip={self.flip}, "
                f"train_only_augment={self.train_only_augment}, size={self.size}, "
                f"seed={self.seed})")

    def _generator(self, device: torch.device) -> torch.Generator | None:
        if self.seed is None:
            return None
        key = str(device)
        gen = self._generators.get(key)
        if gen is None:
            gen = torch.Generator(device=device)
            gen.manual_seed(self.seed)
            self._generators[key] = gen
        return gen

    def _mean_std(self, device: torch.device, channels: int) -> tuple[Tensor, Tensor]:
        key = (str(device), channels)
        got = self._stats.get(key)
        if got is None:
            mean, std = self.mean, self.std
            if len(mean) == 1:
                mean, std = mean * channels, std * channels
            got = (torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1),
                   torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1))
            self._stats[key] = got
        return got

    # ------------------------------------------------------------------ transform
    def __call__(self, x: Tensor, train: bool = False) -> Tensor:
        if x.ndim != 4:
            raise CrowdlearnError(f"images must be a (B, C, H, W) batch, got shape "
                                  f"{tuple(x.shape)}")
        if x.dtype != torch.uint8 and not torch.is_floating_point(x):
            raise CrowdlearnError(f"images must be uint8 (0..255) or float (0..1), got {x.dtype}")
        channels = x.shape[1]
        if channels == 1 and len(self.mean) == 3:
            x = x.expand(-1, 3, -1, -1)
            channels = 3
        elif len(self.mean) not in (1, channels):
            raise CrowdlearnError(f"{channels}-channel images but {len(self.mean)} channel means")
        scaled = False  # x is already a float32 tensor of our own on the [0, 1] scale
        if self.size is not None and tuple(x.shape[2:]) != self.size:
            x = F.interpolate(_unit(x), size=self.size, mode="bilinear", align_corners=False,
                              antialias=True)
            scaled = True
        if (train or not self.train_only_augment) and x.shape[0]:
            x = self.augment(x)
            scaled = scaled and torch.is_floating_point(x)
        out = x if scaled else _unit(x)
        mean, std = self._mean_std(out.device, channels)
        return out.sub_(mean).div_(std)

    def augment(self, x: Tensor) -> Tensor:
        """Random crop with zero padding and random horizontal flip of ``x`` (any dtype).

        Returns a new tensor (never a view of ``x``) of the same shape and dtype.
        """
        b, c, h, w = x.shape
        gen = self._generator(x.device)
        p = self.crop_padding
        if p:
            offsets = torch.randint(0, 2 * p + 1, (2, b), generator=gen, device=x.device)
            padded = F.pad(x, (p, p, p, p))  # one copy of the batch, zeros around each image
            hp, wp = h + 2 * p, w + 2 * p
            planes = torch.arange(b * c, device=x.device).view(b, c, 1)
            rows = torch.arange(h, device=x.device)
            # flat index of the first pixel of every output row: plane, row + dy, column dx
            starts = (planes * hp + offsets[0].view(b, 1, 1) + rows) * wp + offsets[1].view(b, 1, 1)
            windows = padded.reshape(-1).unfold(0, w, 1)  # row-long windows at every position
            x = windows.index_select(0, starts.reshape(-1)).view(b, c, h, w)
        if self.flip:
            flip = torch.rand(b, generator=gen, device=x.device) < 0.5
            x = torch.where(flip.view(b, 1, 1, 1), x.flip(-1), x)
        elif not p:
            x = x.clone()
        return x


def _unit(x: Tensor) -> Tensor:
    """A new float32 tensor on the ``[0, 1]`` scale (uint8 / 255, floats copied)."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    return x.to(torch.float32, copy=True)


# ---------------------------------------------------------------------------- presets
def cifar10_transform(*, crop_padding: int = 4, flip: bool = True,
                      seed: int | None = None) -> ImageTransform:
    """CIFAR-10 statistics, 4-pixel padded random crops and flips (He et al. 2016)."""
    return ImageTransform(CIFAR10_MEAN, CIFAR10_STD, crop_padding=crop_padding, flip=flip,
                          seed=seed)


def mnist_transform(*, crop_padding: int = 0, flip: bool = False,
                    seed: int | None = None) -> ImageTransform:
    """MNIST statistics (0.1307, 0.3081); no augmentation by default (digits are not mirrored)."""
    return ImageTransform(MNIST_MEAN, MNIST_STD, crop_padding=crop_padding, flip=flip, seed=seed)


def imagenet_transform(size: int | tuple[int, int] = 224, *, flip: bool = True,
                       crop_padding: int = 0, seed: int | None = None) -> ImageTransform:
    """For pretrained torchvision backbones: resize to ``size``, ImageNet statistics, flips.

    Grayscale batches are repeated to three channels.
    """
    return ImageTransform(IMAGENET_MEAN, IMAGENET_STD, crop_padding=crop_padding, flip=flip,
                          size=size, seed=seed)


def channel_stats(x: Any, *, chunk_size: int = 1024, channel_axis: int = 1
                  ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of images, on the ``[0, 1]`` scale.

    Parameters
    ----------
    x:
        Images ``(N, C, H, W)`` (numpy array, memory map or tensor): ``uint8`` (divided by 255)
        or floating point (taken as is).
    chunk_size:
        Images per chunk: memory stays bounded for memory-mapped data sets.
    channel_axis:
        The channel axis (1 for ``(N, C, H, W)``, 3 or -1 for ``(N, H, W, C)``).

    Returns
    -------
    (mean, std)
        Tuples of one float per channel; ``std`` is the population standard deviation over all
        pixels (the convention of the usual CIFAR-10 statistics). ``uint8`` sums are exact
        integers.

    >>> import numpy as np
    >>> channel_stats(np.full((2, 1, 2, 2), 255, dtype=np.uint8))
    ((1.0,), (0.0,))
    """
    if isinstance(x, Tensor):
        x = x.detach()
    n = int(x.shape[0])
    if n == 0:
        raise CrowdlearnError("no images to compute statistics of")
    axis = channel_axis % len(x.shape)
    if isinstance(x, Tensor):
        is_uint8 = x.dtype == torch.uint8
    else:
        is_uint8 = np.dtype(x.dtype) == np.uint8
    channels = int(x.shape[axis])
    total = [0] * channels if is_uint8 else np.zeros(channels)
    squares = [0] * channels if is_uint8 else np.zeros(channels)
    count = 0
    for start in range(0, n, max(1, int(chunk_size))):
        part = x[start:start + chunk_size]
        part = part.cpu().numpy() if isinstance(part, Tensor) else np.asarray(part)
        part = np.moveaxis(part, axis, 0).reshape(channels, -1)
        count += part.shape[1]
        if is_uint8:
            sums = part.sum(axis=1, dtype=np.uint64)
            sq = (part.astype(np.uint16) ** 2).sum(axis=1, dtype=np.uint64)
            for k in range(channels):  # Python ints: exact, never overflow
                total[k] += int(sums[k])
                squares[k] += int(sq[k])
        else:
            part = part.astype(np.float64)
            total += part.sum(axis=1)
            squares += (part * part).sum(axis=1)
    if is_uint8:
        mean = tuple(t / count / 255.0 for t in total)
        var = [(count * s - t * t) / (count * count) / 255.0 ** 2 for t, s in zip(total, squares,
                                                                              strict=True)]
    else:
        mean = tuple(float(t) / count for t in total)
        var = [float(s) / count - m * m for s, m in zip(squares, mean, strict=True)]
    std = tuple(float(np.sqrt(max(v, 0.0))) for v in var)
    return tuple(float(m) for m in mean), std
