"""Issue 14, kinds 3, 4 and 7 for the defense: every float argument finite and in its domain,
budgets and images on the [0, 1] scale, labels and dtypes checked at the boundary.

The attack tests run over every attack class of the package (the subclasses of ``AttackChecks``:
``Attack`` and the pair attack ``OverpoweredAttack``, found at run time), so an attack added later
falls under them; float arguments are found from the constructor's annotations.
"""

from __future__ import annotations

import inspect
import json
import math

import pytest
import torch
from torch import nn

from ganinverse.defense import (
    Attack,
    AttackChecks,
    ProjectionDefense,
    adversarial_training,
    evaluate_defense,
    parse_attacks,
    project_images,
)
from ganinverse.defense.evaluate import EvalSettings, Row
from ganinverse.defense.training import AdversarialAugment
from ganinverse.models import accuracy, train_classifier

BAD_NUMBERS = [math.nan, math.inf, -math.inf]


def attack_classes() -> list[type[AttackChecks]]:
    """The package's attack classes (a test's own attacks and the Attack base left out)."""
    found, todo = set(), [AttackChecks]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    ours = (c for c in found if c is not Attack and c.__module__.startswith("ganinverse."))
    return sorted(ours, key=lambda c: c.__name__)


ATTACKS = attack_classes()


def params(cls) -> dict[str, inspect.Parameter]:
    return dict(list(inspect.signature(cls.__init__).parameters.items())[1:])


def float_params(cls) -> list[str]:
    return [n for n, p in params(cls).items() if "float" in str(p.annotation)]


def build(cls, classifier, G, **kwargs):
    """``cls`` with its required models filled in by name and cheap settings."""
    ps = params(cls)
    defense = ProjectionDefense(G, steps=2, restarts=1)  # for the attacks that take one
    models = {"model": classifier, "classifier": classifier, "G": G, "defense": defense}
    args = {n: models[n] for n, p in ps.items() if p.default is p.empty and n in models}
    open_kwargs = any(p.kind is p.VAR_KEYWORD for p in ps.values())
    for name, value in {"steps": 2, "restarts": 1}.items():
        if name in ps or open_kwargs:
            args[name] = value
    args.update(kwargs)
    return cls(**args)


def run(attack, x, y):
    out = attack(x, y)
    return getattr(out, "x1", out)  # OverpoweredAttack returns pairs


class Counting(nn.Module):
    """Counts forward passes of a classifier that does not say its class count."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.calls = inner, 0
        if hasattr(inner, "image_shape"):
            self.image_shape = inner.image_shape

    def forward(self, x):
        self.calls += 1
        return self.inner(x)


class NoShape(nn.Module):
    """A classifier that does not say its image shape (L2 bound known only at call time)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def test_the_registry_is_found():
    names = {c.__name__ for c in ATTACKS}
    assert {"FGSM", "PGD", "CarliniWagnerL2", "LatentAttack", "OverpoweredAttack"} <= names
    assert all(float_params(c) for c in ATTACKS)


# ------------------------------------------------------------------ kind 3: finite, in domain
@pytest.mark.parametrize("cls", ATTACKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad", BAD_NUMBERS, ids=str)
def test_every_float_argument_of_every_attack_is_finite(cls, bad, toy_classifier, toy_generator):
    for name in float_params(cls):
        with pytest.raises(ValueError, match=rf"{name} must be a finite number, got {bad}"):
            build(cls, toy_classifier, toy_generator, **{name: bad})


@pytest.mark.parametrize("cls", ATTACKS, ids=lambda c: c.__name__)
def test_every_float_argument_of_every_attack_is_in_its_domain(cls, toy_classifier, toy_generator):
    for name in float_params(cls):
        with pytest.raises(ValueError, match=rf"{name} must be >"):
            build(cls, toy_classifier, toy_generator, **{name: -0.5})
        with pytest.raises(TypeError, match=rf"{name} must be a real number"):
            build(cls, toy_classifier, toy_generator, **{name: "0.1"})


def test_fgsm_nan_is_refused_at_construction(toy_classifier):
    from ganinverse.defense import FGSM

    with pytest.raises(ValueError, match="eps must be a finite number, got nan"):
        FGSM(toy_classifier, eps=float("nan"))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(eps=math.nan), "eps"),
        (dict(alpha=math.inf), "alpha"),
        (dict(alpha=0.0), "alpha"),
        (dict(manifold_fraction=math.nan), "manifold_fraction"),
        (dict(manifold_fraction=1.5), "manifold_fraction"),
        (dict(manifold_eps=math.nan), "manifold_eps"),
        (dict(manifold_eps=0.0), "manifold_eps"),
    ],
)
@pytest.mark.parametrize("entry", ["augment", "adversarial_training"])
def test_adversarial_training_numbers(entry, kwargs, name, toy_classifier, toy_generator, toy_data):
    x, y = toy_data
    with pytest.raises(ValueError, match=name):
        if entry == "augment":
            AdversarialAugment(toy_classifier, G=toy_generator, **kwargs)
        else:
            adversarial_training(toy_classifier, x, y, G=toy_generator, device="cpu", **kwargs)


