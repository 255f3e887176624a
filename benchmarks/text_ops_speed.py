"""How fast are the dataperf.text ops, against TextAttack's CharSwapAugmenter?

Input: 200 real English sentences of 15-25 words (WordNet usage examples and definitions, from
``dataperf.text.wordnet_sentences``). Each op augments every sentence once, one thread; the
figure is sentences per second, the best of ``repeats`` passes (SynonymReplace's table is
loaded before timing; ``synonym_speed.py`` measures it on unseen text in fresh processes).
The baseline is TextAttack's ``CharSwapAugmenter(transformations_per_example=1)`` (one output
per sentence) on the same sentences; the ratio column is op / baseline.

Run: ``NO_ALBUMENTATIONS_UPDATE=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/text_ops_speed.py``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataperf import text  # noqa: E402

BASELINE = "textattack.CharSwapAugmenter"


def _ops() -> dict[str, text.TextOp]:
    ops = {
        "CharSwap": text.CharSwap(0.1),
        "CharInsert": text.CharInsert(0.1),
        "CharDelete": text.CharDelete(0.1),
        "KeyboardTypo": text.KeyboardTypo(0.1),
        "WordDelete": text.WordDelete(0.1),
        "WordSwap": text.WordSwap(0.1),
    }
    try:
        text.SynonymReplace(0.2)("load the table", np.random.default_rng(0))
        ops["SynonymReplace"] = text.SynonymReplace(0.2)
    except text.MissingResourceError as err:
        print(f"note: skipping SynonymReplace: {err}")
    ops["Compose(CharSwap, WordSwap)"] = text.Compose([ops["CharSwap"], ops["WordSwap"]])
    return ops


def _best_rate(fn: Callable[[str], object], sentences: Sequence[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for sentence in sentences:
            fn(sentence)
        best = min(best, time.perf_counter() - start)
    return len(sentences) / max(best, 1e-12)


def run(sentences: Sequence[str], repeats: int = 3) -> dict[str, float]:
    """Sentences per second for each dataperf op and for TextAttack's CharSwapAugmenter.

    Parameters
    ----------
    sentences : sequence of str
    repeats : int
        Passes over ``sentences`` per op; the fastest counts.

    Returns
    -------
    dict
        Op name -> sentences/s. The TextAttack entry, keyed ``BASELINE``, is absent when
        TextAttack is not installed.
    """
    results = {}
    for name, op in _ops().items():
        rng = np.random.default_rng(0)
        results[name] = _best_rate(lambda s, op=op, rng=rng: op(s, rng), sentences, repeats)
    try:
        augmenter = text.recipe("charswap", transformations_per_example=1)
    except ImportError as err:
        print(f"note: skipping the TextAttack baseline: {err}")
        return results
    results[BASELINE] = _best_rate(augmenter.augment, sentences, repeats)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sentences = text.wordnet_sentences(args.sentences, seed=0, min_words=15, max_words=25)
    words = np.mean([len(s.split()) for s in sentences])
    print(
        f"text ops: {len(sentences)} WordNet sentences ({words:.1f} words on average), "
        f"one thread, best of {args.repeats}"
    )
    results = run(sentences, repeats=args.repeats)
    baseline = results.get(BASELINE)
    print(f"  {'op':<30} {'sentences/s':>12} {'ratio vs ' + BASELINE:>40}")
    for name, rate in results.items():
        ratio = f"{rate / baseline:,.0f}x" if baseline else "n/a"
        print(f"  {name:<30} {rate:>12,.0f} {ratio:>40}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
