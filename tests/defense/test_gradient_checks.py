"""One shared gradient check for every gradient attack (user trial): a model with no gradient
path from its input is the same clear TypeError, and one whose input gradient is exactly zero
(it detaches its input) the same ZeroGradientWarning, for every attack of the registry, CW and
the latent attack; never torch's autograd RuntimeError, never the clean images in silence."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch
from torch import nn

from ganinverse.defense import (
    FGSM,
    PGD,
    AttackContext,
    CarliniWagnerL2,
    LatentAttack,
    OverpoweredAttack,
    ProjectionDefense,
    margin_loss,
    registered_attacks,
)
from ganinverse.defense import evaluate as ev
from ganinverse.defense.evaluate import EvalSettings, Row, evaluate_defense, parse_attacks
from ganinverse.exceptions import ZeroGradientWarning

from .conftest import ToyClassifier

TINY = EvalSettings(
    pgd_steps=2, bpda_steps=1, eot_samples=2, latent_steps=2, latent_restarts=1, unroll_steps=1
)
NOT_DIFFERENTIABLE = "not differentiable with respect to its input"


class DetachesInput(nn.Module):
    """``inner(x.detach())`` with ``inner`` kept outside the module tree, so an attack's
    ``frozen`` leaves its weights trainable: the loss has a graph, but not to x (autograd.grad
    would raise 'appears to not have been used in the graph')."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.image_shape = inner.image_shape
        object.__setattr__(self, "inner", inner)  # not a submodule
        self.anchor = nn.Parameter(torch.zeros(()))  # where it runs (accuracy reads it)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.detach())


class NoGraph(nn.Module):
    """Logits without any autograd graph (the model runs under no_grad)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.image_shape = inner, inner.image_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.inner(x)


@pytest.fixture
def clf_and_data(toy_generator):
    """An untrained toy classifier and 4 range images labelled with its own predictions (so every
    image is still to be fooled, by a margin: the latent attack and CW have work to do)."""
    torch.manual_seed(0)
    clf = ToyClassifier().eval()
    z = torch.randn(4, toy_generator.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x = ((toy_generator(z) + 1) / 2).clamp(0, 1)
        labels = clf(x).argmax(1)
    return clf, x, labels


def _attack(record, model, G):
    defense = ProjectionDefense(G, steps=2, restarts=2) if record.adaptive else None
    return record.build(AttackContext(model, defense, G, 0.1, "inf", TINY))


RECORDS = registered_attacks()


def test_the_parametrisation_covers_the_whole_registry():
    assert {r.name for r in RECORDS} >= {
        "fgsm", "pgd", "bpda", "eot", "latent", "bpda_tangent", "eot_restarts", "unrolled"
    }  # fmt: skip


@pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_every_registered_attack_warns_on_a_model_that_detaches_its_input(
    record, toy_generator, clf_and_data
):
    clf, x, y = clf_and_data
    attack = _attack(record, DetachesInput(clf), toy_generator)
    with pytest.warns(ZeroGradientWarning, match="exactly zero for all"):
        adv = attack(x, y)
    assert adv.shape == x.shape and attack.last_zero_gradient


@pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_every_registered_attack_refuses_a_model_without_a_gradient_path(
    record, toy_generator, clf_and_data
):
    clf, x, y = clf_and_data
    attack = _attack(record, NoGraph(clf), toy_generator)
    with pytest.raises(
        TypeError, match=f"{type(attack).__name__}: the model is {NOT_DIFFERENTIABLE}"
    ):
        attack(x, y)


@pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_no_registered_attack_warns_on_an_ordinary_classifier(record, toy_generator, clf_and_data):
    clf, x, y = clf_and_data
    attack = _attack(record, clf, toy_generator)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZeroGradientWarning)
        attack(x, y)
    assert not attack.last_zero_gradient


def test_cw_pgd_and_fgsm_refuse_a_projection_without_gradient_alike(toy_generator, clf_and_data):
    """The trial's repro: CW returned the clean images, silently, where PGD/FGSM refused."""
    clf, x, y = clf_and_data
    m = nn.Sequential(ProjectionDefense(toy_generator, gradient="none", steps=2, restarts=1), clf)
    for attack in (CarliniWagnerL2(m, steps=2), PGD(m, 0.1, steps=2), FGSM(m, 0.1)):
        with pytest.raises(TypeError, match=NOT_DIFFERENTIABLE) as info:
            attack(x, y)
        assert "BPDA" in str(info.value) and "gradient='tangent'" in str(info.value)


def test_cw_warns_on_a_detached_input_and_not_when_nothing_is_left_to_fool(clf_and_data):
    clf, x, y = clf_and_data
    cw = CarliniWagnerL2(DetachesInput(clf), steps=2)
    with pytest.warns(ZeroGradientWarning, match="images it has yet to fool"):
        adv = cw(x, y)
    assert torch.equal(adv, x) and cw.last_zero_gradient
    assert torch.isinf(cw.last_distance).all()
    # every image already misclassified: the margin is clamped, its zero gradient is no news
    wrong = (y + 1) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZeroGradientWarning)
        CarliniWagnerL2(DetachesInput(clf), steps=2)(x, wrong)


