"""A generator split at an intermediate layer: G(z) = G_after(G_before(z)).

Intermediate-layer methods (ILO: Daras, Dean, Jalal, Dimakis, ICML 2021; generator surgery:
Smedemark-Margulies et al. 2021) search the feature map h = G_before(z) of a layer k instead of
z, so that G_after(h) reaches images outside the range of G.

Layer k is the output of the k-th hidden block, after its activation (k = 1 .. K):

- ``DCGANGenerator``: ConvT-BN-ReLU blocks; K = 2 at 28 px, 3 at 32 px, 4 at 64 px; h is
  (B, ngf·2^(K−k), s_k, s_k) with s_k = 7·2^(k−1) at 28 px, 4·2^(k−1) otherwise. The final
  ConvT + tanh is G_after's last block.
- ``MLPGenerator``: Linear-BN-ReLU blocks; K = len(hidden); h is (B, hidden[k−1]).
- ``VAEDecoder``: Linear-Softplus blocks; K = len(hidden); h is (B, hidden[k−1]); G_after ends
  with the decoder's mean tanh(f/2) on [-1, 1].

``G_after(G_before(z))`` runs exactly the modules of ``G(z)`` in the same order, so it equals
G(z) (bitwise, for the same batch). The generators' forward and checkpoints are untouched: a
split reads the modules of ``G.main``, so it is taken in G's current mode (BatchNorm in eval
mode inside the solvers, ``latent.frozen``). Another architecture is added with
``register_split(TheClass, splitter)``, e.g. with ``sequential_splits`` for an
``nn.Sequential`` of blocks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from torch import Tensor, nn

from .dcgan import DCGANGenerator, check_input
from .mlp import MLPGenerator
from .vae import VAEDecoder

#: (G_before, G_after): z (B, latent_dim) -> h (B, *feature shape) -> image (B, C, H, W).
Split = tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]
#: A splitter: G -> its splits at layers 1..K, in order.
Splitter = Callable[[nn.Module], Sequence[Split]]

#: Generator class -> its splitter (exact classes: a subclass may change ``forward``).
SPLITTERS: dict[type, Splitter] = {}


def register_split(cls: type, splitter: Splitter) -> None:
    """Teach ``split_generator`` the layers of the generators of class ``cls``: ``splitter(G)``
    returns [(G_before, G_after)] for layers 1..K, with G_after(G_before(z)) == G(z)."""
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise TypeError(f"cls must be a torch.nn.Module class, got {cls!r}")
    if not callable(splitter):
        raise TypeError(f"splitter must be callable, got {type(splitter).__name__}")
    SPLITTERS[cls] = splitter


def sequential_splits(
    main: nn.Sequential,
    activation: type | tuple[type, ...],
    *,
    prepare: Callable[[Tensor], Tensor] | None = None,
    finish: Callable[[Tensor], Tensor] | None = None,
) -> list[Split]:
    """The splits of a generator G(z) = finish(main(prepare(z))) after each ``activation``
    module of ``main`` but its last module (the output's own activation is no split point).

    G_before(z) = main[:c](prepare(z)), G_after(h) = finish(main[c:](h)) for each cut c.
    """
    if not isinstance(main, nn.Sequential):
        raise TypeError(f"main must be an nn.Sequential, got {type(main).__name__}")
    prepare = prepare or (lambda z: z)
    finish = finish or (lambda x: x)
    modules = list(main)
    cuts = [i + 1 for i, m in enumerate(modules[:-1]) if isinstance(m, activation)]

    def make(c: int) -> Split:
        head, tail = main[:c], main[c:]
        return (lambda z: head(prepare(z))), (lambda h: finish(tail(h)))

    return [make(c) for c in cuts]


def _dcgan(G: DCGANGenerator) -> list[Split]:
    def prepare(z: Tensor) -> Tensor:
        check_input(G, z, "z", (None, G.latent_dim))
        return z[:, :, None, None]

    return sequential_splits(G.main, nn.ReLU, prepare=prepare)


def _mlp(G: MLPGenerator) -> list[Split]:
    return sequential_splits(
        G.main,
        nn.ReLU,
        prepare=lambda z: check_input(G, z, "z", (None, G.latent_dim)),
        finish=lambda x: x.view(-1, *G.image_shape),
    )


def _vae(G: VAEDecoder) -> list[Split]:
    return sequential_splits(
        G.main,
        nn.Softplus,
        prepare=lambda z: check_input(G, z, "z", (None, G.latent_dim)),
        finish=lambda f: (f.view(-1, *G.image_shape) / 2).tanh(),  # = VAEDecoder.forward
    )


register_split(DCGANGenerator, _dcgan)
register_split(MLPGenerator, _mlp)
register_split(VAEDecoder, _vae)


def _splits(G: object) -> Sequence[Split]:
    splitter = SPLITTERS.get(type(G))
    if splitter is None:
        known = ", ".join(c.__name__ for c in SPLITTERS)
        raise TypeError(
            f"cannot split a {type(G).__name__} into G_after ∘ G_before: its layers are known "
            f"for {known} only; register its split with ganinverse.models.layers."
            "register_split(YourGenerator, splitter) (see sequential_splits)"
        )
    return splitter(G)


def split_points(G: nn.Module) -> tuple[int, ...]:
    """The layers k at which G can be split: (1, ..., K), one per hidden block.

    Raises TypeError for a generator whose structure is not registered (``register_split``).
    """
    return tuple(range(1, len(_splits(G)) + 1))


def check_layer(G: nn.Module, layer: object) -> int:
    """``layer`` as one of ``split_points(G)``; an integral float (1.0, as read from a sweep's
    float grid or weights.json) is that int. Else a TypeError / ValueError naming the valid
    layers."""
    points = split_points(G)
    if isinstance(layer, float) and math.isfinite(layer) and layer.is_integer():
        layer = int(layer)
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise TypeError(f"layer must be an int block index, got {layer!r}")
    if layer not in points:
        raise ValueError(
            f"layer must be one of the split points {points} of this {type(G).__name__} "
            f"(the output of hidden block k), got {layer}; pick one of them"
        )
    return layer


def split_generator(G: nn.Module, layer: int) -> Split:
    """(G_before, G_after) with G(z) = G_after(G_before(z)), split after hidden block ``layer``.

    z: (B, latent_dim) float32 on G's device; h = G_before(z): the block's activations, e.g.
    (B, C_k, H_k, W_k) for a DCGAN; G_after(h): (B, C, H, W) in [-1, 1]. Raises TypeError for
    an unregistered generator class (the message names ``register_split``), ValueError for a
    layer outside ``split_points(G)``.
    """
    layer = check_layer(G, layer)
    return _splits(G)[layer - 1]


__all__ = [
    "SPLITTERS",
    "check_layer",
    "register_split",
    "sequential_splits",
    "split_generator",
    "split_points",
]
