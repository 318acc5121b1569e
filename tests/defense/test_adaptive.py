import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganinverse.data import to_unit
from ganinverse.defense import (
    BPDA,
    PGD,
    Attack,
    LatentAttack,
    OverpoweredAttack,
    ProjectionDefense,
    bpda_pgd,
)
from ganinverse.models import accuracy


@pytest.fixture
def defense(toy_generator):
    return ProjectionDefense(toy_generator, steps=100, restarts=2)


def test_bpda_forward_is_the_defense_and_backward_the_classifier_gradient_at_g_zhat(
    defense, range_classifier, range_test_set
):
    clf, _, _ = range_classifier
    x, y = range_test_set
    x = (x[:8] + 0.05 * torch.randn(8, 1, 8, 8)).clamp(0, 1)
    y = y[:8]
    x_var = x.clone().requires_grad_(True)
    out = BPDA(defense)(x_var)
    assert torch.equal(out.detach(), defense(x))
    F.cross_entropy(clf(out), y, reduction="sum").backward()
    # reference: the classifier's own gradient at the projection G(ẑ)
    g_zhat = out.detach().clone().requires_grad_(True)
    F.cross_entropy(clf(g_zhat), y, reduction="sum").backward()
    assert x_var.grad.abs().sum() > 0
    assert torch.allclose(x_var.grad, g_zhat.grad)


def test_bpda_pgd_breaks_the_defense(toy_generator, defense, range_classifier, range_test_set):
    clf, _, _ = range_classifier
    x, y = range_test_set
    defended = nn.Sequential(defense, clf)
    clean = accuracy(defended, x, y)
    bpda = bpda_pgd(defense, clf, 0.15, steps=10)(x, y)
    assert float((bpda - x).abs().max()) <= 0.15 + 1e-6
    assert accuracy(defended, bpda, y) < clean - 0.3


def test_eot_over_a_resampling_defense(toy_generator, range_classifier, range_test_set):
    clf, _, _ = range_classifier
    x, y = range_test_set
    random = ProjectionDefense(toy_generator, steps=30, restarts=1, resample=True)
    attack = bpda_pgd(random, clf, 0.15, steps=2, eot_samples=3)
    adv = attack(x[:4], y[:4])
    assert random.calls == 2 * 3  # every gradient averages 3 fresh projections
    assert float((adv - x[:4]).abs().max()) <= 0.15 + 1e-6


def test_latent_attack_stays_in_the_ball_and_fools_the_defended_model(
    toy_generator, defense, range_classifier, range_test_set
):
    clf, _, _ = range_classifier
    x, y = range_test_set
    attack = LatentAttack(toy_generator, clf, 0.15, steps=150, restarts=2)
    adv = attack(x, y)
    assert adv.min() >= 0 and adv.max() <= 1
    assert float((adv - x).abs().max()) <= 0.15 + 1e-6
    defended = nn.Sequential(defense, clf)
    assert accuracy(defended, adv, y) < accuracy(defended, x, y) - 0.3
    assert attack.last_result.z.shape == (len(x), toy_generator.latent_dim)


@pytest.mark.parametrize("eps", [0.05, 1.0])
def test_overpowered_pairs_respect_the_budget(toy_generator, range_classifier, eps):
    clf, x, y = range_classifier
    x, y = x[:16], y[:16]
    result = OverpoweredAttack(toy_generator, clf, eps, steps=150, restarts=1)(x, y)
    assert result.x1.shape == result.x2.shape == x.shape
    assert float(result.distance.max()) <= eps + 1e-5
    with torch.no_grad():
        x1 = to_unit(toy_generator(result.z1)).clamp(0, 1)
        assert torch.allclose(x1, result.x1)
        assert torch.equal(result.success, clf(result.x1).argmax(1) != clf(result.x2).argmax(1))
    if eps == 1.0:  # a generous budget crosses the decision boundary for most anchors
        assert result.success_rate >= 0.7
        assert float((result.x2 - x).pow(2).mean()) < 0.02  # anchored at the images


def test_overpowered_is_a_pair_attack_with_its_own_metric(toy_generator, range_classifier):
    clf, x, y = range_classifier
    x, y = x[:8], y[:8]
    attack = OverpoweredAttack(toy_generator, clf, 1.0, steps=20, restarts=1)
    assert not isinstance(attack, Attack)  # it returns pairs, not adversarial images
    assert attack.metric == "success rate"
    assert attack.success_rate(x, y) == attack(x, y).success_rate  # seeded: the same pairs


def test_adaptive_attacks_validate(toy_generator, range_classifier):
    clf, x, y = range_classifier
    with pytest.raises(ValueError, match="eps"):
        OverpoweredAttack(toy_generator, clf, -1.0)
    with pytest.raises(ValueError, match="eps"):
        LatentAttack(toy_generator, clf, -0.1)
    with pytest.raises(ValueError, match="images must lie in"):
        OverpoweredAttack(toy_generator, clf, 1.0)(x * 2 - 1, y)
    with pytest.raises(TypeError, match="defense"):
        BPDA(lambda v: v)


def test_torchattacks_runs_on_the_bpda_defended_model(
    toy_generator, range_classifier, range_test_set
):
    torchattacks = pytest.importorskip("torchattacks")
    clf, _, _ = range_classifier
    x, y = range_test_set
    model = nn.Sequential(BPDA(ProjectionDefense(toy_generator, steps=40, restarts=1)), clf)
    theirs = torchattacks.PGD(model, eps=0.15, alpha=0.04, steps=5, random_start=False)(x, y)
    ours = PGD(model, 0.15, alpha=0.04, steps=5, random_start=False)(x, y)
    assert float((theirs - x).abs().max()) <= 0.15 + 1e-6
    assert accuracy(model, theirs, y) < accuracy(model, x, y)
    assert torch.allclose(theirs, ours, atol=1e-5)
