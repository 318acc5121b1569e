"""The tangent-space backward of the projection defense: ∂D/∂x ≈ P = J (JᵀJ)⁻¹ Jᵀ at ẑ.

For a linear G(z) = W z + b the projection is affine, D(x) = (P_W (2x − 1 − b) + b + 1)/2 with
P_W = W (WᵀW)⁻¹ Wᵀ, so its Jacobian is exactly P_W (the factors 2 and ½ cancel).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganinverse.defense import Attack, ProjectionDefense, attack_record, evaluate_defense
from ganinverse.defense.evaluate import EvalSettings, Row, parse_attacks
from ganinverse.defense.projection import generator_jacobian, tangent_project

from .conftest import LinearGenerator, linear_images

FAST = EvalSettings(pgd_steps=3, bpda_steps=2, eot_samples=2, latent_steps=5, latent_restarts=1)
# the linear least squares converges in a few L-BFGS steps
EXACT = dict(optimizer="lbfgs", lr=1.0, steps=50, restarts=1, schedule="constant")


def _input_grad(defense: nn.Module, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor | None:
    x = x.clone().requires_grad_(True)
    out = defense(x)
    if not out.requires_grad:
        return None
    (grad,) = torch.autograd.grad(out, x, g)
    return grad


def test_linear_generator_backward_is_the_closed_form_projection():
    G = LinearGenerator()
    defense = ProjectionDefense(G, **EXACT)
    x, g = linear_images(), torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    out = defense(x.clone().requires_grad_(True))
    assert bool(((out > 0) & (out < 1)).all())  # no clamping on this toy
    P = G.projector()
    expected = (g.flatten(1) @ P).view_as(g)  # P symmetric
    torch.testing.assert_close(_input_grad(defense, x, g), expected, atol=1e-4, rtol=1e-4)
    # and the forward is the closed-form affine projection (the engine reached the optimum)
    b = G.b.detach()
    closed = ((2 * x - 1 - b.view(1, 1, 4, 4)).flatten(1) @ P + b + 1) / 2
    torch.testing.assert_close(out.detach(), closed.view_as(x), atol=1e-4, rtol=1e-4)


def test_linear_generator_finite_differences_match_the_backward():
    """A gradcheck-style test: the directional derivative of D equals ⟨w, P v⟩ from autograd."""
    G = LinearGenerator()
    defense = ProjectionDefense(G, **EXACT)
    gen = torch.Generator().manual_seed(3)
    x = linear_images(1)
    v, w = torch.randn(1, 1, 4, 4, generator=gen), torch.randn(1, 1, 4, 4, generator=gen)
    h = 1e-2
    with torch.no_grad():
        fd = ((defense(x + h * v) - defense(x - h * v)) / (2 * h) * w).sum()
    analytic = (_input_grad(defense, x, w) * v).sum()
    torch.testing.assert_close(analytic, fd, atol=2e-3, rtol=2e-3)


def test_jacobian_and_tangent_projection_of_a_nonlinear_generator(toy_generator):
    """Against torch.autograd.functional.jacobian; P is idempotent and symmetric."""
    z = torch.randn(2, toy_generator.latent_dim, generator=torch.Generator().manual_seed(0))
    J = generator_jacobian(toy_generator, z)
    for i in range(2):
        ref = torch.autograd.functional.jacobian(lambda t: toy_generator(t[None]).flatten(), z[i])
        torch.testing.assert_close(J[i], ref, atol=1e-5, rtol=1e-4)
    g = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    Pg = tangent_project(toy_generator, z, g)
    torch.testing.assert_close(tangent_project(toy_generator, z, Pg), Pg, atol=1e-4, rtol=1e-4)
    h = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    Ph = tangent_project(toy_generator, z, h)
    torch.testing.assert_close((Pg * h).sum(), (g * Ph).sum(), atol=1e-4, rtol=1e-4)
    # P g lies in the span of J's columns and the residual g − P g is orthogonal to them
    resid = (g - Pg).flatten(1)
    assert float((J.transpose(1, 2) @ resid[..., None]).abs().max()) < 1e-4


def test_nonlinear_backward_matches_finite_differences_in_the_range(toy_generator):
    """For x = G(z0) in the range the residual vanishes and Gauss–Newton is exact."""
    z0 = 0.5 * torch.randn(1, toy_generator.latent_dim, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        x = (toy_generator(z0) + 1) / 2
    defense = ProjectionDefense(toy_generator, optimizer="lbfgs", lr=1.0, steps=100, restarts=2)
    gen = torch.Generator().manual_seed(5)
    v, w = torch.randn(1, 1, 8, 8, generator=gen), torch.randn(1, 1, 8, 8, generator=gen)
    h = 1e-3
    with torch.no_grad():
        fd = ((defense(x + h * v) - defense(x - h * v)) / (2 * h) * w).sum()
    analytic = (_input_grad(defense, x, w) * v).sum()
    torch.testing.assert_close(analytic, fd, atol=5e-2, rtol=5e-2)


def test_the_options_share_the_forward_and_differ_in_the_backward():
    G = LinearGenerator()
    x, g = linear_images(), torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    outs = {}
    for gradient in ("tangent", "identity", "none"):
        defense = ProjectionDefense(G, steps=20, restarts=2, gradient=gradient)
        with torch.no_grad():
            plain = defense(x)
        outs[gradient] = defense(x.clone().requires_grad_(True))
        assert torch.equal(outs[gradient].detach(), plain)
        grad = _input_grad(defense, x, g)
        if gradient == "none":
            assert grad is None and not outs[gradient].requires_grad
        elif gradient == "identity":
            assert torch.equal(grad, g)
        else:
            assert not torch.allclose(grad, g) and grad.shape == g.shape
    assert torch.equal(outs["tangent"], outs["identity"]) and torch.equal(
        outs["tangent"], outs["none"]
    )


@pytest.mark.parametrize(
    "bad,error,match",
    [
        ("foo", ValueError, "gradient must be one of 'tangent', 'identity', 'none'; got 'foo'"),
        ("Tangent", ValueError, "did you mean 'tangent'"),
        (None, TypeError, "gradient must be a str, one of 'tangent', 'identity', 'none'; got"),
        (1, TypeError, "gradient must be a str, one of 'tangent', 'identity', 'none'; got int 1"),
    ],
)
def test_an_unknown_gradient_is_refused_with_the_choices(bad, error, match):
    # (a name of another type is a TypeError, as at every other lookup of a name)
    with pytest.raises(error, match=match):
        ProjectionDefense(LinearGenerator(), gradient=bad)


def _hand_pgd(model: nn.Module, x, y, eps=0.1, alpha=0.03, steps=3):
    """The loop of torchattacks.PGD, written out."""
    adv = x.clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = nn.functional.cross_entropy(model(adv), y)
        (grad,) = torch.autograd.grad(loss, adv)
        adv = adv.detach() + alpha * grad.sign()
        adv = (x + (adv - x).clamp(-eps, eps)).clamp(0, 1).detach()
    return adv


def test_a_library_style_pgd_runs_on_defense_then_classifier(toy_generator, range_classifier):
    clf, x, y = range_classifier
    model = nn.Sequential(ProjectionDefense(toy_generator, steps=5, restarts=1), clf)
    x, y = x[:4], y[:4]
    adv = _hand_pgd(model, x, y)
    assert adv.shape == x.shape and not torch.equal(adv, x)
    assert float((adv - x).abs().max()) <= 0.1 + 1e-6


def test_torchattacks_pgd_runs_on_the_defense(toy_generator, range_classifier):
    torchattacks = pytest.importorskip("torchattacks")
    clf, x, y = range_classifier
    model = nn.Sequential(ProjectionDefense(toy_generator, steps=5, restarts=1), clf).eval()
    adv = torchattacks.PGD(model, eps=0.1, alpha=0.03, steps=2)(x[:4], y[:4])
    assert not torch.equal(adv, x[:4])


def test_the_tangent_record_is_a_column_of_evaluate_defense(
    toy_generator, range_classifier, range_test_set
):
    record = attack_record("bpda_tangent")
    assert record.label == "BPDA (tangent)" and record.adaptive and record.undefended == "pgd"
    clf, _, _ = range_classifier
    x, y = range_test_set[0][:8], range_test_set[1][:8]
    defense = ProjectionDefense(toy_generator, steps=5, restarts=1)
    rows = [Row("no defense", clf, False), Row("projection defense", clf, True)]
    attacks = parse_attacks("bpda_tangent:0.15,pgd:0.15")
    plain, defended = evaluate_defense(rows, x, y, attacks, defense=defense, settings=FAST)
    assert plain["BPDA (tangent) ε=0.15"] == plain["PGD ε=0.15"]
    assert 0 <= defended["BPDA (tangent) ε=0.15"] <= 1
    from ganinverse.defense import evaluate as ev

    (spec,) = parse_attacks("bpda_tangent:0.15")
    attack = ev._make_attack(spec, rows[1], defense, toy_generator, FAST)
    assert isinstance(attack, Attack) and attack.model[0].gradient == "tangent"
