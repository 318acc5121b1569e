"""Write the images whose moments ``gaussian --gaussian-images`` uses: a dataset's training
images (default the first 5,900 celeba64 faces, those ``celeba64-lsgan`` trained on) as a
safetensors file of (N, C, H, W) on [-1, 1] (``solvers.gaussian.save_samples``). The file holds
the data's images: write it outside the repository (never commit it).

    PYTHONPATH=. python benchmarks/gaussian_images.py --data-root /tmp/data/celeba64 \\
        --out runs/celeba64_train5900.safetensors
"""

from __future__ import annotations

import argparse

from ganinverse.data import load_images
from ganinverse.solvers.gaussian import save_samples


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dataset", default="celeba64")
    p.add_argument("--data-root")
    p.add_argument("--split", default="train")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--n", type=int, default=5900)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    x, _ = load_images(args.dataset, args.data_root, split=args.split, n=args.n, start=args.start)
    print(save_samples(x, args.out), tuple(x.shape))


if __name__ == "__main__":
    main()
