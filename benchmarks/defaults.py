"""The README's Python example as printed (``gi.csgm(G, A, y)``: the generator card's settings),
side by side with the README's earlier settings and with the recorded tuned sweep's best engine
setting at the same m, on the same A, y and images (issue 18's target).

    python benchmarks/defaults.py --data-root /tmp/data --out benchmarks/results/defaults

The first ``--n`` MNIST test images (default 20), A = GaussianCS(m, seed=0), y = A.measure(x,
seed=1), σ = 0.2 on [-1, 1] (0.1 on [0, 1]), exactly as in README.md. Per m, per setting: the
mean MSE per pixel ([0, 1] scale) with its 95% CI, seconds, restarts x steps; then the paired
difference card − sweep's best with its CI and the ratio of the means (target: <= 1.05).
Writes results.csv (one row per image, m and setting) and results.md; resumable per (m, setting).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from csv_rows import append_rows, read_rows  # benchmarks/csv_rows.py
from tqdm.auto import tqdm

import ganinverse as gi
from ganinverse.io import atomic_write_text
from ganinverse.recommended import card_block
from ganinverse.solvers.csgm import CSGM_PRESETS
from ganinverse.sweep import mean_ci95

SWEEP = Path(__file__).parent / "results" / "reruns" / "mnist_sweep_tuned"
FIELDS = ("m", "setting", "image", "mse", "seconds", "latent_steps")


def settings(m: int) -> dict:
    """name -> the config each setting runs (None: no options, the card's)."""
    recorded = json.loads((SWEEP / "sweep.json").read_text())
    table = SWEEP / "weights.json"  # lambdas.json in folders of earlier versions
    table = table if table.is_file() else SWEEP / "lambdas.json"
    chosen = json.loads(table.read_text())[f"csgm@{m}"]
    best = chosen.get("value", chosen.get("lambda"))
    engine = {k: tuple(v) if isinstance(v, list) else v for k, v in recorded["engine"].items()}
    return {
        "readme (card)": None,
        "readme before (lr 0.01)": CSGM_PRESETS["mnist"].updated(restarts=10, steps=1000, lr=0.01),
        "sweep's best": CSGM_PRESETS["mnist"].updated(**engine, **best),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", required=True)
    p.add_argument("--m", default="25,100")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    m_values = [int(v) for v in args.m.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.csv"
    rows = read_rows(path)
    done = {(r["m"], r["setting"]) for r in rows}
    G = gi.load_generator("mnist-wgangp", device="cpu")
    x, _ = gi.load_images("mnist", root=args.data_root, split="test", n=args.n)
    units = [(m, name, c) for m in m_values for name, c in settings(m).items()]
    for m, name, config in tqdm(units, desc="defaults", unit="setting"):
        if (str(m), name) in done:
            continue
        if config is None and card_block(G) is None:
            tqdm.write(f"m = {m}: {name} skipped: mnist-wgangp's card has no settings yet")
            continue
        A = gi.GaussianCS(G.image_shape, m=m, seed=0, noise_std=0.2)
        y = A.measure(x, seed=1)
        start = time.perf_counter()
        res = (
            gi.csgm(G, A, y) if config is None else gi.csgm(G, A, y, config.updated(progress=False))
        )
        seconds = (time.perf_counter() - start) / len(x)
        steps = res.config.restarts * res.config.steps
        unit = [
            {
                "m": m,
                "setting": name,
                "image": i,
                "mse": err,
                "seconds": seconds,
                "latent_steps": steps,
            }
            for i, err in enumerate(gi.metrics.mse(res.x_hat, x).tolist())
        ]
        append_rows(path, FIELDS, unit)
        rows += unit
    atomic_write_text(args.out / "results.md", report(rows, m_values))
    print(report(rows, m_values))


def report(rows: list[dict], m_values: list[int]) -> str:
    by = {}
    for r in rows:
        by.setdefault((int(r["m"]), r["setting"]), {})[int(r["image"])] = r
    lines = [
        "| m | setting | n | MSE/pixel [0,1] (±95% CI) | s/image | restarts x steps |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for m in m_values:
        for (mm, name), imgs in by.items():
            if mm != m:
                continue
            errs = [float(r["mse"]) for r in imgs.values()]
            mean, ci = mean_ci95(errs)
            first = next(iter(imgs.values()))
            lines.append(
                f"| {m} | {name} | {len(errs)} | {mean:.4f} ± {ci:.4f} | "
                f"{float(first['seconds']):.2f} | {first['latent_steps']} |"
            )
    lines += [
        "",
        "| m | card − sweep's best (paired, ±95% CI) | ratio of means |",
        "|---:|---:|---:|",
    ]
    for m in m_values:
        a, b = by.get((m, "readme (card)")), by.get((m, "sweep's best"))
        if not a or not b:
            continue
        common = sorted(set(a) & set(b))
        diff = [float(a[i]["mse"]) - float(b[i]["mse"]) for i in common]
        mean, ci = mean_ci95(diff)
        ratio = sum(float(a[i]["mse"]) for i in common) / sum(float(b[i]["mse"]) for i in common)
        lines.append(f"| {m} | {mean:+.4f} ± {ci:.4f} | {ratio:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
