"""Text augmentation: fast offline ops, TextAttack recipes, real sentences from WordNet.

Importing this module imports neither TextAttack nor torch; :func:`recipe` imports TextAttack
on first use (10-15 s). ``python -m dataperf.text [ROOT]`` provisions the NLTK data and the
synonym table (``make setup`` runs it).

>>> import numpy as np
>>> from dataperf.text import CharSwap, Compose, WordDelete
>>> op = Compose([CharSwap(0.1), WordDelete(0.1)])
>>> noisy = op("The quick brown fox jumps over the lazy dog.", np.random.default_rng(0))

The ops are fast, offline and pure Python, seeded by a NumPy Generator.

Every op is a :class:`TextOp`: ``op(text, rng)`` returns a new string and draws only from
``rng`` (never from the global ``random`` or ``np.random``), so the same text and the same
generator state give the same result in any process. Ops hold only their parameters: they
pickle, and they can be sent to DataLoader workers (``fork`` or ``spawn``).

Units the ops act on
--------------------
- An *alphabetic word* (character ops and :class:`SynonymReplace`) is a maximal run of letters
  that is not joined to a digit, underscore, apostrophe or hyphen: in ``"don't re-use abc1 big"``
  only ``big`` is one. It is eligible when it has at least ``min_word_len`` letters (and meets
  the op's own condition). Everything else in the text, punctuation and whitespace included, is
  copied unchanged.
- A *word* (:class:`WordDelete`, :class:`WordSwap`) is a run of letters or digits, possibly joined
  by inner apostrophes or hyphens (``don't``, ``re-use``, ``42``). Punctuation is never moved or
  deleted.

``rate`` is a probability in [0, 1]: each eligible unit is changed independently with
probability ``rate`` (rate=0 returns the text unchanged, rate=1 changes every eligible unit;
each op's docstring names its unit, and the two exceptions: WordDelete keeps one word, WordSwap
pairs words up). A text with nothing eligible comes back unchanged.
"""

from __future__ import annotations

import numbers
import re
import string
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from dataperf._errors import InputTypeError, InputValueError, MissingResourceError
from dataperf._validate import describe
from dataperf._wordnet import wordnet_sentences
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

_ALPHA_WORD = re.compile(r"(?<![\w'’-])[^\W\d_]+(?![\w'’-])")
_WORD = re.compile(r"\w+(?:['’-]\w+)*")
_LOWER = string.ascii_lowercase


def _qwerty_neighbours() -> dict[str, str]:
    """Letters next to each letter on a QWERTY keyboard (same row, and the touching keys above
    and below; the middle row sits half a key right of the top row, the bottom row one key)."""
    rows = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    touching = {0: ((1, (-1, 0)),), 1: ((0, (0, 1)), (2, (-1, 0))), 2: ((1, (0, 1)),)}
    table = {}
    for r, row in enumerate(rows):
        for c, key in enumerate(row):
            near = [row[j] for j in (c - 1, c + 1) if 0 <= j < len(row)]
            for other, offsets in touching[r]:
                near += [rows[other][c + d] for d in offsets if 0 <= c + d < len(rows[other])]
            table[key] = "".join(sorted(near))
    return table


_NEIGHBOURS = _qwerty_neighbours()


def _pick(seq: Sequence, u: float):
    """The element of ``seq`` at uniform position ``u`` in [0, 1)."""
    return seq[min(int(u * len(seq)), len(seq) - 1)]


def _like(char: str, model: str) -> str:
    """``char`` in the case of ``model`` (unchanged where case mapping changes its length)."""
    out = char.upper() if model.isupper() else char.lower()
    return out if len(out) == 1 else char


def _check_rate(rate: object) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise InputTypeError(
            f"rate must be a float in [0, 1]; got {describe(rate)} {rate!r}. Pass e.g. rate=0.1."
        )
    if not 0 <= rate <= 1:
        raise InputValueError(
            f"rate must be a probability in [0, 1]; got {rate!r}. "
            "Pass e.g. rate=0.1 (each eligible unit changes with probability 0.1)."
        )
    return float(rate)


