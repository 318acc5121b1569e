"""ilo in a sweep: its layer is searched per m on validation images (``--ilo-layer-grid``)."""

import json

from ganinverse.cli import main
from ganinverse.sweep import read_rows


def test_a_sweep_searches_ilos_layer(tiny_generator, tmp_path, capsys):
    out = tmp_path / "ilo"
    code = main(
        [
            "sweep",
            "--dataset",
            "digits",
            "--generator",
            tiny_generator,
            "--m",
            "40",
            "--methods",
            "ilo",
            "--ilo-layer-grid",
            "1,2",
            "--ilo-steps",
            "5",
            "--steps",
            "5",
            "--restarts",
            "2",
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
    entry = json.loads((out / "weights.json").read_text())["ilo@40"]
    assert entry["weight"] == "ilo_layer" and [v for v, _ in entry["validation_mse"]] == [1, 2]
    assert entry["value"] in (1, 2)
    rows = read_rows([out / "rows.csv"])
    assert sorted(int(r["image"]) for r in rows if r["method"] == "ilo") == [0, 1]
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["grids"] == {"ilo_layer": [1.0, 2.0]}
    assert saved["resolved"]["methods"]["ilo"]["ilo_steps"] == 5
    assert saved["resolved"]["methods"]["ilo"]["config"]["steps"] == 5  # (--steps: the start's)


def test_a_folder_from_before_ilo_steps_took_its_name_resumes():
    """ilo's own steps / lr were named steps / lr until they shadowed the engine's keywords;
    a sweep.json written then (resolved {"ilo": {"steps": ..., "lr": ...}}) reads as today's
    ilo_steps / ilo_lr, so a recorded folder resumes, and a changed value is still refused."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("ilo",))
    spec = SweepSpec(**kw, options={"ilo": {"ilo_steps": 7}})
    saved = json.loads(json.dumps(spec.to_json()))
    old = saved["resolved"]["methods"]["ilo"]
    old["steps"], old["lr"] = old.pop("ilo_steps"), old.pop("ilo_lr")
    saved["options"] = {"ilo": {"steps": 7}}
    assert spec.matches(saved), spec.differences(saved, explain=True)
    assert not SweepSpec(**kw, options={"ilo": {"ilo_steps": 8}}).matches(saved)
    # today's folder: an engine keyword among ilo's options is the engine's, never renamed
    engine = SweepSpec(**kw, options={"ilo": {"steps": 4}})
    assert engine.matches(json.loads(json.dumps(engine.to_json())))
