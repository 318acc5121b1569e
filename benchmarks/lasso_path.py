"""Cold vs warm-started FISTA along the sweep's λ grid (largest λ first), as a λ search runs it.

    OMP_NUM_THREADS=1 python benchmarks/lasso_path.py > benchmarks/results/lasso_gap/path.txt

10 digits of the train split on [0, 1] (28x28), A ~ N(0, 1/m), noise 0.005, DCT basis,
m = 10, 25, 50; both runs stop on the same duality-gap rule (tol 1e-4, max_iter 20000). Prints
the total FISTA iterations and seconds over the grid per m.
"""

from __future__ import annotations

import time
import warnings

import torch

from ganinverse.baselines import lasso_fista
from ganinverse.bases import make_basis
from ganinverse.data import load_images
from ganinverse.exceptions import ConvergenceWarning
from ganinverse.methods import LASSO_LAMBDAS
from ganinverse.seeds import rng


def main() -> None:
    warnings.simplefilter("ignore", ConvergenceWarning)
    torch.set_num_threads(1)
    x, _ = load_images("digits", None, "train", n=10)
    basis = make_basis("dct", (1, 28, 28))
    print(
        "m\tcold iterations\tcold s\twarm iterations\twarm s\t"
        "max (P_warm - P_cold) / P_cold\tunconverged solves cold / warm"
    )
    for m in (10, 25, 50):
        A = torch.randn(m, 784, generator=rng(0, "A", m)) / m**0.5
        y = ((x.flatten(1) + 1) / 2) @ A.T + 0.005 * torch.randn(10, m, generator=rng(0, "y", m))
        totals = {"cold": [0, 0.0], "warm": [0, 0.0]}
        unconverged = {"cold": 0, "warm": 0}
        previous, worst = None, 0.0
        for lam in sorted(LASSO_LAMBDAS, reverse=True):
            results = {}
            for kind, init in (("cold", None), ("warm", previous)):
                start = time.perf_counter()
                res = lasso_fista(A, y, basis, (1, 28, 28), lam, device="cpu", init=init)
                totals[kind][0] += int(res.iterations.sum())
                totals[kind][1] += time.perf_counter() - start
                results[kind] = res
                unconverged[kind] += int((~res.converged).sum())
            previous = results["warm"].coefficients
            rel = results["warm"].objective - results["cold"].objective  # > 0: warm is worse
            worst = max(worst, float((rel / results["cold"].objective).max()))
        (ci, cs), (wi, ws) = totals["cold"], totals["warm"]
        print(
            f"{m}\t{ci}\t{cs:.1f}\t{wi}\t{ws:.1f}\t{worst:.1e}\t"
            f"{unconverged['cold']} / {unconverged['warm']} of {10 * len(LASSO_LAMBDAS)}"
        )


if __name__ == "__main__":
    main()
