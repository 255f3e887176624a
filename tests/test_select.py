"""Tests for dataperf.select: exactness against brute force, tie rules, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dataperf import _kcenter, select
from dataperf.select import (
    SELECTORS,
    badge,
    get_selector,
    kcenter_greedy,
    kmeans_pp,
    lazy_greedy,
    top_k,
)


def brute_kcenter(x, k, reference=None, weights=None):
    """Straightforward float64 greedy k-center: one full distance update per pick."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    dmin = np.full(n, np.inf)
    picked = []
    if reference is not None and len(reference):
        for r in np.asarray(reference, dtype=np.float64):
            dmin = np.minimum(dmin, np.sqrt(((x - r) ** 2).sum(1)))
    else:
        picked.append(int(np.argmax(w)))
        dmin = np.minimum(dmin, np.sqrt(((x - x[picked[0]]) ** 2).sum(1)))
    while len(picked) < k:
        s = w * dmin
        s[picked] = -1.0
        i = int(np.argmax(s))  # first maximum: lowest index
        picked.append(i)
        dmin = np.minimum(dmin, np.sqrt(((x - x[i]) ** 2).sum(1)))
    return np.asarray(picked)


def random_case(seed, n, d, use_ref, use_w):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 10) + rng.normal(size=d) * 5
    ref = rng.normal(size=(int(rng.integers(1, 20)), d)) * 3 if use_ref else None
    w = rng.uniform(0, 3, size=n) if use_w else None
    return x, ref, w


# ------------------------------------------------------------------------------ kcenter_greedy


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("use_ref", [False, True])
@pytest.mark.parametrize("use_w", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_kcenter_matches_float64_brute_force(seed, use_ref, use_w, dtype):
    x, ref, w = random_case(seed, 150, 6, use_ref, use_w)
    got = kcenter_greedy(x, 60, reference=ref, weights=w, device="cpu", dtype=dtype)
    assert got.dtype == np.int64 and got.shape == (60,)
    np.testing.assert_array_equal(got, brute_kcenter(x, 60, ref, w))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 40),
    d=st.integers(1, 9),
    frac=st.floats(0.0, 1.0),
    use_ref=st.booleans(),
    use_w=st.booleans(),
)
def test_kcenter_matches_brute_force_property(seed, n, d, frac, use_ref, use_w):
    x, ref, w = random_case(seed, n, d, use_ref, use_w)
    k = max(1, round(frac * n))
    want = brute_kcenter(x, k, ref, w)
    got = kcenter_greedy(x, k, reference=ref, weights=w, device="cpu")
    np.testing.assert_array_equal(got, want)
    assert len(set(got.tolist())) == k


def test_kcenter_large_pool_against_brute_force():
    # Enough points and centres that the lazy heap refreshes in batches.
    x, ref, _ = random_case(7, 3000, 16, True, False)
    got = kcenter_greedy(x, 200, reference=ref, device="cpu")
    np.testing.assert_array_equal(got, brute_kcenter(x, 200, ref))
    got = kcenter_greedy(x, 200, device="cpu")
    np.testing.assert_array_equal(got, brute_kcenter(x, 200))


def test_kcenter_low_dimensional_fallback_is_exact(monkeypatch):
    # In 2-D many points go stale at each step, so the lazy heap hands over to full updates.
    # float64: with 3000 points in the unit square, scores closer than float32 rounding occur.
    calls = []
    real = _kcenter._eager_finish
    monkeypatch.setattr(_kcenter, "_eager_finish", lambda *a: calls.append(1) or real(*a))
    x = np.random.default_rng(2).uniform(size=(3000, 2))
    w = np.random.default_rng(3).uniform(0.5, 1.0, size=3000)
    got = kcenter_greedy(x, 300, device="cpu", dtype="float64")
    np.testing.assert_array_equal(got, brute_kcenter(x, 300))
    got = kcenter_greedy(x, 300, weights=w, device="cpu", dtype="float64")
    np.testing.assert_array_equal(got, brute_kcenter(x, 300, weights=w))
    assert len(calls) == 2


