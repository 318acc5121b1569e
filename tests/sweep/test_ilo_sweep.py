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
    assert saved["resolved"]["methods"]["ilo"]["steps"] == 5
