"""A rerun of an evaluation folder (``cells.json``): it resumes only the same evaluation, the
same settings and the same models (their fingerprints), and a refusal names what differs."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from ganinverse.defense import ProjectionDefense
from ganinverse.defense import evaluate as ev
from ganinverse.defense.evaluate import (
    AttackSpec,
    EvalSettings,
    Row,
    evaluate_defense,
    meta_differences,
    module_fingerprint,
    parse_attacks,
)
from ganinverse.defense.registry import registered_attacks
from ganinverse.models import MLPGenerator

FGSM = parse_attacks("fgsm:0.1")
GROWN = parse_attacks("fgsm:0.1,fgsm:0.2")
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "defense"


def _no_work(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a cell was computed")

    monkeypatch.setattr(ev, "_make_attack", fail)
    monkeypatch.setattr(ev, "correct_predictions", fail)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _nudged(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with one weight changed (as a retrain at the same path)."""
    other = copy.deepcopy(module)
    with torch.no_grad():
        next(other.parameters()).view(-1)[0] += 0.01
    return other


def test_module_fingerprint_is_the_weights_identity(toy_classifier):
    fp = module_fingerprint(toy_classifier)
    assert len(fp) == 16 and fp == module_fingerprint(copy.deepcopy(toy_classifier))
    assert module_fingerprint(_nudged(toy_classifier)) != fp
    assert module_fingerprint(copy.deepcopy(toy_classifier).double()) != fp  # dtype counts
    with pytest.raises(TypeError, match="nn.Module"):
        module_fingerprint("model.pt")


@pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("changed", ["classifier", "generator"])
def test_a_model_retrained_in_place_is_refused_before_any_work(
    tmp_path, monkeypatch, toy_classifier, toy_generator, toy_test_set, changed
):
    x, y = toy_test_set[0][:6], toy_test_set[1][:6]

    def run(clf, G, attacks):
        defense = ProjectionDefense(G, steps=3, restarts=1)
        rows = [Row("p", clf, False), Row("d", clf, True)]
        return evaluate_defense(rows, x, y, attacks, defense=defense, out=tmp_path)

    table = run(toy_classifier, toy_generator, FGSM)
    saved = json.loads((tmp_path / "cells.json").read_text())["meta"]["fingerprints"]
    assert saved == {
        "the classifier of row 'p'": module_fingerprint(toy_classifier),
        "the classifier of row 'd'": module_fingerprint(toy_classifier),
        "the generator": module_fingerprint(toy_generator),
    }
    before = _files(tmp_path)
    _no_work(monkeypatch)
    clf = _nudged(toy_classifier) if changed == "classifier" else toy_classifier
    G = _nudged(toy_generator) if changed == "generator" else toy_generator
    name = "the classifier of row 'p'" if changed == "classifier" else "the generator"
    with pytest.raises(ValueError) as err:
        run(clf, G, GROWN)  # growing the table with the new model's column
    message = str(err.value)
    assert f"{name} was retrained or replaced since the cells were computed" in message
    assert "pass another out" in message and "restore the recorded one" in message
    assert _files(tmp_path) == before  # nothing written
    # the same weights in other module instances (as loaded again) resume without work
    assert run(copy.deepcopy(toy_classifier), copy.deepcopy(toy_generator), FGSM) == table


def test_a_cells_json_from_before_fingerprints_resumes(
    tmp_path, monkeypatch, toy_classifier, toy_test_set
):
    """An old record resumes; its cells' models are unknown, so when a cell is added the
    fingerprints are recorded from then on and the old cells are marked, never vouched for."""
    x, y = toy_test_set[0][:6], toy_test_set[1][:6]
    rows = [Row("p", toy_classifier, False)]
    table = evaluate_defense(rows, x, y, FGSM, out=tmp_path)
    path = tmp_path / "cells.json"
    record = json.loads(path.read_text())
    del record["meta"]["fingerprints"]  # as written before they were recorded
    path.write_text(json.dumps(record))
    before = _files(tmp_path)
    with monkeypatch.context() as m:
        _no_work(m)
        assert evaluate_defense(rows, x, y, FGSM, out=tmp_path) == table
    assert _files(tmp_path) == before  # no cell added: the old record is left as it was
    grown = evaluate_defense(rows, x, y, GROWN, out=tmp_path)  # adds a cell
    record = json.loads(path.read_text())
    assert record["meta"]["fingerprints"] == {
        "the classifier of row 'p'": module_fingerprint(toy_classifier)
    }
    assert record["cells"]["p|clean"]["models_unverified"] is True
    assert record["cells"]["p|FGSM ε=0.1"]["models_unverified"] is True
    assert "models_unverified" not in record["cells"]["p|FGSM ε=0.2"]
    note = (tmp_path / "results.md").read_text().splitlines()[-1]
    assert note.startswith("Computed before cells.json recorded the models' fingerprints")
    assert "p|clean" in note and "p|FGSM ε=0.1" in note and "0.2" not in note
    assert grown[0]["clean"] == table[0]["clean"]
    with pytest.raises(ValueError, match="retrained or replaced"):  # protected from now on
        evaluate_defense([Row("p", _nudged(toy_classifier), False)], x, y, GROWN, out=tmp_path)


