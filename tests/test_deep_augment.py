"""Batched device augmentation: normalisation, padded random crops, flips, seeds, statistics."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

from crowdlearn.deep.augment import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    IMAGENET_MEAN,
    ImageTransform,
    channel_stats,
    cifar10_transform,
    imagenet_transform,
    mnist_transform,
)
from crowdlearn.errors import CrowdlearnError


def random_images(b: int = 16, c: int = 3, h: int = 32, w: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, c, h, w), dtype=torch.uint8, generator=g)


def coordinate_images(b: int, h: int = 32, w: int = 32) -> torch.Tensor:
    """Channel 0 holds row + 1, channel 1 column + 1, channel 2 image + 1 (0 is the padding)."""
    rows = torch.arange(1, h + 1).view(h, 1).expand(h, w)
    cols = torch.arange(1, w + 1).view(1, w).expand(h, w)
    img = torch.stack([rows, cols, torch.zeros(h, w, dtype=torch.int64)])
    x = img.unsqueeze(0).repeat(b, 1, 1, 1)
    x[:, 2] = (torch.arange(b) % 255 + 1).view(b, 1, 1)
    return x.to(torch.uint8)


def expected_normalised(x: torch.Tensor, mean, std) -> torch.Tensor:
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (x.to(torch.float32) / 255.0 - m) / s


# ---------------------------------------------------------------------------- evaluation
def test_eval_mode_is_pure_normalisation() -> None:
    x = random_images()
    t = cifar10_transform(seed=0)
    out = t(x, False)
    assert out.dtype == torch.float32 and out.shape == x.shape
    torch.testing.assert_close(out, expected_normalised(x, CIFAR10_MEAN, CIFAR10_STD),
                               rtol=0, atol=0)
    # the same call twice gives the same values (nothing random in evaluation)
    assert torch.equal(t(x, False), out)
    # the input is left alone
    assert x.dtype == torch.uint8


def test_eval_of_float_input_does_not_modify_it() -> None:
    x = random_images().float() / 255
    before = x.clone()
    out = ImageTransform(0.5, 0.25)(x, False)
    assert torch.equal(x, before)
    torch.testing.assert_close(out, (before - 0.5) / 0.25)


def test_mnist_preset_normalises_grayscale() -> None:
    x = random_images(c=1, h=28, w=28)
    t = mnist_transform()
    out = t(x, True)  # no crop, no flip by default: training = evaluation
    torch.testing.assert_close(out, expected_normalised(x, (0.1307,), (0.3081,)), rtol=0, atol=0)


def test_train_only_augment_false_augments_evaluation_too() -> None:
    x = random_images(64)
    t = ImageTransform(0.5, 0.5, crop_padding=4, train_only_augment=False, seed=0)
    assert not torch.equal(t(x, False), expected_normalised(x, (0.5,), (0.5,)))


# ---------------------------------------------------------------------------- training
def test_train_mode_keeps_shape_and_dtype() -> None:
    x = random_images(10)
    out = cifar10_transform(seed=1)(x, True)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_crop_shifts_content_by_at_most_padding() -> None:
    p, b, h, w = 3, 200, 16, 20
    x = coordinate_images(b, h, w)
    t = ImageTransform((0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255), crop_padding=p, flip=False,
                       seed=0)
    out = t.augment(x)
    assert out.dtype == torch.uint8 and out.shape == x.shape
    rows, cols = out[:, 0].long(), out[:, 1].long()
    inside = rows > 0
    assert torch.equal(inside, cols > 0)  # padding is zero in every channel
    assert torch.equal(out[:, 2], torch.where(inside, x[:, 2], 0))  # each image keeps its content
    grid_r = torch.arange(1, h + 1).view(1, h, 1)
    grid_c = torch.arange(1, w + 1).view(1, 1, w)
    dy = torch.where(inside, rows - grid_r, 0)
    dx = torch.where(inside, cols - grid_c, 0)
    assert dy.abs().max() <= p and dx.abs().max() <= p
    # one shift per image: all visible pixels moved by the same (dy, dx)
    for shift in (dy, dx):
        per_image = shift.flatten(1)
        vis = inside.flatten(1)
        first = torch.stack([row[v][0] for row, v in zip(per_image, vis, strict=True)])
        assert torch.all((per_image == first[:, None]) | ~vis)
    # every offset in [-p, p] is drawn, and some crops are not shifted at all
    dy_img = torch.stack([r[v][0] for r, v in zip(dy.flatten(1), inside.flatten(1), strict=True)])
    assert set(dy_img.tolist()) == set(range(-p, p + 1))
    # the normalised call applies the same kind of crop: zero padding becomes (0 - mean) / std
    out_norm = t(x, True)
    assert out_norm.shape == x.shape


def test_flip_on_about_half_and_equals_torch_flip_without_crop() -> None:
    x = random_images(2000, h=8, w=8)
    t = ImageTransform(0.5, 0.5, crop_padding=0, flip=True, seed=3)
    out = t.augment(x)
    flipped = torch.all((out == x.flip(-1)).flatten(1), dim=1)
    kept = torch.all((out == x).flatten(1), dim=1)
    assert torch.all(flipped | kept)
    assert 0.4 < flipped.float().mean().item() < 0.6
    # normalised output agrees with normalising the flipped images
    t.manual_seed(3)
    expected = expected_normalised(torch.where(flipped.view(-1, 1, 1, 1), x.flip(-1), x),
                                   (0.5,), (0.5,))
    torch.testing.assert_close(t(x, True), expected, rtol=0, atol=0)


def test_flip_combined_with_crop_mirrors_the_shifted_content() -> None:
    p, b, h, w = 2, 400, 6, 9
    x = coordinate_images(b, h, w)
    t = ImageTransform(0.0, 1.0, crop_padding=p, flip=True, seed=5)
    out = t.augment(x)
    cols = out[:, 1].long()
    inside = cols > 0
    # along each visible row, the column content increases (kept) or decreases (flipped) by 1
    diffs = cols[:, :, 1:] - cols[:, :, :-1]
    both = inside[:, :, 1:] & inside[:, :, :-1]
    sign = torch.where(both, diffs, 0).sum(dim=(1, 2))
    assert torch.all(torch.where(both, diffs.abs(), 1) == 1)
    assert 0.35 < (sign < 0).float().mean().item() < 0.65


def test_same_seed_same_augmentations_and_copies() -> None:
    x = random_images(64)
    a = cifar10_transform(seed=7)
    b = cifar10_transform(seed=7)
    first = a(x, True)
    assert torch.equal(first, b(x, True))
    assert torch.equal(a(x, True), b(x, True))  # the sequences go on in step
    assert not torch.equal(first, a(x, True))  # and do not repeat
    assert not torch.equal(first, cifar10_transform(seed=8)(x, True))
    # restarting, copying and pickling restart from the seed
    assert torch.equal(a.manual_seed(7)(x, True), first)
    for clone in (copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        clone.manual_seed(7)
        assert torch.equal(clone(x, True), first)


def test_seed_none_follows_torch_global_seed() -> None:
    x = random_images(32)
    t = cifar10_transform()
    torch.manual_seed(11)
    first = t(x, True)
    torch.manual_seed(11)
    assert torch.equal(t(x, True), first)


def test_large_batch_runs_vectorised() -> None:
    x = random_images(4096)
    out = cifar10_transform(seed=0)(x, True)
    assert out.shape == (4096, 3, 32, 32)
    out = cifar10_transform(seed=0)(x, False)
    assert out.shape == (4096, 3, 32, 32)


def test_empty_batch() -> None:
    x = torch.zeros((0, 3, 32, 32), dtype=torch.uint8)
    assert cifar10_transform(seed=0)(x, True).shape == (0, 3, 32, 32)


# ---------------------------------------------------------------------------- resizing, checks
def test_imagenet_transform_resizes_and_repeats_grayscale() -> None:
    t = imagenet_transform(48, seed=0)
    x = random_images(4, h=32, w=32)
    assert t(x, True).shape == (4, 3, 48, 48)
    assert t(x, False).shape == (4, 3, 48, 48)
    gray = random_images(3, c=1, h=28, w=28)
    out = t(gray, False)
    assert out.shape == (3, 3, 48, 48)
    # the three channels hold the same image, normalised by each channel's statistics
    std = torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)
    unit = out * std + torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    torch.testing.assert_close(unit[:, 0], unit[:, 1], atol=1e-5, rtol=0)
    # constant images stay constant through the resize
    flat = torch.full((2, 3, 10, 10), 255, dtype=torch.uint8)
    torch.testing.assert_close(t(flat, False), expected_normalised(
        torch.full((2, 3, 48, 48), 255, dtype=torch.uint8), IMAGENET_MEAN, (0.229, 0.224, 0.225)))


def test_bad_arguments() -> None:
    with pytest.raises(CrowdlearnError, match="standard deviations"):
        ImageTransform((0.1, 0.2), (0.3,))
    with pytest.raises(CrowdlearnError, match="positive"):
        ImageTransform(0.1, 0.0)
    with pytest.raises(CrowdlearnError, match="crop_padding"):
        ImageTransform(0.1, 0.2, crop_padding=-1)
    t = cifar10_transform()
    with pytest.raises(CrowdlearnError, match="B, C, H, W"):
        t(torch.zeros(3, 32, 32, dtype=torch.uint8), False)
    with pytest.raises(CrowdlearnError, match="channel"):
        t(torch.zeros(2, 2, 32, 32, dtype=torch.uint8), False)
    with pytest.raises(CrowdlearnError, match="uint8"):
        t(torch.zeros(2, 3, 32, 32, dtype=torch.int64), False)


def test_with_crowd_data_batches() -> None:
    from crowdlearn import Answers
    from crowdlearn.deep import CrowdData

    n = 6
    answers = Answers(np.arange(n), np.zeros(n, dtype=int), np.arange(n) % 2, classes=[0, 1])
    data = CrowdData(random_images(n).numpy(), answers, transform=cifar10_transform(seed=0))
    batch = data.batch(torch.arange(n), train=True)
    assert batch.x.dtype == torch.float32 and batch.x.shape == (n, 3, 32, 32)
    assert data.x.dtype == torch.uint8  # the stored items stay compact


# ---------------------------------------------------------------------------- statistics
def test_channel_stats_match_numpy_and_chunking() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(37, 3, 5, 7), dtype=np.uint8)
    mean, std = channel_stats(x, chunk_size=8)
    unit = x.astype(np.float64) / 255
    np.testing.assert_allclose(mean, unit.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, unit.std(axis=(0, 2, 3)), rtol=1e-12)
    assert channel_stats(x, chunk_size=1000) == (mean, std)
    # tensors, floats and channels-last layouts
    t_mean, t_std = channel_stats(torch.from_numpy(x), chunk_size=5)
    np.testing.assert_allclose(t_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(t_std, std, rtol=1e-12)
    f_mean, f_std = channel_stats(unit, chunk_size=10)
    np.testing.assert_allclose(f_mean, mean, rtol=1e-9)
    np.testing.assert_allclose(f_std, std, rtol=1e-9)
    l_mean, l_std = channel_stats(np.moveaxis(x, 1, -1), channel_axis=-1)
    np.testing.assert_allclose(l_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(l_std, std, rtol=1e-12)


def test_channel_stats_of_memmap(tmp_path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.full((4, 1, 3, 3), 51, dtype=np.uint8))
    mean, std = channel_stats(np.load(path, mmap_mode="r"), chunk_size=3)
    assert mean == (0.2,) and std == (0.0,)
