"""A generator's mirror image: F∘G, F the left-right flip of the image (the width axis).

Faces (and most natural scenes) are as likely mirrored as not, so F∘G is as good a prior as G,
yet a generator trained without mirrored images is not mirror-symmetric: its range and F(range)
differ, and a reconstruction with each misses the truth in other ways. Averaging the two
reconstructions (``iagan(mirror=True)``, :func:`ganinverse.methods.reconstruct_result`) is the
test-time flip augmentation of image classifiers, applied to a generative prior.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..latent import check_generator


class Mirrored(nn.Module):
    """G_F(z) = flip_W(G(z)): the images of ``G`` mirrored left-right.

    z (B, latent_dim) -> (B, C, H, W), on G's scale ([-1, 1] for the library's generators).
    ``latent_dim`` and ``image_shape`` are G's; G is held as a submodule (its parameters and
    buffers, under the prefix ``G.``, are this module's: ``iagan``'s per-image copies of the
    weights work on it as on G). ``Mirrored(Mirrored(G))`` makes G's images again. Raises
    TypeError/ValueError for what ``latent.check_generator`` refuses.
    """

    def __init__(self, G: nn.Module) -> None:
        super().__init__()
        self.G = check_generator(G)
        self.latent_dim = G.latent_dim
        self.image_shape = tuple(G.image_shape)

    def forward(self, z: Tensor) -> Tensor:
        return self.G(z).flip(-1)
