import pytest
import torch

from ganinverse.models import DCGANGenerator
from ganinverse.models.checkpoint import save_model
from ganinverse.sweep import SweepSpec

ENGINE = {"restarts": 2, "steps": 5, "lr": 0.05}


@pytest.fixture
def tiny_generator(tmp_path):
    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=8, image_shape=(1, 28, 28), ngf=4)
    return str(save_model(G, tmp_path / "gen" / "generator", {"dataset": "test"}))


def spec(gen, **kw) -> SweepSpec:
    """A small sweep of the digits (28x28) with the tiny generator; ``kw`` overrides."""
    base = dict(
        dataset="digits",
        generator=gen,
        x_values=(20, 60),
        methods=("csgm", "lasso-dct"),
        n_images=5,
        batch_size=2,
        n_val=3,
        engine=ENGINE,
        grid_images=3,
        lasso_lambdas=(0.3, 1.0),  # (large λ: FISTA certifies in few iterations)
    )
    return SweepSpec(**{**base, **kw})
