"""``ganinverse defend eval``: accuracy of classifiers with and without the projection defense
under the attacks of :mod:`ganinverse.defense.registry` (FGSM, PGD, BPDA(+EOT), latent, ...)."""

from __future__ import annotations

import argparse
import math
import os
import warnings

from ..exceptions import user_stacklevel


def _steps_restarts(text: str) -> tuple[int, int]:
    """``"50,2"`` -> (50, 2) for --bpda-projection."""
    from .._validation import NumberTextError, read_number

    parts = text.split(",")
    try:
        values = tuple(read_number(v, int) for v in parts)
    except NumberTextError as err:  # (why the text is no number: '_', a space, ...)
        raise argparse.ArgumentTypeError(f"expected STEPS,RESTARTS, got {text!r}: {err}") from err
    except ValueError:
        values = ()
    if len(values) != 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected STEPS,RESTARTS (two ints >= 1), got {text!r}")
    return values


#: The kind of budget (``_validation.BUDGETS``) of an int flag, by its name's last word.
_COUNT_KINDS = {"steps": "steps", "restarts": "draws", "samples": "draws", "epochs": "epochs"}


def check_flags(args: argparse.Namespace, ints: dict[str, int], rates: tuple[str, ...] = ()):
    """Each int option ``dest`` >= its lower bound (None = unset), each learning rate in
    ``rates`` in (0, 1e6] (``check_learning_rate``); errors name the flag (``--pgd-steps``)."""
    from .._validation import check_count, check_int, check_learning_rate

    for dest, low in ints.items():
        value = getattr(args, dest)
        if value is None:
            continue
        kind = _COUNT_KINDS.get(dest.rsplit("_", 1)[-1])
        if kind is None:
            check_int(value, _flag(dest), low=low)
        else:  # a budget: bounded too (``_validation.BUDGETS``)
            check_count(value, _flag(dest), kind, low=low)
    for dest in rates:
        check_learning_rate(getattr(args, dest), _flag(dest))


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def load_checked(kind: str, name_or_path: str, flag: str, device, image_shape=None):
    """A generator or classifier, its loading errors and a wrong image shape naming ``flag``
    (a bundled name that is also a path here warns: ``models.registry.resolve``)."""
    from ..models import load_classifier, load_generator

    load = load_generator if kind == "generator" else load_classifier
    try:
        model = load(name_or_path, device=device)
    except (FileNotFoundError, ValueError, TypeError) as err:
        raise type(err)(f"{flag} {name_or_path}: {err}") from err
    shape = tuple(int(s) for s in model.image_shape)
    if image_shape is not None and shape != tuple(image_shape):
        raise ValueError(
            f"{flag} {name_or_path} takes/makes images of shape {shape}, but the data are "
            f"{tuple(image_shape)}; pass a {kind} trained on this dataset"
        )
    return model


def load_identified(kind: str, name_or_path: str, flag: str, device, image_shape=None):
    """:func:`load_checked` and the identity of the weights it loaded: ``(model, fingerprint)``
    (:func:`ganinverse.models.model_fingerprint`). A checkpoint rewritten while it was loaded
    (its fingerprint changed meanwhile) is a ValueError: which weights were loaded is unknown."""
    from ..models import model_fingerprint

    try:
        before = model_fingerprint(name_or_path, kind)
    except (FileNotFoundError, ValueError, TypeError, OSError):
        before = None  # (load_checked names the flag in its error)
    model = load_checked(kind, name_or_path, flag, device, image_shape)
    after = model_fingerprint(name_or_path, kind)
    if before is not None and before != after:
        raise ValueError(
            f"{flag} {name_or_path} was rewritten while it was loaded; rerun once it is written"
        )
    return model, after


