"""The noise models of the debugging benchmark (dataperf.bench.noise): exact counts, where the
flips go, the identifiability caps, determinism and the error messages."""

from __future__ import annotations

import numpy as np
import pytest

from dataperf.bench.noise import (
    MAX_CLASS_RATE,
    MAX_REGION_SHARE,
    class_conditional_noise,
    confusion_noise_matrix,
    systematic_noise,
    uniform_noise,
)

K = 10
LABELS = np.repeat(np.arange(K), [50, 80, 100, 120, 150, 60, 90, 110, 70, 170])


def _flips_per_class(labels: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    return np.bincount(labels[noisy != labels], minlength=labels.max() + 1)


# ----------------------------------------------------------------------------- uniform


def test_uniform_noise_flips_exactly_the_rate_to_other_classes():
    noisy = uniform_noise(LABELS, 0.1, K, seed=3)
    assert noisy.dtype == np.int64 and noisy.shape == LABELS.shape
    assert (noisy != LABELS).sum() == round(0.1 * len(LABELS))
    assert noisy.min() >= 0 and noisy.max() < K
    np.testing.assert_array_equal(noisy, uniform_noise(LABELS, 0.1, K, seed=3))
    assert not np.array_equal(noisy, uniform_noise(LABELS, 0.1, K, seed=4))
    assert (uniform_noise(LABELS, 0.0, K, seed=3) == LABELS).all()


def test_uniform_noise_is_the_recipe_of_the_former_flip_labels():
    """The debugging task's results stay what they were: the same draws as before."""
    rng = np.random.default_rng([5, 31])
    idx = rng.choice(len(LABELS), size=100, replace=False)
    expected = LABELS.copy()
    expected[idx] = (LABELS[idx] + rng.integers(1, K, size=100)) % K
    np.testing.assert_array_equal(uniform_noise(LABELS, 0.1, K, seed=5), expected)


def test_uniform_noise_spreads_over_every_other_class():
    y = np.zeros(20000, dtype=np.int64)
    y[:10] = np.arange(10)  # make num_classes = 10 a valid label set
    noisy = uniform_noise(y, 0.3, K, seed=0)
    to = np.bincount(noisy[(noisy != y) & (y == 0)], minlength=K)
    assert to[0] == 0
    share = to[1:] / to[1:].sum()
    np.testing.assert_allclose(share, 1 / 9, atol=0.02)


# ----------------------------------------------------------------------------- confusion matrix


def _confusion(errors: list[float], n: int = 100) -> np.ndarray:
    """Class i of n items: errors[i] of them predicted as class i + 1 (mod K)."""
    k = len(errors)
    c = np.zeros((k, k))
    for i, e in enumerate(errors):
        c[i, (i + 1) % k] = round(e * n)
        c[i, i] = n - c[i, (i + 1) % k]
    return c


def test_confusion_noise_matrix_rows_sum_to_one_and_the_overall_rate_matches():
    rng = np.random.default_rng(0)
    confusion = rng.integers(0, 20, size=(K, K)) + np.diag(rng.integers(50, 200, size=K))
    sizes = np.bincount(LABELS)
    t = confusion_noise_matrix(confusion, 0.2, class_sizes=sizes)
    assert t.shape == (K, K) and (t >= 0).all()
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    rates = 1 - np.diag(t)
    assert np.average(rates, weights=sizes) == pytest.approx(0.2)
    assert rates.max() <= MAX_CLASS_RATE + 1e-12 and (rates < 0.5).all()
    # default class sizes: the confusion's row sums
    t_rows = confusion_noise_matrix(confusion, 0.2)
    assert np.average(1 - np.diag(t_rows), weights=confusion.sum(1)) == pytest.approx(0.2)


def test_confusion_noise_matrix_follows_the_models_errors():
    confusion = _confusion([0.2, 0.1, 0.05, 0.0])
    t = confusion_noise_matrix(confusion, 0.05)
    rates = 1 - np.diag(t)
    err = np.array([0.2, 0.1, 0.05, 0.0]) + 1e-3  # the off-diagonal share, smoothed
    np.testing.assert_allclose(rates / rates[0], err / err[0])  # proportional below the cap
    for i in range(3):  # the flips go where the model's errors go
        assert t[i, (i + 1) % 4] == pytest.approx(rates[i])
    # a class the model never confuses sends its (small) share uniformly
    np.testing.assert_allclose(t[3, :3], rates[3] / 3)


def test_confusion_noise_matrix_water_fills_under_the_cap():
    confusion = _confusion([0.9, 0.1, 0.05])
    t = confusion_noise_matrix(confusion, 0.3)
    rates = 1 - np.diag(t)
    assert rates[0] == pytest.approx(MAX_CLASS_RATE)  # would be 0.77 uncapped
    assert rates.mean() == pytest.approx(0.3)  # the excess went to the other classes
    assert rates[1] / rates[2] == pytest.approx(0.101 / 0.051)  # still in proportion
    assert (rates <= MAX_CLASS_RATE + 1e-12).all()
    # a lower cap moves more to the others
    low = 1 - np.diag(confusion_noise_matrix(confusion, 0.3, max_class_rate=0.35))
    assert low[0] == pytest.approx(0.35) and low.mean() == pytest.approx(0.3)
    assert (low <= 0.35 + 1e-12).all()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: confusion_noise_matrix(np.ones((3, 2)), 0.1), r"\(K, K\) array"),
        (lambda: confusion_noise_matrix(np.ones((1, 1)), 0.1), r"K >= 2"),
        (lambda: confusion_noise_matrix(-np.eye(3), 0.1), r"non-negative counts"),
        (lambda: confusion_noise_matrix(np.eye(3), 0.5), r"rate must be"),
        (lambda: confusion_noise_matrix(np.eye(3), -0.1), r"rate must be"),
        (lambda: confusion_noise_matrix(np.eye(3), 0.46), r"cannot be reached.*lower rate"),
        (
            lambda: confusion_noise_matrix(np.eye(3), 0.1, class_sizes=[1, 2]),
            r"class_sizes must be \(3,\)",
        ),
        (
            lambda: confusion_noise_matrix(np.eye(3), 0.1, max_class_rate=0.0),
            r"max_class_rate must be",
        ),
        (
            lambda: confusion_noise_matrix(np.eye(3), 0.1, max_class_rate=0.5),
            r"max_class_rate must be",
        ),
    ],
)
def test_confusion_noise_matrix_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- class-conditional


