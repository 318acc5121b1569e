"""Sweeps over every registered operator: its axis, its rows, its seeding, its plots."""

import csv
import json
import warnings

import pytest
import torch

from ganinverse.cli import main
from ganinverse.operators import REGISTRY, Inpainting
from ganinverse.sweep import LEGACY_FIELDS, Sweep, SweepSpec, read_rows, report, summarize
from ganinverse.sweep.rows import FIELDS, OPERATOR_FIELDS

from .conftest import spec

SWEEPABLE = {name: cls for name, cls in REGISTRY.items() if cls.axis is not None}
#: Two small axis values per operator, for the 28x28 digits.
VALUES = {
    "gaussian": (20, 60),
    "subsample": (50, 200),
    "superres": (2, 4),
    "inpainting": ("random:0.5", "center"),
}


def test_every_sweepable_operator_has_values_here():
    assert set(SWEEPABLE) == set(VALUES), "add the new operator's axis values to VALUES"


@pytest.mark.parametrize("operator", sorted(VALUES))
def test_every_method_sweeps_every_operator(operator, tiny_generator, tmp_path):
    methods = ("csgm", "csgm-sparse", "lasso-dct") + (("yeh",) if operator == "inpainting" else ())
    s = spec(
        tiny_generator,
        operator=operator,
        x_values=VALUES[operator],
        methods=methods,
        n_images=2,
        n_val=2,
        lasso_lambdas=(0.1,),
        options={"yeh": {"prior_weight": 0.0}} if operator == "inpainting" else {},
    )
    out = tmp_path / operator
    Sweep(s, out).run(progress=False)
    rows = read_rows([out / "rows.csv"])
    assert len(rows) == 2 * len(methods) * 2
    assert {r["operator"] for r in rows} == {operator}
    assert {r["setting"] for r in rows} == {str(v) for v in VALUES[operator]}
    for r in rows:
        assert 0 < int(r["m"]) <= 784 and float(r["mse"]) >= 0
    text = report(out, title=operator)
    axis = SWEEPABLE[operator].axis
    assert f"| method | {axis.name} |" in text
    assert (out / "error_vs_m.png").stat().st_size > 1000
    name = str(VALUES[operator][0]).replace(":", "-")
    assert (out / f"grid_{axis.name}{name}.png").is_file()
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["operator"] == operator and saved["x_values"] == list(VALUES[operator])


def test_superres_rows_count_the_low_resolution_pixels(tiny_generator, tmp_path):
    s = spec(
        tiny_generator, operator="superres", x_values=(2, 4), methods=("lasso-dct",), n_images=2
    )
    out = tmp_path / "sr"
    Sweep(s, out).run(progress=False)
    assert {(r["setting"], r["m"]) for r in read_rows([out / "rows.csv"])} == {
        ("2", "196"),
        ("4", "49"),
    }


def test_two_masks_with_the_same_m_do_not_collide(tiny_generator, tmp_path):
    # the left and the right half: two masks of the same m, two settings, two sets of rows
    s = spec(
        tiny_generator,
        operator="inpainting",
        x_values=("half:left", "half:right"),
        methods=("lasso-dct",),
        n_images=2,
    )
    out = tmp_path / "masks"
    Sweep(s, out).run(progress=False)
    rows = read_rows([out / "rows.csv"])
    assert len(rows) == 4 and len({r["m"] for r in rows}) == 1
    table = summarize(rows)
    assert sorted(r["mask"] for r in table) == ["half:left", "half:right"]
    assert all(r["n"] == 2 for r in table)


