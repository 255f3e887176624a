"""Speed of exact KNN-Shapley (``data_values(method="knn_shapley")``) on the CPU, and agreement
with pyDVL's ``KNNShapleyValuation`` where pyDVL is installed (benchmark only: pyDVL is LGPL and
never a dependency).

Run: ``OMP_NUM_THREADS=2 python benchmarks/knn_shapley_speed.py [--sizes 12500 25000 50000]
[--valid 5000] [--pydvl-n 5000] [--pydvl-valid 500]``

Install pyDVL for the comparison with ``pip install --no-deps pydvl==0.10.0 pyDeprecate``: a
plain install would downgrade numpy and pull cvxpy, pandas and solvers that the comparison does
not use.
"""

from __future__ import annotations

import argparse
import sys
import time
import types

import numpy as np
import torch

from dataperf.curate.valuation import data_values


def make_data(
    n: int, m: int, d: int, *, classes: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian clusters, one per class, with 10% of the training labels flipped."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0 / np.sqrt(d) * 4, size=(classes, d))
    yt = rng.integers(0, classes, n)
    yv = rng.integers(0, classes, m)
    xt = (centres[yt] + rng.normal(size=(n, d))).astype(np.float32)
    xv = (centres[yv] + rng.normal(size=(m, d))).astype(np.float32)
    flip = rng.random(n) < 0.1
    yt = np.where(flip, rng.integers(0, classes, n), yt)
    return xt, yt, xv, yv


def pydvl_values(xt, yt, xv, yv, k):  # noqa: ANN001, ANN201
    """pyDVL 0.10 exact KNN-Shapley values, or a string saying why it could not run."""
    try:
        import cvxpy  # noqa: F401
    except ImportError:  # pydvl.valuation.methods imports cvxpy for an unrelated method
        sys.modules.setdefault("cvxpy", types.ModuleType("cvxpy"))
    try:
        import warnings

        warnings.simplefilter("ignore", FutureWarning)
        from pydvl.valuation import Dataset
        from pydvl.valuation.methods.knn_shapley import KNNShapleyValuation
        from sklearn.neighbors import KNeighborsClassifier
    except Exception as err:  # noqa: BLE001
        return f"pyDVL unavailable ({type(err).__name__}: {err}); pip install --no-deps pydvl"
    train = Dataset(xt.astype(np.float64), yt)
    test = Dataset(xv.astype(np.float64), yv)
    val = KNNShapleyValuation(KNeighborsClassifier(n_neighbors=k), test_data=test, progress=False)
    val.fit(train)
    res = val.result
    out = np.empty(len(xt))
    out[np.asarray(res.indices)] = np.asarray(res.values)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[12500, 25000, 50000])
    parser.add_argument("--valid", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--pydvl-n", type=int, default=5000)
    parser.add_argument("--pydvl-valid", type=int, default=500)
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}, device: cpu, d={args.dim}, k={args.k}")

    rows = []
    for n in args.sizes:
        xt, yt, xv, yv = make_data(n, args.valid, args.dim)
        t0 = time.perf_counter()
        data_values((xt, yt), (xv, yv), k=args.k, device="cpu")
        rows.append((n, time.perf_counter() - t0))
    print("\n| N_train | N_valid | seconds | ratio vs previous N |\n|---|---|---|---|")
    for i, (n, sec) in enumerate(rows):
        ratio = f"{sec / rows[i - 1][1]:.2f}x (N x{n / rows[i - 1][0]:.1f})" if i else "-"
        print(f"| {n} | {args.valid} | {sec:.2f} | {ratio} |")

    n, m = args.pydvl_n, args.pydvl_valid
    xt, yt, xv, yv = make_data(n, m, args.dim, seed=1)
    t0 = time.perf_counter()
    ours = data_values((xt, yt), (xv, yv), k=args.k, device="cpu")
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = pydvl_values(xt, yt, xv, yv, args.k)
    t_theirs = time.perf_counter() - t0
    print(f"\npyDVL comparison at N_train={n}, N_valid={m}:")
    if isinstance(theirs, str):
        print(f"skipped: {theirs}")
        return
    corr = np.corrcoef(ours, theirs)[0, 1]
    print(
        f"| method | seconds |\n|---|---|\n| dataperf | {t_ours:.2f} |\n| pyDVL | {t_theirs:.2f} |"
        f"\nspeed-up {t_theirs / t_ours:.1f}x; correlation {corr:.8f}; max |diff| "
        f"{np.abs(ours - theirs).max():.3g} (max |value| {np.abs(theirs).max():.3g})"
    )


if __name__ == "__main__":
    main()
