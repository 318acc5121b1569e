"""``defend eval`` reruns: a model retrained or replaced at its path since the cells were computed
is refused (cells.json records every checkpoint's fingerprint), a settings mismatch names each
flag with both values, and a cells.json from before fingerprints still resumes."""

from __future__ import annotations

import json

import pytest
import torch

from ganinverse.cli import main
from ganinverse.models import ClassifierA, MLPGenerator, model_fingerprint, save_model


def _generator(seed: int) -> MLPGenerator:
    torch.manual_seed(seed)
    return MLPGenerator(latent_dim=4, image_shape=(1, 28, 28), hidden=(16,)).eval()


def _classifier(seed: int) -> ClassifierA:
    torch.manual_seed(seed)
    return ClassifierA((1, 28, 28), 10).eval()


@pytest.fixture
def ckpts(tmp_path):
    return {
        "--generator": str(save_model(_generator(0), tmp_path / "gen" / "generator")),
        "--classifier": str(save_model(_classifier(0), tmp_path / "clf" / "classifier")),
        "--classifier-adv": str(save_model(_classifier(1), tmp_path / "adv" / "classifier")),
    }


def defend(c, out, attacks="fgsm:0.1", *extra, progress=False, n="4"):
    argv = ["defend", "eval", "--classifier", c["--classifier"], "--generator", c["--generator"]]
    argv += ["--classifier-adv", c["--classifier-adv"], "--dataset", "digits", "--n", n]
    argv += ["--attacks", attacks, "--steps", "2", "--restarts", "1", "--batch-size", "4"]
    argv += ["--device", "cpu", "--out", str(out), *extra]
    return main(argv + ([] if progress else ["--no-progress"]))


def _no_work(monkeypatch):
    import ganinverse.defense.evaluate as ev

    def fail(*args, **kwargs):
        raise AssertionError("work started before the rerun was refused")

    monkeypatch.setattr(ev, "_make_attack", fail)
    monkeypatch.setattr(ev, "correct_predictions", fail)


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# a 2-step projection at lr 10 may not improve every start: expected at this tiny size
pytestmark = pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ConvergenceWarning")


@pytest.mark.parametrize("flag", ["--classifier", "--classifier-adv", "--generator"])
def test_a_model_retrained_at_its_path_is_refused(tmp_path, capsys, monkeypatch, ckpts, flag):
    out = tmp_path / "eval"
    assert defend(ckpts, out) == 0
    meta = json.loads((out / "cells.json").read_text())["meta"]
    kinds = {"--generator": "generator"}
    assert meta["fingerprints"] == {
        f"{f} {path}": model_fingerprint(path, kinds.get(f, "classifier"))
        for f, path in ckpts.items()
    }
    before = _files(out)
    make = _generator if flag == "--generator" else _classifier
    original, retrained = make(1 if flag == "--classifier-adv" else 0), make(7)
    save_model(retrained, ckpts[flag])  # retrained at the same path
    capsys.readouterr()
    with monkeypatch.context() as m:
        _no_work(m)
        assert defend(ckpts, out, "fgsm:0.1,fgsm:0.2") == 2  # growing the table
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"{flag} {ckpts[flag]} was retrained or replaced since the cells were computed" in err
    assert "pass another --out for the new model, or restore the recorded one" in err
    assert _files(out) == before  # nothing written
    save_model(original, ckpts[flag])  # the same weights saved again: restored
    assert defend(ckpts, out, "fgsm:0.1,fgsm:0.2") == 0
    assert "FGSM ε=0.2" in (out / "results.md").read_text()


def test_a_classifier_retrained_by_train_classifier_is_refused(tmp_path, capsys, ckpts):
    """The user's trial: train-classifier again at the same --out, then grow the table."""
    clf = tmp_path / "trained"
    train = ["train-classifier", "--dataset", "digits", "--epochs", "1", "--n-test", "16"]
    train += ["--batch-size", "32", "--device", "cpu", "--no-progress", "--out", str(clf)]
    assert main([*train, "--n", "64"]) == 0
    c = {**ckpts, "--classifier": str(clf)}
    out = tmp_path / "eval"
    assert defend(c, out) == 0
    assert main([*train, "--n", "48"]) == 0
    capsys.readouterr()
    assert defend(c, out, "fgsm:0.1,fgsm:0.2") == 2
    err = capsys.readouterr().err
    assert f"--classifier {clf} was retrained or replaced" in err


