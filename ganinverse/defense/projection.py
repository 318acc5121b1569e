"""The projection defense (Ilyas et al. 2017; Defense-GAN, Samangouei et al. 2018):

    D(x) = G(ẑ),   ẑ = argmin_z ||G(z) − x||²   (best of R restarts, L gradient steps)

i.e. CSGM with the identity operator on the shared latent engine. ``nn.Sequential(defense,
classifier)`` is then an ordinary classifier of [0, 1] images. The engine detaches its output,
so the defense has no input gradient; attack it through :class:`ganinverse.defense.BPDA`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import check_int
from ..data import from_unit, to_unit
from ..latent import LatentConfig, LatentResult, generator_device
from ..models.classifier import check_unit_images
from ..operators import Identity
from ..solvers.csgm import csgm

#: Defense-GAN's MNIST setting: L = 200 steps, R = 10 restarts, SGD lr 10 with momentum 0.7,
#: lr × 0.1 after 80% of the steps.
DEFENSE_GAN = LatentConfig(
    restarts=10,
    steps=200,
    lr=10.0,
    optimizer="sgd",
    momentum=0.7,
    schedule="step",
    step_at=0.8,
    step_gamma=0.1,
    progress=False,
)


class ProjectionDefense(nn.Module):
    """x (B, C, H, W) in [0, 1] -> G(ẑ) in [0, 1], ẑ = argmin_z mean((G(z) − (2x − 1))²).

    Keyword overrides go to the latent engine (``steps``, ``restarts``, ``lr``, ``optimizer``,
    ``seed``, ``progress``, ...; defaults :data:`DEFENSE_GAN`). ``resample=True`` draws new
    restarts on every call (seed, seed + 1, ...): the defense's randomness that EOT averages over.
    The last call's :class:`~ganinverse.latent.LatentResult` is kept in ``last_result``.
    """

    def __init__(
        self,
        G: nn.Module,
        config: LatentConfig | None = None,
        *,
        resample: bool = False,
        **overrides: object,
    ) -> None:
        super().__init__()
        if not isinstance(G, nn.Module) or not all(
            hasattr(G, a) for a in ("latent_dim", "image_shape")
        ):
            raise TypeError("G must be a generator nn.Module with latent_dim and image_shape")
        if config is not None and not isinstance(config, LatentConfig):
            raise TypeError(f"config must be a LatentConfig, got {type(config).__name__}")
        self.G = G
        self.image_shape = tuple(int(s) for s in G.image_shape)
        self.config = (config or DEFENSE_GAN).updated(**overrides)
        # 0 steps would return the random start as the "projection"
        check_int(self.config.steps, "steps", low=1)
        self.resample = bool(resample)
        self.calls = 0
        self.last_result: LatentResult | None = None

    def project(self, images: Tensor) -> LatentResult:
        """Run the engine on images in [0, 1] (float16/64 converted to float32); x_hat of the
        result is in [-1, 1]."""
        if isinstance(images, Tensor):
            images = images.detach()
        images = check_unit_images(images, "images", self.image_shape)
        config = self.config
        if self.resample:
            config = config.updated(seed=config.seed + self.calls)
        self.calls += 1
        y = from_unit(images.to(generator_device(self.G)))
        with torch.enable_grad():  # the engine needs gradients even under torch.no_grad()
            result = csgm(self.G, Identity(self.image_shape), y, config)
        self.last_result = result
        return result

    def forward(self, images: Tensor) -> Tensor:
        """G(ẑ) (B, C, H, W) float32 in [0, 1], on the input's device; no gradient flows to
        ``images``."""
        return to_unit(self.project(images).x_hat).clamp(0, 1).to(images.device)

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"steps={c.steps}, restarts={c.restarts}, optimizer={c.optimizer}, lr={c.lr:g}, "
            f"resample={self.resample}"
        )
