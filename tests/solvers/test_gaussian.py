"""The Gaussian prior's posterior mean (solvers/gaussian.py): the closed form, a truth in the
samples' span recovered exactly, G's moments, every operator, the samples file and bad input."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

import ganinverse as gi
from ganinverse.operators import GaussianCS, MatrixOperator
from ganinverse.solvers import gaussian as gaussian_module
from ganinverse.solvers.gaussian import gaussian, generator_samples, save_samples


def _dense_lmmse(images, A, y, s2):
    """μ + ΣAᵀ(AΣAᵀ + σ²I)⁻¹(y − Aμ) with Σ formed (float64): the known answer."""
    P = images.reshape(len(images), -1).double()
    mu = P.mean(0)
    Sigma = (P - mu).T @ (P - mu) / len(P)
    A = A.double()
    K = A @ Sigma @ A.T + s2 * torch.eye(len(A), dtype=torch.double)
    return mu + (Sigma @ A.T @ torch.linalg.solve(K, (y.double() - A @ mu).T)).T


class Linear(nn.Module):
    """G(z) = W z + b: its images are exactly Gaussian, N(b, W Wᵀ)."""

    def __init__(self, latent_dim=3, shape=(1, 4, 4)):
        super().__init__()
        self.latent_dim, self.image_shape = latent_dim, shape
        g = torch.Generator().manual_seed(0)
        n = shape[0] * shape[1] * shape[2]
        self.W = nn.Parameter(0.2 * torch.randn(n, latent_dim, generator=g))
        self.b = nn.Parameter(0.1 * torch.randn(n, generator=g))

    def forward(self, z):
        return (z @ self.W.T + self.b).view(-1, *self.image_shape)


@pytest.mark.parametrize("m", [5, 40], ids=["solve of size m", "solve of size N (Woodbury)"])
def test_the_posterior_mean_matches_the_dense_formula(tmp_path, m):
    g = torch.Generator().manual_seed(1)
    images = (0.5 * torch.randn(20, 1, 8, 8, generator=g)).clamp(-1, 1)
    path = save_samples(images, tmp_path / "s.safetensors")
    op = GaussianCS((1, 8, 8), m, seed=2, noise_std=0.1)
    x = (images[:3] + 0.05 * torch.randn(3, 1, 8, 8, generator=g)).clamp(-1, 1)
    y = op.measure(x, seed=3)
    res = gaussian(None, op, y, samples=path)
    want = _dense_lmmse(images, op.matrix, y, 0.01).view_as(x).clamp(-1, 1).float()
    assert res.n_samples == 20 and res.status == ["ok"] * 3
    torch.testing.assert_close(res.x_hat, want, atol=1e-4, rtol=0)
    assert res.data_loss.shape == (3,) and res.seconds > 0


def test_a_truth_in_the_samples_span_is_recovered_without_noise(tmp_path):
    """Noiseless, m ≥ the samples' rank: the Gaussian's support is their affine span and A is
    one-to-one on it, so x̂ = x."""
    g = torch.Generator().manual_seed(4)
    images = 0.3 * torch.randn(6, 1, 5, 5, generator=g)
    x = images.mean(0, keepdim=True) + 0.4 * (images[1:2] - images[4:5])
    op = GaussianCS((1, 5, 5), 8, seed=5)
    res = gaussian(None, op, op.measure(x), samples=save_samples(images, tmp_path / "s"))
    assert float((res.x_hat - x).abs().max()) < 1e-3


def test_gs_moments_approach_the_exact_gaussian_of_a_linear_generator():
    """G(z) = Wz + b is N(b, WWᵀ): with many samples the estimate nears the exact posterior
    mean under those moments (closer with more samples)."""
    G = Linear()
    op = GaussianCS((1, 4, 4), 6, seed=0, noise_std=0.05)
    x = G(torch.randn(2, 3, generator=torch.Generator().manual_seed(9))).detach()
    y = op.measure(x, seed=1)
    W, b = G.W.detach().double(), G.b.detach().double()
    K = op.matrix.double() @ W @ W.T @ op.matrix.double().T + 0.0025 * torch.eye(6).double()
    r = (y.double() - (op.matrix.double() @ b)).T
    exact = (b[:, None] + W @ W.T @ op.matrix.double().T @ torch.linalg.solve(K, r)).T
    errors = [
        float((gaussian(G, op, y, n_samples=n).x_hat.reshape(2, -1) - exact).abs().max())
        for n in (200, 50_000)
    ]
    assert errors[1] < 0.01 and errors[1] < errors[0], errors


def test_gs_samples_are_drawn_once_and_again_when_its_weights_change():
    G = Linear()
    first = generator_samples(G, 50, 0, "cpu")
    assert generator_samples(G, 50, 0, "cpu") is first  # (a sweep's batches share them)
    assert not torch.equal(generator_samples(G, 50, 1, "cpu"), first)  # another seed
    with torch.no_grad():
        G.b.add_(1.0)
    again = generator_samples(G, 50, 0, "cpu")
    torch.testing.assert_close(again, first + 1.0)


def test_every_operator_gives_images_of_the_right_shape_and_range(
    toy_rgb_generator, operator_factory
):
    op = operator_factory(noise_std=0.05)
    x = toy_rgb_generator(torch.randn(2, 3, generator=torch.Generator().manual_seed(0))).detach()
    y = op.measure(x, seed=0)
    res = gi.reconstruct_result("gaussian", toy_rgb_generator, op, y, n_samples=300)
    assert res.x_hat.shape == (2, 3, 8, 8) and float(res.x_hat.abs().max()) <= 1
    assert bool(torch.isfinite(res.x_hat).all()) and len(res.status) == 2
    # G's own images: the prior fits them better than its mean does
    assert float(((res.x_hat - x) ** 2).mean()) < float(((x.mean(0) - x) ** 2).mean()) + 1e-6


def test_a_matrix_operator_without_noise_still_solves(tmp_path):
    """σ = 0 and more measurements than samples: the ridge (JITTER) keeps the solve defined."""
    images = torch.rand(4, 1, 4, 4, generator=torch.Generator().manual_seed(2)) * 2 - 1
    A = torch.randn(12, 16, generator=torch.Generator().manual_seed(3))
    op = MatrixOperator(A, (1, 4, 4))
    res = gaussian(None, op, op.measure(images[:1]), samples=save_samples(images, tmp_path / "s"))
    assert float((res.x_hat - images[:1]).abs().max()) < 1e-2


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"n_samples": 1}, ValueError, "n_samples must be >= 2"),
        ({"n_samples": 2.5}, TypeError, "n_samples"),
        ({"n_samples": 10**7}, ValueError, "n_samples must be <= 200,000"),
        ({"samples": 3}, TypeError, "samples must be None"),
        ({"samples": "nowhere.safetensors"}, ValueError, "samples: no file 'nowhere"),
    ],
)
def test_bad_options_are_refused_before_any_work(toy_generator, options, error, match):
    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(toy_generator(torch.randn(1, 4)).detach())
    with pytest.raises(error, match=match):
        gi.reconstruct("gaussian", toy_generator, op, y, **options)
    with pytest.raises(error, match=match):
        gi.get_method("gaussian").validate(options)


def test_a_bad_samples_file_is_refused_with_what_it_holds(tmp_path, toy_generator):
    from safetensors.torch import save_file

    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(toy_generator(torch.randn(1, 4)).detach())
    junk = tmp_path / "junk"
    junk.write_text("not a tensor file")
    other = tmp_path / "other.safetensors"
    save_file({"weights": torch.zeros(2)}, str(other))
    small = save_samples(torch.full((3, 1, 4, 4), -0.5), tmp_path / "small.safetensors")
    loud = tmp_path / "loud.safetensors"
    save_file({"images": torch.full((3, 1, 8, 8), 255.0)}, str(loud))
    one = tmp_path / "one.safetensors"
    save_file({"images": torch.zeros(1, 1, 8, 8)}, str(one))
    for path, match in [
        (junk, "is not a safetensors file"),
        (other, r"holds no 'images' tensor \(it holds weights\)"),
        (small, r"holds images of shape \(1, 4, 4\), but the images measured are \(1, 8, 8\)"),
        (loud, r"images on \[-1, 1\].*got values in \[255, 255\]"),
        (one, r"N >= 2"),
    ]:
        with pytest.raises(ValueError, match=match):
            gaussian(toy_generator, op, y, samples=path)
    with pytest.raises(ValueError, match="N >= 2"):
        save_samples(torch.zeros(1, 1, 8, 8), tmp_path / "x")
    with pytest.raises(TypeError, match="samples must be images"):
        save_samples([[0.0]], tmp_path / "x")


def test_the_samples_cache_holds_one_set_per_generator():
    G = Linear()
    generator_samples(G, 30, 0, "cpu")
    generator_samples(G, 40, 0, "cpu")
    assert len(gaussian_module._SAMPLES[G]) == 1


def test_identical_samples_without_noise_give_their_image(tmp_path):
    """Σ = 0 and σ = 0: the solve is all ridge, x̂ = μ (no failed factorisation)."""
    from ganinverse.exceptions import DegeneratePriorWarning

    images = torch.full((3, 1, 4, 4), -0.25)
    op = GaussianCS((1, 4, 4), 5, seed=0)
    with pytest.warns(DegeneratePriorWarning, match="covariance is zero"):  # (x̂ = μ, whatever y)
        res = gaussian(
            None,
            op,
            op.measure(torch.zeros(1, 1, 4, 4)),
            samples=save_samples(images, tmp_path / "s"),
        )
    torch.testing.assert_close(res.x_hat, images[:1])


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda y: torch.full_like(y, float("nan")), "y"),
        (lambda y: y[:, :5], "y"),
        (lambda y: y[0], "y"),
        (lambda y: y * 127.5, r"\[0, 255\]"),
    ],
)
def test_y_is_checked_as_every_solver_checks_it_before_any_sampling(toy_generator, bad, match):
    """helper-76: a NaN y gave an all-NaN x̂ with status ok, a y of another length a
    RuntimeError of cholesky_solve, a [0, 255]-scale y ran silently."""
    op = GaussianCS((1, 8, 8), 10, seed=0, noise_std=0.01)
    y = op.measure(toy_generator(torch.randn(2, 4)).detach())
    with pytest.raises(ValueError, match=match):
        gaussian(toy_generator, op, bad(y), n_samples=10**5)  # (refused before drawing them)
    with pytest.raises(TypeError):
        gaussian(toy_generator, op, y.long())


def test_a_generator_of_another_image_shape_is_refused_before_sampling(toy_generator):
    op = GaussianCS((1, 4, 4), 5, seed=0)
    with pytest.raises(ValueError, match=r"makes images of shape \(1, 8, 8\) but the operator"):
        gaussian(toy_generator, op, torch.zeros(1, 5), n_samples=10**5)


def test_a_samples_files_values_are_checked_before_any_work(tmp_path):
    """helper-76: a [0, 255] or NaN file was read only when the solve ran (a sweep had written
    its folder); each is refused by validate, the sweep's check before any file."""
    from safetensors.torch import save_file

    loud, nan = tmp_path / "loud.safetensors", tmp_path / "nan.safetensors"
    save_file({"images": torch.full((3, 1, 8, 8), 200.0)}, str(loud))
    images = torch.zeros(3, 1, 8, 8)
    images[0, 0, 0, 0] = float("nan")
    save_file({"images": images}, str(nan))
    record = gi.get_method("gaussian")
    with pytest.raises(ValueError, match=r"samples must be images on \[-1, 1\].*x / 127.5 - 1"):
        record.validate({"samples": str(loud)}, shape=(1, 8, 8), d=10)
    with pytest.raises(ValueError, match="samples holds 1 non-finite values"):
        record.validate({"samples": str(nan)}, shape=(1, 8, 8), d=10)
    iagan = gi.get_method("iagan")
    with pytest.raises(ValueError, match="gaussian_images must be images on"):
        iagan.validate(
            {"gaussian_weight": 0.5, "gaussian_images": str(loud)}, shape=(1, 8, 8), d=10
        )
    # (the measurements not known yet: the header alone, the file read once its memory is known)
    record.validate({"samples": str(loud)}, shape=(1, 8, 8))


