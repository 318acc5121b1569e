"""The iagan record swept like any method: rows, its step search per m, its flags."""

import json

from ganinverse.cli import main
from ganinverse.sweep import Sweep, read_rows
from ganinverse.sweep.spec import make_spec

from .conftest import ENGINE


def test_iagan_is_swept_with_its_steps_searched(tiny_generator, tmp_path):
    out = tmp_path / "run"
    spec = make_spec(
        dataset="digits",
        generator=tiny_generator,
        x_values=(30,),
        methods=("iagan",),
        n_images=2,
        batch_size=2,
        n_val=2,
        engine=ENGINE,
        grids={"iagan_steps": (2, 5)},
        options={"iagan": {"lr_theta": 1e-3}},
    )
    Sweep(spec, out).run(progress=False)
    rows = read_rows([out / "rows.csv"])
    assert [(r["method"], r["setting"], r["image"]) for r in rows] == [
        ("iagan", "30", "0"),
        ("iagan", "30", "1"),
    ]
    assert all(float(r["mse"]) >= 0 and float(r["seconds"]) > 0 for r in rows)
    entry = json.loads((out / "weights.json").read_text())["iagan@30"]
    assert entry["weight"] == "iagan_steps" and [v for v, _ in entry["validation_mse"]] == [2, 5]
    resolved = json.loads((out / "sweep.json").read_text())["resolved"]["methods"]["iagan"]
    assert resolved["lr_theta"] == 1e-3 and resolved["back_projection"] is False


def test_iagan_flags_on_the_command_line(tiny_generator, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["sweep", "--dataset", "digits", "--generator", tiny_generator, "--m", "30"]
    args += ["--methods", "iagan", "--iagan-steps-grid", "3", "--iagan-back-projection", "true"]
    args += ["--iagan-discrepancy", "0", "--n-images", "1", "--steps", "5"]
    args += ["--restarts", "1", "--no-progress", "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    assert not (out / "weights.json").exists()  # a one-value grid: set, not searched
    assert json.loads((out / "sweep.json").read_text())["grids"]["iagan_steps"] == [3]
    resolved = json.loads((out / "sweep.json").read_text())["resolved"]["methods"]["iagan"]
    assert resolved["back_projection"] is True and resolved["discrepancy"] == 0
    (row,) = read_rows([out / "rows.csv"])
    assert float(row["meas_error"]) < 1e-3  # back-projected: A x̂ = y


def test_resolved_leaves_out_the_options_idle_in_the_sweep_and_a_folder_that_held_them_resumes():
    """User trial: sweep.json's resolved iagan options held blend (a Gaussian operator: no
    pixels to blend into) and discrepancy (noise_std 0: no noise level to stop at) as if they
    acted. They are left out; a folder that recorded them (written before) still resumes, and
    one of another noise is refused for the noise alone."""
    from ganinverse.sweep import SweepSpec

    base = dict(dataset="digits", generator="g", x_values=(20,), methods=("iagan",), n_images=1)
    spec = SweepSpec(**base, noise_std=0.0)
    resolved = spec.to_json()["resolved"]["methods"]["iagan"]
    assert "blend" not in resolved and "discrepancy" not in resolved
    assert "lr_theta" in resolved and "back_projection" in resolved
    noisy = SweepSpec(**base, noise_std=0.1).to_json()["resolved"]["methods"]["iagan"]
    assert noisy["discrepancy"] == 1.0 and "blend" not in noisy
    saved = json.loads(json.dumps(spec.to_json()))
    saved["resolved"]["methods"]["iagan"].update(blend=False, discrepancy=1.0)  # (as before)
    assert spec.differences(saved) == [] and spec.grows(saved)
    saved["noise_std"] = 0.1
    assert spec.differences(saved) == ["noise_std"]
    assert SweepSpec(**base, noise_std=0.1).differences(saved) == []