@pytest.mark.parametrize("lr", [math.nan, math.inf, 0.0, -1e-3])
def test_classifier_training_lr(lr, toy_classifier_class, toy_data):
    x, y = toy_data
    with pytest.raises(ValueError, match="lr must be"):
        train_classifier(toy_classifier_class(), x, y, lr=lr, device="cpu")


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(lr=math.nan), "lr"), (dict(steps=0), "steps"), (dict(lambda_z=math.inf), "lambda_z")],
)
def test_projection_defense_numbers(kwargs, match, toy_generator):
    with pytest.raises(ValueError, match=match):
        ProjectionDefense(toy_generator, **kwargs)


# ------------------------------------------------------------------ kind 4: value ranges
@pytest.mark.parametrize("cls", ATTACKS, ids=lambda c: c.__name__)
def test_an_eps_in_255_units_is_refused_with_the_fix(cls, toy_classifier, toy_generator):
    if "eps" not in params(cls):
        pytest.skip(f"{cls.__name__} takes no budget")
    # L∞ attacks refuse eps > 1; the L2 attacks refuse eps > √64 = 8 on 8x8 images
    norm = "inf" if "norm" in params(cls) or cls.__name__ == "FGSM" else "2"
    eps, fix = (8, "did you mean 8/255 = 0.031") if norm == "inf" else (200, "200/255 = 0.784")
    with pytest.raises(ValueError, match=rf"eps must be in \[0, .*got {eps}; .*{fix}"):
        build(cls, toy_classifier, toy_generator, eps=eps)
    if "norm" in params(cls):  # the same attack in L2: 1.98 is a legitimate budget, 9 is not
        build(cls, toy_classifier, toy_generator, eps=1.98, norm="2")
        with pytest.raises(ValueError, match=r"eps must be in \[0, 8\).*√n = 8"):
            build(cls, toy_classifier, toy_generator, eps=9, norm="2")


@pytest.mark.parametrize("norm, alpha", [("inf", 2.0), ("2", 8.5)])
def test_pgd_step_size_is_on_the_image_scale(norm, alpha, toy_classifier):
    from ganinverse.defense import PGD

    with pytest.raises(ValueError, match="alpha must be in"):
        PGD(toy_classifier, 0.1, alpha=alpha, norm=norm)


def test_l2_budget_is_checked_at_call_time_before_any_step(toy_classifier, toy_test_set):
    from ganinverse.defense import PGD

    x, y = toy_test_set
    model = Counting(NoShape(toy_classifier))
    attack = PGD(model, eps=9.0, steps=2, norm="2")  # n unknown: accepted here
    with pytest.raises(ValueError, match=r"eps must be in \[0, 8\)"):
        attack(x, y)
    assert model.calls == 0
    PGD(model, eps=1.98, steps=2, norm="2")(x, y)  # legitimate


@pytest.mark.parametrize("cls", ATTACKS, ids=lambda c: c.__name__)
def test_images_on_the_wrong_scale_are_refused(cls, toy_classifier, toy_generator, toy_test_set):
    x, y = toy_test_set
    attack = build(
        cls, toy_classifier, toy_generator, **({"eps": 0.1} if "eps" in params(cls) else {})
    )
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\]"):
        run(attack, x * 255, y)
    with pytest.raises(TypeError, match=r"float\(\) / 255"):
        run(attack, (x * 255).to(torch.uint8), y)