def _check_min_len(min_word_len: object) -> int:
    if isinstance(min_word_len, bool) or not isinstance(min_word_len, numbers.Integral):
        raise InputTypeError(
            f"min_word_len must be an int >= 1; got {describe(min_word_len)} {min_word_len!r}. "
            "Pass e.g. min_word_len=3."
        )
    if min_word_len < 1:
        raise InputValueError(
            f"min_word_len must be an int >= 1; got {min_word_len!r}. Pass e.g. min_word_len=3."
        )
    return int(min_word_len)


class TextOp(ABC):
    """A text augmentation: ``op(text, rng) -> str``, drawing only from ``rng``.

    Subclasses implement :meth:`apply`; ``__call__`` validates the input first.
    """

    @abstractmethod
    def apply(self, text: str, rng: np.random.Generator) -> str:
        """Return an augmented copy of ``text`` (no validation; prefer calling the op)."""

    def __call__(self, text: str, rng: np.random.Generator | None = None) -> str:
        """Augment one text.

        Parameters
        ----------
        text : str
        rng : numpy.random.Generator, optional
            The only source of randomness; None uses a fresh ``np.random.default_rng()``
            (not reproducible).
        """
        if not isinstance(text, str):
            raise InputTypeError(
                f"{type(self).__name__} augments one str; got {describe(text)}. Pass a single "
                "text (decode bytes, or map the op over a list of texts)."
            )
        if rng is None:
            rng = np.random.default_rng()
        elif not isinstance(rng, np.random.Generator):
            raise InputTypeError(
                f"rng must be a numpy.random.Generator or None; got {describe(rng)}. "
                "Pass np.random.default_rng(seed)."
            )
        return self.apply(text, rng)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


class _WordRateOp(TextOp):
    """Changes each eligible alphabetic word with probability ``rate`` (one edit per word)."""

    def __init__(self, rate: float = 0.1, *, min_word_len: int = 3) -> None:
        self.rate = _check_rate(rate)
        self.min_word_len = _check_min_len(min_word_len)

    def _eligible(self, word: str) -> bool:
        return True

    @abstractmethod
    def _edit(self, word: str, u1: float, u2: float) -> str:
        """The edited word; ``u1``, ``u2`` are uniform draws in [0, 1) for the op's choices."""

    def apply(self, text: str, rng: np.random.Generator) -> str:
        if self.rate == 0:
            return text
        spans = [
            m.span()
            for m in _ALPHA_WORD.finditer(text)
            if m.end() - m.start() >= self.min_word_len and self._eligible(m.group())
        ]
        if not spans:
            return text
        chosen = np.flatnonzero(rng.random(len(spans)) < self.rate).tolist()
        if not chosen:
            return text
        draws = rng.random((len(chosen), 2)).tolist()
        pieces, last = [], 0
        for k, (u1, u2) in zip(chosen, draws):
            start, end = spans[k]
            pieces += (text[last:start], self._edit(text[start:end], u1, u2))
            last = end
        pieces.append(text[last:])
        return "".join(pieces)


class CharSwap(_WordRateOp):
    """Swap two adjacent letters inside words (``quick -> qucik``).

    Each alphabetic word with at least ``min_word_len`` letters and two adjacent letters that
    differ is changed with probability ``rate``: one such pair, chosen uniformly, is swapped.
    The case of each position is kept (``The -> Hte``).
    """

    def _eligible(self, word: str) -> bool:
        low = [c.lower() for c in word]
        return any(a != b for a, b in zip(low, low[1:]))

    def _edit(self, word: str, u1: float, u2: float) -> str:
        low = [c.lower() for c in word]
        i = _pick([j for j in range(len(word) - 1) if low[j] != low[j + 1]], u1)
        a, b = word[i], word[i + 1]
        return word[:i] + _like(b, a) + _like(a, b) + word[i + 2 :]


