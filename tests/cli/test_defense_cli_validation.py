"""Issue 14, kind 2 for ``defend eval`` and ``train-classifier``: every argument, model, data set
and --out is checked before a byte is written or work starts; errors are one line, exit code 2."""

from __future__ import annotations

import pytest
import torch

from ganinverse.cli import main
from ganinverse.models import ClassifierA, MLPGenerator, save_model


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    paths = {}
    for name, shape in [("gen", (1, 28, 28)), ("gen8", (1, 8, 8))]:
        G = MLPGenerator(latent_dim=4, image_shape=shape, hidden=(16,)).eval()
        paths[name] = str(save_model(G, root / name / "generator"))
    G = MLPGenerator(latent_dim=4, image_shape=(1, 28, 28), hidden=(16,)).eval()
    paths["gen_fashion"] = str(
        save_model(G, root / "gen_fashion" / "generator", {"dataset": "fashion-mnist"})
    )
    for name, adversarial in [("plain", "none"), ("pgd", "pgd"), ("rm", "manifold")]:
        card = {"dataset": "digits", "adversarial": adversarial}
        model = ClassifierA((1, 28, 28), 10)
        paths[f"clf_{name}"] = str(save_model(model, root / f"clf_{name}" / "classifier", card))
    for name, shape, k in [
        ("clf", (1, 28, 28), 10),
        ("clf2", (1, 28, 28), 2),
        ("clf32", (1, 32, 32), 10),
    ]:
        paths[name] = str(save_model(ClassifierA(shape, k), root / name / "classifier"))
    (root / "afile").write_text("keep")
    paths["file"] = str(root / "afile")
    return paths


def defend_argv(c, out, *extra):
    argv = ["defend", "eval", "--classifier", c["clf"], "--generator", c["gen"], "--dataset"]
    argv += ["digits", "--n", "4", "--attacks", "fgsm:0.1", "--steps", "2", "--restarts", "1"]
    return _with([*argv, "--device", "cpu", "--no-progress", "--out", str(out)], extra)


def train_argv(c, out, *extra):
    argv = ["train-classifier", "--dataset", "digits", "--n", "32", "--n-test", "16"]
    return _with(
        [*argv, "--epochs", "1", "--device", "cpu", "--no-progress", "--out", str(out)], extra
    )


def _with(base: list[str], extra) -> list[str]:
    """``base`` without the flags (and their values) ``extra`` sets, then ``extra``: a flag
    given twice with two values is refused (the parser no longer keeps the last)."""
    given = {token.partition("=")[0] for token in extra if token.startswith("--")}
    kept, i = [], 0
    while i < len(base):
        has_value = (
            base[i].startswith("--") and i + 1 < len(base) and not base[i + 1].startswith("--")
        )
        if base[i] not in given:
            kept += base[i : i + 1 + has_value]
        i += 1 + has_value
    return [*kept, *extra]