def test_a_settings_mismatch_names_each_setting_and_both_values(
    tmp_path, toy_classifier, toy_generator, toy_test_set
):
    x, y = toy_test_set[0][:4], toy_test_set[1][:4]
    rows = [Row("p", toy_classifier, False)]
    pgd = parse_attacks("pgd:0.1")

    def run(steps, pgd_steps, tag, **kw):
        evaluate_defense(
            rows,
            x,
            y,
            pgd,
            defense=ProjectionDefense(toy_generator, steps=steps, restarts=1),
            settings=EvalSettings(pgd_steps=pgd_steps),
            out=tmp_path,
            tag=tag,
            **kw,
        )

    run(3, 2, {"data": ["toy", 0]})
    before = _files(tmp_path)
    with pytest.raises(ValueError) as err:
        run(4, 5, {"data": ["toy", 2]})
    message = str(err.value)
    assert "holds the cells.json of a different evaluation" in message
    assert "settings.pgd_steps: recorded 2, now 5" in message
    assert "defense.steps: recorded 3, now 4" in message
    assert (
        "tag.data: recorded [toy, 0]" not in message and 'tag.data: recorded ["toy", 0]' in message
    )
    assert "batch_size" not in message and "lr" not in message  # only what differs
    names = {"out": "--out", "settings.pgd_steps": "--pgd-steps", "tag.data[1]": "--start"}
    with pytest.raises(ValueError) as err:  # the caller's names: the CLI's flags
        run(3, 5, {"data": ["toy", 2]}, names=names)
    message = str(err.value)
    assert message.startswith(f"--out {str(tmp_path)!r} holds")
    assert "--pgd-steps: recorded 2, now 5; --start: recorded 0, now 2" in message
    assert _files(tmp_path) == before


def test_progress_and_settings_a_record_predates_do_not_count(
    tmp_path, monkeypatch, toy_classifier, toy_test_set
):
    x, y = toy_test_set[0][:4], toy_test_set[1][:4]
    rows = [Row("p", toy_classifier, False)]
    table = evaluate_defense(rows, x, y, FGSM, out=tmp_path, settings=EvalSettings(progress=True))
    _no_work(monkeypatch)
    # a progress bar changes no cell
    assert evaluate_defense(rows, x, y, FGSM, out=tmp_path) == table
    meta = json.loads((tmp_path / "cells.json").read_text())["meta"]
    old = copy.deepcopy(meta)
    del old["settings"]["unroll_steps"]  # a record from before the unrolled attack
    assert meta_differences(old, meta) == []  # (counts as its default)
    meta["settings"]["unroll_steps"] = 3
    assert meta_differences(old, meta) == ["settings.unroll_steps: recorded 10, now 3"]


def _spec_of(column: str) -> AttackSpec:
    """The AttackSpec whose column label is ``column`` (``PGD L2 ε=4``)."""
    label, eps = column.rsplit(" ε=", 1)
    norm = "2" if label.endswith(" L2") else "inf"
    name = next(r.name for r in registered_attacks() if r.label == label.removesuffix(" L2"))
    spec = AttackSpec(name, float(eps), norm)
    assert spec.column == column
    return spec


class _Flat(nn.Module):
    """A tiny classifier of 28x28 images (which classifier it is, the old record cannot tell)."""

    image_shape = (1, 28, 28)

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


@pytest.mark.parametrize(
    "folder",
    [
        "defensegan/cells/A",
        "defensegan/attacks/table/images-000-009",
        "defensegan/attacks/rm/images-000-009",
    ],
)
def test_the_benchmarks_recorded_folders_still_resume(tmp_path, monkeypatch, folder):
    """benchmarks/defensegan.py and defensegan_attacks.py resume their recorded folders (written
    before fingerprints): the meta the evaluation builds from their settings matches them."""
    source = BENCHMARKS / folder
    if not (source / "cells.json").is_file():
        pytest.skip(f"no recorded {folder}")
    out = tmp_path / "copy"
    shutil.copytree(source, out)
    record = json.loads((out / "cells.json").read_text())
    meta, cells = record["meta"], record["cells"]
    assert "fingerprints" not in meta  # (written before they were recorded)
    torch.manual_seed(0)
    G = MLPGenerator(latent_dim=4, image_shape=(1, 28, 28), hidden=(8,)).eval()
    d = ev._defense_entries(meta["defense"])
    defense = ProjectionDefense(
        G, steps=d["steps"], restarts=d["restarts"], lr=d["lr"], optimizer=d["optimizer"]
    )
    assert defense.extra_repr() == meta["defense"]
    s = dict(meta["settings"])
    s["bpda_projection"] = s["bpda_projection"] and tuple(s["bpda_projection"])
    clf = _Flat()
    rows = [Row(name, clf, defended) for name, defended in meta["rows"]]
    columns = {key.split("|", 1)[1] for key in cells} - {"clean"}
    specs = [_spec_of(c) for c in sorted(columns) if all(f"{r.name}|{c}" in cells for r in rows)]
    if not specs:
        pytest.skip(f"{folder} has no attack done on every row yet")
    n = meta["n"]
    images = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    before = (out / "cells.json").read_bytes()
    _no_work(monkeypatch)
    table = evaluate_defense(
        rows,
        images,
        torch.arange(n) % 10,
        specs,
        defense=defense,
        G=G,
        settings=EvalSettings(**s),
        out=out,
        tag=meta["tag"],
    )
    assert [r["clean"] for r in table] == [cells[f"{r.name}|clean"]["accuracy"] for r in rows]
    assert (out / "cells.json").read_bytes() == before  # left as it was
