"""Input checks shared by every public function: fail early, name the argument, say the fix."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

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
    if value.is_meta:  # a shape without values (e.g. built under torch.device("meta"))
        raise ValueError(
            f"{name} is on the meta device: it has a shape but no values; pass a tensor on "
            "the CPU or a GPU (e.g. the images themselves, or materialise it with .to_empty)"
        )
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
            dims = [
                "B" if s is None and i == 0 else "*" if s is None else str(s)
                for i, s in enumerate(shape)
            ]
            want = f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"
            one = (
                shape[0] is None
                and tuple(value.shape) == tuple(shape[1:])
                and None not in shape[1:]
            )
            fix = f"; for one item pass {name}.unsqueeze(0) (B = 1)" if one else ""
            raise ValueError(f"{name} must have shape {want}, got {tuple(value.shape)}{fix}")
    if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} contains NaN or Inf values")
    return value


def check_not_empty(x: Tensor, name: str, what: str = "image") -> Tensor:
    """Raise unless the batch ``x`` (its first dimension) holds at least one ``what`` (an image,
    a measurement vector): an empty batch is refused here, named, before any work starts."""
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(
            f"{name} must hold at least one {what}, got an empty batch {tuple(x.shape)}; "
            f"pass a batch of B >= 1 (a single {what} as {name}[None], or {name}[i : i + 1])"
        )
    return x


def check_images(x: object, name: str, image_shape: Sequence[int] | None = None) -> Tensor:
    """Check a (B, C, H, W) float batch, optionally against an expected (C, H, W)."""
    shape = None if image_shape is None else (None, *image_shape)
    x = check_tensor(x, name, ndim=4, shape=shape)
    return check_not_empty(x, name, "image")


def check_measurement_scale(
    y: Tensor, bound: Tensor, noise_std: float = 0.0, name: str = "y", *, fix: str = ""
) -> Tensor:
    """Raise unless every measurement fits images in [-1, 1]: y = A x + η with x in [-1, 1]
    gives |y_j| <= max |(A x)_j| = ``bound_j`` (the ℓ1 norm of row j of A) plus the noise, and
    a y beyond twice that plus 6σ (σ = ``noise_std``) was measured on another scale (images in
    [0, 255]). ``y`` (B, m) or (B, *out_shape); ``bound`` broadcasts to y flattened to (B, m):
    a scalar, (m,) shared or (B, m) per image. The one check of the measurement scale of the
    library (operators' ``check_measurements``, the Lasso solvers' matrix form); ``fix``, when
    given, replaces the advice on how to declare a larger noise. Returns y.

    What no check on y can catch: y measured from images on the [0, 1] scale is the exact
    measurement of a legal image (u in [0, 1] lies inside [-1, 1]: a washed-out one), so it
    passes this bound and any other consistency test; only the caller's scaling prevents it."""
    flat = y.detach().flatten(1)
    if flat.numel() == 0:
        return y
    bound = bound.detach().to(flat.device, flat.dtype)
    rows = bound.flatten() if bound.ndim <= 1 else bound.flatten(1)  # shared, or (B, m)
    excess = (flat.abs() - (2 * rows + 6 * noise_std)).max()
    if float(excess) > 1e-4:
        raise ValueError(
            f"{name} has entries up to {float(flat.abs().max()):.4g}, beyond what A x + noise "
            f"reaches for images x in [-1, 1] (at most {float(bound.max()):.4g} per entry, "
            f"noise σ = {noise_std:g}): were the images in [0, 255]? measure x / 127.5 "
            "- 1 (or ganinverse.data.from_unit(x) for [0, 1] images)" + (f"; {fix}" if fix else "")
        )
    return y


def check_image_range(x: Tensor, name: str = "x") -> Tensor:
    """Raise unless the images lie in [-1, 1] (the generator's range), with the likely fix."""
    lo, hi = float(x.detach().min()), float(x.detach().max())
    if lo >= -1 - 1e-4 and hi <= 1 + 1e-4:
        return x
    hint = (
        "images in [0, 255]? pass x / 127.5 - 1"
        if hi > 2
        else "images in [0, 1] are mapped with ganinverse.data.from_unit (2x - 1)"
    )
    raise ValueError(
        f"{name} must hold images on the library's [-1, 1] scale, got values in "
        f"[{lo:.3g}, {hi:.3g}]; {hint}"
    )