DEFEND_BAD = [
    (["--attacks", "pgd:8"], "did you mean 8/255 = 0.031"),
    (["--attacks", "fgsm:nan"], "finite"),
    (["--attacks", "pgd2:40"], r"√n = 28"),
    (["--attacks", "pgd:0.1,foo:1"], "attack must be one of"),
    (["--lr", "nan"], "--lr must be a finite number"),
    (["--lr", "0"], "--lr must be > 0"),
    (["--steps", "0"], "--steps must be >= 1"),
    (["--pgd-steps", "0"], "--pgd-steps must be >= 1"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
    (["--n", "0"], "--n must be >= 1"),
    (["--n", "100000"], "--n=100000 images exceed"),
    (["--start", "-1"], "--start must be >= 0"),
    (["--classifier", "nowhere"], "--classifier nowhere"),
    (["--classifier-adv", "{clf32}"], r"shape \(1, 32, 32\)"),
    (["--classifier-rm", "{clf2}"], r"outputs 2 classes, got values in \[0, \d\]"),
    (
        ["--generator", "{gen8}"],
        r"--generator .* shape \(1, 8, 8\), but the data are \(1, 28, 28\)",
    ),
    (["--device", "nonsense"], "device"),
    (["--classifier", "fashion-mnist"], "was trained on fashion-mnist, but --dataset is digits"),
    # a generator's card records its dataset too (same image shape, another data set)
    (
        ["--generator", "mnist-dcgan"],
        "--generator mnist-dcgan was trained on mnist, but --dataset is digits: .*pass "
        "--dataset mnist or a generator trained on digits",
    ),
    (["--generator", "{gen_fashion}"], "was trained on fashion-mnist, but --dataset is digits"),
    (["--attacks", "fgsm:0.1,pgd:0.1,fgsm:0.1"], "'fgsm:0.1' is listed twice"),
    # helper-54: a row is labelled by its flag; a card saying otherwise is refused by name
    (
        ["--classifier-adv", "{clf_plain}"],
        r"--classifier-adv .* was trained with --adversarial none .*'adversarial training "
        r"\(PGD\)'.*pass it as --classifier,",
    ),
    (["--classifier-adv", "{clf_rm}"], "with --adversarial manifold .*pass it as --classifier-rm"),
    (["--classifier-rm", "{clf_pgd}"], "with --adversarial pgd .*pass it as --classifier-adv"),
    (["--classifier", "{clf_pgd}"], "'no defense' and 'projection defense'"),
    # a budget flag that no attack of --attacks reads would be ignored (AttackRecord.settings)
    (["--latent-steps", "5"], "--latent-steps is a budget of the attack.s. latent, none of which"),
    (["--latent-restarts", "2"], "--latent-restarts is a budget of the attack.s. latent"),
    (["--eot-samples", "2"], r"--eot-samples is a budget of the attack\(s\) eot, none of"),
    (["--unroll-steps", "2"], "--unroll-steps is a budget of the attack.s. unrolled,"),
    (["--bpda-steps", "2"], "--bpda-steps is a budget of the attack.s. bpda, eot, "),
    (["--bpda-projection", "5,1"], "--bpda-projection is a budget of the attack.s. bpda"),
    (["--pgd-steps", "3"], "--pgd-steps is a budget of the attack.s. pgd, bpda, .*add one "),
    (["--attacks", "pgd:0.1", "--eot-samples", "2"], "--attacks pgd:0.1 includes"),
]
# helper-38 #10: budgets that change nothing (defend_argv projects with --steps 2 --restarts 1)
DEFEND_BAD += [
    # helper-68: ε = 0 is refused itself (its budgets were refused as idle before)
    (["--attacks", "pgd:0", "--pgd-steps", "5"], "--attacks: .*eps of pgd:0 must be > 0"),
    (["--attacks", "bpda:0.1", "--bpda-projection", "2,1"], "is the defense's own projection"),
    (["--attacks", "unrolled:0.1", "--unroll-steps", "5"], "--unroll-steps 5 is beyond the att"),
    (  # helper-39: the attacked projection is --bpda-projection's when given
        ["--attacks", "unrolled:0.1", "--bpda-projection", "1,1", "--unroll-steps", "2"],
        r"projection's steps \(--bpda-projection 1\)",
    ),
    # helper-40: the budget of --bpda-projection's parts named by the flag
    (
        ["--attacks", "bpda:0.1", "--bpda-projection", "5,100000"],
        "--bpda-projection RESTARTS must be <= 10,000",
    ),
    (
        ["--attacks", "bpda:0.1", "--bpda-projection", "10000000,1"],
        "--bpda-projection STEPS must be <= 1,000,000",
    ),
    # helper-59: EOT with one sample is the BPDA column again; ε = 1 holds every image
    (["--attacks", "eot:0.1", "--eot-samples", "1"], "--eot-samples 1 makes BPDA\\+EOT the BPDA"),
    (["--attacks", "fgsm:1"], "one this large holds every image"),
    (["--attacks", "pgd:0_1"], "'_' is not part of a number"),
]
TRAIN_BAD = [
    (["--lr", "nan"], "--lr must be a finite number"),
    (["--lr", "inf"], "--lr must be a finite number"),
    (["--adversarial", "pgd", "--eps", "8"], "--eps must be in .*8/255 = 0.031"),
    (["--adversarial", "pgd", "--eps", "nan"], "--eps must be a finite number"),
    (["--manifold-fraction", "2"], "--manifold-fraction must be <= 1"),
    (["--manifold-eps", "nan"], "--manifold-eps must be a finite number"),
    (["--adversarial", "manifold", "--generator", "{gen}", "--manifold-eps", "40"], "√n = 28"),
    (["--adversarial", "manifold", "--generator", "{gen8}"], r"shape \(1, 8, 8\)"),
    (["--adversarial", "manifold"], "needs --generator"),
    (["--generator", "{gen}"], "only used by --adversarial manifold"),
    (["--on-reconstructions", "{gen8}"], r"shape \(1, 8, 8\)"),
    (["--on-reconstructions", "nowhere"], "--on-reconstructions nowhere"),
    (["--epochs", "0"], "--epochs must be >= 1"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
    (["--n", "100000"], "--n=100000 images"),
    (["--n-test", "100000"], "--n-test=100000 images"),
    (["--device", "nonsense"], "device"),
    # helper-38 #7: adversarial options that change nothing with the others
    (["--adversarial", "pgd", "--eps", "0"], "--eps: eps=0 makes the PGD examples the clean"),
    (
        ["--adversarial", "manifold", "--generator", "{gen}", "--manifold-fraction", "0.001"],
        r"--manifold-fraction=0.001 puts floor\(0.001 x 128\) = 0 images",
    ),
    (
        ["--adversarial", "manifold", "--generator", "{gen}", "--manifold-fraction", "1"]
        + ["--pgd-steps", "3"],
        "--pgd-steps: steps .the PGD part. changes nothing with --manifold-fraction 1",
    ),
    (
        ["--adversarial", "manifold", "--generator", "{gen}", "--manifold-fraction", "0"],
        "that is --adversarial pgd",
    ),
]
CASES = [("defend", a, m) for a, m in DEFEND_BAD] + [("train", a, m) for a, m in TRAIN_BAD]


def _no_work(monkeypatch):
    import ganinverse.defense.evaluate as ev
    import ganinverse.defense.training as tr
    import ganinverse.models as models

    def fail(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(ev, "_make_attack", fail)
    monkeypatch.setattr(ev, "correct_predictions", fail)
    monkeypatch.setattr(models, "train_classifier", fail)
    monkeypatch.setattr(tr, "adversarial_training", fail)
    monkeypatch.setattr(tr, "project_images", fail)


@pytest.mark.parametrize(
    "command, extra, match", CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_a_failed_start_writes_nothing(command, extra, match, tmp_path, capsys, monkeypatch, ckpts):
    import re

    _no_work(monkeypatch)
    extra = [e.format(**ckpts) for e in extra]
    out = tmp_path / "new" / "out"
    argv = (defend_argv if command == "defend" else train_argv)(ckpts, out, *extra)
    assert main(argv) == 2
    err = capsys.readouterr().err
    name = " ".join(argv[:2]) if argv[0] == "defend" else argv[0]  # (defend eval)
    assert err.count("\n") == 1 and err.startswith(f"ganinverse {name}: error:"), err
    assert re.search(match, err), err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("command", ["defend", "train"])
def test_an_out_that_is_a_file_is_refused_and_kept(command, tmp_path, capsys, monkeypatch, ckpts):
    _no_work(monkeypatch)
    out = tmp_path / "file"
    out.write_text("keep")
    argv = (defend_argv if command == "defend" else train_argv)(ckpts, out)
    assert main(argv) == 2
    assert "--out" in capsys.readouterr().err and out.read_text() == "keep"


def test_an_out_holding_another_commands_result_is_refused_and_kept(
    tmp_path, capsys, monkeypatch, ckpts
):
    _no_work(monkeypatch)
    out = tmp_path / "sweep-run"
    out.mkdir()
    (out / "sweep.json").write_text("{}")
    assert main(defend_argv(ckpts, out)) == 2
    assert "holds files that are not an evaluation's (sweep.json)" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["sweep.json"]


@pytest.mark.parametrize(
    "files",
    [
        {"results.csv": "my own table"},  # the trial's case: a name defend writes, no cells.json
        {"results.md": "notes"},
        {"results.csv": "a", "results.md": "b"},
        {"cells.json": "{}", "notes.txt": "mine"},
        {".hidden": "mine"},
    ],
    ids=lambda f: "+".join(f),
)
def test_an_out_that_is_not_an_evaluations_own_is_refused_and_kept(
    files, tmp_path, capsys, monkeypatch, ckpts
):
    """A folder is defend's own only if it holds its cells.json (and nothing but its files):
    a user's results.csv is never overwritten."""
    _no_work(monkeypatch)
    out = tmp_path / "f2"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    assert main(defend_argv(ckpts, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--out {str(out)!r} holds files that are not an eval" in err
    assert "pass a new or empty folder as --out" in err
    assert {p.name: p.read_text() for p in out.iterdir()} == files


def test_an_evaluations_own_folder_is_accepted(tmp_path):
    from ganinverse.defense.evaluate import check_evaluation_dir

    assert check_evaluation_dir(tmp_path / "new", "--out") == tmp_path / "new"
    assert not (tmp_path / "new").exists()
    own = tmp_path / "own"
    own.mkdir()
    assert check_evaluation_dir(own) == own  # empty
    (own / "cells.json").write_text("{}")
    (own / ".results.csv.k2j3.tmp").write_text("")  # what a kill during a write leaves
    assert check_evaluation_dir(own) == own
    (own / "results.csv").write_text("")
    (own / "results.md").write_text("")
    assert check_evaluation_dir(own) == own
    (own / "cells.json").unlink()
    with pytest.raises(ValueError, match=r"not an evaluation's \(results.csv, results.md\)"):
        check_evaluation_dir(own)


def test_bpda_projection_is_parsed_by_argparse(tmp_path, capsys, ckpts):
    with pytest.raises(SystemExit) as exit_info:
        main(defend_argv(ckpts, tmp_path / "o", "--bpda-projection", "3"))
    assert exit_info.value.code == 2
    assert "STEPS,RESTARTS" in capsys.readouterr().err


# a 3-step projection at lr 10 may not improve every start: expected at this tiny size
@pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ConvergenceWarning")
def test_defend_eval_resumes_and_refuses_another_evaluation(tmp_path, capsys, monkeypatch, ckpts):
    out = tmp_path / "eval"
    assert main(defend_argv(ckpts, out)) == 0
    cells = (out / "cells.json").read_text()
    _no_work(monkeypatch)
    assert main(defend_argv(ckpts, out)) == 0  # every cell is reused: no work
    assert main(defend_argv(ckpts, out, "--steps", "3")) == 2
    assert "different evaluation" in capsys.readouterr().err
    assert (out / "cells.json").read_text() == cells


@pytest.mark.parametrize(
    "attacks, flags",
    [
        ("pgd:0.1", ["--pgd-steps", "3"]),
        # an adaptive attack runs its undefended attack (pgd) on the rows without a defense
        ("bpda:0.1", ["--pgd-steps", "3", "--bpda-steps", "2", "--bpda-projection", "5,1"]),
        ("eot:0.1", ["--eot-samples", "2"]),
        ("unrolled:0.1", ["--unroll-steps", "2", "--bpda-steps", "2"]),
        ("fgsm:0.1,latent:0.1", ["--latent-steps", "5", "--latent-restarts", "2"]),
    ],
)
def test_a_budget_flag_read_by_an_attack_of_attacks_is_taken(attacks, flags):
    """The positive side of the refusals above: every budget an attack of --attacks reads."""
    from ganinverse.cli import build_parser
    from ganinverse.cli.defend import check_budgets_used
    from ganinverse.defense.evaluate import parse_attacks

    argv = ["defend", "eval", "--classifier", "c", "--generator", "g", "--out", "o"]
    args = build_parser().parse_args([*argv, "--attacks", attacks, *flags])
    check_budgets_used(args, parse_attacks(attacks))  # no error


def test_train_classifier_writes_only_into_its_own_folder(tmp_path, capsys, ckpts):
    """A folder holding another command's or the user's files (a sweep's rows, a pretraining
    run, a classifier.json of one's own) is refused before training, untouched; an earlier
    train-classifier result is replaced (user trial: classifier.* was mixed into any folder)."""
    cases = {
        "sweep": {"rows.csv": "image,m\n"},
        "own json": {"classifier.json": '{"mine": 1}'},
        "half pair": {"classifier.safetensors": "x"},
    }
    for name, files in cases.items():
        out = tmp_path / name.replace(" ", "_")
        out.mkdir()
        for file, text in files.items():
            (out / file).write_text(text)
        assert main(train_argv(ckpts, out)) == 2, name
        err = capsys.readouterr().err
        assert "holds files that are not a classifier of train-classifier" in err, err
        assert sorted(p.name for p in out.iterdir()) == sorted(files)
        for file, text in files.items():
            assert (out / file).read_text() == text
    out = tmp_path / "mine"
    assert main(train_argv(ckpts, out)) == 0
    assert main(train_argv(ckpts, out, "--seed", "3")) == 0  # its own earlier result: replaced
    assert sorted(p.name for p in out.iterdir()) == ["classifier.json", "classifier.safetensors"]


@pytest.mark.parametrize(
    "extra, flag",
    [
        (["--on-reconstructions", "mnist-dcgan"], "--on-reconstructions"),
        (["--adversarial", "manifold", "--generator", "mnist-dcgan"], "--generator"),
    ],
)
def test_train_classifier_refuses_a_generator_of_another_dataset(extra, flag, tmp_path, capsys):
    """Helper-42: train-classifier --dataset digits --on-reconstructions mnist-dcgan (or
    --adversarial manifold with it) trained for minutes on another dataset's projections."""
    from ganinverse.cli import main

    out = tmp_path / "o"
    argv = ["train-classifier", "--dataset", "digits", "--n", "20", "--n-test", "10"]
    code = main([*argv, "--epochs", "1", *extra, "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and f"{flag} mnist-dcgan was trained on mnist, but --dataset is digits" in err
    assert not out.exists()


def test_classifiers_whose_cards_match_their_rows_are_accepted(tmp_path, capsys, ckpts):
    extra = ["--classifier", ckpts["clf_plain"], "--classifier-adv", ckpts["clf_pgd"]]
    extra += ["--classifier-rm", ckpts["clf_rm"]]
    assert main(defend_argv(ckpts, tmp_path / "out", *extra)) == 0
    out = capsys.readouterr().out
    assert "adversarial training (PGD)" in out and "robust-manifold" in out
