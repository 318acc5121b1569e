"""Defense-GAN under every registered attack (issue 17, item 3): model A on MNIST test images
0-99, at L∞ ε = 0.3 and at L2 ||δ||₂ ≤ 1.98 (Athalye et al.'s 0.005 MSE per pixel), for

- ``none``: model A alone;
- ``none`` with model ``A-adv``: model A fine-tuned by Madry PGD adversarial training;
- ``defense-gan``: model A behind the published projection (the protocol of
  ``benchmarks/defensegan.py``: mnist-wgangp, L = 200, R = 10, read from its protocol.json);
- ``defense-gan`` with model ``A-rm``: the projection + robust-manifold training (A-adv
  fine-tuned with overpowered pairs), under each norm's strongest attack only (the attack with
  the lowest accuracy on the ``defense-gan`` row).

Every adaptive attack runs through the full L = 200, R = 10 projection (``bpda_projection`` =
the defense's own). Then the curve: accuracy vs ε on the first ``--curve-n`` images for the
cheap attacks (``--curve-attacks`` at ``--curve-eps``) and the strongest L∞ attack (at
``--strong-eps``), for model A alone and behind the projection: ``curve.csv`` and
``accuracy_vs_eps.png``.

    OMP_NUM_THREADS=1 nohup .venv/bin/python benchmarks/defensegan_attacks.py > /tmp/dg-attacks.log 2>&1 &

Needs model A and the protocol of ``benchmarks/defensegan.py`` (run it first). Resumable at the
cell: the images are split in chunks of ``--chunk``; each chunk is one
:func:`~ganinverse.defense.evaluate.evaluate_defense` folder under ``OUT/attacks/`` (its
finished cells kept in its cells.json), so a kill loses at most one cell of one chunk. A
(row, attack) reaches ``table.csv`` (merged by key with item 1's 500-image rows) once every
chunk has it; ``OUT/attacks/progress.md`` shows the partial accuracies before that.
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import json
import time
from pathlib import Path

import defensegan as dg  # benchmarks/defensegan.py (its table format and helpers)
import torch

from ganinverse.data import load_images, to_unit
from ganinverse.defense import ProjectionDefense
from ganinverse.defense.evaluate import (
    EvalSettings,
    Row,
    evaluate_defense,
    parse_attacks,
)
from ganinverse.defense.training import adversarial_training
from ganinverse.io import atomic_write_json, atomic_write_text
from ganinverse.models import load_generator

#: (row name, table model, table defense, defended)
ROWS = (
    ("none", "A", "none", False),
    ("adv", "A-adv", "none", False),
    ("defense", "A", None, True),  # None: the protocol's defense label
)
RM_ROW = ("rm", "A-rm", None, True)
L2_BUDGET = 1.98


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="benchmarks/results/defense/defensegan")
    p.add_argument("--models", default="/tmp/ganinverse-defensegan/models")
    p.add_argument("--data-root", help="default: the protocol's --data-root")
    p.add_argument("--n", type=int, default=100, help="test images 0..n-1")
    p.add_argument("--chunk", type=int, default=10, help="images per resumable chunk")
    p.add_argument(
        "--attacks",
        default=(
            "bpda2:{l2},bpda_tangent2:{l2},eot_restarts2:{l2},unrolled2:{l2},latent2:{l2},"
            "pgd2:{l2},fgsm:{linf},pgd:{linf},bpda:{linf},bpda_tangent:{linf},"
            "eot_restarts:{linf},unrolled:{linf},latent:{linf}"
        ),
        help="the columns ({l2}, {linf}: --l2-eps, --linf-eps)",
    )
    p.add_argument("--linf-eps", type=float, default=0.3)
    p.add_argument("--l2-eps", type=float, default=L2_BUDGET)
    p.add_argument("--pgd-steps", type=int, default=40)
    p.add_argument("--bpda-steps", type=int, default=40)
    p.add_argument("--unroll-steps", type=int, default=10)
    p.add_argument("--latent-steps", type=int, default=200)
    p.add_argument("--latent-restarts", type=int, default=4)
    p.add_argument("--adv-n", type=int, default=10000, help="training images for A-adv")
    p.add_argument("--adv-epochs", type=int, default=4)
    p.add_argument("--train-pgd-steps", type=int, default=7)
    p.add_argument("--rm-n", type=int, default=2000, help="training images for A-rm")
    p.add_argument("--rm-epochs", type=int, default=1)
    p.add_argument("--manifold-steps", type=int, default=10)
    p.add_argument("--curve-n", type=int, default=50)
    p.add_argument("--curve-attacks", default="fgsm,pgd")
    p.add_argument("--curve-eps", default="0.05,0.1,0.2,0.3")
    p.add_argument("--strong-eps", default="0.1,0.2,0.3")
    p.add_argument(
        "--stop-after", choices=("train", "table"), help="stop after this stage (resumable)"
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.attack_specs = parse_attacks(args.attacks.format(l2=args.l2_eps, linf=args.linf_eps))
    for name in ("n", "chunk", "curve_n"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    if args.curve_n > args.n:
        raise ValueError(f"--curve-n {args.curve_n} must be <= --n {args.n}")
    for name in ("curve_eps", "strong_eps"):
        setattr(args, name, [float(v) for v in getattr(args, name).split(",")])
    return args


def eval_settings(args: argparse.Namespace, **changes) -> EvalSettings:
    """The attacks' budgets from the flags (``changes`` override them): every adaptive attack
    through the full projection, one batch per chunk."""
    base = dict(
        pgd_steps=args.pgd_steps,
        bpda_steps=args.bpda_steps,
        unroll_steps=args.unroll_steps,
        latent_steps=args.latent_steps,
        latent_restarts=args.latent_restarts,
        bpda_projection=None,  # the full projection
        batch_size=args.chunk,
        seed=args.seed,
        progress=True,
    )
    return EvalSettings(**{**base, **changes})


def chunks(n: int, size: int) -> list[range]:
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


def combine(folders: list[Path], sizes: list[int]) -> dict[str, dict]:
    """Per cell key: accuracy over the chunks that have it (weighted by their images), their
    images and summed seconds."""
    out: dict[str, dict] = {}
    for folder, size in zip(folders, sizes, strict=True):
        path = folder / "cells.json"
        if not path.is_file():
            continue
        for key, cell in json.loads(path.read_text())["cells"].items():
            acc = out.setdefault(key, {"correct": 0.0, "n": 0, "seconds": 0.0})
            acc["correct"] += cell["accuracy"] * size
            acc["n"] += size
            acc["seconds"] += cell["seconds"]
    for cell in out.values():
        cell["accuracy"] = cell["correct"] / cell["n"]
    return out


def run_chunks(
    rows, specs, images, labels, folder, args, defense, G, settings, tag, after=None
) -> dict:
    """evaluate_defense per chunk (each its own resumable folder); returns combined cells.
    ``after(cells)``, if given, gets the cells combined over the chunks done so far after each
    chunk (the progress view, so a long run shows its partial accuracies as it goes)."""
    parts = chunks(len(images), args.chunk)
    folders = [folder / f"images-{r.start:03d}-{r.stop - 1:03d}" for r in parts]
    for i, (r, sub) in enumerate(zip(parts, folders, strict=True)):
        if after is not None and i:
            after(combine(folders[:i], [len(p) for p in parts[:i]]))
        evaluate_defense(
            rows,
            images[r.start : r.stop],
            labels[r.start : r.stop],
            specs,
            defense=defense,
            G=G,
            settings=settings,
            out=sub,
            tag={**tag, "images": [r.start, r.stop]},
        )
    return combine(folders, [len(r) for r in parts])


def strongest(cells: dict, row: str, specs, norm: str, n: int):
    """The attack of ``norm`` with the lowest accuracy on ``row`` over all n images."""
    done = [
        (cells[k]["accuracy"], s)
        for s in specs
        if s.norm == norm and (k := f"{row}|{s.column}") in cells and cells[k]["n"] == n
    ]
    return min(done, key=lambda t: t[0])[1] if done else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    out, models = Path(args.out), Path(args.models)
    protocol = json.loads((out / "protocol.json").read_text())
    label = protocol["defense"]["label"]
    pargs = protocol["args"]
    root = pargs["data_root"] if args.data_root is None else args.data_root
    xt, yt = load_images(pargs["dataset"], root or None, "test", n=args.n)
    images, labels = to_unit(xt).clamp(0, 1), yt
    for s in args.attack_specs:
        s.check_image_size(images[0].numel())
    if not (models / "A" / "classifier.json").is_file():
        raise ValueError(f"model A not found in {models}: run benchmarks/defensegan.py first")
    G = load_generator(protocol["defense"]["generator"], device="cpu")
    info: dict = {}

    # stage 1: the adversarially trained classifiers (fine-tuned copies of model A)
    x, y = load_images(pargs["dataset"], root or None, "train", n=max(args.adv_n, args.rm_n))
    x = to_unit(x).clamp(0, 1)
    xv, yv = load_images(pargs["dataset"], root or None, "test", n=pargs["n_test_clean"])
    xv = to_unit(xv).clamp(0, 1)
    train = dict(batch_size=128, lr=1e-3, seed=args.seed, device="cpu", progress=True)
    A = dg._train_or_load(models / "A", None, info, "A", xv, yv)
    adv = dg._train_or_load(
        models / "A-adv",
        lambda: adversarial_training(
            copy.deepcopy(A).requires_grad_(True),
            x[: args.adv_n],
            y[: args.adv_n],
            eps=args.linf_eps,
            steps=args.train_pgd_steps,
            epochs=args.adv_epochs,
            **train,
        ),
        info,
        "A-adv",
        xv,
        yv,
        extra={"from": "A", "eps": args.linf_eps, "pgd_steps": args.train_pgd_steps,
               "epochs": args.adv_epochs, "train_images": args.adv_n},
    )  # fmt: skip
    rm = dg._train_or_load(
        models / "A-rm",
        lambda: adversarial_training(
            copy.deepcopy(adv).requires_grad_(True),
            x[: args.rm_n],
            y[: args.rm_n],
            eps=args.linf_eps,
            steps=args.train_pgd_steps,
            G=G,
            manifold_fraction=0.5,
            manifold_eps=args.l2_eps,
            manifold_steps=args.manifold_steps,
            epochs=args.rm_epochs,
            **train,
        ),
        info,
        "A-rm",
        xv,
        yv,
        extra={"from": "A-adv", "manifold_fraction": 0.5, "manifold_eps": args.l2_eps,
               "manifold_steps": args.manifold_steps, "epochs": args.rm_epochs,
               "train_images": args.rm_n},
    )  # fmt: skip
    if args.stop_after == "train":
        return 0

    # stage 2: the table (rows none, adv, defense-gan; then rm under the strongest attacks)
    d = protocol["defense"]
    defense = ProjectionDefense(G, steps=d["steps"], restarts=d["restarts"], seed=d["seed"])
    settings = eval_settings(args)
    classifiers = {"none": A, "adv": adv, "defense": A, "rm": rm}
    tag = {"generator": d["generator"], "models": str(models), "data": f"{pargs['dataset']} test"}
    folder = out / "attacks"
    started = time.perf_counter()
    rows = [Row(name, classifiers[name], defended) for name, _, _, defended in ROWS]
    names = {name: (model, dname or label) for name, model, dname, _ in (*ROWS, RM_ROW)}

    def strongest_of(cells: dict) -> dict:
        return {n: strongest(cells, "defense", args.attack_specs, n, args.n) for n in ("inf", "2")}

    def progress(cells: dict) -> None:
        write_views(out, folder, cells, args, names, info, strongest_of(cells))

    cells = run_chunks(
        rows, args.attack_specs, images, labels, folder / "table", args, defense, G, settings, tag,
        after=progress,
    )  # fmt: skip
    strong = strongest_of(cells)
    rm_specs = [s for s in strong.values() if s is not None]
    if len(rm_specs) == 2:
        cells.update(
            run_chunks(
                [Row("rm", rm, True)], rm_specs, images, labels, folder / "rm", args, defense,
                G, settings, tag,
            )
        )  # fmt: skip
    write_views(out, folder, cells, args, names, info, strong)
    if args.stop_after == "table" or len(rm_specs) < 2:
        return 0

    # stage 3: accuracy vs eps on the first curve_n images
    # the strongest attack may be a cheap one too (then its cells are the cheap ones: once each)
    items = [f"{a}:{e:g}" for a in args.curve_attacks.split(",") for e in args.curve_eps]
    items += [f"{strong['inf'].name}:{e:g}" for e in args.strong_eps]
    curve_specs = parse_attacks(",".join(dict.fromkeys(items)))
    curve = run_chunks(
        [Row("none", A, False), Row("defense", A, True)],
        curve_specs,
        images[: args.curve_n],
        labels[: args.curve_n],
        folder / "curve",
        args,
        defense,
        G,
        settings,
        tag,
    )
    write_curve(folder, curve, curve_specs, args.curve_n, label)
    print(f"done in {time.perf_counter() - started:.0f} s this run")
    return 0


def write_views(out: Path, folder: Path, cells: dict, args, names: dict, info: dict, strong):
    """Complete cells -> table.csv; every cell (partial ones too) -> attacks/progress.md."""
    rows, lines = [], []
    for key, cell in sorted(cells.items()):
        name, column = key.split("|", 1)
        model, defense = names[name]
        spec = next((s for s in args.attack_specs if s.column == column), None)
        lines.append(
            f"| {model} | {defense} | {column} | {cell['n']} | {cell['accuracy']:.3f} "
            f"| {cell['seconds'] / cell['n']:.1f} |"
        )
        if cell["n"] == args.n and (spec is not None or column == "clean"):
            rows.append(
                dg.table_row(model, defense, spec, cell["accuracy"], cell["n"], cell["seconds"])
            )
    dg.merge_table(out / "table.csv", rows)
    text = (
        "# Issue 17 item 3: progress (accuracy over the images done so far)\n\n"
        "| model | defense | attack | images | accuracy | s/image |\n|---|---|---|---|---|---|\n"
        + "\n".join(lines)
        + "\n\nstrongest per norm on the defended row: "
        + ", ".join(f"{k}: {v.token if v else 'pending'}" for k, v in strong.items())
        + "\n\nclassifiers: "
        + json.dumps(info, default=str)
        + "\n"
    )
    atomic_write_text(folder / "progress.md", text)
    done = max((c["n"] for c in cells.values()), default=0)
    print(f"progress: {folder / 'progress.md'} ({done} of {args.n} images)", flush=True)
    atomic_write_json(folder / "classifiers.json", json.loads(json.dumps(info, default=str)))


def write_curve(folder: Path, cells: dict, specs, n: int, label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["defense", "attack", "eps", "n", "accuracy", "ci95"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for row, shown in (("none", "no defense"), ("defense", label)):
        for attack in dict.fromkeys(s.name for s in specs):
            pts = []
            for s in (s for s in specs if s.name == attack):
                cell = cells.get(f"{row}|{s.column}")
                if cell is None or cell["n"] != n:
                    continue
                acc = cell["accuracy"]
                ci = dg.wilson_ci95(acc, n)
                w.writerow([shown, attack, f"{s.eps:g}", n, f"{acc:.4f}", f"{ci:.4f}"])
                pts.append((s.eps, acc, ci))
            if pts:
                e, a, c = zip(*pts, strict=True)
                ax.errorbar(e, a, yerr=c, marker="o", capsize=3, label=f"{shown}: {attack}")
    ax.set_xlabel("L∞ ε ([0, 1] scale)")
    ax.set_ylabel(f"accuracy ({n} MNIST test images)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "accuracy_vs_eps.png", dpi=120)
    plt.close(fig)
    atomic_write_text(folder / "curve.csv", buf.getvalue())


if __name__ == "__main__":
    raise SystemExit(main())