class CharInsert(_WordRateOp):
    """Insert a random letter into words (``quick -> quicek``).

    Each alphabetic word with at least ``min_word_len`` letters is changed with probability
    ``rate``: a letter drawn uniformly from a-z is inserted at a uniform position (before the
    first letter up to after the last). It is upper case in an all-caps word; a capitalised word
    stays capitalised (``The -> Xthe``).
    """

    def _edit(self, word: str, u1: float, u2: float) -> str:
        pos = min(int(u1 * (len(word) + 1)), len(word))
        letter = _pick(_LOWER, u2)
        if len(word) > 1 and word.isupper():
            letter = letter.upper()
        elif pos == 0 and word[0].isupper():
            return letter.upper() + _like(word[0], "a") + word[1:]
        return word[:pos] + letter + word[pos:]


class CharDelete(_WordRateOp):
    """Delete one letter from words (``quick -> quck``).

    Each alphabetic word with at least ``max(min_word_len, 2)`` letters is changed with
    probability ``rate``: the letter at a uniform position is deleted. A capitalised word stays
    capitalised (``The -> He``).
    """

    def _eligible(self, word: str) -> bool:
        return len(word) >= 2

    def _edit(self, word: str, u1: float, u2: float) -> str:
        pos = min(int(u1 * len(word)), len(word) - 1)
        out = word[:pos] + word[pos + 1 :]
        if pos == 0 and word[0].isupper():
            out = _like(out[0], "A") + out[1:]
        return out


class KeyboardTypo(_WordRateOp):
    """Replace a letter by a neighbouring key on a QWERTY keyboard (``quick -> quivk``).

    Each alphabetic word with at least ``min_word_len`` letters, one of them in a-z/A-Z, is
    changed with probability ``rate``: one such letter, chosen uniformly, is replaced by one of
    its QWERTY neighbours (same row or touching keys above and below), chosen uniformly, in the
    letter's case.
    """

    def _eligible(self, word: str) -> bool:
        return any(c.lower() in _NEIGHBOURS for c in word)

    def _edit(self, word: str, u1: float, u2: float) -> str:
        i = _pick([j for j, c in enumerate(word) if c.lower() in _NEIGHBOURS], u1)
        char = word[i]
        typo = _pick(_NEIGHBOURS[char.lower()], u2)
        return word[:i] + (typo.upper() if char.isupper() else typo) + word[i + 1 :]


class WordDelete(TextOp):
    """Delete words, never all of them.

    Each word is deleted with probability ``rate``; when that would delete every word, one of
    them, chosen uniformly, is kept (so rate=1 leaves exactly one word, and a one-word text is
    never changed). Punctuation stays where it is. One whitespace run next to a deleted word
    goes with it, so that no double spaces appear:

    - whitespace on both sides: the run before the word goes, unless it holds a line break or is
      the text's leading whitespace (then the run after goes);
    - only before (``the lazy dog. -> the lazy.``): it goes, unless it is leading whitespace;
    - only after (``(see above) -> (above)``): it goes.
    """

    def __init__(self, rate: float = 0.1) -> None:
        self.rate = _check_rate(rate)

    def apply(self, text: str, rng: np.random.Generator) -> str:
        if self.rate == 0:
            return text
        pieces = _WORD.split(text)  # the text around the words: len(words) + 1 pieces
        words = _WORD.findall(text)
        if len(words) < 2:
            return text
        delete = rng.random(len(words)) < self.rate
        if not delete.any():
            return text
        if delete.all():
            delete[int(rng.integers(len(words)))] = False
        out, kept_any = [pieces[0]], False
        for word, after, gone in zip(words, pieces[1:], delete.tolist()):
            if not gone:
                out += (word, after)
                kept_any = True
                continue
            before = out.pop()
            tail = len(before) - len(before.rstrip())
            head = len(after) - len(after.lstrip())
            leading = not kept_any and not before.strip()
            if tail and head and (leading or "\n" in before[len(before) - tail :]):
                after = after[head:]
            elif tail and not leading:
                before = before[: len(before) - tail]
            elif head and not tail:
                after = after[head:]
            out.append(before + after)
        return "".join(out)