def test_kcenter_planted_tie_goes_to_lowest_index():
    # After index 0, indices 1 and 3 are both at distance 3: 1 wins; then 3 (distance 3) beats 2.
    x = np.array([[0.0, 0.0], [3.0, 0.0], [1.0, 0.0], [-3.0, 0.0]])
    np.testing.assert_array_equal(kcenter_greedy(x, 4, device="cpu"), [0, 1, 3, 2])
    # Symmetric cross: every later step is a tie at distance 1.
    cross = np.array([[0, 0], [0, -1], [1, 0], [-1, 0], [0, 1]], dtype=np.float32)
    np.testing.assert_array_equal(kcenter_greedy(cross, 5, device="cpu"), [0, 1, 2, 3, 4])
    # Tie against a reference point.
    ref = np.array([[0.0, 0.0]])
    pts = np.array([[0.0, 1.0], [0.0, 2.0], [2.0, 0.0]])
    np.testing.assert_array_equal(kcenter_greedy(pts, 2, reference=ref, device="cpu"), [1, 2])


def test_kcenter_first_pick_rules():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 3))
    assert kcenter_greedy(x, 1, device="cpu")[0] == 0
    w = np.array([0, 1, 5, 0, 5, 0, 0, 0, 0, 0], dtype=float)
    assert kcenter_greedy(x, 1, weights=w, device="cpu")[0] == 2  # largest weight, lowest index
    ref = x[:1] + 0.01
    far = int(np.argmax(np.linalg.norm(x - ref, axis=1)))
    assert kcenter_greedy(x, 1, reference=ref, device="cpu")[0] == far
    # An empty reference set is the same as none.
    empty = np.zeros((0, 3))
    np.testing.assert_array_equal(
        kcenter_greedy(x, 4, reference=empty, device="cpu"), kcenter_greedy(x, 4, device="cpu")
    )


def test_kcenter_never_repeats_even_with_zero_scores():
    x = np.repeat(np.arange(4.0)[:, None], 3, axis=0)  # every row three times
    got = kcenter_greedy(x, 12, device="cpu")
    assert sorted(got.tolist()) == list(range(12))
    np.testing.assert_array_equal(got[:4], [0, 9, 3, 6])  # 0, farthest (3.0), then 1.0 / 2.0
    got = kcenter_greedy(np.random.default_rng(1).normal(size=(6, 2)), 6, weights=np.zeros(6))
    np.testing.assert_array_equal(got, np.arange(6))


def test_kcenter_deterministic_and_accepts_tensors():
    x, ref, w = random_case(3, 500, 8, True, True)
    a = kcenter_greedy(x, 50, reference=ref, weights=w, device="cpu")
    b = kcenter_greedy(
        torch.from_numpy(x).float(),
        50,
        reference=torch.from_numpy(ref),
        weights=torch.from_numpy(w),
        device="cpu",
    )
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, kcenter_greedy(x, 50, reference=ref, weights=w))


def test_kcenter_restores_thread_count():
    before = torch.get_num_threads()
    kcenter_greedy(np.random.default_rng(0).normal(size=(50, 3)), 5, device="cpu")
    assert torch.get_num_threads() == before


def test_kcenter_no_quadratic_memory():
    # N x N float32 would be 360 GB; this must run in well under a second of memory.
    x = np.random.default_rng(0).normal(size=(300_000, 2)).astype(np.float32)
    got = kcenter_greedy(x, 3, device="cpu")
    assert len(set(got.tolist())) == 3
    assert len(set(kmeans_pp(x, 3).tolist())) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_kcenter_cpu_and_cuda_agree():
    x, ref, w = random_case(5, 2000, 32, True, True)
    np.testing.assert_array_equal(
        kcenter_greedy(x, 100, reference=ref, weights=w, device="cpu"),
        kcenter_greedy(x, 100, reference=ref, weights=w, device="cuda"),
    )


