"""Inpainting benchmark: Yeh et al. (2017) with a bundled GAN vs TV, biharmonic and nearest neighbour.

For each mask type, every method fills the same masked test images; PSNR and SSIM (on [0, 1], whole
image) are written per image to ``rows.csv`` as each (mask, method) finishes, so a killed run resumes
where it stopped. Then ``summary.csv`` / ``table.md`` (mean and 95% CI) and one image grid per mask.

    .venv/bin/python benchmarks/inpainting.py --generator mnist-dcgan --dataset mnist \\
        --data-root /tmp/data --n 50 --out benchmarks/results/inpainting

A progress bar counts the (mask, method) units, with the GAN's steps below it (``--no-progress``
hides both; it is no part of the protocol, so a run resumes with or without it).
The completions themselves are cached (``--cache``, outside the repository: they contain test
pixels) so the grids can be redrawn without solving again.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import time
from pathlib import Path

import torch
from csv_rows import append_rows, read_rows  # benchmarks/csv_rows.py
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from ganinverse.data import load_images
from ganinverse.inpaint_baselines import biharmonic_inpaint, nearest_neighbor_inpaint, tv_inpaint
from ganinverse.io import atomic_write, atomic_write_json, atomic_write_text, read_json
from ganinverse.masks import missing_fraction, parse_mask
from ganinverse.metrics import psnr, ssim
from ganinverse.models import load_discriminator, load_generator
from ganinverse.plots import image_grid
from ganinverse.solvers.inpainting import INPAINT_CONFIG, inpaint
from ganinverse.sweep import mean_ci95

METHODS = ("tv", "biharmonic", "nearest", "ours-raw", "ours-blended")
FIELDS = ("mask", "method", "image", "missing", "psnr", "ssim", "seconds")
#: Yeh et al. (2017), Table 1: PSNR (dB) on CelebA 64x64 -- another data set, for reference only.
PAPER_CELEBA_PSNR = {"center": 19.4, "pattern": 17.4, "random": 22.8, "half": 13.7}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--generator", default="mnist-dcgan")
    p.add_argument("--discriminator", help="default: the generator's own; 'none' for no prior")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-root", default="/tmp/data", help='dataset folder ("" for digits)')
    p.add_argument("--split", default="test")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--n", type=int, default=50, help="test images")
    p.add_argument("--train-n", type=int, default=10000, help="training images for nearest")
    p.add_argument("--masks", default="center,random:0.8,half,pattern:0.25")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--restarts", type=int, default=2)
    p.add_argument("--lr", type=float, default=INPAINT_CONFIG.lr)
    p.add_argument("--box", type=float, default=INPAINT_CONFIG.box, help="z clipped to [-box, box]")
    p.add_argument("--prior-weight", type=float, default=0.003)
    p.add_argument("--tv-iters", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--grid-n", type=int, default=8, help="images per grid")
    p.add_argument("--out", default="benchmarks/results/inpainting")
    p.add_argument("--cache", default="/tmp/ganinverse-inpainting-cache")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return p.parse_args(argv)


def _defaults(fn, *names: str) -> dict:
    params = inspect.signature(fn).parameters
    return {n: params[n].default for n in names}


def _tag(spec: str) -> str:
    return spec.replace(":", "-")


def _rows(
    spec: str, method: str, x_hat: torch.Tensor, x: torch.Tensor, mask, seconds: float, ids
) -> list[dict]:
    """One row per image; ``image`` is its dataset index (``ids``)."""
    p, s, miss = psnr(x_hat, x), ssim(x_hat, x), missing_fraction(mask)
    per = seconds / len(x)
    return [
        {
            "mask": spec,
            "method": method,
            "image": ids[i],
            "missing": f"{float(miss[i]):.4f}",
            "psnr": f"{float(p[i]):.4f}",
            "ssim": f"{float(s[i]):.4f}",
            "seconds": f"{per:.3f}",
        }
        for i in range(len(x))
    ]


def _solve(args, spec, x, mask, G, D, train, ids, bar) -> dict[str, tuple[torch.Tensor, float]]:
    """Every method's completions of x under ``mask`` -> {method: (x_hat, seconds)}; ``ids``
    (dataset indices) seed the GAN's restarts, so an image's row does not depend on --n. ``bar``
    (tqdm over mask x method) advances as each method finishes."""
    y = torch.where(mask.bool(), x, 0.0)
    out: dict[str, tuple[torch.Tensor, float]] = {}

    def step(method: str) -> None:
        bar.set_postfix(mask=spec, method=method)

    step("tv")
    t = time.perf_counter()
    out["tv"] = (tv_inpaint(y, mask, iters=args.tv_iters), time.perf_counter() - t)
    bar.update()
    step("biharmonic")
    t = time.perf_counter()
    out["biharmonic"] = (biharmonic_inpaint(y, mask), time.perf_counter() - t)
    bar.update()
    step("nearest")
    t = time.perf_counter()
    out["nearest"] = (nearest_neighbor_inpaint(y, mask, train), time.perf_counter() - t)
    bar.update()
    step("ours")
    t = time.perf_counter()
    res = inpaint(
        G,
        y,
        mask,
        D=D,
        prior_weight=args.prior_weight,
        steps=args.steps,
        restarts=args.restarts,
        lr=args.lr,
        box=args.box,
        seed=args.seed,
        image_ids=ids,
        progress=not args.no_progress,  # the GAN's steps: most of the time
    )
    out["ours-raw"] = (res.x_raw, res.latent.seconds)
    out["ours-blended"] = (res.x_blended, time.perf_counter() - t)
    bar.update(2)
    return out


def _summary(rows_path: Path, specs: list[str]) -> list[dict]:
    rows = read_rows(rows_path)
    table = []
    for spec in specs:
        for method in METHODS:
            sel = [r for r in rows if r["mask"] == spec and r["method"] == method]
            if not sel:
                continue
            entry = {"mask": spec, "method": method, "n": len(sel)}
            for key in ("psnr", "ssim"):
                mean, ci = mean_ci95([float(r[key]) for r in sel])
                # one image has no CI: null in the JSON (NaN is not JSON)
                entry[key], entry[f"{key}_ci95"] = mean, ci if math.isfinite(ci) else None
            entry["missing"] = sum(float(r["missing"]) for r in sel) / len(sel)
            entry["seconds_per_image"] = sum(float(r["seconds"]) for r in sel) / len(sel)
            table.append(entry)
    return table


def _markdown(table: list[dict], specs: list[str], dataset: str) -> str:
    paper_note = "" if dataset.startswith("celeba") else " (other data, not comparable)"
    lines = [
        "| mask (missing) | " + " | ".join(METHODS) + f" | Yeh et al. CelebA{paper_note} |",
        "|---" * (len(METHODS) + 2) + "|",
    ]
    for spec in specs:
        cells = {e["method"]: e for e in table if e["mask"] == spec}
        if not cells:
            continue
        miss = next(iter(cells.values()))["missing"]
        row = [f"{spec} ({miss:.0%})"]
        for method in METHODS:
            e = cells.get(method)
            ci = "" if not e or e["psnr_ci95"] is None else f" ± {e['psnr_ci95']:.2f}"
            row.append(f"{e['psnr']:.2f}{ci} dB / {e['ssim']:.3f}" if e else "—")
        paper = PAPER_CELEBA_PSNR.get(spec.split(":")[0])
        row.append(f"{paper} dB" if paper is not None else "—")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out, cache = Path(args.out), Path(args.cache)
    out.mkdir(parents=True, exist_ok=True)
    specs = [s for s in args.masks.split(",") if s]
    G = load_generator(args.generator, device="cpu")
    if args.discriminator == "none":
        D = None
    else:
        D = load_discriminator(args.discriminator or args.generator, device="cpu")
    x, _ = load_images(args.dataset, args.data_root or None, args.split, n=args.n, start=args.start)
    ids = list(range(args.start, args.start + len(x)))  # masks and restarts follow the image
    train, _ = load_images(args.dataset, args.data_root or None, "train", n=args.train_n)
    rows_path = out / "rows.csv"
    protocol = {
        **{k: v for k, v in vars(args).items() if k not in ("out", "cache", "no_progress")},
        "generator_config": {
            k: G.checkpoint_config.get(k) for k in ("dataset", "loss", "steps", "latent_dim")
        },
        "latent_config": {k: getattr(INPAINT_CONFIG, k) for k in ("projection", "init", "select")},
        # protocol 2: masks and restarts seeded by (seed, dataset index) (ganinverse.seeds);
        # every default a row depends on, resolved, so other defaults never mix into one folder
        "seeding": 2,
        "resolved": {
            "latent": {
                k: v
                for k, v in dataclasses.asdict(INPAINT_CONFIG).items()
                if k not in ("steps", "restarts", "lr", "box", "seed", "progress")
            },
            "tv_inpaint": _defaults(tv_inpaint, "tol"),
        },
        "image_shape": list(G.image_shape),
        "threads": torch.get_num_threads(),
    }
    protocol = json.loads(json.dumps(protocol))  # tuples -> lists, as read back from the file
    saved = out / "protocol.json"
    if rows_path.is_file() and saved.is_file():
        before = read_json(saved, "protocol")
        changed = sorted(
            k for k in protocol if k not in ("masks", "threads") and before.get(k) != protocol[k]
        )
        if changed:  # resuming would mix rows of two protocols
            raise SystemExit(
                f"{out} holds results of another protocol (differs in {', '.join(changed)}); "
                "use another --out or the same settings"
            )
    atomic_write_json(saved, protocol)
    done = {(r["mask"], r["method"]) for r in read_rows(rows_path)}
    bar = tqdm(
        total=len(specs) * len(METHODS), desc="inpainting", unit="method", disable=args.no_progress
    )
    for spec in specs:
        mask = parse_mask(spec, len(x), G.image_shape, seed=args.seed, ids=ids)
        store = cache / f"{_tag(spec)}.safetensors"
        if all((spec, m) in done for m in METHODS) and store.is_file():
            bar.update(len(METHODS))
            tqdm.write(f"{spec}: done")
            continue
        start = time.perf_counter()
        results = _solve(args, spec, x, mask, G, D, train, ids, bar)
        for method, (x_hat, seconds) in results.items():
            if (spec, method) not in done:
                append_rows(rows_path, FIELDS, _rows(spec, method, x_hat, x, mask, seconds, ids))
        tensors = {m: v[0].contiguous() for m, v in results.items()}
        atomic_write(store, lambda p, t=tensors: save_file(t, str(p)))
        summary = ", ".join(f"{m} {float(psnr(v[0], x).mean()):.2f} dB" for m, v in results.items())
        tqdm.write(f"{spec}: {summary} ({time.perf_counter() - start:.0f} s)")
    bar.close()

    table = _summary(rows_path, specs)
    atomic_write_json(out / "summary.json", table)
    atomic_write_text(out / "table.md", _markdown(table, specs, args.dataset))
    k = min(args.grid_n, len(x))
    for spec in specs:
        store = cache / f"{_tag(spec)}.safetensors"
        if not store.is_file():
            continue
        done_images = load_file(str(store))
        mask = parse_mask(spec, len(x), G.image_shape, seed=args.seed, ids=ids)
        image_grid(
            [x[:k], torch.where(mask[:k].bool(), x[:k], 0.0)]
            + [done_images[m][:k] for m in METHODS],
            ["original", "masked", *METHODS],
            out / f"grid_{_tag(spec)}.png",
            title=f"{args.dataset} {args.split} images {args.start}..{args.start + k - 1}, "
            f"mask {spec}",
        )
    print((out / "table.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
