"""The stronger adaptive attacks: EOT over the restarts of one projection (``eot_restarts``) and
differentiation through the unrolled projection (``unrolled``).

Known answers come from the linear toy G(z) = W z + b, whose projection is affine with the
closed-form Jacobian P = W (WᵀW)⁻¹ Wᵀ (on the [0, 1] scale the factors 2 and ½ cancel): every
restart converges to the same ẑ, so the EOT gradient is P ∇ℓ, and the unrolled gradient tends
to P as the number of unrolled steps K grows.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganinverse.defense import (
    DEFENSE_GAN,
    PGD,
    ProjectionDefense,
    RestartEOTPGD,
    UnrolledProjection,
    attack_record,
    evaluate_defense,
    unrolled_projection,
)
from ganinverse.defense import evaluate as ev
from ganinverse.defense.evaluate import EvalSettings, Row, parse_attacks
from ganinverse.defense.projection import tangent_project

from .conftest import LinearGenerator, linear_images

FAST = EvalSettings(pgd_steps=3, bpda_steps=2, eot_samples=2, latent_steps=5, latent_restarts=1)
# Defense-GAN's SGD (lr 10, momentum 0.7, lr x 0.1 after 80%) with 4 restarts: on the linear toy
# every restart reaches the least-squares optimum
LINEAR = dict(restarts=4)
# small steps that decrease the misfit monotonically: the best iterate the engine keeps is the
# last one, which the unrolled projection returns
MONOTONE = {
    "sgd": dict(steps=40, restarts=3, lr=0.5, momentum=0.5, schedule="constant"),
    "adam": dict(steps=40, restarts=3, lr=0.01, optimizer="adam", schedule="constant"),
}


def _linear_classifier(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    clf = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    clf.image_shape = (1, 4, 4)
    return clf


def _closed_form(G: LinearGenerator, x: torch.Tensor) -> torch.Tensor:
    """D(x) = (P (2x − 1 − b) + b + 1)/2 on the [0, 1] scale."""
    b = G.b.detach()
    return (((2 * x - 1).flatten(1) - b) @ G.projector() + b + 1).view_as(x) / 2


def _vjp(fn, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """∇_x ⟨w, fn(x)⟩ by autograd."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((fn(x) * w).sum(), x)
    return grad


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


# ------------------------------------------------------------------ restarts of one projection
def test_the_engine_keeps_every_restart_and_the_forward_is_unchanged(toy_generator):
    defense = ProjectionDefense(toy_generator, steps=10, restarts=3)
    x = linear_images(4).repeat(1, 1, 2, 2)  # (4, 1, 8, 8) near 0.5
    with torch.no_grad():
        best = defense(x)
    result = defense.last_result
    assert result.restart_z.shape == (4, 3, toy_generator.latent_dim)
    chosen = result.restart_z[torch.arange(4), result.best_restart]
    assert torch.equal(chosen, result.z)
    with torch.no_grad():
        all_restarts = defense.restart_outputs(x)
    assert all_restarts.shape == (4, 3, 1, 8, 8) and not all_restarts.requires_grad
    torch.testing.assert_close(all_restarts[torch.arange(4), result.best_restart], best)
    # the restarts differ on a nonlinear G: EOT over them averages distinct images
    assert float((all_restarts[:, 0] - all_restarts[:, 1]).abs().max()) > 1e-3


def test_restart_outputs_backward_is_the_sum_of_per_restart_tangent_projections(toy_generator):
    defense = ProjectionDefense(toy_generator, steps=10, restarts=3)
    x = linear_images(2).repeat(1, 1, 2, 2).requires_grad_(True)
    outs = defense.restart_outputs(x)
    g = torch.randn(outs.shape, generator=torch.Generator().manual_seed(0))
    (grad,) = torch.autograd.grad(outs, x, g)
    z = defense.last_result.restart_z.flatten(0, 1)
    inside = ((outs > 0) & (outs < 1)).flatten(0, 1)  # no pixel sits exactly on 0 or 1 here
    expected = tangent_project(toy_generator, z, g.flatten(0, 1) * inside).view_as(g).sum(1)
    torch.testing.assert_close(grad, expected)
    identity = ProjectionDefense(toy_generator, steps=10, restarts=3, gradient="identity")
    (grad,) = torch.autograd.grad(identity.restart_outputs(x), x, g)
    torch.testing.assert_close(grad, g.sum(1))


