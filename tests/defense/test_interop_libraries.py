"""``nn.Sequential(ProjectionDefense(G), classifier)`` is an ordinary classifier of [0, 1] images:
torchattacks, ART and foolbox attack it unmodified (each test skips where its library is absent).

What a library needs that is not the model's (ART: numpy in and out, a loss and the input shape;
foolbox: the bounds) is given here, as any user would. Each attack must return images in the
ε-ball and in [0, 1], not raise the defended accuracy, and (where the library exposes it) the
gradient that reaches the input must be the tangent-projected classifier gradient P ∇ℓ.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganinverse.defense import ProjectionDefense
from ganinverse.defense.projection import tangent_project

EPS = 0.15
PROJECTION = dict(steps=20, restarts=2)


@pytest.fixture
def defended(toy_generator, range_classifier, range_test_set):
    """The defended model (eval mode), 8 test images, their labels and the defense."""
    clf, _, _ = range_classifier
    defense = ProjectionDefense(toy_generator, **PROJECTION)
    model = nn.Sequential(defense, clf).eval()
    x, y = range_test_set
    return model, x[:8], y[:8], defense


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def _check_adversarial(model, x, adv, y):
    assert adv.shape == x.shape and adv.dtype == torch.float32
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    assert float((adv - x).abs().max()) <= EPS + 1e-5
    assert not torch.equal(adv, x)  # the gradient reached the input
    assert _accuracy(model, adv, y) <= _accuracy(model, x, y)


def _tangent_loss_gradient(defense, classifier, x, y, reduction="mean"):
    """P ∇_u ℓ(f(u), y) at u = D(x) (times the clamp mask): the defense's tangent backward."""
    with torch.no_grad():
        u = defense(x)
    result = defense.last_result
    unit = (result.x_hat + 1) / 2
    inside = (unit >= 0) & (unit <= 1)
    u = u.clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(classifier(u), y, reduction=reduction)
    (g,) = torch.autograd.grad(loss, u)
    return tangent_project(defense.G, result.z, g * inside)


def test_torchattacks_pgd(defended):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y, _ = defended
    adv = torchattacks.PGD(model, eps=EPS, alpha=0.05, steps=3, random_start=False)(x, y)
    _check_adversarial(model, x, adv, y)
    assert not model.training  # torchattacks restores the mode it found


def test_art_projected_gradient_descent(defended):
    pytest.importorskip("art")
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    model, x, y, defense = defended
    estimator = PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=tuple(x.shape[1:]),
        nb_classes=2,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )
    # ART reads 1-D labels of a 2-class model as BCE targets: give it one-hot labels
    onehot = nn.functional.one_hot(y, 2).numpy()
    # the gradient ART reads is the defense's tangent backward of the classifier's loss
    grad = estimator.loss_gradient(x.numpy(), onehot)
    expected = _tangent_loss_gradient(defense, model[1], x, y)
    torch.testing.assert_close(torch.from_numpy(grad), expected, atol=1e-5, rtol=1e-4)
    attack = ProjectedGradientDescent(
        estimator, eps=EPS, eps_step=0.05, max_iter=3, num_random_init=0, verbose=False
    )
    adv = torch.from_numpy(attack.generate(x.numpy(), onehot))
    _check_adversarial(model, x, adv, y)
    predictions = estimator.predict(x.numpy())  # ART's own forward (no_grad) is the model's
    torch.testing.assert_close(torch.from_numpy(predictions), model(x).detach())


def test_foolbox_linf_pgd(defended):
    fb = pytest.importorskip("foolbox")
    model, x, y, defense = defended
    ep = pytest.importorskip("eagerpy")
    fmodel = fb.PyTorchModel(model, bounds=(0, 1))
    attack = fb.attacks.LinfPGD(abs_stepsize=0.05, steps=3, random_start=False)
    # the gradient foolbox's PGD steps along (summed cross-entropy) is the tangent backward
    loss_fn = attack.get_loss_fn(fmodel, ep.astensor(y))
    _, grad = ep.value_and_grad(loss_fn, ep.astensor(x))
    expected = _tangent_loss_gradient(defense, model[1], x, y, reduction="sum")
    torch.testing.assert_close(grad.raw, expected, atol=1e-5, rtol=1e-4)
    _, clipped, success = attack(fmodel, x, y, epsilons=EPS)
    _check_adversarial(model, x, clipped, y)
    assert success.shape == y.shape
    assert float(success.float().mean()) == pytest.approx(1 - _accuracy(model, clipped, y))