def test_pgd_and_fgsm_on_a_detached_input_warn_instead_of_autograds_error(clf_and_data):
    """The trial's second repro: torch's 'not been used in the graph' RuntimeError."""
    clf, x, y = clf_and_data

    class Hide(nn.Module):
        def forward(self, images):
            return clf(images.detach())

    for attack in (FGSM(Hide(), 0.1), PGD(Hide(), 0.1, steps=2, random_start=False)):
        with pytest.warns(ZeroGradientWarning, match="exactly zero for all 4 images"):
            adv = attack(x, y)
        assert torch.equal(adv, x)


def _cw_reference(model, images, labels, c, kappa, steps, lr):
    """CarliniWagnerL2.perturb before the shared check: one backward of dist + c · margin."""
    w = torch.atanh((images * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6)).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)
    best = images.clone()
    best_dist = torch.full((len(images),), math.inf)
    for _ in range(steps):
        x = (torch.tanh(w) + 1) / 2
        logits = model(x)
        dist = (x - images).pow(2).flatten(1).sum(1)
        loss = dist + c * margin_loss(logits, labels, kappa)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        with torch.no_grad():
            better = (logits.argmax(1) != labels) & (dist.sqrt() < best_dist)
            best[better] = x.detach()[better]
            best_dist[better] = dist.sqrt()[better]
    return best, best_dist


def test_cw_through_the_shared_check_takes_the_same_steps(toy_classifier, toy_test_set):
    x, y = toy_test_set
    cw = CarliniWagnerL2(toy_classifier, c=10.0, kappa=0.5, steps=30, lr=0.05)
    adv = cw(x, y)
    toy_classifier.requires_grad_(False)
    try:
        ref, ref_dist = _cw_reference(toy_classifier, x, y, 10.0, 0.5, 30, 0.05)
    finally:
        toy_classifier.requires_grad_(True)
    assert torch.allclose(adv, ref, atol=1e-5)
    assert torch.equal(torch.isinf(cw.last_distance), torch.isinf(ref_dist))


def test_the_latent_attack_probes_the_classifier_once(toy_generator, clf_and_data, monkeypatch):
    """A classifier that detaches its input would leave the latent search only the distance
    term: the attack says so before the search (one classifier pass)."""
    clf, x, y = clf_and_data
    attack = LatentAttack(toy_generator, DetachesInput(clf), 0.1, steps=2, restarts=1)
    with pytest.warns(ZeroGradientWarning, match="LatentAttack: .* yet to fool"):
        attack(x, y)


@pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ConvergenceWarning")
def test_the_overpowered_attack_checks_the_classifier_gradient(toy_generator, clf_and_data):
    """The overpowered attack descends the same margins through G: a classifier that detaches
    its input warns (and sets last_zero_gradient) before the search, one without a gradient
    path is the shared TypeError, an ordinary classifier neither."""
    clf, x, y = clf_and_data
    attack = OverpoweredAttack(toy_generator, DetachesInput(clf), 2.0, steps=2, restarts=1)
    with pytest.warns(ZeroGradientWarning, match="OverpoweredAttack: .* yet to fool"):
        result = attack(x, y)
    assert attack.last_zero_gradient and result.x1.shape == x.shape
    attack = OverpoweredAttack(toy_generator, NoGraph(clf), 2.0, steps=2, restarts=1)
    with pytest.raises(TypeError, match=f"OverpoweredAttack: the model is {NOT_DIFFERENTIABLE}"):
        attack(x, y)
    attack = OverpoweredAttack(toy_generator, clf, 2.0, steps=2, restarts=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZeroGradientWarning)
        attack(x, y)
    assert not attack.last_zero_gradient


def test_evaluate_defense_marks_a_zero_gradient_cell(tmp_path, clf_and_data):
    clf, x, y = clf_and_data
    rows = [Row("hidden", DetachesInput(clf), False), Row("plain", clf, False)]
    with pytest.warns(ZeroGradientWarning):
        evaluate_defense(rows, x, y, parse_attacks("fgsm:0.1"), settings=TINY, out=tmp_path)
    cells = json.loads((tmp_path / "cells.json").read_text())["cells"]
    assert cells["hidden|FGSM ε=0.1"]["zero_gradient"] is True
    assert "zero_gradient" not in cells["plain|FGSM ε=0.1"]
    assert "zero_gradient" not in cells["hidden|clean"]
    note = (tmp_path / "results.md").read_text().splitlines()[-1]
    assert "exactly zero" in note and "hidden|FGSM ε=0.1" in note and "plain|" not in note
    assert ev.zero_gradient_note({"a|b": {"accuracy": 1.0, "seconds": 0.0}}) == ""