def test_augment_budgets(toy_classifier, toy_generator):
    with pytest.raises(ValueError, match="8/255 = 0.031"):
        AdversarialAugment(toy_classifier, eps=8)
    with pytest.raises(ValueError, match=r"manifold_eps must be in \(0, 8\)"):
        AdversarialAugment(toy_classifier, G=toy_generator, manifold_fraction=0.5, manifold_eps=9)


@pytest.mark.parametrize("entry", ["train_classifier", "projection", "project_images", "accuracy"])
def test_other_entry_points_check_the_image_scale(entry, toy_classifier_class, toy_generator):
    x = torch.rand(4, 1, 8, 8) * 255
    y = torch.tensor([0, 1, 0, 1])
    defense = ProjectionDefense(toy_generator, steps=1, restarts=1)
    calls = {
        "train_classifier": lambda: train_classifier(toy_classifier_class(), x, y, device="cpu"),
        "projection": lambda: defense(x),
        "project_images": lambda: project_images(defense, x),
        "accuracy": lambda: accuracy(toy_classifier_class(), x, y),
    }
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\]"):
        calls[entry]()


def test_eval_specs_check_their_budget():
    with pytest.raises(ValueError, match=r"eps of pgd:8 must be in \(0, 1\).*8/255 = 0.031"):
        parse_attacks("pgd:8")
    with pytest.raises(ValueError, match="eps of fgsm:nan must be a finite number"):
        parse_attacks("fgsm:nan")
    with pytest.raises(ValueError, match="eps of bpda:inf must be a finite number"):
        parse_attacks("bpda:inf")
    assert parse_attacks("pgd2:1.98")[0].eps == 1.98  # L2: checked against √n later