def labelled_images(
    dataset: str, root: str | None, split: str, n: int | None, start: int, flag: str
):
    """Images ``start .. start+n-1`` of a labelled split in [0, 1] and their labels; a split too
    small for ``n`` is an error naming ``flag`` (``n=None``: the rest of the split)."""
    from .._validation import check_int
    from ..data import image_dataset, to_unit

    try:
        ds = image_dataset(dataset, root, split)
    except ValueError as err:
        if str(err).startswith("split for"):  # (the flag that set it, as the sweep names it)
            raise ValueError(f"--split: {err}") from err
        raise
    total = len(ds)
    check_int(start, "--start", low=0)
    available = total - start
    if available < 1:  # (no --n can help: the first image lies beyond the split)
        raise ValueError(
            f"--start {start} is beyond the {total} images of {dataset!r} split {split!r} "
            f"(valid: 0..{total - 1}); pass a smaller --start"
        )
    if n is not None and n > available:
        raise ValueError(
            f"{flag}={n} images"
            + (f" from --start {start}" if start else "")
            + f" exceed the {total} images of {dataset!r} "
            f"split {split!r}; pass {flag} <= {max(available, 0)}"
        )
    x, labels = ds.batch(start, start + (available if n is None else n))
    if labels is None:
        raise ValueError(f"dataset {dataset!r} has no labels; a classifier needs them")
    return to_unit(x).clamp(0, 1), labels


def attacks_help() -> tuple[str, str]:
    """The ``--attacks`` help and the threat-model sentence of ``defend eval --help``, read
    from the attack registry (:mod:`ganinverse.defense.registry`)."""
    from ..defense.registry import registered_attacks

    records = registered_attacks()
    names = ", ".join(r.name if "2" in r.norms else f"{r.name} (L∞ only)" for r in records)
    oblivious = "/".join(r.name for r in records if not r.adaptive)
    adaptive = [r for r in records if r.adaptive]
    threat = (
        f"{oblivious} on a defended row are computed on the classifier alone (defense-oblivious)"
    )
    if adaptive:
        threat += (
            f"; {'/'.join(r.name for r in adaptive)} attack through the projection (on an "
            f"undefended row: {', '.join(f'{r.name} = {r.undefended}' for r in adaptive)})"
        )
    threat += "."
    return f"comma-separated name:eps with name in {names} (+ '2' for L2)", threat


def _budget_flag(group: argparse._ArgumentGroup):
    """``add(flag, **kw)``: an attack-budget flag whose unset value is None (so a flag the user
    set can be told from its default) and whose help shows the EvalSettings default."""
    from ..defense.evaluate import EvalSettings

    defaults = EvalSettings()

    def add(flag: str, **kw) -> None:
        default = getattr(defaults, flag[2:].replace("-", "_"))
        shown = "" if default is None else f" (default: {default})"
        group.add_argument(flag, default=None, **{**kw, "help": kw.get("help", "") + shown})

    return add


BUDGETS = (
    "pgd_steps",
    "bpda_steps",
    "bpda_projection",
    "eot_samples",
    "unroll_steps",
    "latent_steps",
    "latent_restarts",
)


#: the flags of the entries of an evaluation's record (``meta_differences``): a rerun that
#: differs in one is refused naming the flag and both values ("--pgd-steps: recorded 40, now 4")
RECORD_FLAGS = {
    "out": "--out",
    "n": "--n",
    **{
        f"settings.{dest}": _flag(dest)
        for dest in (*BUDGETS, "batch_size", "seed", "keep_best", "attack_loss")
    },
    **{f"defense.{k}": f"--{k}" for k in ("steps", "restarts", "lr")},
    "tag.generator": "--generator",
    "tag.classifiers[0]": "--classifier",
    "tag.classifiers[1]": "--classifier-adv",
    "tag.classifiers[2]": "--classifier-rm",
    "tag.data[0]": "--dataset",
    "tag.data[1]": "--split",
    "tag.data[2]": "--start",
    "rows": "the rows (--classifier-adv, --classifier-rm)",
}


#: the checkpoint flags of defend eval: (dest, kind, where the record keeps its spelling)
CHECKPOINT_FLAGS = (
    ("generator", "generator", ("generator",)),
    ("classifier", "classifier", ("classifiers", 0)),
    ("classifier_adv", "classifier", ("classifiers", 1)),
    ("classifier_rm", "classifier", ("classifiers", 2)),
)


