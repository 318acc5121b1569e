"""A sweep checks gaussian's memory (and iagan's averaged Gaussian's) with the measurements per
image of its largest x value before any file: it passed its checks, wrote sweep.json and rows,
then stopped on the solver's memory error (helper-80)."""

from __future__ import annotations

import pytest

from ganinverse.cli import main
from ganinverse.models import cost
from ganinverse.solvers.gaussian import memory_needed
from ganinverse.sweep import Sweep, SweepSpec

DIGITS = 28 * 28


@pytest.fixture
def memory(monkeypatch):
    """The memory free: G's 100 samples fit with 10 measurements, not with 200 (nor 784)."""
    have = memory_needed(100, DIGITS, 10)
    assert have < memory_needed(100, DIGITS, 200) < memory_needed(100, DIGITS, DIGITS)
    monkeypatch.setattr(cost, "available_memory", lambda device: have)


@pytest.mark.parametrize(
    "axis, largest",
    [
        (["--operator", "gaussian", "--m", "10,200"], "--m 200"),
        (["--operator", "superres", "--factor", "2,1"], "--factor 1"),
    ],
)
def test_the_cli_refuses_gaussians_memory_at_the_largest_x_before_any_file(
    tmp_path, memory, capsys, axis, largest
):
    out = tmp_path / "out"
    argv = ["sweep", "--dataset", "digits", "--generator", "digits", "--methods", "gaussian"]
    argv += [*axis, "--gaussian-n-samples", "100", "--n-images", "2", "--batch-size", "2"]
    assert main([*argv, "--no-progress", "--out", str(out)]) == 2
    assert not out.exists()  # (it wrote sweep.json and the rows of the x values that fit)
    err = capsys.readouterr().err
    assert "--gaussian-n-samples: the Gaussian's 100 samples of 784 values measured by" in err
    assert f"(at {largest}, the sweep's most measurements per image)" in err, err
    assert not out.exists()


def test_the_cli_refuses_iagans_averaged_gaussian_by_its_flag(tmp_path, memory, capsys):
    out = tmp_path / "out"
    argv = ["sweep", "--dataset", "digits", "--generator", "digits", "--methods", "iagan"]
    argv += ["--m", "10,200", "--iagan-gaussian-weight", "0.3"]
    argv += ["--iagan-gaussian-n-samples", "100", "--n-images", "2", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "--iagan-gaussian-n-samples: the Gaussian's 100 samples" in err
    assert "(at --m 200, the sweep's most measurements per image)" in err, err
    assert not out.exists()


def test_a_sweep_refuses_gaussians_memory_at_its_largest_x_before_any_file(tmp_path, memory):
    def spec(*x_values):
        return SweepSpec(
            dataset="digits",
            generator="digits",
            methods=("gaussian",),
            x_values=x_values,
            n_images=2,
            batch_size=2,
            options={"gaussian": {"n_samples": 100}},
        )

    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"method 'gaussian' at x_values\[1\] \(--m 200\): "):
        Sweep(spec(10, 200), out)
    assert not out.exists() or not any(out.iterdir())
    Sweep(spec(10), out)  # (10 measurements fit)
    assert (out / "sweep.json").is_file()
