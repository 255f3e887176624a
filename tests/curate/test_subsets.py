"""Subset selection: exact greedy facility location, per-class budgets, determinism, scale."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from dataperf.curate.subsets import (
    METHODS,
    el2n,
    facility_location,
    knn_similarity_graph,
    select_subset,
)
from dataperf.select import kcenter_greedy
from dataperf.signals import Signals


def _signals(n: int = 300, d: int = 6, k: int = 4, seed: int = 0, labels=None) -> Signals:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    if labels is None:
        labels = rng.integers(0, k, size=n)
    return Signals(probs=probs, embeddings=rng.normal(size=(n, d)), labels=labels)


def _brute_force_greedy(x: np.ndarray, neighbors: int, k: int) -> list[int]:
    """Plain greedy on the dense matrix of the same sparse graph, ties to the lowest index."""
    idx, sims = knn_similarity_graph(x, neighbors)
    n = len(x)
    dense = np.zeros((n, n))
    dense[np.repeat(np.arange(n), idx.shape[1]), idx.ravel()] = sims.ravel()
    cur = np.zeros(n)
    picked: list[int] = []
    for _ in range(k):
        gains = np.maximum(dense - cur[:, None], 0.0).sum(0)
        gains[picked] = -np.inf
        j = int(np.argmax(gains))
        picked.append(j)
        cur = np.maximum(cur, dense[:, j])
    return picked


def _objective(x: np.ndarray, neighbors: int, subset: np.ndarray) -> float:
    idx, sims = knn_similarity_graph(x, neighbors)
    chosen = np.isin(idx, subset)
    return float(np.where(chosen, sims, 0.0).max(1).sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_facility_location_equals_brute_force_greedy(seed: int) -> None:
    signals = _signals(n=80, d=5, seed=seed)
    got = select_subset(signals, 80, neighbors=6)  # all the way: includes the zero-gain tail
    want = _brute_force_greedy(signals.embeddings, 6, 80)
    assert got.dtype == np.int64
    assert got.tolist() == want
    assert sorted(got.tolist()) == list(range(80))


def test_facility_location_ties_go_to_lowest_index() -> None:
    # two identical tight groups: symmetric gains, the lower index must win each tie
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 3)) * 0.01 + np.array([1.0, 0.0, 0.0])
    x = np.vstack([base, base])
    signals = Signals(probs=np.full((10, 2), 0.5), embeddings=x)
    got = select_subset(signals, 10, neighbors=9)
    assert got.tolist() == _brute_force_greedy(x, 9, 10)


def test_facility_location_covers_better_than_random() -> None:
    signals = _signals(n=400, d=4, seed=3)
    fl = select_subset(signals, 30)
    rnd = select_subset(signals, 30, method="random")
    x = signals.embeddings
    assert _objective(x, 10, fl) > _objective(x, 10, rnd)


def test_other_methods() -> None:
    signals = _signals()
    assert np.array_equal(
        select_subset(signals, 12, method="kcenter", device="cpu"),
        kcenter_greedy(signals.embeddings, 12, device="cpu"),
    )
    hardest = select_subset(signals, 12, method="el2n")
    scores = np.linalg.norm(signals.probs - np.eye(4)[signals.labels], axis=1)
    assert np.allclose(el2n(signals.probs, signals.labels), scores)
    assert np.array_equal(hardest, np.argsort(-scores, kind="stable")[:12])
    assert set(METHODS) == {"facility_location", "kcenter", "el2n", "random"}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_per_class_proportions(method: str) -> None:
    labels = np.repeat(np.arange(4), [100, 60, 30, 10])
    signals = _signals(n=200, labels=labels, seed=4)
    got = select_subset(signals, 40, method=method, per_class=True, device="cpu")
    assert len(np.unique(got)) == 40
    assert np.bincount(labels[got], minlength=4).tolist() == [20, 12, 6, 2]


def test_per_class_rounding_and_minimum_one() -> None:
    labels = np.repeat(np.arange(4), [97, 1, 1, 1])
    signals = _signals(n=100, labels=labels, seed=5)
    got = select_subset(signals, 10, method="random", per_class=True)
    assert np.bincount(labels[got], minlength=4).tolist() == [7, 1, 1, 1]
    # fewer slots than classes: largest classes first
    got = select_subset(signals, 2, method="random", per_class=True)
    assert len(got) == 2
    # largest remainder: 10 * [5, 3, 2] / 10 exactly; 7 * [5, 3, 2] / 10 = 3.5, 2.1, 1.4
    labels = np.repeat(np.arange(3), [50, 30, 20])
    signals = _signals(n=100, k=3, labels=labels, seed=6)
    got = select_subset(signals, 7, method="random", per_class=True)
    assert np.bincount(labels[got], minlength=3).tolist() == [4, 2, 1]
    # absent classes get nothing
    labels = np.repeat([0, 2], [30, 10])
    signals = _signals(n=40, k=3, labels=labels, seed=7)
    got = select_subset(signals, 8, method="facility_location", per_class=True)
    assert np.bincount(labels[got], minlength=3).tolist() == [6, 0, 2]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_deterministic(method: str) -> None:
    signals = _signals(seed=8)
    a = select_subset(signals, 25, method=method, seed=3, device="cpu")
    b = select_subset(signals, 25, method=method, seed=3, device="cpu")
    assert np.array_equal(a, b)
    assert len(np.unique(a)) == 25
    c = select_subset(signals, 25, method=method, seed=3, per_class=True, device="cpu")
    assert np.array_equal(
        c, select_subset(signals, 25, method=method, seed=3, per_class=True, device="cpu")
    )


def test_random_seed_matters() -> None:
    signals = _signals(seed=9)
    a = select_subset(signals, 25, method="random", seed=0)
    b = select_subset(signals, 25, method="random", seed=1)
    assert not np.array_equal(a, b)


def test_facility_location_memory_is_sparse() -> None:
    # an N x N float64 matrix would be 512 MB; the sparse graph and the kNN chunks
    # (about 64 MB) are far less
    n = 8000
    signals = _signals(n=n, d=8, seed=10)
    tracemalloc.start()
    try:
        got = select_subset(signals, 50, neighbors=5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(np.unique(got)) == 50
    assert peak < n * n * 8 / 4


def test_facility_location_greedy_scales_to_large_graphs() -> None:
    # the greedy itself on N = 200k items with 10 neighbours each: O(N * neighbors) memory
    n = 200_000
    rng = np.random.default_rng(12)
    idx = np.hstack([np.arange(n)[:, None], rng.integers(0, n, size=(n, 10))])
    sims = np.hstack([np.ones((n, 1)), rng.random((n, 10))])
    tracemalloc.start()
    try:
        got = facility_location(idx, sims, 200)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(np.unique(got)) == 200
    assert peak < 200 * 2**20


def test_large_pool_runs_without_n_by_n() -> None:
    n = 200_000
    rng = np.random.default_rng(11)
    probs = np.full((n, 2), 0.5)
    probs[:, 0] = rng.random(n)
    probs[:, 1] = 1 - probs[:, 0]
    signals = Signals(
        probs=probs,
        embeddings=rng.normal(size=(n, 8)).astype(np.float32),
        labels=rng.integers(0, 2, size=n),
    )
    tracemalloc.start()
    try:
        for method in ("kcenter", "el2n", "random"):
            got = select_subset(signals, 20, method=method, device="cpu")
            assert len(np.unique(got)) == 20
        got = select_subset(signals, 20, method="el2n", per_class=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(np.unique(got)) == 20
    assert peak < 500 * 2**20


def test_bad_inputs() -> None:
    signals = _signals(n=50)
    with pytest.raises(ValueError, match="between 1 and the number of items"):
        select_subset(signals, 51)
    with pytest.raises(ValueError, match="between 1"):
        select_subset(signals, 0)
    with pytest.raises(TypeError, match="k must be an int"):
        select_subset(signals, 2.5)
    with pytest.raises(ValueError, match="'el2n', 'facility_location', 'kcenter', 'random'"):
        select_subset(signals, 5, method="craig")
    unlabelled = Signals(probs=signals.probs, embeddings=signals.embeddings)
    with pytest.raises(ValueError, match="labels"):
        select_subset(unlabelled, 5, method="el2n")
    with pytest.raises(ValueError, match="labels"):
        select_subset(unlabelled, 5, method="random", per_class=True)
    no_emb = Signals(probs=signals.probs, labels=signals.labels)
    with pytest.raises(ValueError, match="embeddings"):
        select_subset(no_emb, 5, method="facility_location")
    with pytest.raises(ValueError, match="embeddings"):
        select_subset(no_emb, 5, method="kcenter")
    with pytest.raises(ValueError, match="neighbors"):
        select_subset(signals, 5, neighbors=0)
    with pytest.raises(TypeError, match="Signals"):
        select_subset(signals.embeddings, 5)
