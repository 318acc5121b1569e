"""Cost of candidate generator sizes on this CPU (the latent engine's inner step).

    python benchmarks/pretrain/cost_table.py

Writes benchmarks/results/pretrain/cost.json and prints a Markdown table: MFLOPs per image and
ms per latent per optimisation step (batch of 640 latents, G frozen, forward + backward to z).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from ganinverse.io import atomic_write_json
from ganinverse.models import DCGANGenerator, MLPGenerator, generator_cost

OUT = Path(__file__).resolve().parents[1] / "results" / "pretrain" / "cost.json"
CANDIDATES = {
    "DCGAN 28x28 ngf=64 z=100": lambda: DCGANGenerator(100, (1, 28, 28), 64),
    "DCGAN 28x28 ngf=32 z=32": lambda: DCGANGenerator(32, (1, 28, 28), 32),
    "DCGAN 28x28 ngf=32 z=20": lambda: DCGANGenerator(20, (1, 28, 28), 32),
    "DCGAN 64x64x3 ngf=64 z=100": lambda: DCGANGenerator(100, (3, 64, 64), 64),
    "MLP 20-500-500-784": lambda: MLPGenerator(20, (1, 28, 28), (500, 500)),
}


def main() -> int:
    rows = {}
    for name, build in CANDIDATES.items():
        torch.manual_seed(0)
        rows[name] = generator_cost(build(), batch=640, repeats=5)
    result = {
        "rows": rows,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "threads": torch.get_num_threads(),
    }
    atomic_write_json(OUT, result)
    print(f"threads={result['threads']}, load average {result['load_average_1min']}\n")
    print("| generator | MFLOPs / image | ms / latent / step |\n|---|---:|---:|")
    for name, cost in rows.items():
        print(f"| {name} | {cost['mflops_per_image']:.2f} | {cost['ms_per_latent_step']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
