"""The published Defense-GAN protocol on MNIST (issue 17, item 1): classifiers A and B, alone
and behind the projection onto the range of the bundled WGAN-GP generator ``mnist-wgangp``
(L = 200 steps, R = 10 restarts, SGD lr 10 with momentum 0.7, lr x 0.1 after 80% of the steps:
:data:`ganinverse.defense.projection.DEFENSE_GAN`), under defense-oblivious FGSM eps = 0.3 (the
paper's white-box setting) and PGD eps = 0.3 on the first ``--n`` MNIST test images; plus the
projection MSE ||D(x) - x||^2 / n ([0, 1] scale) per image.

    cp -r /work/shared/data/MNIST /tmp/data/  # once
    nohup .venv/bin/python benchmarks/defensegan.py > /tmp/ganinverse-defensegan.log 2>&1 &

Stage 1 trains (or loads, when present) the classifiers on the MNIST train split and saves them
in ``--models`` (outside the repository) with their test accuracies: model A and model B on the
first ``--train-n`` images ("Defense-GAN-Orig"), and with ``--rec-n`` > 0 model A trained on the
projections G(z*) of the first ``--rec-n`` training images ("Defense-GAN-Rec", model ``A-rec``;
the projections use the cheaper ``--rec-projection`` and are cached per chunk in ``--models``).

Stage 2, per model, is :func:`ganinverse.defense.evaluate.evaluate_defense` (rows "none" and
"defense-gan"; columns clean and ``--attacks``; finished cells kept in ``OUT/cells/<model>/``):
fgsm and pgd are computed on the classifier and their images pass through the projection. The
projection MSE of the clean test images (and of every non-adaptive attack's images) is cached
per image in ``OUT/projection.csv``. Every stage resumes where a killed run stopped.

Outputs in ``--out``: table.csv (one row per cell; rows of other runs with other keys are kept:
the key is model, defense, attack, norm, eps, n), projection.csv, results.md, protocol.json
(every setting, timings, the classifiers' test accuracies, the command and the commit).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import io
import json
import math
import shlex
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ganinverse._validation import check_int
from ganinverse.cli.defend import check_flags
from ganinverse.data import load_images, to_unit
from ganinverse.defense import ProjectionDefense
from ganinverse.defense.evaluate import EvalSettings, Row, evaluate_defense, parse_attacks
from ganinverse.defense.projection import DEFENSE_GAN
from ganinverse.defense.registry import AttackContext
from ganinverse.io import atomic_write, atomic_write_json, atomic_write_text, check_output_dir
from ganinverse.models import build_classifier, load_generator, train_classifier
from ganinverse.sweep import mean_ci95


def _sibling(name: str):
    """A script of benchmarks/ as a module, under a name no package can shadow (the tests'
    ``defense`` package would, as ``import defense``)."""
    path = Path(__file__).resolve().with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_ganinverse_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_train_or_load = _sibling("defense")._train_or_load  # train once, save, then load

#: table.csv's columns; the first six are a row's key
TABLE_FIELDS = (
    "model", "defense", "attack", "norm", "eps", "n", "accuracy", "ci95", "seconds_per_image",
)  # fmt: skip
KEY_FIELDS = TABLE_FIELDS[:6]
PROJECTION_FIELDS = ("images", "index", "label", "mse", "seconds")
MODELS = ("A", "B")
REC = "A-rec"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", default="mnist", help="mnist (digits: the tests' tiny set)")
    p.add_argument("--data-root", default="/tmp/data", help='dataset folder ("" for digits)')
    p.add_argument("--generator", default="mnist-wgangp", help="the projection's generator")
    p.add_argument("--out", default="benchmarks/results/defense/defensegan")
    p.add_argument("--models", default="/tmp/ganinverse-defensegan/models")
    p.add_argument("--n", type=int, default=500, help="test images (the first n of the split)")
    p.add_argument("--n-test-clean", type=int, default=10000, help="for the classifiers' accuracy")
    p.add_argument("--train-n", type=int, default=60000, help="training images (the first n)")
    p.add_argument("--epochs", type=int, default=10, help="classifier epochs (Defense-GAN's 10)")
    p.add_argument("--batch-size", type=int, default=128, help="classifier batch (Adam lr 1e-3)")
    p.add_argument("--classifiers", default="A,B", help="models among A,B")
    p.add_argument(
        "--rec-n",
        type=int,
        default=10000,
        help="train A-rec (model A on the projections G(z*)) on this many training images; "
        "0 skips it",
    )
    p.add_argument(
        "--rec-projection", default="100,4", help="STEPS,RESTARTS of the training projections"
    )
    p.add_argument("--attacks", default="fgsm:0.3,pgd:0.3")
    p.add_argument("--steps", type=int, default=DEFENSE_GAN.steps, help="projection steps L")
    p.add_argument("--restarts", type=int, default=DEFENSE_GAN.restarts, help="restarts R")
    p.add_argument("--pgd-steps", type=int, default=40)
    p.add_argument("--batch", type=int, default=100, help="images per attack / projection batch")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Every flag, before any data is read or file written (errors name the flag)."""
    check_flags(
        args,
        {
            "n": 1,
            "n_test_clean": 1,
            "train_n": 1,
            "epochs": 1,
            "batch_size": 1,
            "rec_n": 0,
            "steps": 1,
            "restarts": 1,
            "pgd_steps": 1,
            "batch": 1,
            "threads": 1,
            "seed": 0,
        },
    )
    args.classifier_list = [c.strip() for c in args.classifiers.split(",") if c.strip()]
    bad = [c for c in args.classifier_list if c not in MODELS]
    if (
        bad
        or not args.classifier_list
        or len(set(args.classifier_list)) != len(args.classifier_list)
    ):
        raise ValueError(
            f"--classifiers must list distinct models among A,B, got {args.classifiers!r}"
        )
    if args.rec_n and "A" not in args.classifier_list:
        raise ValueError(
            "--rec-n trains a variant of model A: keep A in --classifiers or pass --rec-n 0"
        )
    try:
        steps, restarts = (int(v) for v in args.rec_projection.split(","))
    except ValueError:
        raise ValueError(
            f"--rec-projection must be STEPS,RESTARTS, e.g. 100,4, got {args.rec_projection!r}"
        ) from None
    args.rec_steps = check_int(steps, "--rec-projection steps", low=1)
    args.rec_restarts = check_int(restarts, "--rec-projection restarts", low=1)
    try:
        args.attack_specs = parse_attacks(args.attacks)
    except (TypeError, ValueError) as err:
        raise ValueError(f"--attacks: {err}") from err
    args.out_dir = check_output_dir(args.out, "--out")
    args.models_dir = check_output_dir(args.models, "--models")
    table = args.out_dir / "table.csv"
    if table.is_file():
        read_table(table)  # a foreign or corrupt table is refused now, not after hours


