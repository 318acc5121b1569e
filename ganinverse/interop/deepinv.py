"""deepinv interop: deepinv's forward models as ganinverse operators, and back for generators.

deepinv (https://deepinv.github.io, Tachella et al. 2023) is an optional dependency
(``pip install ganinverse[deepinv]``): it is imported inside the functions below, never when
ganinverse is imported.

The scale contract. deepinv's physics measure images on [0, 1]; ganinverse's operators act on
[-1, 1] images (x = 2x₀₁ − 1). A is linear, so the same matrix serves both scales: only the
measurements and the noise level change,

    y = A x + η = 2 (A x₀₁ + η₀₁) − A 1 = 2 y₀₁ − A 1,      σ = 2 σ₀₁,

which ``DeepinvOperator.measurements_from_deepinv`` applies (``scale="unit"``, the default, as
``LinearOperator.from_unit_measurements``). ``scale="signed"`` is for a physics used on [-1, 1]
images: y and σ are taken as they are. Reconstructions come back on [-1, 1];
``ganinverse.data.to_unit(x_hat)`` = (x̂ + 1)/2 puts them on deepinv's scale.

    import deepinv as dinv, ganinverse as gi
    from ganinverse.interop.deepinv import from_deepinv
    physics = dinv.physics.CompressedSensing(m=100, img_size=(1, 28, 28))
    y01 = physics(x01)                                 # deepinv's measurements of [0, 1] images
    op = from_deepinv(physics, (1, 28, 28))            # σ from physics.noise_model, ×2
    x_hat = gi.csgm(G, op, op.measurements_from_deepinv(y01)).x_hat   # on [-1, 1]

The other way, ``as_deepinv_generator(G)`` gives deepinv's ``CSGMGenerator`` (and anything else
that takes a ``backbone_generator``) a ganinverse generator: z (B, nz, 1, 1) -> images on [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_noise_std
from ..latent import check_generator
from ..operators import LinearOperator, _image_shape

#: The image scales a deepinv physics or generator may work on: "unit" [0, 1] (deepinv's
#: convention), "signed" [-1, 1] (ganinverse's).
SCALES = ("unit", "signed")

#: Power-iteration steps for ||A||₂ in the measurement bound (``DeepinvOperator.measurement_bound``).
NORM_ITERATIONS = 50


def _deepinv():
    try:
        import deepinv
    except ImportError as error:  # pragma: no cover - exercised only without deepinv
        raise ImportError(
            "ganinverse.interop.deepinv needs deepinv: pip install 'ganinverse[deepinv]' "
            "(or pip install 'deepinv>=0.5')"
        ) from error
    return deepinv


def _noise_std(physics: nn.Module, scale: str, noise_std: float | None) -> float:
    """σ on ganinverse's scale: ``noise_std`` when given, else the physics' Gaussian σ (×2 for
    ``scale="unit"``); ValueError for another noise model or one σ per image."""
    if noise_std is not None:
        return check_noise_std(noise_std, "noise_std")
    dinv = _deepinv()
    model = getattr(physics, "noise_model", None)
    factor = 2.0 if scale == "unit" else 1.0
    if model is None or isinstance(model, dinv.physics.ZeroNoise):
        return 0.0
    if isinstance(model, dinv.physics.GaussianNoise):
        sigma = torch.as_tensor(model.sigma).detach().flatten().float().cpu()
        if sigma.numel() == 0 or not bool((sigma == sigma[0]).all()):
            raise ValueError(
                f"physics.noise_model has one σ per image ({sigma.tolist()}); ganinverse's "
                "operators hold one σ: pass noise_std= (σ on the [-1, 1] scale) explicitly"
            )
        return check_noise_std(factor * float(sigma[0]), "physics.noise_model.sigma")
    raise ValueError(
        f"physics.noise_model is {type(model).__name__}, not Gaussian: ganinverse's data term "
        "(1/m)||y - A x||^2 assumes Gaussian noise of one σ; pass noise_std= (σ on the [-1, 1] "
        "scale, 2σ for [0, 1] measurements) to use the adapter anyway"
    )


class DeepinvOperator(LinearOperator):
    """A deepinv ``LinearPhysics`` as a ganinverse operator: A x = ``physics.A(x)``,
    Aᵀ y = ``physics.A_adjoint(y)`` for x (B, C, H, W), y (B, *out_shape) (``out_shape`` read
    off ``physics.A`` of one zero image), noise σ on the [-1, 1] scale (see the module's scale
    contract; ``measurements_from_deepinv`` converts y). The physics is a submodule:
    ``.to(device)`` moves it. Not registered (no ``name``): it is built from a physics, not
    from a sweep setting. Build it with ``from_deepinv``.

    The data term is (1/m)||y − A x||² over the m = prod(out_shape) entries of y; for
    ``deepinv.physics.Inpainting`` with one mask (y in the image layout, zero where nothing is
    measured) the mask marks the measurements, so m_i counts the known entries as in
    ``ganinverse.operators.Inpainting``. deepinv's ``sensor_model`` is not part of A: y must be
    A x₀₁ + noise.
    """

    def __init__(
        self,
        physics: nn.Module,
        image_shape: Sequence[int],
        *,
        scale: str = "unit",
        noise_std: float = 0.0,
        mask: Tensor | None = None,
    ) -> None:
        super().__init__(image_shape, noise_std=noise_std)
        self.scale = check_choice(scale, "scale", SCALES)
        self.physics = physics
        self._bound: Tensor | None = None
        probe = torch.zeros(1, *self.in_shape, device=self.device)
        with torch.no_grad():
            out = physics.A(probe)
        if not isinstance(out, Tensor) or out.ndim < 2 or out.shape[0] != 1:
            raise ValueError(
                f"physics.A of a (1, *{self.in_shape}) image must give a (1, ...) tensor, got "
                f"{getattr(out, 'shape', type(out).__name__)}: is image_shape right?"
            )
        if not out.dtype.is_floating_point or out.dtype.is_complex:
            raise ValueError(
                f"physics.A gives {out.dtype} measurements; ganinverse's operators are real "
                "(float32): complex physics (MRI) are not supported"
            )
        if bool(out.abs().max() > 0):
            raise ValueError("physics.A(0) is not 0: the physics is not linear")
        self.out_shape = tuple(int(s) for s in out.shape[1:])
        if mask is not None:
            self.register_buffer("mask", mask.detach().float().expand(1, *self.out_shape).clone())
        else:
            self.mask = None

    def _apply(self, fn, *args, **kwargs):
        """``nn.Module.to`` / ``.double()`` and the like, then the physics' ``dtype`` attribute
        set to its buffers' dtype: deepinv's ``CompressedSensing.A_adjoint`` casts y to
        ``physics.dtype``, which ``.to(torch.float64)`` leaves at float32 (the Lasso's float64
        duality gap converts the operator so)."""
        out = super()._apply(fn, *args, **kwargs)
        if isinstance(getattr(self.physics, "dtype", None), torch.dtype):
            real = [b.dtype for b in self.physics.buffers() if b.is_floating_point()]
            if real:
                self.physics.dtype = real[0]
        return out

    def A(self, x: Tensor) -> Tensor:
        return self.physics.A(x)

    def A_adjoint(self, y: Tensor) -> Tensor:
        return self.physics.A_adjoint(y)

    def measurement_mask(self) -> Tensor | None:
        return self.mask

    def measurement_bound(self) -> Tensor:
        """A bound on max |(A x)_j| over x in [-1, 1]: 1 for an inpainting mask, else
        √n · ||A||₂ (|(Ax)_j| <= ||A x||₂ <= ||A||₂ ||x||₂), with ||A||₂ by ``NORM_ITERATIONS``
        steps of power iteration (computed once, matrix-free)."""
        if self.mask is not None:
            return torch.tensor(1.0)
        if self._bound is None:
            self._bound = math.sqrt(self.n) * self.norm(n_iter=NORM_ITERATIONS).max()
        return self._bound

    def measurements_from_deepinv(self, y: Tensor) -> Tensor:
        """y on ganinverse's scale from the physics' measurements: 2y₀₁ − A1 for
        ``scale="unit"`` (``from_unit_measurements``), y itself (checked) for "signed".
        (B, *out_shape) -> the same shape. Raises TypeError/ValueError as
        ``check_measurements`` (wrong shape, non-finite values, values no image reaches)."""
        if self.scale == "unit":
            return self.from_unit_measurements(y)
        return self.check_measurements(y)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, scale={self.scale!r}, physics={type(self.physics).__name__}"
        )


def from_deepinv(
    physics: nn.Module,
    image_shape: Sequence[int],
    *,
    scale: str = "unit",
    noise_std: float | None = None,
) -> DeepinvOperator:
    """A ganinverse operator from a deepinv ``LinearPhysics`` (``deepinv.physics``: e.g.
    ``CompressedSensing(m, img_size)``, ``Inpainting``, ``Downsampling``, ``BlurFFT``).

    ``image_shape`` (C, H, W): the images the physics acts on (checked against the physics'
    ``img_size`` when it has one). ``scale``: "unit" (default; the physics measures [0, 1]
    images, deepinv's convention: y = 2y₀₁ − A1 and σ = 2σ₀₁, see the module docstring) or
    "signed" (the physics is used on [-1, 1] images). ``noise_std``: σ on ganinverse's [-1, 1]
    scale; by default 2σ₀₁ (``scale="unit"``) or σ from ``physics.noise_model`` when it is a
    ``GaussianNoise`` with one σ, 0 for ``ZeroNoise``.

    The operator is checked before it is returned: A(0) = 0, real measurements, and
    ``check_adjoint`` (``A_adjoint`` the transpose of ``A`` on random images). Raises TypeError
    for a physics that is not a ``deepinv.physics.LinearPhysics``; ValueError for a bad
    ``image_shape`` or ``scale``, a non-Gaussian noise model without ``noise_std``, one σ per
    image, complex measurements, a non-linear or non-adjoint physics, or a deepinv
    ``Inpainting`` with one mask per image (use ``ganinverse.operators.Inpainting(physics.mask,
    image_shape)``); ImportError without deepinv.
    """
    dinv = _deepinv()
    if not isinstance(physics, dinv.physics.LinearPhysics):
        raise TypeError(
            "physics must be a deepinv.physics.LinearPhysics (e.g. "
            f"deepinv.physics.CompressedSensing), got {type(physics).__name__}"
        )
    shape = _image_shape(image_shape)
    check_choice(scale, "scale", SCALES)
    size = getattr(physics, "img_size", None)
    if size is not None and len(size) == 3 and tuple(int(s) for s in size) != shape:
        raise ValueError(
            f"image_shape {shape} differs from the physics' img_size {tuple(size)}: pass "
            f"image_shape={tuple(size)} (the generator's G.image_shape must match it too)"
        )
    sigma = _noise_std(physics, scale, noise_std)
    mask = None
    if isinstance(physics, dinv.physics.Inpainting):
        mask = physics.mask
        if mask.ndim == 4 and mask.shape[0] > 1:
            raise ValueError(
                f"the deepinv Inpainting holds {mask.shape[0]} masks (one per image); use "
                "ganinverse.operators.Inpainting(physics.mask, image_shape), which keeps one "
                "mask per image"
            )
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("the deepinv Inpainting mask must be binary (0 = missing, 1 = known)")
    op = DeepinvOperator(physics, shape, scale=scale, noise_std=sigma, mask=mask)
    op.check_adjoint()
    return op


class DeepinvGenerator(nn.Module):
    """A ganinverse generator G as deepinv expects a backbone generator: ``nz`` = G.latent_dim,
    ``forward(z)`` with z (B, nz, 1, 1) (deepinv's DCGAN convention) or (B, nz) -> G(z) mapped to
    the physics' scale, (B, C, H, W) in [0, 1] (``scale="unit"``: (G(z) + 1)/2) or [-1, 1]
    ("signed"). G is a submodule: ``.to``, ``.eval()`` and the parameters are G's.
    """

    def __init__(self, G: nn.Module, scale: str = "unit") -> None:
        super().__init__()
        self.G = check_generator(G)
        self.scale = check_choice(scale, "scale", SCALES)
        self.nz = int(G.latent_dim)
        self.latent_dim = self.nz
        self.image_shape = tuple(G.image_shape)

    def forward(self, z: Tensor) -> Tensor:
        if not isinstance(z, Tensor):
            raise TypeError(f"z must be a tensor (B, {self.nz}, 1, 1), got {type(z).__name__}")
        if z.ndim < 2 or z.shape[1] != self.nz or math.prod(z.shape[2:]) != 1:
            raise ValueError(
                f"z must be (B, {self.nz}, 1, 1) or (B, {self.nz}), got {tuple(z.shape)}"
            )
        x = self.G(z.reshape(len(z), self.nz))
        return (x + 1) / 2 if self.scale == "unit" else x


def as_deepinv_generator(G: nn.Module, *, scale: str = "unit") -> DeepinvGenerator:
    """G wrapped for deepinv (``DeepinvGenerator``): e.g.
    ``deepinv.models.CSGMGenerator(backbone_generator=as_deepinv_generator(G))`` runs deepinv's
    CSGM (Bora et al. 2017) with a ganinverse generator on deepinv physics of [0, 1] images.
    (deepinv's CSGMGenerator fits one latent, drawn from U[-1, 1] with torch's global generator,
    to the whole batch: give it one image at a time.) Raises TypeError for a G without
    ``latent_dim`` / ``image_shape`` or not float32 (``check_generator``), ValueError for a
    ``scale`` other than "unit" or "signed". Needs no deepinv to build."""
    return DeepinvGenerator(G, scale)


__all__ = ["SCALES", "DeepinvGenerator", "DeepinvOperator", "as_deepinv_generator", "from_deepinv"]
