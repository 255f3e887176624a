"""Exact distances of the neighbour search (private).

Both searches of :mod:`dataperf.neighbors` find candidates with float32 products, then settle
the answer in float64 with these:

- :func:`rows64` -- rows as float64 points of the search (unit rows for the cosine metric, else
  multiplied by an exact power of two), always a fresh copy.
- :func:`rerank` -- the k best candidates of each query by exact ``(distance, index)``, with
  distances computed from the differences of the float64 rows.
- :func:`own_columns`, :func:`drop_own` -- where each query's own row is, for ``exclude_self``.
- :func:`chunks` -- the ``[a, b)`` ranges that a search walks in blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._validate import read_rows, release_pages, row_norms

__all__ = ["chunks", "drop_own", "own_columns", "rerank", "rows64"]


def rows64(
    a: np.ndarray, rows: Any, metric: str, name: str = "embeddings", scale: float = 1.0
) -> np.ndarray:
    """``a[rows]`` as a new float64 array, scaled to unit length for the cosine metric, else
    multiplied by ``scale`` (a power of two: exact).

    Always a fresh (aligned) copy, so that a row gives the same bits wherever it sits: NumPy's
    vectorised sums may depend on the alignment of the memory they read.
    """
    if isinstance(rows, slice) and rows.step in (None, 1):  # memory maps: read, do not map
        start, stop, _ = rows.indices(len(a))
        out = np.array(read_rows(a, start, stop), dtype=np.float64)
    else:
        out = np.array(a[rows], dtype=np.float64)
        if np.size(rows) >= 256:  # scattered reads of a memory map: do not keep its pages
            release_pages(a)
    if metric == "cosine":
        norms = row_norms(out)
        if (norms == 0).any():
            bad = int(np.arange(len(a))[rows][np.argmin(norms)])
            raise InputValueError(
                f"{name} has an all-zero row (index {bad}); the cosine metric is undefined for "
                "it. Use metric='euclidean' or drop zero rows."
            )
        out /= norms[:, None]
    elif scale != 1.0:
        out *= scale
    return out


def _exact_distances(
    q: np.ndarray, ref: np.ndarray, idx: np.ndarray, metric: str, scale: float
) -> np.ndarray:
    """(b, c) Euclidean distances from each query row to its candidate rows, from differences
    (reference rows multiplied by ``scale``, as the queries are)."""
    rows = rows64(ref, idx.ravel(), metric, "reference", scale).reshape(*idx.shape, -1)
    diff = rows - q[:, None, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))


def chunks(n: int, size: int) -> Any:
    """The ranges ``(a, b)`` that cover ``range(n)`` in steps of ``size``."""
    return ((a, min(a + size, n)) for a in range(0, n, size))


def own_columns(
    own: np.ndarray, a: int, b: int, local: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(query row, block column) of each query's own reference row inside block ``[a, b)``;
    ``local`` maps block columns to reference positions when the search is restricted."""
    if local is None:
        hit = (own >= a) & (own < b)
        return np.flatnonzero(hit), own[hit] - a
    where = {int(r): j for j, r in enumerate(local[a:b])}
    pairs = [(i, where[int(o)]) for i, o in enumerate(own) if int(o) in where]
    rows, cols = zip(*pairs, strict=True) if pairs else ((), ())
    return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)


def drop_own(
    idx: np.ndarray, dist: np.ndarray | None, own: np.ndarray, c: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Drop each row's own index (or, when absent, its last candidate), keeping ``c``."""
    hit = idx == own[:, None]
    hit[~hit.any(axis=1), -1] = True
    keep = ~hit
    return idx[keep].reshape(len(idx), c), None if dist is None else dist[keep].reshape(-1, c)


def rerank(
    q: np.ndarray, ref: np.ndarray, cand: np.ndarray, k: int, metric: str, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """The k best candidates of each query by exact ``(distance, index)``."""
    dist = _exact_distances(q, ref, cand, metric, scale)
    order = np.lexsort((cand, dist), axis=1)[:, :k]
    return np.take_along_axis(dist, order, 1), np.take_along_axis(cand, order, 1)
