"""DCGAN generator and discriminator (Radford et al. 2016), as in pytorch/examples ``dcgan/main.py``.

Square images of 28, 32 or 64 pixels and any channel count. The generator projects z to a
``base x base`` map (7 for 28 px, 4 otherwise) and doubles the resolution with strided transposed
convolutions, halving the channels each time; the discriminator mirrors it with strided convs.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from .._validation import check_choice, check_int, check_tensor

RESOLUTIONS = (28, 32, 64)
NORMS = ("batch", "layer", "none")


def _plan(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """(base size, number of x2 upsamplings) for a square image of 28, 32 or 64 pixels."""
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
    c, h, w = (int(s) for s in image_shape)
    if c < 1 or h != w or h not in RESOLUTIONS:
        raise ValueError(
            f"image_shape must be (C, S, S) with C >= 1 and S in {RESOLUTIONS}, got {image_shape}"
        )
    base = 7 if h == 28 else 4
    return base, int(math.log2(h // base))


def check_input(module: nn.Module, t: object, name: str, shape: tuple) -> Tensor:
    """``t`` as a network's input: a float tensor of ``shape`` with the network's dtype and device.

    A float64 / float16 input or one on another device would otherwise fail deep inside a layer
    ("mat1 and mat2 must have the same dtype"); this names the argument and the fix instead.
    """
    t = check_tensor(t, name, shape=shape, finite=False)
    param = next(module.parameters(), None)
    if param is not None:
        if t.dtype != param.dtype:
            raise TypeError(
                f"{name} must be {param.dtype} like the {type(module).__name__}'s weights, got "
                f"{t.dtype}; convert it with {name}.float() (networks and images are float32 here)"
            )
        if t.device != param.device:
            raise ValueError(
                f"{name} is on {t.device} but the {type(module).__name__} is on {param.device}; "
                f"move it with {name}.to({str(param.device)!r})"
            )
    return t


def weights_init(module: nn.Module) -> None:
    """DCGAN init: conv weights ~ N(0, 0.02); norm weights ~ N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z (B, latent_dim) -> image (B, C, H, W) in [-1, 1] via ConvT-BN-ReLU blocks and tanh."""

    def __init__(
        self, latent_dim: int = 100, image_shape: tuple[int, int, int] = (1, 28, 28), ngf: int = 64
    ) -> None:
        super().__init__()
        check_int(latent_dim, "latent_dim", low=1)
        check_int(ngf, "ngf", low=1)
        base, n_up = _plan(image_shape)
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.ngf = int(ngf)
        ch = ngf * 2 ** (n_up - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, ch, base, 1, 0, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        ]
        for _ in range(n_up - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, self.image_shape[0], 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)
        self.float()  # float32 whatever torch's default dtype

    def config(self) -> dict:
        """Constructor kwargs (what a checkpoint needs to rebuild this module)."""
        return {
            "latent_dim": self.latent_dim,
            "image_shape": list(self.image_shape),
            "ngf": self.ngf,
        }

    def forward(self, z: Tensor) -> Tensor:
        check_input(self, z, "z", (None, self.latent_dim))
        return self.main(z[:, :, None, None])


def _norm(kind: str, channels: int) -> nn.Module:
    # "layer": normalise each sample over (C, H, W) -- GroupNorm with one group is exactly that,
    # and unlike BatchNorm it keeps samples independent (required by the WGAN-GP penalty).
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class DCGANDiscriminator(nn.Module):
    """image (B, C, H, W) -> logit (B,) via strided Conv-Norm-LeakyReLU(0.2) blocks."""

    def __init__(
        self, image_shape: tuple[int, int, int] = (1, 28, 28), ndf: int = 64, norm: str = "batch"
    ) -> None:
        super().__init__()
        check_int(ndf, "ndf", low=1)
        check_choice(norm, "norm", NORMS)
        base, n_down = _plan(image_shape)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.ndf = int(ndf)
        self.norm = norm
        # First block has no normalisation, as in the DCGAN paper.
        layers: list[nn.Module] = [
            nn.Conv2d(self.image_shape[0], ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        ch = ndf
        for _ in range(n_down - 1):
            layers += [
                nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm == "none"),
                _norm(norm, ch * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, base, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)
        self.float()  # float32 whatever torch's default dtype

    def config(self) -> dict:
        """Constructor kwargs (what a checkpoint needs to rebuild this module)."""
        return {"image_shape": list(self.image_shape), "ndf": self.ndf, "norm": self.norm}

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x, "x", (None, *self.image_shape))
        return self.main(x).view(-1)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "check_input",
    "count_parameters",
    "weights_init",
]