def test_n_samples_with_a_samples_file_warns_that_it_changes_nothing(toy_generator, tmp_path):
    from ganinverse.exceptions import IdleOptionWarning

    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(toy_generator(torch.randn(1, 4)).detach())
    path = save_samples(torch.rand(5, 1, 8, 8) - 0.5, tmp_path / "s.safetensors")
    with pytest.warns(IdleOptionWarning, match="n_samples"):
        gi.reconstruct_result("gaussian", toy_generator, op, y, samples=str(path), n_samples=50)


def test_a_sweep_records_the_samples_file_and_refuses_it_rewritten(tmp_path, monkeypatch):
    """helper-76: a rewritten samples file resumed in silence (rows of two priors in one
    folder), and the same file named relative / absolute was 'a different sweep'."""
    from ganinverse.data import load_images
    from ganinverse.sweep import Sweep, SweepSpec

    monkeypatch.chdir(tmp_path)
    x, _ = load_images("digits", None, split="train", n=20)
    save_samples(x, "s.safetensors")
    kw = dict(dataset="digits", generator="digits", methods=("gaussian",), n_images=2)
    out = tmp_path / "out"
    Sweep(
        SweepSpec(**kw, x_values=(10,), options={"gaussian": {"samples": "s.safetensors"}}), out
    ).run()
    absolute = str(tmp_path / "s.safetensors")
    grown = SweepSpec(**kw, x_values=(10, 20), options={"gaussian": {"samples": absolute}})
    Sweep(grown, out)  # the same file by another name: the same sweep
    save_samples(x.flip(-1), "s.safetensors")
    with pytest.raises(ValueError, match="made with other contents of its --gaussian-images file"):
        Sweep(grown, out)


