"""crowdlearn.learning: crowd-kit's CrowdLayer / CoNAL interface, checked against hand
computations (and crowd-kit's own expectations: identity at initialisation, gradient shapes)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crowdlearn.learning import CoNAL, CrowdLayer  # noqa: E402

LOGITS = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0], [1.0] * 5, [2.0] * 5])
WORKERS = torch.tensor([0, 1, 0])


@pytest.mark.parametrize("conn, names", [("mw", {"weight": (2, 5, 5)}),
                                         ("vw", {"weight": (2, 5)}),
                                         ("vb", {"weight": (2, 5)}),
                                         ("vw+b", {"scale": (2, 5), "bias": (2, 5)}),
                                         ("sw", {"weight": (2,)})])
def test_crowd_layer_starts_as_the_identity_and_learns(conn: str, names: dict) -> None:
    layer = CrowdLayer(5, 2, conn_type=conn)
    out = layer(LOGITS, WORKERS)
    assert out.shape == (3, 5) and torch.allclose(out, LOGITS)
    (out * torch.arange(5.0)).sum().backward()
    for name, shape in names.items():
        grad = getattr(layer, name).grad
        assert grad is not None and grad.shape == shape and bool(grad.abs().sum() > 0)


def test_crowd_layer_matches_hand_computation() -> None:
    gen = torch.Generator().manual_seed(0)
    mw = CrowdLayer(5, 2, "mw")
    with torch.no_grad():
        mw.weight.copy_(torch.randn(2, 5, 5, generator=gen))
    expected = torch.stack([mw.weight[w] @ LOGITS[i] for i, w in enumerate(WORKERS.tolist())])
    assert torch.allclose(mw(LOGITS, WORKERS), expected)
    vwb = CrowdLayer(5, 2, "vw+b")
    with torch.no_grad():
        vwb.scale.copy_(torch.randn(2, 5, generator=gen))
        vwb.bias.copy_(torch.randn(2, 5, generator=gen))
    expected = torch.stack([vwb.scale[w] * LOGITS[i] + vwb.bias[w]
                            for i, w in enumerate(WORKERS.tolist())])
    assert torch.allclose(vwb(LOGITS, WORKERS), expected)
    with pytest.raises(ValueError, match="connection type"):
        CrowdLayer(5, 2, "xyz")


def test_conal_is_a_mixture_of_two_confusions() -> None:
    torch.manual_seed(0)
    conal = CoNAL(5, 2, com_emb_size=20)
    emb = torch.tensor([[1.0, 1.0], [2.0, 1.0], [1.0, 2.0]])
    out = conal(emb, LOGITS, WORKERS)
    assert out.shape == (3, 5)
    assert torch.allclose(out.sum(dim=1), torch.ones(3))
    gate = conal.simple_common_module(emb, WORKERS)
    assert bool(((gate > 0) & (gate < 1)).all())
    p = torch.softmax(LOGITS, dim=1)
    common = torch.softmax(conal.common_confusion_matrix, dim=1)
    for i, w in enumerate(WORKERS.tolist()):
        own = torch.softmax(conal.annotator_confusion_matrices[w], dim=1)
        expected = gate[i] * (p[i] @ common) + (1 - gate[i]) * (p[i] @ own)
        assert torch.allclose(out[i], expected, atol=1e-6)
    torch.log(out)[torch.arange(3), torch.tensor([0, 1, 2])].sum().backward()
    assert conal.annotator_confusion_matrices.grad.shape == (2, 5, 5)
    assert conal.common_confusion_matrix.grad.shape == (5, 5)
    assert bool(conal.annotator_confusion_matrices.grad.abs().sum() > 0)


def test_conal_takes_a_numpy_user_feature() -> None:
    feats = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]], dtype=np.float32)
    conal = CoNAL(3, 2, user_feature=feats)
    out = conal(torch.randn(4, 6), torch.randn(4, 3), torch.tensor([0, 1, 1, 0]))
    assert out.shape == (4, 3)
    with pytest.raises(ValueError, match="one row per worker"):
        CoNAL(3, 5, user_feature=feats)
