"""``python -m pretrain`` / ``ganinverse-pretrain``: train a GAN (or VAE) prior, write a checkpoint.

Single process:  python -m pretrain --dataset digits --steps 2000 --out runs/digits
Many GPUs:       torchrun --nproc_per_node=4 -m pretrain --dataset mnist --data-root DATA ...
Resume:          python -m pretrain --out runs/digits --resume [--steps 4000]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import warnings
from pathlib import Path

import torch

from ganinverse._validation import check_choice, check_int
from ganinverse.cli._common import OneLineParser
from ganinverse.io import check_output_dir

from .losses import LOSSES, GANLoss, Loss
from .state import has_state, read_state_info
from .trainer import (
    ARCHS,
    NORMS,
    OPTIMIZERS,
    TrainConfig,
    TrainingDiverged,
    check_same_experiment,
    choices,
    idle_options,
    train,
)
from .verdict import TRAINING_OK
from .warmstart import check_init, init_text

#: Help of the options that do not depend on the loss; loss_help() writes the others.
HELP = {
    "dataset": "ganinverse.data source: digits, mnist, fashion-mnist, cifar10, celeba, celeba64, folder",
    "data_root": "folder holding the dataset (not needed for digits)",
    "image_size": "resize images to this square size (28, 32 or 64 for the DCGAN; default: "
    "the dataset's own size)",
    "n_train": "use only the first N training images (default: all of them)",
    "arch": f"generator architecture: {', '.join(ARCHS)}",
    "latent_dim": "size of z",
    "ngf": "DCGAN generator width",
    "ndf": "discriminator width",
    "hidden": "MLP generator hidden widths",
    "lr_d": "discriminator learning rate (default: --lr)",
    "batch_size": "global batch size (split across torchrun ranks)",
    "augment": "training-image augmentation: none, or hflip (each image mirrored left-right "
    "with probability 1/2; for faces and other mirror-symmetric images, not digits)",
    "init": "start from this generator and its discriminator (a VAE: encoder) instead of "
    "random weights: a bundled name (e.g. celeba64-lsgan) or a pretrain --out folder; its "
    "sizes (--ngf, --ndf, --latent-dim, ...) must be this run's; fresh optimisers, steps "
    "counted from 0 (default: none, train from scratch)",
    "steps": "generator steps to train to (total, also when resuming)",
    "seed": "seed of weights, data order and noise",
    "ema_decay": "decay of the EMA of generator weights (0: no averaging, the EMA is G)",
    "out": "output folder: checkpoint, generator.*, losses.csv/png, samples/",
    "save_every": "checkpoint every N steps (beyond --steps: only at the end)",
    "sample_every": "sample grid every N steps (beyond --steps: only samples/latest.png at the end)",
    "log_every": "loss row every N steps",
    "device": "auto, cpu, cuda, cuda:N",
}


def _per_loss(value, losses: dict[str, type[Loss]]) -> str:
    """``value(cls)`` of each loss, grouped by value: "v1 for loss1, loss2; v2 for loss3"."""
    groups: dict[str, list[str]] = {}
    for name, cls in losses.items():
        groups.setdefault(value(cls), []).append(name)
    return "; ".join(f"{v} for {', '.join(names)}" for v, names in groups.items())


def _needs(cls: type[Loss]) -> str:
    """What a loss's ``arch`` / ``amp_compile`` rules ask of the command line ("" if nothing)."""
    needs = [f"--arch {cls.arch}"] if cls.arch is not None else []
    needs += [] if cls.amp_compile else ["no --amp/--compile"]
    return f", needs {' and '.join(needs)}" if needs else ""


def loss_help() -> dict[str, str]:
    """Help of the options whose defaults and rules belong to the losses, read from the loss
    classes registered in LOSSES now (their summary, defaults, options and refusals)."""
    critics = {n: c for n, c in LOSSES.items() if issubclass(c, GANLoss)}  # losses with a D

    def num(x: float) -> str:
        return f"{x:g}"

    refused = "".join(
        f"; not {norm} with {name}: {why}"
        for name, cls in critics.items()
        for norm, why in cls.refused_d_norms.items()
    )
    text = {
        "loss": "objective: "
        + "; ".join(f"{n} = {c.summary}{_needs(c)}" for n, c in LOSSES.items()),
        "optimizer": f"{', '.join(OPTIMIZERS)} "
        f"(default: {_per_loss(lambda c: c.defaults.optimizer, LOSSES)})",
        "lr": f"learning rate (default: {_per_loss(lambda c: num(c.defaults.lr), LOSSES)})",
        "betas": "Adam betas (default: "
        + _per_loss(lambda c: " ".join(map(num, c.defaults.betas)), LOSSES)
        + ")",
        "n_critic": "D steps per G step "
        f"(default: {_per_loss(lambda c: str(c.defaults.n_critic), critics)})",
        "d_norm": f"discriminator normalisation: {', '.join(NORMS)} "
        f"(default: {_per_loss(lambda c: c.defaults.d_norm, critics)}{refused})",
    }
    for option in dict.fromkeys(key for c in LOSSES.values() for key in c.options):
        takers = {n: c for n, c in LOSSES.items() if option in c.options}
        lines = dict.fromkeys(c.options[option] for c in takers.values())
        text[option] = f"{'; '.join(lines)} (used by {', '.join(takers)})"
    return text


