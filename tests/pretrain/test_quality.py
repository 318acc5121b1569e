import math

import numpy as np
import pytest
import torch

from ganinverse.io import read_json
from ganinverse.models import ClassifierA, DCGANGenerator, save_model
from pretrain import quality
from pretrain.quality import (
    PixelPCA,
    feature_fd,
    frechet_distance,
    generate,
    sample_quality,
    score_generator,
    select_features,
)


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


# ----------------------------------------------------------------------------- pca features
def _low_rank_images(n: int, seed: int, shape=(3, 4, 4), rank: int = 6) -> torch.Tensor:
    """Images in [0, 1] near a fixed rank-``rank`` subspace (the basis does not depend on seed)."""
    basis = torch.randn(rank, int(np.prod(shape)), generator=torch.Generator().manual_seed(99))
    coef = torch.randn(n, rank, generator=torch.Generator().manual_seed(seed))
    noise = 0.01 * torch.randn(n, basis.shape[1], generator=torch.Generator().manual_seed(seed + 1))
    return (0.5 + 0.05 * (coef @ basis) + noise).clamp(0, 1).view(n, *shape)


@pytest.mark.parametrize("n", [30, 200])  # n < D (Gram route) and n >= D (scatter route), D = 48
def test_pixel_pca_matches_svd_and_is_deterministic(n):
    x = _low_rank_images(n, seed=0)
    pca = PixelPCA.fit(x, 5)
    proj = pca(x)
    assert proj.shape == (n, 5) and proj.dtype == torch.float64
    flat = x.flatten(1).double().numpy()
    u, s, _ = np.linalg.svd(flat - flat.mean(0), full_matrices=False)
    np.testing.assert_allclose(np.abs(proj.numpy()), np.abs(u[:, :5] * s[:5]), atol=1e-8)
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(5), atol=1e-10)
    again = PixelPCA.fit(x.clone(), 5)
    assert torch.equal(again.components, pca.components) and torch.equal(again(x), proj)
    with pytest.raises(ValueError, match="values per image"):
        pca(torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match="k"):
        PixelPCA.fit(x, n)


def test_pca_fd_is_zero_for_itself_and_grows_with_a_shift():
    ref, other = _low_rank_images(300, seed=0), _low_rank_images(300, seed=10)
    pca = PixelPCA.fit(ref, 8)
    assert feature_fd(pca(ref), pca(ref)) == pytest.approx(0, abs=1e-6)
    floor = feature_fd(pca(ref), pca(other))  # same distribution, disjoint draw
    noise = 0.02 * torch.randn(other.shape, generator=torch.Generator().manual_seed(3))
    changed = feature_fd(pca(ref), pca((0.5 * other + 0.3 + noise).clamp(0, 1)))
    assert 0 < floor and changed > 10 * floor


def test_select_features_auto_and_validation():
    assert select_features(None, "digits") == "classifier"  # bundled classifier
    assert select_features(None, "celeba64") == "pca"
    assert select_features(None, "celeba64", classifier="digits") == "classifier"
    assert select_features("pca", "digits") == "pca"
    with pytest.raises(ValueError, match="features"):
        select_features("inception", "digits")
    with pytest.raises(ValueError, match="classifier"):
        select_features("pca", "celeba64", classifier="digits")


@pytest.fixture
def toy_celeba(monkeypatch, tmp_path):
    """A saved tiny 3x32x32 generator and 100 fake 'celeba64' train images (no files read)."""
    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=4, image_shape=(3, 32, 32), ngf=4)
    save_model(G, tmp_path / "g" / "generator", {"dataset": "toy"})
    images = torch.rand(100, 3, 32, 32) * 2 - 1
    calls = []

    def fake_load_images(name, root=None, split=None, n=None, start=0, **kw):
        calls.append((name, split, n))
        if n is not None and start + n > len(images):
            raise ValueError("n out of range")
        return images[start : None if n is None else start + n], None

    monkeypatch.setattr(quality, "load_images", fake_load_images)
    return tmp_path / "g", calls


def test_score_generator_picks_pca_without_a_classifier(toy_celeba):
    path, calls = toy_celeba
    q = score_generator(str(path), "celeba64", n_samples=30, pca_components=8, device="cpu")
    assert q["features"] == "pca-8 of [0,1] pixels fitted on the reference set"
    assert (q["n_reference"], q["n_real_vs_real"], q["n_samples"]) == (30, 30, 30)
    assert q["reference_split"] == "train" and "training images" in q["note"]
    assert "label_entropy" not in q and q["dataset"] == "celeba64"
    assert q["fd"] > q["fd_real_vs_real"] > 0  # untrained G vs uniform noise
    assert calls == [("celeba64", None, 60)]
    q = score_generator(str(path), "celeba64", n_samples=80, pca_components=8, device="cpu")
    assert (q["n_reference"], q["n_real_vs_real"], q["n_samples"]) == (50, 50, 80)  # half/half
    with pytest.raises(ValueError, match="features"):
        score_generator(str(path), "celeba64", features="fid")


def test_cli_features_flag(toy_celeba, tmp_path, capsys):
    path, _ = toy_celeba
    out = tmp_path / "q.json"
    args = ["--generator", str(path), "--dataset", "celeba64", "--n-samples", "30"]
    assert (
        quality.main([*args, "--features", "pca", "--pca-components", "4", "--json", str(out)]) == 0
    )
    assert read_json(out)["features"].startswith("pca-4 ")
    with pytest.raises(SystemExit):
        quality.main([*args, "--features", "lpips"])
    assert "--features" in capsys.readouterr().err
