"""Weak-slice discovery: planted weak clusters and columns are found and ranked first."""

from __future__ import annotations

import numpy as np
import pytest

from dataperf.curate.slices import Slice, find_weak_slices
from dataperf.signals import Signals


def _probs(labels: np.ndarray, wrong: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Confident probs: the label gets 0.8 unless ``wrong``, then a random other class does."""
    n = len(labels)
    pred = labels.copy()
    shift = rng.integers(1, k, size=n)
    pred[wrong] = (labels[wrong] + shift[wrong]) % k
    probs = np.full((n, k), 0.2 / (k - 1))
    probs[np.arange(n), pred] = 0.8
    return probs


def _gaussian(
    n_groups: int = 6,
    per: int = 100,
    d: int = 16,
    bad: int = 2,
    bad_rate: float = 0.5,
    base_rate: float = 0.05,
    seed: int = 0,
) -> tuple[Signals, np.ndarray]:
    """Well-separated Gaussian clusters; group ``bad`` has ``bad_rate`` model errors."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_groups, d)) * 6
    group = np.repeat(np.arange(n_groups), per)
    x = centres[group] + rng.normal(size=(len(group), d))
    k = 4
    labels = rng.integers(0, k, size=len(group))
    wrong = rng.random(len(group)) < np.where(group == bad, bad_rate, base_rate)
    return Signals(probs=_probs(labels, wrong, k, rng), embeddings=x, labels=labels), group


def _check_fields(slices: list[Slice], signals: Signals) -> None:
    wrong = signals.probs.argmax(1) != signals.labels
    lows = [s.ci[0] for s in slices]
    assert lows == sorted(lows, reverse=True)
    for s in slices:
        assert s.indices.dtype == np.int64 and s.representatives.dtype == np.int64
        assert s.size == len(s.indices) == len(np.unique(s.indices))
        assert np.all(np.diff(s.indices) > 0)
        assert set(s.representatives.tolist()) <= set(s.indices.tolist())
        assert 1 <= len(s.representatives) <= 5
        if s.metric == "error":
            assert s.value == pytest.approx(wrong[s.indices].mean())
            assert s.overall == pytest.approx(wrong.mean())
        assert s.lift == pytest.approx(s.value / s.overall)
        assert s.ci[0] <= s.value <= s.ci[1]
        assert s.value > s.overall
        assert s.kind in ("cluster", "column")
        assert f"{s.size} items" in s.description and "lift" in s.description


def test_planted_weak_cluster_is_first() -> None:
    signals, group = _gaussian()
    slices = find_weak_slices(signals, n_clusters=6)
    top = slices[0]
    assert top.kind == "cluster"
    assert set(top.indices.tolist()) == set(np.flatnonzero(group == 2).tolist())
    assert top.value > 0.35
    assert top.description.startswith("embedding cluster")
    assert "95% CI" in top.description
    _check_fields(slices, signals)


def test_planted_weak_cluster_default_clusters() -> None:
    # more clusters than true groups: the top slice is (part of) the weak group
    signals, group = _gaussian(seed=1)
    slices = find_weak_slices(signals, min_size=20)
    top = slices[0]
    assert np.mean(group[top.indices] == 2) >= 0.95
    assert top.lift > 3
    _check_fields(slices, signals)


def test_loss_metric() -> None:
    signals, group = _gaussian(seed=2)
    slices = find_weak_slices(signals, metric="loss", n_clusters=6)
    assert set(slices[0].indices.tolist()) == set(np.flatnonzero(group == 2).tolist())
    assert slices[0].metric == "loss"
    assert "mean loss" in slices[0].description
    _check_fields(slices, signals)


def test_real_digits_wrong_on_one_class() -> None:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    wrong = rng.random(len(y)) < np.where(y == 3, 0.8, 0.05)
    signals = Signals(probs=_probs(y, wrong, 10, rng), embeddings=x, labels=y)
    slices = find_weak_slices(signals, n_slices=3)
    assert np.mean(y[slices[0].indices] == 3) >= 0.8
    assert slices[0].value > 0.5
    _check_fields(slices, signals)


def test_large_noisy_cluster_beats_tiny_unlucky_one() -> None:
    rng = np.random.default_rng(3)
    centres = np.eye(8) * 40  # far apart also after L2 normalisation
    big = rng.normal(size=(200, 8)) + centres[0]
    tiny = rng.normal(size=(4, 8)) + centres[1]
    rest = rng.normal(size=(300, 8)) + centres[2]
    x = np.vstack([big, tiny, rest])
    labels = np.zeros(len(x), dtype=np.int64)
    wrong = np.zeros(len(x), dtype=bool)
    wrong[:100] = True  # big: 50%
    wrong[200:203] = True  # tiny: 75%, raw rate higher
    wrong[204:214] = True  # rest: a few
    signals = Signals(probs=_probs(labels, wrong, 3, rng), embeddings=x, labels=labels)
    slices = find_weak_slices(signals, min_size=3, n_clusters=3)
    assert slices[0].size == 200
    assert slices[1].size == 4 and slices[1].value > slices[0].value


def _column_signals(seed: int = 0) -> Signals:
    rng = np.random.default_rng(seed)
    n = 900
    source = np.array(["scanner A", "scanner B", "scanner C"])[rng.integers(0, 3, size=n)]
    brightness = rng.random(n)
    labels = rng.integers(0, 5, size=n)
    wrong = rng.random(n) < np.where(source == "scanner B", 0.4, 0.05)
    columns = {
        "source": source,
        "brightness": brightness,
        "fingerprint": rng.random((n, 4)),  # 2-D: never a slice
    }
    return Signals(
        probs=_probs(labels, wrong, 5, rng),
        embeddings=rng.normal(size=(n, 8)),  # no structure: clusters are random mixtures
        labels=labels,
        meta={"columns": columns},
    )


def test_planted_bad_column_value() -> None:
    signals = _column_signals()
    slices = find_weak_slices(signals, columns=["source", "brightness"])
    top = slices[0]
    assert top.kind == "column"
    assert top.description.startswith("column 'source' = 'scanner B'")
    source = signals.meta["columns"]["source"]
    assert set(top.indices.tolist()) == set(np.flatnonzero(source == "scanner B").tolist())
    _check_fields(slices, signals)


def test_numeric_column_bins_without_embeddings() -> None:
    rng = np.random.default_rng(5)
    n = 800
    age = rng.normal(50, 10, size=n)
    labels = rng.integers(0, 3, size=n)
    high = age >= np.quantile(age, 0.75)
    wrong = rng.random(n) < np.where(high, 0.5, 0.05)
    signals = Signals(
        probs=_probs(labels, wrong, 3, rng), labels=labels, meta={"columns": {"age": age}}
    )
    slices = find_weak_slices(signals, columns="age")
    top = slices[0]
    assert top.kind == "column" and "column 'age' in [" in top.description
    assert set(top.indices.tolist()) == set(np.flatnonzero(high).tolist())
    # without embeddings the representatives are the highest-loss members
    assert wrong[top.representatives].all()
    _check_fields(slices, signals)


def test_permutation_equivariance() -> None:
    signals = _column_signals(seed=1)
    perm = np.random.default_rng(0).permutation(len(signals))
    shuffled = signals[perm]
    a = find_weak_slices(signals, columns=["source", "brightness"], min_size=10)
    b = find_weak_slices(shuffled, columns=["source", "brightness"], min_size=10)
    assert len(a) == len(b) > 0
    for sa, sb in zip(a, b):
        assert set(signals.ids[sa.indices].tolist()) == set(shuffled.ids[sb.indices].tolist())
        assert sa.description == sb.description
        assert signals.ids[sa.representatives].tolist() == (
            shuffled.ids[sb.representatives].tolist()
        )


def test_deterministic_for_a_seed() -> None:
    signals, _ = _gaussian(seed=4)
    a = find_weak_slices(signals, seed=7)
    b = find_weak_slices(signals, seed=7)
    assert [s.description for s in a] == [s.description for s in b]
    assert all(np.array_equal(sa.indices, sb.indices) for sa, sb in zip(a, b))


def test_no_errors_no_slices() -> None:
    labels = np.arange(40) % 2
    probs = np.eye(2)[labels]
    signals = Signals(
        probs=probs, embeddings=np.random.default_rng(0).normal(size=(40, 3)), labels=labels
    )
    assert find_weak_slices(signals, min_size=5) == []


def test_n_slices_limits_output() -> None:
    signals, _ = _gaussian(seed=6, base_rate=0.1)
    assert len(find_weak_slices(signals, n_slices=2, min_size=10)) <= 2


def test_bad_inputs() -> None:
    signals = _column_signals()
    unlabelled = Signals(probs=signals.probs, embeddings=signals.embeddings)
    with pytest.raises(ValueError, match="labels"):
        find_weak_slices(unlabelled)
    with pytest.raises(ValueError, match="'error', 'loss'"):
        find_weak_slices(signals, metric="accuracy")
    with pytest.raises(ValueError, match=r"valid 1-D columns: \['brightness', 'source'\]"):
        find_weak_slices(signals, columns=["sorce"])
    with pytest.raises(ValueError, match="1-D"):
        find_weak_slices(signals, columns=["fingerprint"])
    with pytest.raises(ValueError, match="min_size"):
        find_weak_slices(signals, min_size=len(signals) + 1)
    with pytest.raises(ValueError, match="confidence"):
        find_weak_slices(signals, confidence=1.5)
    with pytest.raises(TypeError, match="n_slices"):
        find_weak_slices(signals, n_slices=2.5)
    with pytest.raises(ValueError, match="n_clusters"):
        find_weak_slices(signals, n_clusters=1)
    no_emb = Signals(probs=signals.probs, labels=signals.labels)
    with pytest.raises(ValueError, match="embeddings"):
        find_weak_slices(no_emb)
    with pytest.raises(TypeError, match="Signals"):
        find_weak_slices(signals.probs)


# ---------------------------------------------------------------- planted hidden subgroups
# Domino's protocol in miniature: the labels name super-classes, each made of subclasses the
# labels do not name; one subclass is the planted weak subgroup. Found means Jaccard >= 0.5.


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = len(np.intersect1d(a, b))
    return inter / (len(a) + len(b) - inter)


def _hidden_subclass(seed: int = 0) -> tuple[Signals, np.ndarray]:
    """3 labels x 3 subclasses (Gaussian blobs, 200 items each). The planted subgroup,
    subclass 0 of label 0 (120 items, 50% errors; 5% elsewhere), lies on the same centre as a
    look-alike subclass of label 1 (180 items): in embedding space alone the two are one blob,
    and the finest default clusters (about 40 items) cut it into pieces."""
    rng = np.random.default_rng(seed)
    d = 8
    centres = rng.normal(size=(3, 3, d)) * 4
    centres[1, 0] = centres[0, 0]
    sizes = np.full((3, 3), 200)
    sizes[0, 0], sizes[1, 0] = 120, 180
    label = np.repeat(np.repeat(np.arange(3), 3), sizes.ravel())
    sub = np.repeat(np.tile(np.arange(3), 3), sizes.ravel())
    x = centres[label, sub] + rng.normal(size=(len(label), d))
    planted = (label == 0) & (sub == 0)
    wrong = rng.random(len(label)) < np.where(planted, 0.5, 0.05)
    perm = rng.permutation(len(label))  # items in no particular order
    signals = Signals(probs=_probs(label, wrong, 3, rng), embeddings=x, labels=label)
    return signals[perm], np.flatnonzero(planted[perm])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_hidden_subclass_found_first(seed: int) -> None:
    signals, planted = _hidden_subclass(seed)
    slices = find_weak_slices(signals)
    assert _jaccard(slices[0].indices, planted) >= 0.8
    assert slices[0].kind == "cluster" and slices[0].description.startswith("label 0, ")
    _check_fields(slices, signals)


def test_planted_hidden_subclass_loss_metric() -> None:
    signals, planted = _hidden_subclass(3)
    slices = find_weak_slices(signals, metric="loss")
    assert max(_jaccard(s.indices, planted) for s in slices[:3]) >= 0.5


@pytest.mark.parametrize("seed", [1, 7])
def test_weak_cluster_found_whole_not_in_pieces(seed: int) -> None:
    # the weak group (100 of 600 items) is larger than the finest clusters (about 40 items):
    # the top slice is the group itself, not a sliver of it
    signals, group = _gaussian(seed=seed)
    top = find_weak_slices(signals)[0]
    assert _jaccard(top.indices, np.flatnonzero(group == 2)) >= 0.8


@pytest.mark.parametrize("seed", [0, 2, 7])
def test_weak_group_with_a_worse_half_found_whole(seed: int) -> None:
    # errors are uneven inside the weak group (75% on one side, 35% on the other): its worse
    # half and slivers of it are purer, but the group as a whole is the clearer weak region
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, 16)) * 6
    group = np.repeat(np.arange(6), 100)
    x = centres[group] + rng.normal(size=(600, 16))
    worse_half = (x - centres[group])[:, 0] > 0
    labels = rng.integers(0, 4, size=600)
    p = np.where(group == 2, np.where(worse_half, 0.75, 0.35), 0.05)
    wrong = rng.random(600) < p
    signals = Signals(probs=_probs(labels, wrong, 4, rng), embeddings=x, labels=labels)
    top = find_weak_slices(signals)[0]
    assert _jaccard(top.indices, np.flatnonzero(group == 2)) >= 0.8


def test_slices_are_distinct_regions() -> None:
    # many weak spots at many granularities: no returned cluster lies mostly inside another
    signals, _ = _gaussian(n_groups=8, seed=8, base_rate=0.15)
    slices = find_weak_slices(signals, n_slices=50, min_size=10)
    assert len(slices) >= 3
    for i, a in enumerate(slices):
        for b in slices[i + 1 :]:
            inter = len(np.intersect1d(a.indices, b.indices))
            assert inter <= 0.5 * min(a.size, b.size)


def test_explicit_n_clusters_is_one_partition() -> None:
    signals, _ = _hidden_subclass(0)
    slices = find_weak_slices(signals, n_clusters=7, n_slices=50, min_size=1)
    assert all(s.description.startswith("embedding cluster ") for s in slices)
    members = np.concatenate([s.indices for s in slices])
    assert len(members) == len(np.unique(members))  # disjoint: one k-means partition
