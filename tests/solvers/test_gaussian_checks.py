"""The Gaussian prior's checks (solvers/gaussian.py): the memory refusal's sizes and fixes, the
check with the measurement count d through ``Method.validate`` and ``reconstruct_result``
(iagan's averaged Gaussian before its search), and the warning for samples without spread."""

from __future__ import annotations

import dataclasses
import re
import warnings

import pytest
import torch

import ganinverse as gi
from ganinverse.exceptions import DegeneratePriorWarning
from ganinverse.methods import METHODS, Method
from ganinverse.models import cost
from ganinverse.operators import GaussianCS, SuperResolution
from ganinverse.solvers import gaussian as gaussian_module
from ganinverse.solvers.gaussian import check_memory, gaussian, memory_needed, save_samples


def _refusal(monkeypatch, have: int, *args, **kwargs) -> str:
    monkeypatch.setattr(cost, "available_memory", lambda device: have)
    with pytest.raises(ValueError) as caught:
        check_memory(*args, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize(
    "have, unit", [(30_000, "29.3 KiB"), (5 * 2**20, "5.0 MiB"), (3 * 2**30, "3.0 GiB")]
)
def test_the_memory_refusal_prints_sizes_in_a_unit_that_shows_them(monkeypatch, have, unit):
    """helper-80: sizes under 0.1 GiB printed as "0.0 GiB"."""
    text = _refusal(monkeypatch, have, 200_000, 12_288, 5_000, "cpu", "n_samples")
    assert f"but cpu has {unit} available" in text
    assert "0.0 GiB" not in text and " 0.0 " not in text


def test_the_memory_fix_names_the_largest_count_that_fits(monkeypatch):
    have = 300_000
    text = _refusal(monkeypatch, have, 500, 64, 50, "cpu", "n_samples")
    fits = int(re.search(r"pass n_samples=(\d+) or fewer", text).group(1))
    assert memory_needed(fits, 64, 50) <= have < memory_needed(fits + 1, 64, 50)
    assert "(the default 10,000 gives" in text
    flagged = _refusal(monkeypatch, have, 500, 64, 50, "cpu", "--gaussian-n-samples")
    assert f"pass --gaussian-n-samples {fits} or fewer" in flagged


def test_the_memory_fix_of_a_samples_file_is_a_file_of_fewer_images(monkeypatch):
    """helper-80: "pass fewer samples (the default ...)" where the samples were a file's."""
    text = _refusal(
        monkeypatch, 20_000, 50, 64, 0, "cpu", "--gaussian-images", path="s.safetensors"
    )
    assert text.startswith("--gaussian-images: the Gaussian's 50 samples of 64 values")
    assert "(the images of 's.safetensors')" in text
    assert re.search(r"pass a file of \d+ images or fewer", text)
    assert "the default" not in text and "pass fewer samples" not in text


def test_the_memory_fix_with_the_mirror_says_to_drop_it(monkeypatch):
    """helper-80: the mirror doubles the samples, and the fix did not say so."""
    args = (500, 64, 50, "cpu")
    alone = memory_needed(500, 64, 50)  # (fits without the mirror)
    cli = _refusal(
        monkeypatch, alone, *args, "--gaussian-n-samples", mirror=True,
        mirror_name="--gaussian-mirror",
    )  # fmt: skip
    assert "500 samples and their 500 mirror images" in cli
    assert "or drop --gaussian-mirror (the mirror doubles the samples: without it they fit)" in cli
    api = _refusal(monkeypatch, 1000, *args, "n_samples", mirror=True, mirror_name="mirror_samples")
    assert "or pass mirror_samples=False (the mirror doubles the samples)" in api
    assert "not even 2 samples fit with 50 measurements per image" in api


def test_validate_checks_the_memory_with_the_measurements_per_image(monkeypatch):
    """helper-80: the up-front check ran with d = 0 (the measurements unknown), so a solve
    whose d x N system did not fit passed it and was refused only by the solver."""
    record = gi.get_method("gaussian")
    options = {"n_samples": 100}
    have = memory_needed(100, 64, 10)
    monkeypatch.setattr(cost, "available_memory", lambda device: have)
    record.validate(options, shape=(1, 8, 8))  # (d unknown: the samples alone fit)
    record.validate(options, shape=(1, 8, 8), d=10)
    with pytest.raises(ValueError, match="measured by 40 measurements need") as caught:
        record.validate(options, shape=(1, 8, 8), d=40)
    assert "pass n_samples=" in str(caught.value)
    with pytest.raises(ValueError, match="measured by 40 measurements"):  # (d: the operator's)
        record.validate(options, shape=(1, 8, 8), operator=GaussianCS((1, 8, 8), 40, seed=0))
    with pytest.raises(ValueError, match=r"^--gaussian-n-samples: .* pass --gaussian-n-samples"):
        record.validate(options, shape=(1, 8, 8), d=40, flags=True)


def test_a_check_of_options_and_shape_alone_runs_as_before_and_one_that_takes_d_gets_it():
    seen = []
    plain = Method(
        "plug-in", lambda *a, **k: None, "a plug-in", defaults={"a": 1},
        check_options=lambda options, shape: seen.append(("plain", shape)),
    )  # fmt: skip

    def with_d(options, shape, *, d=0, names=None):
        seen.append(("with d", d, names))

    taking = dataclasses.replace(plain, check_options=with_d)
    plain.validate({}, shape=(1, 8, 8), d=40, device="cpu", flags=True)
    taking.validate({}, shape=(1, 8, 8), d=40, device="cpu")
    assert seen == [("plain", (1, 8, 8)), ("with d", 40, None)]


def test_iagan_refuses_its_averaged_gaussians_memory_before_its_search(toy_generator, monkeypatch):
    """helper-80: reconstruct_result checked iagan's options without d, so the search ran and
    only the Gaussian's solve, at the end, was refused."""
    op = SuperResolution((1, 8, 8), 1)  # (d = 64)
    y = op.measure(toy_generator(torch.randn(1, 4)).detach())

    def searched(*args, **kwargs):
        raise AssertionError("csgm's search ran before the memory check")

    monkeypatch.setitem(METHODS, "csgm", dataclasses.replace(METHODS["csgm"], solve=searched))
    monkeypatch.setattr(cost, "available_memory", lambda device: memory_needed(100, 64, 8))
    with pytest.raises(
        ValueError, match=r"gaussian_n_samples: the Gaussian's 100 samples .* by 64"
    ):
        gi.reconstruct_result(
            "iagan", toy_generator, op, y, gaussian_weight=0.3, gaussian_n_samples=100
        )


def _y(n=1, m=10):
    op = GaussianCS((1, 8, 8), m, seed=0, noise_std=0.1)
    return op, op.measure(torch.rand(n, 1, 8, 8) - 0.5, seed=1)


def test_samples_of_one_image_warn_that_y_changes_nothing(tmp_path):
    """helper-80: a file of identical images gave x̂ = μ, status ok and no word."""
    op, y = _y(n=2)
    path = save_samples(torch.full((6, 1, 8, 8), -0.25), tmp_path / "same.safetensors")
    with pytest.warns(DegeneratePriorWarning, match="covariance is zero, so x̂ is their mean"):
        res = gaussian(None, op, y, samples=path)
    torch.testing.assert_close(res.x_hat, torch.full((2, 1, 8, 8), -0.25))
    with pytest.warns(DegeneratePriorWarning, match=re.escape(str(path))):  # (names the file)
        gaussian(None, op, y, samples=path)


def test_samples_along_one_image_warn_that_their_covariance_has_rank_one(tmp_path):
    op, y = _y()
    v = torch.rand(1, 1, 8, 8) - 0.5
    path = save_samples(
        0.3 + v * torch.tensor([0.5, -0.3, 0.9, 1.0]).view(4, 1, 1, 1), tmp_path / "s"
    )
    with pytest.warns(DegeneratePriorWarning, match="rank 1.*pass a file of images that differ"):
        gaussian(None, op, y, samples=path)
    two = save_samples(torch.rand(2, 1, 8, 8) - 0.5, tmp_path / "two")
    with pytest.warns(DegeneratePriorWarning, match="two samples always do: pass more"):
        gaussian(None, op, y, samples=two)


def test_a_generator_of_one_image_warns_and_names_gs_samples(monkeypatch):
    op, y = _y()

    class Constant(torch.nn.Module):
        latent_dim, image_shape = 4, (1, 8, 8)

        def __init__(self):
            super().__init__()
            self.b = torch.nn.Parameter(torch.full((1, 1, 8, 8), 0.1))

        def forward(self, z):
            return self.b.expand(len(z), -1, -1, -1)

    with pytest.warns(DegeneratePriorWarning, match="G's 50 samples are all one image.*collapsed"):
        gaussian(Constant(), op, y, n_samples=50)


def test_samples_that_vary_do_not_warn(tmp_path, toy_generator):
    op, y = _y()
    path = save_samples(torch.rand(20, 1, 8, 8) - 0.5, tmp_path / "s")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegeneratePriorWarning)
        gaussian(None, op, y, samples=path)
        gaussian(None, op, y, samples=path, mirror=True)
        gaussian(toy_generator, op, y, n_samples=30)
    assert gaussian_module.spread_rank(torch.zeros(3, 1, 2, 2)) == 0