@pytest.mark.parametrize("gradient", ["tangent", "identity"])
def test_eot_restarts_gradient_is_the_closed_form_on_a_linear_generator(gradient):
    G, clf = LinearGenerator(), _linear_classifier()
    x, y = linear_images(3), torch.tensor([0, 1, 1])
    defense = ProjectionDefense(G, gradient=gradient, **LINEAR)
    attack = RestartEOTPGD(defense, clf, 0.1, steps=1)
    grad = attack.gradient(x, y)
    outs = defense.restart_outputs(x.clone()).detach()
    # every restart reaches the optimum (to float32's resolution of the misfit near it)
    torch.testing.assert_close(outs, _closed_form(G, x)[:, None].expand_as(outs), atol=1e-4, rtol=0)
    u = _closed_form(G, x).requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(clf(u), y, reduction="sum"), u)
    expected = (g.flatten(1) @ G.projector()).view_as(g) if gradient == "tangent" else g
    torch.testing.assert_close(grad, expected, atol=1e-5, rtol=1e-4)
    assert _relative(grad, g) > 0.1 or gradient == "identity"  # P really changes the gradient


def test_eot_restarts_costs_one_projection_per_step_and_attacks(
    toy_generator, range_classifier, range_test_set
):
    clf, _, _ = range_classifier
    x, y = range_test_set[0][:8], range_test_set[1][:8]
    defense = ProjectionDefense(toy_generator, steps=10, restarts=3)
    attack = RestartEOTPGD(defense, clf, 0.15, steps=4)
    adv = attack(x, y)
    assert defense.calls == 4  # one projection per PGD step, its 3 restarts averaged
    assert float((adv - x).abs().max()) <= 0.15 + 1e-6 and 0 <= float(adv.min())
    model = nn.Sequential(defense, clf)
    with torch.no_grad():
        clean, attacked = (model(v).argmax(1) == y for v in (x, adv))
    assert int(attacked.sum()) <= int(clean.sum())
    assert repr(attack).startswith("RestartEOTPGD(eps=0.15")


def test_eot_restarts_gradient_of_an_image_does_not_depend_on_its_batch(
    toy_generator, range_classifier, range_test_set
):
    clf, _, _ = range_classifier
    x, y = range_test_set[0][:4], range_test_set[1][:4]
    attack = RestartEOTPGD(ProjectionDefense(toy_generator, steps=10, restarts=3), clf, 0.1)
    together = attack.gradient(x, y)
    alone = attack.gradient(x[2:3], y[2:3])
    torch.testing.assert_close(together[2:3], alone, atol=1e-6, rtol=1e-5)


def test_eot_restarts_refuses_what_it_cannot_attack(toy_generator, toy_classifier):
    with pytest.raises(TypeError, match="defense must be a ProjectionDefense"):
        RestartEOTPGD(toy_generator, toy_classifier)
    with pytest.raises(ValueError, match="gradient='none'.*build it with gradient='tangent'"):
        RestartEOTPGD(ProjectionDefense(toy_generator, gradient="none"), toy_classifier)
    small = LinearGenerator()  # (1, 4, 4) images; the classifier takes (1, 8, 8)
    with pytest.raises(ValueError, match=r"makes images of shape \(1, 4, 4\)"):
        RestartEOTPGD(ProjectionDefense(small), toy_classifier)


# ------------------------------------------------------------------ the unrolled projection
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_unrolled_forward_follows_the_engine(toy_generator, optimizer):
    """The same optimiser from the same starts: with a monotone descent the engine's best
    iterate is the last, which the unrolled projection returns (with or without a graph)."""
    defense = ProjectionDefense(toy_generator, **MONOTONE[optimizer])
    x = linear_images(3).repeat(1, 1, 2, 2)
    with torch.no_grad():
        engine = defense(x)
        plain = unrolled_projection(defense, x, 5)
    torch.testing.assert_close(plain, engine, atol=1e-6, rtol=0)
    graph = unrolled_projection(defense, x.clone().requires_grad_(True), 5)
    assert graph.requires_grad
    torch.testing.assert_close(graph.detach(), engine, atol=1e-6, rtol=0)


