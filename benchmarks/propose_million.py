"""``HardnessSampler.propose`` on a memory-mapped pool of a million, approximate search, CPU.

Data (as in issue 8): clustered embeddings (100 clusters, D = 512), ``pool = train = N``
(default 1,000,000), ``test = N / 10``, K = 10 classes, probabilities from noisy logits. The
arrays are written to ``--dir`` as ``.npy`` files by a first process and opened memory-mapped
by a second, fresh one, which runs ``HardnessSampler(100, search="approximate")`` and reports

- the wall time of ``propose`` (index building included) and the process's peak resident
  memory (``ru_maxrss``: mapped pages count once touched);
- the neighbour recall@10 of the approximate search against the exact one, on 1,000 pool
  rows (pool x train, the search behind typicality and neighbour disagreement).

Baseline (named "previous release"): not run at this size (its exact scikit-learn search would
take most of a day, see issue 8); ``benchmarks/propose_scale.py`` compares the two at 100,000.

Run: ``.venv/bin/python benchmarks/propose_million.py --dir /tmp/dp1m`` (about 10 GB of disk;
``--n 200000`` for a quicker check).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

K, CLUSTERS, CHUNK = 10, 100, 50_000


def make(folder: Path, n: int, d: int) -> None:
    """Write pool, train and test arrays in chunks (never the whole set in RAM)."""
    from numpy.lib.format import open_memmap

    folder.mkdir(parents=True, exist_ok=True)
    centres = np.random.default_rng(1234).standard_normal((CLUSTERS, d), dtype=np.float32) * 3
    for name, rows, seed in (("pool", n, 1), ("train", n, 2), ("test", max(2, n // 10), 3)):
        rng = np.random.default_rng(seed)
        emb = open_memmap(folder / f"{name}_emb.npy", "w+", np.float32, (rows, d))
        probs = np.empty((rows, K))
        labels = np.empty(rows, dtype=np.int64)
        for a in range(0, rows, CHUNK):
            b = min(a + CHUNK, rows)
            group = rng.integers(CLUSTERS, size=b - a)
            emb[a:b] = centres[group] + rng.standard_normal((b - a, d), dtype=np.float32)
            labels[a:b] = group % K
            logits = 3.0 * np.eye(K)[labels[a:b]] + rng.normal(size=(b - a, K)) * 1.5
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs[a:b] = p / p.sum(axis=1, keepdims=True)
        emb.flush()
        del emb
        np.save(folder / f"{name}_probs.npy", probs)
        np.save(folder / f"{name}_labels.npy", labels)


def propose(folder: Path, k: int) -> dict:
    from dataperf import HardnessSampler, Signals
    from dataperf.neighbors import NeighborIndex

    def load(name: str, labelled: bool) -> Signals:
        return Signals(
            probs=np.load(folder / f"{name}_probs.npy"),
            embeddings=np.load(folder / f"{name}_emb.npy", mmap_mode="r"),
            labels=np.load(folder / f"{name}_labels.npy") if labelled else None,
        )

    pool, train, test = load("pool", False), load("train", True), load("test", True)
    start = time.perf_counter()
    proposal = HardnessSampler(k, search="approximate").propose(pool, test=test, train=train)
    seconds = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    rows = np.sort(np.random.default_rng(0).choice(len(pool), 1000, replace=False))
    q = np.asarray(pool.embeddings[rows])
    _, approx = NeighborIndex(train.embeddings, metric="cosine", search="approximate").query(q, 10)
    _, exact = NeighborIndex(train.embeddings, metric="cosine", search="exact").query(q, 10)
    recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(approx, exact, strict=True)])
    return {
        "n": len(pool),
        "seconds": round(seconds, 1),
        "peak_rss_gb": round(peak_gb, 2),
        "recall_at_10": round(float(recall), 4),
        "proposed": len(proposal),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="folder for the data (~10 GB)")
    parser.add_argument("--n", type=int, default=1_000_000, help="pool = train size")
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--stage", choices=["all", "make", "propose"], default="all")
    args = parser.parse_args()
    if args.stage == "make":
        make(args.dir, args.n, args.d)
    elif args.stage == "propose":
        print(json.dumps(propose(args.dir, args.k)))
    else:  # each stage in its own process, so the figures are those of a fresh process
        for stage in ("make", "propose"):
            cmd = [sys.executable, __file__, "--stage", stage, "--dir", str(args.dir)]
            subprocess.run(
                [*cmd, "--n", str(args.n), "--d", str(args.d), "--k", str(args.k)], check=True
            )


if __name__ == "__main__":
    main()
