"""A compact WordNet synonym table for :class:`dataperf.text.SynonymReplace`.

Built once from a WordNet 3.0 database folder (``index.*``, ``data.*``, ``*.exc`` and
``index.sense``), saved as one JSON file, and loaded in tens of milliseconds: no NLTK at run time.

How a word's replacements are chosen (all from the lexicon, no context tagger):

1. **Analyses.** A surface form (lower case, letters only) is read as a base form of a noun, verb,
   adjective or adverb; as the plural of a noun or the third person ``-s`` of a verb (regular
   spelling rules, or ``noun.exc``); or as another inflection (``-ed``, ``-ing``, ``-er``,
   ``-est``, or an irregular form from ``verb.exc``/``adj.exc``).
2. **Part of speech.** Each analysis weighs the base form's sense-tagged frequency in that part
   of speech (the sum of its ``index.sense`` tag counts, from the SemCor corpus). The heaviest
   wins. When it is "another inflection" the word is left alone (dataperf cannot re-inflect it
   reliably). When every weight is zero (a word never seen in SemCor) the word is kept only if
   it has one analysis and one sense: no guess between senses.
3. **Senses.** Of the chosen part of speech, the most frequent sense, and the second when it is
   tagged at least half as often (``_MAX_SENSES``, ``_SECOND_SENSE_SHARE``). Proper-noun senses
   (the lemma capitalised in the synset, e.g. "Bill") are skipped.
4. **Synonyms.** The other single-word, lower-case lemmas of those senses whose own most
   frequent part of speech is the same (``order`` the noun never becomes ``enjoin``), that are
   tagged in SemCor at least once (no rare words such as "faineant"), that hold this sense among
   their own main senses (``car`` never becomes ``machine``), and that are not stopwords; put
   back in the word's inflection (``children -> kids``).

The file also lists every pair of adjacent words inside WordNet's multi-word lemmas
(``in_order``, ``race_car``): a word next to its partner in such a pair is part of a fixed
expression and is not replaced ("in order to" never becomes "in command to").
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path

__all__ = ["SynonymTable", "build_table", "write_table", "load_table", "table"]

FORMAT = "dataperf-synonyms"
VERSION = 1
FILE_NAME = f"synonyms-v{VERSION}.json"
_POS = ("noun", "verb", "adj", "adv")
_SS_TYPE = {"1": "noun", "2": "verb", "3": "adj", "4": "adv", "5": "adj"}
_MAX_SENSES = 2
_SECOND_SENSE_SHARE = 0.5
_PLAIN = re.compile(r"[a-z]+\Z")
_MARKER = re.compile(r"\([a-z]+\)\Z")  # adjective position markers: able(a), galore(ip)
_OTHER_RULES = {  # inflections dataperf does not re-inflect: (suffix, base ending), as morphy
    "verb": (("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")),
    "adj": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
}


class SynonymTable:
    """Surface form -> replacements, and the word pairs of WordNet's multi-word lemmas.

    Parameters
    ----------
    words : dict of str to str
        Lower-case surface form -> its replacements, space-separated, sorted.
    pairs : set of str
        ``"first_second"`` for each pair of adjacent words in a multi-word lemma.
    """

    __slots__ = ("words", "pairs", "_split")

    def __init__(self, words: dict[str, str], pairs: set[str] | frozenset[str]) -> None:
        self.words = words
        self.pairs = frozenset(pairs)
        self._split: dict[str, tuple[str, ...]] = {}

    def get(self, word: str) -> tuple[str, ...]:
        """Replacements for a lower-case ``word`` (empty when it has none)."""
        found = self._split.get(word)
        if found is None:
            raw = self.words.get(word)
            found = tuple(raw.split()) if raw else ()
            self._split[word] = found
        return found

    def __len__(self) -> int:
        return len(self.words)


# ---------------------------------------------------------------- reading WordNet files


def _lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [line for line in fh if line and not line.startswith("  ")]


def _read_index(folder: Path, pos: str) -> dict[str, list[str]]:
    """Lemma -> synset offsets in WordNet's sense order."""
    out = {}
    for line in _lines(folder / f"index.{pos}"):
        fields = line.split()
        count = int(fields[2])
        out[fields[0]] = fields[len(fields) - count :]
    return out


def _read_data(folder: Path, pos: str) -> dict[str, tuple[str, ...]]:
    """Synset offset -> its lemmas as written (case kept, adjective markers dropped)."""
    out = {}
    for line in _lines(folder / f"data.{pos}"):
        head = line.split(" ", 4)
        count = int(head[3], 16)
        fields = head[4].split(" ", 2 * count)
        out[head[0]] = tuple(_MARKER.sub("", fields[i]) for i in range(0, 2 * count, 2))
    return out


