"""Copy a pretrain run's generator and discriminator at its last save to another folder (each
pair atomically), refusing when that save is not at the step named: what a benchmark evaluates
is then the step it says, while the run trains on.

    python benchmarks/pretrain/snapshot.py RUN OUT STEP
"""

from __future__ import annotations

import argparse
import os
import sys

from ganinverse.models.checkpoint import copy_pair, read_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="the pretrain --out folder")
    parser.add_argument("out", help="the folder the snapshot is written to")
    parser.add_argument("step", type=int, help="the step of the run's last save")
    args = parser.parse_args(argv)
    saved = read_config(f"{args.run}/generator")["steps"]
    if saved != args.step:
        print(
            f"{args.run}'s last save is at step {saved}, not {args.step}: pass {saved}",
            file=sys.stderr,
        )
        return 2
    os.makedirs(args.out, exist_ok=True)
    for name in ("generator", "discriminator"):
        copy_pair(f"{args.run}/{name}", f"{args.out}/{name}")
    if read_config(f"{args.out}/generator")["steps"] != args.step:  # (a save in between)
        print(f"{args.run} saved again while it was copied: run it again", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
