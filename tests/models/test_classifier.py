import warnings

import pytest
import torch

from ganinverse.exceptions import ConvergenceWarning
from ganinverse.models import ClassifierA, ClassifierB, accuracy, build_classifier, train_classifier


@pytest.mark.parametrize("cls", [ClassifierA, ClassifierB])
def test_classifier_shapes(cls):
    model = cls((1, 28, 28), 10).eval()
    x = torch.rand(4, 1, 28, 28)
    assert model(x).shape == (4, 10)
    feats = model.features(x)
    assert feats.ndim == 2 and feats.shape[0] == 4
    assert torch.allclose(model.head(feats), model(x))


def test_defense_gan_model_a_sizes():
    model = ClassifierA()
    assert model.features(torch.rand(1, 1, 28, 28)).shape == (1, 128)
    assert model.body[0].kernel_size == (5, 5) and model.body[2].stride == (2, 2)


def test_train_classifier_learns_a_separable_problem():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (256,), generator=gen)
    images = torch.rand(256, 1, 28, 28, generator=gen) * 0.3
    images[labels == 1, :, :14] += 0.7  # class 1: bright top half
    model = build_classifier("A", (1, 28, 28), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a run that learns does not warn
        model = train_classifier(
            model, images, labels, epochs=3, batch_size=32, seed=0, device="cpu"
        )
    assert accuracy(model, images, labels) > 0.95
    assert model.training_status == "ok"  # (the verdict, for callers: training_status(model))


def test_a_training_that_diverges_warns():
    """helper-47: train-classifier --lr 1e5 ended at chance, weights ~1e5, without a word."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (128,), generator=gen)
    images = torch.rand(128, 1, 28, 28, generator=gen)
    model = build_classifier("A", (1, 28, 28), 2)
    with pytest.warns(ConvergenceWarning, match="the loss rose: training diverged; lower lr"):
        model = train_classifier(
            model, images, labels, epochs=2, batch_size=32, lr=1e5, device="cpu"
        )
    assert model.training_status == "the loss rose: training diverged; lower lr"
    # helper-48: lr 1e-9 never learned (chance accuracy) and passed as trained
    model = build_classifier("A", (1, 28, 28), 2)
    with pytest.warns(
        ConvergenceWarning, match=r"did not lower the loss by more than 0\.1%: raise lr or epochs"
    ):
        model = train_classifier(
            model, images, labels, epochs=2, batch_size=32, lr=1e-9, device="cpu"
        )
    assert model.training_status.startswith("training did not lower the loss")


def test_train_classifier_rejects_signed_images():
    with pytest.raises(ValueError, match="images"):
        train_classifier(ClassifierA(), torch.rand(4, 1, 28, 28) * 2 - 1, torch.zeros(4).long())


def test_a_frozen_classifier_is_trained_whole_and_told_so():
    """helper-39: a classifier loaded frozen (gi.load_classifier) failed inside autograd."""
    torch.manual_seed(0)
    x = torch.rand(16, 1, 28, 28)
    y = torch.arange(16) % 10
    model = ClassifierA((1, 28, 28), 10).requires_grad_(False)
    before = [p.clone() for p in model.parameters()]
    with pytest.warns(UserWarning, match="did not require gradients"):
        trained = train_classifier(model, x, y, epochs=1, batch_size=8, device="cpu")
    assert any(not torch.equal(a, b) for a, b in zip(before, trained.parameters(), strict=True))


def test_a_classifier_no_more_accurate_than_a_constant_guess_is_flagged():
    from ganinverse.models.classifier import _training_verdict, constant_guess_accuracy

    assert constant_guess_accuracy(torch.tensor([0, 1, 0, 1])) == 0.5
    assert constant_guess_accuracy(torch.tensor([3, 3, 3, 1])) == 0.75
    # its loss fell, yet it is no more accurate than always answering the majority label
    assert "constant guess" in _training_verdict(2.5, 2.0, 0.1, 0.1, adversarial=False)
    assert _training_verdict(2.5, 2.2, 0.24, 0.19, adversarial=False) == ""  # learning
    assert "eps" in _training_verdict(0.7, 0.69, 0.5, 0.5, adversarial=True)


def test_the_training_status_travels_with_the_checkpoint(tmp_path):
    """training_status(model): train_classifier's verdict, else the checkpoint card's, else
    None; save_model records the verdict unless its config gives one."""
    from ganinverse.models import load_classifier, save_model
    from ganinverse.models.classifier import TRAINING_OK, training_status

    model = ClassifierA((1, 28, 28), 10)
    assert training_status(model) is None  # never trained here: unknown
    model.training_status = "the loss rose: training diverged; lower lr"
    save_model(model, tmp_path / "a" / "classifier")
    loaded = load_classifier(tmp_path / "a", device="cpu")
    assert training_status(loaded) == model.training_status
    save_model(model, tmp_path / "b" / "classifier", {"training_status": TRAINING_OK})
    assert training_status(load_classifier(tmp_path / "b", device="cpu")) == "ok"
    save_model(ClassifierA((1, 28, 28), 10), tmp_path / "c" / "classifier")
    assert training_status(load_classifier(tmp_path / "c", device="cpu")) is None
