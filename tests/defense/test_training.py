import pytest
import torch

from ganinverse.defense import PGD, OverpoweredAttack, ProjectionDefense
from ganinverse.defense.training import AdversarialAugment, adversarial_training, project_images
from ganinverse.models import accuracy, train_classifier

TRAIN = dict(epochs=30, batch_size=50, lr=1e-2, device="cpu")


def test_madry_training_makes_the_classifier_robust(toy_data, toy_test_set, toy_classifier_class):
    ToyClassifier = toy_classifier_class
    x, y = toy_data
    xt, yt = toy_test_set
    plain = train_classifier(ToyClassifier(), x, y, **TRAIN)
    robust = adversarial_training(ToyClassifier(), x, y, eps=0.15, steps=5, **TRAIN)
    attack = lambda m: PGD(m, 0.1, steps=20)(xt, yt)  # noqa: E731
    assert accuracy(robust, xt, yt) >= 0.95
    assert accuracy(plain, attack(plain), yt) < 0.5
    assert accuracy(robust, attack(robust), yt) > 0.9


def test_manifold_augment_mixes_pgd_and_overpowered_images(toy_generator, range_classifier):
    clf, x, y = range_classifier
    x, y = x[:8], y[:8]
    augment = AdversarialAugment(
        clf, 0.1, 3, G=toy_generator, manifold_fraction=0.5, manifold_eps=0.5, manifold_steps=10
    )
    out = augment(x, y, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert float((out[:4] - x[:4]).abs().max()) <= 0.1 + 1e-6  # PGD half stays in the ball
    # the manifold half is exactly the overpowered attack's G(z1) with the seed drawn from gen
    gen = torch.Generator().manual_seed(0)
    torch.randint(2**31 - 1, (1,), generator=gen)
    seed = int(torch.randint(2**31 - 1, (1,), generator=gen))
    pairs = OverpoweredAttack(toy_generator, clf, 0.5, steps=10, restarts=1, seed=seed)(
        x[4:], y[4:]
    )
    assert torch.allclose(out[4:], pairs.x1)


def test_robust_manifold_training_resists_overpowered_pairs(
    toy_generator, range_classifier, range_test_set, toy_classifier_class
):
    plain, x, y = range_classifier
    xt, yt = range_test_set
    robust = adversarial_training(
        toy_classifier_class(),
        x,
        y,
        eps=0.02,
        steps=3,
        G=toy_generator,
        manifold_fraction=0.5,
        manifold_eps=0.2,
        manifold_steps=10,
        **{**TRAIN, "epochs": 6},
    )
    assert accuracy(robust, xt, yt) > 0.65

    def success(model):
        return OverpoweredAttack(toy_generator, model, 0.2, steps=100, restarts=1)(xt, yt)

    assert success(robust).success_rate < success(plain).success_rate - 0.3


def test_augment_validates(toy_classifier):
    with pytest.raises(ValueError, match="needs the generator"):
        AdversarialAugment(toy_classifier, manifold_fraction=0.5)
    with pytest.raises(ValueError, match="manifold_fraction"):
        AdversarialAugment(toy_classifier, manifold_fraction=1.5)
    with pytest.raises(ValueError, match="eps"):
        AdversarialAugment(toy_classifier, eps=-1)


def test_project_images_batches(toy_generator):
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    defense = ProjectionDefense(toy_generator, steps=5, restarts=1)
    expected = torch.cat([defense(x[0:2]), defense(x[2:4]), defense(x[4:])])
    assert torch.allclose(project_images(defense, x, batch_size=2), expected, atol=1e-6)


def test_adversarial_options_that_change_nothing_warn_and_a_vanishing_share_is_refused(
    toy_classifier_class, toy_data
):
    """helper-38 #7: eps=0, a manifold fraction that rounds to no image, PGD options with
    fraction 1 were accepted silently."""
    from ganinverse.exceptions import IdleOptionWarning

    x, y = toy_data
    with pytest.raises(ValueError, match=r"floor\(0.01 x 50\) = 0 images"):
        adversarial_training(
            toy_classifier_class(), x, y, manifold_fraction=0.01, batch_size=50, epochs=1
        )
    with pytest.warns(IdleOptionWarning, match="eps=0 makes the PGD examples the clean images"):
        adversarial_training(toy_classifier_class(), x[:50], y[:50], eps=0.0, epochs=1)


def test_adversarial_training_that_erases_the_classes_warns(toy_data, toy_classifier_class):
    """helper-49: --adversarial pgd with a huge eps left a chance-level classifier (its clean
    loss fell from the random start to ln 2, chance accuracy) without a word."""
    import warnings

    from ganinverse.exceptions import ConvergenceWarning

    x, y = toy_data
    torch.manual_seed(0)
    with pytest.warns(
        ConvergenceWarning, match="no more accurate than a constant guess.*lower the attack"
    ):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="PGD: the input gradient")
            model = adversarial_training(toy_classifier_class(), x, y, eps=0.5, steps=5, **TRAIN)
    assert accuracy(model, x, y) <= 0.6  # it really learned nothing
    assert "lower the attack's eps" in model.training_status  # (recorded by train-classifier)
    with warnings.catch_warnings():  # the same training at a sane eps learns and is quiet
        warnings.simplefilter("error", ConvergenceWarning)
        torch.manual_seed(0)
        model = adversarial_training(toy_classifier_class(), x, y, eps=0.15, steps=5, **TRAIN)
    assert accuracy(model, x, y) >= 0.95 and model.training_status == "ok"
