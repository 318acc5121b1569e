"""The image-adaptive method's cost against CSGM's, measured side by side on a sweep's problem.

Issue 16's cost target: iagan costs at most 5x CSGM's seconds per image at the same m, at the
quality the sweep reports. A sweep times each unit when it runs, and units of different methods
run at different times, so on a shared CPU their seconds are not comparable. This script takes
a recorded sweep folder (its ``sweep.json`` and the fine-tuning steps its validation search
chose, ``weights.json``), and for each m times, in one process and back to back on the same
images: CSGM with the sweep's engine, then iagan from that CSGM result with the chosen
``adapt_steps`` (the discrepancy rule as the sweep ran it). iagan's seconds include its CSGM
start, as the sweep's do. iagan runs with the options the sweep set for it (``sweep.json``'s ``options``,
e.g. ``tv_weight`` of a ``--iagan-tv`` sweep; recorded in the row's ``iagan_options``). Per m
it prints seconds per image of each, their ratio and the PSNR of each on these images, and
appends a row to ``--out`` (a CSV; an m already there with the same options is skipped, so a
killed run resumes).

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/iagan_cost.py \
        benchmarks/results/beyond_range/faces --m 500,2500,5000,10000 --n 4 \
        --data-root /tmp/data/celeba64 --out benchmarks/results/beyond_range/iagan_cost.csv

The operator is a GaussianCS drawn with seed 0 (not the sweep's own A: the timing depends on m
and the image size, not on A's draw); the PSNRs are a check that the quality is the sweep's,
not a paired result.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import torch

from ganinverse.data import load_images
from ganinverse.methods import reconstruct_result
from ganinverse.metrics import psnr
from ganinverse.models import load_generator
from ganinverse.operators import GaussianCS

FIELDS = ["m", "n", "adapt_steps", "csgm_s_per_image", "iagan_s_per_image", "ratio"]
FIELDS += ["finetune_steps_mean", "csgm_psnr", "iagan_psnr", "threads", "when", "iagan_options"]


def chosen_steps(weights: dict, m: int) -> int:
    """The fine-tuning steps the sweep's validation search chose for iagan at m."""
    entry = weights.get(f"iagan@{m}")
    if entry is None:
        raise ValueError(f"the sweep has no iagan search at m = {m}; pass an m it ran")
    return int(entry["value"])


def iagan_options(spec: dict) -> dict:
    """The options the sweep set for iagan (none: its defaults), as its sweep.json holds them."""
    return dict((spec.get("options") or {}).get("iagan", {}))


def measure_one(G, spec: dict, x: torch.Tensor, m: int, steps: int) -> dict:
    """CSGM then iagan (from that CSGM, with the sweep's iagan options) on the images ``x``,
    timed back to back."""
    options = iagan_options(spec)
    op = GaussianCS(G.image_shape, m, seed=0, noise_std=2 * float(spec["noise_std"]))
    y = op.measure(x, seed=1, image_ids=list(range(len(x))))
    ids = list(range(len(x)))
    t = time.perf_counter()
    start = reconstruct_result("csgm", G, op, y, image_ids=ids, progress=False, **spec["engine"])
    csgm_s = time.perf_counter() - t
    t = time.perf_counter()
    engine = {"progress": False, **spec["engine"]}  # (iagan's start must be run with its own)
    res = reconstruct_result("iagan", G, op, y, start=start, adapt_steps=steps, **options, **engine)
    iagan_s = csgm_s + time.perf_counter() - t  # (as the sweep times it: with its start)
    return {
        "m": m,
        "n": len(x),
        "adapt_steps": steps,
        "csgm_s_per_image": round(csgm_s / len(x), 3),
        "iagan_s_per_image": round(iagan_s / len(x), 3),
        "ratio": round(iagan_s / csgm_s, 3),
        "finetune_steps_mean": round(float(res.steps_run.float().mean()), 1),
        "csgm_psnr": round(float(psnr(start.x_hat, x).mean()), 2),
        "iagan_psnr": round(float(psnr(res.x_hat, x).mean()), 2),
        "threads": torch.get_num_threads(),
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "iagan_options": json.dumps(options, sort_keys=True),
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("sweep", type=Path, help="a sweep folder that ran csgm and iagan")
    p.add_argument("--m", required=True, help="comma-separated measurement counts")
    p.add_argument("--n", type=int, default=4, help="test images (the first n)")
    p.add_argument("--data-root", default=None, help="the dataset's folder (default: sweep's)")
    p.add_argument("--out", type=Path, required=True, help="CSV of the rows (resumable)")
    args = p.parse_args()
    spec = json.loads((args.sweep / "sweep.json").read_text())
    weights = json.loads((args.sweep / "weights.json").read_text())
    ms = [int(v) for v in args.m.split(",")]
    steps = {m: chosen_steps(weights, m) for m in ms}  # (every m checked before any work)
    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    options = json.dumps(iagan_options(spec), sort_keys=True)
    done = set()
    if args.out.exists():
        with args.out.open() as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != FIELDS:
                raise ValueError(
                    f"--out {args.out} has the columns {reader.fieldnames}, not this script's "
                    f"{FIELDS}: pass another --out"
                )
            done = {int(r["m"]) for r in reader if r["iagan_options"] == options}
    G = load_generator(spec["generator"], device="cpu")
    root = args.data_root or spec["data_root"]
    x, _ = load_images(spec["dataset"], root, "test", n=args.n)
    for m in ms:
        if m in done:
            print(f"m = {m} with iagan options {options}: in {args.out} already")
            continue
        row = measure_one(G, spec, x, m, steps[m])
        new = not args.out.exists()
        with args.out.open("a", newline="") as f:
            w = csv.DictWriter(f, FIELDS)
            if new:
                w.writeheader()
            w.writerow(row)
            f.flush()
            os.fsync(f.fileno())
        print(
            f"m = {m}: csgm {row['csgm_s_per_image']} s/image ({row['csgm_psnr']} dB), iagan "
            f"({steps[m]} steps at most, {row['finetune_steps_mean']} run) "
            f"{row['iagan_s_per_image']} s/image ({row['iagan_psnr']} dB): ratio {row['ratio']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
