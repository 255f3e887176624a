"""Text augmentation: fast offline ops, TextAttack recipes, real sentences from WordNet.

Importing this module imports neither TextAttack nor torch; :func:`recipe` imports TextAttack
on first use (10-15 s).

>>> import numpy as np
>>> from dataperf.text import CharSwap, Compose, WordDelete
>>> op = Compose([CharSwap(0.1), WordDelete(0.1)])
>>> noisy = op("The quick brown fox jumps over the lazy dog.", np.random.default_rng(0))
"""

from __future__ import annotations

from dataperf._errors import MissingResourceError
from dataperf._wordnet import wordnet_sentences
from dataperf.augment.text import (
    CharDelete,
    CharInsert,
    CharSwap,
    Compose,
    KeyboardTypo,
    OneOf,
    SynonymReplace,
    TextOp,
    WordDelete,
    WordSwap,
)
from dataperf.augment.textattack_adapter import OfflineUnavailableError, recipe, recipe_names

__all__ = [
    "TextOp",
    "CharSwap",
    "CharInsert",
    "CharDelete",
    "KeyboardTypo",
    "WordDelete",
    "WordSwap",
    "SynonymReplace",
    "Compose",
    "OneOf",
    "recipe",
    "recipe_names",
    "wordnet_sentences",
    "MissingResourceError",
    "OfflineUnavailableError",
]


def _main(argv: list[str] | None = None) -> int:
    """``python -m dataperf.text [ROOT]``: provision NLTK data and the synonym table."""
    import argparse

    from dataperf._wordnet import prefix_nltk_data_dir, provision

    parser = argparse.ArgumentParser(
        prog="python -m dataperf.text",
        description="Provision NLTK's English stopwords and WordNet 3.0 (copied from the system "
        "WordNet), and dataperf's synonym table, into a folder NLTK searches by itself. "
        "Idempotent; no network.",
    )
    parser.add_argument(
        "root",
        nargs="?",
        default=None,
        help=f"target folder (default: this environment's {prefix_nltk_data_dir()})",
    )
    root = provision(parser.parse_args(argv).root)
    print(f"NLTK data and the synonym table are in {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
