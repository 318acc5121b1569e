"""Robust-manifold defense benchmark on MNIST or Fashion-MNIST: Defense-GAN model A with and without the projection
defense, PGD adversarial training and robust-manifold training, under FGSM, PGD, BPDA and the
latent-space attack; plus the overpowered attack's success on the plain and RM classifiers.

    cp -r /work/shared/data/MNIST /tmp/data/  # once
    nohup .venv/bin/python benchmarks/defense.py --generator mnist-dcgan > /tmp/defense.log 2>&1 &

Every stage is resumable: classifiers are saved in ``--models`` (outside the repository) and
skipped when present; finished table cells are kept in ``OUT/cells.json``. Outputs in ``--out``:
results.csv / results.md (the table), overpowered.json, protocol.json (every setting, timings,
classifier test accuracies).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch

from ganinverse.data import load_images, to_unit
from ganinverse.defense import OverpoweredAttack, ProjectionDefense
from ganinverse.defense.evaluate import EvalSettings, Row, evaluate_defense, parse_attacks
from ganinverse.defense.training import adversarial_training
from ganinverse.io import atomic_write_json
from ganinverse.models import (
    accuracy,
    build_classifier,
    load_classifier,
    load_generator,
    model_fingerprint,
    save_model,
    train_classifier,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", default="mnist", help="mnist or fashion-mnist")
    p.add_argument("--generator", default="mnist-dcgan")
    p.add_argument("--data-root", default="/tmp/data", help='dataset folder ("" for digits)')
    p.add_argument("--out", default="benchmarks/results/defense")
    p.add_argument("--models", default="/tmp/ganinverse-defense/models")
    p.add_argument("--n", type=int, default=100, help="test images (the first n of the test split)")
    p.add_argument("--n-test-clean", type=int, default=10000, help="for the classifiers' accuracy")
    p.add_argument("--train-n", type=int, default=10000, help="training images (first n)")
    p.add_argument("--epochs", type=int, default=2, help="plain training epochs")
    p.add_argument("--adv-epochs", type=int, default=4, help="PGD fine-tuning epochs")
    p.add_argument("--rm-epochs", type=int, default=1, help="robust-manifold fine-tuning epochs")
    p.add_argument("--adv-n", type=int, default=10000, help="images for PGD fine-tuning")
    p.add_argument("--rm-n", type=int, default=2000, help="images for RM fine-tuning")
    p.add_argument("--train-pgd-steps", type=int, default=3)
    p.add_argument("--manifold-eps", type=float, default=2.0, help="L2 budget of training pairs")
    p.add_argument("--manifold-steps", type=int, default=10)
    p.add_argument("--attacks", default="fgsm:0.3,pgd:0.3,bpda:0.3,latent:0.3,bpda2:2.0")
    p.add_argument("--steps", type=int, default=100, help="projection steps")
    p.add_argument("--restarts", type=int, default=4, help="projection restarts")
    p.add_argument("--bpda-projection", default="50,2", help="STEPS,RESTARTS BPDA runs through")
    p.add_argument("--lr", type=float, default=10.0, help="projection SGD lr (momentum 0.7)")
    p.add_argument("--pgd-steps", type=int, default=40)
    p.add_argument("--bpda-steps", type=int, default=10)
    p.add_argument("--latent-steps", type=int, default=100)
    p.add_argument("--latent-restarts", type=int, default=1)
    p.add_argument("--op-eps", type=float, default=2.0, help="overpowered L2 budget")
    p.add_argument("--op-steps", type=int, default=100)
    p.add_argument(
        "--stop-after",
        choices=("plain", "adv"),
        help="only train the classifiers up to this one (they do not need the generator)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def _train_or_load(
    path: Path, make, info: dict, name: str, x_test, y_test, extra: dict | None = None
):
    """Load ``path`` if it exists, else ``make()``, save it with its test accuracy (and the
    JSON-able ``extra``, e.g. its training settings, in the checkpoint's ``bench`` record).
    ``info[name]`` gets that record and the weights' ``fingerprint`` (``model_fingerprint``),
    so a protocol file tells which trained model its numbers came from."""
    if (path / "classifier.json").is_file():
        model = load_classifier(path, device="cpu")
        info[name] = {
            **model.checkpoint_config.get("bench", {}),
            "fingerprint": model_fingerprint(path, "classifier"),
        }
        return model
    start = time.perf_counter()
    model = make()
    meta = {**(extra or {}), "seconds": round(time.perf_counter() - start, 1)}
    meta["test_accuracy"] = accuracy(model, x_test, y_test)
    save_model(model, path / "classifier", {"bench": meta})
    info[name] = {**meta, "fingerprint": model_fingerprint(path, "classifier")}
    print(f"{name}: {meta}", flush=True)
    return model


def _trainable_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy to fine-tune (loaded checkpoints come frozen)."""
    return copy.deepcopy(model).requires_grad_(True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out, models = Path(args.out), Path(args.models)
    x, y = load_images(args.dataset, args.data_root or None, "train", n=args.train_n)
    x = to_unit(x).clamp(0, 1)
    xt, yt = load_images(args.dataset, args.data_root or None, "test", n=args.n_test_clean)
    xt = to_unit(xt).clamp(0, 1)
    train = dict(batch_size=128, lr=1e-3, seed=args.seed, device="cpu", progress=True)
    info: dict = {}

    plain = _train_or_load(
        models / "plain",
        lambda: train_classifier(build_classifier("A"), x, y, epochs=args.epochs, **train),
        info,
        "plain",
        xt,
        yt,
    )
    if args.stop_after == "plain":
        return 0
    adv = _train_or_load(
        models / "adv",
        lambda: adversarial_training(
            _trainable_copy(plain),
            x[: args.adv_n],
            y[: args.adv_n],
            eps=0.3,
            steps=args.train_pgd_steps,
            epochs=args.adv_epochs,
            **train,
        ),
        info,
        "adv",
        xt,
        yt,
    )
    if args.stop_after:
        return 0
    G = load_generator(args.generator, device="cpu")
    rm = _train_or_load(
        models / "rm",
        lambda: adversarial_training(
            _trainable_copy(adv),  # RM = the PGD-trained model fine-tuned with manifold pairs
            x[: args.rm_n],
            y[: args.rm_n],
            eps=0.3,
            steps=args.train_pgd_steps,
            G=G,
            manifold_fraction=0.5,
            manifold_eps=args.manifold_eps,
            manifold_steps=args.manifold_steps,
            epochs=args.rm_epochs,
            **train,
        ),
        info,
        "rm",
        xt,
        yt,
    )

    images, labels = xt[: args.n], yt[: args.n]
    defense = ProjectionDefense(G, steps=args.steps, restarts=args.restarts, lr=args.lr)
    rows = [
        Row("no defense", plain, False),
        Row("adversarial training (PGD)", adv, False),
        Row("projection defense", plain, True),
        Row("projection + robust-manifold training", rm, True),
    ]
    settings = EvalSettings(
        pgd_steps=args.pgd_steps,
        bpda_steps=args.bpda_steps,
        latent_steps=args.latent_steps,
        latent_restarts=args.latent_restarts,
        bpda_projection=tuple(int(v) for v in args.bpda_projection.split(",")),
        batch_size=args.n,
        seed=args.seed,
        progress=True,
    )
    start = time.perf_counter()
    table = evaluate_defense(
        rows,
        images,
        labels,
        parse_attacks(args.attacks),
        defense=defense,
        G=G,
        settings=settings,
        out=out,
        tag={"generator": args.generator, "models": str(models), "data": f"{args.dataset} test"},
    )
    eval_seconds = time.perf_counter() - start

    op_path = out / "overpowered.json"
    overpowered = json.loads(op_path.read_text()) if op_path.is_file() else {}
    for name, model in (("plain", plain), ("rm", rm)):
        if name in overpowered:
            continue
        t0 = time.perf_counter()
        attack = OverpoweredAttack(
            G, model, args.op_eps, steps=args.op_steps, restarts=1, seed=args.seed
        )
        res = attack(images, labels)
        overpowered[name] = {
            "eps_l2": args.op_eps,
            "success_rate": res.success_rate,
            "mean_distance": float(res.distance.mean()),
            "max_distance": float(res.distance.max()),
            "anchor_mse": float((res.x2 - images).pow(2).mean()),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        atomic_write_json(op_path, overpowered)
        print(f"overpowered {name}: {overpowered[name]}", flush=True)

    atomic_write_json(
        out / "protocol.json",
        {"args": vars(args), "classifiers": info, "eval_seconds_this_run": eval_seconds},
    )
    print(json.dumps(table, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
