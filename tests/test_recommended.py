"""A generator card's recommended settings: the λ_z(m, σ) rule, and the solvers that read it."""

import math

import pytest
import torch

import ganinverse as gi
from ganinverse.methods import default_config, get_method, reconstruct_result
from ganinverse.recommended import (
    card_block,
    check_block,
    lambda_z,
    make_block,
    recommended_config,
    settings_at,
)
from ganinverse.solvers.csgm import CSGM_PRESETS

RHO2 = 0.01
SIGMA_T = 0.2


def block(**kw):
    rows = [
        {"m": 10, "settings": {"lambda_z": 0.3, "init": "uniform"}},
        {"m": 40, "settings": {"lambda_z": 0.003, "init": "normal"}},
    ]
    base = dict(
        dataset="toy",
        n_val=4,
        noise_std=SIGMA_T,
        representation_error=RHO2,
        engine={"restarts": 2, "steps": 40, "lr": 0.1, "prune_at": [0.5]},
        by_m=rows,
    )
    return make_block(**{**base, **kw})


def carded(G, b=None):
    G.checkpoint_config = {"recommended": {"csgm": block() if b is None else b}}
    return G


def test_lambda_z_is_the_tuned_value_at_the_tuned_m_and_noise():
    b = block()
    assert lambda_z(b, 10, SIGMA_T) == pytest.approx(0.3)
    assert lambda_z(b, 40, SIGMA_T) == pytest.approx(0.003)


def test_lambda_z_interpolates_in_log_m_and_is_constant_outside():
    b = block()
    assert lambda_z(b, math.sqrt(10 * 40), SIGMA_T) == pytest.approx(math.sqrt(0.3 * 0.003))
    assert lambda_z(b, 2, SIGMA_T) == pytest.approx(0.3)
    assert lambda_z(b, 5000, SIGMA_T) == pytest.approx(0.003)


def test_lambda_z_scales_with_the_effective_noise_variance():
    b = block()
    quiet, loud = lambda_z(b, 40, 0.0), lambda_z(b, 40, 0.5)
    assert quiet == pytest.approx(0.003 * RHO2 / (SIGMA_T**2 + RHO2))
    assert loud == pytest.approx(0.003 * (0.25 + RHO2) / (SIGMA_T**2 + RHO2))
    assert quiet < 0.003 < loud


def test_the_other_settings_come_from_the_nearest_tuned_m():
    b = block()
    assert settings_at(b, 15, SIGMA_T)["init"] == "uniform"  # log 15 is nearer log 10
    low = settings_at(b, 30, SIGMA_T)
    assert low["init"] == "normal" and low["restarts"] == 2 and low["prune_at"] == (0.5,)


def test_a_bad_block_is_refused_with_the_fix(toy_generator):
    with pytest.raises(ValueError, match="rerun `ganinverse tune`"):
        check_block({"format": 99}, "the card")
    with pytest.raises(ValueError, match="no tuned settings"):
        check_block({"format": 1, "by_m": []}, "the card")
    with pytest.raises(ValueError, match="unknown engine settings"):
        block(by_m=[{"m": 10, "settings": {"lambda_z": 0.1, "colour": "red"}}])
    G = toy_generator
    G.checkpoint_config = {"recommended": {"csgm": {"format": 99}}}
    with pytest.raises(ValueError, match="recommended.csgm"):
        card_block(G)


def test_csgm_without_settings_runs_the_cards(toy_generator):
    G = carded(toy_generator)
    A = gi.GaussianCS(G.image_shape, 10, seed=0, noise_std=SIGMA_T)
    x = G(torch.randn(2, G.latent_dim)).detach()
    res = gi.csgm(G, A, A.measure(x, seed=1))
    assert res.config.lambda_z == pytest.approx(0.3)
    assert (res.config.init, res.config.steps, res.config.restarts) == ("uniform", 40, 2)
    assert (
        res.settings.startswith("recommended by the generator's card")
        and "given" not in res.settings
    )


def test_an_explicit_option_wins_over_the_card(toy_generator):
    G = carded(toy_generator)
    A = gi.GaussianCS(G.image_shape, 10, seed=0, noise_std=SIGMA_T)
    y = A.measure(G(torch.randn(2, G.latent_dim)).detach(), seed=1)
    res = gi.csgm(G, A, y, lambda_z=0.05)  # one option: the rest still from the card
    assert res.config.lambda_z == 0.05 and res.config.init == "uniform"
    assert "card" in res.settings and res.settings.endswith("with lambda_z=0.05 given")
    own = CSGM_PRESETS["mnist"].updated(steps=7)
    res = gi.csgm(G, A, y, own)
    assert res.config == own.updated() and res.settings == "the config passed"
    res = reconstruct_result("csgm", G, A, y, steps=5)  # the registry's path says the same
    assert "card" in res.settings and res.settings.endswith("with steps=5 given")
    res = reconstruct_result("csgm", G, A, y, config=own)
    assert res.settings == "the config passed"


def test_a_generator_without_a_card_runs_the_method_defaults(toy_generator):
    G = toy_generator
    A = gi.GaussianCS(G.image_shape, 10, seed=0)
    config, source = default_config(get_method("csgm"), G, A)
    assert config == CSGM_PRESETS["mnist"] and "recommends none" in source
    assert recommended_config(G, A, CSGM_PRESETS["mnist"]) is None
    y = A.measure(G(torch.randn(2, G.latent_dim)).detach(), seed=1)
    res = gi.csgm(G, A, y, steps=3)  # the result says so too, and how to get a card
    assert res.settings.startswith("CSGM_PRESETS['mnist'] (G's card recommends none")
    assert "ganinverse tune" in res.settings


@pytest.mark.parametrize("method", ["csgm", "csgm-sparse"])
def test_registered_methods_that_search_like_csgm_read_the_card(method, toy_generator):
    G = carded(toy_generator)
    A = gi.GaussianCS(G.image_shape, 40, seed=0, noise_std=SIGMA_T)
    y = A.measure(G(torch.randn(2, G.latent_dim)).detach(), seed=1)
    res = reconstruct_result(method, G, A, y)
    config = res.config  # csgm-sparse: its CSGM start's
    assert config.lambda_z == pytest.approx(0.003) and config.init == "normal"
    _, source = default_config(get_method(method), G, A)
    assert "recommended by the generator's card" in source and "m = 40" in source
