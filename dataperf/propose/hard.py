"""The ``hard`` component: how likely the model is wrong on a candidate.

Pure functions over arrays: :func:`fit_temperature` (temperature scaling on labelled data),
:func:`error_probability` (the model's own estimate) and :func:`neighbor_disagreement` (its
labelled neighbours' estimate). :class:`dataperf.propose.sampler.HardnessSampler` averages the
last two.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "error_probability",
    "fit_temperature",
    "neighbor_disagreement",
    "neighbor_shares",
    "softmax_t",
    "top_classes",
]


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, 1e-12, 1.0))


def softmax_t(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(probs) / temperature)`` row by row: ``(N, K)`` probabilities."""
    z = _log(probs) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """Temperature ``T`` minimising the log loss of ``softmax(log(probs) / T)`` on labelled data.

    Temperature scaling (Guo et al., 2017): ``T > 1`` softens an over-confident model,
    ``T < 1`` sharpens an under-confident one; the argmax never changes. Searched in
    ``[0.05, 20]`` on a log scale.
    """
    from scipy.optimize import minimize_scalar

    logp = _log(probs)
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[rows, labels]))

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def error_probability(
    probs: np.ndarray, *, temperature: float = 1.0, labels: np.ndarray | None = None
) -> np.ndarray:
    """Estimated probability that the model's prediction is wrong, per row.

    ``1 - max softmax(log(probs) / temperature)``; with ``labels``, the probability the model
    does not give the true label, ``1 - p[label]``.
    """
    p = softmax_t(probs, temperature) if temperature != 1.0 else probs
    if labels is not None:
        return 1.0 - p[np.arange(len(p)), labels]
    return 1.0 - p.max(axis=1)


def top_classes(probs: np.ndarray, n: int) -> np.ndarray:
    """(N, min(n, K)) int array: each row's ``n`` most probable classes, most probable first
    (ties to the lower class, as ``argmax``)."""
    return np.argsort(-probs, axis=1, kind="stable")[:, :n]


def neighbor_shares(
    classes: np.ndarray, dist: np.ndarray, idx: np.ndarray, labels: np.ndarray, k: int
) -> np.ndarray:
    """Share of each candidate's ``k`` nearest labelled examples labelled with each of its
    given classes.

    Parameters
    ----------
    classes : (N, C) int array
        The classes to count per candidate (e.g. its top-2 predicted classes).
    dist, idx : (N, M) arrays
        Distances to labelled examples and their positions in ``labels``, ``M >= k``; the
        columns need not be sorted (e.g. several searches side by side). The ``k`` nearest
        are taken, ties to the lower position.
    labels : (L,) int array
        The labels of the labelled examples.
    k : int

    Returns
    -------
    (N, C) float array in ``[0, 1]``.
    """
    order = np.lexsort((idx, dist), axis=1)[:, :k]
    neighbour_labels = labels[np.take_along_axis(idx, order, 1)]
    return (neighbour_labels[:, None, :] == classes[:, :, None]).mean(axis=2)


def neighbor_disagreement(
    predictions: np.ndarray, dist: np.ndarray, idx: np.ndarray, labels: np.ndarray, k: int
) -> np.ndarray:
    """Share of each candidate's ``k`` nearest labelled examples whose label is not its
    predicted class: ``1 -`` :func:`neighbor_shares` of ``predictions``. (N,) in ``[0, 1]``."""
    return 1.0 - neighbor_shares(predictions[:, None], dist, idx, labels, k)[:, 0]
