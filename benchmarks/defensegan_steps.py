"""Does the strongest attack on Defense-GAN saturate at 40 steps? (issue 17, item 3 target)

One attack (default: the tangent-space BPDA at L2 ||δ||₂ ≤ 1.98, the strongest L2 attack of
``defensegan_attacks.py``) on model A behind the published projection (L = 200, R = 10, read
from ``protocol.json``), test images 0..n-1, with ``--steps`` attack steps instead of the table's
40. Each step runs the full projection, so the cost grows with the steps (about 0.9 s per image
and step on one CPU core for the tangent BPDA).

    OMP_NUM_THREADS=1 nohup .venv/bin/python benchmarks/defensegan_steps.py --steps 100 \\
        > /tmp/dg-steps.log 2>&1 &

``--keep-best``: the attack returns per image its first iterate that the defended model
misclassifies instead of the last (``PGD(keep_best=True)``; folder and CSV ``steps<S>-best``).
``--loss margin``: it ascends the logit margin max_{j≠y} Z_j − Z_y instead of the
cross-entropy (``EvalSettings.attack_loss``; suffix ``-margin``). ``--suffix S`` appends S to
the folder and CSV name (runs on a retrained model beside the recorded ones).

Resumable: chunks of ``--chunk`` images, each an ``evaluate_defense`` folder under
``OUT/attacks/steps<S>/`` (a kill loses at most one chunk's cell). ``OUT/attacks/steps<S>.csv``
gets one row once every chunk is done (and a partial row before, marked by its ``n``), beside
the table's cell of the same attack over the same images (chunks of the same size; its steps as
its chunks recorded them). It never writes ``table.csv``, whose
key (model, defense, attack, norm, eps, n) has no steps: the 40-step cells stay the table's.
Needs the models of ``defensegan.py`` / ``defensegan_attacks.py`` (model A) in ``--models``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from pathlib import Path

import defensegan as dg  # benchmarks/defensegan.py (its helpers)
import defensegan_attacks as da  # benchmarks/defensegan_attacks.py (chunks, combine)
import torch

from ganinverse.data import load_images, to_unit
from ganinverse.defense import ProjectionDefense
from ganinverse.defense.evaluate import Row, parse_attacks
from ganinverse.io import atomic_write_text
from ganinverse.models import load_generator

FIELDS = ("model", "defense", "attack", "norm", "eps", "steps", "keep_best", "loss", "n",
          "accuracy", "ci95", "seconds_per_image")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="benchmarks/results/defense/defensegan")
    p.add_argument("--models", default="/tmp/ganinverse-defensegan/models")
    p.add_argument("--data-root", help="default: the protocol's --data-root")
    p.add_argument("--attack", default=f"bpda_tangent2:{da.L2_BUDGET}")
    p.add_argument("--steps", type=int, default=100, help="attack steps (the table has 40)")
    p.add_argument("--n", type=int, default=100, help="test images 0..n-1")
    p.add_argument("--chunk", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--keep-best",
        action="store_true",
        help="per image the first iterate the defended model misclassifies (PGD keep_best)",
    )
    p.add_argument(
        "--loss",
        default="ce",
        choices=("ce", "margin"),
        help="the loss the attack ascends (EvalSettings.attack_loss; folder and CSV suffix "
        "-margin for the logit margin)",
    )
    p.add_argument(
        "--suffix",
        default="",
        help="appended to the folder and CSV name (e.g. a retrained model's runs beside the "
        "recorded ones: -A3)",
    )
    args = p.parse_args(argv)
    if args.suffix and not args.suffix.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"--suffix must be letters, digits, - or _, got {args.suffix!r}")
    for name in ("steps", "n", "chunk"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}")
    (args.spec,) = parse_attacks(args.attack)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    out, models = Path(args.out), Path(args.models)
    protocol = json.loads((out / "protocol.json").read_text())
    pargs, d = protocol["args"], protocol["defense"]
    root = pargs["data_root"] if args.data_root is None else args.data_root
    xt, yt = load_images(pargs["dataset"], root or None, "test", n=args.n)
    images = to_unit(xt).clamp(0, 1)
    args.spec.check_image_size(images[0].numel())
    if not (models / "A" / "classifier.json").is_file():
        raise ValueError(f"model A not found in {models}: run benchmarks/defensegan.py first")
    info: dict = {}
    A = dg._train_or_load(models / "A", None, info, "A", None, None)
    G = load_generator(d["generator"], device="cpu")
    defense = ProjectionDefense(G, steps=d["steps"], restarts=d["restarts"], seed=d["seed"])
    settings = da.eval_settings(  # the table's budgets, with this run's steps and chunks
        da.parse_args([]), bpda_steps=args.steps, pgd_steps=args.steps, batch_size=args.chunk,
        seed=args.seed, keep_best=args.keep_best, attack_loss=args.loss,
    )  # fmt: skip
    tag = {"generator": d["generator"], "models": str(models), "steps": args.steps}
    name = f"steps{args.steps}" + ("-best" if args.keep_best else "")
    name += ("" if args.loss == "ce" else f"-{args.loss}") + args.suffix
    folder = out / "attacks" / name
    started = time.perf_counter()

    parts = da.chunks(args.n, args.chunk)
    table = [out / "attacks" / "table" / f"images-{r.start:03d}-{r.stop - 1:03d}" for r in parts]
    steps_of = "pgd_steps" if args.spec.name == "pgd" else "bpda_steps"

    def write(cells: dict) -> None:
        key = f"defense|{args.spec.column}"
        rows = []
        reference = da.combine(table, [len(r) for r in parts]).get(key)
        if reference is not None:  # the table's cell: its steps as its chunks recorded them
            meta = json.loads((table[0] / "cells.json").read_text())["meta"]
            reference["steps"] = meta["settings"][steps_of]
            reference["keep_best"] = meta["settings"].get("keep_best", False)
            reference["loss"] = meta["settings"].get("attack_loss", "ce")
        this = cells.get(key) and {
            **cells[key],
            "steps": args.steps,
            "keep_best": args.keep_best,
            "loss": args.loss,
        }
        for cell in (reference, this):
            if cell is None:
                continue
            row = dg.table_row("A", d["label"], args.spec, cell["accuracy"], cell["n"],
                               cell["seconds"])  # fmt: skip
            rows.append({**row, **{k: cell[k] for k in ("steps", "keep_best", "loss")}})
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(out / "attacks" / f"{name}.csv", buf.getvalue())
        print(buf.getvalue(), flush=True)

    cells = da.run_chunks(
        [Row("defense", A, True)], [args.spec], images, yt, folder, args, defense, G, settings,
        tag, after=write,
    )  # fmt: skip
    write(cells)
    print(f"done in {time.perf_counter() - started:.0f} s this run; models: {info}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
