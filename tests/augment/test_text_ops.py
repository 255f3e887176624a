"""Contract and behaviour tests for the pure-Python text ops in dataperf.text."""

# ruff: noqa: NPY002  (the tests check that the ops leave NumPy's legacy global state alone)

from __future__ import annotations

import multiprocessing
import os
import pickle
import random
import re
import subprocess
import sys

import numpy as np
import pytest
from _paths import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from dataperf import _wordnet
from dataperf import text as text_module
from dataperf.text import (
    CharDelete,
    CharInsert,
    CharSwap,
    Compose,
    KeyboardTypo,
    MissingResourceError,
    OneOf,
    SynonymReplace,
    TextOp,
    WordDelete,
    WordSwap,
)

HAS_WORDNET = _wordnet.wordnet_source() is not None
needs_wordnet = pytest.mark.skipif(
    not HAS_WORDNET, reason="needs WordNet 3.0: apt-get install wordnet-base wordnet-sense-index"
)

SENTENCE = 'The quick brown fox, "Rex", jumps over the lazy dog!\n  Then it naps; at 3 pm.'
LETTERS = re.compile(r"[^\W\d_]")
CHAR_OPS = [CharSwap, CharInsert, CharDelete, KeyboardTypo]
WORD_OPS = [WordDelete, WordSwap]
ALL_OPS = CHAR_OPS + WORD_OPS + [SynonymReplace]
QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