def _shift_matrix(rates: np.ndarray) -> np.ndarray:
    """Class i keeps 1 - rates[i] and sends the rest to i + 1 (mod K)."""
    k = len(rates)
    t = np.diag(1.0 - rates)
    t[np.arange(k), (np.arange(k) + 1) % k] = rates
    return t


def test_class_conditional_noise_flips_exact_counts_per_class_where_the_matrix_says():
    rates = np.linspace(0.0, 0.45, K)
    noisy = class_conditional_noise(LABELS, _shift_matrix(rates), seed=1)
    sizes = np.bincount(LABELS)
    np.testing.assert_array_equal(
        _flips_per_class(LABELS, noisy), np.round(rates * sizes).astype(int)
    )
    flipped = noisy != LABELS
    np.testing.assert_array_equal(noisy[flipped], (LABELS[flipped] + 1) % K)
    assert (_flips_per_class(LABELS, noisy) / sizes < 0.5).all()
    np.testing.assert_array_equal(
        noisy, class_conditional_noise(LABELS, _shift_matrix(rates), seed=1)
    )
    assert not np.array_equal(noisy, class_conditional_noise(LABELS, _shift_matrix(rates), seed=2))


def test_class_conditional_noise_splits_a_row_in_proportion():
    y = np.repeat(np.arange(3), 20000)
    t = np.array([[0.6, 0.3, 0.1], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    noisy = class_conditional_noise(y, t, seed=0)
    to = np.bincount(noisy[y == 0], minlength=3)
    assert to[0] == 12000  # exactly 40% of class 0 flipped
    assert to[1] / (to[1] + to[2]) == pytest.approx(0.75, abs=0.015)
    assert (noisy[y != 0] == y[y != 0]).all()


def test_class_conditional_noise_of_a_confusion_matrix_keeps_every_class_below_half():
    confusion = _confusion([0.6, 0.3, 0.02, 0.01, 0.0, 0.2, 0.1, 0.05, 0.4, 0.0])
    sizes = np.bincount(LABELS)
    t = confusion_noise_matrix(confusion, 0.3, class_sizes=sizes)
    noisy = class_conditional_noise(LABELS, t, seed=0)
    per_class = _flips_per_class(LABELS, noisy) / sizes
    assert (per_class < 0.5).all()
    assert (noisy != LABELS).mean() == pytest.approx(0.3, abs=K / 2 / len(LABELS))


@pytest.mark.parametrize(
    ("matrix", "match"),
    [
        (np.ones((3, 2)) / 2, r"noise_matrix must be a \(K, K\) array"),
        (np.array([[1.0]]), r"K >= 2"),
        (np.array([[0.9, 0.2], [0.1, 0.9]]), r"every row of noise_matrix must sum to 1"),
        (np.array([[1.1, -0.1], [0.1, 0.9]]), r"\(K, K\) array of probabilities"),
        (np.array([[np.nan, 0.0], [0.1, 0.9]]), r"\(K, K\) array of probabilities"),
        (np.array([[0.5, 0.5], [0.1, 0.9]]), r"flips half or more of class\(es\) \[0\]"),
        ("abc", r"noise_matrix must be"),
    ],
)
def test_class_conditional_noise_errors(matrix, match):
    with pytest.raises(ValueError, match=match):
        class_conditional_noise(np.arange(10) % 2, matrix, seed=0)


def test_class_conditional_noise_rejects_labels_outside_the_matrix():
    with pytest.raises(ValueError, match="labels"):
        class_conditional_noise(np.arange(10) % 3, np.eye(2), seed=0)


# ----------------------------------------------------------------------------- systematic

N_BLOBS, BLOB = 20, 10  # class 0: 20 far-apart blobs of 10 items; 5% of 200 = one blob


def _blobs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class 0: blob b around 100 * e_b (all blob centres equidistant); next to each blob one
    item of class 1 (even b) or 2 (odd b), its nearest other class; more items of classes 1
    and 2 far away. Returns features, labels and the blob of each class-0 item."""
    rng = np.random.default_rng(0)
    dim = 2 * N_BLOBS + 1
    rows, labels, blob = [], [], []
    for b in range(N_BLOBS):
        centre = 100.0 * np.eye(dim)[b]
        rows += list(centre + 0.01 * rng.standard_normal((BLOB, dim)))
        labels += [0] * BLOB
        blob += [b] * BLOB
        rows.append(centre + 5.0 * np.eye(dim)[N_BLOBS + b])
        labels.append(1 + b % 2)
    for c in (1, 2):  # far from every blob
        rows += list(1000.0 * c * np.eye(dim)[-1] + rng.standard_normal((30, dim)))
        labels += [c] * 30
    return np.array(rows), np.array(labels), np.array(blob)


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.15])
def test_systematic_noise_relabels_whole_regions_of_at_most_5_percent(rate):
    x, y, blob = _blobs()
    noisy = systematic_noise(x, y, rate, seed=4)
    members = y == 0
    n_regions = int(np.ceil(rate / MAX_REGION_SHARE - 1e-9))
    flipped = noisy[members] != 0
    assert flipped.sum() == round(rate * members.sum()) == n_regions * BLOB
    # every region is one whole blob (the 10 = 5% items nearest its anchor) ...
    per_blob = np.bincount(blob[flipped], minlength=N_BLOBS)
    assert sorted(per_blob[per_blob > 0]) == [BLOB] * n_regions
    # ... labelled as the class nearest to it
    for b in np.flatnonzero(per_blob):
        assert (noisy[members][blob == b] == 1 + b % 2).all()
    # the other classes: exact counts, always to another class
    for c in (1, 2):
        n_c = int((y == c).sum())
        assert ((noisy != y) & (y == c)).sum() == round(rate * n_c)
    assert (noisy[noisy != y] != y[noisy != y]).all()


def _nearest(x: np.ndarray, members: np.ndarray, anchor: int, m: int) -> np.ndarray:
    d = ((x[members] - x[anchor]) ** 2).sum(axis=1)
    return members[np.argsort(d, kind="stable")[:m]]


def test_systematic_noise_region_is_the_nearest_items_of_an_anchor():
    """With one region per class (rate <= 5%), the flipped items of a class are the m items of
    the class nearest to one of them, and take the label of the other-class item nearest it."""
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), [200, 240, 160])
    x = rng.standard_normal((len(y), 5)) + 2.0 * y[:, None]
    noisy = systematic_noise(x, y, 0.05, seed=7)
    for c in range(3):
        members = np.flatnonzero(y == c)
        region = np.flatnonzero((noisy != y) & (y == c))
        assert len(region) == round(0.05 * len(members))
        assert len(set(noisy[region])) == 1 and noisy[region[0]] != c

        anchors = [a for a in region if set(_nearest(x, members, a, len(region))) == set(region)]
        assert anchors, c
        others = np.flatnonzero(y != c)
        assert any(
            y[others[np.argmin(((x[others] - x[a]) ** 2).sum(axis=1))]] == noisy[region[0]]
            for a in anchors
        )


@pytest.mark.parametrize("rate", [0.07, 0.3, 0.45])
def test_systematic_noise_flips_exact_counts_in_disjoint_regions(rate):
    """Later regions never take items of earlier ones: every class flips round(rate * n_i)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((len(LABELS), 3))
    noisy = systematic_noise(x, LABELS, rate, seed=5, num_classes=K)
    np.testing.assert_array_equal(
        _flips_per_class(LABELS, noisy), np.round(rate * np.bincount(LABELS)).astype(int)
    )
    regions = int(np.ceil(rate / MAX_REGION_SHARE - 1e-9))
    for c in range(K):  # at most one target class per region
        assert len(set(noisy[(noisy != LABELS) & (LABELS == c)])) <= regions


def test_systematic_noise_is_seeded():
    x, y, _ = _blobs()
    a = systematic_noise(x, y, 0.1, seed=0)
    np.testing.assert_array_equal(a, systematic_noise(x, y, 0.1, seed=0))
    assert not np.array_equal(a, systematic_noise(x, y, 0.1, seed=1))
    assert (systematic_noise(x, y, 0.0, seed=0) == y).all()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda x, y: systematic_noise(x[:-1], y, 0.1, seed=0),
            r"one row per item; got 279 and 280",
        ),
        (lambda x, y: systematic_noise(x, y, 0.5, seed=0), r"rate must be"),
        (lambda x, y: systematic_noise(x[:, 0], y, 0.1, seed=0), r"features"),
        (lambda x, y: systematic_noise(x, y, 0.1, seed=0, num_classes=2), r"labels"),
    ],
)
def test_systematic_noise_errors(call, match):
    x, y, _ = _blobs()
    with pytest.raises(ValueError, match=match):
        call(x, y)