class WordSwap(TextOp):
    """Swap adjacent words, leaving punctuation and whitespace in place.

    Scanning left to right, each pair of adjacent words whose left word was not just swapped is
    swapped with probability ``rate`` (a word moves at most one place). rate=1 swaps words
    (1, 2), (3, 4), ...: every word moves, except the last one of an odd count.
    """

    def __init__(self, rate: float = 0.1) -> None:
        self.rate = _check_rate(rate)

    def apply(self, text: str, rng: np.random.Generator) -> str:
        if self.rate == 0:
            return text
        pieces = _WORD.split(text)
        words = _WORD.findall(text)
        if len(words) < 2:
            return text
        hits = (rng.random(len(words) - 1) < self.rate).tolist()
        i = 0
        while i < len(words) - 1:
            if hits[i]:
                words[i], words[i + 1] = words[i + 1], words[i]
                i += 2
            else:
                i += 1
        out = [pieces[0]]
        for word, after in zip(words, pieces[1:]):
            out += (word, after)
        return "".join(out)


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from dataperf._wordnet import stopwords_file

    return frozenset(stopwords_file().read_text(encoding="utf-8").split())


_PREV_WORD = re.compile(r"([^\W\d_]+)[ \t]+\Z")
_NEXT_WORD = re.compile(r"[ \t]+([^\W\d_]+)")
_OPENERS = " \t\"'“‘([{"


def _synonyms(word: str) -> tuple[str, ...]:
    """Replacements for a lower-case word from the synonym table (empty when none)."""
    from dataperf._synonyms import table

    return table().get(word)


def _sentence_initial(text: str, start: int) -> bool:
    """True when the word at ``start`` opens the text or a sentence (after ``.!?:`` or a line
    break, and any quotes or brackets)."""
    before = text[max(0, start - 32) : start].rstrip(_OPENERS)
    return not before or before[-1] in ".!?:\n"


def _in_expression(text: str, start: int, end: int, low: str, pairs: frozenset[str]) -> bool:
    """True when the word and a neighbour (separated by spaces only) form a pair of words of a
    WordNet multi-word lemma, e.g. "in order", "race car"."""
    prev = _PREV_WORD.search(text, max(0, start - 48), start)
    if prev and f"{prev.group(1).lower()}_{low}" in pairs:
        return True
    after = _NEXT_WORD.match(text, end)
    return bool(after and f"{low}_{after.group(1).lower()}" in pairs)


class SynonymReplace(TextOp):
    """Replace words by WordNet synonyms of their usual part of speech and sense
    (``quick -> speedy``, ``cars -> autos``).

    An alphabetic word is eligible when it has at least ``min_word_len`` letters, is not an
    English stopword (scikit-learn's list), has replacements in dataperf's synonym table, is not
    capitalised in mid-sentence (a name such as "Bill"), and does not form a WordNet multi-word
    expression with a neighbour ("in order to", "race car"). Each eligible word is replaced
    with probability ``rate`` by one of its replacements, chosen uniformly from the sorted list,
    in the word's capitalisation (``Quick -> Speedy``, ``QUICK -> SPEEDY``).

    The table (built from WordNet 3.0, see :mod:`dataperf._synonyms`) holds, for each word form,
    the single-word synonyms from its most frequent part of speech and its one or two most
    frequent senses, counted in WordNet's sense-tagged corpus, inflected like the word (plural
    nouns, ``-s`` verbs). Words WordNet cannot place (never sense-tagged and ambiguous) and
    ``-ed``/``-ing`` forms are left alone.

    The table loads on first use (about 0.05 s, once per process; forked DataLoader workers
    inherit it), not at construction. ``make setup`` (``python -m dataperf.text``) builds it;
    when it is missing it is built on first use (a few seconds, once) with a note on stderr.

    Raises
    ------
    MissingResourceError
        On first use when there is no table and WordNet 3.0 is not on this machine (the message
        says how to install it).
    """

    def __init__(self, rate: float = 0.2, *, min_word_len: int = 3) -> None:
        self.rate = _check_rate(rate)
        self.min_word_len = _check_min_len(min_word_len)

    def apply(self, text: str, rng: np.random.Generator) -> str:
        if self.rate == 0:
            return text
        stop, synonyms, found = _stopwords(), None, []
        for m in _ALPHA_WORD.finditer(text):
            word = m.group()
            low = word.lower()
            if len(word) < self.min_word_len or low in stop:
                continue
            if synonyms is None:  # loaded on the first word that needs it
                from dataperf._synonyms import table

                synonyms = table()
                get, pairs = synonyms.get, synonyms.pairs
            options = get(low)
            if not options:
                continue
            start, end = m.span()
            if word[0].isupper() and not word.isupper() and not _sentence_initial(text, start):
                continue
            if _in_expression(text, start, end, low, pairs):
                continue
            found.append((start, end, options))
        if not found:
            return text
        chosen = np.flatnonzero(rng.random(len(found)) < self.rate).tolist()
        if not chosen:
            return text
        draws = rng.random(len(chosen)).tolist()
        pieces, last = [], 0
        for k, u in zip(chosen, draws):
            start, end, options = found[k]
            word, new = text[start:end], _pick(options, u)
            if len(word) > 1 and word.isupper():
                new = new.upper()
            elif word[0].isupper():
                new = new[0].upper() + new[1:]
            pieces += (text[last:start], new)
            last = end
        pieces.append(text[last:])
        return "".join(pieces)


