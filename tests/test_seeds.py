"""ganinverse.seeds: the one function that turns (seed, identity) into random numbers."""

import numpy as np
import pytest
import torch

from ganinverse.seeds import derive_seed, rng


def test_a_plain_seed_keeps_its_meaning_and_generators_repeat():
    assert derive_seed(5) == 5
    assert torch.equal(torch.randn(3, generator=rng(5)), torch.randn(3, generator=rng(5)))
    assert torch.equal(
        torch.randn(3, generator=rng(5)), torch.randn(3, generator=torch.Generator().manual_seed(5))
    )


def test_keys_give_independent_streams_and_keep_all_their_bits():
    seeds = {derive_seed(0, "restart", i, r) for i in range(50) for r in range(10)}
    assert len(seeds) == 500  # no collisions among 500 identities
    assert derive_seed(0, 3) != derive_seed(0, "3")  # ints and strings do not collide
    # torch's CPU generator keeps 32 bits: seeds differing only above bit 32 must still differ
    assert derive_seed(2**32 + 1, 0) != derive_seed(1, 0)
    assert all(0 <= s < 2**32 for s in seeds)


def test_the_training_streams_are_unchanged():
    """pretrain's (seed, stream, index) generators: the same hash as before the one function,
    so runs trained earlier resume bit for bit."""
    state = np.random.SeedSequence([7, 2, 11]).generate_state(1)[0]
    assert derive_seed(7, 2, 11) == int(state)


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_bad_seeds_are_refused(bad, error):
    with pytest.raises(error, match="seed"):
        derive_seed(bad)
    with pytest.raises((ValueError, TypeError), match="seed key"):
        derive_seed(0, bad if bad != -1 else -1)
