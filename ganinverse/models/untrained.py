"""Untrained image generators: the Deep Decoder and the Deep Image Prior's skip network.

Neither network is trained on data: each maps a fixed random input z (drawn once per image) to an
image, and its weights θ are fitted to one image's measurements (``solvers/untrained.py``). The
architecture is the prior.

- ``DeepDecoder`` (Heckel & Hand, "Deep Decoder: Concise Image Representations from Untrained
  Non-convolutional Networks", ICLR 2019): d layers B_{i+1} = cn(ReLU(U_i B_i C_i)), i < d, of
  1x1 convolutions C_i (k → k channels, no bias), bilinear upsampling U_i by about 2 (none after
  the last layer) and channel normalisation cn (each channel of an image to zero mean and unit
  variance over its pixels, then a learned scale and shift); x = 2σ(B_d C_d) − 1 with C_d a 1x1
  convolution k → C. It has d·k² + 2·d·k + k·C weights: 1,200 for k = 16, d = 4 on 64x64x3
  images, a tenth of the n = 12,288 pixels, an under-parameterised, hence regularising, image
  model (on 28x28x1 images, n = 784, k <= 12 keeps it under n; k = 16 has 1,168 weights).
- ``SkipNet`` (Ulyanov, Vedaldi, Lempitsky, "Deep Image Prior", CVPR 2018; used for compressed
  sensing by Van Veen et al. 2018): their encoder-decoder "skip" network, sized for 28-64 px:
  ``levels`` levels, each a stride-2 3x3 convolution and a 3x3 convolution down, a 1x1 skip
  branch, and on the way up the bilinearly upsampled deeper result concatenated with the skip,
  normalised, a 3x3 and a 1x1 convolution; LeakyReLU(0.2), reflection padding; x = 2σ(C_out ·) − 1.
  It has many more weights than pixels: it fits anything, noise included, given enough steps,
  so it is regularised by stopping early.

Both networks map (N, *input_shape) -> (N, C, H, W) in (-1, 1). Their normalisation is per image
(``nn.GroupNorm`` with one group per channel: the papers' BatchNorm at batch size 1), so an
image's output depends on its own input and weights only. ``reset(generator)`` draws the weights
(PyTorch's default scale for convolutions: uniform on ±1/√fan_in; norms: scale 1, shift 0) and
``draw_input(generator)`` the input, uniform on [0, 0.1) as in both papers' code, from a
``torch.Generator`` on the CPU: the same numbers on any device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_count, check_int

#: Inputs are uniform on [0, INPUT_SCALE) (both papers' code: ``uniform_() * 1/10``).
INPUT_SCALE = 0.1
#: The Deep Decoder's layers and the DIP's levels when not given: these, or fewer for images
#: too small to halve that often (the coarsest grid must keep 2x2 pixels; 8x8: 3 and 2).
DEFAULT_DEPTH = 4
DEFAULT_LEVELS = 3


def _check_image_shape(image_shape: object) -> tuple[int, int, int]:
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 3:
        raise TypeError(f"image_shape must be (C, H, W), got {image_shape!r}")
    for s in image_shape:
        check_int(s, "image_shape", low=1)
    return tuple(int(s) for s in image_shape)  # type: ignore[return-value]


def grid_sizes(size: tuple[int, int], halvings: int) -> list[tuple[int, int]]:
    """The ``halvings + 1`` grids from the coarsest to ``size``, each ⌈half⌉ of the next
    (28 with 3 halvings: 4, 7, 14, 28)."""
    sizes = [tuple(size)]
    for _ in range(halvings):
        sizes.insert(0, tuple(math.ceil(s / 2) for s in sizes[0]))
    return sizes  # type: ignore[return-value]


def max_halvings(size: tuple[int, int]) -> int:
    """The most ⌈half⌉ steps that keep a grid of at least 2x2 (a normalised 1-pixel channel
    is 0, and reflection padding needs 2 pixels): 28 -> 4 (2x2), 64 -> 5, 16 -> 3, 8 -> 2."""
    most = 0
    while min(grid_sizes(size, most + 1)[0]) >= 2:
        most += 1
    return most


def _halvings(
    size: tuple[int, int], value: int | None, default: int, option: str, offset: int
) -> int:
    """``value`` (``option``, ``offset`` more than the halvings it makes) checked against the
    image size, or, for None, ``default`` capped at the most halvings the size allows."""
    most = max_halvings(size)
    if value is None:
        return min(default, most + offset)
    halvings = check_int(value, option, low=1) - offset
    if halvings > most:
        raise ValueError(
            f"{option} = {halvings + offset} halves {size[0]}x{size[1]} images {halvings} "
            f"time(s), below 2x2 pixels; use {option} <= {most + offset} for this size"
        )
    return value


def channel_norm(channels: int) -> nn.GroupNorm:
    """Per image, each channel to zero mean and unit variance over its pixels, then a learned
    scale and shift (the papers' BatchNorm at batch size 1; no statistics shared across a batch)."""
    return nn.GroupNorm(channels, channels)


class UntrainedNetwork(nn.Module):
    """Base: a fixed input shape, seeded weights and input, and the weight count."""

    image_shape: tuple[int, int, int]
    input_shape: tuple[int, int, int]

    def reset(self, generator: torch.Generator) -> UntrainedNetwork:
        """Draw every weight from ``generator`` (a CPU ``torch.Generator``); returns self."""
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
                    bound = 1 / math.sqrt(fan_in // module.groups)
                    for p in (module.weight, module.bias):
                        if p is not None:
                            w = torch.rand(p.shape, generator=generator) * 2 - 1
                            p.copy_(w * bound)
                elif isinstance(module, nn.GroupNorm):
                    module.weight.fill_(1.0)
                    module.bias.fill_(0.0)
        return self

    def draw_input(self, generator: torch.Generator) -> Tensor:
        """The fixed input, (1, *input_shape), uniform on [0, 0.1), on the CPU."""
        return torch.rand(1, *self.input_shape, generator=generator) * INPUT_SCALE

    def n_parameters(self) -> int:
        """The number of fitted weights."""
        return sum(p.numel() for p in self.parameters())


class DeepDecoder(UntrainedNetwork):
    """The Deep Decoder (Heckel & Hand 2019; see the module docstring): ``depth`` layers of
    ``channels`` channels (1x1 convolution, bilinear upsampling, ReLU, channel norm), then a 1x1
    convolution to C channels and x = 2σ(·) − 1.

    The input is (channels, H₀, W₀) with H₀ = H halved ⌈·⌉ ``depth − 1`` times (28 px, depth 4:
    4x4); ``depth=None``: 4, or fewer for images too small to keep a 2x2 input (8x8: 3).
    Weights: depth·k² + 2·depth·k + k·C (k = channels): 1,200 for k = 16, d = 4 on 64x64x3
    images (n = 12,288 pixels), 1,168 on 28x28x1 (n = 784: there k <= 12 is under n); the
    paper's k = 64, d = 6 has 25,536 for 512x512x3. Raises TypeError/ValueError for a bad
    shape, channels outside [1, 1024] (``_validation.BUDGETS["width"]``), depth < 1, or a depth
    that halves the image below 2x2.
    """

    def __init__(
        self, image_shape: tuple[int, int, int], channels: int = 16, depth: int | None = None
    ):
        super().__init__()
        self.image_shape = _check_image_shape(image_shape)
        self.channels = check_count(channels, "channels", "width")
        c, h, w = self.image_shape
        self.depth = depth = _halvings((h, w), depth, DEFAULT_DEPTH, "depth", 1)
        self.sizes = grid_sizes((h, w), depth - 1)
        self.input_shape = (channels, *self.sizes[0])
        k = channels
        self.convs = nn.ModuleList(nn.Conv2d(k, k, 1, bias=False) for _ in range(depth))
        self.norms = nn.ModuleList(channel_norm(k) for _ in range(depth))
        self.out = nn.Conv2d(k, c, 1, bias=False)

    def forward(self, z: Tensor) -> Tensor:
        x = z
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            x = conv(x)
            if i + 1 < self.depth:
                x = F.interpolate(x, size=self.sizes[i + 1], mode="bilinear", align_corners=False)
            x = norm(F.relu(x))
        return 2 * torch.sigmoid(self.out(x)) - 1


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, padding_mode="reflect")


def _block(c_in: int, c_out: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [_conv(c_in, c_out, kernel, stride), channel_norm(c_out), nn.LeakyReLU(0.2)]


class SkipNet(UntrainedNetwork):
    """The Deep Image Prior's encoder-decoder with skip connections (Ulyanov et al. 2018; see the
    module docstring), ``levels`` levels of ``channels`` channels, ``skip_channels`` per skip
    (0: no skip connections, the paper's hourglass), an input of ``input_channels`` x H x W;
    ``levels=None``: 3, or fewer for images too small to halve that often (8x8: 2). For
    28x28x1 and the defaults (3 levels, 32 channels, 4 skip channels, 32 input channels):
    91,293 weights against n = 784 pixels.
    Raises TypeError/ValueError for a bad shape, a width outside [1, 1024] (channels,
    input_channels; skip_channels in [0, 1024]; ``_validation.BUDGETS["width"]``), or levels
    that halve the image below 2x2.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        channels: int = 32,
        levels: int | None = None,
        skip_channels: int = 4,
        input_channels: int = 32,
    ):
        super().__init__()
        self.image_shape = _check_image_shape(image_shape)
        k = check_count(channels, "channels", "width")
        s = check_count(skip_channels, "skip_channels", "width", low=0)  # 0: the hourglass
        check_count(input_channels, "input_channels", "width")
        c, h, w = self.image_shape
        self.levels = levels = _halvings((h, w), levels, DEFAULT_LEVELS, "levels", 0)
        self.input_shape = (input_channels, h, w)
        c_in = [input_channels] + [k] * (levels - 1)
        self.down = nn.ModuleList(
            nn.Sequential(*_block(c_in[i], k, 3, 2), *_block(k, k, 3)) for i in range(levels)
        )
        self.skip = nn.ModuleList(
            nn.Sequential(*_block(c_in[i], s, 1)) if s else nn.Identity() for i in range(levels)
        )
        self.skip_channels = s
        self.up = nn.ModuleList(
            nn.Sequential(channel_norm(s + k), *_block(s + k, k, 3), *_block(k, k, 1))
            for _ in range(levels)
        )
        self.out = nn.Conv2d(k, c, 1)

    def forward(self, z: Tensor) -> Tensor:
        skips = []
        x = z
        for down, skip in zip(self.down, self.skip, strict=True):
            skips.append(skip(x) if self.skip_channels else x[:, :0])  # (no skip: 0 channels)
            x = down(x)
        for up, s in zip(reversed(self.up), reversed(skips), strict=True):
            x = F.interpolate(x, size=s.shape[-2:], mode="bilinear", align_corners=False)
            x = up(torch.cat([s, x], 1))
        return 2 * torch.sigmoid(self.out(x)) - 1


__all__ = [
    "DeepDecoder",
    "SkipNet",
    "UntrainedNetwork",
    "channel_norm",
    "grid_sizes",
    "max_halvings",
]