def check_range(x: Tensor, name: str, low: float, high: float, tol: float = 1e-4) -> Tensor:
    """Raise if any entry of ``x`` lies outside [low, high] (with a small tolerance)."""
    lo, hi = float(x.detach().min()), float(x.detach().max())
    if lo < low - tol or hi > high + tol:
        raise ValueError(f"{name} must lie in [{low}, {high}], got values in [{lo:.3g}, {hi:.3g}]")
    return x


#: The largest finite float32 (torch.finfo(torch.float32).max): numbers beyond it become inf.
FLOAT32_MAX = 3.4028234663852886e38
#: The largest int64: counts beyond it overflow inside torch, numpy and scikit-learn.
INT64_MAX = 2**63 - 1


def plain_number(value: Any) -> Any:
    """``value`` as its Python number if it is a 0-d real tensor, a numpy scalar or a 0-d numpy
    array; else ``value`` itself. A float32 / float16 / bfloat16 number becomes the shortest
    decimal that reads back as it in its own type (0.02, not float64's 0.019999999552965164),
    so a setting recorded from it (sweep.json) reads as typed and resumes as the same run."""
    if isinstance(value, Tensor):
        if value.ndim != 0 or value.is_complex():
            return value
        number = value.item()
        if value.is_floating_point() and value.dtype != torch.float64:
            dtype = value.dtype
            return _shortest(number, lambda x: torch.tensor(x, dtype=dtype).item())
        return number
    import numpy as np

    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        number = value.item()
        kind = value.dtype.type
        if value.dtype.kind == "f" and kind != np.float64:
            return _shortest(number, lambda x: float(kind(x)))
        return number
    return value


def _shortest(number: float, cast: Callable[[float], float]) -> float:
    """The shortest decimal ``d`` (as a float) with ``cast(d) == number``: ``number`` as typed."""
    if not math.isfinite(number):
        return number
    for digits in range(1, 18):
        text = float(f"{number:.{digits}g}")
        if cast(text) == number:
            return text
    return number


def check_number(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> float:
    """``value`` as a float if it is a finite real number within the bounds, else a named error.

    NaN and ±Inf are always refused (they would silently turn a result into its starting point
    or into NaN), and so is a magnitude beyond float32's largest number (``FLOAT32_MAX``, about
    3.4e38: every such number becomes inf inside a float32 tensor or an optimiser) or a nonzero
    one below its smallest normal (``FLOAT32_TINY``, about 1.2e-38: 0 or imprecise there).
    ``low_open``/``high_open`` exclude the bound itself. ``hint`` is appended to the message
    (e.g. the likely fix).
    """
    if isinstance(value, Tensor) and (value.ndim != 0 or value.is_complex()):
        raise TypeError(  # (a 0-d tensor only: shape (1,) is a sequence, not a number)
            f"{name} must be a real number, got a {value.dtype} tensor of shape "
            f"{tuple(value.shape)}; pass a float (or a 0-d real tensor, e.g. t.item())"
        )
    value = plain_number(value)
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, int, float)):
        exact, value = value, float(value)  # (fractions.Fraction and other real number types)
        if value == 0 and exact != 0:
            value = math.copysign(FLOAT32_TINY / 2, exact)  # (refused below as below float32's)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value) + 0.0  # (-0.0 becomes 0.0: it would print as "-0")
    suffix = f"; {hint}" if hint else ""
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}{suffix}")
    if abs(value) > FLOAT32_MAX:
        raise ValueError(
            f"{name} must be a finite float32 number (|{name}| <= {FLOAT32_MAX:.4g}: the tensors "
            f"are float32), got {value:g}{suffix}"
        )
    if value != 0 and abs(value) < FLOAT32_TINY:  # (0 or imprecise in the float32 tensors)
        zero = low is None or low < 0 or (low == 0 and not low_open)
        if high is not None and (high < 0 or (high == 0 and high_open)):
            zero = False
        raise ValueError(
            f"{name} must be {'0 or ' if zero else ''}at least float32's smallest normal number "
            f"({FLOAT32_TINY:.3g}: the tensors are float32), got {value:g}; "
            f"{'pass 0 if 0 is meant' if zero else 'pass a larger number'}{suffix}"
        )
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(
            f"{name} must be {'>' if low_open else '>='} {low:g}, got {value:g}{suffix}"
        )
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(
            f"{name} must be {'<' if high_open else '<='} {high:g}, got {value:g}{suffix}"
        )
    return value


