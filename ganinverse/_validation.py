"""Input checks shared by every public function: fail early, name the argument, say the fix."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def check_tensor(
    value: object,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    shape: Sequence[int | None] | None = None,
    finite: bool = True,
    floating: bool = True,
) -> Tensor:
    """Return ``value`` if it is a tensor of the expected rank/shape, else raise a named error.

    ``shape`` entries that are ``None`` match any size.
    """
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in allowed:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, allowed))} dimensions, "
                f"got shape {tuple(value.shape)}"
            )
    if shape is not None:
        if value.ndim != len(shape) or any(
            s is not None and s != v for s, v in zip(shape, value.shape, strict=True)
        ):
            want = tuple("*" if s is None else s for s in shape)
            raise ValueError(f"{name} must have shape {want}, got {tuple(value.shape)}")
    if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} contains NaN or Inf values")
    return value


def check_images(x: object, name: str, image_shape: Sequence[int] | None = None) -> Tensor:
    """Check a (B, C, H, W) float batch, optionally against an expected (C, H, W)."""
    shape = None if image_shape is None else (None, *image_shape)
    return check_tensor(x, name, ndim=4, shape=shape)


def check_range(x: Tensor, name: str, low: float, high: float, tol: float = 1e-4) -> Tensor:
    """Raise if any entry of ``x`` lies outside [low, high] (with a small tolerance)."""
    lo, hi = float(x.min()), float(x.max())
    if lo < low - tol or hi > high + tol:
        raise ValueError(f"{name} must lie in [{low}, {high}], got values in [{lo:.3g}, {hi:.3g}]")
    return x


def check_positive(value: float, name: str, *, strict: bool = True) -> float:
    """Raise unless ``value`` is a (strictly) positive real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if (value <= 0) if strict else (value < 0):
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'}, got {value}")
    return float(value)


def check_int(value: object, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Raise unless ``value`` is an int within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_choice(value: str, name: str, choices: Sequence[str]) -> str:
    """Raise unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value
