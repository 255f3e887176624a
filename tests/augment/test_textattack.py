"""TextAttack, offline: recipes, refusals, and the seeded-views contract of textattack_views.

TextAttack is imported once, by the module-scoped ``textattack`` fixture (about 10-15 s).
"""

# ruff: noqa: NPY002  (TextAttack draws from NumPy's legacy global generator: the contract)

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _paths import ROOT

from dataperf import _wordnet
from dataperf.augment import textattack_adapter as adapter
from dataperf.augment.textattack_adapter import (
    OfflineUnavailableError,
    is_textattack_augmenter,
    recipe,
    textattack_views,
)
from dataperf.text import MissingResourceError

TEXT = "The quick brown fox jumps over the lazy dog near the old stone bridge."
HAS_WORDNET = _wordnet.wordnet_source() is not None
needs_wordnet = pytest.mark.skipif(
    not HAS_WORDNET, reason="needs WordNet 3.0: apt-get install wordnet-base wordnet-sense-index"
)
REFUSED = {
    "embedding": "counter-fitted word embeddings",
    "clare": "distilroberta-base",
    "checklist": "flair/ner-english",
    "back_translation": "Helsinki-NLP/opus-mt-en-ROMANCE",
    "back_transcription": "openai/whisper-base",
    "masked_lm": "bert-base-uncased",
    "hownet": "HowNet",
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("dataperf-data")
        mp.setenv("DATAPERF_DATA_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def textattack(data_dir):
    return adapter.import_textattack()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _expected_views(augmenter, text, views, seed, rng_seed):
    """The documented contract of textattack_views, written out against TextAttack directly."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    rng = np.random.default_rng(rng_seed)
    result = []
    for _ in range(views):
        outputs = augmenter.augment(text)
        if not outputs:
            result.append(text)
        elif len(outputs) == 1:
            result.append(outputs[0])
        else:
            result.append(outputs[rng.integers(len(outputs))])
    return result


def _global_states():
    return random.getstate(), np.random.get_state()


def _same_states(a, b) -> bool:
    (py_a, np_a), (py_b, np_b) = a, b
    return py_a == py_b and all(np.array_equal(x, y) for x, y in zip(np_a, np_b))


class Fixed:
    """A stand-in augmenter that returns fixed outputs and records calls."""

    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = 0

    def augment(self, text):
        self.calls += 1
        return list(self.outputs)


class Draws:
    """A stand-in augmenter whose output is its next draws from the global RNGs."""

    def augment(self, text):
        return [f"{random.random()!r} {np.random.random()!r}"]


# ---------------------------------------------------------------- the RNG contract


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("charswap", {"transformations_per_example": 1}),
        ("deletion", {"transformations_per_example": 3, "pct_words_to_swap": 0.2}),
        ("swap", {"transformations_per_example": 2}),
        pytest.param("eda", {"transformations_per_example": 4}, marks=needs_wordnet),
        pytest.param("wordnet", {"transformations_per_example": 2}, marks=needs_wordnet),
    ],
)
def test_views_equal_textattack_called_directly(textattack, name, kwargs):
    augmenter = recipe(name, **kwargs)
    seed = 2**40 + 17  # exercises seed % 2**32 for NumPy
    got = textattack_views(augmenter, TEXT, 4, seed=seed, rng=np.random.default_rng(5))
    saved = _global_states()
    try:
        expected = _expected_views(augmenter, TEXT, 4, seed, 5)
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
    assert got == expected
    assert all(isinstance(v, str) for v in got)
    assert any(v != TEXT for v in got)
    again = textattack_views(augmenter, TEXT, 4, seed=seed, rng=np.random.default_rng(5))
    assert again == got
    other = textattack_views(augmenter, TEXT, 4, seed=seed + 1, rng=np.random.default_rng(5))
    assert other != got


def test_plain_recipes_repeat_in_another_process_with_another_hash_seed(textattack):
    """charswap/deletion/swap depend only on the seeds (WordNet recipes also on PYTHONHASHSEED)."""
    code = (
        "import json, numpy as np\n"
        "from dataperf.text import recipe\n"
        "from dataperf.augment.textattack_adapter import textattack_views\n"
        f"text = {TEXT!r}\n"
        "print(json.dumps([textattack_views(recipe(n, transformations_per_example=2), text, 3,"
        " seed=5, rng=np.random.default_rng(1)) for n in ('charswap', 'deletion', 'swap')]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    here = [
        textattack_views(
            recipe(n, transformations_per_example=2), TEXT, 3, seed=5, rng=np.random.default_rng(1)
        )
        for n in ("charswap", "deletion", "swap")
    ]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == here


def test_views_are_successive_draws_of_one_seeded_stream():
    views = textattack_views(Draws(), "x", 3, seed=7, rng=np.random.default_rng(0))
    py, legacy = random.Random(7), np.random.RandomState(7)
    assert views == [f"{py.random()!r} {legacy.random()!r}" for _ in range(3)]


def test_global_rng_state_is_restored(textattack):
    random.seed(123)
    np.random.seed(123)
    before = _global_states()
    textattack_views(recipe("charswap"), TEXT, 3, seed=9, rng=np.random.default_rng(0))
    textattack_views(Draws(), TEXT, 2, seed=10, rng=np.random.default_rng(0))
    assert _same_states(_global_states(), before)


def test_global_rng_state_is_restored_after_an_error():
    class Broken:
        def augment(self, text):
            random.random()
            raise RuntimeError("boom")

    random.seed(1)
    before = _global_states()
    with pytest.raises(RuntimeError, match="boom"):
        textattack_views(Broken(), TEXT, 2, seed=3, rng=np.random.default_rng(0))
    assert _same_states(_global_states(), before)


def test_zero_outputs_give_the_original_text():
    rng = np.random.default_rng(0)
    assert textattack_views(Fixed([]), TEXT, 3, seed=0, rng=rng) == [TEXT] * 3
    assert rng.bit_generator.state == np.random.default_rng(0).bit_generator.state  # no draw


def test_one_output_takes_no_draw_from_rng():
    rng = np.random.default_rng(0)
    assert textattack_views(Fixed(["only"]), TEXT, 2, seed=0, rng=rng) == ["only", "only"]
    assert rng.bit_generator.state == np.random.default_rng(0).bit_generator.state


def test_several_outputs_are_chosen_by_rng():
    outputs = ["a", "b", "c", "d", "e"]
    views = textattack_views(Fixed(outputs), TEXT, 50, seed=0, rng=np.random.default_rng(11))
    rng = np.random.default_rng(11)
    assert views == [outputs[rng.integers(5)] for _ in range(50)]
    assert len(set(views)) == 5


def test_views_argument_checks():
    fixed = Fixed(["a"])
    assert textattack_views(fixed, TEXT, 0, seed=0, rng=np.random.default_rng()) == []
    assert fixed.calls == 0
    with pytest.raises(TypeError, match=r"augments one str at a time; got list of length 1"):
        textattack_views(fixed, [TEXT], 1, seed=0, rng=np.random.default_rng())
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator; got int"):
        textattack_views(fixed, TEXT, 1, seed=0, rng=3)
    with pytest.raises(TypeError, match=r"augmenter must have an augment\(text\) method"):
        textattack_views(object(), TEXT, 1, seed=0, rng=np.random.default_rng())
    with pytest.raises(ValueError, match=r"views must be a non-negative int; got -1"):
        textattack_views(fixed, TEXT, -1, seed=0, rng=np.random.default_rng())
    with pytest.raises(TypeError, match=r"views must be a non-negative int; got float 1\.5"):
        textattack_views(fixed, TEXT, 1.5, seed=0, rng=np.random.default_rng())
    assert textattack_views(fixed, TEXT, np.int64(2), seed=0, rng=np.random.default_rng()) == [
        "a",
        "a",
    ]
    with pytest.raises(ValueError, match=r"seed must be .*; got -5"):
        textattack_views(fixed, TEXT, 1, seed=-5, rng=np.random.default_rng())


def test_bad_augmenter_output_names_the_augmenter():
    class Metrics:
        def augment(self, text):
            return (["a"], {"perplexity": 1.0})

    with pytest.raises(TypeError, match=r"Metrics\.augment\(\) returned tuple.*list of str"):
        textattack_views(Metrics(), TEXT, 1, seed=0, rng=np.random.default_rng())
    with pytest.raises(TypeError, match=r"Fixed\.augment\(\) returned list"):
        textattack_views(Fixed([1, 2]), TEXT, 1, seed=0, rng=np.random.default_rng())


# ---------------------------------------------------------------- recipes


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_download_recipes_are_refused_fast_with_resource_and_alternative(name, no_network):
    start = time.perf_counter()
    with pytest.raises(OfflineUnavailableError) as info:
        recipe(name, transformations_per_example=2)
    assert time.perf_counter() - start < 1.0
    message = str(info.value)
    assert "not available offline" in message and REFUSED[name] in message
    assert 'recipe("wordnet")' in message and "dataperf.text" in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, MissingResourceError)


def test_refusal_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from dataperf.text import recipe, OfflineUnavailableError\n"
        "for name in ('clare', 'embedding', 'back-translation'):\n"
        "    try:\n"
        "        recipe(name)\n"
        "    except OfflineUnavailableError:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit('not refused: ' + name)\n"
        "print(sorted(m for m in ('textattack', 'torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_unknown_recipe_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown TextAttack recipe 'synonyms'; valid names are"):
        recipe("synonyms")
    with pytest.raises(ValueError, match=r"'charswap', 'deletion', 'swap', 'synonym_insertion'"):
        recipe("nope")
    with pytest.raises(TypeError, match=r"recipe name must be a str; got int"):
        recipe(3)


def test_wordnet_recipe_without_wordnet_fails_before_constructing(monkeypatch, tmp_path):
    import nltk.data

    monkeypatch.setenv("DATAPERF_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATAPERF_WORDNET_DIR", raising=False)
    monkeypatch.setattr(_wordnet, "_DEBIAN_WORDNET", tmp_path / "no-wordnet")
    monkeypatch.setattr(nltk.data, "path", [])
    imported = "textattack" in sys.modules
    for name in ("wordnet", "eda", "synonym_insertion"):
        with pytest.raises(MissingResourceError, match=rf"recipe\('{name}'\) needs WordNet") as e:
            recipe(name)
        assert "apt-get install wordnet-base wordnet-sense-index" in str(e.value)
        assert 'recipe("charswap")' in str(e.value)
    assert ("textattack" in sys.modules) == imported


@needs_wordnet
def test_wordnet_recipe_works_offline(textattack, no_network):
    import nltk

    augmenter = recipe("wordnet", pct_words_to_swap=0.3, transformations_per_example=1)
    assert nltk.download is not adapter._skip_download  # restored after construction
    assert is_textattack_augmenter(augmenter)
    (view,) = textattack_views(augmenter, TEXT, 1, seed=0, rng=np.random.default_rng(0))
    old, new = TEXT.split(), view.split()
    assert len(new) == len(old) and new != old
    wn = _wordnet.wordnet()
    for a, b in zip(old, new):
        if a != b:  # WordNet synonyms of the replaced word
            lemmas = {n.lower() for s in wn.synsets(a.strip(".")) for n in s.lemma_names()}
            assert b.strip(".").lower() in lemmas


@pytest.mark.parametrize("name", ["charswap", "deletion", "swap"])
def test_plain_recipes_work_offline(textattack, name, no_network):
    augmenter = recipe(name, transformations_per_example=1)
    assert type(augmenter).__module__ == "textattack.augmentation.recipes"
    views = textattack_views(augmenter, TEXT, 3, seed=1, rng=np.random.default_rng(0))
    assert len(views) == 3 and all(v != TEXT for v in views)


def test_import_textattack_is_cached_and_restores_nltk_download(textattack):
    import nltk

    assert adapter.import_textattack() is textattack
    assert nltk.download is not adapter._skip_download
    assert hasattr(textattack.augmentation, "Augmenter")


def test_is_textattack_augmenter(textattack):
    assert is_textattack_augmenter(recipe("charswap"))
    assert not is_textattack_augmenter(Fixed(["a"]))
    assert not is_textattack_augmenter("charswap")
    code = (
        "import sys\n"
        "from dataperf.augment.textattack_adapter import is_textattack_augmenter\n"
        "print(is_textattack_augmenter(object()), 'textattack' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- TextAttack used directly


def _fresh_venv(tmp_path: Path) -> Path:
    """A new virtual environment (its own sys.prefix) that sees this one's packages."""
    import sysconfig

    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(purelib, "parent-env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


@pytest.mark.slow
@needs_wordnet
def test_textattack_imported_directly_works_offline_in_a_fresh_home(tmp_path):
    """The usage TextAttack documents, in a fresh HOME (as CI runs) after provisioning the
    environment's prefix as `make setup` does: no dataperf code runs before the import."""
    python = _fresh_venv(tmp_path)
    _wordnet.provision(python.parents[1] / "nltk_data")  # what `python -m dataperf.text` does
    code = (
        "from textattack.augmentation import CharSwapAugmenter, WordNetAugmenter\n"
        "from dataperf import AugmentedDataset\n"
        f"sentences = [{TEXT!r}]\n"
        "for augmenter in (CharSwapAugmenter(), WordNetAugmenter()):\n"
        "    print(AugmentedDataset(sentences, augmenter, seed=0)[0])\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATAPERF_", "NLTK_", "XDG_", "TA_"))
    }
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    out = subprocess.run(
        [str(python), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all(line != TEXT for line in lines)
