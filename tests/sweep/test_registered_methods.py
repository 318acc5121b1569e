"""A method added by one record (here, in this test file) is swept, searched, reported and on
the command line without any other file edited."""

import json
from types import SimpleNamespace

import pytest
import torch

from ganinverse.cli import main
from ganinverse.methods import METHODS, Method, Tuned, reconstruct, register_method
from ganinverse.operators import GaussianCS
from ganinverse.sweep import Sweep, read_rows, report
from ganinverse.sweep.spec import make_spec

from .conftest import ENGINE


def scaled_backprojection(G, operator, y, *, scale=1.0):
    """x̂ = clamp(scale · Aᵀy): a toy method with one weight."""
    return SimpleNamespace(x_hat=(scale * operator.A_adjoint(y)).clamp(-1, 1))


@pytest.fixture
def toy_method():
    record = register_method(
        Method(
            "toy-backprojection",
            scaled_backprojection,
            "scaled back-projection (a test's method)",
            defaults={"scale": 1.0},
            tuned=Tuned(
                key="toy_scale",
                option="scale",
                flag="--toy-scale-grid",
                help="scale candidates",
                grid=(0.5, 1.0),
            ),
            needs_generator=False,
        )
    )
    yield record
    del METHODS[record.name]


def test_a_toy_method_is_one_record_and_reconstructs(toy_method):
    op = GaussianCS((1, 8, 8), 64, seed=0)
    x = torch.rand(2, 1, 8, 8) * 0.2
    x_hat = reconstruct("toy-backprojection", None, op, op.A(x), scale=2.0)
    assert torch.allclose(x_hat, (2.0 * op.A_adjoint(op.A(x))).clamp(-1, 1))
    with pytest.raises(ValueError, match="already registered"):
        register_method(toy_method)


def test_a_toy_method_is_swept_with_its_weight_searched(toy_method, tiny_generator, tmp_path):
    out = tmp_path / "run"
    spec = make_spec(
        dataset="digits",
        generator=tiny_generator,
        x_values=(20, 60),
        methods=("toy-backprojection", "csgm"),
        n_images=3,
        batch_size=3,
        n_val=2,
        engine=ENGINE,
        grids={"toy_scale": (0.25, 4.0)},
    )
    Sweep(spec, out).run(progress=False)
    rows = read_rows([out / "rows.csv"])
    assert {(r["method"], r["setting"]) for r in rows} == {
        (m, x) for m in ("toy-backprojection", "csgm") for x in ("20", "60")
    }
    # a plug-in whose result reports no status: "unreported" (flagged; not "" of old rows)
    assert {r["status"] for r in rows if r["method"] == "toy-backprojection"} == {"unreported"}
    table = json.loads((out / "weights.json").read_text())
    entry = table["toy-backprojection@20"]
    assert entry["weight"] == "toy_scale" and [v for v, _ in entry["validation_mse"]] == [0.25, 4.0]
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["grids"] == {"toy_scale": [0.25, 4.0]}
    assert saved["resolved"]["methods"] == {"toy-backprojection": {"scale": 1.0}}
    assert "| toy-backprojection | toy_scale |" in report(out)


def test_a_toy_method_is_on_the_command_line(toy_method, tiny_generator, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(
        [
            "sweep",
            "--dataset",
            "digits",
            "--m",
            "30",
            "--methods",
            "toy-backprojection",
            "--toy-scale-grid",
            "0.5,2",
            "--n-images",
            "2",
            "--n-val",
            "2",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = json.loads((out / "weights.json").read_text())
    assert [v for v, _ in table["toy-backprojection@30"]["validation_mse"]] == [0.5, 2.0]


def test_a_grid_for_a_weight_no_method_tunes_is_refused(toy_method, tiny_generator):
    with pytest.raises(ValueError, match="no method of this sweep tunes 'toy_scale'"):
        make_spec(
            dataset="digits",
            generator=tiny_generator,
            x_values=(20,),
            methods=("csgm",),
            grids={"toy_scale": (1.0,)},
        )
    with pytest.raises(TypeError, match="has no option"):
        make_spec(
            dataset="digits",
            x_values=(20,),
            methods=("toy-backprojection",),
            options={"toy-backprojection": {"sacle": 2.0}},
        )


def test_a_sweep_grows_by_a_registered_method_with_its_grid(toy_method, tiny_generator, tmp_path):
    out = tmp_path / "grow"
    base = dict(
        dataset="digits",
        generator=tiny_generator,
        x_values=(20,),
        n_images=2,
        batch_size=2,
        n_val=2,
        engine=ENGINE,
    )
    Sweep(make_spec(methods=("csgm",), **base), out).run(progress=False)
    before = read_rows([out / "rows.csv"])
    grown = make_spec(methods=("csgm", "toy-backprojection"), grids={"toy_scale": (2.0,)}, **base)
    Sweep(grown, out).run(progress=False)
    rows = read_rows([out / "rows.csv"])
    assert rows[: len(before)] == before and len(rows) == 4
    # changing the added method's grid afterwards is another sweep
    changed = make_spec(methods=("csgm", "toy-backprojection"), grids={"toy_scale": (3.0,)}, **base)
    with pytest.raises(ValueError, match="different sweep"):
        Sweep(changed, out)


def test_a_folder_predating_a_method_option_resumes_at_its_default(toy_method, tmp_path):
    out = tmp_path / "older"
    base = dict(dataset="digits", x_values=(20,), n_images=2, batch_size=2, n_val=2)
    spec = make_spec(methods=("toy-backprojection",), grids={"toy_scale": (2.0,)}, **base)
    Sweep(spec, out).run(progress=False)
    toy_method.defaults["offset"] = 0.0  # the method gains an option after the folder was made
    try:
        assert make_spec(methods=("toy-backprojection",), grids={"toy_scale": (2.0,)}, **base)
        assert spec.matches(json.loads((out / "sweep.json").read_text()))
        Sweep(spec, out)  # resumes: the folder was made with the new option's default
        moved = make_spec(
            methods=("toy-backprojection",),
            grids={"toy_scale": (2.0,)},
            options={"toy-backprojection": {"offset": 1.0}},
            **base,
        )
        with pytest.raises(ValueError, match=r'saved \{"toy-backprojection": \{"offset": 0\.0'):
            Sweep(moved, out)  # (the saved run's offset: the default it ran at)
    finally:
        del toy_method.defaults["offset"]