def test_a_settings_mismatch_names_each_flag_and_both_values(tmp_path, capsys, monkeypatch, ckpts):
    out = tmp_path / "eval"
    assert defend(ckpts, out, "pgd:0.1", "--pgd-steps", "2") == 0
    before = _files(out)
    capsys.readouterr()
    _no_work(monkeypatch)
    assert defend(ckpts, out, "pgd:0.1", "--pgd-steps", "3", "--start", "1", "--lr", "5") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"--out {str(out)!r} holds the cells.json of a different evaluation" in err
    assert "--pgd-steps: recorded 2, now 3" in err
    assert "--start: recorded 0, now 1" in err
    assert "--lr: recorded 10, now 5" in err
    assert "--steps" not in err and "--n:" not in err  # only what differs
    assert _files(out) == before
    # a progress bar changes no cell: a rerun with it resumes (no work)
    assert defend(ckpts, out, "pgd:0.1", "--pgd-steps", "2", progress=True) == 0


def test_a_cells_json_from_before_fingerprints_resumes(tmp_path, monkeypatch, ckpts):
    out = tmp_path / "eval"
    assert defend(ckpts, out) == 0
    path = out / "cells.json"
    record = json.loads(path.read_text())
    del record["meta"]["fingerprints"]  # as the previous version wrote it
    path.write_text(json.dumps(record))
    with monkeypatch.context() as m:
        _no_work(m)
        assert defend(ckpts, out) == 0
    assert "fingerprints" not in json.loads(path.read_text())["meta"]  # nothing added: as it was
    assert defend(ckpts, out, "fgsm:0.1,fgsm:0.2") == 0  # grows: fingerprints from now on
    record = json.loads(path.read_text())
    assert f"--classifier {ckpts['--classifier']}" in record["meta"]["fingerprints"]
    assert record["cells"]["no defense|clean"]["models_unverified"] is True
    assert "models_unverified" not in record["cells"]["no defense|FGSM ε=0.2"]


def test_a_rerun_of_a_subset_of_the_attacks_resumes(tmp_path, capsys, monkeypatch, ckpts):
    """helper-59: a folder made with --attacks fgsm,pgd --pgd-steps 2 could not be rerun for
    fgsm alone: "--pgd-steps: recorded 2, now 40", and --pgd-steps 2 was then refused as read
    by no attack of --attacks. The rerun keeps the recorded budget and does no work."""
    out = tmp_path / "eval"
    assert defend(ckpts, out, "fgsm:0.1,pgd:0.1", "--pgd-steps", "2") == 0
    capsys.readouterr()
    _no_work(monkeypatch)
    assert defend(ckpts, out, "fgsm:0.1") == 0, capsys.readouterr().err
    meta = json.loads((out / "cells.json").read_text())["meta"]
    assert meta["settings"]["pgd_steps"] == 2


def test_another_spelling_of_a_checkpoint_path_resumes(tmp_path, capsys, monkeypatch, ckpts):
    """helper-59: --classifier ./clf/ after --classifier clf was refused as another model."""
    out = tmp_path / "eval"
    assert defend(ckpts, out) == 0
    capsys.readouterr()
    _no_work(monkeypatch)
    other = {k: str(v).replace("/clf/", "/./clf/") + "/" for k, v in ckpts.items()}
    other = {**ckpts, "--classifier": other["--classifier"]}
    assert defend(other, out) == 0, capsys.readouterr().err


def test_evaluating_the_training_split_warns(tmp_path, ckpts):
    with pytest.warns(UserWarning, match="--split train: the classifiers were trained"):
        assert defend(ckpts, tmp_path / "eval", "fgsm:0.1", "--split", "train") == 0


def test_a_checkpoint_without_its_card_names_the_missing_half(tmp_path, capsys, ckpts):
    weights = tmp_path / "lone" / "classifier.safetensors"
    weights.parent.mkdir()
    weights.write_bytes((tmp_path / "clf" / "classifier.safetensors").read_bytes())
    assert defend({**ckpts, "--classifier": str(weights)}, tmp_path / "eval") == 2
    err = capsys.readouterr().err
    assert f"{weights} exists but its card" in err and not (tmp_path / "eval").exists()


