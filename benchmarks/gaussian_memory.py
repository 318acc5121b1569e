"""The Gaussian prior's memory estimate (``solvers.gaussian.memory_needed``) against the peak
growth of this process's memory (ru_maxrss) around one ``gaussian`` call on the CPU, with a
samples file of N random digit-sized images (1x28x28), d measurements per image.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/gaussian_memory.py --n 100000 --d 100
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/gaussian_memory.py --n 50000 --d 700 --mirror

The file is written by a child process first, so this process's peak starts at the call.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, required=True, help="samples in the file")
    parser.add_argument("--d", type=int, required=True, help="measurements per image")
    parser.add_argument("--mirror", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.safetensors"
        subprocess.run(
            [sys.executable, "-c",
             "import sys, torch; from ganinverse.solvers.gaussian import save_samples; "
             "torch.manual_seed(0); "
             f"save_samples(torch.rand({args.n}, 1, 28, 28) * 2 - 1, sys.argv[1])", str(path)],
            check=True,
        )  # fmt: skip
        import torch

        from ganinverse.operators import GaussianCS
        from ganinverse.solvers.gaussian import gaussian, memory_needed

        op = GaussianCS((1, 28, 28), args.d, seed=0)
        y = op.measure(torch.rand(2, 1, 28, 28) * 2 - 1, seed=1)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        gaussian(None, op, y, samples=str(path), mirror=args.mirror)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    estimate = memory_needed(args.n, 28 * 28, args.d, mirror=args.mirror)
    print(
        f"N={args.n} d={args.d} mirror={args.mirror}: estimate {estimate / 2**20:,.0f} MiB, "
        f"peak growth {(peak - before) / 2**20:,.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
