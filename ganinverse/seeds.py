"""The one place that turns a seed and an identity into random numbers.

Every random choice of a result (a restart's starting latent, an image's noise, a per-image mask,
the sensing matrix for m) is drawn from ``rng(seed, *key)``, where ``key`` names what is drawn and
for whom: e.g. ``("restart", image_id, r)``. So a result depends on its own identity, never on its
position in a batch or on what ran before, and rerunning one image reproduces the number in a table.

torch's CPU generator keeps only the low 32 bits of its seed, so ``(seed, *key)`` is hashed into
32 bits by numpy's ``SeedSequence`` (a well-mixed hash) rather than packed arithmetically.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

Key = int | str


def _entropy(part: Key) -> int:
    if isinstance(part, bool) or not isinstance(part, (int, str, np.integer)):
        raise TypeError(f"a seed key part must be an int or str, got {type(part).__name__}")
    if isinstance(part, str):
        return zlib.crc32(part.encode()) | (1 << 32)  # tagged so "3" and 3 differ
    part = int(part)
    if part < 0:
        raise ValueError(f"a seed key part must be >= 0, got {part}")
    return part


def derive_seed(seed: int, *key: Key) -> int:
    """A 32-bit seed that is a pure function of ``(seed, *key)``; ``derive_seed(s) == s``
    for ``0 <= s < 2**32`` (no key: the seed itself, so plain seeds keep their meaning)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if not key and seed < 2**32:
        return int(seed)
    words = [int(seed), *(_entropy(k) for k in key)]  # numpy splits big ints into 32-bit words
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def rng(seed: int | None, *key: Key, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded by ``derive_seed(seed, *key)``
    (``seed=None``: a fresh random seed)."""
    from .device import resolve_device

    g = torch.Generator(device=resolve_device(device))
    if seed is None:
        g.seed()
    else:
        g.manual_seed(derive_seed(seed, *key))
    return g
