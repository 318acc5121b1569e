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


def test_the_one_off_draw_of_gs_samples_is_outside_every_units_seconds(
    tiny_generator, tmp_path, monkeypatch
):
    """User trial: gaussian's s/image depended on which x ran first (1.283 s at m = 20, 0.057
    at m = 100): the draw of G's samples, cached per G (one set), was charged to the first
    unit, with no bar moving. Here a draw (a key other than G's last) sleeps 0.3 s: none runs
    inside a unit's solve, for gaussian (G's samples) nor for iagan averaged with a Gaussian of
    G's samples, whose step search draws at the validation seed in between (the sweep draws
    the test seed's again before the solve); the sweep's draws show a bar, no row's seconds
    hold the sleep, and summary.md says s/image leaves the draw out."""
    import csv
    import time

    from ganinverse.solvers import gaussian as module
    from ganinverse.sweep import report

    from .conftest import spec

    real, last, draws, solving = module.generator_samples, {}, [], [False]

    def slow(G, n_samples, seed, device, *, progress=False):
        if last.get(id(G)) != (n_samples, seed):  # (a draw: the cache holds one set per G)
            last[id(G)] = (n_samples, seed)
            draws.append((solving[0], progress))
            time.sleep(0.3)
        return real(G, n_samples, seed, device, progress=progress)

    solve = Sweep._solve

    def timed(self, *args, **kwargs):  # (the region whose seconds the rows record)
        solving[0] = True
        try:
            return solve(self, *args, **kwargs)
        finally:
            solving[0] = False

    monkeypatch.setattr(module, "generator_samples", slow)
    monkeypatch.setattr(Sweep, "_solve", timed)
    options = {"gaussian": {"n_samples": 40}}
    options["iagan"] = {"gaussian_weight": 0.3, "gaussian_n_samples": 40}
    s = spec(
        tiny_generator,
        methods=("gaussian", "iagan"),
        options=options,
        n_images=2,
        grids={"iagan_steps": (1, 2)},
        grid_images=0,
    )
    out = tmp_path / "out"
    Sweep(s, out, device="cpu").run(progress=True)
    with (out / "rows.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {(r["method"], r["setting"]) for r in rows} == {
        (m, x) for m in ("gaussian", "iagan") for x in ("20", "60")
    }
    assert draws and not any(inside for inside, _ in draws), draws  # (none in a solve)
    assert any(bar for _, bar in draws)  # (the sweep's own draws: a bar)
    slowest = max(float(r["seconds"]) for r in rows if r["method"] == "gaussian")
    assert slowest < 0.15, rows  # (2 images a unit: a draw in it would be >= 0.15 s each)
    text = report(out)
    assert "without the one-off draw of G's samples" in text
    assert text in (out / "summary.md").read_text()


def test_the_sweeps_draw_shows_no_bar_without_progress(tiny_generator, tmp_path, monkeypatch):
    """--no-progress (progress=False): the sweep's draw of G's samples shows no bar."""
    from ganinverse.solvers import gaussian as module

    from .conftest import spec

    real, bars = module.generator_samples, []

    def watched(G, n_samples, seed, device, *, progress=False):
        bars.append(progress)
        return real(G, n_samples, seed, device, progress=progress)

    monkeypatch.setattr(module, "generator_samples", watched)
    options = {"gaussian": {"n_samples": 30}}
    s = spec(tiny_generator, methods=("gaussian",), options=options, n_images=1, x_values=(20,))
    Sweep(s, tmp_path / "out", device="cpu").run(progress=False)
    assert bars and not any(bars)