def _check_ops(ops: object, owner: str) -> tuple[TextOp, ...]:
    if isinstance(ops, (str, TextOp)) or not isinstance(ops, Sequence):
        raise InputTypeError(
            f"{owner} takes a list of TextOps; got {describe(ops)}. "
            f"Pass e.g. {owner}([CharSwap(0.1), WordDelete(0.1)])."
        )
    if not ops:
        raise InputValueError(f"{owner} needs at least one op; got an empty list.")
    for i, op in enumerate(ops):
        if not isinstance(op, TextOp):
            raise InputTypeError(
                f"{owner} member {i} must be a dataperf TextOp; got {describe(op)}. "
                "Use the ops in dataperf.text, or subclass TextOp and implement apply()."
            )
    return tuple(ops)


class Compose(TextOp):
    """Apply ``ops`` in order, each to the output of the previous one, with the same ``rng``."""

    def __init__(self, ops: Sequence[TextOp]) -> None:
        self.ops = _check_ops(ops, "Compose")

    def apply(self, text: str, rng: np.random.Generator) -> str:
        for op in self.ops:
            text = op.apply(text, rng)
        return text


class OneOf(TextOp):
    """Apply one of ``ops``, chosen with probability proportional to ``weights`` (default equal).

    The choice takes one ``rng.random()`` draw, before the chosen op draws its own.
    """

    def __init__(self, ops: Sequence[TextOp], weights: Sequence[float] | None = None) -> None:
        self.ops = _check_ops(ops, "OneOf")
        if weights is None:
            self.weights = None
            self._cumulative = np.arange(1, len(self.ops) + 1, dtype=float)
            return
        try:
            w = None if isinstance(weights, str) else np.asarray(weights, dtype=float)
        except (TypeError, ValueError):
            w = None
        if w is None or w.shape != (len(self.ops),) or not np.all(np.isfinite(w)):
            raise InputValueError(
                f"weights must be {len(self.ops)} finite numbers, one per op; got "
                f"{describe(weights)}. Pass e.g. weights={[1.0] * len(self.ops)}."
            )
        if np.any(w < 0) or w.sum() <= 0:
            raise InputValueError(
                f"weights must be >= 0 with a positive sum; got {w.tolist()}. "
                "Give each op a non-negative weight, at least one of them positive."
            )
        self.weights = tuple(w.tolist())
        self._cumulative = np.cumsum(w)

    def apply(self, text: str, rng: np.random.Generator) -> str:
        u = rng.random() * self._cumulative[-1]
        i = min(int(np.searchsorted(self._cumulative, u, side="right")), len(self.ops) - 1)
        return self.ops[i].apply(text, rng)


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
