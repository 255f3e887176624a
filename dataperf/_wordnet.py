"""Offline NLTK data (English stopwords, WordNet 3.0) without the NLTK downloader.

NLTK looks for its data under the folders in ``nltk.data.path``. dataperf provisions one such
folder, ``data_dir() / "nltk_data"``, from files already on the machine:

- ``corpora/stopwords/english``: scikit-learn's ``ENGLISH_STOP_WORDS``, one word a line, sorted;
- ``corpora/wordnet/``: a *copy* of a WordNet 3.0 database folder (Debian's ``wordnet-base`` and
  ``wordnet-sense-index`` packages install one in ``/usr/share/wordnet``), plus the ``lexnames``
  table that Debian does not ship. NLTK refuses symbolic links that resolve outside the corpus
  root, hence the copy (about 36 MB).

Every write is atomic (a temporary file or folder beside the target, then a rename), so several
processes, e.g. DataLoader workers, may provision the same folder at once. A provisioned folder is
never rewritten; delete it to provision again from another source.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._errors import InputValueError, MissingResourceError
from dataperf._validate import check_int

__all__ = [
    "MissingResourceError",
    "data_dir",
    "nltk_data_dir",
    "prefix_nltk_data_dir",
    "provision",
    "stopwords_file",
    "table_paths",
    "wordnet_folder",
    "wordnet_source",
    "ensure_stopwords",
    "ensure_wordnet",
    "use_nltk_data",
    "wordnet",
    "wordnet_sentences",
]

_DEBIAN_WORDNET = Path("/usr/share/wordnet")
_POS_FILES = ("noun", "verb", "adj", "adv")
# Files NLTK's WordNetCorpusReader opens; ``lexnames`` is written by us when the source lacks it.
_REQUIRED = (
    *(f"data.{p}" for p in _POS_FILES),
    *(f"index.{p}" for p in _POS_FILES),
    *(f"{p}.exc" for p in _POS_FILES),
    "index.sense",
)
_INSTALL_HINT = (
    "Install WordNet 3.0 with `apt-get install wordnet-base wordnet-sense-index` (Debian/Ubuntu), "
    "or set DATAPERF_WORDNET_DIR to a WordNet 3.0 `dict` folder (the one holding data.noun, "
    "index.noun, ..., index.sense)."
)

# The lexicographer files of WordNet 3.0: number, name, syntactic category (1 noun, 2 verb,
# 3 adjective, 4 adverb), as tabulated in the lexnames(5WN) manual page.
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
    "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}

_lock = threading.Lock()
_readers: dict[tuple[int, str], Any] = {}


def data_dir() -> Path:
    """The folder where dataperf keeps provisioned data.

    ``$DATAPERF_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/dataperf``, else ``~/.cache/dataperf``.
    """
    explicit = os.environ.get("DATAPERF_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache).expanduser() if cache else Path.home() / ".cache") / "dataperf"


def nltk_data_dir() -> Path:
    """The NLTK data folder dataperf provisions: ``data_dir() / "nltk_data"``."""
    return data_dir() / "nltk_data"


def prefix_nltk_data_dir() -> Path:
    """``sys.prefix / "nltk_data"``: a folder NLTK searches by itself, whatever ``$HOME`` is.

    Provisioning into it (:func:`provision`, run by ``make setup``) makes ``import textattack``
    and NLTK's corpora work in a fresh account with no dataperf code involved.
    """
    return Path(sys.prefix) / "nltk_data"


def table_paths() -> list[Path]:
    """Where the synonym table of :class:`dataperf.text.SynonymReplace` is looked for, in order:
    the dataperf NLTK folder, then the environment's (``sys.prefix/nltk_data``)."""
    from dataperf._synonyms import FILE_NAME

    return [root / "dataperf" / FILE_NAME for root in (nltk_data_dir(), prefix_nltk_data_dir())]


def wordnet_source() -> Path | None:
    """The WordNet 3.0 database folder to copy from, or None when there is none.

    ``$DATAPERF_WORDNET_DIR`` if set (returned even when it is incomplete, so that
    :func:`ensure_wordnet` can say what is missing), else ``/usr/share/wordnet`` when it holds
    ``data.noun``, else None.
    """
    explicit = os.environ.get("DATAPERF_WORDNET_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if (_DEBIAN_WORDNET / "data.noun").is_file():
        return _DEBIAN_WORDNET
    return None


def _lexnames_text() -> str:
    lines = [
        f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}" for i, name in enumerate(_LEXNAMES)
    ]
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a hidden temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def ensure_stopwords(root: Path | None = None) -> Path:
    """Provision NLTK's English stopword list; return the path of the ``english`` file.

    Writes ``<root>/corpora/stopwords/english`` (scikit-learn's ``ENGLISH_STOP_WORDS``, one
    word a line, sorted) unless it exists. ``root`` defaults to :func:`nltk_data_dir`.
    """
    path = Path(root or nltk_data_dir()) / "corpora" / "stopwords" / "english"
    if not path.is_file():
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        _write_atomic(path, "".join(f"{w}\n" for w in sorted(ENGLISH_STOP_WORDS)))
    return path


