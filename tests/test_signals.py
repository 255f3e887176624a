"""Signals: construction, validation, indexing, concatenation, files that never unpickle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dataperf.signals import Signals


def make(n: int = 6, k: int = 3, d: int = 4, t: int = 2, seed: int = 0, **kwargs) -> Signals:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    mc = rng.dirichlet(np.ones(k), size=(n, t))
    return Signals(
        probs=probs,
        embeddings=rng.normal(size=(n, d)),
        labels=rng.integers(0, k, n),
        mc_probs=mc,
        **kwargs,
    )


def assert_same(a: Signals, b: Signals) -> None:
    for name in ("probs", "embeddings", "labels", "mc_probs", "ids"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype.kind == y.dtype.kind and np.array_equal(x, y), name


def test_defaults_and_repr():
    s = Signals(probs=np.full((4, 2), 0.5))
    assert len(s) == 4 and s.num_classes == 2
    assert s.embeddings is None and s.labels is None and s.mc_probs is None
    assert s.ids.tolist() == [0, 1, 2, 3] and s.meta == {}
    assert repr(s) == "Signals(N=4, K=2, unlabelled)"
    assert repr(make()) == "Signals(N=6, K=3, D=4, T=2, labelled)"


def test_frozen():
    s = make()
    with pytest.raises(AttributeError):
        s.probs = None


def test_indexing_by_array_mask_and_slice():
    s = make(meta={"model": "m", "columns": {"group": np.array(list("aabbcc"))}})
    sub = s[np.array([4, 1])]
    assert sub.ids.tolist() == [4, 1] and np.array_equal(sub.probs, s.probs[[4, 1]])
    assert sub.meta["columns"]["group"].tolist() == ["c", "a"] and sub.meta["model"] == "m"
    assert s[s.labels == s.labels[0]].ids[0] == 0
    assert len(s[2:5]) == 3
    with pytest.raises(TypeError, match=r"signals\[\[3\]\]"):
        s[3]


def test_concat_round_trips_a_split():
    s = make(n=7, meta={"out_of_sample": True})
    parts = [s[np.arange(0, 3)], s[np.arange(3, 7)]]
    assert_same(Signals.concat(parts), s)
    assert Signals.concat(parts).meta["out_of_sample"] is True


def test_concat_rejects_mismatches():
    with pytest.raises(ValueError, match="embeddings is missing in part"):
        Signals.concat([make(), Signals(probs=make().probs)])
    with pytest.raises(ValueError, match="different shapes"):
        Signals.concat([make(k=3), make(k=4)])
    with pytest.raises(TypeError, match="non-empty sequence"):
        Signals.concat([])


def test_save_load_round_trip_with_string_ids_and_columns(tmp_path):
    s = make(
        ids=np.array(["img/a.png", "img/b.png", "c", "d", "e", "f"]),
        meta={"model": "resnet", "out_of_sample": False, "columns": {"w": np.arange(6.0)}},
    )
    folder = s.save(tmp_path / "signals")
    loaded = Signals.load(folder)
    assert_same(loaded, s)
    assert loaded.meta["model"] == "resnet" and loaded.meta["out_of_sample"] is False
    assert np.array_equal(loaded.meta["columns"]["w"], np.arange(6.0))
    header = json.loads((folder / "meta.json").read_text())
    assert header["format"] == "dataperf-signals" and header["version"] == 2
    for path in folder.glob("*.npy"):  # no object arrays
        assert np.load(path, allow_pickle=False).dtype.kind != "O"


def test_load_refuses_other_versions_and_missing_files(tmp_path):
    folder = make().save(tmp_path / "s")
    header = json.loads((folder / "meta.json").read_text())
    header["version"] = 99
    (folder / "meta.json").write_text(json.dumps(header))
    with pytest.raises(ValueError, match="format version 99"):
        Signals.load(folder)
    with pytest.raises(FileNotFoundError, match="not a saved Signals folder"):
        Signals.load(tmp_path / "nothing")


def test_meta_must_be_json_to_save(tmp_path):
    with pytest.raises(TypeError, match="JSON-serialisable"):
        make(meta={"bad": object()}).save(tmp_path / "x")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"probs": np.full((3, 2), 0.7)}, ValueError, "sum to 1"),
        ({"probs": np.array([0.5, 0.5])}, ValueError, "probs"),
        ({"probs": np.full((2, 2), 0.5), "embeddings": np.zeros((3, 4))}, ValueError, "one row"),
        ({"probs": np.full((2, 2), 0.5), "labels": [0, 2]}, ValueError, "labels"),
        ({"probs": np.full((2, 2), 0.5), "mc_probs": np.full((2, 3), 0.5)}, ValueError, "T, 2"),
        ({"probs": np.full((2, 2), 0.5), "ids": [1, 2, 3]}, ValueError, "ids must have shape"),
        ({"probs": np.full((2, 2), 0.5), "meta": [1]}, TypeError, "meta must be a dict"),
        (
            {"probs": np.full((2, 2), 0.5), "meta": {"columns": {"c": [1, 2, 3]}}},
            ValueError,
            "one value per item",
        ),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, error, match):
    with pytest.raises(error, match=match):
        Signals(**kwargs)
