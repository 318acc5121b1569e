"""``ganinverse train-classifier``: Defense-GAN model A / B on a dataset, optionally adversarially
trained (Madry PGD or robust-manifold) or trained on the projections G(ẑ) of the images."""

from __future__ import annotations

import argparse
import json
import time
import warnings

import torch

from ..defense.training import ADVERSARIAL_DEFAULTS
from ..exceptions import user_stacklevel

#: Options of one kind of training only, by dest: (their default, whether the run uses them,
#: the flags that make it use them). Their flags default to None so that one the user set for
#: a training that does not run is refused, not ignored.
_ANY, _MANIFOLD = "--adversarial pgd or manifold", "--adversarial manifold"
TRAINING_OPTIONS = {  # (the API's defaults; the manifold share of --adversarial manifold: half)
    "eps": (ADVERSARIAL_DEFAULTS["eps"], lambda a: a.adversarial != "none", _ANY),
    "pgd_steps": (ADVERSARIAL_DEFAULTS["steps"], lambda a: a.adversarial != "none", _ANY),
    "manifold_fraction": (0.5, lambda a: a.adversarial == "manifold", _MANIFOLD),
    "manifold_eps": (
        ADVERSARIAL_DEFAULTS["manifold_eps"],
        lambda a: a.adversarial == "manifold",
        _MANIFOLD,
    ),
    "manifold_steps": (
        ADVERSARIAL_DEFAULTS["manifold_steps"],
        lambda a: a.adversarial == "manifold",
        _MANIFOLD,
    ),
    "projection_steps": (200, lambda a: bool(a.on_reconstructions), "--on-reconstructions G"),
    "projection_restarts": (10, lambda a: bool(a.on_reconstructions), "--on-reconstructions G"),
}