def test_adding_an_attack_with_its_own_budget_resumes(tmp_path, capsys, monkeypatch, ckpts):
    """helper-60: a folder of fgsm cells recorded pgd_steps 40 (read by no cell), so adding
    pgd with --pgd-steps 3 was refused as "recorded 40, now 3"."""
    out = tmp_path / "eval"
    assert defend(ckpts, out, "fgsm:0.1") == 0
    assert defend(ckpts, out, "fgsm:0.1,pgd:0.1", "--pgd-steps", "3") == 0, capsys.readouterr().err
    meta = json.loads((out / "cells.json").read_text())["meta"]
    assert meta["settings"]["pgd_steps"] == 3
    capsys.readouterr()
    assert defend(ckpts, out, "fgsm:0.1,pgd:0.1", "--pgd-steps", "5") == 2  # (now it is read)
    assert "--pgd-steps: recorded 3, now 5" in capsys.readouterr().err


@pytest.mark.parametrize("spelling", ["abs", "card", "symlink"])
def test_every_spelling_of_a_checkpoint_resumes(tmp_path, capsys, monkeypatch, ckpts, spelling):
    """helper-60: $PWD/clf, clf/classifier.json and a symlink were refused as other models."""
    monkeypatch.chdir(tmp_path)
    rel = {**ckpts, "--classifier": "clf"}
    out = tmp_path / "eval"
    assert defend(rel, out) == 0
    capsys.readouterr()
    _no_work(monkeypatch)
    if spelling == "symlink":
        (tmp_path / "link").symlink_to(tmp_path / "clf")
    other = {"abs": str(tmp_path / "clf"), "card": "clf/classifier.json", "symlink": "link"}
    assert defend({**ckpts, "--classifier": other[spelling]}, out) == 0, capsys.readouterr().err


def test_a_folder_named_like_a_bundled_model_is_the_folder(tmp_path, capsys, monkeypatch, ckpts):
    """helper-60: ./digits (a user's folder) was normalised to digits, the bundled classifier."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").mkdir()
    for ext in ("json", "safetensors"):
        src = tmp_path / "clf" / f"classifier.{ext}"
        (tmp_path / "digits" / f"classifier.{ext}").write_bytes(src.read_bytes())
    out = tmp_path / "eval"
    assert defend({**ckpts, "--classifier": "./digits"}, out) == 0, capsys.readouterr().err
    prints = json.loads((out / "cells.json").read_text())["meta"]["fingerprints"]
    assert prints["--classifier ./digits"] == model_fingerprint(ckpts["--classifier"], "classifier")


def test_a_damaged_cell_is_refused(tmp_path, capsys, ckpts):
    out = tmp_path / "eval"
    assert defend(ckpts, out) == 0
    state = json.loads((out / "cells.json").read_text())
    key = next(iter(state["cells"]))
    for bad in ("x", {"accuracy": "abc", "seconds": 1.0}, {"accuracy": 0.99, "seconds": 1.0}):
        (out / "cells.json").write_text(json.dumps({**state, "cells": {key: bad}}))
        capsys.readouterr()
        assert defend(ckpts, out) == 2
        assert f"whose cell {key!r} is not one this evaluation writes" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["1111", "10x", [1, 0, 1, 0], "000", "0001"])
def test_a_damaged_correct_record_is_refused(tmp_path, capsys, monkeypatch, ckpts, bad):
    """A user trial: "1111" in two attack cells of 0.5 and 0.25 showed a worst case of 1.000
    above both; "10x" or [1, 0, 1, 0] showed it as — without a word. A cell's per-image record
    must be n '0'/'1' with as many '1's as its accuracy counts."""
    out = tmp_path / "eval"
    assert defend(ckpts, out, "fgsm:0.1,fgsm:0.2") == 0
    state = json.loads((out / "cells.json").read_text())
    key = "no defense|FGSM ε=0.2"
    state["cells"][key].update(accuracy=0.0, correct=bad)  # ("0001": 1 of 4, accuracy 0)
    (out / "cells.json").write_text(json.dumps(state))
    before = _files(out)
    capsys.readouterr()
    _no_work(monkeypatch)
    assert defend(ckpts, out, "fgsm:0.1,fgsm:0.2") == 2
    err = capsys.readouterr().err
    assert f"whose cell {key!r} is not one this evaluation writes" in err
    assert "a 'correct' string of 4 0s and 1s" in err and "delete its cells.json" in err
    assert _files(out) == before


def test_a_damaged_cell_and_another_n_name_both(tmp_path, capsys, monkeypatch, ckpts):
    """helper-64: a damaged cell with --n 6 (recorded 4) named the cell only."""
    out = tmp_path / "eval"
    assert defend(ckpts, out) == 0
    state = json.loads((out / "cells.json").read_text())
    key = next(iter(state["cells"]))
    state["cells"][key]["accuracy"] = "x"
    (out / "cells.json").write_text(json.dumps(state))
    capsys.readouterr()
    _no_work(monkeypatch)
    assert defend(ckpts, out, n="6") == 2
    err = capsys.readouterr().err
    assert (
        f"whose cell {key!r} is not one" in err
        and "(its images differ too: --n recorded 4, now 6)" in err
    )


def test_another_n_is_named_as_the_flag(tmp_path, capsys, monkeypatch, ckpts):
    """A user trial: --n 6 into a folder of --n 4 blamed the file's cells ("not one this
    evaluation writes (an accuracy k/6 ...)"); it is a setting that differs."""
    out = tmp_path / "eval"
    assert defend(ckpts, out) == 0
    capsys.readouterr()
    _no_work(monkeypatch)
    assert defend(ckpts, out, n="6") == 2
    err = capsys.readouterr().err
    assert "--n: recorded 4, now 6" in err and "not one this evaluation writes" not in err