def test_unrolled_gradient_tends_to_the_closed_form_jacobian_as_k_grows():
    """Defense-GAN's SGD + momentum on the linear toy: ‖∂D_K/∂x·w − P w‖ falls with K and is
    ~0 when the whole (converged) run is unrolled; the tangent backward is exact at any K."""
    G = LinearGenerator()
    defense = ProjectionDefense(G, **LINEAR)
    x = linear_images(2)
    w = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    exact = (w.flatten(1) @ G.projector()).view_as(w)
    tangent = _vjp(defense, x, w)
    torch.testing.assert_close(tangent, exact, atol=1e-5, rtol=1e-4)
    errors = {
        k: _relative(_vjp(lambda v, k=k: unrolled_projection(defense, v, k), x, w), exact)
        for k in (1, 5, 20, 60, DEFENSE_GAN.steps)
    }
    values = list(errors.values())
    assert all(a > b for a, b in zip(values[:-1], values[1:], strict=True)), errors
    assert values[0] > 0.5 and values[-1] < 1e-4, errors


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fully_unrolled_gradient_matches_finite_differences_on_a_nonlinear_g(
    toy_generator, optimizer
):
    """K = L: autograd differentiates the whole forward map, so it must equal its central
    differences (a check of the hand-written SGD / Adam updates' derivatives)."""
    config = {**MONOTONE[optimizer], "steps": 15, "restarts": 2}
    defense = ProjectionDefense(toy_generator, **config)
    x = linear_images(1).repeat(1, 1, 2, 2)
    gen = torch.Generator().manual_seed(2)
    v, w = torch.randn(x.shape, generator=gen), torch.randn(x.shape, generator=gen)
    analytic = (_vjp(lambda t: unrolled_projection(defense, t, 15), x, w) * v).sum()
    h = 1e-2
    with torch.no_grad():
        plus = unrolled_projection(defense, x + h * v, 15)
        minus = unrolled_projection(defense, x - h * v, 15)
    fd = ((plus - minus) / (2 * h) * w).sum()
    torch.testing.assert_close(analytic, fd, atol=2e-3, rtol=2e-2)


def test_unrolled_output_of_an_image_does_not_depend_on_its_batch(toy_generator):
    defense = ProjectionDefense(toy_generator, steps=10, restarts=2)
    x = linear_images(3, seed=4).repeat(1, 1, 2, 2)
    together = unrolled_projection(defense, x.clone().requires_grad_(True), 3)
    alone = unrolled_projection(defense, x[1:2].clone().requires_grad_(True), 3)
    torch.testing.assert_close(together[1:2], alone, atol=1e-6, rtol=0)


def test_unrolled_module_is_an_ordinary_model_for_pgd(toy_generator, range_classifier):
    clf, x, y = range_classifier
    defense = ProjectionDefense(toy_generator, steps=10, restarts=2)
    model = nn.Sequential(UnrolledProjection(defense, 3), clf)
    adv = PGD(model, 0.1, steps=2)(x[:4], y[:4])
    assert defense.calls == 2 and float((adv - x[:4]).abs().max()) <= 0.1 + 1e-6
    assert "unroll_steps=3" in repr(model)


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(optimizer="lbfgs", lr=1.0), "differentiates through sgd or adam updates"),
        (dict(prune_at=(0.5,)), "needs prune_at=\\(\\), tol=None and projection='none'"),
        (dict(projection="box"), "projection='box'"),
    ],
)
def test_unrolled_refuses_a_projection_it_cannot_follow(toy_generator, overrides, match):
    defense = ProjectionDefense(toy_generator, steps=4, restarts=1, **overrides)
    with pytest.raises(ValueError, match=match):
        UnrolledProjection(defense)
    with pytest.raises(ValueError, match=match):
        unrolled_projection(defense, linear_images(1).repeat(1, 1, 2, 2))
    assert defense.calls == 0  # refused before any work