def test_a_samples_file_of_unit_scale_images_warns(tmp_path, toy_generator):
    """helper-77: a file of [0, 1] images (the library's scale is [-1, 1]) ran in silence at
    a third of the PSNR."""
    with pytest.warns(UserWarning, match="were these"):  # (saving them warns too)
        path = save_samples(torch.rand(4, 1, 8, 8), tmp_path / "unit.safetensors")
    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(toy_generator(torch.randn(1, 4)).detach())
    with pytest.warns(UserWarning, match=r"were these \[0, 1\] images\?.*2x - 1"):
        gaussian(toy_generator, op, y, samples=path)
    with pytest.raises(ValueError, match="samples is empty"):
        gaussian(toy_generator, op, y, samples=" ")


def test_iagan_refuses_a_gaussian_average_with_a_blend():
    """helper-77: the Gaussian's x̂ averaged in after the blend broke the known pixels."""
    with pytest.raises(ValueError, match="averaged in after the blend.*drop one of them"):
        gi.get_method("iagan").validate({"gaussian_weight": 0.5, "blend": True})


def test_a_sweep_resumes_with_its_samples_file_moved_or_renamed(tmp_path, monkeypatch):
    """helper-77: a byte-identical copy at another path (a project moved) was 'a different
    sweep': the recorded fingerprint decides; other bytes at the new path are refused."""
    import shutil

    from ganinverse.data import load_images
    from ganinverse.sweep import Sweep, SweepSpec

    x, _ = load_images("digits", None, split="train", n=20)
    first = save_samples(x, tmp_path / "a.safetensors")
    kw = dict(dataset="digits", generator="digits", methods=("gaussian",), n_images=2)

    def spec(path, xs=(10,)):
        return SweepSpec(**kw, x_values=xs, options={"gaussian": {"samples": str(path)}})

    out = tmp_path / "out"
    Sweep(spec(first), out).run()
    moved = tmp_path / "moved" / "b.safetensors"
    moved.parent.mkdir()
    shutil.copy(first, moved)
    first.unlink()
    Sweep(spec(moved, (10, 20)), out).run()  # resumed and grown from the moved file
    save_samples(x.flip(-1), moved)
    other = tmp_path / "c.safetensors"
    shutil.copy(moved, other)
    with pytest.raises(ValueError, match="--gaussian-images"):
        Sweep(spec(other, (10, 20)), out)


