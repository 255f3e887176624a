"""How much faster is ``dataperf.select.kcenter_greedy`` than the naive greedy loop?

Baseline (named "naive"): the textbook numpy loop, float32, one full ``O(N D)`` distance update
per new centre (``|x|^2 + |c|^2 - 2 X @ c`` with precomputed norms, then ``np.minimum`` and
``np.argmax``), starting from the same reference distances. Candidate: ``kcenter_greedy`` on the
CPU (``device="cpu"``, float32). Both are timed in this run, on the same data:

- clustered: a mixture of 100 Gaussian clusters (pool and reference drawn from it);
- iid: i.i.d. standard Gaussian data.

The reference-distance pass (one chunked matrix-product pass over pool x reference) is timed
apart and is the same code for both. When the full naive loop would be too slow it runs only
its first ``--naive-steps`` steps and its time is extrapolated linearly to ``k`` (each naive
step costs the same); the output says so. The selections are compared on the steps both ran.

Run: ``.venv/bin/python benchmarks/kcenter_speed.py`` (N=100k, D=512, k=1000, 10k reference)
or ``--small`` for a quick check.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dataperf._kcenter import kcenter_lazy, min_sqdist
from dataperf.select import kcenter_greedy


def make_data(kind: str, n: int, m: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "iid":
        x = rng.standard_normal((n + m, d), dtype=np.float32)
    else:
        centres = rng.standard_normal((100, d), dtype=np.float32) * 3.0
        lab = rng.integers(100, size=n + m)
        x = centres[lab] + rng.standard_normal((n + m, d), dtype=np.float32)
    return x[:n], x[n:]


def naive(x: np.ndarray, dmin2: np.ndarray, steps: int) -> tuple[np.ndarray, float]:
    """The baseline greedy loop on centred data; returns (picks, seconds)."""
    xx = np.einsum("ij,ij->i", x, x)
    dmin2 = dmin2.copy()
    picked = []
    t0 = time.perf_counter()
    for _ in range(steps):
        i = int(np.argmax(dmin2))
        picked.append(i)
        d2 = xx + xx[i] - 2.0 * (x @ x[i])
        np.minimum(dmin2, d2, out=dmin2)
        dmin2[i] = -1.0
    return np.asarray(picked), time.perf_counter() - t0


def run(kind: str, n: int, m: int, d: int, k: int, naive_steps: int) -> None:
    x, ref = make_data(kind, n, m, d, seed=0)
    start = [] if m else [0]  # without a reference, both start from the first point
    # Centre exactly as kcenter_greedy does, so both methods see bit-identical inputs.
    xt = torch.from_numpy(x)
    mu = xt.mean(0)
    xt = xt - mu
    rt = torch.from_numpy(ref) - mu if m else xt[:1]
    xx = (xt * xt).sum(1)
    # Reference pass (shared by both methods), timed apart.
    t0 = time.perf_counter()
    with torch.inference_mode():
        dref = min_sqdist(xt, xx, rt, 2048)
    t_ref = time.perf_counter() - t0
    # Candidate greedy part alone, run as the public function runs it (one CPU thread).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    with torch.inference_mode():
        fast = kcenter_lazy(xt, xx, dref.clone(), None, k, list(start))
    t_fast = time.perf_counter() - t0
    torch.set_num_threads(threads)
    # Public function end to end (includes validation, centring and the reference pass).
    t0 = time.perf_counter()
    full = kcenter_greedy(x, k, reference=ref if m else None, device="cpu")
    t_full = time.perf_counter() - t0
    xc = xt.numpy()
    steps = min(k, naive_steps)
    dstart = dref.numpy().copy()
    dstart[start] = -1.0
    # The naive loop gets its best BLAS thread count (one thread wins on a busy machine).
    from threadpoolctl import threadpool_limits

    slow, t_naive = naive(xc, dstart, steps)
    with threadpool_limits(limits=1):
        slow1, t_naive1 = naive(xc, dstart, steps)
    naive_threads = "default"
    if t_naive1 < t_naive:
        slow, t_naive, naive_threads = slow1, t_naive1, "1"
    t_naive_k = t_naive * k / steps
    slow = np.concatenate([start, slow]).astype(np.int64)[:steps]
    same = np.array_equal(slow, fast[:steps]) and np.array_equal(full, fast)
    first_diff = "" if same else f" (first difference at step {_first_diff(slow, fast)})"
    note = "measured" if steps == k else f"extrapolated from {steps} of {k} steps"
    print(f"[{kind}] N={n} D={d} k={k} reference={m}")
    print(f"  reference-distance pass (one chunked matmul pass): {t_ref:8.2f} s")
    print(
        f"  naive greedy loop  ({note}, BLAS threads: {naive_threads}): {t_naive_k:8.2f} s"
        f"  ({1e3 * t_naive / steps:.1f} ms/centre)"
    )
    print(f"  kcenter_greedy greedy part:                      {t_fast:8.2f} s")
    print(f"  kcenter_greedy end to end (incl. reference pass): {t_full:8.2f} s")
    print(f"  speed-up of the greedy part: {t_naive_k / t_fast:6.1f}x")
    print(f"  same selection on the {steps} steps compared: {same}{first_diff}")


def _first_diff(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    diff = np.flatnonzero(a[:n] != b[:n])
    return int(diff[0]) if diff.size else n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--small", action="store_true", help="N=20k, D=128, k=300, 2k reference")
    ap.add_argument("--naive-steps", type=int, default=200, help="naive steps to time (<= k)")
    ap.add_argument("--no-reference", action="store_true", help="run without a reference set")
    ap.add_argument("--kinds", default="clustered,iid", help="comma-separated: clustered,iid")
    args = ap.parse_args()
    n, m, d, k = (20_000, 2_000, 128, 300) if args.small else (100_000, 10_000, 512, 1000)
    print(f"torch threads: {torch.get_num_threads()}")
    for kind in args.kinds.split(","):
        run(kind, n, 0 if args.no_reference else m, d, k, args.naive_steps)


if __name__ == "__main__":
    main()
