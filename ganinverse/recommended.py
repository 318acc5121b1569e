"""A generator's recommended latent-search settings, carried by its checkpoint's JSON card.

The card's ``"recommended"`` block holds, per setting family (``"csgm"``: the latent search of
CSGM and of the methods that start from it), the settings chosen on validation images (the
first ``n_val`` images of the train split, never test images) by the sweeps' weight search
(:func:`ganinverse.methods.choose_weight`) at a few measurement counts m, with the search itself
recorded. ``ganinverse tune`` writes it; :func:`recommended_config` reads it, so
``gi.csgm(G, A, y)`` with no options runs the settings that were best for this generator.

The weight of the latent prior depends on m and on the noise level:

    λ_z(m, σ) = λ_t(m) · (σ² + ρ²) / (σ_t² + ρ²)

- λ_t(m): the tuned λ_z at the tuning noise σ_t, interpolated linearly in (log m, log λ) between
  the tuned m values and constant beyond them;
- σ: the operator's noise standard deviation (``operator.noise.std``, on G's [-1, 1] scale);
- ρ²: the generator's representation error, the per-pixel mean of min_z ||G(z) − x||²/n over the
  validation images ([-1, 1] scale), measured by ``tune``.

The σ rule follows the MAP reading of CSGM (Bora et al. 2017, §3): with z ~ N(0, I) and noise of
variance σ², the weight of ||z||² relative to (1/m)||y − A G(z)||² is proportional to the noise
variance; what G cannot represent acts as further noise of variance ρ². It is exact at σ = σ_t
(the tuned values) and a rule elsewhere. The other settings (init, steps, restarts, lr, pruning)
are the tuned ones at the nearest tuned m (in log m).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from .latent import LatentConfig
from .operators import LinearOperator

#: The card's key.
CARD_KEY = "recommended"
#: Version of the block's layout.
FORMAT = 1
#: Engine fields a card may set (the rest stay at the method's defaults).
FIELDS = ("restarts", "steps", "lr", "lambda_z", "init", "prune_at", "optimizer", "box")


def card_block(G: nn.Module, family: str = "csgm") -> dict | None:
    """The card's recommended settings for ``family``, or None when the card has none."""
    card = getattr(G, "checkpoint_config", None) or {}
    block = (card.get(CARD_KEY) or {}).get(family)
    if block is None:
        return None
    check_block(block, f"the card's {CARD_KEY}.{family}")
    return block


def check_block(block: Mapping, where: str) -> Mapping:
    """Raise ValueError unless ``block`` is a recommended-settings block of this layout."""
    if not isinstance(block, Mapping) or block.get("format") != FORMAT:
        raise ValueError(
            f"{where} is not a recommended-settings block of format {FORMAT}; rerun "
            "`ganinverse tune` for this generator"
        )
    table = block.get("by_m")
    if not isinstance(table, list) or not table:
        raise ValueError(f"{where} has no tuned settings (by_m); rerun `ganinverse tune`")
    for row in table:
        if not isinstance(row, Mapping) or not {"m", "settings"} <= set(row):
            raise ValueError(f"{where}: each by_m row needs m and settings, got {row!r}")
        unknown = set(row["settings"]) - set(FIELDS)
        if unknown:
            raise ValueError(f"{where}: unknown engine settings {sorted(unknown)} at m={row['m']}")
    return block


def operator_m(operator: LinearOperator) -> float:
    """The operator's measurement count (the mean over images for per-image operators)."""
    return float(operator.measurement_counts().float().mean())


def lambda_z(block: Mapping, m: float, noise_std: float) -> float:
    """λ_z(m, σ) of the module docstring for a card block (σ on G's [-1, 1] scale)."""
    rows = sorted(block["by_m"], key=lambda r: r["m"])
    ms = np.log([float(r["m"]) for r in rows])
    lams = np.log([float(r["settings"]["lambda_z"]) for r in rows])
    lam = float(np.exp(np.interp(math.log(max(m, 1.0)), ms, lams)))
    rho2 = float(block["representation_error"])
    sigma_t = float(block["noise_std"])
    return lam * (noise_std**2 + rho2) / (sigma_t**2 + rho2)


def settings_at(block: Mapping, m: float, noise_std: float) -> dict:
    """The engine settings the card recommends for m measurements at noise σ."""
    rows = block["by_m"]
    near = min(rows, key=lambda r: abs(math.log(float(r["m"])) - math.log(max(m, 1.0))))
    settings = {**block.get("engine", {}), **near["settings"]}
    if "prune_at" in settings:
        settings["prune_at"] = tuple(settings["prune_at"])
    settings["lambda_z"] = lambda_z(block, m, noise_std)
    return settings


def recommended_config(
    G: nn.Module, operator: LinearOperator, base: LatentConfig, family: str = "csgm"
) -> tuple[LatentConfig, str] | None:
    """``base`` with the settings G's card recommends for this operator's m and noise, and a
    line saying where they come from; None when the card has no such block."""
    block = card_block(G, family)
    if block is None:
        return None
    m, sigma = operator_m(operator), float(operator.noise.std)
    config = base.updated(**settings_at(block, m, sigma))
    source = (
        f"recommended by the generator's card (tuned on {block.get('dataset', '?')} "
        f"validation images at m = {', '.join(str(r['m']) for r in block['by_m'])}, "
        f"σ = {block['noise_std']:g}; here m = {m:g}, σ = {sigma:g}; σ on G's [-1, 1] scale, "
        "twice the [0, 1] scale's)"
    )
    flags = block.get("representation_error_flagged")
    if flags:  # ρ² sets λ_z: a reader must see that it came from flagged projections
        why = ", ".join(f"{reason} on {k}" for reason, k in flags.items())
        source += f"; its representation error ρ² is FLAGGED ({why} validation images)"
    trained = block.get("generator_training_status")
    if trained not in (None, "ok"):  # tuned on a generator that learned nothing
        source += f"; FLAGGED: tuned on a generator recorded as having learned nothing ({trained})"
    return config, source


def make_block(
    *,
    dataset: str,
    n_val: int,
    noise_std: float,
    representation_error: float,
    engine: Mapping[str, Any],
    by_m: Sequence[Mapping[str, Any]],
    operator: str = "gaussian",
    seed: int = 0,
    refine: Mapping[str, int] | None = None,
    representation_error_flagged: Mapping[str, int] | None = None,
    generator_training_status: str | None = None,
    val_start: int = 0,
) -> dict:
    """A card block (what ``ganinverse tune`` writes), checked. ``val_start``: the first
    train-split index of the validation images (recorded where it is not 0). ``representation_error_flagged``
    ({reason: validation images}, ``ganinverse.status``) records that ρ² was measured on
    projections the latent engine did not stand by; the card keeps it beside ρ².
    ``generator_training_status``: the tuned generator's own training verdict (its card's
    ``training_status``, as pretrain wrote it; None when not recorded): settings tuned on a
    generator that learned nothing are marked where they are read."""
    block = {
        "format": FORMAT,
        "dataset": dataset,
        "operator": operator,
        "n_val": int(n_val),
        "seed": int(seed),
        "noise_std": float(noise_std),
        "noise_scale": "[-1, 1]",
        "representation_error": float(representation_error),
        "engine": dict(engine),
        "by_m": [dict(r) for r in by_m],
    }
    if val_start:
        block["val_start"] = int(val_start)
    if refine:
        block["refine"] = dict(refine)
    if representation_error_flagged:
        block["representation_error_flagged"] = dict(representation_error_flagged)
    if generator_training_status is not None:
        block["generator_training_status"] = str(generator_training_status)
    return dict(check_block(block, "the new block"))
