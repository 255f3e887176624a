"""Offline NLTK data: provisioning stopwords and WordNet, and real sentences from WordNet."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _paths import ROOT

from dataperf import _wordnet
from dataperf._wordnet import MissingResourceError

needs_wordnet = pytest.mark.skipif(
    _wordnet.wordnet_source() is None,
    reason="needs WordNet 3.0: apt-get install wordnet-base wordnet-sense-index",
)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh, empty DATAPERF_DATA_DIR."""
    folder = tmp_path / "dataperf-data"
    monkeypatch.setenv("DATAPERF_DATA_DIR", str(folder))
    monkeypatch.delenv("DATAPERF_WORDNET_DIR", raising=False)
    return folder


@pytest.fixture
def no_wordnet(monkeypatch):
    """No WordNet source anywhere."""
    monkeypatch.delenv("DATAPERF_WORDNET_DIR", raising=False)
    monkeypatch.setattr(_wordnet, "_DEBIAN_WORDNET", Path("/nonexistent/wordnet"))


def _hidden(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*")]


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("DATAPERF_DATA_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _wordnet.data_dir() == tmp_path / "a"
    assert _wordnet.nltk_data_dir() == tmp_path / "a" / "nltk_data"
    monkeypatch.delenv("DATAPERF_DATA_DIR")
    assert _wordnet.data_dir() == tmp_path / "xdg" / "dataperf"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _wordnet.data_dir() == tmp_path / "home" / ".cache" / "dataperf"


@needs_wordnet
def test_wordnet_source(monkeypatch, tmp_path):
    monkeypatch.delenv("DATAPERF_WORDNET_DIR", raising=False)
    assert _wordnet.wordnet_source() == Path("/usr/share/wordnet")
    monkeypatch.setenv("DATAPERF_WORDNET_DIR", str(tmp_path))
    assert _wordnet.wordnet_source() == tmp_path
    monkeypatch.delenv("DATAPERF_WORDNET_DIR")
    monkeypatch.setattr(_wordnet, "_DEBIAN_WORDNET", tmp_path / "absent")
    assert _wordnet.wordnet_source() is None


def test_ensure_stopwords_writes_sklearn_list_once(data_dir):
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    path = _wordnet.ensure_stopwords()
    assert path == data_dir / "nltk_data" / "corpora" / "stopwords" / "english"
    assert path.read_text().splitlines() == sorted(ENGLISH_STOP_WORDS)
    stamp = path.stat().st_mtime_ns
    assert _wordnet.ensure_stopwords() == path
    assert path.stat().st_mtime_ns == stamp
    assert _hidden(data_dir) == []


@needs_wordnet
def test_ensure_wordnet_copies_and_adds_lexnames(data_dir):
    folder = _wordnet.ensure_wordnet()
    assert folder == data_dir / "nltk_data" / "corpora" / "wordnet"
    source = _wordnet.wordnet_source()
    for name in ("data.noun", "index.sense", "verb.exc"):
        assert not (folder / name).is_symlink()
        assert filecmp.cmp(folder / name, source / name, shallow=False)
    lines = (folder / "lexnames").read_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[29] == "29\tverb.body\t2"
    assert lines[44] == "44\tadj.ppl\t3"
    assert oct(folder.stat().st_mode & 0o777) == oct(0o755)
    assert _hidden(data_dir) == []


@needs_wordnet
def test_ensure_wordnet_is_idempotent(data_dir):
    folder = _wordnet.ensure_wordnet()
    stamp = (folder / "data.noun").stat().st_mtime_ns
    inode = folder.stat().st_ino
    assert _wordnet.ensure_wordnet() == folder
    assert (folder / "data.noun").stat().st_mtime_ns == stamp
    assert folder.stat().st_ino == inode


@needs_wordnet
def test_ensure_wordnet_replaces_an_incomplete_folder(data_dir):
    folder = data_dir / "nltk_data" / "corpora" / "wordnet"
    folder.mkdir(parents=True)
    (folder / "data.noun").write_text("truncated")
    assert _wordnet.ensure_wordnet() == folder
    assert (folder / "data.noun").stat().st_size > 1_000_000
    assert (folder / "lexnames").is_file()
    assert _hidden(data_dir) == []


@needs_wordnet
def test_concurrent_processes_provision_one_complete_copy(data_dir):
    code = "from dataperf import _wordnet; _wordnet.ensure_stopwords(); _wordnet.ensure_wordnet()"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    for _out, err, code_ in results:
        assert code_ == 0, err
    folder = data_dir / "nltk_data" / "corpora" / "wordnet"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [p.name for p in _wordnet.wordnet_source().iterdir() if p.is_file()] + ["lexnames"]
    )
    assert (data_dir / "nltk_data" / "corpora" / "stopwords" / "english").is_file()
    assert _hidden(data_dir) == []


def test_missing_source_raises_with_the_fix(data_dir, no_wordnet):
    with pytest.raises(MissingResourceError, match="WordNet 3.0 data is missing") as info:
        _wordnet.ensure_wordnet()
    assert isinstance(info.value, LookupError)
    message = str(info.value)
    assert "apt-get install wordnet-base wordnet-sense-index" in message
    assert "DATAPERF_WORDNET_DIR" in message
    with pytest.raises(MissingResourceError, match="apt-get install wordnet-base"):
        _wordnet.wordnet()
    with pytest.raises(MissingResourceError, match="wordnet_sentences needs WordNet"):
        _wordnet.wordnet_sentences(3)


def test_incomplete_source_names_missing_files(data_dir, monkeypatch, tmp_path):
    empty = tmp_path / "dict"
    empty.mkdir()
    (empty / "data.noun").write_text("")
    monkeypatch.setenv("DATAPERF_WORDNET_DIR", str(empty))
    with pytest.raises(MissingResourceError, match=r"lacks data\.verb, data\.adj"):
        _wordnet.ensure_wordnet()
    assert not (data_dir / "nltk_data" / "corpora" / "wordnet").exists()


@needs_wordnet
def test_source_folder_from_environment(data_dir, monkeypatch, tmp_path):
    other = tmp_path / "other-data"
    monkeypatch.setenv("DATAPERF_DATA_DIR", str(other))
    source = _wordnet.ensure_wordnet()  # a complete dict folder that has a lexnames file
    (source / "lexnames").write_text("the source's own lexnames\n")
    monkeypatch.setenv("DATAPERF_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATAPERF_WORDNET_DIR", str(source))
    folder = _wordnet.ensure_wordnet()
    assert folder != source
    assert filecmp.cmp(folder / "lexnames", source / "lexnames", shallow=False)


@needs_wordnet
def test_use_nltk_data_is_idempotent_and_leaves_environ(data_dir, monkeypatch):
    import nltk.data

    monkeypatch.setattr(nltk.data, "path", list(nltk.data.path))
    environ = dict(os.environ)
    root = _wordnet.use_nltk_data()
    _wordnet.use_nltk_data()
    assert root == data_dir / "nltk_data"
    assert nltk.data.path[0] == str(root)
    assert nltk.data.path.count(str(root)) == 1
    assert dict(os.environ) == environ
    found = nltk.data.find("corpora/stopwords/english")
    assert str(found).startswith(str(root))
    assert str(nltk.data.find("corpora/wordnet")).startswith(str(root))


@needs_wordnet
def test_wordnet_reader_is_cached_and_real(data_dir):
    wn = _wordnet.wordnet()
    assert _wordnet.wordnet() is wn
    dog = wn.synset("dog.n.01")
    assert "domestic_dog" in dog.lemma_names()
    assert dog.lexname() == "noun.animal"  # read from our lexnames table
    assert wn.synset("run.v.01").lexname() == "verb.motion"
    assert "car" in wn.synset("automobile.n.01").lemma_names()


@needs_wordnet
def test_wordnet_sentences_real_and_deterministic():
    first = _wordnet.wordnet_sentences(50, seed=3)
    assert first == _wordnet.wordnet_sentences(50, seed=3)
    assert first != _wordnet.wordnet_sentences(50, seed=4)
    assert len(first) == 50 == len(set(first))
    for sentence in first:
        assert 6 <= len(sentence.split()) <= 30
        assert sentence[0] == sentence[0].upper() and sentence[-1] in ".!?"
        assert '"' not in sentence and " | " not in sentence
    everything = _wordnet.wordnet_sentences()
    assert len(everything) > 50_000 and len(set(everything)) == len(everything)
    assert "I can breathe better when the air is clean." in everything  # example of breathe.v.01
    assert "An entity that has physical existence." in _wordnet.wordnet_sentences(min_words=3)


@needs_wordnet
def test_wordnet_sentences_bounds():
    short = _wordnet.wordnet_sentences(100, seed=0, min_words=2, max_words=4)
    assert len(short) == 100
    assert all(2 <= len(s.split()) <= 4 for s in short)
    assert _wordnet.wordnet_sentences(0) == []


def test_wordnet_sentences_bad_arguments():
    with pytest.raises(ValueError, match="min_words must be <= max_words; got min_words=9"):
        _wordnet.wordnet_sentences(5, min_words=9, max_words=3)
    with pytest.raises(
        ValueError, match=r"n must be a non-negative int \(>= 0\) or None \(all of them\); got -1"
    ):
        _wordnet.wordnet_sentences(-1)