def test_the_samples_file_is_read_once_for_the_check_and_the_solves(tmp_path, monkeypatch):
    """The check before any work and each batch's solve share one read of the file (a sweep
    read 290 MB of faces once per batch)."""
    import safetensors.torch

    reads = []
    real = safetensors.torch.load_file
    monkeypatch.setattr(safetensors.torch, "load_file", lambda p: reads.append(p) or real(p))
    path = save_samples(torch.rand(6, 1, 8, 8) - 0.5, tmp_path / "s.safetensors")
    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(torch.zeros(2, 1, 8, 8))
    gi.get_method("gaussian").validate({"samples": str(path)}, shape=(1, 8, 8))
    for _ in range(3):
        gaussian(None, op, y, samples=path)
    assert len(reads) == 1


def test_a_seed_with_a_samples_file_is_called_idle_and_with_gs_samples_is_not(
    tmp_path, toy_generator
):
    """helper-77: with a samples file gaussian draws nothing, yet a seed passed in silence."""
    import warnings

    from ganinverse.exceptions import IdleOptionWarning

    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(toy_generator(torch.randn(1, 4)).detach())
    path = str(save_samples(torch.rand(5, 1, 8, 8) - 0.5, tmp_path / "s.safetensors"))
    with pytest.warns(IdleOptionWarning, match="draws nothing at random with these options"):
        gi.reconstruct("gaussian", toy_generator, op, y, samples=path, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdleOptionWarning)
        gi.reconstruct("gaussian", toy_generator, op, y, n_samples=20, seed=3)
    record = gi.get_method("gaussian")
    assert record.draws_at_random({}) and not record.draws_at_random({"samples": path})


