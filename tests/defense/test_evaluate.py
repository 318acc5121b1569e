import csv

import pytest
import torch

from ganinverse.defense import ProjectionDefense
from ganinverse.defense import evaluate as ev
from ganinverse.defense.evaluate import (
    AttackSpec,
    EvalSettings,
    Row,
    evaluate_defense,
    format_markdown,
    parse_attacks,
)

FAST = EvalSettings(
    pgd_steps=5,
    bpda_steps=3,
    eot_samples=2,
    latent_steps=30,
    latent_restarts=1,
    bpda_projection=(20, 1),
)


def test_parse_attacks():
    specs = parse_attacks("fgsm:0.3, pgd:0.1,bpda2:4,latent:0.3")
    assert specs == [
        AttackSpec("fgsm", 0.3),
        AttackSpec("pgd", 0.1),
        AttackSpec("bpda", 4.0, "2"),
        AttackSpec("latent", 0.3),
    ]
    assert specs[2].column == "BPDA L2 ε=4"
    for bad, match in [
        ("pgd", "name:eps"),
        ("foo:0.1", "attack must be one of"),
        ("pgd:-1", "eps"),
        ("pgd:x", "number"),
        # helper-75: Python's "could not convert string to float" read as our words
        ("fgsm:abc", r"^attack 'fgsm:abc': eps must be a number, e.g. fgsm:0.3 \(got 'abc'\)$"),
        ("pgd2:x", r"e.g. pgd2:0.3 \(got 'x'\)$"),
        ("pgd:0_1", "digit separator"),
        ("pgd:0 .1", "space inside"),
        ("pgd:1e-400", "below the smallest (normal )?float"),
        ("", r"^attacks is empty \(''\): name at least one attack"),
        (" , ", r"^attacks is empty \(' , '\)"),  # (helper-75: "must name at least one")
        # helper-68: an empty ball repeated the clean column under an attack's name
        ("fgsm:0", r"eps of fgsm:0 must be > 0: a radius of 0 leaves every image as it is"),
        ("pgd2:0.0", r"eps of pgd2:0 must be > 0"),
        ("fgsm:", r"attack 'fgsm:' must be written name:eps"),  # (helper-69: Python's words)
        # a negative radius is told the rule that holds (> 0), not ">= 0"; so is the interval
        ("fgsm:-0.1", r"eps of fgsm:-0.1 must be > 0, got -0.1"),
        ("fgsm:2", r"must be in \(0, 1\).*did you mean 2/255"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_attacks(bad)


@pytest.mark.parametrize(
    ("eps", "error", "match"),
    [
        ("x", TypeError, "eps of fgsm must be a real number, got str"),  # (was float()'s words)
        (True, TypeError, "eps of fgsm must be a real number, got bool"),
        (0.0, ValueError, "eps of fgsm:0 must be > 0"),
        (-1, ValueError, "eps of fgsm:-1 must be > 0"),
    ],
)
def test_attack_spec_names_a_bad_eps(eps, error, match):
    with pytest.raises(error, match=match):
        AttackSpec("fgsm", eps)


def test_table_and_resume(tmp_path, monkeypatch, toy_generator, range_classifier, range_test_set):
    clf, _, _ = range_classifier
    x, y = range_test_set
    defense = ProjectionDefense(toy_generator, steps=30, restarts=2)
    rows = [Row("no defense", clf, False), Row("projection defense", clf, True)]
    attacks = parse_attacks("fgsm:0.15,pgd:0.15,bpda:0.15,eot:0.15,latent:0.15")
    table = evaluate_defense(rows, x, y, attacks, defense=defense, settings=FAST, out=tmp_path)
    assert [r["model"] for r in table] == ["no defense", "projection defense"]
    plain, defended = table
    assert plain["n"] == 40 and plain["clean"] >= 0.8
    assert plain["BPDA ε=0.15"] == plain["PGD ε=0.15"]  # without a defense BPDA is PGD
    assert plain["PGD ε=0.15"] < plain["clean"]
    assert defended["BPDA ε=0.15"] < defended["clean"]
    assert all(0 <= r[c] <= 1 for r in table for c in ["clean", *(a.column for a in attacks)])
    assert plain["s/image"] > 0
    with open(tmp_path / "results.csv") as f:
        assert len(list(csv.DictReader(f))) == 2
    assert "| projection defense |" in (tmp_path / "results.md").read_text()

    def no_attacks(*args, **kwargs):
        raise AssertionError("a finished cell was recomputed")

    monkeypatch.setattr(ev, "_make_attack", no_attacks)
    again = evaluate_defense(rows, x, y, attacks, defense=defense, settings=FAST, out=tmp_path)
    assert again == table


def test_defended_rows_need_a_defense(toy_classifier, toy_test_set):
    x, y = toy_test_set
    with pytest.raises(ValueError, match="defense"):
        evaluate_defense([Row("d", toy_classifier, True)], x, y, parse_attacks("fgsm:0.1"))


def test_markdown_marks_missing_cells():
    text = format_markdown(
        [{"model": "m", "n": 3, "clean": 1.0, "PGD ε=0.3": None, "s/image": 0.5}]
    )
    assert "| m | 3 | 1.000 | — | 0.50 |" in text


def test_a_users_results_csv_is_not_an_evaluations_folder(tmp_path, toy_classifier, toy_test_set):
    """Only a folder with the evaluation's cells.json is its own: a user's results.csv alone is
    refused before any attack, never overwritten."""
    x, y = toy_test_set
    (tmp_path / "results.csv").write_text("my numbers")
    rows = [Row("plain", toy_classifier, False)]
    with pytest.raises(ValueError, match=r"out '.*' holds files that are not an evaluation's"):
        evaluate_defense(rows, x[:4], y[:4], parse_attacks("fgsm:0.1"), out=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]
    assert (tmp_path / "results.csv").read_text() == "my numbers"


@pytest.mark.parametrize("spec", ["fgsm:0.1,,pgd:0.1", "fgsm:0.1,", ",fgsm:0.1"])
def test_an_attack_list_with_an_empty_entry_is_refused(spec):
    from ganinverse.defense.evaluate import parse_attacks

    with pytest.raises(ValueError, match="has an empty entry; remove the extra comma"):
        parse_attacks(spec)


def test_a_cell_whose_projections_no_step_improved_says_so(tmp_path, toy_generator, toy_classifier):
    """User trial: defend eval's cells carried no status of projections that no step improved
    (the classifier then saw G(z_start)): counted per defended cell, named below the table."""
    import json
    import warnings

    import torch

    from ganinverse.exceptions import ConvergenceWarning

    torch.manual_seed(0)
    x = torch.rand(4, *toy_generator.image_shape)
    y = torch.zeros(4, dtype=torch.long)
    defense = ProjectionDefense(toy_generator, steps=1, restarts=1, lr=1e5)  # every step overshoots
    rows = [Row("plain", toy_classifier, False), Row("defended", toy_classifier, True)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        evaluate_defense(
            rows, x, y, parse_attacks("fgsm:0.1"), defense=defense, settings=FAST, out=tmp_path
        )
    cells = json.loads((tmp_path / "cells.json").read_text())["cells"]
    assert cells["defended|clean"]["not_improved"] == 4
    assert 0 < cells["defended|FGSM ε=0.1"]["not_improved"] <= 4
    assert "not_improved" not in cells["plain|clean"]
    note = (tmp_path / "results.md").read_text()
    assert "Projections that no step improved" in note and "defended|clean (4)" in note
    # helper-54: results.csv alone (read without results.md's notes) names them too
    flags = {r["model"]: r["flags"] for r in _read_csv(tmp_path / "results.csv")}
    assert flags == {"plain": "", "defended": "not_improved: clean, FGSM ε=0.1"}


def _read_csv(path):
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_classifier_that_learned_nothing_is_flagged(tmp_path, toy_classifier, toy_test_set):
    """User trial: an evaluation of a classifier that never learned gave accuracy numbers and
    no word: its training status (train_classifier's, or its card's) or a clean accuracy no
    better than a constant guess of the most frequent label is warned and named below the
    table; a classifier that learned is not."""
    import json
    import warnings

    import torch

    from ganinverse.exceptions import ConvergenceWarning

    x, y = toy_test_set
    x, y = x[:8], y[:8]  # (both classes: a constant guess scores 0.5)
    blind = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    with torch.no_grad():  # always class 0
        blind[1].weight.zero_()
        blind[1].bias.copy_(torch.tensor([1.0, 0.0]))
    assert ev.untrained_classifiers([Row("ok", toy_classifier, False)], x, y) == {}
    rows = [Row("blind", blind, False), Row("ok", toy_classifier, False)]
    found = ev.untrained_classifiers(rows, x, y)
    assert list(found) == ["blind"] and "no better than 0.5 for a constant guess" in found["blind"]
    assert ev.untrained_classifiers(rows, x[:1], y[:1]) == {}  # one class: cannot tell
    status, toy_classifier.training_status = toy_classifier.training_status, "the loss rose"
    try:  # a recorded status is flagged whatever its accuracy on these images
        assert "training status 'the loss rose'" in ev.untrained_classifiers(rows, x, y)["ok"]
    finally:
        toy_classifier.training_status = status
    with pytest.warns(ConvergenceWarning, match="row 'blind' learned nothing") as record:
        warnings.filterwarnings("ignore", message="FGSM: the input gradient is exactly zero")
        evaluate_defense(rows, x, y, parse_attacks("fgsm:0.1"), settings=FAST, out=tmp_path)
    assert len([w for w in record if "learned nothing" in str(w.message)]) == 1
    cells = json.loads((tmp_path / "cells.json").read_text())["cells"]
    assert "constant guess" in cells["blind|clean"]["untrained_classifier"]
    assert not any("untrained_classifier" in cells[k] for k in cells if k != "blind|clean")
    notes = (tmp_path / "results.md").read_text().split("|\n\n")[-1].splitlines()
    assert notes[0].startswith("Classifiers that learned nothing") and "blind (clean" in notes[0]
    flags = {r["model"]: r["flags"] for r in _read_csv(tmp_path / "results.csv")}
    assert flags["ok"] == "" and flags["blind"].startswith("untrained_classifier: every column")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        evaluate_defense(rows[1:], x, y, parse_attacks("fgsm:0.1"), settings=FAST)


def test_worst_case_accuracy_is_the_per_image_and_of_its_cells():
    cells = [{"correct": "1101"}, {"correct": "1011"}, {"correct": "1111"}]
    assert ev.worst_case_accuracy(cells) == 0.5  # images 0 and 3
    assert ev.worst_case_accuracy([*cells, None]) is None  # a cell not run yet
    assert ev.worst_case_accuracy([*cells, {"accuracy": 1.0}]) is None  # recorded before
    assert ev.worst_case_accuracy([{"correct": "10"}, {"correct": "101"}]) is None
    specs = parse_attacks("fgsm:0.1,pgd:0.1,pgd:0.2,pgd2:1,bpda2:1")
    assert ev.worst_case_columns(specs) == {
        "worst case ε=0.1": ["clean", "FGSM ε=0.1", "PGD ε=0.1"],
        "worst case L2 ε=1": ["clean", "PGD L2 ε=1", "BPDA L2 ε=1"],
    }  # (one attack at ε=0.2: no worst case)


def test_cells_record_each_image_and_the_worst_case_column_combines_them(
    tmp_path, toy_classifier, toy_test_set
):
    import json

    x, y = toy_test_set
    rows = [Row("plain", toy_classifier, False)]
    (row,) = evaluate_defense(
        rows, x, y, parse_attacks("fgsm:0.2,pgd:0.2"), settings=FAST, out=tmp_path
    )
    cells = json.loads((tmp_path / "cells.json").read_text())["cells"]
    bits = {k.split("|")[1]: c["correct"] for k, c in cells.items()}
    for col, b in bits.items():
        assert len(b) == len(x) and set(b) <= {"0", "1"}
        assert b.count("1") / len(x) == row[col]  # the record is the cell's accuracy
    both = sum(all(b[i] == "1" for b in bits.values()) for i in range(len(x))) / len(x)
    assert row["worst case ε=0.2"] == both <= min(row[c] for c in bits)
    header = next(csv.reader(open(tmp_path / "results.csv", encoding="utf-8")))
    assert "worst case ε=0.2" in header
    # cells recorded before the per-image records: the worst case is not claimed ('—')
    for c in cells.values():
        del c["correct"]
    state = json.loads((tmp_path / "cells.json").read_text())
    (tmp_path / "cells.json").write_text(json.dumps({**state, "cells": cells}))
    (row,) = evaluate_defense(
        rows, x, y, parse_attacks("fgsm:0.2,pgd:0.2"), settings=FAST, out=tmp_path
    )
    assert row["worst case ε=0.2"] is None
    assert "| — |" in (tmp_path / "results.md").read_text()


def test_labels_show_the_budget_that_runs():
    """helper-55: ε labels kept 6 digits, so pgd:0.1 and pgd:0.1000001 were "listed twice" and
    fgsm:0.1 with pgd:0.1000001 shared a worst case."""
    specs = parse_attacks("fgsm:0.1,pgd:0.1000001,pgd:0.1")
    assert [s.column for s in specs] == ["FGSM ε=0.1", "PGD ε=0.1000001", "PGD ε=0.1"]
    assert ev.worst_case_columns(specs) == {
        "worst case ε=0.1": ["clean", "FGSM ε=0.1", "PGD ε=0.1"]
    }
    assert [s.token for s in parse_attacks("pgd2:4,pgd:0.0313725")] == ["pgd2:4", "pgd:0.0313725"]


def test_a_worst_case_carries_the_flags_of_its_parts():
    rows = [Row("r", torch.nn.Identity(), False)]  # (table_rows reads names only)
    specs = parse_attacks("fgsm:0.1,pgd:0.1")
    cells = {
        "r|clean": {"accuracy": 1.0, "seconds": 1.0, "correct": "11"},
        "r|FGSM ε=0.1": {"accuracy": 1.0, "seconds": 1.0, "correct": "11", "zero_gradient": True},
        "r|PGD ε=0.1": {"accuracy": 0.5, "seconds": 1.0, "correct": "10"},
    }
    columns = ["clean", "FGSM ε=0.1", "PGD ε=0.1", "worst case ε=0.1"]
    (row,) = ev.table_rows(rows, columns, cells, 2, specs)
    assert row["worst case ε=0.1"] == 0.5
    assert row["flags"] == "zero_gradient: FGSM ε=0.1, worst case ε=0.1"


def test_a_projection_that_leaves_nothing_to_classify_is_flagged(
    tmp_path, toy_classifier, toy_test_set
):
    """helper-58: `defend eval --steps 2` put the classifier behind a projection at a clean
    accuracy of 0.00 with no flag (only "no step improved" was flagged). A defended row no
    better than a constant guess on clean images, whose classifier alone is, is warned and
    flagged on every column; a working projection is not."""
    import json
    import warnings

    import torch

    from ganinverse.exceptions import ConvergenceWarning

    class Flat(torch.nn.Module):
        """Every latent maps to one grey image: the projection forgets the input."""

        latent_dim, image_shape = 2, (1, 8, 8)

        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, z):
            return (self.w * z.sum(1)).view(-1, 1, 1, 1).expand(-1, 1, 8, 8)

    x, y = toy_test_set
    x, y = x[:8], y[:8]  # (both classes: a constant guess scores 0.5)
    rows = [Row("plain", toy_classifier, False), Row("defended", toy_classifier, True)]
    defense = ProjectionDefense(Flat(), steps=2, restarts=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate_defense(
            rows, x, y, parse_attacks("fgsm:0.1"), defense=defense, settings=FAST, out=tmp_path
        )
    blind = [w for w in caught if "behind the projection the classifier" in str(w.message)]
    assert len(blind) == 1 and issubclass(blind[0].category, ConvergenceWarning)
    assert "row 'defended'" in str(blind[0].message)
    cells = json.loads((tmp_path / "cells.json").read_text())["cells"]
    assert "behind the projection" in cells["defended|clean"]["projection_blind"]
    assert "projection_blind" not in cells["plain|clean"]
    flags = {r["model"]: r["flags"] for r in _read_csv(tmp_path / "results.csv")}
    assert flags["defended"].startswith("projection_blind: every column")
    assert (
        "Projections that leave the classifier no better" in (tmp_path / "results.md").read_text()
    )
    ok = Row("defended", toy_classifier, True)
    assert ev.projection_blind(ok, x, y, torch.ones(8, dtype=torch.bool)) == ""
