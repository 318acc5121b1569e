"""benchmarks/iagan_cost.py: CSGM and iagan timed back to back on the same images, iagan's
seconds including its CSGM start (as the sweep times it), the fine-tuning steps from the sweep's
validation search."""

import pytest
import torch

from ganinverse.data import load_images
from ganinverse.models import DCGANGenerator


@pytest.fixture(scope="module")
def cost(load_script):
    return load_script("iagan_cost")


def test_the_steps_are_the_sweeps_choice_and_an_m_it_did_not_run_is_refused(cost):
    weights = {"iagan@500": {"value": 100, "weight": "iagan_steps"}}
    assert cost.chosen_steps(weights, 500) == 100
    with pytest.raises(ValueError, match="no iagan search at m = 2500"):
        cost.chosen_steps(weights, 2500)


def test_a_row_times_both_on_the_same_images_and_iagan_includes_its_start(cost):
    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=8, image_shape=(1, 28, 28), ngf=4).eval()
    x, _ = load_images("digits", split="test", n=2)
    spec = {"noise_std": 0.01, "engine": {"restarts": 1, "steps": 3, "lr": 0.1}}
    row = cost.measure_one(G, spec, x, 40, 5)
    assert set(row) == set(cost.FIELDS)
    assert row["m"] == 40 and row["n"] == 2 and row["adapt_steps"] == 5
    assert row["iagan_s_per_image"] >= row["csgm_s_per_image"] > 0 and row["ratio"] >= 1
    assert 0 <= row["finetune_steps_mean"] <= 5


def test_iagan_runs_with_the_sweeps_own_options_and_records_them(cost):
    """A --iagan-tv sweep (faces_tv) was timed as plain iagan: the cost of another method."""
    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=8, image_shape=(1, 28, 28), ngf=4).eval()
    x, _ = load_images("digits", split="test", n=1)
    spec = {"noise_std": 0.01, "engine": {"restarts": 1, "steps": 2, "lr": 0.1}}
    assert cost.iagan_options(spec) == {}
    spec["options"] = {"iagan": {"tv_weight": 0.3}, "yeh": {"blend": False}}
    assert cost.iagan_options(spec) == {"tv_weight": 0.3}
    assert cost.measure_one(G, spec, x, 40, 2)["iagan_options"] == '{"tv_weight": 0.3}'
    spec["options"] = {"iagan": {"tv_weight": -1.0}}  # (reaches the solver: its own check)
    with pytest.raises(ValueError, match="tv_weight must be >= 0"):
        cost.measure_one(G, spec, x, 40, 2)