# ------------------------------------------------------------------ kind 7: labels, dtypes
@pytest.mark.parametrize("cls", ATTACKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad", [2, -1, -100])
def test_labels_outside_the_classes_are_refused_before_any_step(
    cls, bad, toy_classifier, toy_generator, toy_test_set
):
    x, y = toy_test_set
    y = y.clone()
    y[3] = bad
    model = Counting(toy_classifier)
    attack = build(cls, model, toy_generator, **({"eps": 0.1} if "eps" in params(cls) else {}))
    lo, hi = min(0, bad), max(1, bad)
    with pytest.raises(
        ValueError,
        match=rf"labels must be class indices in \[0, 2\).* 2 classes, got values in \[{lo}, {hi}\]",
    ):
        run(attack, x, y)
    assert model.calls <= 1  # at most the forward pass that told the class count


@pytest.mark.parametrize("cls", ATTACKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_float64_and_float16_images_are_converted(
    cls, dtype, toy_classifier, toy_generator, toy_test_set
):
    x, y = toy_test_set
    x, y = x[:6], y[:6]
    kwargs = {"eps": 0.1} if "eps" in params(cls) else {}
    ref = run(build(cls, toy_classifier, toy_generator, **kwargs), x.to(dtype).float(), y)
    out = run(build(cls, toy_classifier, toy_generator, **kwargs), x.to(dtype), y)
    assert out.dtype == torch.float32
    assert torch.equal(out, ref)


def test_label_tensor_types(toy_classifier, toy_test_set):
    from ganinverse.defense import FGSM

    x, y = toy_test_set
    with pytest.raises(TypeError, match="labels must be an integer torch.Tensor"):
        FGSM(toy_classifier, 0.1)(x, y.float())
    with pytest.raises(TypeError, match="labels must be an integer torch.Tensor"):
        FGSM(toy_classifier, 0.1)(x, y.tolist())


def test_a_float64_model_is_a_clear_type_error(toy_classifier_class):
    from ganinverse.defense import FGSM

    with pytest.raises(TypeError, match=r"float32; call model.float\(\)"):
        FGSM(toy_classifier_class().double(), 0.1)


@pytest.mark.parametrize(
    "entry", ["train_classifier", "adversarial_training", "accuracy", "evaluate"]
)
@pytest.mark.parametrize("bad", [2, -1])
def test_labels_outside_the_classes_in_training_and_evaluation(
    entry, bad, tmp_path, toy_classifier_class, toy_classifier, toy_generator, toy_data
):
    x, y = toy_data
    x, y = x[:20], y[:20].clone()
    y[5] = bad
    model = toy_classifier_class()
    before = [p.detach().clone() for p in model.parameters()]
    out = tmp_path / "eval"
    calls = {
        "train_classifier": lambda: train_classifier(model, x, y, device="cpu"),
        "adversarial_training": lambda: adversarial_training(model, x, y, steps=1, device="cpu"),
        "accuracy": lambda: accuracy(toy_classifier, x, y),
        "evaluate": lambda: evaluate_defense(
            [Row("plain", toy_classifier, False)],
            x,
            y,
            parse_attacks("fgsm:0.1"),
            G=toy_generator,
            out=out,
        ),
    }
    with pytest.raises(ValueError, match=r"labels must be class indices in \[0, 2\)"):
        calls[entry]()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert not out.exists()


def test_training_converts_float64_images(toy_classifier_class, toy_data):
    x, y = toy_data
    torch.manual_seed(0)
    a = train_classifier(toy_classifier_class(), x, y, epochs=1, device="cpu")
    torch.manual_seed(0)
    b = train_classifier(toy_classifier_class(), x.double(), y, epochs=1, device="cpu")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_projection_converts_float64_images(toy_generator):
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    defense = ProjectionDefense(toy_generator, steps=3, restarts=1)
    out = defense(x.double())
    assert out.dtype == torch.float32 and torch.equal(out, defense(x))


# ------------------------------------------------------------------ evaluation boundary
def test_evaluation_checks_l2_budgets_against_the_image_size(
    tmp_path, toy_classifier, toy_test_set
):
    x, y = toy_test_set
    out = tmp_path / "eval"
    with pytest.raises(ValueError, match=r"eps of pgd2:9 must be in \(0, 8\)"):
        evaluate_defense([Row("p", toy_classifier, False)], x, y, parse_attacks("pgd2:9"), out=out)
    assert not out.exists()


def test_evaluation_refuses_the_cells_of_another_evaluation(tmp_path, toy_classifier, toy_test_set):
    x, y = toy_test_set
    rows = [Row("p", toy_classifier, False)]
    fast = EvalSettings(pgd_steps=2)
    attacks = parse_attacks("fgsm:0.1,pgd:0.1")
    evaluate_defense(rows, x, y, attacks, settings=fast, out=tmp_path)
    before = (tmp_path / "cells.json").read_text()
    with pytest.raises(ValueError, match="different evaluation .*pgd_steps: recorded 2, now 40"):
        evaluate_defense(rows, x, y, attacks, settings=EvalSettings(), out=tmp_path)
    assert (tmp_path / "cells.json").read_text() == before


def test_a_rerun_of_some_attacks_keeps_the_budgets_only_the_others_read(
    tmp_path, toy_classifier, toy_test_set
):
    """helper-59: a folder made with pgd at --pgd-steps 2 could not be rerun for fgsm alone:
    its default pgd_steps differed ("recorded 2, now 40"), and passing --pgd-steps 2 was
    refused as read by no attack of the rerun. A budget no attack of the rerun reads keeps the
    recorded value (the cells it reuses were made with it)."""
    x, y = toy_test_set
    rows = [Row("p", toy_classifier, False)]
    both = parse_attacks("fgsm:0.1,pgd:0.1")
    table = evaluate_defense(rows, x, y, both, settings=EvalSettings(pgd_steps=2), out=tmp_path)
    again = evaluate_defense(rows, x, y, parse_attacks("fgsm:0.1"), out=tmp_path)
    assert again[0]["FGSM ε=0.1"] == table[0]["FGSM ε=0.1"]
    meta = json.loads((tmp_path / "cells.json").read_text())["meta"]
    assert meta["settings"]["pgd_steps"] == 2  # (the PGD cell's own budget, kept)


def test_evaluation_rewrites_the_tables_when_every_cell_is_done(
    tmp_path, toy_classifier, toy_test_set
):
    x, y = toy_test_set
    rows = [Row("p", toy_classifier, False)]
    table = evaluate_defense(rows, x, y, parse_attacks("fgsm:0.1"), out=tmp_path)
    (tmp_path / "results.md").unlink()  # as after a kill between cells.json and the tables
    assert evaluate_defense(rows, x, y, parse_attacks("fgsm:0.1"), out=tmp_path) == table
    assert "| p |" in (tmp_path / "results.md").read_text()


def test_evaluation_refuses_an_out_that_is_a_file(tmp_path, toy_classifier, toy_test_set):
    x, y = toy_test_set
    out = tmp_path / "file"
    out.write_text("x")
    with pytest.raises(ValueError, match="existing file"):
        evaluate_defense(
            [Row("p", toy_classifier, False)], x, y, parse_attacks("fgsm:0.1"), out=out
        )
    assert out.read_text() == "x"


# ------------------------------------------------ helper-59's inputs (fresh-user trial)
def test_fgsm_in_the_l2_ball_takes_a_normalised_step(toy_classifier, toy_test_set):
    """helper-59: FGSM(norm="2") took the L∞ sign step (||δ||₂ = 17 for ε = 1)."""
    from ganinverse.defense import FGSM

    x, y = toy_test_set
    x = x[:8].clamp(0.2, 0.8)  # (away from the box: no clipping)
    adv = FGSM(toy_classifier, eps=0.5, norm="2")(x, y[:8])
    norms = (adv - x).flatten(1).norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, 0.5), atol=1e-5)
    assert (adv - x).abs().amax() < 0.5  # (not a sign step of 0.5 per pixel)
    (col,) = parse_attacks("fgsm2:0.5")
    assert col.column == "FGSM L2 ε=0.5"