def defense_label(args: argparse.Namespace) -> str:
    """The table's defense name: ``defense-gan`` for the published L, R; else with them."""
    if (args.steps, args.restarts) == (DEFENSE_GAN.steps, DEFENSE_GAN.restarts):
        return "defense-gan"
    return f"defense-gan-L{args.steps}-R{args.restarts}"


# ------------------------------------------------------------------------------ the table
def wilson_ci95(accuracy: float, n: int) -> float:
    """Half-width of the 95% Wilson score interval of a proportion (defined at 0 and 1 too)."""
    z = 1.959963984540054
    denom = 1 + z * z / n
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / denom
    return half


def row_key(row: dict) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in KEY_FIELDS)


def read_table(path: Path) -> list[dict]:
    """table.csv's rows; a file with other columns is a ValueError (never overwritten)."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != TABLE_FIELDS:
            raise ValueError(
                f"{path} has the columns {reader.fieldnames}, expected {list(TABLE_FIELDS)}; "
                "pass another --out or move the file"
            )
        return list(reader)


def merge_table(path: Path, rows: list[dict]) -> list[dict]:
    """Merge ``rows`` into table.csv by key (model, defense, attack, norm, eps, n): a row with
    the key of an existing one replaces it in place, a new key is appended, other rows are kept.
    The file is rewritten atomically."""
    merged = {row_key(r): r for r in (read_table(path) if path.is_file() else [])}
    for row in rows:
        merged[row_key(row)] = {k: str(row[k]) for k in TABLE_FIELDS}
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TABLE_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(merged.values())
    atomic_write_text(path, buf.getvalue())
    return list(merged.values())


def table_row(model: str, defense: str, spec, accuracy: float, n: int, seconds: float) -> dict:
    """One table.csv row: ``spec`` an AttackSpec (None: the clean row), ``seconds`` the cell's
    total."""
    return {
        "model": model,
        "defense": defense,
        "attack": "none" if spec is None else spec.name,
        "norm": "none" if spec is None else spec.norm,
        "eps": "0" if spec is None else f"{spec.eps:g}",
        "n": n,
        "accuracy": f"{accuracy:.4f}",
        "ci95": f"{wilson_ci95(accuracy, n):.4f}",
        "seconds_per_image": f"{seconds / n:.3f}",
    }


def table_rows(model: str, defense: str, cells: dict, specs, n: int) -> list[dict]:
    """The cells of one model's evaluation (``cells.json``) as table.csv rows."""
    rows = []
    for name in ("none", defense):
        for spec in [None, *specs]:
            cell = cells.get(f"{name}|{'clean' if spec is None else spec.column}")
            if cell is not None:
                rows.append(table_row(model, name, spec, cell["accuracy"], n, cell["seconds"]))
    return rows