def build_parser() -> argparse.ArgumentParser:
    """The ``ganinverse-pretrain`` parser; the loss-dependent help is read from LOSSES now."""
    parser = OneLineParser(  # a parse error is one line, as the checks' errors
        prog="ganinverse-pretrain",
        description="Train a DCGAN / MLP generator prior (a GAN, or a VAE).\n"
        f"Losses: {', '.join(LOSSES)} (see --loss).",
        argument_default=argparse.SUPPRESS,
        epilog=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = TrainConfig()
    helps = {**HELP, **loss_help()}
    for f in dataclasses.fields(TrainConfig):
        if f.name in ("amp", "compile", "channels_last", "progress"):
            continue
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if f.name == "hidden":
            extra = {"nargs": "+", "type": int}
        elif f.name == "betas":
            extra = {"nargs": 2, "type": float, "metavar": ("BETA1", "BETA2")}
        else:  # annotations are strings here: "int | None", "float", "str", ...
            extra = {"type": int if "int" in f.type else float if "float" in f.type else str}
        typed = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        shown = "" if default is None else f" (default: {typed})"  # (a list as typed: 500 500)
        parser.add_argument(flag, dest=f.name, help=helps.get(f.name, "") + shown, **extra)
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA only)")
    parser.add_argument("--compile", action="store_true", help="torch.compile G and D (CUDA only)")
    parser.add_argument(
        "--channels-last",
        action="store_true",
        help="channels_last (NHWC) memory format for G, D and batches",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no tqdm bar")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (use 1 on a shared machine: oversubscribed cores are slow; "
        "default: torch's own, one per core)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        default=False,
        help="continue the run in --out from its checkpoint (same config; --steps may grow)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Explicit options over (on --resume) the saved config over the defaults."""
    explicit = {k: v for k, v in vars(args).items() if k not in ("resume", "threads")}
    base: dict = {}
    if args.resume:
        out = check_output_dir(explicit.get("out", TrainConfig.out), "out")
        if not has_state(Path(out) / "checkpoint"):
            raise ValueError(
                f"--resume but {out} holds no training checkpoint (checkpoint.json): drop "
                "--resume to start a new run there, or pass the --out of the run to continue"
            )
        for key, names in choices().items():  # (a value no run takes: named as such, before
            if explicit.get(key) is not None:  # it is compared with the checkpoint's)
                check_choice(explicit[key], key, names)
        saved = read_state_info(Path(out) / "checkpoint")["config"]
        # a flag that changes the experiment is named as such before the merged config is
        # checked (--dataset digits on a folder run would blame the saved --data-root)
        if explicit.get("init") is not None:  # (a path as the run recorded it: absolute)
            check_init(explicit["init"])
            explicit["init"] = init_text(explicit["init"])
        check_same_experiment(Path(out), explicit, saved, flags=True)
        base = {
            k: v for k, v in saved.items() if k in {f.name for f in dataclasses.fields(TrainConfig)}
        }
    return TrainConfig(**{**base, **explicit})


def main(argv: list[str] | None = None) -> int:
    """Parse, check every argument, the device and --out (nothing is written before), train.

    A bad argument is one line on stderr and exit code 2, as in the ``ganinverse`` command; so is
    a run whose losses became non-finite (the step and the fix: a lower --lr), which leaves
    --out as it was when it saved nothing. A run that ends with a generator that learned
    nothing (``pretrain.verdict``) warns a ConvergenceWarning (one line on stderr), says so in
    its last line and records it as ``training_status`` in generator.json; exit code 0."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # warnings (e.g. the ConvergenceWarning of a run that learned nothing) as one line each
    format_before = warnings.formatwarning
    warnings.formatwarning = lambda message, category, *_, **__: (
        f"ganinverse-pretrain: warning ({category.__name__}): {message}\n"
    )
    try:
        return _run(parser, args)
    finally:
        warnings.formatwarning = format_before


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        if args.threads is not None:
            check_int(args.threads, "threads", low=1)
            cores = os.cpu_count() or 1
            if args.threads > cores:
                warnings.warn(
                    f"--threads {args.threads} is more than this machine's {cores} CPU cores: "
                    "oversubscribed cores run slower than one thread each; pass --threads "
                    f"{cores} or fewer",
                    UserWarning,
                    stacklevel=2,
                )
            torch.set_num_threads(args.threads)
        cfg = config_from_args(args)
        cfg.resolved()  # the arguments' own checks first (a loss's arch rule before a flag's)
        idle = idle_options(cfg, vars(args), cli=True)
        if idle:
            raise ValueError(idle[0])
        trainer = train(cfg, resume=args.resume)
    except (ValueError, TypeError, FileNotFoundError, TrainingDiverged) as err:
        print(f"ganinverse-pretrain: error: {_with_flag(parser, args, err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print(f"ganinverse-pretrain: {err or 'interrupted'}", file=sys.stderr)
        return 130
    if trainer.dist.main:
        line = f"trained to step {trainer.step}; generator: {trainer.out / 'generator'}.safetensors"
        if trainer.training_status not in (None, TRAINING_OK):  # (the warning says why)
            line += "; but it learned nothing (see the warning; training_status in its JSON)"
        print(line)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


def _with_flag(parser: argparse.ArgumentParser, args: argparse.Namespace, err: Exception) -> str:
    """The error on one line, led by the flag the user set whose option it starts with
    (``lr must be ...`` -> ``--lr: lr must be ...``, ``betas[1] ...`` -> ``--betas: ...``); left
    as it is when a flag leads it already or its first word is no option the user set."""
    message = " ".join(str(err).split())  # one line, whatever the message holds
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\b", message)
    if match is None:  # (a message led by "--flag" has no first word: left as it is)
        return message
    given = vars(args)
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs and action.dest == match[1] and action.dest in given:
            if given[action.dest] not in (None, action.default):  # the user set it
                return f"{longs[0]}: {message}"
    return message


if __name__ == "__main__":  # python -m pretrain.cli (as python -m pretrain)
    sys.exit(main())
