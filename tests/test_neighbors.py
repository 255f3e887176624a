"""The one neighbour search: exact equals brute force (ties included), approximate recall."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from dataperf import neighbors
from dataperf.neighbors import NeighborIndex, nearest_neighbors, recall_at_k


def brute_force(x, r, k, metric="euclidean", exclude_self=False):
    """Float64 distances from differences, ordered by (distance, index)."""
    x, r = np.asarray(x, dtype=np.float64), np.asarray(r, dtype=np.float64)
    if metric == "cosine":
        x = x / np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
        r = r / np.sqrt(np.einsum("ij,ij->i", r, r))[:, None]
    diff = r[None, :, :] - x[:, None, :]
    d = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    if exclude_self:
        d[np.arange(len(x)), np.arange(len(x))] = np.inf
    order = np.lexsort((np.broadcast_to(np.arange(len(r)), d.shape), d), axis=1)[:, :k]
    dist = np.take_along_axis(d, order, 1)
    return (dist**2 / 2 if metric == "cosine" else dist), order


def tied_data(n, m, d, seed):
    """Small integer coordinates: many exactly equal distances."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, (n, d)).astype(np.float64)
    r = rng.integers(-2, 3, (m, d)).astype(np.float64)
    x[~x.any(axis=1), 0] = 1.0  # no zero rows (cosine)
    r[~r.any(axis=1), 0] = 1.0
    return x, r


@pytest.mark.parametrize("d", [3, 24])  # k-d tree candidates / float32 torch candidates
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("exclude_self", [False, True])
def test_exact_equals_brute_force_with_ties(d, metric, exclude_self):
    x, r = tied_data(150, 400, d, seed=d)
    if exclude_self:
        r = x
    for k in (1, 7, 40):
        want_d, want_i = brute_force(x, r, k, metric, exclude_self)
        got_d, got_i = nearest_neighbors(
            x, r, k, metric=metric, exclude_self=exclude_self, search="exact", device="cpu"
        )
        np.testing.assert_array_equal(got_i, want_i)
        np.testing.assert_allclose(got_d, want_d, rtol=1e-12, atol=1e-15)


def test_ties_beyond_the_candidate_list_fall_back_to_an_exact_scan(monkeypatch):
    # 60 copies of one point: far more ties at the k-th distance than candidates re-ranked
    rng = np.random.default_rng(0)
    r = np.vstack([rng.normal(size=(40, 32)), np.ones((60, 32)), rng.normal(size=(40, 32))])
    x = np.ones((3, 32)) + 1e-3
    calls = []
    real = NeighborIndex._brute

    def spy(self, q, k, own):
        calls.append(len(q))
        return real(self, q, k, own)

    monkeypatch.setattr(NeighborIndex, "_brute", spy)
    got_d, got_i = nearest_neighbors(x, r, 5, search="exact", device="cpu")
    want_d, want_i = brute_force(x, r, 5)
    assert calls == [3]
    np.testing.assert_array_equal(got_i, want_i)  # the lowest indices of the tied copies
    np.testing.assert_array_equal(got_i[0], np.arange(40, 45))
    np.testing.assert_allclose(got_d, want_d, rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-25, 1.0, 1e25])
def test_no_overflow_or_underflow_at_extreme_magnitudes(scale):
    rng = np.random.default_rng(1)
    r = rng.normal(size=(300, 20)) * scale
    x = r[:50] + rng.normal(size=(50, 20)) * scale * 1e-3  # near-copies
    want_d, want_i = brute_force(x, r, 4)
    got_d, got_i = nearest_neighbors(x, r, 4, search="exact", device="cpu")
    np.testing.assert_array_equal(got_i, want_i)
    np.testing.assert_allclose(got_d, want_d, rtol=1e-12)


def test_far_from_origin_near_duplicates_are_exact():
    rng = np.random.default_rng(2)
    r = 1e4 + rng.normal(size=(200, 40))
    x = r[:20] + 1e-6
    got_d, got_i = nearest_neighbors(x, r, 1, search="exact", device="cpu")
    np.testing.assert_array_equal(got_i[:, 0], np.arange(20))
    np.testing.assert_allclose(got_d[:, 0], np.sqrt(40) * 1e-6, rtol=1e-6)


def test_memory_mapped_and_float16_inputs_give_the_same_result(tmp_path):
    rng = np.random.default_rng(3)
    r = rng.normal(size=(500, 24)).astype(np.float16)
    x = rng.normal(size=(80, 24)).astype(np.float16)
    path = tmp_path / "ref.npy"
    np.save(path, r)
    mapped = np.load(path, mmap_mode="r")
    want = nearest_neighbors(x, r.astype(np.float64), 6, metric="cosine", search="exact")
    got = nearest_neighbors(x, mapped, 6, metric="cosine", search="exact", device="cpu")
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[0], want[0])


