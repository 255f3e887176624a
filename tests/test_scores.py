"""Tests for dataperf.scores: known values, invariants, brute-force kNN, planted cases, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist

from dataperf import neighbors
from dataperf.scores import (
    LOSS_FLOOR,
    SCORES,
    bald,
    density,
    entropy,
    expected_entropy,
    get_score,
    knn_label_agreement,
    least_confidence,
    loss,
    margin,
    nearest_neighbors,
    novelty,
    typicality,
)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def random_probs(rng: np.random.Generator, n: int = 20, k: int = 5) -> np.ndarray:
    return softmax(rng.normal(size=(n, k)) * 2)


# ---------------------------------------------------------------------------------------------
# probability scores: known values and bounds
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 10])
def test_uniform_rows_are_maximally_uncertain(k):
    p = np.full((3, k), 1.0 / k)
    np.testing.assert_allclose(entropy(p), np.log(k))
    np.testing.assert_allclose(margin(p), 1.0)
    np.testing.assert_allclose(least_confidence(p), 1.0 - 1.0 / k)


def test_one_hot_rows_are_certain():
    p = np.eye(4)[[0, 3, 1]]
    for fn in (entropy, margin, least_confidence):
        out = fn(p)
        assert out.shape == (3,) and out.dtype == np.float64
        np.testing.assert_array_equal(out, 0.0)


def test_hand_computed_values():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(
        entropy(p), [-(0.5 * np.log(0.5) + 0.3 * np.log(0.3) + 0.2 * np.log(0.2)), 0.639031859]
    )
    np.testing.assert_allclose(margin(p), [1 - 0.2, 1 - 0.7])
    np.testing.assert_allclose(least_confidence(p), [0.5, 0.2])
    np.testing.assert_allclose(loss(p, [0, 2]), [-np.log(0.5), -np.log(0.8)])


def test_accepts_lists_float32_and_tensors():
    import torch

    p = [[0.25, 0.75], [0.5, 0.5]]
    expected = entropy(np.array(p))
    np.testing.assert_allclose(entropy(np.array(p, dtype=np.float32)), expected, rtol=1e-6)
    np.testing.assert_allclose(entropy(torch.tensor(p)), expected, rtol=1e-6)
    np.testing.assert_allclose(entropy(p), expected)


def test_bounds_on_random_probs():
    rng = np.random.default_rng(0)
    p = random_probs(rng, 200, 7)
    assert np.all((entropy(p) >= 0) & (entropy(p) <= np.log(7) + 1e-12))
    assert np.all((margin(p) >= 0) & (margin(p) <= 1))
    assert np.all((least_confidence(p) >= 0) & (least_confidence(p) <= 1 - 1 / 7 + 1e-12))
    assert np.all(loss(p, rng.integers(0, 7, 200)) >= 0)


def test_loss_is_minus_log_of_label_prob_and_floored():
    rng = np.random.default_rng(1)
    p = random_probs(rng, 30, 4)
    y = rng.integers(0, 4, 30)
    np.testing.assert_allclose(loss(p, y), -np.log(p[np.arange(30), y]))
    out = loss(np.array([[1.0, 0.0]]), np.array([1]))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, -np.log(LOSS_FLOOR))


@settings(max_examples=25, deadline=None)
@given(
    logits=arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.integers(2, 6)),
        elements=st.floats(-10, 10),
    ),
    data=st.data(),
)
def test_scores_are_permutation_equivariant(logits, data):
    p = softmax(logits)
    perm = np.array(data.draw(st.permutations(range(len(p)))), dtype=np.int64)
    labels = np.arange(len(p)) % p.shape[1]
    for fn in SCORES.values():
        np.testing.assert_allclose(fn(p[perm]), fn(p)[perm], atol=1e-12)
    np.testing.assert_allclose(loss(p[perm], labels[perm]), loss(p, labels)[perm])
    # class permutation leaves the probs-only scores unchanged
    cls = np.array(data.draw(st.permutations(range(p.shape[1]))), dtype=np.int64)
    for fn in SCORES.values():
        np.testing.assert_allclose(fn(p[:, cls]), fn(p), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# MC scores
# ---------------------------------------------------------------------------------------------


def test_bald_zero_when_samples_identical():
    rng = np.random.default_rng(2)
    p = random_probs(rng, 10, 3)
    mc = np.repeat(p[:, None, :], 5, axis=1)
    np.testing.assert_allclose(bald(mc), 0.0, atol=1e-12)
    np.testing.assert_allclose(expected_entropy(mc), entropy(p))


def test_bald_positive_when_samples_disagree_with_same_mean():
    agree = np.full((1, 2, 2), 0.5)  # both samples uncertain
    disagree = np.array([[[0.9, 0.1], [0.1, 0.9]]])  # confident, contradicting samples
    np.testing.assert_allclose(agree.mean(1), disagree.mean(1))
    assert bald(agree)[0] == pytest.approx(0.0, abs=1e-12)
    assert bald(disagree)[0] > 0.3
    assert expected_entropy(disagree)[0] < expected_entropy(agree)[0]


def test_expected_entropy_plus_bald_is_total_entropy():
    rng = np.random.default_rng(3)
    mc = softmax(rng.normal(size=(40, 8, 6)) * 3)
    np.testing.assert_allclose(expected_entropy(mc) + bald(mc), entropy(mc.mean(axis=1)))
    assert np.all(bald(mc) >= 0)
    assert bald(mc).shape == (40,)


# ---------------------------------------------------------------------------------------------
# name-based choice
# ---------------------------------------------------------------------------------------------


def test_get_score_by_name():
    assert set(SCORES) == {"entropy", "margin", "least_confidence"}
    for name, fn in SCORES.items():
        assert get_score(name) is fn
    with pytest.raises(
        ValueError,
        match=r"score name must be one of \['entropy', 'least_confidence', 'margin'\]; got 'bald'",
    ):
        get_score("bald")
    with pytest.raises(TypeError, match="score name must be one of .* \\(a str\\); got int 3"):
        get_score(3)


# ---------------------------------------------------------------------------------------------
# nearest neighbours and embedding scores
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("batch_size", [None, 7, 1])
def test_nearest_neighbors_matches_brute_force(metric, batch_size):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(31, 6)).astype(np.float32)
    r = rng.normal(size=(17, 6))
    full = cdist(x.astype(np.float64), r, metric=metric)
    d, i = nearest_neighbors(x, r, 3, metric=metric, batch_size=batch_size)
    np.testing.assert_allclose(d, np.sort(full, axis=1)[:, :3], atol=1e-12)
    np.testing.assert_array_equal(i, np.argsort(full, axis=1, kind="stable")[:, :3])
    assert d.dtype == np.float64 and i.dtype == np.int64


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("batch_size", [None, 3, 11])
def test_novelty_matches_brute_force(metric, batch_size):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(29, 8))
    r = rng.normal(size=(13, 8)) + 0.5
    expected = cdist(x, r, metric=metric).min(axis=1)
    out = novelty(x, r, metric=metric, batch_size=batch_size)
    assert out.shape == (29,) and out.dtype == np.float64
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_novelty_is_accurate_for_near_duplicates_far_from_origin():
    # ||a||^2 + ||b||^2 - 2ab cancels catastrophically here; the exact recompute must not.
    rng = np.random.default_rng(6)
    r = 1e4 + rng.normal(size=(5, 4))
    x = r + 1e-6
    np.testing.assert_allclose(novelty(x, r), np.full(5, 2e-6), rtol=1e-6)
    np.testing.assert_array_equal(novelty(r, r), 0.0)


def test_nearest_neighbors_chunk_sizes_respect_memory_budget(monkeypatch):
    # shrink the budget so automatic sizing must split the queries into many chunks
    monkeypatch.setattr(neighbors, "BLOCK_BYTES", 8 * 200)
    rng = np.random.default_rng(7)
    x, r = rng.normal(size=(50, 3)), rng.normal(size=(60, 3))
    d, i = nearest_neighbors(x, r, 2)
    full = cdist(x, r)
    np.testing.assert_allclose(d, np.sort(full, axis=1)[:, :2], atol=1e-12)


def test_exclude_self_skips_own_row_only():
    x = np.array([[0.0], [0.0], [5.0]])
    d, i = nearest_neighbors(x, x, 1, exclude_self=True, batch_size=1)
    np.testing.assert_array_equal(i[:, 0], [1, 0, 0])  # the duplicate still counts
    np.testing.assert_allclose(d[:, 0], [0.0, 0.0, 5.0])
    # many exact duplicates: self may fall outside sklearn's k + 1 candidates
    dup = np.zeros((6, 2))
    d, i = nearest_neighbors(dup, dup, 2, exclude_self=True, batch_size=4)
    np.testing.assert_array_equal(d, 0.0)
    assert not (i == np.arange(6)[:, None]).any()
    assert all(len(set(row)) == 2 for row in i.tolist())


def test_density_higher_inside_cluster_than_for_outlier():
    rng = np.random.default_rng(8)
    cluster = rng.normal(size=(50, 4)) * 0.1
    pts = np.vstack([cluster, [[5.0, 5.0, 5.0, 5.0]]])
    dens = density(pts, k=5)
    assert dens.shape == (51,)
    assert np.all(dens <= 0)
    assert dens[-1] < dens[:-1].min()
    # against an explicit reference
    probe = np.array([[0.0, 0.0, 0.0, 0.0], [3.0, 3.0, 3.0, 3.0]])
    d2 = density(probe, cluster, k=5, batch_size=1)
    assert d2[0] > d2[1]
    brute = -np.sort(cdist(probe, cluster), axis=1)[:, :5].mean(axis=1)
    np.testing.assert_allclose(d2, brute, atol=1e-12)
    assert typicality is density


def test_density_self_excluded_matches_brute_force():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(20, 3))
    full = cdist(x, x)
    np.fill_diagonal(full, np.inf)
    expected = -np.sort(full, axis=1)[:, :4].mean(axis=1)
    np.testing.assert_allclose(density(x, k=4, batch_size=6), expected, atol=1e-12)


def test_knn_label_agreement_on_two_planted_clusters():
    rng = np.random.default_rng(10)
    ref = np.vstack([rng.normal(size=(30, 2)) * 0.2, rng.normal(size=(30, 2)) * 0.2 + 10])
    ref_y = np.repeat([0, 1], 30)
    queries = np.array([[0.0, 0.0], [0.0, 0.0], [10.0, 10.0], [10.0, 10.0]])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    out = knn_label_agreement(queries, ref, ref_y, k=5, probs=probs, batch_size=1)
    np.testing.assert_array_equal(out, [1.0, 0.0, 1.0, 0.0])
    # a point halfway between gets partial agreement, a multiple of 1/k
    mixed = knn_label_agreement(
        np.array([[5.0, 5.0]]), ref, ref_y, k=60, probs=np.array([[1.0, 0.0]])
    )
    np.testing.assert_allclose(mixed, 0.5)


def test_embedding_scores_are_permutation_equivariant():
    rng = np.random.default_rng(11)
    x, r = rng.normal(size=(25, 4)), rng.normal(size=(15, 4))
    probs, ry = random_probs(rng, 25, 3), rng.integers(0, 3, 15)
    perm = rng.permutation(25)
    np.testing.assert_allclose(novelty(x[perm], r), novelty(x, r)[perm])
    np.testing.assert_allclose(density(x[perm], r, k=3), density(x, r, k=3)[perm])
    np.testing.assert_allclose(density(x[perm], k=3), density(x, k=3)[perm])
    np.testing.assert_allclose(
        knn_label_agreement(x[perm], r, ry, k=3, probs=probs[perm]),
        knn_label_agreement(x, r, ry, k=3, probs=probs)[perm],
    )


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------

GOOD = np.array([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]])


@pytest.mark.parametrize(
    "probs,err,match",
    [
        (np.array([0.5, 0.5]), ValueError, r"probs must have shape \(N, K\); got 1-D"),
        (np.ones((2, 2, 2)) / 2, ValueError, r"probs must have shape \(N, K\); got 3-D"),
        (np.zeros((0, 3)), ValueError, "probs is empty"),
        (np.array([[np.nan, 1.0]]), ValueError, "probs must be finite; got nan at index"),
        (np.array([[2.0, -1.0]]), ValueError, r"must lie in \[0, 1\].*apply softmax"),
        (
            np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.9, 0.8]]),
            ValueError,
            r"probs rows must sum to 1 \(softmax outputs\); row 3 sums to 1.7\. Apply softmax",
        ),
        (np.array([["a", "b"]]), TypeError, "probs must be a real-valued"),
        (np.array([[True, False]]), TypeError, "probs must be a real-valued"),
        ([[0.5, 0.5], [1.0]], TypeError, "probs must be a numeric array"),
    ],
)
def test_bad_probs(probs, err, match):
    for fn in SCORES.values():
        with pytest.raises(err, match=match):
            fn(probs)


def test_margin_needs_two_classes():
    with pytest.raises(ValueError, match="margin needs at least 2 classes"):
        margin(np.ones((3, 1)))


@pytest.mark.parametrize(
    "mc,match",
    [
        (GOOD, r"mc_probs must have shape \(N, T, K\); got 2-D.*probs\[None\]"),
        (np.full((2, 3, 2), 0.7), r"mc_probs rows must sum to 1.*row \(0, 0\) sums to 1.4"),
        (np.full((2, 3, 2), np.inf), "mc_probs must be finite"),
    ],
)
def test_bad_mc_probs(mc, match):
    for fn in (bald, expected_entropy):
        with pytest.raises(ValueError, match=match):
            fn(mc)


def test_loss_without_labels_names_the_scores_that_need_none():
    with pytest.raises(ValueError, match=r"loss needs the true labels, got labels=None.*entropy"):
        loss(GOOD, None)


@pytest.mark.parametrize(
    "labels,err,match",
    [
        (np.array([0.0, 1.0, 1.0]), TypeError, r"labels must be an integer array.*astype"),
        (np.array([True, False, True]), TypeError, "labels must be an integer array"),
        (np.array([[0], [1], [1]]), ValueError, r"labels must have shape \(N,\)"),
        (np.array([0, 1]), ValueError, "expected 3, got 2"),
        (np.array([0, 2, 1]), ValueError, r"class indices in \[0, 2\); got 2 at position 1"),
        (np.array([0, -1, 1]), ValueError, r"got -1 at position 1"),
    ],
)
def test_bad_labels(labels, err, match):
    with pytest.raises(err, match=match):
        loss(GOOD, labels)


X = np.arange(12, dtype=np.float64).reshape(4, 3)


@pytest.mark.parametrize(
    "emb,ref,err,match",
    [
        (X, np.zeros((0, 3)), ValueError, "reference is empty"),
        (X, [], ValueError, "reference is empty"),
        (X[0], X, ValueError, r"embeddings must have shape \(N, D\); got 1-D"),
        (X[None], X, ValueError, r"embeddings must have shape \(N, D\); got 3-D.*reshape"),
        (X, X[:, :2], ValueError, "reference must have D = 3 features"),
        (np.zeros((0, 3)), X, ValueError, "embeddings is empty"),
        (np.where(X > 5, np.nan, X), X, ValueError, "embeddings must be finite"),
        (X.astype(str), X, TypeError, "embeddings must be a real-valued"),
        (X, None, TypeError, "reference must be a real-valued"),
    ],
)
def test_bad_embeddings(emb, ref, err, match):
    with pytest.raises(err, match=match):
        novelty(emb, ref)


def test_bad_metric_batch_and_zero_rows():
    with pytest.raises(ValueError, match=r"metric must be one of \['euclidean', 'cosine'\]"):
        novelty(X, X, metric="manhattan")
    with pytest.raises(ValueError, match="batch_size must be a positive int .* or None"):
        novelty(X, X, batch_size=0)
    with pytest.raises(ValueError, match="all-zero row .*metric='euclidean'"):
        novelty(np.zeros((2, 3)), X, metric="cosine")
    with pytest.raises(ValueError, match="exclude_self needs x and reference to be the same"):
        nearest_neighbors(X, X[:2], 1, exclude_self=True)


@pytest.mark.parametrize(
    "k,ref,err,match",
    [
        (5, X, ValueError, r"k must be between 1 and the number of reference points \(4\); got 5"),
        (0, X, ValueError, r"k must be between 1 and the number of reference points"),
        (4, None, ValueError, r"k must be between 1 and the number of other points \(3\); got 4"),
        (2.0, X, TypeError, "k must be an int"),
        (True, X, TypeError, "k must be an int"),
    ],
)
def test_bad_k(k, ref, err, match):
    with pytest.raises(err, match=match):
        density(X, ref, k=k)


def test_knn_label_agreement_errors():
    probs = np.full((4, 2), 0.5)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(TypeError, match="needs probs=.*got probs=None"):
        knn_label_agreement(X, X, y, k=2)
    with pytest.raises(ValueError, match="probs must have one row per embedding: expected 4"):
        knn_label_agreement(X, X, y, k=2, probs=probs[:3])
    with pytest.raises(ValueError, match="reference_labels must be class indices in"):
        knn_label_agreement(X, X, np.array([0, 1, 2, 0]), k=2, probs=probs)
    with pytest.raises(ValueError, match="reference_labels must have one entry per example"):
        knn_label_agreement(X, X, y[:3], k=2, probs=probs)
    with pytest.raises(ValueError, match="number of reference points"):
        knn_label_agreement(X, X, y, k=9, probs=probs)
