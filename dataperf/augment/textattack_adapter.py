"""TextAttack augmenters, offline: import, recipes that work without downloads, seeded views.

TextAttack 0.3.11 and the network
---------------------------------
Measured with TextAttack 0.3.11, NLTK 3.10 and no internet:

- ``import textattack`` takes 10-15 s on a 2-core machine (torch, transformers and flair come
  with it), whether or not it is the first import. On the first import in a user account (no
  ``post_install_check_3`` marker in ``~/.cache/textattack`` or ``$TA_CACHE_DIR``) it calls
  ``nltk.download`` for six resources. Where the network refuses connections each call fails in
  about 0.05 s and prints an ``[nltk_data] Error loading ...`` block to stderr; but NLTK's
  downloader opens its index URL with no timeout, so where a firewall silently drops packets each
  call can hang until the operating system gives up on the connection (minutes). Then TextAttack
  writes the marker and never tries again.
- A recipe module builds an NLTK stopword constraint at import, so the import crashes with
  ``LookupError: Resource 'stopwords' not found`` unless NLTK's English stopwords are on
  ``nltk.data.path``: :func:`import_textattack` provisions them first
  (:func:`dataperf._wordnet.use_nltk_data`).
- ``WordSwapWordNet.__init__`` (inside ``WordNetAugmenter``, ``EasyDataAugmenter``) calls
  ``nltk.download("omw-1.4")`` on *every* construction, whether the data is present or not.

Both download sites look ``nltk.download`` up on the ``nltk`` module when they run, so dataperf
replaces that one public NLTK function with a no-op for exactly the duration of the import and of
recipe construction (:func:`_nltk_downloads_disabled`, restored in a ``finally``). No TextAttack
internals are patched and ``os.environ`` is not edited (TextAttack itself sets
``TOKENIZERS_PARALLELISM`` at import, and rewrites ``HF_HOME`` and other cache variables when
``TA_CACHE_DIR`` is set).
"""

from __future__ import annotations

import contextlib
import logging
import random
import sys
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError, MissingResourceError
from dataperf._optional import require
from dataperf._rng import check_seed
from dataperf._validate import describe
from dataperf._wordnet import use_nltk_data

__all__ = [
    "OfflineUnavailableError",
    "import_textattack",
    "recipe",
    "recipe_names",
    "textattack_views",
    "is_textattack_augmenter",
]

logger = logging.getLogger(__name__)


class OfflineUnavailableError(MissingResourceError, ValueError):
    """A TextAttack recipe needs a download (models, embeddings) and dataperf stays offline.

    It is a :class:`MissingResourceError` (catch every "resource not on this machine" error at
    once) and a :class:`ValueError` (the recipe name is a value that cannot be served).
    """


_download_lock = threading.RLock()


def _skip_download(info_or_id: object = None, *args: Any, **kwargs: Any) -> bool:
    logger.debug("dataperf skipped nltk.download(%r): dataperf never downloads", info_or_id)
    return False


@contextlib.contextmanager
def _nltk_downloads_disabled() -> Iterator[None]:
    """Make ``nltk.download`` a no-op returning False inside the block (one thread at a time)."""
    import nltk

    with _download_lock:
        original = nltk.download
        nltk.download = _skip_download
        try:
            yield
        finally:
            nltk.download = original


def import_textattack() -> ModuleType:
    """Import TextAttack offline and return the module.

    Provisions NLTK's English stopwords (and WordNet when a source exists) on ``nltk.data.path``
    first, and keeps TextAttack's first-import ``nltk.download`` calls off the network (see the
    module docstring). The first call takes 10-15 s; later calls return at once.

    Raises
    ------
    ImportError
        TextAttack is not installed (the message gives the install command).
    """
    module = sys.modules.get("textattack")
    if module is not None and hasattr(module, "augmentation"):
        return module
    use_nltk_data()
    with _nltk_downloads_disabled():
        return require("textattack", "text augmentation with TextAttack")