def test_bool_labels_are_refused(toy_classifier, toy_test_set):
    from ganinverse.defense import PGD

    x, _ = toy_test_set
    with pytest.raises(TypeError, match="labels must be an integer torch.Tensor.*bool"):
        PGD(toy_classifier, eps=0.1, steps=2)(x[:3], torch.tensor([True, False, True]))


@pytest.mark.parametrize("name", ["LatentAttack", "OverpoweredAttack", "ProjectionDefense"])
@pytest.mark.parametrize("steps", [0, -3])
def test_a_latent_search_of_no_steps_is_refused(name, steps, toy_generator, toy_classifier):
    """helper-59: the latent and overpowered attacks took steps=0 (their random starts as the
    result); ProjectionDefense(steps=-3) was told "pass 0 or more", then 0 was refused."""
    import ganinverse.defense as d

    args = (toy_generator,) if name == "ProjectionDefense" else (toy_generator, toy_classifier)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        getattr(d, name)(*args, steps=steps, restarts=1)


@pytest.mark.parametrize("norm, eps", [("inf", 1.0), ("2", 8.0)])  # (toy images: n = 64)
def test_a_radius_that_holds_every_image_is_refused(norm, eps, toy_classifier):
    """helper-59: ε = 1 (L∞) or √n (L2) was taken; that ball already holds all of [0, 1]^n."""
    from ganinverse.defense import PGD

    with pytest.raises(ValueError, match=r"one this large holds every image"):
        PGD(toy_classifier, eps=eps, norm=norm)
    PGD(toy_classifier, eps=0.5, alpha=1.0, norm="inf")  # (a step size may reach the bound)


def test_rows_and_settings_are_checked(toy_classifier):
    with pytest.raises(TypeError, match="Row name must be a str"):
        Row(None, toy_classifier, False)
    with pytest.raises(ValueError, match="without '\\|'"):
        Row("a|b", toy_classifier, False)
    with pytest.raises(TypeError, match="defended must be a bool"):
        Row("x", toy_classifier, "yes")
    with pytest.raises(TypeError, match="classifier must be an nn.Module"):
        Row("x", "clf", False)
    with pytest.raises(TypeError, match="bpda_projection must be None or a \\(steps, restarts\\)"):
        EvalSettings(bpda_projection=5)


def test_arguments_in_the_wrong_order_are_named(toy_generator, toy_classifier):
    """helper-59: bpda_pgd(G, clf) / Row("g", G, ...) failed later on a latent's shape."""
    from ganinverse.defense import bpda_pgd

    with pytest.raises(TypeError, match="defense is a generator"):
        bpda_pgd(toy_generator, toy_classifier, eps=0.1)
    with pytest.raises(TypeError, match="classifier is a generator"):
        bpda_pgd(ProjectionDefense(toy_generator, steps=2, restarts=1), toy_generator, eps=0.1)
    with pytest.raises(TypeError, match="classifier is a generator"):
        Row("g", toy_generator, False)