def check_positive(value: float, name: str, *, strict: bool = True) -> float:
    """Raise unless ``value`` is a finite, (strictly) positive real number."""
    return check_number(value, name, low=0.0, low_open=strict)


#: The largest step size (learning rate) accepted by any optimiser of the library. Latents are
#: N(0, I), images lie in [-1, 1] and network weights are of order 1: useful step sizes lie far
#: below it (1e-4 to 10), and one far above it overflows float32 inside the optimiser's update.
LR_MAX = 1e6
#: The largest Gaussian noise level σ accepted, on the [-1, 1] scale of the tensors: 1000 times
#: the whole image range already drowns every measurement, and far beyond it the noise, y and the
#: λ scaled from σ overflow float32.
NOISE_STD_MAX = 2e3
#: The largest latent box half-width (``LatentConfig.box``): latents are N(0, I), so a box of
#: 1e3 already never binds; beyond it the uniform init's arithmetic overflows float32.
BOX_MAX = 1e3


#: The largest weight of a penalty or prior term (λ_z, γ, μ, λ, an ℓ1 radius, ...): such a term
#: then outweighs the data term by a million times; far beyond it the arithmetic overflows.
WEIGHT_MAX = 1e6


def check_weight(value: object, name: str, *, what: str = "") -> float:
    """A weight in [0, ``WEIGHT_MAX``] (= 1e6), else a named ``ValueError``/``TypeError``;
    ``what`` says what it weighs (default: a term against the data term)."""
    what = what or f"{name} weighs a term against the data term: 0 turns it off"
    return check_number(
        value,
        name,
        low=0.0,
        high=WEIGHT_MAX,
        hint=f"{what}; useful values lie far below 1e6 (beyond it float32 overflows)",
    )


def check_learning_rate(value: object, name: str) -> float:
    """A step size in (0, ``LR_MAX``] (= 1e6), else a named ``ValueError``/``TypeError``."""
    return check_number(
        value,
        name,
        low=0.0,
        low_open=True,
        high=LR_MAX,
        hint="a learning rate is a step size on latents, pixels or weights of order 1 "
        "(typical: 1e-4 to 10); beyond 1e6 the optimiser's update overflows float32",
    )


def check_noise_std(value: object, name: str, *, unit_scale: bool = False) -> float:
    """A Gaussian noise level σ >= 0: on the [-1, 1] scale of the tensors at most
    ``NOISE_STD_MAX`` (2000); with ``unit_scale`` σ is on the [0, 1] image scale and doubles on the
    tensors' scale, so at most ``NOISE_STD_MAX`` / 2 (1000). A named ``ValueError`` beyond it."""
    high = NOISE_STD_MAX / 2 if unit_scale else NOISE_STD_MAX
    scale = "[0, 1] image" if unit_scale else "[-1, 1] tensor"
    return check_number(
        value,
        name,
        low=0.0,
        high=high,
        hint=f"{name} is σ of the measurement noise on the {scale} scale (0: none); {high:g} "
        "is already 1000 times the image range and drowns every measurement",
    )


def check_unit_noise_std(value: object, name: str) -> float:
    """A noise level σ >= 0 on the [0, 1] image scale (``check_noise_std(unit_scale=True)``)."""
    return check_noise_std(value, name, unit_scale=True)