def test_unrolled_refuses_bad_arguments(toy_generator):
    defense = ProjectionDefense(toy_generator, steps=4, restarts=1)
    with pytest.raises(ValueError, match="unroll_steps"):
        UnrolledProjection(defense, 0)
    with pytest.raises(TypeError, match="defense must be a ProjectionDefense"):
        unrolled_projection(toy_generator, linear_images(1))
    with pytest.raises(ValueError, match="images"):
        unrolled_projection(defense, 2 * linear_images(1).repeat(1, 1, 2, 2) + 1)
    with pytest.raises(ValueError, match="unroll_steps"):
        EvalSettings(unroll_steps=0)


# ------------------------------------------------------------------ the registry's columns
@pytest.mark.parametrize(
    "name, label", [("eot_restarts", "EOT (restarts)"), ("unrolled", "unrolled")]
)
def test_new_records_are_columns_of_evaluate_defense(
    name, label, toy_generator, range_classifier, range_test_set
):
    record = attack_record(name)
    assert record.label == label and record.adaptive and record.undefended == "pgd"
    clf, _, _ = range_classifier
    x, y = range_test_set[0][:8], range_test_set[1][:8]
    defense = ProjectionDefense(toy_generator, steps=5, restarts=2)
    rows = [Row("no defense", clf, False), Row("projection defense", clf, True)]
    attacks = parse_attacks(f"{name}:0.15,pgd:0.15")
    plain, defended = evaluate_defense(rows, x, y, attacks, defense=defense, settings=FAST)
    column = f"{label} ε=0.15"
    assert plain[column] == plain["PGD ε=0.15"]  # the undefended rule
    assert 0 <= defended[column] <= defended["clean"]
    # the attacker's copy: the defense's config, or the cheaper bpda_projection
    settings = EvalSettings(bpda_steps=2, unroll_steps=3, bpda_projection=(4, 1))
    attack = ev._make_attack(attacks[0], rows[1], defense, toy_generator, settings)
    copy = attack.model[0] if name == "eot_restarts" else attack.model[0].defense
    assert copy is not defense and (copy.config.steps, copy.config.restarts) == (4, 1)
    assert copy.config.lr == defense.config.lr and attack.steps == 2
    if name == "unrolled":
        assert attack.model[0].unroll_steps == 3
    else:
        assert isinstance(attack, RestartEOTPGD) and copy.gradient == "tangent"


def test_the_cli_lists_the_new_attacks_and_takes_unroll_steps():
    from ganinverse.cli import build_parser
    from ganinverse.cli.defend import attacks_help

    names, threat = attacks_help()
    assert "eot_restarts" in names and "unrolled" in names
    assert "eot_restarts = pgd" in threat and "unrolled = pgd" in threat
    args = ["defend", "eval", "--classifier", "c", "--generator", "g", "--out", "o"]
    parsed = build_parser().parse_args([*args, "--unroll-steps", "7"])
    assert parsed.unroll_steps == 7
    assert build_parser().parse_args(args).unroll_steps is None  # unset: EvalSettings' default
    assert f"(default: {EvalSettings().unroll_steps})" in " ".join(
        a.help for a in _defend_eval_parser()._actions if "--unroll-steps" in a.option_strings
    )


def _defend_eval_parser():
    import argparse

    from ganinverse.cli import build_parser

    def sub(parser, name):
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return action.choices[name]

    return sub(sub(build_parser(), "defend"), "eval")


def test_a_diverging_unrolled_projection_warns(toy_generator):
    from ganinverse.exceptions import ConvergenceWarning

    defense = ProjectionDefense(toy_generator, steps=5, restarts=1, lr=1e6, momentum=0.0)
    with pytest.warns(ConvergenceWarning, match="final iterate is no better than its start"):
        unrolled_projection(defense, linear_images(2).repeat(1, 1, 2, 2), 2)