#: images per training step unless --batch-size says otherwise (all of them when fewer)
BATCH_SIZE = 128


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-classifier",
        help="train a classifier (Defense-GAN model A or B) and save it as safetensors + JSON",
        description="Trains on the train split (first --n images), reports the accuracy on the "
        "test split and writes OUT/classifier.safetensors + OUT/classifier.json. Every argument, "
        "the data, the generators and --out are checked before training; a failed start writes "
        "nothing. The JSON records the training status: ok, or why the classifier learned "
        "nothing (a ConvergenceWarning says so; defend eval flags such a classifier).",
    )
    p.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist, digits, ...")
    p.add_argument("--data-root", help="folder holding the dataset (see ganinverse.data)")
    p.add_argument("--model", default="A", choices=("A", "B"), help="Defense-GAN architecture")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--n", type=int, help="train on the first N images (default: all)")
    p.add_argument(
        "--n-test",
        type=int,
        help="test images for the reported accuracy (default: the whole test split)",
    )
    p.add_argument("--batch-size", type=int, help=f"images per step (default {BATCH_SIZE})")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--adversarial",
        default="none",
        choices=("none", "pgd", "manifold"),
        help="pgd: Madry PGD training; manifold: robust-manifold training (PGD + overpowered "
        "pairs of --generator)",
    )
    p.add_argument("--eps", type=float, help="L∞ PGD radius, [0, 1] scale")
    p.add_argument("--pgd-steps", type=int, help="PGD steps per training batch")
    p.add_argument(
        "--generator", help="generator of the overpowered pairs (--adversarial manifold)"
    )
    p.add_argument(
        "--manifold-fraction", type=float, help="share ρ of each batch made of overpowered pairs"
    )
    p.add_argument("--manifold-eps", type=float, help="L2 budget of the pairs")
    p.add_argument("--manifold-steps", type=int, help="steps of the attack finding each pair")
    p.add_argument(
        "--on-reconstructions",
        metavar="GENERATOR",
        help="train on the projections G(ẑ) of the images (Defense-GAN's variant)",
    )
    p.add_argument("--projection-steps", type=int, help="latent steps of each projection")
    p.add_argument("--projection-restarts", type=int, help="restarts of each projection")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda:N")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    for action in p._actions:  # (their flags default to None: the default used, in the help)
        if action.dest in TRAINING_OPTIONS:
            default, _, needs = TRAINING_OPTIONS[action.dest]
            lead = f"{action.help}; " if action.help else ""
            action.help = f"{lead}default {default:g}, with {needs}"
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._validation import check_number
    from ..data import check_trained_on
    from ..defense.adaptive import check_generator
    from ..defense.attacks import check_budget
    from ..defense.projection import ProjectionDefense
    from ..defense.training import adversarial_training, project_images
    from ..device import resolve_device
    from ..exceptions import ConvergenceWarning
    from ..models import accuracy, build_classifier, save_model, train_classifier
    from ..models.classifier import TRAINING_OK, constant_guess_accuracy, training_status
    from .defend import check_flags, labelled_images, load_checked

    batch_given = args.batch_size is not None
    if not batch_given:
        args.batch_size = BATCH_SIZE

    if args.adversarial == "manifold" and not args.generator:
        raise ValueError("--adversarial manifold needs --generator (bundled name or checkpoint)")
    if args.generator and args.adversarial != "manifold":
        raise ValueError(
            "--generator is only used by --adversarial manifold; to train on projections "
            "pass --on-reconstructions GENERATOR"
        )
    check_flags(
        args,
        {
            "epochs": 1,
            "n": 1,
            "n_test": 1,
            "batch_size": 1,
            "seed": 0,
            "pgd_steps": 1,
            "manifold_steps": 1,
            "projection_steps": 1,
            "projection_restarts": 1,
        },
        rates=("lr",),
    )
    if args.eps is not None:
        check_budget(args.eps, "--eps", "inf", strict=True, zero_checked_later=True)
    if args.manifold_fraction is not None:
        check_number(args.manifold_fraction, "--manifold-fraction", low=0.0, high=1.0)
    if args.manifold_eps is not None:
        check_number(args.manifold_eps, "--manifold-eps", low=0.0, low_open=True)
    set_flags = {dest for dest in TRAINING_OPTIONS if getattr(args, dest) is not None}
    for dest, (default, used, needs) in TRAINING_OPTIONS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, default)
        elif not used(args):  # a flag of a training that does not run would be ignored
            flag = "--" + dest.replace("_", "-")
            raise ValueError(
                f"{flag} is used only with {needs}, which this run does not do: add {needs}, "
                "or drop the flag"
            )
    if args.adversarial != "none":
        _check_adversarial_acts(args, set_flags)
    device = resolve_device(args.device)
    out = check_classifier_dir(args.out, "--out")
    start = time.perf_counter()
    x, y = labelled_images(args.dataset, args.data_root, "train", args.n, 0, "--n")
    x_test, y_test = labelled_images(
        args.dataset, args.data_root, "test", args.n_test, 0, "--n-test"
    )
    if batch_given and args.batch_size > len(x):
        raise ValueError(
            f"--batch-size {args.batch_size} exceeds the {len(x)} training images (--n): every "
            f"step would train on all of them; pass --batch-size <= {len(x)}"
        )
    shape = tuple(x.shape[1:])
    if tuple(x_test.shape[1:]) != shape:
        raise ValueError(
            f"the train images are {shape} but the test images {tuple(x_test.shape[1:])}"
        )
    num_classes = int(max(y.max(), y_test.max())) + 1
    with torch.random.fork_rng():  # the initial weights are a function of --seed (helper-49)
        torch.manual_seed(args.seed)
        model = build_classifier(args.model, shape, num_classes)
    G = None
    if args.generator:
        G = load_checked("generator", args.generator, "--generator", device, shape)
        check_trained_on(G, "--generator", args.generator, args.dataset, "generator")
        check_generator(G, model, "--generator")
        check_budget(args.manifold_eps, "--manifold-eps", "2", x[0].numel())
    G_rec = None
    if args.on_reconstructions:
        G_rec = load_checked(
            "generator", args.on_reconstructions, "--on-reconstructions", device, shape
        )
        check_trained_on(
            G_rec, "--on-reconstructions", args.on_reconstructions, args.dataset, "generator"
        )
    progress = not args.no_progress
    if G_rec is not None:
        defense = ProjectionDefense(
            G_rec, steps=args.projection_steps, restarts=args.projection_restarts, progress=False
        )
        x = project_images(defense, x, progress=progress)
    train = dict(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        device=device,
        progress=progress,
    )
    if args.adversarial == "none":
        model = train_classifier(model, x, y, **train)
    else:
        model = adversarial_training(
            model,
            x,
            y,
            eps=args.eps,
            steps=args.pgd_steps,
            G=G,
            manifold_fraction=args.manifold_fraction if args.adversarial == "manifold" else 0.0,
            manifold_eps=args.manifold_eps,
            manifold_steps=args.manifold_steps,
            **train,
        )
    acc = accuracy(model, x_test, y_test)
    # "ok", or why the classifier learned nothing (train_classifier warned ConvergenceWarning):
    # recorded so that defend eval flags its accuracies
    status = training_status(model)
    guess = constant_guess_accuracy(y_test)
    if status == TRAINING_OK and guess < 1 and acc <= guess:  # (the probe batch was seen)
        status = (
            f"the classifier is no more accurate on the {len(x_test)} test images ({acc:.3g}) "
            f"than a constant guess of their most frequent label ({guess:.3g}): it never "
            "learned the classes; raise --epochs or change --lr"
            + (" or lower --eps" if args.adversarial != "none" else "")
        )
        warnings.warn(
            f"train-classifier: {status}", ConvergenceWarning, stacklevel=user_stacklevel()
        )
    config = {
        "dataset": args.dataset,
        "train_images": len(x),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "adversarial": args.adversarial,
        "test_accuracy": acc,
        "training_status": status,
        "test_images": len(x_test),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if args.adversarial != "none":
        config.update(eps=args.eps, pgd_steps=args.pgd_steps)
    if args.adversarial == "manifold":
        config.update(
            generator=args.generator,
            manifold_fraction=args.manifold_fraction,
            manifold_eps=args.manifold_eps,
            manifold_steps=args.manifold_steps,
        )
    if args.on_reconstructions:
        config.update(
            on_reconstructions=args.on_reconstructions,
            projection_steps=args.projection_steps,
            projection_restarts=args.projection_restarts,
        )
    stem = save_model(model, out / "classifier", config)  # the pair is written atomically
    print(json.dumps({"checkpoint": str(stem), "test_accuracy": acc, "training_status": status}))
    return 0


#: what ``train-classifier`` writes into --out (the pair, and the kept previous pair of a save)
CLASSIFIER_FILES = frozenset(
    f"classifier{kind}.{ext}" for kind in ("", ".prev") for ext in ("safetensors", "json")
)


def check_classifier_dir(out, name: str = "--out"):
    """``out`` as a Path if ``train-classifier`` may write there: new, empty, or an earlier
    classifier of this command (only its ``classifier.*`` pair, which is replaced). A folder
    holding anything else (a sweep, a pretraining run, an evaluation, the user's own files) or
    a ``classifier.json`` that is not one of this command's checkpoints is refused, never
    overwritten or mixed into: a ValueError naming ``name``. Nothing is written."""
    from ..io import check_output_dir
    from ..models import load_classifier

    path = check_output_dir(out, name)
    if not path.is_dir():
        return path
    present = sorted(p.name for p in path.iterdir())
    others = [f for f in present if f not in CLASSIFIER_FILES]
    if not others and "classifier.json" in present:
        try:
            config = load_classifier(path, device="cpu").checkpoint_config or {}
        except (ValueError, TypeError, FileNotFoundError, OSError):
            config = {}
        if "adversarial" not in config:  # (every train-classifier checkpoint records it)
            others = ["classifier.json (not a train-classifier checkpoint)"]
    elif not others and present:
        others = present  # a lone half of a pair: not ours
    if others:
        listed = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise ValueError(
            f"{name} {str(out)!r} holds files that are not a classifier of train-classifier "
            f"({listed}); pass a new or empty folder (an earlier train-classifier result there "
            "is replaced), or move those files away"
        )
    return path


#: train-classifier's flags (dests) by ``adversarial_training``'s option names
_ADVERSARIAL_FLAGS = {"eps": "eps", "steps": "pgd_steps", "manifold_eps": "manifold_eps"}
_ADVERSARIAL_FLAGS.update(manifold_steps="manifold_steps", manifold_fraction="manifold_fraction")


def _check_adversarial_acts(args: argparse.Namespace, set_flags: set[str]) -> None:
    """A flag of the adversarial training that changes nothing with the others
    (``defense.training.idle_adversarial_options``: --eps 0, --pgd-steps with
    --manifold-fraction 1, ...) or a manifold fraction that rounds to no image of a batch
    (``check_manifold_share``): a ValueError naming the flag."""
    from ..defense.training import check_manifold_share, idle_adversarial_options

    fraction = args.manifold_fraction if args.adversarial == "manifold" else 0.0
    if args.adversarial == "manifold" and fraction == 0:
        raise ValueError(
            "--manifold-fraction 0 puts no image on the manifold: that is --adversarial pgd; "
            "pass a fraction in (0, 1]"
        )
    check_manifold_share(fraction, args.batch_size, "--manifold-fraction")
    options = {k: getattr(args, dest) for k, dest in _ADVERSARIAL_FLAGS.items()}
    options.update(alpha=None, G=args.generator, manifold_fraction=fraction)
    given = {k for k, dest in _ADVERSARIAL_FLAGS.items() if dest in set_flags}
    idle = idle_adversarial_options(options, given, args.batch_size)
    if idle:
        names = [m.split()[0].split("=")[0] for m in idle]
        flags = ["--" + _ADVERSARIAL_FLAGS[n].replace("_", "-") for n in names]
        zero = "eps" in names and options["eps"] == 0
        fix = "pass --eps > 0, or --adversarial none" if zero else f"drop {', '.join(flags)}"
        text = "; ".join(m.replace("manifold_fraction=", "--manifold-fraction ") for m in idle)
        raise ValueError(f"{flags[0]}: {text}; {fix}")