# name -> (class in textattack.augmentation.recipes, needs WordNet)
_RECIPES: dict[str, tuple[str, bool]] = {
    "charswap": ("CharSwapAugmenter", False),
    "deletion": ("DeletionAugmenter", False),
    "swap": ("SwapAugmenter", False),
    "synonym_insertion": ("SynonymInsertionAugmenter", True),
    "wordnet": ("WordNetAugmenter", True),
    "eda": ("EasyDataAugmenter", True),
}
_OFFLINE_ALTERNATIVE = (
    'recipe("wordnet"), recipe("eda"), recipe("charswap") or the dataperf.text ops '
    "(SynonymReplace, CharSwap, KeyboardTypo, ...)"
)
# name -> (TextAttack class, what it would download)
_NEEDS_DOWNLOAD: dict[str, tuple[str, str]] = {
    "embedding": (
        "EmbeddingAugmenter",
        "the counter-fitted word embeddings (paragramcf) from TextAttack's S3 bucket",
    ),
    "clare": (
        "CLAREAugmenter",
        "the distilroberta-base masked language model from the Hugging Face Hub and the "
        "Universal Sentence Encoder from TensorFlow Hub",
    ),
    "checklist": (
        "CheckListAugmenter",
        "flair's named-entity model (flair/ner-english) from the Hugging Face Hub",
    ),
    "back_translation": (
        "BackTranslationAugmenter",
        "the MarianMT models Helsinki-NLP/opus-mt-en-ROMANCE and opus-mt-ROMANCE-en from the "
        "Hugging Face Hub",
    ),
    "back_transcription": (
        "BackTranscriptionAugmenter",
        "the speech models facebook/fastspeech2-en-ljspeech and openai/whisper-base from the "
        "Hugging Face Hub",
    ),
    "masked_lm": (
        "WordSwapMaskedLM",
        "a BERT masked language model (bert-base-uncased) from the Hugging Face Hub",
    ),
    "hownet": ("WordSwapHowNet", "the HowNet synonym bank from TextAttack's S3 bucket"),
}


def recipe_names() -> list[str]:
    """The recipe names :func:`recipe` builds offline."""
    return list(_RECIPES)


def _check_wordnet(name: str) -> None:
    """Raise MissingResourceError unless NLTK can find a WordNet corpus (checked before import)."""
    import nltk.data

    use_nltk_data()  # copies WordNet into place when a source exists
    for resource in ("corpora/wordnet", "corpora/wordnet.zip"):
        with contextlib.suppress(LookupError):
            nltk.data.find(resource)
            return
    raise MissingResourceError(
        f"recipe({name!r}) needs WordNet 3.0 data, which is missing: no "
        "DATAPERF_WORDNET_DIR, no /usr/share/wordnet and no wordnet corpus on nltk.data.path. "
        "Install it with `apt-get install wordnet-base wordnet-sense-index`, or set "
        "DATAPERF_WORDNET_DIR to a WordNet 3.0 `dict` folder; or use a recipe that needs no "
        'WordNet: recipe("charswap"), recipe("deletion"), recipe("swap").'
    )


def recipe(name: str, **kwargs: Any) -> Any:
    """Build a TextAttack augmenter that works offline.

    - ``"charswap"``: ``textattack.augmentation.CharSwapAugmenter``
    - ``"deletion"``: ``textattack.augmentation.DeletionAugmenter``
    - ``"swap"``: ``textattack.augmentation.recipes.SwapAugmenter``
    - ``"synonym_insertion"``: ``textattack.augmentation.recipes.SynonymInsertionAugmenter``
      (needs WordNet)
    - ``"wordnet"``: ``textattack.augmentation.WordNetAugmenter`` (needs WordNet)
    - ``"eda"``: ``textattack.augmentation.EasyDataAugmenter`` (needs WordNet)

    Reproducibility: TextAttack draws from the global ``random`` and ``np.random`` generators
    (:func:`textattack_views` seeds and restores them). The WordNet recipes ("synonym_insertion",
    "wordnet", "eda") also build candidate lists from Python sets of strings, whose order
    depends on the interpreter's string-hash seed: their outputs repeat within a process and in
    DataLoader workers started by ``fork`` (same hash seed), but differ between runs and in
    ``spawn`` workers unless ``PYTHONHASHSEED`` is fixed (e.g. ``PYTHONHASHSEED=0``) before
    Python starts. "charswap", "deletion" and "swap" do not depend on it.

    Names that need a download ("embedding", "clare", "checklist", "back_translation",
    "back_transcription", "masked_lm", "hownet") are refused before anything is imported.

    Parameters
    ----------
    name : str
        A recipe name from the table.
    **kwargs
        Passed to the TextAttack class, e.g. ``pct_words_to_swap=0.1,
        transformations_per_example=1``.

    Returns
    -------
    textattack.augmentation.Augmenter

    Raises
    ------
    OfflineUnavailableError
        The recipe needs a download; the message names it and an offline alternative.
    MissingResourceError
        A WordNet recipe and no WordNet data on this machine.
    ValueError
        Unknown name (the message lists the valid names).
    """
    if not isinstance(name, str):
        raise InputTypeError(
            f"recipe name must be a str; got {describe(name)}. Pass one of {recipe_names()}."
        )
    key = name.strip().lower().replace("-", "_")
    if key in _NEEDS_DOWNLOAD:
        class_name, resource = _NEEDS_DOWNLOAD[key]
        raise OfflineUnavailableError(
            f"recipe({name!r}) is not available offline: TextAttack's {class_name} needs "
            f"{resource}, which would have to be downloaded, and dataperf never downloads. "
            f"Offline alternatives: {_OFFLINE_ALTERNATIVE}."
        )
    if key not in _RECIPES:
        raise InputValueError(
            f"unknown TextAttack recipe {name!r}; valid names are {recipe_names()} "
            f"(refused offline: {list(_NEEDS_DOWNLOAD)})."
        )
    class_name, needs_wordnet = _RECIPES[key]
    if needs_wordnet:
        _check_wordnet(name)
    recipes = import_textattack().augmentation.recipes
    with _nltk_downloads_disabled():
        return getattr(recipes, class_name)(**kwargs)


