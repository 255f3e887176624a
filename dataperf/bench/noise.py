"""Label noise with a known answer: the noise models of the debugging benchmark.

Each function takes the true labels (and what it needs besides) and returns the noisy labels;
``noisy != labels`` marks the planted errors. All are seeded and exact in their counts.

``uniform_noise``
    ``round(rate * N)`` items, drawn at random, each get a different class drawn uniformly.
``class_conditional_noise``
    Annotators confuse look-alike classes: class ``i`` loses ``round(r_i * n_i)`` of its items,
    drawn at random within the class, to class ``j`` with probability proportional to
    ``T[i, j]``. ``T`` is either given (a row-stochastic noise matrix ``P(noisy = j | true =
    i)``) or made by :func:`confusion_noise_matrix` from a model's confusion matrix: the class
    flip rates follow how often the model confuses each class (scaled to the requested overall
    rate) and the flips go where the model's errors go. Every class keeps a flip rate below
    one half, so the true labels stay the majority of every class (identifiable).
``systematic_noise``
    A whole region of feature space labelled as its neighbour class: per class, one or more
    regions (each the ``m`` items of the class nearest to a random anchor, at most 5% of the
    class) take the label of the nearest other class. Neighbours then share the wrong label and
    a model trained on it learns it; this is the hard case for every detector.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._validate import check_embeddings, check_float, check_labels, describe

__all__ = [
    "MAX_CLASS_RATE",
    "MAX_REGION_SHARE",
    "check_noise_matrix",
    "class_conditional_noise",
    "confusion_noise_matrix",
    "systematic_noise",
    "uniform_noise",
]

#: Highest flip rate :func:`confusion_noise_matrix` gives any class (labels stay identifiable).
MAX_CLASS_RATE = 0.45
#: Largest share of its class that one region of :func:`systematic_noise` covers.
MAX_REGION_SHARE = 0.05


def _rate(rate: Any, high: float = 0.5) -> float:
    return check_float(rate, "rate", low=0.0, high=high, high_open=True)


def _labels(labels: Any, num_classes: int | None) -> tuple[np.ndarray, int]:
    y = check_labels(labels, len(np.asarray(labels)), num_classes)
    return y.astype(np.int64), int(num_classes if num_classes is not None else y.max() + 1)


def uniform_noise(labels: Any, rate: float, num_classes: int, *, seed: int) -> np.ndarray:
    """Flip ``round(rate * N)`` labels, chosen at random, each to a different random class.

    Parameters
    ----------
    labels : (N,) int array
        The true labels.
    rate : float in [0, 0.5)
    num_classes : int
    seed : int

    Returns
    -------
    (N,) int64 array
        The noisy labels.
    """
    y, k = _labels(labels, num_classes)
    rate = _rate(rate)
    rng = np.random.default_rng([seed, 31])
    n_flip = int(round(rate * len(y)))
    idx = rng.choice(len(y), size=n_flip, replace=False)
    noisy = y.copy()
    noisy[idx] = (y[idx] + rng.integers(1, k, size=n_flip)) % k
    return noisy


def confusion_noise_matrix(
    confusion: Any, rate: float, *, class_sizes: Any = None, max_class_rate: float = MAX_CLASS_RATE
) -> np.ndarray:
    """A noise matrix ``T[i, j] = P(noisy = j | true = i)`` shaped like a model's confusions.

    Class ``i``'s flip rate ``1 - T[i, i]`` is proportional to its off-diagonal share in
    ``confusion`` (how often the model gets class ``i`` wrong), scaled so that the flip rate
    over all items is ``rate``, and capped at ``max_class_rate`` (the excess goes to the other
    classes in proportion). Flips leave class ``i`` towards ``j`` in proportion to
    ``confusion[i, j]``; a class the model never confuses sends its share uniformly.

    Parameters
    ----------
    confusion : (K, K) array of non-negative counts
        Rows: true class; columns: predicted class (e.g. ``sklearn.metrics.confusion_matrix``
        of out-of-sample predictions on clean labels).
    rate : float in [0, 0.5)
        Overall flip rate.
    class_sizes : (K,) array, optional
        Items per class, to weight the overall rate; default: the row sums of ``confusion``.
    max_class_rate : float in (0, 0.5)
        Highest flip rate of any class.

    Returns
    -------
    (K, K) float64 array, rows summing to 1.
    """
    c = np.asarray(confusion, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] < 2 or (c < 0).any():
        raise InputValueError(
            f"confusion must be a (K, K) array of non-negative counts, K >= 2; got "
            f"{describe(confusion)}. Fix: sklearn.metrics.confusion_matrix(y_true, y_pred)."
        )
    rate = _rate(rate)
    cap = check_float(
        max_class_rate, "max_class_rate", low=0.0, high=0.5, low_open=True, high_open=True
    )
    k = len(c)
    sizes = c.sum(axis=1) if class_sizes is None else np.asarray(class_sizes, dtype=np.float64)
    if sizes.shape != (k,) or (sizes < 0).any() or sizes.sum() <= 0:
        raise InputValueError(
            f"class_sizes must be ({k},) non-negative counts; got {describe(class_sizes)}."
        )
    off = c.copy()
    np.fill_diagonal(off, 0.0)
    row = c.sum(axis=1)
    err = np.where(row > 0, off.sum(axis=1) / np.maximum(row, 1e-12), 0.0) + 1e-3
    weight = sizes / sizes.sum()
    if rate > cap * weight[sizes > 0].sum() + 1e-12:
        raise InputValueError(
            f"rate {rate} cannot be reached with every class below max_class_rate {cap}. Fix: "
            "a lower rate."
        )
    per_class = np.zeros(k)
    free = np.ones(k, dtype=bool)
    for _ in range(k):  # water-filling: scale the free classes, cap the ones over the limit
        need = rate - (weight * per_class)[~free].sum()
        scale = need / max((weight * err)[free].sum(), 1e-12)
        per_class[free] = err[free] * scale
        over = free & (per_class > cap)
        if not over.any():
            break
        per_class[over] = cap
        free &= ~over
    spread = np.where(off.sum(axis=1, keepdims=True) > 0, off, 1.0 - np.eye(k))
    spread = spread / spread.sum(axis=1, keepdims=True)
    t = spread * per_class[:, None]
    t[np.arange(k), np.arange(k)] = 1.0 - per_class
    return t


def check_noise_matrix(matrix: Any) -> np.ndarray:
    """``matrix`` as a (K, K) float64 noise matrix, checked: probabilities, rows summing to 1,
    every diagonal entry above 0.5 (each class keeps the majority of its labels)."""
    try:
        t = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        t = np.zeros(0)
    if (
        t.ndim != 2
        or t.shape[0] != t.shape[1]
        or len(t) < 2
        or not np.isfinite(t).all()
        or (t < 0).any()
    ):
        raise InputValueError(
            "noise_matrix must be a (K, K) array of probabilities T[i, j] = P(noisy = j | true "
            f"= i), K >= 2; got {describe(matrix)}."
        )
    if not np.allclose(t.sum(axis=1), 1.0, atol=1e-6):
        raise InputValueError(
            f"every row of noise_matrix must sum to 1; row sums {np.round(t.sum(axis=1), 4)}. "
            "Fix: t / t.sum(axis=1, keepdims=True)."
        )
    if (np.diag(t) <= 0.5).any():
        bad = np.flatnonzero(np.diag(t) <= 0.5).tolist()
        raise InputValueError(
            f"noise_matrix flips half or more of class(es) {bad}: the true label would no longer "
            "be the majority of its class, so no method can recover it. Fix: keep every "
            "diagonal entry above 0.5."
        )
    return t


def class_conditional_noise(labels: Any, noise_matrix: Any, *, seed: int) -> np.ndarray:
    """Flip labels class by class as a noise matrix says.

    Class ``i`` loses exactly ``round((1 - T[i, i]) * n_i)`` items, drawn at random within the
    class; each goes to class ``j != i`` with probability ``T[i, j] / (1 - T[i, i])``.

    Parameters
    ----------
    labels : (N,) int array
        The true labels.
    noise_matrix : (K, K) array
        ``T[i, j] = P(noisy = j | true = i)``, rows summing to 1, diagonal above 0.5 (see
        :func:`confusion_noise_matrix` to make one from a model's confusions).
    seed : int

    Returns
    -------
    (N,) int64 array
        The noisy labels.
    """
    t = check_noise_matrix(noise_matrix)
    y, k = _labels(labels, len(t))
    rng = np.random.default_rng([seed, 37])
    noisy = y.copy()
    for i in range(k):
        members = np.flatnonzero(y == i)
        n_flip = int(round((1.0 - t[i, i]) * len(members)))
        if n_flip == 0:
            continue
        idx = rng.choice(members, size=n_flip, replace=False)
        to = np.delete(np.arange(k), i)
        p = np.delete(t[i], i)
        noisy[idx] = rng.choice(to, size=n_flip, p=p / p.sum())
    return noisy


def systematic_noise(
    features: Any, labels: Any, rate: float, *, seed: int, num_classes: int | None = None
) -> np.ndarray:
    """Label whole regions of feature space as their neighbour class.

    In every class ``i`` with ``n_i`` items, ``round(rate * n_i)`` items are relabelled, in
    ``ceil(rate / 0.05)`` regions of equal size (so no region covers more than 5% of its
    class). A region is the not-yet-relabelled items of class ``i`` nearest (Euclidean, in
    ``features``) to a random anchor of the class; all of it takes the label of the item of
    another class nearest to the anchor.

    Parameters
    ----------
    features : (N, D) float array
    labels : (N,) int array
        The true labels.
    rate : float in [0, 0.5)
    seed : int
    num_classes : int, optional

    Returns
    -------
    (N,) int64 array
        The noisy labels.
    """
    x = check_embeddings(features, "features").astype(np.float64)
    y, k = _labels(labels, num_classes)
    if len(x) != len(y):
        raise InputValueError(
            f"features and labels must have one row per item; got {len(x)} and {len(y)}."
        )
    rate = _rate(rate)
    n_regions = int(np.ceil(rate / MAX_REGION_SHARE - 1e-9))
    rng = np.random.default_rng([seed, 41])
    noisy = y.copy()
    for i in range(k):
        members = np.flatnonzero(y == i)
        others = np.flatnonzero(y != i)
        total = int(round(rate * len(members)))
        if total == 0 or len(others) == 0:
            continue
        sizes = np.diff(np.linspace(0, total, n_regions + 1).round().astype(int))
        free = np.ones(len(members), dtype=bool)
        for size in sizes[sizes > 0]:
            anchor = x[rng.choice(members[free])]
            d_own = ((x[members] - anchor) ** 2).sum(axis=1)
            d_own[~free] = np.inf
            region = np.argsort(d_own, kind="stable")[:size]
            nearest_other = others[np.argmin(((x[others] - anchor) ** 2).sum(axis=1))]
            noisy[members[region]] = y[nearest_other]
            free[region] = False
    return noisy
