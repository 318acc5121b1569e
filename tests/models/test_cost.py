"""models.cost: the weights of a network counted on the meta device, and the memory check that
refuses a network too large to train before any weight is allocated."""

import pytest
from torch import nn

from ganinverse.models.cost import (
    TRAINING_BYTES_PER_WEIGHT,
    available_memory,
    check_training_memory,
    count_weights,
    device_memory,
)
from ganinverse.models.dcgan import DCGANGenerator


def test_count_weights_matches_the_built_network_and_allocates_nothing():
    def build():
        return nn.Sequential(nn.Linear(10, 20), nn.Linear(20, 3))

    assert count_weights(build) == 10 * 20 + 20 + 20 * 3 + 3
    real = DCGANGenerator(100, (1, 28, 28), 64)
    assert count_weights(lambda: DCGANGenerator(100, (1, 28, 28), 64)) == sum(
        p.numel() for p in real.parameters()
    )
    # 1e12 weights: would need 4 TB to allocate; counted in no time on the meta device
    assert count_weights(lambda: nn.Linear(10**6, 10**6)) == 10**12 + 10**6


def test_a_network_beyond_the_device_is_refused_with_what_it_needs():
    have = device_memory("cpu")
    assert have > 2**20
    n = have // TRAINING_BYTES_PER_WEIGHT + 1  # one weight more than fits
    with pytest.raises(
        ValueError, match=r"the test net has [\d,]+ weights: training needs .* lower"
    ):
        check_training_memory(lambda: nn.Linear(n, 1, bias=False), "the test net", "lower it")
    fits = check_training_memory(lambda: nn.Linear(1000, 10), "a small net", "")
    assert fits == 10010
    with pytest.raises(ValueError, match=r"x 3 copies"):  # copies count: 3 x (n/3 + 1) > have
        check_training_memory(lambda: nn.Linear(n // 3 + 1, 1, bias=False), "x", "", copies=3)


def test_activations_are_counted_on_the_meta_device():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
    # the conv's output, the ReLU's, the Sequential's: 3 x 8 x 10 x 10
    from ganinverse.models.cost import count_activations

    assert count_activations(net, (3, 10, 10)) == 3 * 8 * 10 * 10


def test_available_memory_is_what_is_free_now_within_the_devices_total():
    """The Gaussian's memory check compares with the memory free now (helper-78: against the
    total it let through solves that nearly filled the machine)."""
    assert 0 < available_memory("cpu") <= device_memory("cpu")