# ------------------------------------------------------------------------------ kmeans_pp


def clusters(n_per=30, centres=6, seed=0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(centres, 4)) * 1000
    lab = np.repeat(np.arange(centres), n_per)
    return mu[lab] + rng.normal(size=(len(lab), 4)), lab


def test_kmeans_pp_deterministic_distinct_and_spread():
    x, lab = clusters()
    a = kmeans_pp(x, 6, seed=3)
    np.testing.assert_array_equal(a, kmeans_pp(x, 6, seed=3))
    assert a.dtype == np.int64 and len(set(a.tolist())) == 6
    for seed in range(5):
        assert len(set(lab[kmeans_pp(x, 6, seed=seed)].tolist())) == 6  # one per cluster
    assert not all(np.array_equal(a, kmeans_pp(x, 6, seed=s)) for s in range(1, 5))


def test_kmeans_pp_weights_and_exhaustion():
    x, lab = clusters()
    w = (lab != 2).astype(float)  # cluster 2 weighted out
    for seed in range(5):
        assert 2 not in lab[kmeans_pp(x, 5, weights=w, seed=seed)]
    dup = np.zeros((5, 3))  # all distances 0: still k distinct picks
    assert sorted(kmeans_pp(dup, 5).tolist()) == list(range(5))


def test_badge_is_kmeans_pp():
    x, _ = clusters()
    np.testing.assert_array_equal(badge(x, 4, seed=1), kmeans_pp(x, 4, seed=1))


# ------------------------------------------------------------------------------ top_k, random


def test_top_k_order_and_ties():
    s = np.array([0.5, 0.9, 0.5, 0.9, 0.1])
    np.testing.assert_array_equal(top_k(s, 4), [1, 3, 0, 2])
    assert top_k(s, 1).dtype == np.int64
    np.testing.assert_array_equal(top_k([3, 1, 2], 3), [0, 2, 1])


def _shrinking_value(x, base, radius):
    """value_i(picks) = base_i * min(1, distance to the nearest pick / radius): only goes down."""

    def value(i, picks):
        if not picks:
            return float(base[i])
        dist = np.sqrt(((x[picks] - x[i]) ** 2).sum(axis=1)).min()
        return float(base[i] * min(1.0, dist / radius))

    return value


@pytest.mark.parametrize(("batch", "max_batch"), [(1, None), (3, None), (2, 64)])
@pytest.mark.parametrize("seed", range(3))
def test_lazy_greedy_equals_the_plain_greedy(seed, batch, max_batch):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(150, 3))
    base = np.round(rng.random(150), 1)  # many ties: the lowest index must win
    value = _shrinking_value(x, base, 1.5)
    exclude = [0, 7]
    want: list[int] = []
    for _ in range(40):
        scores = [-np.inf if i in want or i in exclude else value(i, want) for i in range(150)]
        want.append(int(np.argmax(scores)))  # first maximum: lowest index
    got: list[int] = []
    seen_since = []

    def refresh(stale, since):
        seen_since.extend((since < len(got)).tolist())  # only stale values are refreshed
        return [value(i, got) for i in stale]

    picks = lazy_greedy(
        [value(i, []) for i in range(150)],
        40,
        refresh,
        on_pick=lambda i, refreshed: got.append(i),
        exclude=exclude,
        batch=batch,
        max_batch=max_batch,
    )
    assert picks == want == got and all(seen_since)


def test_lazy_greedy_stops_when_asked_and_checks_k():
    picks = lazy_greedy(
        [3.0, 2.0, 1.0], 3, lambda s, since: [0.0] * len(s), on_pick=lambda i, r: i == 1
    )
    assert picks == [0, 1]
    assert lazy_greedy([1.0, 1.0], 0, lambda s, since: []) == []
    with pytest.raises(ValueError, match=r"k must be in \[0, 1\]"):
        lazy_greedy([1.0, 1.0], 2, lambda s, since: [], exclude=[1])