def test_chunking_does_not_change_the_result(monkeypatch):
    x, r = tied_data(120, 700, 24, seed=4)
    want = nearest_neighbors(x, r, 9, search="exact", device="cpu")
    monkeypatch.setattr(neighbors, "BLOCK_BYTES", 4096)  # many tiny blocks of both sets
    for bs in (None, 1, 7):
        got = nearest_neighbors(x, r, 9, search="exact", device="cpu", batch_size=bs)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[0], want[0])


def test_index_reused_across_queries_and_inputs_untouched():
    x, r = tied_data(60, 300, 24, seed=5)
    r_before, x_before = r.copy(), x.copy()
    index = NeighborIndex(r, metric="cosine", search="exact", device="cpu")
    a = index.query(x, 3)
    b = index.query(x[::-1], 3)
    np.testing.assert_array_equal(a[1][::-1], b[1])
    np.testing.assert_array_equal(r, r_before)  # float64 inputs are never scaled in place
    np.testing.assert_array_equal(x, x_before)
    chord, _ = index.query(x, 3, chord=True)
    np.testing.assert_allclose(chord**2 / 2, a[0], rtol=1e-12)


def clustered(n, d, clusters, seed):
    """Draws around cluster centres that depend on (clusters, d) only, not on ``seed``."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng([clusters, d]).normal(size=(clusters, d)) * 4
    return (centres[rng.integers(0, clusters, n)] + rng.normal(size=(n, d))).astype(np.float32)


#: Recall floor of the approximate search on clustered data.
RECALL_FLOOR = 0.95  # measured 0.999 on this data


def test_approximate_recall_on_clustered_data():
    pytest.importorskip("faiss", reason="search='approximate' needs faiss-cpu")
    r = clustered(30_000, 96, 60, seed=6)
    x = clustered(2_000, 96, 60, seed=7)
    recall = recall_at_k(x, r, 10, metric="cosine", sample=500)
    assert recall >= RECALL_FLOOR
    dist, idx = nearest_neighbors(x[:300], r, 10, metric="cosine", search="approximate")
    assert (np.diff(dist, axis=1) >= 0).all()
    # every returned distance is the exact one of that pair
    unit = lambda a: a / np.sqrt(np.einsum("ij,ij->i", a, a))[:, None]  # noqa: E731
    q, rows = unit(x[:300].astype(np.float64)), unit(r[idx.ravel()].astype(np.float64))
    diff = rows.reshape(300, 10, -1) - q[:, None, :]
    np.testing.assert_allclose(dist, np.einsum("ijk,ijk->ij", diff, diff) / 2, rtol=1e-12)
    _, own = nearest_neighbors(r[:3000], r[:3000], 5, search="approximate", exclude_self=True)
    assert not (own == np.arange(3000)[:, None]).any()


def test_auto_picks_by_size_and_warns_without_faiss(monkeypatch):
    small = NeighborIndex(np.zeros((1000, 8)) + 1, search="auto", device="cpu")
    assert small.method_for(1000) == "exact"
    big = NeighborIndex(np.ones((100_000, 512), dtype=np.float32), search="auto", device="cpu")
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
    with pytest.warns(UserWarning, match="faiss is not installed"):
        assert big.method_for(100_000) == "exact"
    assert NeighborIndex(np.ones((10, 2)), search="approximate").method_for(10) == "approximate"


def test_missing_faiss_for_approximate_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"dataperf\[scale\]"):
        nearest_neighbors(np.ones((5, 3)), np.ones((50, 3)), 2, search="approximate")


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"search": "fast"}, ValueError, "search must be one of"),
        ({"metric": "manhattan"}, ValueError, "metric must be one of"),
        ({"device": "tpu"}, ValueError, "device must be"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive int"),
    ],
)
def test_bad_options(kwargs, err, match):
    with pytest.raises(err, match=match):
        nearest_neighbors(np.ones((4, 2)), np.ones((6, 2)), 2, **kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="all-zero row"):
        nearest_neighbors(np.ones((3, 2)), np.zeros((4, 2)), 1, metric="cosine", search="exact")
    with pytest.raises(ValueError, match="between 1 and the number of other points"):
        nearest_neighbors(np.ones((3, 2)), np.ones((3, 2)), 3, exclude_self=True)
    with pytest.raises(ValueError, match="same rows"):
        nearest_neighbors(np.ones((3, 2)), np.ones((4, 2)), 1, exclude_self=True)
    with pytest.raises(ValueError, match="reference must have D = 2"):
        nearest_neighbors(np.ones((3, 2)), np.ones((4, 3)), 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_exact_equals_cpu():
    x, r = tied_data(500, 5000, 64, seed=8)
    for metric in ("euclidean", "cosine"):
        cpu = nearest_neighbors(x, r, 10, metric=metric, search="exact", device="cpu")
        gpu = nearest_neighbors(x, r, 10, metric=metric, search="exact", device="cuda")
        np.testing.assert_array_equal(gpu[1], cpu[1])
        np.testing.assert_allclose(gpu[0], cpu[0], rtol=1e-12)
