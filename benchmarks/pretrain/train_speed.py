"""Training speed of a 64x64x3 DCGAN on this CPU: memory format x threads x width, side by side.

    python benchmarks/pretrain/train_speed.py [--steps 6] [--ngf 32 64] [--threads 1 2] \
        [--batch-size 64] [--formats nchw channels_last] [--json PATH]

One training step = one D update on a real and a fake batch of 64 plus one G update (GAN loss),
exactly ``pretrain.trainer.Trainer.train_step``. The data are random tensors of the CelebA 64x64
shape (speed does not depend on the pixels). Prints ms per step, ms per image and each setting's
speed-up over the first setting of its width (per image); writes
benchmarks/results/pretrain/train_speed.json (or ``--json``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from ganinverse.io import atomic_write_json
from pretrain.trainer import TrainConfig, Trainer

OUT = Path(__file__).resolve().parents[1] / "results" / "pretrain" / "train_speed.json"


def ms_per_step(ngf: int, channels_last: bool, threads: int, steps: int, batch: int) -> float:
    """Median wall time of ``steps`` training steps after two warm-up steps."""
    torch.set_num_threads(threads)
    data = torch.rand(512, 3, 64, 64) * 2 - 1
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(
            dataset="celeba64",
            latent_dim=100,
            ngf=ngf,
            ndf=ngf,
            batch_size=batch,
            channels_last=channels_last,
            device="cpu",
            out=out,
            progress=False,
        )
        trainer = Trainer(cfg, data)
        times = []
        for s in range(steps + 2):
            t0 = time.perf_counter()
            trainer.train_step(s)
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times[2:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[64])
    parser.add_argument("--ngf", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--formats", nargs="+", choices=("nchw", "channels_last"), default=["nchw", "channels_last"]
    )
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args()
    rows = []
    for ngf in args.ngf:
        base = None
        for threads in args.threads:
            for batch in args.batch_size:
                for fmt in args.formats:
                    channels_last = fmt == "channels_last"
                    ms = ms_per_step(ngf, channels_last, threads, args.steps, batch)
                    base = base or ms / batch
                    rows.append(
                        {
                            "ngf": ngf,
                            "threads": threads,
                            "batch_size": batch,
                            "channels_last": channels_last,
                            "ms_per_step": round(ms, 1),
                            "ms_per_image": round(ms / batch, 2),
                            "speedup": round(base * batch / ms, 2),
                        }
                    )
                    r = rows[-1]
                    print(
                        f"ngf={ngf} threads={threads} batch={batch} {fmt}: "
                        f"{r['ms_per_step']} ms/step, {r['ms_per_image']} ms/image, "
                        f"x{r['speedup']} vs the first setting",
                        flush=True,
                    )
    result = {
        "rows": rows,
        "steps_timed": args.steps,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
    }
    atomic_write_json(args.json, result)
    print(f"load average {result['load_average_1min']}; wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
