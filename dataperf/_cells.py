"""The k-means cells of the approximate neighbour search (private).

:func:`build_cells` splits the reference rows of a :class:`dataperf.neighbors.NeighborIndex`
into ``CELLS_PER_SQRT * sqrt(M)`` cells with faiss k-means (trained on a seeded sample) and
lists, for each cell, the reference rows of the cells probed around it: the ``PROBES`` nearest
cells, or more until they hold ``MIN_PROBED_ROWS`` rows. :func:`nearest_centroid` assigns rows
to cells. The search itself (queries grouped by their nearest cell, each group searched exactly
among the rows probed around it) is ``NeighborIndex._approximate``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dataperf._distances import chunks

__all__ = ["CELLS_PER_SQRT", "MIN_PROBED_ROWS", "PROBES", "build_cells", "nearest_centroid"]

#: The approximate search makes ``CELLS_PER_SQRT * sqrt(M)`` k-means cells of the reference...
CELLS_PER_SQRT = 2
#: ... and searches each query among the rows of the ``PROBES`` cells nearest to its own cell,
#: or of more cells until they hold ``MIN_PROBED_ROWS`` rows (cheap for small references).
PROBES = 8
MIN_PROBED_ROWS = 4096


def build_cells(faiss: Any, r32: Any, *, seed: int, block_bytes: int) -> tuple:
    """k-means cells of the reference rows ``r32`` ((M, D) float32 tensor, as the exact search
    holds them: centred and scaled), trained with the ``faiss`` module on a sample drawn with
    ``seed``; ``block_bytes`` bounds each block of scores.

    Returns ``(centroids, members)``: the (C, D) centroids, and for each cell the positions of
    the reference rows to search for queries nearest to it.
    """
    import torch

    m, d = r32.shape
    device = r32.device
    ncells = max(1, min(int(CELLS_PER_SQRT * math.sqrt(m)), m // 8))
    rng = np.random.default_rng(seed)
    size = min(m, 40 * ncells)
    sample = np.sort(rng.choice(m, size, replace=False))
    train = r32[torch.from_numpy(sample)].cpu().numpy()
    kmeans = faiss.Kmeans(d, ncells, niter=10, seed=seed + 1, verbose=False)
    kmeans.train(np.ascontiguousarray(train))
    centroids = torch.from_numpy(kmeans.centroids).to(device)
    cell = nearest_centroid(r32, centroids, block_bytes)
    order = torch.argsort(cell, stable=True)
    bounds = torch.searchsorted(cell[order], torch.arange(ncells + 1, device=device))
    # the PROBES nearest cells, and more while they hold fewer than MIN_PROBED_ROWS
    sizes = (bounds[1:] - bounds[:-1]).cpu().numpy()
    most = min(ncells, max(PROBES, 4 * math.ceil(MIN_PROBED_ROWS * ncells / m)))
    near = torch.cdist(centroids, centroids).topk(most, largest=False).indices.cpu()
    members = []
    for g in range(ncells):
        cells = near[g].numpy()
        held = np.cumsum(sizes[cells])
        count = max(min(PROBES, most), int(np.searchsorted(held, MIN_PROBED_ROWS)) + 1)
        members.append(
            torch.cat([order[bounds[p] : bounds[p + 1]] for p in cells[:count].tolist()])
        )
    return centroids, members


def nearest_centroid(x: Any, centroids: Any, block_bytes: int) -> Any:
    """Index of the nearest centroid of each row (one matrix product per chunk of rows, each
    block of scores at most about ``block_bytes``)."""
    import torch

    cn = (centroids * centroids).sum(1)
    step = max(1, block_bytes // (4 * len(centroids)))
    return torch.cat(
        [
            torch.addmm(cn[None], x[a:b], centroids.T, alpha=-2).argmin(1)
            for a, b in chunks(len(x), step)
        ]
    )
