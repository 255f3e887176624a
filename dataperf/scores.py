"""Pure per-example scores over model outputs and embeddings.

Every score returns an ``(N,)`` float64 array where **higher means more of the named
property**: higher ``entropy`` / ``margin`` / ``least_confidence`` / ``bald`` / ``loss`` = harder
or more uncertain, higher ``novelty`` = farther from the reference set, higher ``density`` =
more typical, higher ``knn_label_agreement`` = the labelled neighbours agree more with the
model's prediction. (That is why ``margin`` returns ``1 - (top1 - top2)``.)

Inputs are NumPy arrays (or anything ``np.asarray`` accepts, including CPU/GPU torch tensors);
probabilities are softmax outputs, validated to be finite, in [0, 1] and rows summing to 1
within 1e-3. Natural logarithms throughout.

The embedding scores share the library's one neighbour search,
:func:`dataperf.neighbors.nearest_neighbors` (exact in bounded memory, or approximate for large
sets: ``search=`` and ``device=`` choose).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._validate import check_choice, check_embeddings, check_labels, check_probs, describe
from dataperf.neighbors import nearest_neighbors

__all__ = [
    "SCORES",
    "bald",
    "density",
    "entropy",
    "expected_entropy",
    "get_score",
    "knn_label_agreement",
    "least_confidence",
    "loss",
    "margin",
    "nearest_neighbors",
    "novelty",
    "typicality",
]

#: Probabilities are floored at this value before ``-log`` in :func:`loss`, so the largest
#: possible loss is ``-log(1e-12) ~= 27.63`` instead of ``inf``.
LOSS_FLOOR = 1e-12


# --------------------------------------------------------------------------------------------
# Scores from probabilities
# --------------------------------------------------------------------------------------------


def _entropy_last_axis(p: np.ndarray) -> np.ndarray:
    """-sum p log p over the last axis, with 0 log 0 = 0. ``p`` is validated float64."""
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return np.maximum(-plogp.sum(axis=-1), 0.0)


def entropy(probs: Any) -> np.ndarray:
    """Predictive entropy ``-sum_k p_k log p_k`` (natural log) of each row.

    Parameters
    ----------
    probs : (N, K) float array
        Softmax outputs.

    Returns
    -------
    (N,) float64 array in ``[0, log K]``: 0 for a one-hot row, ``log K`` for a uniform row.
    """
    return _entropy_last_axis(check_probs(probs))


def margin(probs: Any) -> np.ndarray:
    """Margin uncertainty ``1 - (p_top1 - p_top2)``: higher = closer to the decision boundary.

    Parameters
    ----------
    probs : (N, K) float array
        Softmax outputs, ``K >= 2``.

    Returns
    -------
    (N,) float64 array in ``[0, 1]``: 0 for a one-hot row, 1 when the top two tie.
    """
    p = check_probs(probs)
    if p.shape[1] < 2:
        raise InputValueError(
            f"margin needs at least 2 classes; got probs of shape {p.shape}. "
            "Use entropy or least_confidence for a single-output model."
        )
    top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
    return np.clip(1.0 - (top2[:, 1] - top2[:, 0]), 0.0, 1.0)


def least_confidence(probs: Any) -> np.ndarray:
    """Least confidence ``1 - max_k p_k``.

    Parameters
    ----------
    probs : (N, K) float array
        Softmax outputs.

    Returns
    -------
    (N,) float64 array in ``[0, 1 - 1/K]``.
    """
    return np.clip(1.0 - check_probs(probs).max(axis=1), 0.0, 1.0)


def expected_entropy(mc_probs: Any) -> np.ndarray:
    """Aleatoric uncertainty: the mean over MC samples of each sample's entropy.

    Parameters
    ----------
    mc_probs : (N, T, K) float array
        Softmax outputs of T stochastic (e.g. MC-dropout) passes.

    Returns
    -------
    (N,) float64 array in ``[0, log K]``.
    """
    return _entropy_last_axis(check_probs(mc_probs, "mc_probs", ndim=3)).mean(axis=1)


def bald(mc_probs: Any) -> np.ndarray:
    """BALD mutual information (epistemic uncertainty).

    ``entropy(mean over T) - mean over T of entropy``: 0 when all T samples agree, large when
    confident samples disagree with each other.

    Parameters
    ----------
    mc_probs : (N, T, K) float array
        Softmax outputs of T stochastic (e.g. MC-dropout) passes.

    Returns
    -------
    (N,) float64 array in ``[0, log K]`` (tiny negative rounding errors are clipped to 0).
    """
    p = check_probs(mc_probs, "mc_probs", ndim=3)
    total = _entropy_last_axis(p.mean(axis=1))
    aleatoric = _entropy_last_axis(p).mean(axis=1)
    return np.maximum(total - aleatoric, 0.0)


def loss(probs: Any, labels: Any) -> np.ndarray:
    """Cross-entropy ``-log p[label]`` of the given labels.

    Probabilities are floored at :data:`LOSS_FLOOR` (1e-12) first, so the loss is at most
    ``-log(1e-12) ~= 27.63`` and never ``inf``.

    Parameters
    ----------
    probs : (N, K) float array
        Softmax outputs.
    labels : (N,) int array
        Class indices in ``[0, K)``.

    Returns
    -------
    (N,) float64 array, ``>= 0``.
    """
    if labels is None:
        raise InputValueError(
            "loss needs the true labels, got labels=None (e.g. the Signals of an unlabelled "
            "pool). Fix: pass labels, or use a score that needs none: entropy, margin, "
            "least_confidence, or bald with MC-dropout samples."
        )
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1])
    picked = p[np.arange(len(y)), y]
    return -np.log(np.maximum(picked, LOSS_FLOOR))


#: Scores that take only ``probs``, by name.
SCORES: dict[str, Callable[[Any], np.ndarray]] = {
    "entropy": entropy,
    "margin": margin,
    "least_confidence": least_confidence,
}


def get_score(name: str) -> Callable[[Any], np.ndarray]:
    """The probs-only score called ``name`` (a key of :data:`SCORES`).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid names.
    """
    return SCORES[check_choice(name, "score name", sorted(SCORES))]


# --------------------------------------------------------------------------------------------
# Scores from embeddings
# --------------------------------------------------------------------------------------------


def novelty(
    embeddings: Any,
    reference: Any,
    *,
    metric: str = "euclidean",
    batch_size: int | None = None,
    search: str = "auto",
    device: Any = None,
) -> np.ndarray:
    """Distance from each embedding to its nearest reference embedding.

    Parameters
    ----------
    embeddings : (N, D) float array
        Candidates.
    reference : (M, D) float array, M >= 1
        What the user already has (e.g. the current test set).
    metric : {"euclidean", "cosine"}
        Euclidean distance, or cosine distance ``1 - cos`` (in ``[0, 2]``).
    batch_size : int or None
        Query rows per block (None: automatic, blocks of about 64 MB); see
        :func:`nearest_neighbors`.
    search, device
        Exact or approximate search, and where it runs; see :mod:`dataperf.neighbors`.

    Returns
    -------
    (N,) float64 array, ``>= 0``; 0 for an exact copy of a reference row.
    """
    if reference is not None and np.size(reference) == 0:
        raise InputValueError(
            f"reference is empty ({describe(reference)}); novelty needs at least one "
            "reference embedding. Pass the embeddings of the set to be novel against."
        )
    dist, _ = nearest_neighbors(
        embeddings, reference, 1, metric=metric, batch_size=batch_size, search=search, device=device
    )
    return dist[:, 0]


def density(
    embeddings: Any,
    reference: Any = None,
    *,
    k: int = 10,
    metric: str = "euclidean",
    batch_size: int | None = None,
    search: str = "auto",
    device: Any = None,
) -> np.ndarray:
    """In-distribution density: minus the mean distance to the k nearest reference points.

    Higher = denser = more typical of the reference set (values are ``<= 0``; 0 when the k
    nearest reference points coincide with the embedding). Useful as one signal of
    labelability: a point far from all training data is out of distribution.
    :func:`typicality` is the same function under another name.

    Parameters
    ----------
    embeddings : (N, D) float array
        Points to score.
    reference : (M, D) float array or None
        Points that define the distribution (e.g. training embeddings). None: the embeddings
        themselves, each point excluding itself (so ``k <= N - 1``).
    k : int
        Number of neighbours, ``1 <= k <= M``.
    metric : {"euclidean", "cosine"}
        Distance used.
    batch_size : int or None
        Query rows per block; see :func:`nearest_neighbors`.
    search, device
        Exact or approximate search, and where it runs; see :mod:`dataperf.neighbors`.

    Returns
    -------
    (N,) float64 array, ``<= 0``.
    """
    opts = {"metric": metric, "batch_size": batch_size, "search": search, "device": device}
    if reference is None:
        dist, _ = nearest_neighbors(embeddings, embeddings, k, exclude_self=True, **opts)
    else:
        dist, _ = nearest_neighbors(embeddings, reference, k, **opts)
    return -dist.mean(axis=1)


#: Alias of :func:`density` (higher = more typical of the reference set).
typicality = density


def knn_label_agreement(
    embeddings: Any,
    reference: Any,
    reference_labels: Any,
    *,
    k: int = 10,
    probs: Any = None,
    metric: str = "euclidean",
    batch_size: int | None = None,
    search: str = "auto",
    device: Any = None,
) -> np.ndarray:
    """Fraction of the k nearest labelled reference points whose label is the predicted class.

    For row ``i``: ``mean_j [reference_labels[nn_j(i)] == argmax(probs[i])]`` over its k
    nearest reference rows ``nn_1(i) .. nn_k(i)`` (with the exact search, of points tied at
    the k-th distance the lowest indices). Higher = the labelled neighbourhood agrees with the
    model's prediction; 0 means none of the neighbours carries the predicted class. Values are
    multiples of 1/k in ``[0, 1]``. ``argmax`` takes the lowest class index on ties.

    Parameters
    ----------
    embeddings : (N, D) float array
        Points to score.
    reference : (M, D) float array
        Labelled points (e.g. training embeddings).
    reference_labels : (M,) int array
        Their class indices in ``[0, K)``.
    k : int
        Number of neighbours, ``1 <= k <= M``.
    probs : (N, K) float array
        Required: the model's softmax outputs for ``embeddings``.
    metric : {"euclidean", "cosine"}
        Distance used.
    batch_size : int or None
        Query rows per block; see :func:`nearest_neighbors`.
    search, device
        Exact or approximate search, and where it runs; see :mod:`dataperf.neighbors`.

    Returns
    -------
    (N,) float64 array in ``[0, 1]``.
    """
    if probs is None:
        raise InputTypeError(
            "knn_label_agreement needs probs=(N, K) softmax outputs for the embeddings "
            "(the predicted class is their argmax); got probs=None."
        )
    p = check_probs(probs)
    x = check_embeddings(embeddings, "embeddings")
    if p.shape[0] != x.shape[0]:
        raise InputValueError(
            f"probs must have one row per embedding: expected {x.shape[0]} rows, got "
            f"{p.shape[0]}. Take both from the same examples."
        )
    ref = check_embeddings(reference, "reference", dim=x.shape[1])
    y = check_labels(reference_labels, ref.shape[0], p.shape[1], name="reference_labels")
    _, idx = nearest_neighbors(
        x, ref, k, metric=metric, batch_size=batch_size, search=search, device=device
    )
    pred = p.argmax(axis=1)
    return (y[idx] == pred[:, None]).mean(axis=1)