def test_masks_are_drawn_per_image_identity(tiny_generator, tmp_path):
    s = spec(
        tiny_generator, operator="inpainting", x_values=("random:0.5",), methods=("lasso-dct",)
    )
    sweep = Sweep(s, tmp_path / "m")
    batch = sweep.operator("random:0.5", [1, 2, 3]).mask
    alone = sweep.operator("random:0.5", [3]).mask
    assert torch.equal(batch[2], alone[0]) and not torch.equal(batch[0], batch[1])
    # validation images never share a test image's mask
    val = sweep.operator("random:0.5", sweep._operator_ids([3], "validation")).mask
    assert not torch.equal(val[0], alone[0])
    assert isinstance(sweep.operator("random:0.5", [0]), Inpainting)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"operator": "identity"}, "operator must be one of"),
        ({"operator": "warp"}, "operator must be one of"),
        ({"operator": "superres", "x_values": (2.5,)}, "factor values"),
        ({"operator": "inpainting", "x_values": (20,)}, "mask values"),
        ({"operator": "gaussian", "methods": ("yeh",)}, "applies to the inpainting operator only"),
    ],
)
def test_bad_operator_settings_raise(tiny_generator, kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        spec(tiny_generator, **kw)


@pytest.mark.parametrize(
    "operator, values, match",
    [("superres", (3,), "factor must divide"), ("inpainting", ("blob",), "not one of the allowed")],
)
def test_values_that_do_not_fit_the_images_are_refused_before_writing(
    operator, values, match, tiny_generator, tmp_path
):
    s = spec(tiny_generator, operator=operator, x_values=values, methods=("lasso-dct",))
    with pytest.raises(ValueError, match=match):
        Sweep(s, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_the_cli_takes_each_operators_axis_flag(tiny_generator, tmp_path, capsys):
    base = ["sweep", "--dataset", "digits", "--n-images", "2"]
    base += ["--methods", "lasso-dct", "--lasso-lambdas", "0.1", "--no-progress"]
    out = tmp_path / "sr"
    assert main([*base, "--operator", "superres", "--factor", "2,4", "--out", str(out)]) == 0
    assert "| method | factor |" in capsys.readouterr().out
    assert main([*base, "--operator", "superres", "--m", "20", "--out", str(tmp_path / "x")]) == 2
    assert "--m sets the m axis, but --operator superres varies factor" in capsys.readouterr().err
    assert main([*base, "--operator", "inpainting", "--out", str(tmp_path / "y")]) == 2
    assert "--operator inpainting needs --mask" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


@pytest.mark.parametrize("header", [LEGACY_FIELDS, OPERATOR_FIELDS])
def test_a_rows_file_of_older_columns_is_read_and_upgraded(tiny_generator, tmp_path, header):
    """Rows from before the operator axis (read as Gaussian, setting = m) and from before the
    status column (status "" = not recorded) are read, and the file is brought to today's
    columns before the resumed sweep appends to it."""
    s = spec(tiny_generator, methods=("lasso-dct",), x_values=(20,), n_images=4)
    out = tmp_path / "old"
    Sweep(s, out).run(progress=False)
    rows = read_rows([out / "rows.csv"])
    assert {r["status"] for r in rows} == {"ok"}
    with (out / "rows.csv").open("w", newline="") as f:  # as earlier code wrote it
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows[:2])
    old = read_rows([out / "rows.csv"])
    assert [(r["operator"], r["setting"], r["status"]) for r in old] == [("gaussian", "20", "")] * 2
    Sweep(s, out).run(progress=False)  # resumes: upgrades the file, appends the rest
    again = read_rows([out / "rows.csv"])
    assert len(again) == 4 and [r["image"] for r in again[:2]] == [r["image"] for r in rows[:2]]
    assert [r["status"] for r in again] == ["", "", "ok", "ok"]
    assert (out / "rows.csv").read_text().startswith(",".join(FIELDS) + "\n")


def test_rows_say_which_images_the_solver_does_not_stand_by(tiny_generator, tmp_path):
    """A unit whose solver stopped short (TV at one iteration: not converged) is a row with its
    status, and the report says so (a ConvergenceWarning and a "Flagged" line), not a silent
    number inside the means (user trial)."""
    from ganinverse.exceptions import ConvergenceWarning

    kw = dict(operator="inpainting", x_values=("center",), methods=("tv",), n_images=2)
    out = tmp_path / "tv"
    with pytest.warns(ConvergenceWarning, match="tv_inpaint"):
        Sweep(spec(tiny_generator, **kw, options={"tv": {"iters": 1}}), out).run(progress=False)
    assert {r["status"] for r in read_rows([out / "rows.csv"])} == {"not_converged"}
    with pytest.warns(ConvergenceWarning, match=r"2 of 2 rows .*2 tv at center \(not_converged\)"):
        text = report(out)
    assert text.startswith("**Flagged:**")
    good = tmp_path / "good"
    Sweep(spec(tiny_generator, **kw), good).run(progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert "Flagged" not in report(good)


def test_yeh_without_a_discriminator_is_refused_unless_its_prior_is_off(tiny_generator, tmp_path):
    kw = dict(operator="inpainting", x_values=("center",), methods=("yeh",), n_images=1)
    with pytest.raises(ValueError, match="yeh's prior term.*needs a discriminator"):
        Sweep(spec(tiny_generator, **kw), tmp_path / "no")
    assert not (tmp_path / "no").exists()
    Sweep(spec(tiny_generator, **kw, options={"yeh": {"prior_weight": 0.0}}), tmp_path / "ok")


def test_a_mask_file_without_a_missing_pixel_is_refused_before_writing(tiny_generator, tmp_path):
    from PIL import Image

    Image.new("L", (28, 28), 255).save(tmp_path / "white.png")
    s = spec(tiny_generator, operator="inpainting", x_values=(str(tmp_path / "white.png"),))
    with pytest.raises(ValueError, match="no missing pixel"):
        Sweep(s, tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_a_folder_with_other_files_is_not_a_sweep_folder(tiny_generator, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds other files and no sweep.json"):
        Sweep(spec(tiny_generator, methods=("lasso-dct",)), out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def _masks_spec(*masks: str) -> SweepSpec:
    """A tiny inpainting sweep of the digits over ``masks`` (tv: no generator)."""
    return SweepSpec(
        dataset="digits", operator="inpainting", x_values=masks, methods=("tv",), n_images=2
    )


def test_two_mask_specs_of_one_mask_are_refused_before_writing(tmp_path):
    """User trial: --mask center,center:0.5 ran the same mask twice and reported it twice;
    two spellings of one spec (random:0.5, random:0.50) are one spec, refused as a repeat."""
    spec = _masks_spec("center", "center:0.5")
    with pytest.raises(
        ValueError, match=r"x_values \(--mask\): 'center' and 'center:0.5' give the same"
    ):
        Sweep(spec, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    kw = dict(dataset="digits", operator="inpainting", methods=("tv",), n_images=2)
    with pytest.raises(ValueError, match="x_values .--mask. must not repeat a value"):
        SweepSpec(x_values=("random:0.5", "random:0.50"), **kw)
    assert SweepSpec(x_values=("random:.5",), **kw).x_values == ("random:0.5",)


def test_a_bad_blend_is_refused_before_any_file_and_spellings_are_one_setting(tmp_path):
    """helper-64: SweepSpec took options={"yeh": {"blend": "bilinear"}}, Sweep wrote its files,
    the run failed and the folder refused the corrected blend; "biharmonic" and
    "biharmonic:0.5" (the CLI's record of it) were two settings."""
    from ganinverse.sweep import Sweep, SweepSpec

    kw = dict(dataset="digits", operator="inpainting", x_values=("center",), n_images=1)
    with pytest.raises(ValueError, match=r"options\['yeh'\]: blend must be True, False"):
        SweepSpec(
            methods=("yeh",), generator="digits", options={"yeh": {"blend": "bilinear"}}, **kw
        )
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match=r"options\['iagan'\]: blend='poisson' applies to Inpai"):
        SweepSpec(
            dataset="digits", x_values=(20,), methods=("iagan",), generator="digits",
            options={"iagan": {"blend": "poisson"}},
        )  # fmt: skip
    for given, stored in [("biharmonic", "biharmonic:0.5"), ("biharmonic:.5", "biharmonic:0.5"),
                          ("poisson", True), (None, False), ("poisson:0.75", "poisson:0.75")]:  # fmt: skip
        spec = SweepSpec(
            methods=("iagan",), generator="digits", options={"iagan": {"blend": given}}, **kw
        )
        assert spec.options == ({"iagan": {"blend": stored}} if stored is not False else {})
    first = SweepSpec(
        methods=("tv", "yeh"),
        generator="digits",
        options={"yeh": {"blend": "biharmonic", "prior_weight": 0.0}},
        **kw,
    )
    Sweep(first, tmp_path / "o")  # (writes sweep.json)
    again = SweepSpec(
        methods=("tv", "yeh"),
        generator="digits",
        options={"yeh": {"blend": "biharmonic:0.5", "prior_weight": 0.0}},
        **kw,
    )
    Sweep(again, tmp_path / "o")  # the same setting: no DifferentSweepError


def test_an_option_at_its_default_is_no_setting_and_entries_must_be_dicts(tmp_path):
    """helper-65: --iagan-tv 0 and no flag (options {"iagan": {"tv_weight": 0.0}} and {}) were
    two sweeps, and options={"iagan": 0.1} raised "'float' object is not iterable"."""
    from ganinverse.sweep import Sweep, SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("iagan",), n_images=1)
    assert SweepSpec(**kw, options={"iagan": {"tv_weight": 0, "blend": None}}).options == {}
    assert SweepSpec(**kw, options={"iagan": {"tv_weight": 0.3}}).options == {
        "iagan": {"tv_weight": 0.3}
    }
    Sweep(SweepSpec(**kw, options={"iagan": {"tv_weight": 0.0}}), tmp_path / "o")
    Sweep(SweepSpec(**kw), tmp_path / "o")  # the same sweep: no DifferentSweepError
    with pytest.raises(TypeError, match=r"options\['iagan'\] must be a dict of iagan's options"):
        SweepSpec(**kw, options={"iagan": 0.1})


def test_an_option_idle_under_every_candidate_of_its_grid_warns_before_any_file(tmp_path):
    """helper-65: SweepSpec(grids={"iagan_steps": (0,)}, options={"iagan": {"tv_weight": 0.3}})
    said nothing until the unit ran (the solver's own warning, after the folder was written)."""
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("iagan",), n_images=1)
    with pytest.warns(IdleOptionWarning, match=r"tv_weight=0.3 changes nothing under any cand"):
        SweepSpec(**kw, grids={"iagan_steps": (0,)}, options={"iagan": {"tv_weight": 0.3}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a candidate > 0: it acts there
        SweepSpec(**kw, grids={"iagan_steps": (0, 30)}, options={"iagan": {"tv_weight": 0.3}})
        SweepSpec(**kw, options={"iagan": {"tv_weight": 0.3}})  # (iagan's own grid)


def test_a_bad_axis_value_is_named_by_its_place_and_its_flag(tmp_path):
    """helper-68: the API's Sweep said "--mask blob: ..." (a flag the API has not); both
    entry points now read "x_values[i] (--mask blob): ..."."""
    spec = _masks_spec("center", "blob")
    with pytest.raises(ValueError, match=r"^x_values\[1\] \(--mask blob\): mask spec 'blob'"):
        Sweep(spec, tmp_path / "new")
    assert not (tmp_path / "new").exists()