# ----------------------------------------------------------------- projections, remembered
class RecordingProjection(ProjectionDefense):
    """The projection defense, remembering its (non-differentiable) outputs per image, with the
    seconds per image of the batch that made them.

    The evaluation runs it as is (every cell pays its own projections, so its seconds are
    honest); the MSE pass (:meth:`remembered`) then reuses them. Without image ids the engine
    starts every image from the same R latents and runs the images independently, so an image's
    projection does not depend on its batch.
    """

    def __init__(self, G: nn.Module, **overrides: object) -> None:
        super().__init__(G, **overrides)
        self.memo: dict[str, tuple[Tensor, float]] = {}

    @staticmethod
    def _key(image: Tensor) -> str:
        return hashlib.sha1(image.detach().cpu().contiguous().numpy().tobytes()).hexdigest()

    def forward(self, images: Tensor) -> Tensor:
        if self._differentiable(images):
            return super().forward(images)
        start = time.perf_counter()
        out = super().forward(images)
        seconds = (time.perf_counter() - start) / len(images)
        for x, o in zip(images, out, strict=True):
            self.memo[self._key(x)] = (o.detach().cpu(), seconds)
        return out

    def remembered(self, images: Tensor) -> tuple[Tensor, list[float]]:
        """D(x) of every image and the seconds its projection took, projecting only the images
        not seen before."""
        keys = [self._key(x) for x in images]
        todo = [i for i, k in enumerate(keys) if k not in self.memo]
        if todo:
            with torch.no_grad():
                self(images[todo])
        return (
            torch.stack([self.memo[k][0] for k in keys]).to(images.device),
            [self.memo[k][1] for k in keys],
        )


def read_projection(path: Path, tag: str) -> dict[tuple[str, int], dict]:
    """projection.csv's rows by (images, index); rows of another projection are refused."""
    if not path.is_file():
        return {}
    meta_path = path.with_suffix(".json")
    saved = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if saved.get("defense") != tag:
        raise ValueError(
            f"{path} holds the projection MSEs of another defense ({saved.get('defense')!r}, "
            f"this run: {tag!r}); pass another --out or delete it"
        )
    with path.open(newline="") as f:
        return {(r["images"], int(r["index"])): r for r in csv.DictReader(f)}


