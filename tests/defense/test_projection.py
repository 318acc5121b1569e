import pytest
import torch
from torch import nn

from ganinverse.data import to_unit
from ganinverse.defense import DEFENSE_GAN, ProjectionDefense
from ganinverse.models import accuracy


def test_an_image_in_the_range_projects_onto_itself(toy_generator):
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        x = to_unit(toy_generator(z))
    defense = ProjectionDefense(toy_generator)  # Defense-GAN's SGD settings
    out = defense(x)
    assert out.shape == x.shape and not out.requires_grad
    assert float((out - x).abs().max()) < 1e-3
    assert defense.last_result.data_loss.max() < 1e-6


def test_defaults_are_defense_gans(toy_generator):
    c = ProjectionDefense(toy_generator).config
    assert (c.steps, c.restarts, c.lr, c.optimizer, c.momentum) == (200, 10, 10.0, "sgd", 0.7)
    assert (c.schedule, c.step_at, c.step_gamma) == ("step", 0.8, 0.1)
    assert ProjectionDefense(toy_generator, steps=5).config.steps == 5
    assert DEFENSE_GAN.restarts == 10


def test_an_image_off_the_range_lands_in_the_range(toy_generator):
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    defense = ProjectionDefense(toy_generator, steps=50, restarts=2)
    out = defense(x)
    assert out.min() >= 0 and out.max() <= 1
    with torch.no_grad():
        again = to_unit(toy_generator(defense.last_result.z))
    assert torch.allclose(out, again.clamp(0, 1), atol=1e-6)
    # the projection is closer to x than a random point of the range
    with torch.no_grad():
        other = to_unit(toy_generator(torch.randn(2, 4)))
    assert (out - x).pow(2).sum() < (other - x).pow(2).sum()


def test_sequential_defense_and_classifier_is_a_classifier(
    toy_generator, range_classifier, range_test_set
):
    clf, _, _ = range_classifier
    x, y = range_test_set
    defended = nn.Sequential(ProjectionDefense(toy_generator, steps=100, restarts=2), clf)
    assert defended(x).shape == (len(x), 2)
    # images in the range survive the projection, so clean accuracy is kept
    assert accuracy(defended, x, y) >= accuracy(clf, x, y) - 0.05


def test_works_under_no_grad_and_resamples(toy_generator):
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    fixed = ProjectionDefense(toy_generator, steps=3, restarts=1)
    with torch.no_grad():
        a, b = fixed(x), fixed(x)
    assert torch.equal(a, b)
    random = ProjectionDefense(toy_generator, steps=3, restarts=1, resample=True)
    assert not torch.equal(random(x), random(x))
    assert random.calls == 2


def test_bad_input(toy_generator):
    defense = ProjectionDefense(toy_generator, steps=2, restarts=1)
    with pytest.raises(ValueError, match="images must lie in"):
        defense(torch.full((1, 1, 8, 8), 2.0))
    with pytest.raises(ValueError, match="images must have shape"):
        defense(torch.rand(1, 1, 9, 9))
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        defense([[0.5]])
    with pytest.raises(TypeError, match="generator"):
        ProjectionDefense(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="unknown latent-engine option"):
        ProjectionDefense(toy_generator, stepz=3)


def test_a_preset_setting_the_callers_options_make_idle_does_not_warn(toy_generator, recwarn):
    """DEFENSE_GAN sets SGD's momentum and a step schedule; optimizer='adam' and
    schedule='constant' make them idle. The caller set neither, so no IdleOptionWarning; the
    caller's own idle momentum is warned."""
    from ganinverse.exceptions import IdleOptionWarning

    x = torch.rand(1, *toy_generator.image_shape)
    ProjectionDefense(toy_generator, steps=2, restarts=1, optimizer="adam", schedule="constant")(x)
    assert not [w for w in recwarn if issubclass(w.category, IdleOptionWarning)]
    with pytest.warns(IdleOptionWarning, match="momentum=0.5"):
        defense = ProjectionDefense(
            toy_generator, steps=2, restarts=1, optimizer="adam", momentum=0.5
        )
    import warnings

    with warnings.catch_warnings():  # helper-68: warned when built, not again at every call
        warnings.simplefilter("error", IdleOptionWarning)
        defense(x)
        defense(x)
    with pytest.warns(IdleOptionWarning, match=r"prune_at=\(0.5,\) changes nothing"):
        ProjectionDefense(toy_generator, steps=2, restarts=1, prune_at=(0.5,))
