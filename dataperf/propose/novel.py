"""The ``novel`` component: how unlike the current test set a candidate is.

:func:`novelty_score` works from embeddings; :func:`novelty_from_search` from a nearest-test
search already run.
"""

from __future__ import annotations

import numpy as np

from dataperf.propose.space import Space, calibration_rows, conformal_pvalue, space

__all__ = ["COPY_LEVEL", "novelty_from_search", "novelty_score"]

#: Candidates nearer the test set than this fraction of genuinely new examples are near-copies.
COPY_LEVEL = 0.05


def novelty_score(
    pool: np.ndarray, test: np.ndarray, *, level: float = COPY_LEVEL, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """How unlike the test set each candidate is, in ``[0, 1]``.

    ``d`` = distance to the nearest test row. A genuinely new example drawn like the test set
    is about as far from the test set as a test example is from the *other* test examples, so
    the leave-one-out nearest-neighbour distances ``c`` within the test set are the
    yardstick: ``novel = min(1, q / level)``, with ``q`` the (lower-tail) conformal p-value of
    ``d`` among ``c``. Candidates nearer to the test set than all but a ``level`` share of new
    examples (near-copies) score near 0. Distances are Euclidean between the given rows.

    Returns ``(novel, d, nearest, spacing)``: the score, the distances, the nearest test row,
    and the median leave-one-out distance (the typical spacing between neighbours).
    """
    sp = space("euclidean", test=test)
    dist, idx = sp.knn("test", pool, 1)
    return novelty_from_search(sp, "test", dist[:, 0], idx[:, 0], level, seed)


def novelty_from_search(
    space: Space, test: str, d: np.ndarray, nearest: np.ndarray, level: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """:func:`novelty_score` from the distances ``d`` (N,) of the candidates to their nearest
    row ``nearest`` (N,) of the set ``test`` of ``space``."""
    m = space.size(test)
    if m < 2:
        return np.ones(len(d)), d, nearest, float(np.median(d)) if len(d) else 1.0
    c = space.loo_stat(test, calibration_rows(m, seed), 1)
    # the share of new examples at most as far as the candidate
    novel = np.minimum(1.0, conformal_pvalue(-d, -c) / level)
    return novel, d, nearest, float(np.median(c))
