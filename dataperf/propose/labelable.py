"""The ``labelable`` component: whether a person can give a candidate one label.

A candidate is *unlabelable* when it does not look like the data people labelled before
(:func:`typicality`: it lies where no training or test example lies -- noise, other domains,
blends that fall between the class clusters) or, with MC-dropout samples, when its uncertainty
is mostly aleatoric (:func:`unambiguity`: the input itself is ambiguous).
:func:`labelability` is both, from embeddings; :func:`typicality_stats` gives the distance
statistics from searches already run.
"""

from __future__ import annotations

import numpy as np

from dataperf.propose.space import Space, calibration_rows, conformal_pvalue, space
from dataperf.scores import bald, entropy

__all__ = [
    "TYPICAL_LEVEL",
    "combine",
    "labelability",
    "typicality",
    "typicality_stats",
    "unambiguity",
]

#: Above this p-value a candidate counts as fully typical (``labelable`` = 1 from density).
TYPICAL_LEVEL = 0.05


def labelability(
    pool: np.ndarray,
    reference: np.ndarray | None,
    calibration: np.ndarray | None = None,
    *,
    mc_probs: np.ndarray | None = None,
    k: int = 10,
    level: float = TYPICAL_LEVEL,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """How likely a person can label each candidate, in ``[0, 1]``, and its parts.

    1. **Typicality** (always): the mean distance ``s`` from the candidate to its ``k`` nearest
       ``reference`` embeddings (the training set, else the test set) is compared with the same
       statistic for ``calibration`` embeddings -- examples known to be labelable that the
       model did not train on (the test set). The conformal p-value
       ``p = (1 + #{calibration s >= candidate s}) / (1 + n)`` says how unusual the candidate
       is among real labelled examples; ``typical = min(1, p / level)``. Noise, other
       domains and off-manifold blends are farther from the reference than almost every real
       example, so ``typical`` goes to ~0; any candidate at least as typical as the ``level``
       most unusual real examples gets 1. Without calibration embeddings the reference itself
       is used, each point leaving itself out.
    2. **Unambiguity** (with ``mc_probs``, (N, T, K) MC-dropout samples): the share of the
       predictive entropy that is epistemic, ``BALD / H[mean p]``, rescaled so that the
       median candidate gets 1: an input whose uncertainty the dropout samples all agree on
       (high aleatoric, low epistemic) is ambiguous in itself.

    Distances are Euclidean between the given rows. Returns ``(labelable, parts)`` with
    ``parts`` holding ``typical``, ``typicality_pvalue`` and (with ``mc_probs``)
    ``unambiguous``.
    """
    sp = space("euclidean", pool=pool, reference=reference)
    s_pool, s_cal = typicality_stats(sp, "pool", pool, "reference", calibration, k, seed)
    return combine(s_pool, s_cal, mc_probs, level)


def typicality_stats(
    space: Space,
    pool_name: str,
    pool: np.ndarray,
    reference: str | None,
    calibration: np.ndarray | None,
    k: int,
    seed: int,
    pool_dist: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean k-NN distances of the pool and of the calibration rows to the reference set.

    ``space`` holds the pool as ``pool_name`` and the reference set as ``reference`` (None:
    judge the pool by itself, each point leaving itself out); ``pool_dist``: the pool's sorted
    neighbour distances to the reference, when already searched. The calibration statistics
    are None when there is nothing to compare with (one reference point).
    """
    n = len(pool)
    if reference is None:  # judge the pool by itself, each point leaving itself out
        if n < 2:
            return np.zeros(n), np.zeros(n)
        s_pool = space.loo_stat(pool_name, np.arange(n), min(k, n - 1))
        return s_pool, s_pool
    m = space.size(reference)
    kk = min(k, m)
    if pool_dist is None:
        pool_dist = space.knn(reference, pool, kk)[0]
    s_pool = pool_dist[:, :kk].mean(axis=1)
    if calibration is not None:
        cal = calibration[calibration_rows(len(calibration), seed)]
        return s_pool, space.knn(reference, cal, kk)[0].mean(axis=1)
    if m >= 2:
        return s_pool, space.loo_stat(reference, calibration_rows(m, seed), min(k, m - 1))
    return s_pool, None  # one reference point: nothing to compare with, every item is typical


def typicality(
    s_pool: np.ndarray, s_cal: np.ndarray | None, *, level: float = TYPICAL_LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """``(typical, pvalue)``, both (N,): the conformal p-value of each pool statistic among
    the calibration statistics (1 without them) and ``min(1, pvalue / level)``."""
    pvalue = np.ones(len(s_pool)) if s_cal is None else conformal_pvalue(s_pool, s_cal)
    return np.minimum(1.0, pvalue / level), pvalue


def unambiguity(mc_probs: np.ndarray) -> np.ndarray:
    """(N,) in ``[0, 1]`` from (N, T, K) MC-dropout samples: the epistemic share of the
    predictive entropy, ``BALD / H[mean p]``, divided by its median and capped at 1."""
    total = entropy(mc_probs.mean(axis=1))
    share = bald(mc_probs) / np.maximum(total, 1e-12)
    median = np.median(share)
    return np.minimum(1.0, share / median) if median > 0 else np.ones_like(share)


def combine(
    s_pool: np.ndarray,
    s_cal: np.ndarray | None,
    mc_probs: np.ndarray | None,
    level: float,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(labelable, parts)`` from the typicality statistics and (optional) MC samples:
    ``typical``, times ``unambiguous`` with ``mc_probs``."""
    typical, pvalue = typicality(s_pool, s_cal, level=level)
    parts = {"typical": typical, "typicality_pvalue": pvalue}
    labelable = typical
    if mc_probs is not None:
        unambiguous = unambiguity(mc_probs)
        parts["unambiguous"] = unambiguous
        labelable = labelable * unambiguous
    return labelable, parts
