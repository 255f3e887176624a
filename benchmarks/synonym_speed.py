"""SynonymReplace on text it has never seen: fresh process, empty caches, with DataLoader workers.

Input: real English sentences of 15-25 words (WordNet usage examples and definitions,
``dataperf.text.wordnet_sentences``), each augmented once, all distinct. Every row runs in a new
Python process, so nothing is cached but the synonym table file on disk (provisioned by
``make setup``); the time counts loading the table (or, for the baseline, WordNet).

Rows:
- ``op``: ``SynonymReplace(0.2)`` called on each sentence, one thread.
- ``loader, W workers``: ``AugmentedDataset(sentences, SynonymReplace(0.2))`` through a
  ``DataLoader(batch_size=64, num_workers=W)``, from ``iter()`` to the last batch (worker
  start-up and the table load included; torch and dataperf are imported before the clock
  starts, as in a training script).
- baseline: the previous implementation (commit 75cd2f9, imported from git history), which looked
  synonyms up in NLTK's WordNet reader with a per-word cache, on the same sentences.

Run: ``NO_ALBUMENTATIONS_UPDATE=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/synonym_speed.py``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE_COMMIT = "75cd2f9"

_CHILD = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, {repo!r})
from dataperf import text
sentences = text.wordnet_sentences({n}, seed=7, min_words=15, max_words=25)
mode, workers = {mode!r}, {workers}
if mode.startswith("baseline"):
    sys.path.insert(0, {bench!r})
    from synonym_speed import old_synonym_replace
    op = old_synonym_replace()(0.2)
else:
    op = text.SynonymReplace(0.2)
from torch.utils.data import DataLoader  # imported before the clock: a training script has it
from dataperf import AugmentedDataset
start = time.perf_counter()
if mode.endswith("loader"):
    loader = DataLoader(AugmentedDataset(sentences, op, seed=0), batch_size=64,
                        num_workers=workers, collate_fn=list)
    out = [s for batch in loader for s in batch]
else:
    rng = np.random.default_rng(0)
    out = [op(s, rng) for s in sentences]
seconds = time.perf_counter() - start
print(json.dumps({{"n": len(out), "seconds": seconds,
                  "changed": sum(a != b for a, b in zip(out, sentences)) / len(out)}}))
"""


def old_synonym_replace() -> type:
    """``SynonymReplace`` as it was at ``BASELINE_COMMIT``, loaded from git history."""
    source = subprocess.run(
        ["git", "show", f"{BASELINE_COMMIT}:dataperf/augment/text.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("dataperf_old_text")
    module.__file__ = f"{BASELINE_COMMIT}:dataperf/augment/text.py"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module.SynonymReplace


def measure(mode: str, n: int, workers: int = 0) -> dict:
    """Run one row in a fresh process; returns n, seconds, changed share."""
    code = _CHILD.format(
        repo=str(REPO), bench=str(REPO / "benchmarks"), n=n, mode=mode, workers=workers
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=20000)
    parser.add_argument("--baseline-sentences", type=int, default=1000)
    args = parser.parse_args(argv)
    rows = [
        ("op, one thread", measure("op", args.sentences)),
        ("loader, 0 workers", measure("loader", args.sentences, 0)),
        ("loader, 2 workers", measure("loader", args.sentences, 2)),
        (f"baseline {BASELINE_COMMIT}, one thread", measure("baseline", args.baseline_sentences)),
        (
            f"baseline {BASELINE_COMMIT}, loader 2 workers",
            measure("baseline-loader", args.baseline_sentences, 2),
        ),
    ]
    base = rows[3][1]["n"] / rows[3][1]["seconds"]
    print("SynonymReplace(0.2) on unseen WordNet sentences (15-25 words), fresh process each row")
    print(f"  {'row':<38} {'sentences':>9} {'seconds':>8} {'sentences/s':>12} {'vs baseline':>12}")
    for name, r in rows:
        rate = r["n"] / r["seconds"]
        print(
            f"  {name:<38} {r['n']:>9,} {r['seconds']:>8.2f} {rate:>12,.0f} {rate / base:>11.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
