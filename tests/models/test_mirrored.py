import pytest
import torch

from ganinverse.models import DCGANGenerator
from ganinverse.models.mirrored import Mirrored
from ganinverse.solvers.adaptive import _stacked, render


def test_the_mirror_image_of_each_image_and_twice_g_itself(toy_rgb_generator):
    G = toy_rgb_generator
    F = Mirrored(G)
    z = torch.randn(3, G.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x, xf = G(z), F(z)
    assert F.latent_dim == G.latent_dim and F.image_shape == tuple(G.image_shape)
    assert torch.equal(xf[..., 0], x[..., -1]) and torch.equal(xf, x.flip(-1))
    assert not torch.equal(xf, x)  # (the toy's images are not symmetric)
    with torch.no_grad():
        assert torch.equal(Mirrored(F)(z), x)
    assert [p is q for p, q in zip(F.parameters(), G.parameters(), strict=True)] == [True] * len(
        list(G.parameters())
    )


def test_iagans_per_image_weight_copies_render_it():
    """iagan fine-tunes copies of the weights by name (functional_call): the mirror image's
    names (``G.`` + G's) render F∘G, buffers (BatchNorm) included."""
    G = DCGANGenerator(latent_dim=8, image_shape=(1, 28, 28), ngf=4).eval()
    F = Mirrored(G)
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(render(F, _stacked(F, 2), z), G(z).flip(-1))


@pytest.mark.parametrize(
    "G, error, match",
    [
        (object(), TypeError, "G must be a torch.nn.Module generator"),
        (torch.nn.Linear(2, 2), TypeError, "latent_dim"),
    ],
)
def test_what_is_no_generator_is_refused(G, error, match):
    with pytest.raises(error, match=match):
        Mirrored(G)