def test_a_generator_as_the_classifier_is_named_by_every_entry(
    toy_generator, toy_classifier, toy_data
):
    """A user trial: RestartEOTPGD(defense, G, ...), unrolled_pgd(defense, G, ...) and
    adversarial_training(G, images, labels) failed later with "z must have shape ('*', 20)"."""
    from ganinverse.defense import RestartEOTPGD, unrolled_pgd

    x, y = toy_data
    defense = ProjectionDefense(toy_generator, steps=2, restarts=1)
    with pytest.raises(TypeError, match=r"classifier is a generator.*\(defense, classifier\)"):
        RestartEOTPGD(defense, toy_generator, 0.1, steps=1)
    with pytest.raises(TypeError, match=r"classifier is a generator.*\(defense, classifier\)"):
        unrolled_pgd(defense, toy_generator, 0.1, steps=1)
    with pytest.raises(TypeError, match=r"model is a generator.*G goes in G="):
        AdversarialAugment(toy_generator)
    with pytest.raises(TypeError, match=r"model is a generator.*G goes in G="):
        adversarial_training(toy_generator, x, y, device="cpu")
    RestartEOTPGD(defense, toy_classifier, 0.1, steps=1)  # (the right order is taken)
    unrolled_pgd(defense, toy_classifier, 0.1, steps=1, unroll_steps=1)


def test_an_overpowered_attack_of_no_budget_is_refused(toy_generator, toy_classifier):
    """A user trial: OverpoweredAttack(G, clf, 0.0) was taken (G(z1) = G(z2): no pair can be
    labelled differently); a zero manifold_eps of the adversarial training is refused alike."""
    from ganinverse.defense import OverpoweredAttack

    with pytest.raises(ValueError, match="eps must be > 0 for OverpoweredAttack.*pass a radius"):
        OverpoweredAttack(toy_generator, toy_classifier, 0.0)
    OverpoweredAttack(toy_generator, toy_classifier, 0.5)


def test_bpda_projection_is_kept_as_a_pair():
    """A user trial: EvalSettings(bpda_projection=[5, 2]) kept the list (unhashable, unequal to
    the same pair given as a tuple); cells.json records either as [5, 2]."""
    listed = EvalSettings(bpda_projection=[5, 2])
    assert listed.bpda_projection == (5, 2) and isinstance(listed.bpda_projection, tuple)
    assert listed == EvalSettings(bpda_projection=(5, 2)) and hash(listed)
    with pytest.raises(TypeError, match="bpda_projection steps must be an int"):
        EvalSettings(bpda_projection=["5", 2])


def test_values_just_below_zero_get_the_clamp_hint(toy_classifier, toy_test_set):
    from ganinverse.defense import PGD

    x, y = toy_test_set
    x = x[:2].clone()
    x[0, 0, 0, 0] = -1e-5  # (as after x − δ in float32)
    with pytest.raises(ValueError, match=r"rounding.*clamp\(0, 1\)"):
        PGD(toy_classifier, eps=0.1, steps=1)(x, y[:2])


def test_a_corrupt_cells_file_says_how_to_go_on(tmp_path, toy_classifier, toy_test_set):
    x, y = toy_test_set
    (tmp_path / "cells.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON.*delete its"):
        evaluate_defense([Row("p", toy_classifier, False)], x, y, parse_attacks("fgsm:0.1"),
                         out=tmp_path)  # fmt: skip


def test_eot_with_one_sample_is_refused_in_the_api(toy_generator, toy_classifier, toy_test_set):
    """helper-60: the CLI refused --eot-samples 1 with eot; the API labelled BPDA as EOT."""
    x, y = toy_test_set
    defense = ProjectionDefense(toy_generator, steps=2, restarts=1)
    with pytest.raises(ValueError, match="eot_samples=1 makes BPDA\\+EOT the BPDA attack"):
        evaluate_defense([Row("d", toy_classifier, True)], x[:4], y[:4], parse_attacks("eot:0.1"),
                         defense=defense, settings=EvalSettings(eot_samples=1))  # fmt: skip


def test_a_generator_as_the_attacked_model_is_named(toy_generator):
    from ganinverse.defense import FGSM

    with pytest.raises(TypeError, match="model is a generator"):
        FGSM(toy_generator, eps=0.1)
    with pytest.raises(TypeError, match="progress must be a bool"):
        EvalSettings(progress="no")
    with pytest.raises(ValueError, match="seed"):
        EvalSettings(seed=-1)