def _check_views(views: object) -> int:
    if isinstance(views, bool) or not isinstance(views, (int, np.integer)):
        raise InputTypeError(
            f"views must be a non-negative int; got {describe(views)} {views!r}. Pass e.g. views=2."
        )
    if views < 0:
        raise InputValueError(f"views must be a non-negative int; got {views}. Pass e.g. views=2.")
    return int(views)


def textattack_views(
    augmenter: Any, text: str, views: int, *, seed: int, rng: np.random.Generator
) -> list[str]:
    """``views`` augmented versions of ``text`` from a TextAttack augmenter, reproducibly.

    TextAttack draws from Python's global ``random`` module and NumPy's legacy global generator.
    This function runs it inside a save/restore block, with this exact contract::

        # TextAttack draws from the legacy global generator: seeding it is the point here.
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
        try:
            random.seed(seed)
            np.random.seed(seed % 2**32)
            result = []
            for _ in range(views):              # one seeded stream, consumed in sequence
                outputs = augmenter.augment(text)
                if len(outputs) == 0:
                    result.append(text)           # nothing produced: the original text
                elif len(outputs) == 1:
                    result.append(outputs[0])     # no draw from rng
                else:
                    result.append(outputs[int(rng.integers(len(outputs)))])
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)  # noqa: NPY002

    So views are successive draws of one stream seeded by ``seed``, not ``views`` copies of the
    same draw; ``rng`` is used only to choose among several outputs of one call. The global
    ``random`` and ``np.random`` states are the same after the call as before it, even on error.
    (WordNet-based augmenters also depend on the string-hash seed: see :func:`recipe`.)

    Parameters
    ----------
    augmenter : textattack.augmentation.Augmenter
        Or any object whose ``augment(str)`` returns a list of str.
    text : str
    views : int
        Number of augmented texts to return (>= 0).
    seed : int
        Non-negative seed of TextAttack's global RNGs, e.g. :func:`dataperf._rng.item_seed`.
    rng : numpy.random.Generator
        Chooses one output when a call returns several.

    Returns
    -------
    list of str, of length ``views``.

    Raises
    ------
    TypeError
        ``text`` is not a str, ``rng`` not a Generator, or the augmenter returns something other
        than a list of str (e.g. with ``enable_advanced_metrics=True``).
    """
    if not isinstance(text, str):
        raise InputTypeError(
            f"TextAttack augments one str at a time; got {describe(text)}. Pass the text of one "
            "example (e.g. dataset[i]['text']), not a batch or token ids."
        )
    if not isinstance(rng, np.random.Generator):
        raise InputTypeError(
            f"rng must be a numpy.random.Generator; got {describe(rng)}. "
            "Pass np.random.default_rng(seed)."
        )
    augment = getattr(augmenter, "augment", None)
    if not callable(augment):
        raise InputTypeError(
            f"augmenter must have an augment(text) method (a textattack.augmentation.Augmenter); "
            f"got {describe(augmenter)}. Build one with dataperf.text.recipe('charswap')."
        )
    views = _check_views(views)
    seed = check_seed(seed)
    # TextAttack draws from the legacy global generator: seeding it is the point here.
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    try:
        random.seed(seed)
        np.random.seed(seed % 2**32)  # noqa: NPY002
        result = []
        for _ in range(views):
            outputs = augment(text)
            if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
                raise InputTypeError(
                    f"{type(augmenter).__name__}.augment() returned {describe(outputs)}; expected "
                    "a list of str. Use a plain TextAttack augmenter "
                    "(enable_advanced_metrics=False)."
                )
            if not outputs:
                result.append(text)
            elif len(outputs) == 1:
                result.append(outputs[0])
            else:
                result.append(outputs[int(rng.integers(len(outputs)))])
        return result
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002


def is_textattack_augmenter(obj: object) -> bool:
    """True if ``obj`` is a TextAttack ``Augmenter``; never imports TextAttack.

    An object cannot be a TextAttack augmenter unless ``textattack.augmentation`` is imported
    already, so the check looks it up in ``sys.modules``.
    """
    module = sys.modules.get("textattack.augmentation")
    augmenter_class = getattr(module, "Augmenter", None)
    return isinstance(augmenter_class, type) and isinstance(obj, augmenter_class)
