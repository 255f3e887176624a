"""What the test-data components share: embedding sets in one geometry, each with its
neighbour index (:class:`dataperf.neighbors.NeighborIndex`), and conformal calibration."""

from __future__ import annotations

from typing import Any

import numpy as np

from dataperf.neighbors import NeighborIndex

__all__ = ["CALIBRATION_MAX", "Space", "calibration_rows", "conformal_pvalue", "space"]

#: Reference sets larger than this are subsampled (seeded) for calibration statistics.
CALIBRATION_MAX = 5000


class Space:
    """Embedding sets in one geometry, each with its neighbour index (built once, reused).

    Distances are Euclidean: between L2-normalised rows for ``metric="cosine"`` (the chord
    ``sqrt(2 - 2 cos)``), between raw rows for ``"euclidean"``.
    """

    def __init__(self, metric: str, search: str, device: Any, seed: int) -> None:
        self.metric, self.search, self.device, self.seed = metric, search, device, seed
        self._indexes: dict[str, NeighborIndex] = {}

    def add(self, name: str, embeddings: np.ndarray) -> None:
        self._indexes[name] = NeighborIndex(
            embeddings, metric=self.metric, search=self.search, device=self.device, seed=self.seed
        )

    def size(self, name: str) -> int:
        return len(self._indexes[name])

    def knn(self, name: str, x: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._indexes[name].query(x, k, chord=True)

    def rows(self, name: str, rows: Any) -> np.ndarray:
        """Rows of set ``name`` as float64 points of this geometry."""
        return self._indexes[name].rows(rows)

    def loo_stat(self, name: str, rows: np.ndarray, k: int) -> np.ndarray:
        """Mean distance of rows ``rows`` of set ``name`` to their k nearest *other* rows."""
        index = self._indexes[name]
        dist, idx = index.query(index.reference[rows], k + 1, chord=True)
        own = idx == rows[:, None]
        own[~own.any(axis=1), -1] = True
        return dist[~own].reshape(len(rows), k).mean(axis=1)


def space(metric: str, **sets: Any) -> Space:
    """A :class:`Space` (automatic search, default device, seed 0) holding the given sets;
    a set given as None is left out."""
    out = Space(metric, "auto", None, 0)
    for name, x in sets.items():
        if x is not None:
            out.add(name, x)
    return out


def conformal_pvalue(values: np.ndarray, calibration: np.ndarray) -> np.ndarray:
    """Upper-tail conformal p-value of each value among ``calibration``, with a smooth tail.

    ``p = (1 + #{calibration >= value}) / (1 + n)``: small when ``value`` is larger than almost
    all calibration values. Beyond the largest calibration value it keeps falling,
    ``p = exp(-(value - max) / iqr) / (1 + n)``, with ``iqr`` the interquartile range of the
    calibration values, so a far outlier scores far lower than a value just past the maximum
    (a small calibration set cannot cap the evidence). Never exactly 0.
    """
    cal = np.sort(calibration)
    n = len(cal)
    at_least = n - np.searchsorted(cal, values, side="left")
    p = (1.0 + at_least) / (1.0 + n)
    q1, q3 = np.quantile(cal, [0.25, 0.75])
    scale = q3 - q1 if q3 > q1 else max(float(np.std(cal)), 1e-12)
    beyond = values > cal[-1]
    p[beyond] *= np.exp(-(values[beyond] - cal[-1]) / scale)
    return p


def calibration_rows(n: int, seed: int) -> np.ndarray:
    """The rows of an ``n``-row set used for calibration statistics: all of them, or a
    seeded sorted sample of :data:`CALIBRATION_MAX` when larger."""
    if n <= CALIBRATION_MAX:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, CALIBRATION_MAX, replace=False))
