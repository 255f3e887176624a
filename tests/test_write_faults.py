"""A writer killed (SIGKILL) at random moments leaves the old or the new complete output."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import warnings

import numpy as np
import pytest

from dataperf import HardnessSampler, Signals

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs fork and SIGKILL")

TRIALS = 20


def _kill_while_writing(write_forever, rng: np.random.Generator) -> None:
    """Fork a child that rewrites the output in a loop; SIGKILL it after a random delay."""
    pid = os.fork()
    if pid == 0:  # child: never returns
        try:
            write_forever()
        finally:
            os._exit(0)
    time.sleep(float(rng.uniform(0.0, 0.25)))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _generation(n: int, gen: int) -> Signals:
    probs = np.full((n, 4), 0.25)
    probs[:, gen] += 0.5
    probs /= probs.sum(1, keepdims=True)
    emb = np.full((n, 32), float(gen), dtype=np.float32)
    return Signals(
        probs=probs, embeddings=emb, ids=[f"f{gen}/{i}.png" for i in range(n)], meta={"gen": gen}
    )


def test_killed_signals_save_leaves_a_complete_folder(tmp_path):
    rng = np.random.default_rng(0)
    versions = [_generation(20_000, 0), _generation(20_000, 1)]
    folder = tmp_path / "signals"
    versions[0].save(folder)

    def write_forever():
        for i in range(10**6):
            versions[(i + 1) % 2].save(folder)

    for _ in range(TRIALS):
        _kill_while_writing(write_forever, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a kill between the two renames is recovered
            loaded = Signals.load(folder, mmap=False)
        gen = loaded.meta["gen"]
        want = versions[gen]
        np.testing.assert_array_equal(loaded.probs, want.probs)
        np.testing.assert_array_equal(loaded.embeddings, want.embeddings)
        np.testing.assert_array_equal(loaded.ids, want.ids)


def test_killed_proposal_export_leaves_a_complete_file(tmp_path):
    rng = np.random.default_rng(1)
    pools = [_generation(400, g) for g in (0, 1)]
    for pool in pools:  # spread the embeddings so proposals differ between generations
        object.__setattr__(pool, "embeddings", rng.normal(size=(400, 32)))
    proposals = [HardnessSampler(300, device="cpu").propose(p) for p in pools]
    path = tmp_path / "proposals.jsonl"
    proposals[0].to_jsonl(path)
    texts = ["".join(json.dumps(r) + "\n" for r in p.records()) for p in proposals]

    def write_forever():
        for i in range(10**6):
            proposals[(i + 1) % 2].to_jsonl(path)

    for _ in range(TRIALS):
        _kill_while_writing(write_forever, rng)
        assert path.read_text() in texts