@pytest.mark.parametrize("command", ["reconstruct", "inpaint"])
def test_the_cli_refuses_a_seed_that_a_samples_file_leaves_idle(command, tmp_path, capsys):
    from ganinverse.cli import main
    from ganinverse.data import load_images

    x, _ = load_images("digits", None, split="train", n=20)
    path = str(save_samples(x, tmp_path / "s.safetensors"))
    argv = [command, "--dataset", "digits", "--method", "gaussian", "--mask", "center"]
    argv += ["--operator", "inpainting"] if command == "reconstruct" else []
    out = tmp_path / "out"
    argv += ["--seed", "3", "--no-progress", "--out", str(out)]
    assert main([*argv, "--gaussian-images", path]) == 2
    err = capsys.readouterr().err
    assert re.search(
        r"(the options given to gaussian draw|method 'gaussian' draws) no random numbers"
        r"( with the options given)?, so --seed changes nothing; drop --seed",
        err,
    ), err
    assert not out.exists()
    assert main(argv) == 0  # (G's samples are drawn from the seed)


@pytest.mark.parametrize("command", ["reconstruct", "inpaint"])
def test_a_summary_records_the_samples_files_fingerprint_and_no_idle_n_samples(command, tmp_path):
    """helper-77: reconstruct / inpaint recorded n_samples = 10000 (idle with a file) and
    nothing of the file's contents (a rewritten file gave other numbers under one name)."""
    import json

    from ganinverse.cli import main
    from ganinverse.data import load_images
    from ganinverse.io import file_fingerprint

    x, _ = load_images("digits", None, split="train", n=20)
    path = save_samples(x, tmp_path / "s.safetensors")
    out = tmp_path / "out"
    argv = [command, "--dataset", "digits", "--method", "gaussian", "--no-progress"]
    argv += ["--gaussian-images", str(path), "--out", str(out)]
    argv += ["--m", "20"] if command == "reconstruct" else ["--mask", "center"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    options = summary["options"]  # (inpaint's nested as reconstruct's)
    assert "n_samples" not in options and options["samples"] == str(path.resolve())
    assert summary["input_fingerprints"] == {"samples": file_fingerprint(path)}


def test_an_idle_n_samples_flag_is_refused_with_the_fix_that_makes_it_act(tmp_path, capsys):
    """helper-77: the refusal read "...(no --gaussian-images) (gaussian): set that, or drop",
    'set that' of a condition that is an absence."""
    from ganinverse.cli import main
    from ganinverse.data import load_images

    x, _ = load_images("digits", None, split="train", n=20)
    path = str(save_samples(x, tmp_path / "s.safetensors"))
    out = tmp_path / "out"
    argv = ["reconstruct", "--dataset", "digits", "--method", "gaussian", "--m", "20"]
    argv += ["--gaussian-images", path, "--gaussian-n-samples", "50", "--out", str(out)]
    assert main(argv) == 2 and not out.exists()
    assert (
        "--gaussian-n-samples has no effect unless G's samples are drawn (no --gaussian-images) "
        "(gaussian): drop --gaussian-images, or drop --gaussian-n-samples"
    ) in capsys.readouterr().err


def test_samples_beyond_the_devices_memory_are_refused_before_any_is_drawn(
    toy_generator, tmp_path, monkeypatch
):
    """helper-77: n_samples up to 200,000 ran with no memory check (2.2 GB for 100,000 digit
    samples; 64x64 faces need ~10 GB): a solve beyond the device's memory is refused, naming
    the option, before G is sampled or the file read."""
    from ganinverse.models import cost

    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(toy_generator(torch.randn(1, 4)).detach())
    path = save_samples(torch.rand(50, 1, 8, 8) - 0.5, tmp_path / "s.safetensors")

    def never(*args, **kwargs):
        raise AssertionError("sampled or read before the memory check")

    monkeypatch.setattr(cost, "available_memory", lambda device: 30_000)  # bytes
    monkeypatch.setattr(gaussian_module, "generator_samples", never)
    monkeypatch.setattr("safetensors.torch.load_file", never)
    with pytest.raises(ValueError, match=r"n_samples: the Gaussian's 50 samples of 64 values"):
        gaussian(toy_generator, op, y, n_samples=50)
    monkeypatch.setattr(cost, "available_memory", lambda device: 20_000)  # (the file alone)
    with pytest.raises(ValueError, match=r"samples: the Gaussian's 50 samples .* pass a file of"):
        gaussian(toy_generator, op, y, samples=path)
    with pytest.raises(ValueError, match="n_samples: the Gaussian's 500 samples"):
        gi.get_method("gaussian").validate({"n_samples": 500}, shape=(1, 8, 8), d=10)
    with pytest.raises(ValueError, match="500 samples and their 500 mirror images .* available"):
        gi.get_method("gaussian").validate(
            {"n_samples": 500, "mirror_samples": True}, shape=(1, 8, 8), d=10
        )


def test_drawing_gs_samples_shows_a_progress_bar_when_asked(toy_generator, capsys):
    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(toy_generator(torch.randn(1, 4)).detach())
    gaussian(toy_generator, op, y, n_samples=30, progress=False)
    assert "samples of G" not in capsys.readouterr().err
    gaussian(toy_generator, op, y, n_samples=31, progress=True)
    assert "gaussian: samples of G" in capsys.readouterr().err


def test_mirror_takes_the_moments_of_the_samples_and_their_mirror_images(tmp_path):
    """mirror=True is the Gaussian of the samples and their left-right flips (2N samples):
    the same x̂ as a file holding both, for G's samples and a file's."""
    g = torch.Generator().manual_seed(7)
    images = (0.5 * torch.randn(12, 1, 8, 8, generator=g)).clamp(-1, 1)
    path = save_samples(images, tmp_path / "s.safetensors")
    both = save_samples(torch.cat([images, images.flip(-1)]), tmp_path / "both.safetensors")
    op = GaussianCS((1, 8, 8), 20, seed=2, noise_std=0.1)
    y = op.measure(images[:2].flip(-2), seed=3)
    res = gaussian(None, op, y, samples=path, mirror=True)
    torch.testing.assert_close(res.x_hat, gaussian(None, op, y, samples=both).x_hat)
    assert res.n_samples == 24
    assert not torch.allclose(res.x_hat, gaussian(None, op, y, samples=path).x_hat)


@pytest.mark.parametrize("value", ["true", 1, None])
def test_a_mirror_that_is_not_a_bool_is_refused_naming_it(toy_generator, value):
    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(toy_generator(torch.randn(1, 4)).detach())
    with pytest.raises(TypeError, match="mirror"):
        gaussian(toy_generator, op, y, n_samples=20, mirror=value)
    with pytest.raises(TypeError, match="mirror"):
        gi.get_method("gaussian").validate({"mirror_samples": value})


def test_the_cli_refuses_an_iagan_gaussian_mirror_without_a_gaussian_weight(tmp_path, capsys):
    from ganinverse.cli import main

    out = tmp_path / "out"
    argv = ["reconstruct", "--dataset", "digits", "--method", "iagan", "--m", "20"]
    argv += ["--iagan-gaussian-mirror", "true", "--out", str(out)]
    assert main(argv) == 2 and not out.exists()
    err = capsys.readouterr().err
    assert "--iagan-gaussian-mirror has no effect unless --iagan-gaussian-weight > 0" in err


def test_with_a_samples_file_no_generator_is_needed_and_one_given_is_called_idle(
    tmp_path, toy_generator
):
    """helper-79: gaussian with a samples file still needed, loaded, checked and recorded a G
    it never used (``Method.generator_acts_when``)."""
    from ganinverse.exceptions import IdleOptionWarning

    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(torch.rand(2, 1, 8, 8) - 0.5, seed=1)
    path = str(save_samples(torch.rand(5, 1, 8, 8) - 0.5, tmp_path / "s.safetensors"))
    alone = gi.reconstruct_result("gaussian", None, op, y, samples=path)
    with pytest.warns(IdleOptionWarning, match="uses no generator with these options"):
        with_G = gi.reconstruct_result("gaussian", toy_generator, op, y, samples=path)
    torch.testing.assert_close(alone.x_hat, with_G.x_hat)
    with pytest.raises(ValueError, match=r"needs a generator \(G\) when G's samples are drawn"):
        gi.reconstruct_result("gaussian", None, op, y)
    assert gi.get_method("gaussian").uses_generator({"samples": path}) is False
    assert gi.get_method("gaussian").uses_generator() is True


def test_the_cli_runs_a_samples_file_without_a_generator_and_refuses_one(tmp_path, capsys):
    """A 32x32 grey image (no bundled G makes that size) is solved with a file of its size;
    --generator beside the file is refused before any file is written."""
    import json

    import numpy as np
    from PIL import Image

    from ganinverse.cli import main

    path = str(save_samples(torch.rand(40, 1, 32, 32) * 2 - 1, tmp_path / "s.safetensors"))
    image = tmp_path / "img.png"
    Image.fromarray((np.random.default_rng(0).random((32, 32)) * 255).astype("uint8")).save(image)
    argv = ["reconstruct", "--method", "gaussian", "--gaussian-images", path, "--image"]
    argv += [str(image), "--m", "50", "--no-progress"]
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["generator"] is None and summary["options"]["samples"] == path
    refused = tmp_path / "refused"
    assert main([*argv, "--out", str(refused), "--generator", "digits"]) == 2
    err = capsys.readouterr().err
    assert (
        "--generator is used by gaussian only when G's samples are drawn (no --gaussian-images)"
        in err
    ), err
    assert "drop --generator" in err and not refused.exists()


def test_a_sweep_of_a_samples_file_runs_without_a_generator_and_grows_by_csgm(
    tmp_path, monkeypatch, capsys
):
    from ganinverse import models
    from ganinverse.cli import main
    from ganinverse.data import load_images

    x, _ = load_images("digits", None, split="train", n=20)
    path = str(save_samples(x, tmp_path / "s.safetensors"))
    out = tmp_path / "out"
    argv = ["sweep", "--dataset", "digits", "--operator", "gaussian", "--n-images", "2"]
    argv += ["--no-progress", "--gaussian-images", path, "--out", str(out)]
    with monkeypatch.context() as patch:  # G is not loaded
        patch.setattr(models, "load_generator", lambda *a, **k: pytest.fail("G loaded"))
        assert main([*argv, "--methods", "gaussian", "--m", "10"]) == 0
    spec = __import__("json").loads((out / "sweep.json").read_text())
    assert spec["generator"] is None
    assert main([*argv, "--methods", "gaussian", "--m", "10", "--generator", "digits"]) == 2
    assert "--generator is used by gaussian only when" in capsys.readouterr().err
    grown = [*argv, "--methods", "gaussian,csgm", "--m", "10", "--generator", "digits"]
    assert main([*grown, "--steps", "5", "--restarts", "1"]) == 0  # (the folder grows by csgm)
    with pytest.raises(ValueError, match="method 'gaussian' needs a generator"):
        from ganinverse.sweep import SweepSpec

        SweepSpec(dataset="digits", methods=("gaussian",), x_values=(10,))


@pytest.mark.parametrize("progress", [False, True])
def test_iagans_averaged_gaussian_draws_with_the_engines_progress_bar(
    toy_generator, capsys, progress
):
    """helper-78: iagan's averaged Gaussian drew G's samples with no bar, even with the
    engine's bars on."""
    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(toy_generator(torch.randn(1, 4)).detach())
    config = gi.get_method("iagan").defaults["config"].updated(steps=3, restarts=1)
    gi.reconstruct_result(
        "iagan", toy_generator, op, y, config=config.updated(progress=progress),
        adapt_steps=2, gaussian_weight=0.3, gaussian_n_samples=37,
    )  # fmt: skip
    assert ("gaussian: samples of G" in capsys.readouterr().err) is progress


def test_a_degenerate_prior_is_flagged_in_each_images_status(tmp_path, toy_generator):
    """helper-82: samples of zero spread gave rows marked ok (the warning on stderr only)."""
    from ganinverse.exceptions import DegeneratePriorWarning
    from ganinverse.status import is_status

    op = GaussianCS((1, 8, 8), 10, seed=0)
    y = op.measure(torch.rand(3, 1, 8, 8) - 0.5, seed=1)
    same = str(save_samples(torch.full((6, 1, 8, 8), 0.25), tmp_path / "same.safetensors"))
    varied = str(save_samples(torch.rand(6, 1, 8, 8) - 0.5, tmp_path / "varied.safetensors"))
    with pytest.warns(DegeneratePriorWarning):
        flagged = gaussian(None, op, y, samples=same)
    assert flagged.status == ["degenerate_prior"] * 3 and is_status(flagged.status[0])
    assert gaussian(None, op, y, samples=varied).status == ["ok"] * 3
    config = gi.get_method("iagan").defaults["config"].updated(steps=3, restarts=1)
    with pytest.warns(DegeneratePriorWarning):
        hybrid = gi.reconstruct_result(
            "iagan", toy_generator, op, y, config=config, adapt_steps=2,
            gaussian_weight=0.3, gaussian_images=same,
        )  # fmt: skip
    assert all("degenerate_prior" in s.split("+") for s in hybrid.status)
