"""benchmarks/defensegan_worst_case.py: the per-image worst case over attack runs."""

import csv
import json

import pytest


def _run(root, name, chunks):
    """A defensegan_steps-like run folder: chunk name -> (clean bits, attack bits)."""
    for chunk, (clean, attack) in chunks.items():
        folder = root / "attacks" / name / chunk
        folder.mkdir(parents=True)
        cells = {
            "defense|clean": {"accuracy": clean.count("1") / len(clean), "correct": clean},
            "defense|BPDA L2 ε=1.98": {"accuracy": 0.0, "correct": attack},
        }
        (folder / "cells.json").write_text(json.dumps({"meta": {}, "cells": cells}))


def test_an_image_resists_only_if_right_clean_and_under_every_run(tmp_path, load_script, capsys):
    wc = load_script("defensegan_worst_case")
    _run(tmp_path, "a", {"images-000-003": ("1110", "1100"), "images-004-007": ("1111", "1011")})
    _run(tmp_path, "b", {"images-000-003": ("1110", "1011"), "images-004-007": ("1111", "0111")})
    _run(tmp_path, "c", {"images-000-003": ("1110", "1111")})  # one chunk not finished
    assert wc.main(["a", "b", "--out", str(tmp_path)]) == 0
    # image 3 is fooled clean (attack "1" there does not count); chunk 2: images 5 and 4 fooled
    result = wc.worst_case([tmp_path / "attacks" / n for n in ("a", "b")])
    assert result["worst_bits"] == "1000" + "0011"
    assert result["worst_case"] == 3 / 8 and result["accuracies"] == [5 / 8, 6 / 8]
    assert "**0.38 ±" in capsys.readouterr().out
    wc.main(["a", "b", "c", "--out", str(tmp_path)])  # only the shared chunk counts
    rows = list(csv.DictReader(open(tmp_path / "attacks" / "worst_case.csv", encoding="utf-8")))
    assert [(r["runs"], r["n"], r["worst_case"]) for r in rows] == [
        ("a+b", "8", "0.3750"),
        ("a+b+c", "4", "0.2500"),
    ]


def test_runs_that_are_not_comparable_are_refused(tmp_path, load_script):
    wc = load_script("defensegan_worst_case")
    _run(tmp_path, "a", {"images-000-003": ("1110", "1100")})
    _run(tmp_path, "b", {"images-000-003": ("1111", "1011")})  # another model's clean record
    with pytest.raises(ValueError, match="clean records differ"):
        wc.main(["a", "b", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="no run folder"):
        wc.main(["a", "zzz", "--out", str(tmp_path)])
    _run(tmp_path, "d", {"images-004-007": ("1111", "1011")})
    with pytest.raises(ValueError, match="no finished chunk in common"):
        wc.main(["a", "d", "--out", str(tmp_path)])
    old = tmp_path / "attacks" / "e" / "images-000-003"
    old.mkdir(parents=True)
    cells = {"defense|clean": {"accuracy": 1.0}, "defense|PGD ε=0.3": {"accuracy": 0.5}}
    (old / "cells.json").write_text(json.dumps({"meta": {}, "cells": cells}))
    with pytest.raises(ValueError, match="no per-image records"):
        wc.main(["a", "e", "--out", str(tmp_path)])
