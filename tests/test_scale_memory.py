"""A memory-mapped pool larger than the memory budget is proposed from within that budget."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.lib.format import open_memmap

#: Peak resident memory ``propose`` may add, as a share of the pool's embedding file.
BUDGET_SHARE = 0.35

SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from dataperf import HardnessSampler, Signals

    folder, search = sys.argv[1], sys.argv[2]
    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    small = np.load(folder + "/small.npz")
    pool = Signals(
        probs=np.load(folder + "/pool_probs.npy"),
        embeddings=np.load(folder + "/pool_emb.npy", mmap_mode="r"),
    )
    train = Signals(probs=small["train_p"], embeddings=small["train_x"], labels=small["train_y"])
    test = Signals(probs=small["test_p"], embeddings=small["test_x"], labels=small["test_y"])
    HardnessSampler(3, search=search, device="cpu").propose(test, test=test, train=train)
    before = rss()  # imports and a first small run: the fixed cost of the process
    proposal = HardnessSampler(20, search=search, device="cpu").propose(
        pool, test=test, train=train
    )
    print(json.dumps({"before": before, "peak": rss(), "indices": proposal.indices.tolist()}))
    """
)


def _probs(rng, n, k=10):
    p = rng.random((n, k)) + 0.05
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.slow
def test_memory_mapped_pool_larger_than_the_budget(tmp_path):
    rng = np.random.default_rng(0)
    n, d = 100_000, 1024  # 410 MB of float32 embeddings
    emb = open_memmap(tmp_path / "pool_emb.npy", "w+", np.float32, (n, d))
    centres = rng.standard_normal((20, d), dtype=np.float32) * 3
    for a in range(0, n, 10_000):
        emb[a : a + 10_000] = centres[rng.integers(20, size=10_000)] + rng.standard_normal(
            (10_000, d), dtype=np.float32
        )
    emb.flush()
    del emb
    np.save(tmp_path / "pool_probs.npy", _probs(rng, n))
    small = {}
    for name, m in (("train", 2000), ("test", 500)):
        small[f"{name}_x"] = centres[rng.integers(20, size=m)] + rng.standard_normal((m, d))
        small[f"{name}_p"] = _probs(rng, m)
        small[f"{name}_y"] = rng.integers(10, size=m)
    np.savez(tmp_path / "small.npz", **small)
    size = (tmp_path / "pool_emb.npy").stat().st_size
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), "exact"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    added = result["peak"] - result["before"]
    assert len(set(result["indices"])) == 20
    assert added < BUDGET_SHARE * size, (
        f"propose added {added / 2**20:.0f} MB of resident memory for a {size / 2**20:.0f} MB "
        f"memory-mapped pool (budget {BUDGET_SHARE:.0%} of it)"
    )