def stopwords_file() -> Path:
    """The English stopword file: a provisioned one (dataperf's folder, then the environment's),
    else one provisioned now by :func:`ensure_stopwords`."""
    for root in (nltk_data_dir(), prefix_nltk_data_dir()):
        path = root / "corpora" / "stopwords" / "english"
        if path.is_file():
            return path
    return ensure_stopwords()


def _missing(folder: Path) -> list[str]:
    return [name for name in _REQUIRED if not (folder / name).is_file()]


def ensure_wordnet(root: Path | None = None) -> Path:
    """Provision NLTK's ``wordnet`` corpus; return its folder ``<root>/corpora/wordnet``.

    ``root`` defaults to :func:`nltk_data_dir`.

    Copies the regular files of :func:`wordnet_source` into a temporary folder beside the target,
    adds ``lexnames`` when the source lacks it, and renames the folder into place. When another
    process wins the race its complete copy is kept. An existing incomplete folder (e.g. left by
    hand) is moved aside and replaced.

    Raises
    ------
    MissingResourceError
        No WordNet source on this machine, or the source lacks files NLTK needs.
    """
    target = Path(root or nltk_data_dir()) / "corpora" / "wordnet"
    if target.is_dir() and not _missing(target):
        return target
    source = wordnet_source()
    if source is None:
        raise MissingResourceError(
            f"WordNet 3.0 data is missing: neither DATAPERF_WORDNET_DIR is set nor does "
            f"{_DEBIAN_WORDNET} hold data.noun, and dataperf does not download it. "
            f"{_INSTALL_HINT}"
        )
    absent = _missing(source)
    if absent:
        raise MissingResourceError(
            f"WordNet 3.0 data is incomplete: {source} lacks {', '.join(absent)}. {_INSTALL_HINT}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".wordnet-", suffix=".tmp"))
    try:
        for item in source.iterdir():
            if item.is_file():  # follows links: copies what they point to
                shutil.copyfile(item, tmp / item.name)
        if not (tmp / "lexnames").is_file():
            (tmp / "lexnames").write_text(_lexnames_text(), encoding="ascii")
        tmp.chmod(0o755)  # mkdtemp makes it private
        if target.exists() and _missing(target):  # incomplete folder: move it aside first
            trash = Path(tempfile.mkdtemp(dir=target.parent, prefix=".wordnet-old-"))
            with contextlib.suppress(FileNotFoundError):  # another process moved it first
                os.replace(target, trash / "wordnet")
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:  # a concurrent process renamed its complete copy first
            if not target.is_dir() or _missing(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def wordnet_folder() -> Path:
    """A complete WordNet 3.0 database folder: the source, else a provisioned copy.

    Raises
    ------
    MissingResourceError
        None on this machine (the message says how to install one).
    """
    candidates = [wordnet_source()]
    candidates += [
        root / "corpora" / "wordnet" for root in (nltk_data_dir(), prefix_nltk_data_dir())
    ]
    for folder in candidates:
        if folder is not None and folder.is_dir() and not _missing(folder):
            return folder
    raise MissingResourceError(f"WordNet 3.0 data files are missing. {_INSTALL_HINT}")


def provision(root: str | os.PathLike | None = None) -> Path:
    """Provision NLTK's stopwords, WordNet and dataperf's synonym table into one folder.

    Writes, each only when absent (atomically, so concurrent runs are safe):

    - ``<root>/corpora/stopwords/english`` (see :func:`ensure_stopwords`);
    - ``<root>/corpora/wordnet/`` (see :func:`ensure_wordnet`), when a WordNet source exists;
    - ``<root>/dataperf/synonyms-v1.json``, the table of
      :class:`dataperf.text.SynonymReplace`, built from that WordNet (a few seconds).

    Parameters
    ----------
    root : path, optional
        Default :func:`prefix_nltk_data_dir` (``sys.prefix/nltk_data``), a folder NLTK searches
        by itself: after this, ``from textattack.augmentation import CharSwapAugmenter`` works
        offline in any account using this Python environment.

    Returns
    -------
    Path
        ``root``.
    """
    import dataperf._synonyms as _synonyms

    root = Path(root).expanduser() if root is not None else prefix_nltk_data_dir()
    stop = ensure_stopwords(root)
    if wordnet_source() is None:
        return root
    folder = ensure_wordnet(root)
    path = root / "dataperf" / _synonyms.FILE_NAME
    if not path.is_file() or _synonyms.load_table(path) is None:
        words = frozenset(stop.read_text(encoding="utf-8").split())
        _synonyms.write_table(_synonyms.build_table(folder, stopwords=words), path)
    return root


def use_nltk_data() -> Path:
    """Provision stopwords (and WordNet when a source exists) and put the folder on NLTK's path.

    The folder is inserted at the front of ``nltk.data.path`` once (repeated calls do nothing
    more). ``os.environ`` is not touched. Returns the NLTK data folder.
    """
    import nltk.data

    ensure_stopwords()
    if wordnet_source() is not None:
        ensure_wordnet()
    root = str(nltk_data_dir())
    with _lock:
        if root not in nltk.data.path:
            nltk.data.path.insert(0, root)
    return Path(root)


def wordnet() -> Any:
    """NLTK's ``WordNetCorpusReader`` over the provisioned WordNet, cached per process.

    The cache is keyed by process id and folder: a forked worker opens its own files instead of
    sharing file offsets with its parent.

    Raises
    ------
    MissingResourceError
        No WordNet source on this machine (the message says how to install one).
    """
    use_nltk_data()
    folder = ensure_wordnet()
    key = (os.getpid(), str(folder))
    with _lock:
        reader = _readers.get(key)
        if reader is None:
            with warnings.catch_warnings():  # "multilingual functions are not available"
                warnings.simplefilter("ignore", UserWarning)
                reader = _reader_class()(str(folder), None)
            _readers[key] = reader
    return reader


@lru_cache(maxsize=1)
def _reader_class() -> type:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class _WordNet30Reader(WordNetCorpusReader):
        """NLTK's reader, minus a WordNet-to-WordNet sense map that 3.0 does not need.

        NLTK 3.9-3.10 compares ``get_version()`` ("3.0") with the corpus name ("wordnet"), finds
        them different and builds a map from the installed WordNet to itself by reading
        ``index.sense`` twice: about half of the load time. The map only serves multilingual
        (OMW) look-ups, which this reader (built without an OMW reader) does not offer.
        """

        def map_wn(self, version: str = "wordnet") -> Any:
            if self.get_version() == "3.0":
                return None
            return super().map_wn(version)

    return _WordNet30Reader


_QUOTED = re.compile(r'"([^"]+)"')


def _sentence(text: str) -> str:
    text = " ".join(text.strip().strip(";").split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


@lru_cache(maxsize=4)
def _all_sentences(folder: str) -> tuple[str, ...]:
    """Definitions and usage examples of every synset, in file order, deduplicated."""
    seen: dict[str, None] = {}
    for pos in _POS_FILES:
        with open(Path(folder) / f"data.{pos}", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("  ") or " | " not in line:  # licence header
                    continue
                gloss = line.split(" | ", 1)[1]
                quote = gloss.find('"')
                parts = [gloss if quote < 0 else gloss[:quote], *_QUOTED.findall(gloss)]
                for part in parts:
                    sentence = _sentence(part)
                    if sentence:
                        seen[sentence] = None
    return tuple(seen)


def wordnet_sentences(
    n: int | None = None, *, seed: int = 0, min_words: int = 6, max_words: int = 30
) -> list[str]:
    """Real English sentences from WordNet 3.0: usage examples and definitions.

    Every synset's gloss in the ``data.*`` files gives its definition and its quoted usage
    examples; each becomes a sentence (whitespace collapsed, first letter capitalised, a period
    added when it ends without ``.!?``). Sentences are deduplicated, kept when they have
    ``min_words <= len(s.split()) <= max_words``, and shuffled with
    ``np.random.default_rng(seed)``.

    Parameters
    ----------
    n : int or None
        Return at most ``n`` sentences (None: all, about 100k with the defaults).
    seed : int
        Seed of the shuffle; the same seed gives the same list.
    min_words, max_words : int
        Inclusive bounds on the number of whitespace-separated words.

    Returns
    -------
    list of str

    Raises
    ------
    MissingResourceError
        No WordNet source (and no provisioned copy) on this machine.
    """
    n = check_int(n, "n", low=0, allow_none=True, none_means="all of them")
    lo = check_int(min_words, "min_words", low=0)
    hi = check_int(max_words, "max_words", low=0)
    if lo > hi:
        raise InputValueError(
            f"min_words must be <= max_words; got min_words={lo}, max_words={hi}. "
            "Swap or widen the bounds."
        )
    source = wordnet_source()
    if source is None or _missing(source):
        provisioned = nltk_data_dir() / "corpora" / "wordnet"
        source = provisioned if not _missing(provisioned) else None
    if source is None:
        raise MissingResourceError(
            f"wordnet_sentences needs WordNet 3.0 data files, which are missing. {_INSTALL_HINT}"
        )
    pool = [s for s in _all_sentences(str(source)) if lo <= len(s.split()) <= hi]
    order = np.random.default_rng(seed).permutation(len(pool))
    if n is not None:
        order = order[:n]
    return [pool[i] for i in order]
