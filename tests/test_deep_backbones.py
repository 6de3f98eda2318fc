"""Classifier backbones (crowdlearn.deep.backbones): shapes, interface, training, errors."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable

import pytest
import torch
from torch import nn

from crowdlearn.deep.backbones import (
    MLP,
    LeNet,
    ResNet9,
    ResNet18,
    ResNet34,
    available_backbones,
    count_parameters,
    make_backbone,
)
from crowdlearn.errors import CrowdlearnError

CASES = [
    ("mlp", (124,)),
    ("mlp", (4, 4, 512)),
    ("lenet", (1, 28, 28)),
    ("lenet", (3, 32, 32)),
    ("resnet9", (3, 32, 32)),
    ("resnet18", (3, 32, 32)),
    ("resnet34", (3, 32, 32)),
]


@pytest.mark.parametrize(("name", "shape"), CASES)
def test_shapes_and_interface(name: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = make_backbone(name, shape, 7).eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        logits = model(x)
        feats = model.features(x)
        via_head = model.classifier(feats)
    assert logits.shape == (2, 7)
    assert feats.shape == (2, model.embedding_dim)
    assert isinstance(model.classifier, nn.Linear)
    assert model.classifier.in_features == model.embedding_dim
    assert model.classifier.out_features == 7
    torch.testing.assert_close(via_head, logits)


def test_registry_classes_and_names() -> None:
    assert available_backbones() == ["mlp", "lenet", "resnet9", "resnet18", "resnet34"]
    assert isinstance(make_backbone("MLP", (124,), 3), MLP)
    assert isinstance(make_backbone("LeNet", (1, 28, 28), 3), LeNet)
    assert isinstance(make_backbone("resnet-9", (3, 32, 32), 3), ResNet9)
    assert isinstance(make_backbone("ResNet-18", (3, 32, 32), 3), ResNet18)
    assert isinstance(make_backbone("resnet_34", (1, 32, 32), 3), ResNet34)
    mlp = make_backbone("mlp", (4, 4, 512), 8, hidden=(64, 32), dropout=0.1)
    assert mlp.in_features == 8192 and mlp.embedding_dim == 32


def test_mlp_fits_separable_gaussians() -> None:
    gen = torch.Generator().manual_seed(0)
    n = 200
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=gen) + (2.0 * y[:, None] - 1.0) * 2.0
    torch.manual_seed(0)
    model = MLP(2, 2, hidden=(16,), dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    acc = (model(x).argmax(1) == y).float().mean().item()
    assert acc > 0.95


def test_mlp_options() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 124)
    model = MLP(124, 3, hidden=(32,), dropout=0.0).eval()
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x))

    dropped = MLP(124, 3, hidden=(32,), dropout=0.5)
    assert sum(isinstance(m, nn.Dropout) for m in dropped.modules()) == 1

    bn = MLP(124, 3, hidden=(32, 16), batch_norm=True, activation="tanh")
    assert sum(isinstance(m, nn.BatchNorm1d) for m in bn.modules()) == 2
    assert sum(isinstance(m, nn.Tanh) for m in bn.modules()) == 2
    assert bn(x).shape == (5, 3)

    logreg = MLP(124, 3, hidden=())
    linears = [m for m in logreg.modules() if isinstance(m, nn.Linear)]
    assert linears == [logreg.classifier]
    assert logreg.embedding_dim == 124
    assert count_parameters(logreg) == 124 * 3 + 3
    torch.testing.assert_close(logreg.features(x), x)

    assert MLP(10, 2, hidden=8).embedding_dim == 8


def test_lenet_sizes_and_options() -> None:
    assert LeNet(10).classifier.in_features == 84
    assert count_parameters(LeNet(10)) == 61706  # the classic LeNet-5 count
    model = LeNet(4, in_channels=3, input_size=(32, 28), activation="tanh", pool="avg")
    assert model(torch.randn(2, 3, 32, 28)).shape == (2, 4)
    with pytest.raises(CrowdlearnError, match="at least 12x12"):
        LeNet(10, input_size=8)


def test_resnet9_scale() -> None:
    torch.manual_seed(0)
    scaled = ResNet9(10).eval()
    assert scaled.classifier.scale == 0.125 and scaled.classifier.bias is None
    plain = ResNet9(10, scale=None).eval()
    assert type(plain.classifier) is nn.Linear
    plain.load_state_dict(scaled.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(scaled(x), plain(x) * 0.125)


def test_parameter_counts() -> None:
    assert count_parameters(ResNet18(10)) == 11_173_962  # kuangliu/pytorch-cifar ResNet18
    assert 6.4e6 < count_parameters(ResNet9(10)) < 6.7e6
    assert 21.0e6 < count_parameters(ResNet34(10)) < 21.5e6
    model = MLP(124, 8, hidden=(128,))
    model.classifier.weight.requires_grad_(False)
    total = count_parameters(model)
    assert count_parameters(model, trainable_only=True) == total - 128 * 8


def test_error_messages() -> None:
    with pytest.raises(CrowdlearnError, match=r"unknown backbone 'vgg99'.*mlp, lenet, resnet9"):
        make_backbone("vgg99", (3, 32, 32), 10)
    with pytest.raises(
        CrowdlearnError,
        match=r"backbone 'mlp' has no parameter 'foo' \(parameters: hidden, dropout, batch_norm",
    ):
        make_backbone("mlp", (124,), 10, foo=1)
    with pytest.raises(CrowdlearnError, match="set from input_shape"):
        make_backbone("resnet18", (3, 32, 32), 10, in_channels=1)
    with pytest.raises(CrowdlearnError, match=r"backbone 'resnet18' needs images.*\(124,\)"):
        make_backbone("resnet18", (124,), 10)
    with pytest.raises(CrowdlearnError, match="at least 8x8"):
        make_backbone("resnet9", (3, 4, 4), 10)
    with pytest.raises(CrowdlearnError, match="pretrained weights exist only for torchvision"):
        make_backbone("resnet18", (3, 32, 32), 10, pretrained=True)
    with pytest.raises(CrowdlearnError, match="activation must be one of relu, .*got 'swish'"):
        make_backbone("mlp", (124,), 10, activation="swish")
    with pytest.raises(CrowdlearnError, match="dropout"):
        MLP(4, 2, dropout=1.0)


def test_torchvision_not_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)
    with pytest.raises(
        CrowdlearnError,
        match=(
            r"backbone 'torchvision.models.resnet50' needs torchvision, which does not import "
            r"here \(.+\); use one of: mlp, lenet, resnet9, resnet18, resnet34"
        ),
    ):
        make_backbone("torchvision.models.resnet50", (3, 32, 32), 10)


class _FakeResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


class _FakeVGG(_FakeResNet):
    def __init__(self) -> None:
        super().__init__()
        del self.fc
        self.classifier = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.body(x))


class _FakeViT(_FakeResNet):
    def __init__(self) -> None:
        super().__init__()
        del self.fc
        self.heads = nn.Sequential()
        self.heads.add_module("head", nn.Linear(4, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.heads(self.body(x))


def test_torchvision_head_replacement_with_fake_module(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []

    def builder(cls: type[nn.Module]) -> Callable[..., nn.Module]:
        def build(weights: object = None) -> nn.Module:
            calls.append(weights)
            return cls()

        return build

    fake = types.ModuleType("torchvision")
    fake.models = types.SimpleNamespace(  # type: ignore[attr-defined]
        resnet50=builder(_FakeResNet), vgg16=builder(_FakeVGG), vit_b_16=builder(_FakeViT)
    )
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    x = torch.randn(2, 3, 8, 8)
    for name, feat_dim in [("resnet50", 4), ("vgg16", 6), ("vit_b_16", 4)]:
        model = make_backbone(f"torchvision.models.{name}", (3, 8, 8), 5).eval()
        assert model.embedding_dim == feat_dim
        assert model(x).shape == (2, 5)
        assert model.features(x).shape == (2, feat_dim)
        assert isinstance(model.classifier, nn.Linear) and model.classifier.out_features == 5
        assert not any(m.out_features == 1000 for m in model.modules() if isinstance(m, nn.Linear))
    assert calls == [None, None, None]
    make_backbone("torchvision.models.resnet50", (3, 8, 8), 5, pretrained=True)
    assert calls[-1] == "DEFAULT"
    with pytest.raises(CrowdlearnError, match="has no 'resnet999'"):
        make_backbone("torchvision.models.resnet999", (3, 8, 8), 5)
    with pytest.raises(CrowdlearnError, match="3-channel"):
        make_backbone("torchvision.models.resnet50", (1, 8, 8), 5)