def test_random_distinct_deterministic():
    a = select.random(100, 30, seed=4)
    assert a.dtype == np.int64 and len(set(a.tolist())) == 30 and a.min() >= 0 and a.max() < 100
    np.testing.assert_array_equal(a, select.random(100, 30, seed=4))
    assert not np.array_equal(a, select.random(100, 30, seed=5))


def test_selectors_by_name():
    assert get_selector("kcenter_greedy") is kcenter_greedy
    assert set(SELECTORS) == {"top_k", "random", "kcenter_greedy", "kmeans_pp", "badge"}
    with pytest.raises(ValueError, match=r"selector name must be one of \['badge',.*got 'kcentre'"):
        get_selector("kcentre")


# ------------------------------------------------------------------------------ bad input

X = np.random.default_rng(0).normal(size=(100, 3))


@pytest.mark.parametrize(
    "call, err, match",
    [
        (
            lambda: kcenter_greedy(X, 120),
            ValueError,
            r"k must be between 1 and the number of pool items \(100\); got 120",
        ),
        (lambda: kmeans_pp(X, 120), ValueError, r"got 120. Pass a k in that range \(at most 100\)"),
        (lambda: top_k(np.ones(100), 120), ValueError, r"\(at most 100\)"),
        (lambda: select.random(100, 120), ValueError, r"\(at most 100\)"),
        (
            lambda: kcenter_greedy(X, 0),
            ValueError,
            r"k must be between 1 and the number of pool items \(100\); got 0",
        ),
        (lambda: kcenter_greedy(X, 2.5), TypeError, "k must be an int; got float"),
        (lambda: kcenter_greedy(X, True), TypeError, "k must be an int"),
        (
            lambda: kcenter_greedy(np.zeros((0, 3)), 1),
            ValueError,
            r"there are no pool items \(N=0\)",
        ),
        (lambda: kmeans_pp(np.zeros((0, 3)), 1), ValueError, "no pool items"),
        (lambda: kcenter_greedy(X[:, 0], 2), ValueError, r"shape \(N, D\); got shape \(100,\)"),
        (lambda: kcenter_greedy(np.full((4, 2), np.nan), 2), ValueError, "must be finite"),
        (lambda: kcenter_greedy([["a", "b"]], 1), TypeError, "real float array"),
        (
            lambda: kcenter_greedy(X, 2, reference=np.zeros((5, 4))),
            ValueError,
            r"same number of columns as embeddings \(D=3\); got shape \(5, 4\)",
        ),
        (lambda: kcenter_greedy(X, 2, reference=[[np.inf] * 3]), ValueError, "reference must be"),
        (lambda: kcenter_greedy(X, 2, weights=np.ones(99)), ValueError, r"\(N,\) == \(100,\)"),
        (lambda: kcenter_greedy(X, 2, weights=-np.ones(100)), ValueError, "weights must be >= 0"),
        (
            lambda: kmeans_pp(X, 2, weights=np.full(100, np.nan)),
            ValueError,
            "weights must be finite",
        ),
        (lambda: kcenter_greedy(X, 2, dtype="float16"), ValueError, "dtype must be"),
        (lambda: top_k([1.0, np.nan], 1), ValueError, "must not contain NaN"),
        (lambda: top_k(np.ones((2, 2)), 1), ValueError, r"scores must have shape \(N,\)"),
    ],
)
def test_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_kcenter_on_a_memory_map_equals_in_memory(tmp_path):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3000, 16), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    ref = rng.standard_normal((50, 16), dtype=np.float32)
    np.testing.assert_array_equal(
        kcenter_greedy(mapped, 40, reference=ref, device="cpu"),
        kcenter_greedy(x, 40, reference=ref, device="cpu"),
    )