@pytest.fixture(scope="module", autouse=True)
def _data_dir(tmp_path_factory):
    """Provision NLTK data into a temporary DATAPERF_DATA_DIR for this module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATAPERF_DATA_DIR", str(tmp_path_factory.mktemp("dataperf-data")))
        yield


def _ids(op_class) -> str:
    return op_class.__name__


def _op(op_class, rate):
    if op_class is SynonymReplace and not HAS_WORDNET:
        pytest.skip("needs WordNet 3.0")
    return op_class(rate)


def _skeleton(text: str) -> str:
    """The text without its letters: what a character op must keep."""
    return LETTERS.sub("", text)


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+", text)


def _seps(text: str) -> list[str]:
    return re.split(r"[A-Za-z]+", text)


# ---------------------------------------------------------------- contract for every op


@pytest.mark.parametrize("op_class", ALL_OPS, ids=_ids)
def test_deterministic_for_a_seeded_rng(op_class):
    op = _op(op_class, 0.5)
    outputs = [op(SENTENCE, np.random.default_rng(seed)) for seed in range(8)]
    assert outputs == [op(SENTENCE, np.random.default_rng(seed)) for seed in range(8)]
    assert len(set(outputs)) > 1


@pytest.mark.parametrize("op_class", ALL_OPS, ids=_ids)
def test_rate_zero_is_identity(op_class):
    op = _op(op_class, 0.0)
    for seed in range(5):
        assert op(SENTENCE, np.random.default_rng(seed)) == SENTENCE


@pytest.mark.parametrize("op_class", ALL_OPS, ids=_ids)
def test_never_touches_global_rngs(op_class):
    op = _op(op_class, 0.7)
    random.seed(5)
    np.random.seed(5)
    py_state, np_state = random.getstate(), np.random.get_state()
    op(SENTENCE, np.random.default_rng(0))
    op(SENTENCE)  # rng=None: a fresh default_rng, not the global state
    assert random.getstate() == py_state
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), np_state))


@pytest.mark.parametrize("op_class", ALL_OPS, ids=_ids)
def test_bad_rate_is_refused(op_class):
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"rate must be a probability in \[0, 1\]; got "):
            op_class(bad)
    for bad in ("0.1", True, None):
        with pytest.raises(TypeError, match=r"rate must be a float in \[0, 1\]; got .*rate=0\.1"):
            op_class(bad)
    assert op_class(1).rate == 1.0 and op_class(np.float32(0.5)).rate == 0.5


@pytest.mark.parametrize("op_class", CHAR_OPS + [SynonymReplace], ids=_ids)
def test_bad_min_word_len_is_refused(op_class):
    for bad in (0, -2):
        with pytest.raises(ValueError, match=r"min_word_len must be an int >= 1; got -?\d"):
            op_class(0.1, min_word_len=bad)
    for bad in (2.5, "3", None):
        with pytest.raises(TypeError, match=r"min_word_len must be an int >= 1; got"):
            op_class(0.1, min_word_len=bad)


@pytest.mark.parametrize("op_class", ALL_OPS, ids=_ids)
def test_bad_input_is_refused_with_the_fix(op_class):
    op = op_class(0.5)
    with pytest.raises(TypeError, match=rf"{op_class.__name__} augments one str; got bytes"):
        op(b"some bytes", np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"got list of length 2\. Pass a single text"):
        op(["a", "b"], np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator or None; got int"):
        op("text", 42)


@pytest.mark.parametrize("op_class", ALL_OPS, ids=_ids)
def test_pickle_round_trip(op_class):
    op = _op(op_class, 0.4)
    clone = pickle.loads(pickle.dumps(op))
    assert type(clone) is type(op) and repr(clone) == repr(op)
    for seed in range(4):
        assert clone(SENTENCE, np.random.default_rng(seed)) == op(
            SENTENCE, np.random.default_rng(seed)
        )


def _apply_in_spawned_worker(args):
    op, text, seed = args
    return op(text, np.random.default_rng(seed))


def test_ops_work_in_spawned_processes():
    op = Compose([OneOf([CharSwap(0.3), KeyboardTypo(0.3)], weights=[1, 2]), WordSwap(0.3)])
    jobs = [(op, SENTENCE, seed) for seed in range(4)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        remote = pool.map(_apply_in_spawned_worker, jobs)
    assert remote == [_apply_in_spawned_worker(job) for job in jobs]


def test_repr_shows_parameters():
    assert repr(CharSwap(0.25, min_word_len=4)) == "CharSwap(rate=0.25, min_word_len=4)"
    assert repr(WordDelete(0.3)) == "WordDelete(rate=0.3)"
    assert repr(SynonymReplace()) == "SynonymReplace(rate=0.2, min_word_len=3)"
    assert repr(OneOf([WordSwap()], weights=[2])) == (
        "OneOf(ops=(WordSwap(rate=0.1),), weights=(2.0,))"
    )


@pytest.mark.parametrize("op_class", ALL_OPS, ids=_ids)
def test_nothing_eligible_comes_back_unchanged(op_class):
    op = _op(op_class, 1.0)
    texts = ["", "   \n", "42 ... !?", "Hi!"]
    if op_class in CHAR_OPS:
        texts += ["a an to 12 b2b", "don't re-use abc1 x_yz"]
    if op_class is SynonymReplace:
        texts += ["the and of", "zzqx blorf"]
    for text in texts:
        for seed in range(3):
            assert op(text, np.random.default_rng(seed)) == text


# ---------------------------------------------------------------- character ops


@pytest.mark.parametrize("op_class", CHAR_OPS, ids=_ids)
def test_char_ops_rate_one_edits_every_eligible_word_once(op_class):
    text = "The quick brown fox, Rex, jumps over a lazy dog at 3 pm!\n  Then it naps."
    for seed in range(10):
        out = op_class(1.0)(text, np.random.default_rng(seed))
        assert _seps(out) == _seps(text)  # punctuation, digits and whitespace kept in place
        for old, new in zip(_words(text), _words(out), strict=True):
            if len(old) < 3:
                assert new == old
                continue
            assert new != old
            _check_single_edit(op_class, old, new)


def _check_single_edit(op_class, old: str, new: str) -> None:
    capitalised = old[0].isupper() and not old.isupper()
    if op_class is CharSwap:
        diff = [i for i, (a, b) in enumerate(zip(old.lower(), new.lower())) if a != b]
        assert len(new) == len(old) and len(diff) == 2 and diff[1] == diff[0] + 1
        i = diff[0]
        assert new[i : i + 2].lower() == old[i : i + 2].lower()[::-1]
        assert [c.isupper() for c in new] == [c.isupper() for c in old]  # case per position
    elif op_class is CharInsert:
        assert len(new) == len(old) + 1
        assert any(new[:i] + new[i + 1 :] == old for i in range(len(new))) or capitalised
        assert any((new[:i] + new[i + 1 :]).lower() == old.lower() for i in range(len(new)))
    elif op_class is CharDelete:
        assert len(new) == len(old) - 1
        assert any((old[:i] + old[i + 1 :]).lower() == new.lower() for i in range(len(old)))
    elif op_class is KeyboardTypo:
        diff = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
        assert len(new) == len(old) and len(diff) == 1
        a, b = old[diff[0]], new[diff[0]]
        assert a.isupper() == b.isupper()
        assert b.lower() in _qwerty_neighbours(a.lower())
    if capitalised:
        assert new[0].isupper() and not new[1:].isupper()


def _qwerty_neighbours(key: str) -> set[str]:
    """Keys whose centres are less than 1.3 key widths apart on a staggered QWERTY layout."""
    centres = {
        k: (col + shift, row)
        for row, (keys, shift) in enumerate(zip(QWERTY_ROWS, (0.0, 0.25, 0.75)))
        for col, k in enumerate(keys)
    }
    x, y = centres[key]
    return {
        k for k, (u, v) in centres.items() if k != key and ((u - x) ** 2 + (v - y) ** 2) < 1.3**2
    }


def test_keyboard_neighbours_match_the_layout():
    assert text_module._NEIGHBOURS["a"] == "qswz"
    assert text_module._NEIGHBOURS["g"] == "bfhtvy"
    for key, near in text_module._NEIGHBOURS.items():
        assert set(near) == _qwerty_neighbours(key)


def test_keyboard_typo_keeps_case():
    out = KeyboardTypo(1.0)("QUICK Quick quick", np.random.default_rng(1))
    a, b, c = out.split()
    assert a.isupper() and b[0].isupper() and b[1:].islower() and c.islower()


def test_char_rate_is_a_per_word_probability():
    words = " ".join(["letters"] * 2000)
    changed = [
        sum(a != b for a, b in zip(words.split(), CharSwap(0.3)(words, rng).split()))
        for rng in (np.random.default_rng(s) for s in range(5))
    ]
    assert all(abs(c / 2000 - 0.3) < 0.04 for c in changed)


def test_min_word_len_selects_eligible_words():
    text = "cat horse elephant"
    out = CharDelete(1.0, min_word_len=5)(text, np.random.default_rng(0)).split()
    assert out[0] == "cat" and out[1] != "horse" and out[2] != "elephant"
    out = CharDelete(1.0, min_word_len=1)("a an", np.random.default_rng(0)).split()
    assert out[0] == "a" and len(out[1]) == 1  # one-letter words cannot lose a letter


@settings(max_examples=150, deadline=None, database=None)
@given(text=st.text(max_size=80), seed=st.integers(0, 2**32 - 1))
def test_char_ops_keep_everything_but_letters(text, seed):
    for op_class in CHAR_OPS:
        out = op_class(0.5, min_word_len=1)(text, np.random.default_rng(seed))
        assert isinstance(out, str)
        assert _skeleton(out) == _skeleton(text)


# ---------------------------------------------------------------- word ops


def test_word_delete_rate_one_keeps_exactly_one_word():
    for seed in range(10):
        out = WordDelete(1.0)(SENTENCE, np.random.default_rng(seed))
        assert len(re.findall(r"\w+", out)) == 1
        assert re.sub(r"[\w\s]", "", out) == re.sub(r"[\w\s]", "", SENTENCE)


def test_word_delete_keeps_punctuation_and_tidies_whitespace():
    def delete(text, *words):
        pieces = re.findall(r"\w+(?:['’-]\w+)*", text)
        # Find a seed whose draws delete exactly the requested words.
        for seed in range(20000):
            gone = np.random.default_rng(seed).random(len(pieces)) < 0.5
            if [p for p, g in zip(pieces, gone) if g] == list(words):
                return WordDelete(0.5)(text, np.random.default_rng(seed))
        raise AssertionError("no seed found")

    assert delete("the lazy dog.", "dog") == "the lazy."
    assert delete("(see above) now", "see") == "(above) now"
    assert delete("a b c d", "a", "b") == "c d"
    assert delete("a b c d", "c", "d") == "a b"
    assert delete("  one two three", "one") == "  two three"
    assert delete("Stop.\nNew line here", "here") == "Stop.\nNew line"
    assert delete("Stop. New\nline here", "New") == "Stop.\nline here"
    assert delete("don't re-use it", "re-use") == "don't it"


def test_word_delete_rate_is_a_per_word_probability():
    text = " ".join(f"w{i}" for i in range(3000))
    kept = len(WordDelete(0.2)(text, np.random.default_rng(0)).split())
    assert abs(1 - kept / 3000 - 0.2) < 0.03


def test_word_swap_rate_one_moves_every_word_and_keeps_the_rest():
    text = "One, two; three four (five) six!\n seven eight"
    words = re.findall(r"\w+", text)
    for seed in range(5):
        out = WordSwap(1.0)(text, np.random.default_rng(seed))
        new = re.findall(r"\w+", out)
        assert re.split(r"\w+", out) == re.split(r"\w+", text)
        assert new == [words[i ^ 1] for i in range(len(words))]  # pairs (1,2), (3,4), ...


def test_word_swap_moves_each_word_at_most_one_place():
    words = [f"w{i}" for i in range(200)]
    for seed in range(5):
        out = WordSwap(0.5)(" ".join(words), np.random.default_rng(seed)).split()
        assert sorted(out) == sorted(words)
        assert all(abs(words.index(w) - i) <= 1 for i, w in enumerate(out))
        assert out != words


# ---------------------------------------------------------------- synonyms


def _wordnet_lemmas(word: str) -> set[str]:
    """Every lemma of every synset of ``word`` (or of its base form), lower case."""
    wn = _wordnet.wordnet()
    return {n.lower() for s in wn.synsets(word) for n in s.lemma_names()}


def _base(word: str) -> str:
    """``word`` without a plural/-s ending, for comparing inflected replacements."""
    wn = _wordnet.wordnet()
    return wn.morphy(word) or word


@needs_wordnet
def test_synonyms_are_wordnet_synonyms_in_the_same_case():
    text = "Quick brown foxes jump over the LAZY dog near a big car and small houses."
    stop = text_module._stopwords()
    for seed in range(10):
        out = SynonymReplace(1.0)(text, np.random.default_rng(seed))
        assert _seps(out) == _seps(text)
        changed = 0
        for old, new in zip(_words(text), _words(out), strict=True):
            if old.lower() in stop or not text_module._synonyms(old.lower()):
                assert new == old
                continue
            assert new != old
            assert _base(new.lower()) in _wordnet_lemmas(_base(old.lower())), (old, new)
            assert new.isupper() == old.isupper()
            assert new[0].isupper() == old[0].isupper()
            changed += 1
        assert changed >= 5


@needs_wordnet
def test_synonym_rate_is_a_per_word_probability():
    text = "big " * 1000
    out = SynonymReplace(0.25)(text, np.random.default_rng(0)).split()
    assert abs(sum(w != "big" for w in out) / 1000 - 0.25) < 0.04
    assert set(out) <= {"big", *text_module._synonyms("big")}


@needs_wordnet
def test_synonyms_keep_part_of_speech_and_common_sense():
    """Examples seen before the table: "end of the race" -> "subspecies", "in order to" ->
    "in enjoin to". The table keeps the most frequent part of speech and senses only."""
    assert "subspecies" not in text_module._synonyms("race")
    assert not {"enjoin", "ordain", "rate"} & set(text_module._synonyms("order"))
    assert "machine" not in text_module._synonyms("car")  # machine's fourth sense only
    assert not {"do", "get"} & set(text_module._synonyms("make"))  # no stopwords offered
    for seed in range(30):
        rng = np.random.default_rng(seed)
        out = SynonymReplace(1.0)("He ran to the end of the race in order to win.", rng)
        assert "subspecies" not in out and " order to" in out


@needs_wordnet
def test_synonyms_keep_inflection_or_leave_the_word():
    assert "autos" in text_module._synonyms("cars")  # plural noun -> plural synonym
    assert "kids" in text_module._synonyms("children")  # irregular plural from noun.exc
    assert "leaps" in text_module._synonyms("jumps")  # -s verb
    assert text_module._synonyms("walked") == ()  # -ed/-ing: not re-inflected, left alone
    assert text_module._synonyms("found") == ()  # mostly the past of "find"
    out = SynonymReplace(1.0)("Small cars and big cars.", np.random.default_rng(0))
    assert all(w.endswith("s") for w in _words(out)[1::3])


@needs_wordnet
def test_names_and_fixed_expressions_are_left_alone():
    text = "Yesterday Bill met Big Rose near a race car."
    assert text_module._synonyms("big") and text_module._synonyms("car")
    for seed in range(20):
        out = SynonymReplace(1.0)(text, np.random.default_rng(seed))
        assert "Bill met Big Rose" in out and "race car" in out
    assert SynonymReplace(1.0)("Big car.", np.random.default_rng(0)).split()[0] != "Big"


def _fresh_table_dirs(monkeypatch, tmp_path):
    monkeypatch.setenv("DATAPERF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(_wordnet, "prefix_nltk_data_dir", lambda: tmp_path / "prefix")


def test_synonym_replace_loads_wordnet_lazily(monkeypatch, tmp_path):
    _fresh_table_dirs(monkeypatch, tmp_path)
    monkeypatch.delenv("DATAPERF_WORDNET_DIR", raising=False)
    monkeypatch.setattr(_wordnet, "_DEBIAN_WORDNET", tmp_path / "no-wordnet")
    op = SynonymReplace(0.5)  # no WordNet needed to construct
    assert op("", np.random.default_rng(0)) == ""
    with pytest.raises(
        MissingResourceError, match="apt-get install wordnet-base wordnet-sense-index"
    ):
        op("A perfectly ordinary sentence.", np.random.default_rng(0))


@needs_wordnet
def test_missing_table_is_built_once_with_a_note_then_loaded(monkeypatch, tmp_path, capfd):
    from dataperf import _synonyms

    _fresh_table_dirs(monkeypatch, tmp_path)
    built = _synonyms.table()
    path = _wordnet.table_paths()[0]
    assert path.is_file() and "building the WordNet synonym table" in capfd.readouterr().err
    assert _synonyms.table() is built  # cached in the process
    with monkeypatch.context() as m:  # once loaded, a sentence costs a dict lookup, no paths
        m.setattr(_wordnet, "table_paths", lambda: pytest.fail("path work per call"))
        assert _synonyms.table() is built
    monkeypatch.setenv("DATAPERF_DATA_DIR", str(tmp_path / "elsewhere"))
    other = _wordnet.table_paths()[0]
    other.parent.mkdir(parents=True)
    other.write_bytes(path.read_bytes())
    again = _synonyms.table()  # another data folder: looked up again
    assert again is not built and again.words == built.words
    monkeypatch.setenv("DATAPERF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(_synonyms, "_loaded", {})
    assert _synonyms.table().words == built.words  # read back, not rebuilt
    assert capfd.readouterr().err == ""
    path.write_text('{"format": "dataperf-synonyms", "version": 0}')  # an old version
    monkeypatch.setattr(_synonyms, "_loaded", {})
    assert _synonyms.table().words == built.words
    assert "building" in capfd.readouterr().err


@needs_wordnet
def test_provisioned_table_in_the_prefix_is_used_without_nltk(tmp_path):
    """A table provisioned into sys.prefix/nltk_data (as `make setup` does) is found from a
    fresh HOME and data dir, and using it imports neither NLTK nor rebuilds anything."""
    prefix = tmp_path / "prefix"
    _wordnet.provision(prefix)
    assert (prefix / "corpora" / "stopwords" / "english").is_file()
    code = (
        "import sys, numpy as np; from dataperf import _wordnet; "
        f"_wordnet.prefix_nltk_data_dir = lambda: __import__('pathlib').Path({str(prefix)!r}); "
        "from dataperf.text import SynonymReplace; "
        "out = SynonymReplace(1.0)('A big car.', np.random.default_rng(0)); "
        "print(out, 'nltk' in sys.modules)"
    )
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    env.pop("DATAPERF_DATA_DIR", None)
    env.pop("XDG_CACHE_HOME", None)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[-1] == "False" and out.stdout.split()[1] != "big"
    assert "building" not in out.stderr
    assert not (tmp_path / "home" / ".cache").exists()


# ---------------------------------------------------------------- Compose, OneOf


def test_compose_applies_in_order_with_the_same_rng():
    ops = [CharSwap(0.4), WordDelete(0.3), KeyboardTypo(0.4)]
    for seed in range(5):
        rng = np.random.default_rng(seed)
        expected = SENTENCE
        for op in ops:
            expected = op(expected, rng)
        assert Compose(ops)(SENTENCE, np.random.default_rng(seed)) == expected


def test_one_of_follows_weights():
    picks = [
        OneOf([WordDelete(1.0), WordSwap(0.0)], weights=[1, 3])("a b", np.random.default_rng(s))
        for s in range(2000)
    ]
    assert abs(picks.count("a b") / 2000 - 0.75) < 0.04
    never_first = OneOf([WordDelete(1.0), WordSwap(0.0)], weights=[0, 1])
    assert all(never_first("a b", np.random.default_rng(s)) == "a b" for s in range(50))
    equal = [
        OneOf([WordDelete(1.0), WordSwap(0.0)])("a b", np.random.default_rng(s))
        for s in range(2000)
    ]
    assert abs(equal.count("a b") / 2000 - 0.5) < 0.04


@pytest.mark.parametrize("cls", [Compose, OneOf])
def test_composites_validate_members(cls):
    with pytest.raises(TypeError, match=rf"{cls.__name__} member 1 must be a dataperf TextOp"):
        cls([CharSwap(), str.upper])
    with pytest.raises(
        TypeError, match=rf"{cls.__name__} takes a list of TextOps; got dataperf\.CharSwap"
    ):
        cls(CharSwap())
    with pytest.raises(ValueError, match=rf"{cls.__name__} needs at least one op"):
        cls([])
    assert isinstance(cls([CharSwap()]), TextOp)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0], r"weights must be 2 finite numbers, one per op"),
        ([1.0, float("inf")], r"weights must be 2 finite numbers"),
        (["a", "b"], r"weights must be 2 finite numbers"),
        ([1.0, -1.0], r"weights must be >= 0 with a positive sum; got \[1\.0, -1\.0\]"),
        ([0, 0], r"weights must be >= 0 with a positive sum"),
    ],
)
def test_one_of_validates_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        OneOf([CharSwap(), WordSwap()], weights=weights)


# ---------------------------------------------------------------- import hygiene


def test_importing_dataperf_text_is_light():
    code = (
        "import sys, dataperf.text; "
        "print(sorted(m for m in ('torch', 'textattack', 'nltk', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