def write_projection(path: Path, tag: str, rows: dict[tuple[str, int], dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=PROJECTION_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows[k] for k in sorted(rows, key=lambda k: (k[0] != "clean", k)))
    atomic_write_json(path.with_suffix(".json"), {"defense": tag})
    atomic_write_text(path, buf.getvalue())


def projection_mse(
    defense: RecordingProjection,
    images: Tensor,
    labels: Tensor,
    name: str,
    path: Path,
    tag: str,
    batch: int,
) -> list[float]:
    """||D(x) - x||^2 / n ([0, 1] scale) of every image, cached per image in projection.csv
    (rows ``images`` = ``name``, ``index`` = the test index) with the seconds its projection
    took; one batch at a time, so a killed run keeps what it finished. Returns the MSEs in
    image order."""
    rows = read_projection(path, tag)
    todo = [i for i in range(len(images)) if (name, i) not in rows]
    starts = range(0, len(todo), batch)
    for s in tqdm(starts, desc=f"projection MSE {name}", disable=not todo):
        idx = todo[s : s + batch]
        out, seconds = defense.remembered(images[idx])
        mse = (out - images[idx]).pow(2).flatten(1).mean(1)
        for i, m, sec in zip(idx, mse.tolist(), seconds, strict=True):
            rows[(name, i)] = {
                "images": name,
                "index": i,
                "label": int(labels[i]),
                "mse": f"{m:.6g}",
                "seconds": f"{sec:.3f}",
            }
        write_projection(path, tag, rows)
    return [float(rows[(name, i)]["mse"]) for i in range(len(images))]


def project_cached(defense: ProjectionDefense, images: Tensor, folder: Path, chunk: int) -> Tensor:
    """D(x) of many images, saved per chunk in ``folder`` (a killed run keeps its chunks)."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for s in tqdm(range(0, len(images), chunk), desc=f"project {folder.name}"):
        path = folder / f"{s:06d}-{min(s + chunk, len(images)):06d}.pt"
        if path.is_file():
            parts.append(torch.load(path))
            continue
        with torch.no_grad():
            part = defense(images[s : s + chunk]).cpu()
        atomic_write(path, lambda p, part=part: torch.save(part, p))
        parts.append(part)
    return torch.cat(parts)


# ------------------------------------------------------------------------------------ main
def _commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        run = lambda *a: subprocess.run(  # noqa: E731
            ["git", "-C", str(root), *a], capture_output=True, text=True, check=True
        ).stdout.strip()
        head = run("rev-parse", "--short", "HEAD")
        dirty = run("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def _check_loaded(info: dict, name: str, wanted: dict, models: Path) -> None:
    """A classifier found in --models must have been trained with this run's settings."""
    got = {k: info[name].get(k) for k in wanted}
    if got != wanted:
        raise ValueError(
            f"{models / name} was trained with {got}, this run asks for {wanted}; pass another "
            "--models or delete that folder to retrain"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_args(args)
    torch.set_num_threads(args.threads)
    out, models = args.out_dir, args.models_dir
    root = args.data_root or None
    G = load_generator(args.generator, device="cpu")
    xt, yt = load_images(args.dataset, root, "test", n=args.n_test_clean)
    xt = to_unit(xt).clamp(0, 1)
    if args.n > len(xt):
        raise ValueError(f"--n {args.n} exceeds --n-test-clean {len(xt)}")
    x, y = load_images(args.dataset, root, "train", n=args.train_n)
    x = to_unit(x).clamp(0, 1)
    if args.rec_n > len(x):
        raise ValueError(f"--rec-n {args.rec_n} exceeds --train-n {len(x)}")
    started = time.perf_counter()

    # stage 1: the classifiers
    train = dict(batch_size=args.batch_size, lr=1e-3, seed=args.seed, device="cpu", progress=True)
    info: dict = {}
    classifiers: dict[str, nn.Module] = {}
    for arch in args.classifier_list:
        wanted = {"arch": arch, "train_images": len(x), "epochs": args.epochs, "seed": args.seed}
        classifiers[arch] = _train_or_load(
            models / arch,
            lambda arch=arch: train_classifier(
                build_classifier(arch), x, y, epochs=args.epochs, **train
            ),
            info,
            arch,
            xt,
            yt,
            extra=wanted,
        )
        _check_loaded(info, arch, wanted, models)
    if args.rec_n:
        wanted = {
            "arch": "A",
            "train_images": args.rec_n,
            "epochs": args.epochs,
            "seed": args.seed,
            "generator": args.generator,
            "projection_steps": args.rec_steps,
            "projection_restarts": args.rec_restarts,
        }

        def make_rec() -> nn.Module:
            rec = ProjectionDefense(G, steps=args.rec_steps, restarts=args.rec_restarts)
            folder = models / f"rec-train-{args.generator}-{args.rec_steps}x{args.rec_restarts}"
            xr = project_cached(rec, x[: args.rec_n], folder, chunk=500)
            return train_classifier(
                build_classifier("A"), xr, y[: args.rec_n], epochs=args.epochs, **train
            )

        classifiers[REC] = _train_or_load(models / REC, make_rec, info, REC, xt, yt, extra=wanted)
        _check_loaded(info, REC, wanted, models)

    # stage 2: the projection MSE of the clean images, then per model the accuracy table
    images, labels = xt[: args.n], yt[: args.n]
    defense = RecordingProjection(G, steps=args.steps, restarts=args.restarts, seed=args.seed)
    label = defense_label(args)
    tag = f"{args.generator}: {defense.extra_repr()}, seed={args.seed}"
    proj_path = out / "projection.csv"
    read_projection(proj_path, tag)  # another defense's MSEs are refused before any work
    mse: dict[str, list[float]] = {}
    timings: dict[str, float] = {}
    settings = EvalSettings(
        pgd_steps=args.pgd_steps, batch_size=args.batch, seed=args.seed, progress=True
    )
    protocol = {
        "command": shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(argv),
        "commit": _commit(),
        "args": {
            k: v
            for k, v in vars(args).items()
            if k not in ("attack_specs", "out_dir", "models_dir")
        },
        "defense": {"generator": args.generator, "label": label, **asdict(defense.config)},
        "eval_settings": asdict(settings),
        "classifiers": info,
        "timings": timings,
        "threads": torch.get_num_threads(),
    }
    table: list[dict] = []
    for model, f in classifiers.items():
        t0 = time.perf_counter()
        evaluate_defense(
            [Row("none", f, False), Row(label, f, True)],
            images,
            labels,
            args.attack_specs,
            defense=defense,
            G=G,
            settings=settings,
            out=out / "cells" / model,
            tag={
                "generator": args.generator,
                "classifier": str(models / model),
                "data": f"{args.dataset} test",
            },
        )
        timings[f"eval_{model}_seconds_this_run"] = round(time.perf_counter() - t0, 1)
        cells = json.loads((out / "cells" / model / "cells.json").read_text())["cells"]
        table = merge_table(
            out / "table.csv", table_rows(model, label, cells, args.attack_specs, args.n)
        )
        # the projection MSE of the clean images and of the attacks' images (projected by the
        # evaluation; computed here only for images it did not project)
        mse["clean"] = projection_mse(defense, images, labels, "clean", proj_path, tag, args.batch)
        for spec in args.attack_specs:
            record = spec.record.for_row(False)
            if record.adaptive:
                continue
            name = f"{spec.token}/{model}"
            done = read_projection(proj_path, tag)
            adv = images  # not read when every image's MSE is cached
            if any((name, i) not in done for i in range(len(images))):
                attack = record.build(AttackContext(f, None, G, spec.eps, spec.norm, settings))
                adv = torch.cat(
                    [
                        attack(images[i : i + args.batch], labels[i : i + args.batch])
                        for i in range(0, len(images), args.batch)
                    ]
                )
            mse[name] = projection_mse(defense, adv, labels, name, proj_path, tag, args.batch)
        saved = read_projection(proj_path, tag)
        summary = {}
        for k, v in mse.items():
            seconds = [float(saved[(k, i)]["seconds"]) for i in range(len(v))]
            summary[k] = {**mse_summary(v), "seconds_per_image": sum(seconds) / len(seconds)}
        protocol["projection_mse"] = summary
        protocol["timings"]["total_seconds_this_run"] = round(time.perf_counter() - started, 1)
        atomic_write_json(out / "protocol.json", json.loads(json.dumps(protocol, default=str)))
        atomic_write_text(out / "results.md", results_markdown(table, summary, info, label, args))
    print((out / "results.md").read_text())
    return 0


def mse_summary(values: list[float]) -> dict:
    """Mean, 95% t-interval half-width (None for one image) and count."""
    mean, half = mean_ci95(values)
    return {"mean": mean, "ci95": None if math.isnan(half) else half, "n": len(values)}


def results_markdown(table: list[dict], mse: dict, info: dict, label: str, args) -> str:
    """The run's cells (accuracy ± Wilson 95% half-width), the classifiers, the projection MSE."""
    mine = [r for r in table if r["defense"] in ("none", label) and r["n"] == str(args.n)]
    columns = ["clean"] + [s.token for s in args.attack_specs]
    lines = [
        f"# Defense-GAN protocol on {args.dataset} ({args.generator}, {label}), test images "
        f"0-{args.n - 1}",
        "",
        "Accuracy ± half-width of the 95% Wilson interval; defense-oblivious attacks (computed on "
        "the classifier, their images passed through the projection).",
        "",
        "| model | defense | " + " | ".join(columns) + " | s/image |",
        "|---|---|" + "---|" * (len(columns) + 1),
    ]
    for model in dict.fromkeys(r["model"] for r in mine):
        for defense in ("none", label):
            cells = {}
            seconds = 0.0
            for r in mine:
                if r["model"] == model and r["defense"] == defense:
                    token = (
                        "clean"
                        if r["attack"] == "none"
                        else f"{r['attack']}{'2' if r['norm'] == '2' else ''}:{r['eps']}"
                    )
                    cells[token] = f"{float(r['accuracy']):.3f} ± {float(r['ci95']):.3f}"
                    seconds += float(r["seconds_per_image"])
            if cells:
                row = [cells.get(c, "—") for c in columns]
                lines.append(f"| {model} | {defense} | " + " | ".join(row) + f" | {seconds:.2f} |")
    lines += [
        "",
        "Classifiers (test accuracy on the test split's first --n-test-clean images):",
        "",
    ]
    for name, meta in info.items():
        lines.append(
            f"- {name}: {meta.get('test_accuracy')} ({json.dumps({k: v for k, v in meta.items() if k != 'test_accuracy'})})"
        )
    lines += ["", "Projection MSE ||D(x) − x||²/n ([0, 1] scale), mean ± 95% CI:", ""]
    for name, s in mse.items():
        ci = "—" if s["ci95"] is None else f"{s['ci95']:.5f}"
        lines.append(f"- {name}: {s['mean']:.5f} ± {ci} (n = {s['n']})")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