def _read_counts(folder: Path) -> dict[tuple[str, str, str], int]:
    """(lemma, pos, offset) -> SemCor tag count, from ``index.sense``."""
    out: dict[tuple[str, str, str], int] = defaultdict(int)
    for line in _lines(folder / "index.sense"):
        key, offset, _, tags = line.split()
        lemma, rest = key.split("%", 1)
        out[lemma, _SS_TYPE[rest[0]], offset] += int(tags)
    return out


def _read_exc(folder: Path, pos: str) -> dict[str, list[str]]:
    """Irregular form -> base forms."""
    out = {}
    for line in _lines(folder / f"{pos}.exc"):
        fields = line.split()
        if len(fields) >= 2:
            out[fields[0]] = fields[1:]
    return out


# ---------------------------------------------------------------- inflection


def _regular_s(word: str, pos: str) -> str:
    """Plural of a noun / third person singular of a verb, by the regular spelling rules."""
    if word.endswith(("s", "x", "z", "ch", "sh")) or (pos == "verb" and word.endswith("o")):
        return word + "es"
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _detach(surface: str, pos: str) -> list[str]:
    """Base forms ``surface`` could be an ``-ed/-ing`` or ``-er/-est`` form of, by rule."""
    bases = []
    for suffix, ending in _OTHER_RULES.get(pos, ()):
        if surface.endswith(suffix) and len(surface) > len(suffix) + 1:
            stem = surface[: -len(suffix)]
            bases.append(stem + ending)
            if not ending and len(stem) > 2 and stem[-1] == stem[-2]:  # stopped -> stop
                bases.append(stem[:-1])
    return bases


# ---------------------------------------------------------------- building


def build_table(
    folder: str | os.PathLike, *, stopwords: frozenset[str] = frozenset()
) -> SynonymTable:
    """Build the synonym table from a WordNet 3.0 database folder (a few seconds).

    Parameters
    ----------
    folder : path
        A folder holding ``index.{noun,verb,adj,adv}``, ``data.*``, ``*.exc`` and
        ``index.sense``.
    stopwords : frozenset of str
        Words never offered as replacements (function words such as "do").

    Returns
    -------
    SynonymTable
    """
    folder = Path(folder)
    index = {pos: _read_index(folder, pos) for pos in _POS}
    data = {pos: _read_data(folder, pos) for pos in _POS}
    exc = {pos: _read_exc(folder, pos) for pos in _POS}
    counts = _read_counts(folder)

    weight: dict[tuple[str, str], int] = {}
    for pos in _POS:
        for lemma, offsets in index[pos].items():
            weight[lemma, pos] = sum(counts.get((lemma, pos, o), 0) for o in offsets)

    def best_pos(lemma: str) -> str | None:
        found = [(weight[lemma, p], -i, p) for i, p in enumerate(_POS) if (lemma, p) in weight]
        return max(found)[2] if found else None

    # surface -> analyses (weight, is_base, pos order, base, pos, kind)
    analyses: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    irregular_plural: dict[str, str] = {}
    for form, bases in exc["noun"].items():
        for base in bases:
            if (base, "noun") in weight and _PLAIN.match(form):
                analyses[form].add((base, "noun", "s"))
                irregular_plural.setdefault(base, form)
    for pos in _POS:
        for lemma in index[pos]:
            if not _PLAIN.match(lemma):
                continue
            analyses[lemma].add((lemma, pos, "base"))
            if pos in ("noun", "verb") and not (pos == "noun" and lemma in irregular_plural):
                analyses[_regular_s(lemma, pos)].add((lemma, pos, "s"))
    for surface, found in analyses.items():  # competing readings that are left alone
        for pos in ("verb", "adj"):
            for base in _detach(surface, pos):
                if (base, pos) in weight:
                    found.add((base, pos, "other"))
        for pos in ("verb", "adj", "adv"):
            for base in exc[pos].get(surface, ()):
                if (base, pos) in weight:
                    found.add((base, pos, "other"))

    def inflect(word: str, pos: str, kind: str) -> str:
        if kind == "base":
            return word
        if pos == "noun" and word in irregular_plural:
            return irregular_plural[word]
        return _regular_s(word, pos)

    def top_senses(lemma: str, pos: str) -> list[str]:
        """The lemma's offsets in this part of speech, most tagged first (ties: sense order),
        cut to the senses dataperf uses: the first, and the second when it is tagged at least
        ``_SECOND_SENSE_SHARE`` as often."""
        offsets = index[pos][lemma]
        tags = [counts.get((lemma, pos, o), 0) for o in offsets]
        order = sorted(range(len(offsets)), key=lambda i: -tags[i])
        kept = [offsets[order[0]]]
        if len(order) > 1 and _MAX_SENSES > 1:
            first, second = tags[order[0]], tags[order[1]]
            if second > 0 and second >= _SECOND_SENSE_SHARE * first:
                kept.append(offsets[order[1]])
        return kept

    def usable(other: str, pos: str, offset: str) -> bool:
        """``other`` is an everyday word of this part of speech and ``offset`` is one of its
        own main senses (``car`` -> ``machine`` fails: that is machine's fourth sense)."""
        if not _PLAIN.match(other) or other in stopwords or best_pos(other) != pos:
            return False
        if weight[other, pos] == 0:  # never tagged in SemCor: a rare word (faineant, yr)
            return False
        return offset in top_senses(other, pos)

    senses_cache: dict[tuple[str, str], tuple[str, ...]] = {}

    def replacements(base: str, pos: str) -> tuple[str, ...]:
        key = (base, pos)
        if key in senses_cache:
            return senses_cache[key]
        found = set()
        for offset in top_senses(base, pos):
            lemmas = data[pos][offset]
            if base not in lemmas:  # written with capitals here: a proper-noun sense
                continue
            found.update(o for o in lemmas if o != base and usable(o, pos, offset))
        senses_cache[key] = tuple(sorted(found))
        return senses_cache[key]

    words = {}
    for surface, found in analyses.items():
        ranked = max(found, key=lambda a: (weight[a[0], a[1]], a[2] == "base", -_POS.index(a[1])))
        base, pos, kind = ranked
        if kind == "other":
            continue
        if weight[base, pos] == 0 and (len(found) > 1 or len(index[pos][base]) > 1):
            continue
        out = sorted({inflect(s, pos, kind) for s in replacements(base, pos)} - {surface})
        if out:
            words[surface] = " ".join(out)

    pairs = set()
    for pos in _POS:
        for lemma in index[pos]:
            parts = lemma.split("_")
            pairs.update(f"{a}_{b}" for a, b in zip(parts, parts[1:]) if a and b)
    return SynonymTable(words, pairs)


