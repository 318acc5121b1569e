import math

import numpy as np
import pytest
import torch

from ganinverse.models import ClassifierA, DCGANGenerator
from pretrain.quality import frechet_distance, generate, sample_quality


def test_frechet_distance_of_diagonal_gaussians_is_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = ((mu1 - mu2) ** 2).sum() + (v1 + v2 - 2 * np.sqrt(v1 * v2)).sum()
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-8)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    s = a @ a.T
    assert frechet_distance(mu1[:1].repeat(5), s, mu1[:1].repeat(5), s) == pytest.approx(
        0, abs=1e-6
    )


def test_sample_quality_fields_and_ranges():
    torch.manual_seed(0)
    G = DCGANGenerator(4, (1, 28, 28), 4).eval()
    clf = ClassifierA((1, 28, 28), 10).eval()
    real = torch.rand(300, 1, 28, 28)
    q = sample_quality(G, clf, real, real_train01=torch.rand(300, 1, 28, 28), n_samples=300)
    assert q["fd"] > q["fd_real_train_vs_test"] >= 0  # noise vs noise is closer than G vs noise
    assert 0 <= q["label_entropy"] <= q["max_label_entropy"] == round(math.log(10), 4)
    assert sum(q["label_histogram"]) == 300


def test_generate_is_seeded_and_in_unit_range():
    G = DCGANGenerator(4, (1, 28, 28), 4).eval()
    a, b = generate(G, 10, seed=1, batch=4), generate(G, 10, seed=1)
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