@pytest.mark.parametrize(
    "path, value, named",
    [
        (("n",), "4", "n must be an int"),
        (("settings", "keep_best"), 0, "keep_best must be a bool"),
        # helper-64: "its meta and cells must be JSON objects" (they were); "rerun with the
        # recorded settings" for rows 5, which no run records
        (("fingerprints",), [1], "fingerprints must be a JSON object of the models'"),
        (("rows",), 5, "rows must be a list of [name, defended] pairs, got 5"),
    ],
)
def test_a_recorded_setting_of_another_type_is_a_damaged_file(
    tmp_path, capsys, monkeypatch, ckpts, path, value, named
):
    """A user trial: meta n "4" was compared as text ("--n: recorded 4, now 4"); keep_best 0
    would equal False. Both are refused as a damaged cells.json."""
    out = tmp_path / "eval"
    assert defend(ckpts, out) == 0
    state = json.loads((out / "cells.json").read_text())
    entry = state["meta"]
    for key in path[:-1]:
        entry = entry[key]
    entry[path[-1]] = value
    (out / "cells.json").write_text(json.dumps(state))
    capsys.readouterr()
    _no_work(monkeypatch)
    assert defend(ckpts, out) == 2
    err = capsys.readouterr().err
    assert "holds a cells.json whose meta is not one this evaluation writes" in err
    assert named in err and ": recorded " not in err


def test_a_difference_that_reads_alike_shows_the_types(tmp_path, capsys, monkeypatch, ckpts):
    """A tag entry of another type ("0" for --start 0) is named with both types, never as
    "recorded 0, now 0"."""
    out = tmp_path / "eval"
    assert defend(ckpts, out) == 0
    state = json.loads((out / "cells.json").read_text())
    state["meta"]["tag"]["data"][2] = "0"
    (out / "cells.json").write_text(json.dumps(state))
    capsys.readouterr()
    _no_work(monkeypatch)
    assert defend(ckpts, out) == 2
    assert '--start: recorded "0" (text), now 0 (number)' in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--classifier", "--generator"])
def test_a_bundled_name_that_is_also_a_folder_here_warns(tmp_path, monkeypatch, ckpts, flag):
    """A user trial: with their own checkpoint in ./digits, --classifier digits loaded the
    bundled classifier without a word."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").mkdir()
    kind = flag.lstrip("-")
    kind = "classifier" if "classifier" in kind else kind
    match = (
        rf"{kind} 'digits': the bundled {kind} is loaded, but a path \./digits also exists "
        r"here; to load that one instead, pass \./digits"
    )
    with pytest.warns(UserWarning, match=match):
        assert defend({**ckpts, flag: "digits"}, tmp_path / "eval") == 0
