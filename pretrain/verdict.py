"""Did a training run learn? A cheap check of the generator a run saves at its end (and when it is
interrupted): one forward pass of N_PROBE latents, plus, for the VAE, the negative ELBO of a probe
batch before and after.

A run (GAN or VAE) has learned nothing when its generator is broken in a way no training can
undo:

- its samples are not finite;
- (a GAN) its losses diverged: the last step's D / G loss is the loss's ``loss_limit`` or more
  in size (``pretrain.losses``: 1e3 for the GAN and LSGAN losses, per-image means of O(1)
  quantities of which the bundled runs (3,000-15,000 steps) stay within 20; ``LOSS_LIMIT``,
  1e6, for the Wasserstein critics, whose outputs have no scale of their own);
- its tanh output saturated: its pixels strictly between ±1 (``|x| <= SATURATED_AT``) are fewer
  than ``UNSATURATED_RATIO`` (a quarter) of the training images' own fraction of such pixels,
  and its fraction at ±1 is ``SATURATED_MARGIN`` (10 points) above the images'. Measured with
  128 latents / images: the data 31% at ±1 (digits), 83% (MNIST), 54% (Fashion-MNIST), 2%
  (CelebA 64x64); the bundled generators trained on them 1%, 68-80%, 47%, 1% (at least as many
  in-between pixels as their data); lr 0.5 for 10 steps on the digits 93-100% (a quarter of
  the digits' 69% in-between pixels is 17%: flagged from 83% at ±1). The gradient through a
  saturated tanh is zero: the generator cannot learn from there, nor can a solver move its
  output by changing z;
- its samples are identical across z: their per-pixel spread (the standard deviation over the
  samples, averaged over the pixels) is below ``COLLAPSE_RATIO`` (1%) of the training images'.

None of these asks a run to have got far, so a short healthy run passes: an untrained generator
(step 0) has finite samples, none of their pixels at ±1, and a spread of 6-64% of the digits'
(0.024-0.24 against 0.37: this package's DCGAN, MLP and VAE decoder, small and default sizes);
healthy runs on the digits (1-300 steps at the default lr; every loss, both architectures) kept
their GAN losses within 4 in size, at most 12% of their pixels at ±1 and a spread of at least
3.8% of the data's (a VAE decoder while it first learns the mean image). A generator that merely improved little is not flagged: the sample
quality of a GAN does not improve monotonically, so "no better than at step 0" would flag short
healthy runs (and a Fréchet distance in pixel-PCA space, ``pretrain.quality``, scores the
saturated checkerboard of a diverged run better than the untrained generator: 48.9 vs 56.1).

A VAE run is also judged on its own objective, which does fall step by step: the negative ELBO
(with z = μ) of ``N_PROBE`` training images must fall by more than ``STALL_RTOL`` from the
networks at step 0 (the seeded initial weights) to those at the end.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganinverse.exceptions import STALL_RTOL

#: the training status of a run whose generator passed the check (else: why it did not)
TRAINING_OK = "ok"
#: latents (and training images) the check looks at
N_PROBE = 128
#: a pixel with |x| above this is "at ±1" (tanh(2.65))
SATURATED_AT = 0.99
#: a generator is saturated when its fraction of pixels strictly between ±1 is below this
#: multiple of the training images' fraction ...
UNSATURATED_RATIO = 0.25
#: ... when it exceeds the training images' own fraction by at least this much
SATURATED_MARGIN = 0.1
#: samples whose per-pixel spread is below this fraction of the data's are identical across z
COLLAPSE_RATIO = 0.01
#: a loss of this size or more has diverged, for a loss class that sets no ``loss_limit`` of
#: its own (the Wasserstein critics; healthy runs stay within ~20)
LOSS_LIMIT = 1e6
#: a generator whose weights moved less than this (RMS change / RMS of the initial weights)
#: from step 0 was not trained (Adam moves each weight by about lr per step: one step at the
#: default lr 2e-4 moves the digits runs' weights by ~1e-2 of their size)
WEIGHT_RTOL = 1e-4


@torch.no_grad()
def sample_stats(images: Tensor) -> dict:
    """``{"finite", "saturated", "spread"}`` of images (N, C, H, W) in [-1, 1]: whether all are
    finite, the fraction of pixels at ±1 (``|x| > SATURATED_AT``) and the per-pixel standard
    deviation over the N images, averaged over the pixels (None when not finite)."""
    x = images.detach().float().cpu()
    if not bool(torch.isfinite(x).all()):
        return {"finite": False, "saturated": None, "spread": None}
    return {
        "finite": True,
        "saturated": round(float((x.abs() > SATURATED_AT).float().mean()), 4),
        "spread": round(float(x.std(0, correction=0).mean()), 4),
    }


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def generator_problems(
    end: dict,
    start: dict | None,
    data: dict,
    losses: dict[str, float] | None,
    limit: float = LOSS_LIMIT,
) -> list[str]:
    """Why a generator learned nothing, one clause each (empty: it passed). ``end``, ``start``:
    :func:`sample_stats` of its samples at the end and at step 0, ``data``: of the training
    images; ``losses``: the last step's losses by name (None: unknown); ``limit``: the size
    at which a loss has diverged (the loss class's ``loss_limit``)."""
    problems = []
    if not end["finite"]:
        problems.append("its samples are not finite (NaN or Inf weights)")
    big = {k: v for k, v in (losses or {}).items() if not math.isfinite(v) or abs(v) >= limit}
    if big:
        values = ", ".join(f"{k} = {v:.3g}" for k, v in big.items())
        problems.append(
            f"the losses diverged ({values} at the last step; healthy runs stay far below "
            f"{limit:.0e})"
        )
    if not end["finite"] or not data["finite"]:  # (the data's numbers are the yardstick)
        return problems
    was = "" if start is None or not start["finite"] else f", {_pct(start['saturated'])} at step 0"
    if (
        1 - end["saturated"] < UNSATURATED_RATIO * (1 - data["saturated"])
        and end["saturated"] >= data["saturated"] + SATURATED_MARGIN
    ):
        problems.append(
            f"its tanh output saturated ({_pct(end['saturated'])} of the pixels of its samples "
            f"at ±1, where no gradient passes; the training images {_pct(data['saturated'])}"
            f"{was})"
        )
    if data["spread"] > 0 and end["spread"] < COLLAPSE_RATIO * data["spread"]:
        was = "" if start is None or not start["finite"] else f", {start['spread']:.4f} at step 0"
        problems.append(
            f"its samples are identical across z (per-pixel spread {end['spread']:.4f}, the "
            f"training images {data['spread']:.4f}{was})"
        )
    return problems


def weights_moved(end: torch.nn.Module, start: torch.nn.Module) -> float:
    """||θ_end − θ_start|| / ||θ_start|| over the generators' parameters (same architecture)."""
    num = den = 0.0
    for a, b in zip(end.parameters(), start.parameters(), strict=True):
        num += float((a.detach().double() - b.detach().double().to(a.device)).pow(2).sum())
        den += float(b.detach().double().pow(2).sum())
    return math.sqrt(num / den) if den > 0 else math.inf


def weights_problem(moved: float, steps: int) -> str:
    """A clause when the generator's weights moved less than ``WEIGHT_RTOL`` from step 0."""
    if not moved < WEIGHT_RTOL:  # (NaN weights are the finiteness rule's)
        return ""
    return (
        f"its weights barely moved from their initial values (relative change {moved:.2g} "
        f"after {steps} steps, below {WEIGHT_RTOL:g})"
    )


def elbo_problem(start: float, end: float, n: int = N_PROBE) -> tuple[str, bool]:
    """``(clause, rose)`` for a VAE whose negative ELBO on ``n`` probe images went from ``start``
    (step 0) to ``end``: ("", False) when it fell by more than ``STALL_RTOL``; ``rose`` when it
    rose or became non-finite (the steps overshoot), else it barely moved."""
    what = f"the negative ELBO (per image, z = μ) of {n} training images"
    numbers = f"{start:.4g} nats at step 0, {end:.4g} now"
    if not math.isfinite(end) or end > start + STALL_RTOL * abs(start):
        return f"{what} rose ({numbers})", True
    if end >= start - STALL_RTOL * abs(start):
        return f"{what} did not fall by more than {STALL_RTOL:.1%} ({numbers})", False
    return "", False
