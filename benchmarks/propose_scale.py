"""``HardnessSampler.propose`` at scale: the shared torch neighbour search against the release
before it.

Baseline (named "previous release"): the library as of commit ``7d1277b`` (before the neighbour
search layer), extracted from git history into a temporary package ``dataperf_prev`` and
imported in this same process. Its sampler searches pool x train twice (typicality, and
neighbour disagreement over train + test) with scikit-learn's float64 brute force.
Candidate: ``HardnessSampler(search="exact", device="cpu")``: each pool x reference search runs
once, as chunked float32 products in torch, re-ranked exactly. Both run on the same synthetic
data and must return the same proposals.

Data (as in issue 8): clustered embeddings, ``pool = train = N`` rows, ``test = N / 10``,
D = 512, K = 10 classes (one class per group of clusters), probabilities from noisy logits.

Run: ``.venv/bin/python benchmarks/propose_scale.py`` (N = 100,000: about 10 minutes on two
cores, the baseline taking most of it) or ``--n 20000`` for a quick check. ``--approximate``
adds a run with ``search="approximate"`` (faiss) and its overlap with the exact proposals.
"""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dataperf import HardnessSampler, Signals

BASELINE_COMMIT = "7d1277b"
ROOT = Path(__file__).resolve().parents[1]


def previous_release(commit: str = BASELINE_COMMIT) -> object:
    """Import ``dataperf`` as of ``commit`` under the name ``dataperf_prev``."""
    folder = Path(tempfile.mkdtemp(prefix="dataperf_prev_"))
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "dataperf"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=tar, check=True)
    (folder / "dataperf").rename(folder / "dataperf_prev")
    for path in (folder / "dataperf_prev").rglob("*.py"):
        text = path.read_text()
        path.write_text(re.sub(r"\bdataperf(?=[. ])", "dataperf_prev", text))
    sys.path.insert(0, str(folder))
    return importlib.import_module("dataperf_prev")


def make_signals(n: int, d: int, seed: int, labelled: bool) -> Signals:
    rng = np.random.default_rng(seed)
    k, clusters = 10, 100
    centres = np.random.default_rng(1234).standard_normal((clusters, d), dtype=np.float32) * 3
    group = rng.integers(clusters, size=n)
    emb = centres[group] + rng.standard_normal((n, d), dtype=np.float32)
    labels = group % k
    logits = 3.0 * np.eye(k)[labels] + rng.normal(size=(n, k)) * 1.5
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return Signals(probs=probs, embeddings=emb, labels=labels if labelled else None)


def timed(label: str, fn: object) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<40s} {seconds:8.1f} s", flush=True)
    return out, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="pool = train size")
    parser.add_argument("--d", type=int, default=512, help="embedding dimensions")
    parser.add_argument("--k", type=int, default=100, help="proposals")
    parser.add_argument("--approximate", action="store_true", help="also time search='approx'")
    args = parser.parse_args()

    pool = make_signals(args.n, args.d, 1, labelled=False)
    train = make_signals(args.n, args.d, 2, labelled=True)
    test = make_signals(max(2, args.n // 10), args.d, 3, labelled=True)
    print(f"pool = train = {args.n:,}, test = {len(test):,}, D = {args.d}, k = {args.k}")

    prev = previous_release()
    old_pool, old_test, old_train = (
        prev.Signals(probs=s.probs, embeddings=s.embeddings, labels=s.labels)
        for s in (pool, test, train)
    )
    old, t_old = timed(
        f"previous release ({BASELINE_COMMIT})",
        lambda: prev.HardnessSampler(args.k).propose(old_pool, test=old_test, train=old_train),
    )
    new, t_new = timed(
        'search="exact", device="cpu"',
        lambda: HardnessSampler(args.k, search="exact", device="cpu").propose(
            pool, test=test, train=train
        ),
    )
    same = np.array_equal(old.indices, new.indices)
    diff = max(float(np.max(np.abs(old.scores[c] - new.scores[c]))) for c in new.scores)
    print(f"  speed-up: {t_old / t_new:.2f}x; same proposals: {same}; max score diff {diff:.3g}")
    if args.approximate:
        approx, t_apx = timed(
            'search="approximate"',
            lambda: HardnessSampler(args.k, search="approximate").propose(
                pool, test=test, train=train
            ),
        )
        shared = len(np.intersect1d(approx.indices, new.indices))
        print(
            f"  approximate: {t_old / t_apx:.2f}x the previous release; "
            f"{shared}/{args.k} proposals shared with the exact search"
        )


if __name__ == "__main__":
    main()