def _checkpoint_file(text: str, kind: str) -> str | None:
    """The real path of the card a name or path loads (None if it loads nothing)."""
    from ..models.registry import resolve

    try:
        stem = resolve(text, kind)
    except (FileNotFoundError, TypeError):
        return None
    return os.path.realpath(stem.with_name(stem.name + ".json"))


def adopt_recorded_spellings(args: argparse.Namespace) -> None:
    """On a rerun into a folder with a ``cells.json``, a checkpoint flag spelt otherwise than the
    record (``./clf/``, an absolute path, ``clf/classifier.json``, a symlink) but loading the
    same card file takes the recorded spelling, so the rerun resumes (helper-59, helper-60).
    The path itself is never rewritten otherwise: ``./digits`` stays a folder, not the bundled
    ``digits``. A broken record is left to ``evaluate_defense``'s refusal."""
    from ..defense.evaluate import STATE_FILE
    from ..io import read_json

    path = os.path.join(args.out, STATE_FILE)
    try:
        tag = read_json(path, "cells file")["meta"]["tag"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    for dest, kind, where in CHECKPOINT_FLAGS:
        now = getattr(args, dest)
        try:
            then = tag[where[0]] if len(where) == 1 else tag[where[0]][where[1]]
        except (KeyError, IndexError, TypeError):
            continue
        if not now or not isinstance(then, str) or not then or now == then:
            continue
        same = _checkpoint_file(now, kind)
        if same is not None and same == _checkpoint_file(then, kind):
            setattr(args, dest, then)


def _check_budget_acts(args: argparse.Namespace, dest: str) -> None:
    """A --bpda-projection equal to the defense's own projection, or --unroll-steps beyond the
    projection's steps (K >= L differentiates the whole run) changes nothing: a ValueError.
    (An attack of ε = 0, which would leave its budgets idle, is refused by ``AttackSpec``.)"""
    if dest == "bpda_projection" and tuple(args.bpda_projection) == (args.steps, args.restarts):
        raise ValueError(
            f"--bpda-projection {args.steps},{args.restarts} is the defense's own projection "
            "(--steps, --restarts), which the attacks use without it: pass a cheaper one or drop "
            "--bpda-projection"
        )
    if dest == "eot_samples" and args.eot_samples == 1:
        raise ValueError(
            "--eot-samples 1 makes BPDA+EOT the BPDA attack (one projection per gradient, "
            "nothing averaged): pass 2 or more, or list bpda instead of eot"
        )
    projection = ("--bpda-projection", args.bpda_projection[0]) if args.bpda_projection else None
    flag_steps, steps = projection or ("--steps", args.steps)  # (the attacker's projection)
    if dest == "unroll_steps" and args.unroll_steps > steps:
        raise ValueError(
            f"--unroll-steps {args.unroll_steps} is beyond the attacked projection's steps "
            f"({flag_steps} {steps}): K >= {steps} differentiates the whole run alike; pass at "
            f"most {steps}"
        )


def check_budgets_used(args: argparse.Namespace, attacks) -> None:
    """A budget flag the user set that no attack of ``--attacks`` reads (``--latent-steps``
    without ``latent``, ``--eot-samples`` without ``eot``, ...: ``AttackRecord.settings``;
    an adaptive attack also reads those of the attack it is on an undefended row) would be
    ignored: a ValueError naming the flag and the attacks that read it."""
    from ..defense.registry import registered_attacks

    read = set().union(*(spec.record.budget_fields() for spec in attacks))
    for dest in BUDGETS:
        if getattr(args, dest) is not None and dest in read:
            _check_budget_acts(args, dest)
        if getattr(args, dest) is None or dest in read:
            continue
        readers = [r.name for r in registered_attacks() if dest in r.budget_fields()]
        raise ValueError(
            f"{_flag(dest)} is a budget of the attack(s) {', '.join(readers)}, none of which "
            f"--attacks {args.attacks} includes: add one (e.g. {readers[0]}:EPS) to --attacks "
            "or drop the flag"
        )


#: the rows of ``defend eval``, in table order: (label, the classifier flag that fills it,
#: the training its label claims as train-classifier's ``--adversarial`` records it in the
#: card, whether the projection defense stands in front). A row whose flag is not given is left
#: out (``--classifier`` is required).
ROWS = (
    ("no defense", "--classifier", "none", False),
    ("adversarial training (PGD)", "--classifier-adv", "pgd", False),
    ("projection defense", "--classifier", "none", True),
    ("projection + robust-manifold training", "--classifier-rm", "manifold", True),
)
#: per classifier flag: (the training its rows claim, their labels quoted), from :data:`ROWS`
ROW_TRAINING = {
    flag: (kind, " and ".join(f"'{label}'" for label, f, _, _ in ROWS if f == flag))
    for _, flag, kind, _ in ROWS
}


def check_row_training(model, flag: str, path: str) -> None:
    """Refuse a classifier whose card (train-classifier's ``"adversarial"`` record) says it was
    trained otherwise than the rows ``flag`` fills are labelled: a plain classifier passed as
    --classifier-adv would be reported as "adversarial training (PGD)" (helper-54). A ValueError
    naming the flag, the card's training and the flag that takes it. A checkpoint without that
    record (the user's own, or a benchmark's) is taken as the flag says."""
    trained = (getattr(model, "checkpoint_config", None) or {}).get("adversarial")
    wanted, rows = ROW_TRAINING[flag]
    if trained is None or trained == wanted:
        return
    takes = [f for f, (kind, _) in ROW_TRAINING.items() if kind == trained]
    raise ValueError(
        f"{flag} {path} was trained with --adversarial {trained} (its classifier.json), but "
        f"{flag} fills the row(s) {rows}, which need a classifier trained with --adversarial "
        f"{wanted}"
        + (f"; pass it as {takes[0]}" if takes else "")
        + f", or pass a classifier trained with --adversarial {wanted} as {flag}"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "defend",
        help="the robust-manifold (projection) defense and attacks that know it",
        description="Project inputs onto the range of a generator before classifying them "
        "(Ilyas et al. 2017; Defense-GAN) and evaluate it against adaptive attacks.",
    )
    sub = p.add_subparsers(dest="defend_command", metavar="ACTION", required=True)
    attacks, threat = attacks_help()
    e = sub.add_parser(
        "eval",
        help="accuracy table: models x attacks",
        description="Rows: no defense (--classifier), adversarial training (--classifier-adv), "
        "projection defense (--classifier behind the projection), projection + robust-manifold "
        "training (--classifier-rm behind the projection). Columns: clean and each attack. "
        f"{threat} A '2' suffix (pgd2:4.0) means the L2 ball. Writes OUT/results.csv, "
        "OUT/results.md and OUT/cells.json (rerun with the same settings to resume). Every "
        "argument, the models, the data and --out are checked before the first attack; a failed "
        "start writes nothing. A classifier that learned nothing (a training status other than "
        "ok in its train-classifier JSON, or a clean accuracy on the images no better than a "
        "constant guess of their most frequent label) is warned about (ConvergenceWarning) and "
        "its rows are named under the table of results.md.",
    )
    e.add_argument("--classifier", required=True, help="checkpoint of the plain classifier")
    e.add_argument("--classifier-adv", help="checkpoint of the PGD-trained classifier")
    e.add_argument("--classifier-rm", help="checkpoint of the robust-manifold-trained classifier")
    e.add_argument("--generator", required=True, help="bundled name or checkpoint path")
    e.add_argument(
        "--dataset", default="mnist", help="the images' dataset: a name (see --help of sweep)"
    )
    e.add_argument("--data-root", help="its folder (not needed for digits)")
    e.add_argument("--split", help="the split evaluated (default: test; all for a folder)")
    e.add_argument("--n", type=int, default=100, help="number of test images")
    e.add_argument("--start", type=int, default=0, help="index of the first test image")
    e.add_argument(
        "--attacks",
        default="fgsm:0.3,pgd:0.3,bpda:0.3,latent:0.3",
        help=attacks,
    )
    e.add_argument(
        "--out",
        required=True,
        help="output folder; a rerun resumes it and may add attacks (the tables show the "
        "attacks of that run; the other cells stay in cells.json), and one with other settings, "
        "or with a model retrained or replaced at its path, is refused (cells.json records the "
        "settings and the fingerprint of every checkpoint loaded)",
    )
    g = e.add_argument_group("projection defense (Defense-GAN defaults)")
    g.add_argument("--steps", type=int, default=200, help="projection steps per restart")
    g.add_argument("--restarts", type=int, default=10, help="projection restarts")
    g.add_argument("--lr", type=float, default=10.0, help="SGD learning rate (momentum 0.7)")
    a = e.add_argument_group(
        "attack budgets (each is refused unless an attack of --attacks reads it)"
    )
    budget = _budget_flag(a)
    budget("--pgd-steps", type=int, help="PGD steps")
    budget("--bpda-steps", type=int, help="steps of the adaptive attacks; each runs a projection")
    budget(
        "--bpda-projection",
        type=_steps_restarts,
        metavar="STEPS,RESTARTS",
        help="the projection the adaptive attacks differentiate through, usually a cheaper one "
        "than --steps,--restarts (each cell is scored with the full defense; default: the "
        "defense's own)",
    )
    budget("--eot-samples", type=int, help="projections per EOT gradient")
    budget(
        "--unroll-steps",
        type=int,
        help="the last K projection steps the unrolled attack differentiates through",
    )
    budget("--latent-steps", type=int, help="steps of the latent attack")
    budget("--latent-restarts", type=int, help="restarts of the latent attack")
    e.add_argument(
        "--keep-best",
        action="store_true",
        help="PGD-family attacks return per image their first misclassified iterate, not the "
        "last (as APGD keeps its best point)",
    )
    e.add_argument(
        "--attack-loss",
        default=None,
        help="the loss the PGD-family attacks ascend: ce (cross-entropy, default) or margin "
        "(the logit margin max_{j≠y} Z_j − Z_y of Carlini & Wagner, which does not saturate)",
    )
    e.add_argument("--batch-size", type=int, default=100, help="images per attack batch")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda:N")
    e.add_argument("--no-progress", action="store_true", help="hide progress bars")
    e.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    """Check every argument, the models, the data and ``--out`` before the first attack."""
    from .._validation import check_choice, check_count
    from ..data import check_trained_on, default_split
    from ..defense.attacks import check_budget
    from ..defense.evaluate import (
        STATE_FILE,
        EvalSettings,
        Row,
        cell_notes,
        check_evaluation_dir,
        evaluate_defense,
        format_markdown,
        parse_attacks,
    )
    from ..defense.projection import ProjectionDefense
    from ..device import resolve_device
    from ..io import read_json
    from ..models.classifier import check_labels, num_classes_of

    try:
        attacks = parse_attacks(args.attacks)
    except ValueError as err:
        raise ValueError(f"--attacks: {err}") from err
    ints = ("n", "steps", "restarts", "pgd_steps", "bpda_steps", "eot_samples", "latent_steps")
    ints += ("unroll_steps",)
    check_flags(
        args,
        {**dict.fromkeys(ints, 1), "latent_restarts": 1, "batch_size": 1, "start": 0, "seed": 0},
        rates=("lr",),
    )
    if args.bpda_projection is not None:  # (EvalSettings' budgets, named by the flag)
        check_count(args.bpda_projection[0], "--bpda-projection STEPS", "steps")
        check_count(args.bpda_projection[1], "--bpda-projection RESTARTS", "draws")
    check_budgets_used(args, attacks)
    if args.keep_best and not any("keep_best" in s.record.budget_fields() for s in attacks):
        raise ValueError(
            f"--keep-best acts on the PGD-family attacks, none of which --attacks {args.attacks} "
            "includes: add one (e.g. pgd:EPS) or drop the flag"
        )
    if args.attack_loss is not None:
        from ..defense.attacks import ATTACK_LOSSES

        check_choice(args.attack_loss, "--attack-loss", tuple(ATTACK_LOSSES))
        if not any("attack_loss" in s.record.budget_fields() for s in attacks):
            raise ValueError(
                f"--attack-loss acts on the PGD-family attacks, none of which --attacks "
                f"{args.attacks} includes: add one (e.g. pgd:EPS) or drop the flag"
            )
    budgets = {k: getattr(args, k) for k in BUDGETS if getattr(args, k) is not None}
    settings = EvalSettings(
        **budgets,
        batch_size=args.batch_size,
        seed=args.seed,
        progress=not args.no_progress,
        keep_best=args.keep_best,
        attack_loss="ce" if args.attack_loss is None else args.attack_loss,
    )
    adopt_recorded_spellings(args)
    device = resolve_device(args.device)
    out = check_evaluation_dir(args.out, "--out")  # new, empty or this command's own folder
    args.split = args.split if args.split is not None else default_split(args.dataset)
    if args.split == "train":
        warnings.warn(
            f"defend eval --split train: the classifiers were trained on the {args.dataset} "
            "training images, so clean and attacked accuracies on them overstate what held-out "
            "images give; evaluate --split test unless this is meant",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    images, labels = labelled_images(
        args.dataset, args.data_root, args.split, args.n, args.start, "--n"
    )
    shape = tuple(images.shape[1:])
    # each checkpoint's identity is recorded in cells.json: a rerun with one retrained or
    # replaced at its path is refused rather than mixing two models' cells in one table
    G, fp = load_identified("generator", args.generator, "--generator", device, shape)
    fingerprints = {f"--generator {args.generator}": fp}
    check_trained_on(G, "--generator", args.generator, args.dataset, "generator")
    flags = {"--classifier": args.classifier, "--classifier-adv": args.classifier_adv}
    flags["--classifier-rm"] = args.classifier_rm
    classifiers = {}
    for flag, path in flags.items():
        if path:
            classifiers[flag], fingerprints[f"{flag} {path}"] = load_identified(
                "classifier", path, flag, device, shape
            )
    for flag, clf in classifiers.items():
        check_trained_on(clf, flag, flags[flag], args.dataset, "classifier")
        check_row_training(clf, flag, flags[flag])
        k = num_classes_of(clf, images, f"{flag} {flags[flag]}")
        check_labels(labels, k, f"the labels of --dataset {args.dataset}", f"{flag} {flags[flag]}")
    n = math.prod(images.shape[1:])
    for spec in attacks:  # (each named as typed: pgd2:1e9)
        check_budget(
            spec.eps, f"--attacks {spec.typed or spec.token}: eps", spec.norm, n, strict=True
        )
    defense = ProjectionDefense(
        G, steps=args.steps, restarts=args.restarts, lr=args.lr, seed=args.seed, progress=False
    )
    rows = [
        Row(label, classifiers[f], defended) for label, f, _, defended in ROWS if f in classifiers
    ]
    table = evaluate_defense(
        rows,
        images,
        labels,
        attacks,
        defense=defense,
        G=G,
        settings=settings,
        out=out,
        tag={
            "generator": args.generator,
            "classifiers": [args.classifier, args.classifier_adv, args.classifier_rm],
            "data": [args.dataset, args.split, args.start],
        },
        fingerprints=fingerprints,
        names=RECORD_FLAGS,
    )
    print(format_markdown(table), end="")
    note = cell_notes(read_json(out / STATE_FILE, "cells file").get("cells", {}))
    if note:
        print(note, end="")
    print(f"-> {os.path.join(args.out, 'results.csv')}, results.md")
    return 0
