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