# ---------------------------------------------------------------- files


def write_table(synonyms: SynonymTable, path: str | os.PathLike) -> Path:
    """Save ``synonyms`` as JSON at ``path``, atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "source": "WordNet 3.0",
        "words": synonyms.words,
        "pairs": sorted(synonyms.pairs),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, separators=(",", ":"), sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def load_table(path: str | os.PathLike) -> SynonymTable | None:
    """Load a table saved by :func:`write_table`; None when it is unreadable or of another
    version (then it is rebuilt)."""
    try:
        with open(path, encoding="utf-8") as fh:
            payload = json.load(fh)
    except (OSError, ValueError):
        return None
    if (
        not isinstance(payload, dict)
        or payload.get("format") != FORMAT
        or payload.get("version") != VERSION
        or not isinstance(payload.get("words"), dict)
        or not isinstance(payload.get("pairs"), list)
    ):
        return None
    return SynonymTable(payload["words"], set(payload["pairs"]))


_lock = threading.Lock()
_loaded: dict[tuple, SynonymTable] = {}
_FOLDER_VARIABLES = ("DATAPERF_DATA_DIR", "XDG_CACHE_HOME", "HOME")  # see _wordnet.data_dir


def table() -> SynonymTable:
    """The synonym table of this process, loaded once (forked workers inherit it).

    Looks for ``FILE_NAME`` in the provisioned folders (:func:`dataperf._wordnet.table_paths`:
    ``DATAPERF_DATA_DIR``'s NLTK folder, then ``sys.prefix/nltk_data``). When none holds a
    readable table, builds one from the WordNet data into the first folder, with a one-line note
    on stderr.

    Raises
    ------
    MissingResourceError
        No table and no WordNet 3.0 data to build one from.
    """
    import dataperf._wordnet as _wordnet

    # what the table's folders depend on: a dict lookup per sentence, no path arithmetic
    key = tuple(os.environ.get(v) for v in _FOLDER_VARIABLES) + (sys.prefix,)
    found = _loaded.get(key)
    if found is not None:
        return found
    paths = _wordnet.table_paths()
    with _lock:
        found = _loaded.get(key)
        if found is not None:
            return found
        for path in paths:
            found = load_table(path) if path.is_file() else None
            if found is not None:
                break
        else:
            source = _wordnet.wordnet_folder()
            stop = _wordnet.stopwords_file().read_text(encoding="utf-8").split()
            print(
                f"dataperf: building the WordNet synonym table {paths[0]} (once, a few seconds; "
                "`python -m dataperf.text` does it at setup)",
                file=sys.stderr,
            )
            found = build_table(source, stopwords=frozenset(stop))
            write_table(found, paths[0])
        _loaded[key] = found
        return found
