"""The attack registry of ``defend eval``: a new attack is its class and one record, here in the
test file alone; every registered record is consistent (label, factory, the undefended rule)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from ganinverse.defense import (
    BPDA,
    Attack,
    AttackContext,
    AttackRecord,
    ProjectionDefense,
    attack_record,
    register_attack,
    registered_attacks,
    unregister_attack,
)
from ganinverse.defense import evaluate as ev
from ganinverse.defense.evaluate import (
    AttackSpec,
    EvalSettings,
    Row,
    evaluate_defense,
    parse_attacks,
)
from ganinverse.seeds import rng

FAST = EvalSettings(pgd_steps=3, bpda_steps=2, eot_samples=2, latent_steps=5, latent_restarts=1)


class RandomStepFGSM(Attack):
    """R+FGSM (Tramèr et al. 2018): a random signed step of α = ε/2, then FGSM with ε − α."""

    def perturb(self, images: Tensor, labels: Tensor) -> Tensor:
        noise = torch.randn(images.shape, generator=rng(0)).sign().to(images.device)
        x = (images + self.eps / 2 * noise).clamp(0, 1)
        x = x + self.eps / 2 * self.gradient(x, labels).sign()
        return (images + (x - images).clamp(-self.eps, self.eps)).clamp(0, 1)


def _rfgsm(c: AttackContext) -> Attack:
    return RandomStepFGSM(c.classifier, c.eps)


CONTEXTS: list[AttackContext] = []


def _spy(c: AttackContext) -> Attack:
    """An adaptive toy: records what it was given and runs one FGSM-like step on f ∘ D."""
    CONTEXTS.append(c)
    return RandomStepFGSM(torch.nn.Sequential(BPDA(c.defense), c.classifier), c.eps)


@pytest.fixture
def toy_records():
    """R+FGSM (L∞ only) and an adaptive spy that is PGD without a defense; removed afterwards."""
    CONTEXTS.clear()
    records = [
        register_attack(AttackRecord("rfgsm", "R+FGSM", _rfgsm, norms=("inf",))),
        register_attack(AttackRecord("spy", "Spy", _spy, adaptive=True, undefended="pgd")),
    ]
    yield records
    for record in reversed(records):
        unregister_attack(record.name)


def test_a_toy_attack_is_a_column_of_evaluate_defense(
    toy_records, toy_generator, range_classifier, range_test_set
):
    clf, _, _ = range_classifier
    x, y = range_test_set
    attacks = parse_attacks("rfgsm:0.15,pgd:0.15")
    assert attacks[0] == AttackSpec("rfgsm", 0.15) and attacks[0].column == "R+FGSM ε=0.15"
    rows = [Row("no defense", clf, False)]
    (plain,) = evaluate_defense(rows, x, y, attacks, settings=FAST)
    cols = ["clean", "R+FGSM ε=0.15", "PGD ε=0.15", "worst case ε=0.15"]
    assert list(plain) == ["model", "n", *cols, "s/image", "flags"]
    assert plain["worst case ε=0.15"] <= min(plain[c] for c in cols[:3])
    assert plain["flags"] == ""  # no cell qualified
    assert 0 <= plain["R+FGSM ε=0.15"] < plain["clean"]
    with pytest.raises(ValueError, match=r"rfgsm is an L∞ attack, not L2; use one of fgsm2, pgd2"):
        parse_attacks("rfgsm2:1")


def test_an_adaptive_toy_attack_is_pgd_without_a_defense_and_gets_the_defense(
    toy_records, toy_generator, range_classifier, range_test_set
):
    clf, _, _ = range_classifier
    x, y = range_test_set[0][:8], range_test_set[1][:8]
    defense = ProjectionDefense(toy_generator, steps=5, restarts=1)
    rows = [Row("no defense", clf, False), Row("projection defense", clf, True)]
    attacks = parse_attacks("spy:0.15,pgd:0.15")
    plain, defended = evaluate_defense(rows, x, y, attacks, defense=defense, settings=FAST)
    assert plain["Spy ε=0.15"] == plain["PGD ε=0.15"]  # the undefended rule
    assert 0 <= defended["Spy ε=0.15"] <= 1
    assert [c.defense for c in CONTEXTS] == [defense]  # built once, for the defended row only


# a 2-step projection at lr 10 may not improve every start: expected at this tiny size
@pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ConvergenceWarning")
def test_a_toy_attack_is_a_column_of_the_cli(toy_records, tmp_path, capsys):
    from ganinverse.cli import main
    from ganinverse.cli.defend import attacks_help
    from ganinverse.models import ClassifierA, MLPGenerator, save_model

    assert "rfgsm (L∞ only)" in attacks_help()[0] and "spy = pgd" in attacks_help()[1]
    torch.manual_seed(0)
    G = MLPGenerator(latent_dim=4, image_shape=(1, 28, 28), hidden=(16,)).eval()
    gen = save_model(G, tmp_path / "gen" / "generator")
    clf = save_model(ClassifierA((1, 28, 28), 10), tmp_path / "clf" / "classifier")

    def argv(attacks: str, out: str) -> list[str]:
        args = ["defend", "eval", "--classifier", str(clf), "--generator", str(gen), "--n", "4"]
        args += ["--dataset", "digits", "--attacks", attacks, "--steps", "2", "--restarts", "1"]
        return [*args, "--device", "cpu", "--no-progress", "--out", str(tmp_path / out)]

    assert main(argv("rfgsm:0.1", "eval")) == 0
    assert "R+FGSM ε=0.1" in (tmp_path / "eval" / "results.md").read_text().splitlines()[0]
    capsys.readouterr()
    assert main(argv("nope:0.1", "bad")) == 2
    assert "'rfgsm', 'spy'" in capsys.readouterr().err  # the unknown name lists the registered


def test_the_built_in_attacks_keep_their_order_and_labels():
    labels = {r.name: r.label for r in registered_attacks()}
    builtin = {"fgsm": "FGSM", "pgd": "PGD", "bpda": "BPDA", "eot": "BPDA+EOT", "latent": "latent"}
    assert list(labels)[:5] == list(builtin) and {k: labels[k] for k in builtin} == builtin
    assert [attack_record(n).adaptive for n in builtin] == [False, False, True, True, False]


@pytest.mark.parametrize("record", registered_attacks(), ids=lambda r: r.name)
def test_every_registered_record_is_consistent(record, toy_classifier, toy_generator):
    assert record.label.strip() and record.name.isidentifier()
    defense = ProjectionDefense(toy_generator, steps=2, restarts=1)
    plain, defended = Row("plain", toy_classifier, False), Row("defended", toy_classifier, True)
    for norm in record.norms:
        (spec,) = parse_attacks(f"{record.name}{'2' if norm == '2' else ''}:0.1")
        assert spec.record is record and spec.column.startswith(record.label)
        for row in (plain, defended):
            attack = ev._make_attack(spec, row, defense, toy_generator, FAST)
            assert isinstance(attack, Attack) and attack.eps == 0.1 and attack.norm == norm
        key = ev._cache_key
        if record.adaptive:  # its undefended form is a registered non-adaptive attack
            twin = AttackSpec(record.undefended, 0.1, norm)
            assert record.for_row(False) is twin.record and not twin.record.adaptive
            assert key(spec, plain) == key(twin, plain) and key(spec, defended) != key(twin, plain)
            built = ev._make_attack(spec, plain, defense, toy_generator, FAST)
            assert repr(built) == repr(ev._make_attack(twin, plain, None, toy_generator, FAST))
        else:  # it does not see the defense: the same images on both rows
            assert record.undefended is None and record.for_row(False) is record
            assert key(spec, plain) == key(spec, defended)


def _make(**fields) -> AttackRecord:
    return AttackRecord(**{"name": "toy", "label": "Toy", "factory": _rfgsm, **fields})


@pytest.mark.parametrize(
    "fields, error, match",
    [
        (dict(name="toy2"), ValueError, "must not end in '2'"),
        (dict(name="Toy attack"), ValueError, "name must be lower-case"),
        (dict(name=None), TypeError, "name must be a str"),
        (dict(label=""), ValueError, "label of attack 'toy' must not be blank"),
        (dict(label=3), TypeError, "label must be a str"),
        (dict(factory="pgd"), TypeError, r"factory of attack 'toy' must be callable"),
        (dict(adaptive=True), ValueError, "must name the attack it is without a defense"),
        (dict(undefended="pgd"), ValueError, "non-adaptive one must leave undefended=None"),
        (dict(norms=("1",)), ValueError, "norms of attack 'toy' must be"),
        (dict(needs_generator="yes"), TypeError, "needs_generator of attack 'toy' must be a bool"),
    ],
)
def test_bad_records_are_refused(fields, error, match):
    with pytest.raises(error, match=match):
        _make(**fields)


@pytest.mark.parametrize(
    "fields, match",
    [
        (dict(name="pgd"), "'pgd' is already registered"),
        (dict(label="PGD"), "label 'PGD' of attack 'toy' is already the label of 'pgd'"),
        (dict(adaptive=True, undefended="nope"), "undefended of attack 'toy' must be a registered"),
        (dict(adaptive=True, undefended="bpda"), "must be a registered non-adaptive attack"),
    ],
)
def test_bad_registrations_are_refused(fields, match):
    before = registered_attacks()
    with pytest.raises(ValueError, match=match):
        register_attack(_make(**fields))
    assert registered_attacks() == before


def test_an_adaptive_record_needs_the_norms_of_its_plain_attack():
    register_attack(_make(name="plainl", label="Plain L-inf", norms=("inf",)))
    try:
        before = registered_attacks()
        with pytest.raises(ValueError, match=r"with norms \('inf', '2'\)"):
            register_attack(_make(adaptive=True, undefended="plainl"))
        assert registered_attacks() == before
    finally:
        unregister_attack("plainl")


def test_registry_lookups_and_removal_name_the_fix():
    with pytest.raises(TypeError, match="record must be an AttackRecord"):
        register_attack("pgd")
    with pytest.raises(ValueError, match=r"attack must be one of 'fgsm', 'pgd', .*got 'nope'"):
        attack_record("nope")
    with pytest.raises(ValueError, match="'pgd' is the undefended form of bpda, eot"):
        unregister_attack("pgd")
    record = register_attack(_make(factory=lambda c: "not an attack"))
    try:
        with pytest.raises(TypeError, match="the factory of attack 'toy' must return an Attack"):
            ev._make_attack(
                AttackSpec("toy", 0.1), Row("p", nn.Identity(), False), None, None, FAST
            )
    finally:
        assert unregister_attack("toy") is record


def test_every_record_reads_only_budget_fields_of_eval_settings():
    """``settings`` names EvalSettings fields (``defend eval`` checks its flags against them)."""
    import dataclasses

    from ganinverse.defense.evaluate import EvalSettings
    from ganinverse.defense.registry import registered_attacks

    fields = {f.name for f in dataclasses.fields(EvalSettings)}
    for record in registered_attacks():
        assert set(record.settings) <= fields, record.name
    assert "latent_steps" in attack_record("latent").settings
    assert "pgd_steps" in attack_record("bpda").budget_fields()  # its undefended pgd's


def test_settings_must_be_a_tuple_of_names():
    with pytest.raises(TypeError, match="settings of attack 'x' must be a tuple"):
        AttackRecord("x", "X", lambda c: None, settings="pgd_steps")


def test_an_unknown_l2_attack_says_how_its_name_was_read():
    """helper-58: `cw2:0` was refused as "got 'cw'", not the name typed."""
    from ganinverse.defense.evaluate import parse_attacks

    with pytest.raises(ValueError, match=r"attack 'cw2:0' \(read as 'cw' in the L2 ball"):
        parse_attacks("cw2:0")
    with pytest.raises(ValueError, match=r"attack 'foo:0.1': attack must be one of"):
        parse_attacks("foo:0.1")


def test_a_parsed_attack_keeps_its_entry_as_typed_outside_its_identity():
    """defend eval names an entry as typed (pgd2:1e9); it re-split --attacks to get that text
    (a twin of parse_attacks' tokenising): the spec holds it now, and it is no part of the
    column (equality, hash, the column's key)."""
    from ganinverse.defense.evaluate import AttackSpec, parse_attacks

    specs = parse_attacks(" fgsm:0.30 , pgd2 : 4e0")
    assert [s.typed for s in specs] == ["fgsm:0.30", "pgd2 : 4e0"]
    assert specs == [AttackSpec("fgsm", 0.3), AttackSpec("pgd", 4.0, "2")]
    assert hash(specs[0]) == hash(AttackSpec("fgsm", 0.3)) and "typed" not in repr(specs[0])