def check_int(value: object, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Raise unless ``value`` is an int within [low, high] (a numpy integer counts: returned
    as a Python int)."""
    number = plain_number(value)  # (a 0-d integer tensor or numpy array: its int)
    if isinstance(number, numbers.Integral) and not isinstance(number, bool):
        value = number
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        kind = f"a {value.dtype} " if isinstance(value, Tensor) else ""
        what = f"{kind}{type(value).__name__}"
        if isinstance(number, float):  # (2.0 from a float tensor: an int was meant?)
            what += f" {number:g}; pass an int"
        raise TypeError(f"{name} must be an int, got {what}")
    value = int(value)
    if abs(value) > INT64_MAX:
        raise ValueError(f"{name} must fit in 64 bits (|{name}| <= 2**63 - 1), got {value}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}: pass {low} or more")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}: pass {high} or less")
    return value


#: The largest budget of each kind (an int): (bound, what it counts and what is published).
#: Each is about 100 times the largest published setting; beyond it a run takes days or exhausts
#: memory instead of giving a better number, so a typo (1e8 for 1e3) is refused up front.
BUDGETS: dict[str, tuple[int, str]] = {
    "steps": (
        10**6,
        "iterations of one optimisation (latent, pixel, network, attack or projection steps; "
        "published settings: 100 to 10,000)",
    ),
    "draws": (
        10**4,
        "draws per image or per gradient (restarts, EOT samples; published settings: 1 to 100)",
    ),
    "epochs": (10**4, "passes over the training set (published settings: 10 to 100)"),
    "train_steps": (
        10**8,
        "generator updates of a pretraining (published GANs: 10,000 to 1,000,000)",
    ),
    "critic": (100, "discriminator steps per generator step (WGAN: 5)"),
    "width": (
        1024,
        "channels of one layer of an untrained network (published: Deep Decoder 64, Deep Image "
        "Prior 128; a 1x1 or 3x3 convolution's cost grows with its square)",
    ),
}


def check_count(value: object, name: str, kind: str, *, low: int = 1) -> int:
    """An int in [low, ``BUDGETS[kind]``'s bound] (steps <= 1e6, draws <= 1e4, epochs <= 1e4,
    train_steps <= 1e8, critic <= 100, width <= 1024), else a TypeError/ValueError naming ``name`` and saying
    what the number counts."""
    high, what = BUDGETS[kind]
    value = check_int(value, name, low=low)
    if value > high:
        raise ValueError(
            f"{name} must be <= {high:,}, got {value:,}: it counts {what}; beyond {high:,} a run "
            "takes days or exhausts memory: pass a smaller number"
        )
    return value


def check_bool(value: object, name: str) -> bool:
    """``value`` if it is a bool (a numpy bool counts), else a TypeError naming ``name``: a
    string such as "no" would be truthy."""
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool"):
        value = bool(value)  # (numpy.bool_, named numpy.bool from numpy 2)
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {value!r}")
    return value


def closest_name(value: object, choices: Sequence[str]) -> tuple[str | None, bool]:
    """(the choice meant by a name that is not one of ``choices``, whether it is the same
    letters in another case or with blanks): that one first, else ``difflib``'s closest, else
    (None, False)."""
    if not isinstance(value, str):
        return None, False
    folded = {c.lower(): c for c in choices}
    match = folded.get(value.strip().lower())
    if match is not None:
        return match, True
    close = difflib.get_close_matches(value, list(choices), n=1)
    return (close[0] if close else None), False


def closest(value: object, choices: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for a name that is not one of ``choices`` but close to one
    (``closest_name``; names are exact, as the CLI's choices, and the hint says so where only
    case or blanks differ), or ``""``."""
    match, case = closest_name(value, choices)
    if match is None:
        return ""
    return f"; did you mean {match!r}?" + (
        " (names are exact: case and spaces count)" if case else ""
    )


def check_name(value: object, name: str, choices: Sequence, kind: type = str) -> Any:
    """``value`` if it is a ``kind`` (a str: a name), else a TypeError naming ``name`` and the
    ``choices`` (a name of another type, ``method=1``, is a wrong type, not an unknown name);
    whether it is one of the choices is the caller's check."""
    if not isinstance(value, kind):
        raise TypeError(
            f"{name} must be a {kind.__name__}, one of {', '.join(map(repr, choices))}; got "
            f"{type(value).__name__} {value!r}"
        )
    return value


def check_choice(value: str, name: str, choices: Sequence[str], *, hint: str = "") -> str:
    """Raise unless ``value`` is one of ``choices``: a ValueError "<name> must be one of 'a',
    'b'; got 'x'", the closest choice where one is near, then ``hint`` (e.g. how to add a
    choice); a TypeError for a value of another type than the choices (``augment=1`` for a
    name). Every lookup of a name in a registry reads it, so unknown names read alike."""
    choices = list(choices)
    types = {type(c) for c in choices}
    if len(types) == 1:  # (choices of one type: a value of another is a TypeError)
        check_name(value, name, choices, kind=next(iter(types)))
    if value not in choices:
        listed = ", ".join(map(repr, choices))
        if isinstance(value, str) and not value.strip():  # (as every other empty value)
            raise ValueError(f"{name} is empty ({value!r}): pass one of {listed}")
        raise ValueError(
            f"{name} must be one of {listed}; got {value!r}"
            + closest(value, choices)
            + (f" {hint}" if hint else "")
        )
    return value


def check_distinct(values: Sequence, name: str, *, what: str = "value") -> Sequence:
    """``values`` if none is listed twice, else a ValueError naming ``name``: a repeated
    candidate or setting would run, and be reported, twice."""
    twice = [v for i, v in enumerate(values) if v in values[:i]]
    if twice:
        raise ValueError(
            f"{name}: the {what} {twice[0]!r} is listed twice (it would run and be reported "
            "twice); list it once"
        )
    return values


#: The smallest normal float32 (the tensors' type): a typed number below it is 0 or imprecise there.
FLOAT32_TINY = 1.1754943508222875e-38


class NumberTextError(ValueError):
    """A number's text that ``int()`` / ``float()`` would read but no user means
    (:func:`read_number`); its message says why and the fix."""


def read_number(text: str, kind: type = float) -> int | float:
    """``kind(text)`` (``int`` or ``float``) for a number the user typed (a flag, a list item,
    a mask or attack spec), without what Python's ``int()`` / ``float()`` also accept and no
    user means: a ``_`` digit separator (``float("0_1")`` is 1.0, not 0.1) and a space inside
    (``int(" 5")`` is 5; surrounding blanks are stripped), digits other than ASCII 0-9
    (``float("１e-400")``), and a nonzero number below float32's smallest normal (it reads as 0
    in the tensors). Raises ValueError naming the text and the fix; ``int`` refuses "1.5" and
    "1e3" as ``int()`` does."""
    if not isinstance(text, str):
        raise TypeError(f"expected the text of a number, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:  # (the wording of every other empty value)
        raise NumberTextError(f"is empty ({text!r}): write a number")
    if "_" in stripped:
        raise NumberTextError(
            f"{text!r}: '_' is not part of a number here (Python would read it as a digit "
            "separator, e.g. '0_1' as 1); write the number without it"
        )
    if any(c.isspace() for c in stripped):
        raise NumberTextError(f"{text!r}: a number has no space inside; remove it")
    if not stripped.isascii():  # (float("１e-400") is 0.0 and "٠.١" is 0.1: Unicode digits)
        raise NumberTextError(
            f"{text!r}: a number is written with the ASCII digits 0-9 (this text has "
            "full-width or other non-ASCII characters); retype it"
        )
    value = kind(stripped)
    mantissa = stripped.lower().split("e", 1)[0]
    nonzero = any(c in "123456789" for c in mantissa)
    if nonzero and (value == 0 or (kind is float and abs(value) < FLOAT32_TINY)):
        raise NumberTextError(  # (1e-400 reads as 0.0; 1e-320 is 0 in the float32 tensors)
            f"{text!r} is below the smallest normal float32 ({FLOAT32_TINY:.3g}), the tensors' "
            "type, where it reads as 0 or loses its digits; write a larger number (or 0 where "
            "0 is allowed)"
        )
    return value
