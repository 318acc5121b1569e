"""G = G_after ∘ G_before at every split point of every bundled generator."""

import pytest
import torch
from torch import nn

from ganinverse.models import DCGANGenerator, MLPGenerator, VAEDecoder
from ganinverse.models.layers import (
    SPLITTERS,
    check_layer,
    register_split,
    sequential_splits,
    split_generator,
    split_points,
)

# (generator, its split points, the feature shape (without B) at each)
CASES = {
    "dcgan28": (
        lambda: DCGANGenerator(3, (1, 28, 28), ngf=2),
        [(4, 7, 7), (2, 14, 14)],
    ),
    "dcgan32-rgb": (
        lambda: DCGANGenerator(3, (3, 32, 32), ngf=2),
        [(8, 4, 4), (4, 8, 8), (2, 16, 16)],
    ),
    "dcgan64": (
        lambda: DCGANGenerator(3, (1, 64, 64), ngf=2),
        [(16, 4, 4), (8, 8, 8), (4, 16, 16), (2, 32, 32)],
    ),
    "mlp": (lambda: MLPGenerator(3, (1, 4, 4), hidden=(6, 5, 7)), [(6,), (5,), (7,)]),
    "vae": (lambda: VAEDecoder(3, (1, 4, 4), hidden=(6, 5)), [(6,), (5,)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_split_reproduces_the_generator(name):
    make, shapes = CASES[name]
    torch.manual_seed(0)
    G = make().eval()
    for bn in (m for m in G.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)):
        bn.running_mean.normal_()  # non-trivial statistics: eval-mode BN is not the identity
        bn.running_var.uniform_(0.5, 2.0)
    z = torch.randn(5, G.latent_dim)
    with torch.no_grad():
        want = G(z)
    assert split_points(G) == tuple(range(1, len(shapes) + 1))
    for layer, shape in enumerate(shapes, start=1):
        before, after = split_generator(G, layer)
        with torch.no_grad():
            h = before(z)
            got = after(h)
        assert h.shape == (5, *shape), (name, layer)
        assert torch.equal(got, want), (name, layer)


def test_the_vae_split_ends_with_the_decoders_mean():
    torch.manual_seed(1)
    G = VAEDecoder(3, (1, 4, 4), hidden=(6, 5))
    z = torch.randn(2, 3)
    before, after = split_generator(G, 2)
    assert torch.allclose(after(before(z)), torch.sigmoid(G.logits(z)) * 2 - 1, atol=1e-6)


def test_gradients_reach_the_features():
    G = DCGANGenerator(3, (1, 28, 28), ngf=2).eval()
    before, after = split_generator(G, 1)
    h = before(torch.randn(2, 3)).detach().requires_grad_(True)
    after(h).sum().backward()
    assert h.grad is not None and h.grad.abs().sum() > 0


def test_the_generator_input_is_still_checked():
    G = DCGANGenerator(3, (1, 28, 28), ngf=2)
    before, _ = split_generator(G, 1)
    with pytest.raises(TypeError, match="z must be torch.float32"):
        before(torch.zeros(1, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="z must have shape"):
        before(torch.zeros(1, 4))


def test_a_layer_outside_the_split_points_raises():
    G = DCGANGenerator(3, (1, 28, 28), ngf=2)
    for layer in (0, 3, -1):
        with pytest.raises(ValueError, match=r"split points \(1, 2\)"):
            split_generator(G, layer)
    for layer in (1.5, "1", True, None):
        with pytest.raises(TypeError, match="layer must be an int"):
            check_layer(G, layer)
    assert check_layer(G, 2.0) == 2  # a sweep's float grid / weights.json


class Plain(nn.Module):
    latent_dim = 2
    image_shape = (1, 2, 2)

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(2, 3), nn.Linear(3, 4)

    def forward(self, z):
        return self.b(self.a(z).relu()).tanh().view(-1, 1, 2, 2)


def test_an_unknown_generator_raises_naming_the_fix_and_can_be_registered():
    G = Plain()
    with pytest.raises(TypeError, match=r"cannot split a Plain.*register_split"):
        split_points(G)
    with pytest.raises(TypeError, match="cannot split a Plain"):
        split_generator(G, 1)

    def splitter(G):
        return [(lambda z: G.a(z).relu(), lambda h: G.b(h).tanh().view(-1, 1, 2, 2))]

    register_split(Plain, splitter)
    try:
        assert split_points(G) == (1,)
        before, after = split_generator(G, 1)
        z = torch.randn(3, 2)
        assert torch.equal(after(before(z)), G(z))
    finally:
        del SPLITTERS[Plain]
    with pytest.raises(TypeError, match="nn.Module class"):
        register_split(int, splitter)
    with pytest.raises(TypeError, match="callable"):
        register_split(Plain, None)


def test_sequential_splits_skip_the_output_activation():
    main = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.ReLU())
    assert len(sequential_splits(main, nn.ReLU)) == 1  # the last ReLU is the output's
    with pytest.raises(TypeError, match="nn.Sequential"):
        sequential_splits(nn.Linear(2, 2), nn.ReLU)
