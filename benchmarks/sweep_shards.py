"""A sweep run by one process and by N shard processes at once, merged: are the rows identical?

    python benchmarks/sweep_shards.py --shards 2 --out /tmp/shard-check -- \\
        --generator celeba64-dcgan --dataset celeba64 --data-root /tmp/data/celeba64 \\
        --m 20,500 --methods csgm,lasso-dct --n-images 4 --batch-size 2 --noise-std 0.01

Everything after ``--`` is passed to ``ganinverse sweep`` unchanged. The single run goes to
OUT/single, the shards (launched together, as ``--shard K/N`` processes) to OUT/sharded, then
``sweep-merge``. Rows are compared on every field except the timing; the wall times of both runs
and the verdict are printed and written to OUT/shards.json (and ``--json`` if given).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from ganinverse.io import atomic_write_json
from ganinverse.sweep import merge


def _sweep(args: list[str], out: Path, shard: str | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ganinverse.cli", "sweep", *args, "--out", str(out)]
    cmd += ["--no-progress"] + (["--shard", shard] if shard else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)


def _wait(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"sweep failed: {' '.join(p.args)}")


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--out", required=True)
    parser.add_argument("--json", help="also write the verdict here")
    args = parser.parse_args(argv[:split])
    sweep_args = argv[split + 1 :]
    if args.shards < 2:
        parser.error("--shards must be at least 2")
    out = Path(args.out)
    start = time.perf_counter()
    _wait([_sweep(sweep_args, out / "single")])
    single_s = time.perf_counter() - start
    start = time.perf_counter()
    _wait([_sweep(sweep_args, out / "sharded", f"{k}/{args.shards}") for k in range(args.shards)])
    sharded_s = time.perf_counter() - start
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    a, b = strip(merge(out / "single")), strip(merge(out / "sharded"))
    verdict = {
        "sweep_args": sweep_args,
        "shards": args.shards,
        "rows": len(a),
        "identical": a == b,
        "differing_rows": sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b)),
        "single_seconds": round(single_s, 1),
        "sharded_seconds": round(sharded_s, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    atomic_write_json(out / "shards.json", verdict)
    if args.json:
        atomic_write_json(args.json, verdict)
    print(verdict)
    return 0 if verdict["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
