"""The one neighbour search of the library: exact (torch, CPU or CUDA) or approximate (faiss).

Every k-nearest-neighbour question in dataperf -- the sampler's typicality, novelty and
neighbour disagreement, :func:`dataperf.scores.novelty` / ``density`` / ``knn_label_agreement``,
``find_label_issues(method="knn" | "ensemble")``, facility location, the KNN label-agreement
value proxy -- goes through :class:`NeighborIndex` (or its one-call form
:func:`nearest_neighbors`).

Distances
---------
Rows are taken in float64. ``metric="euclidean"``: the Euclidean distance. ``metric="cosine"``:
rows are scaled to unit length and the distance is ``1 - cos = ||u - v||^2 / 2``. Returned
distances are always computed directly from the differences of the float64 rows (no
cancellation), so they neither overflow nor lose precision for large or tiny embeddings.

Searches
--------
``"exact"``
    The result equals a float64 brute force, ties included: neighbours are ordered by
    ``(distance, index)``, so of several points tied at the k-th distance the lowest indices are
    kept. Candidates come from chunked float32 matrix products in torch (``||r||^2 - 2 q.r`` on
    centred rows, on the CPU or CUDA, memory bounded by the chunk sizes); the ``k + EXTRA``
    best candidates of each query are re-ranked exactly, and a rigorous bound on the float32
    rounding error proves that no point outside them can be nearer than the k-th. The few
    queries where the proof fails (many points within rounding distance of the k-th) are redone
    in float64, and if need be from differences against every reference row. In at most 16
    dimensions on the CPU an exact k-d tree (scikit-learn) supplies the candidates instead.
``"approximate"``
    An inverted-file search: faiss k-means splits the reference into ``2 sqrt(M)`` cells;
    queries are grouped by their nearest cell, and each group is searched, exactly as above
    (float32 products in torch, re-ranked in float64), among the rows of the 8 cells nearest
    its own (more cells while they hold fewer than 4,096 rows). Only a neighbour outside
    those cells can be missed; returned distances are exact. Grouping turns the search into a
    few large matrix products instead of one scan per query: on two CPU cores, 10^6 queries
    against 10^6 rows of 512 dimensions take about 8 minutes, where faiss's own
    ``IndexIVFFlat`` takes over ten for the queries alone. (A PCA inside the index was tried
    and dropped: on clustered 512-dimensional data with isotropic spread, a 64- or
    128-dimensional PCA kept only 0.11-0.43 of the true 10 nearest among 28-100 candidates.)
    Needs the optional package ``faiss-cpu`` for the k-means (``pip install
    "dataperf[scale]"``). :func:`recall_at_k` measures what it reaches on your data.
``"auto"`` (default)
    Exact, unless the search is large (``N * M * D`` multiply-adds above
    :data:`EXACT_MAX_WORK_CPU` on the CPU), the reference has at least
    :data:`APPROX_MIN_REFERENCE` rows and faiss is installed. On CUDA, always exact.

:class:`NeighborIndex` runs both searches. The float64 side they share (reading rows, the exact
re-rank) is in :mod:`dataperf._distances`, the k-means cells of the approximate search in
:mod:`dataperf._cells`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from dataperf._cells import CELLS_PER_SQRT as CELLS_PER_SQRT  # importable from here too
from dataperf._cells import MIN_PROBED_ROWS as MIN_PROBED_ROWS
from dataperf._cells import PROBES as PROBES
from dataperf._cells import build_cells, nearest_centroid
from dataperf._distances import chunks, drop_own, own_columns, rerank, rows64
from dataperf._errors import InputValueError
from dataperf._optional import require
from dataperf._validate import (
    check_batch_size,
    check_choice,
    check_count,
    check_embeddings,
    pow2_scale,
    read_rows,
    resolve_device,
)

__all__ = [
    "APPROX_MIN_REFERENCE",
    "EXACT_MAX_WORK_CPU",
    "METRICS",
    "SEARCHES",
    "NeighborIndex",
    "check_search",
    "nearest_neighbors",
    "recall_at_k",
]

METRICS = ("euclidean", "cosine")
SEARCHES = ("auto", "exact", "approximate")

#: "auto" searches exactly on the CPU while N * M * D (multiply-adds) stays below this
#: (about half a minute of float32 products on two cores).
EXACT_MAX_WORK_CPU = 2e12
#: "auto" never builds an approximate index for fewer reference rows than this.
APPROX_MIN_REFERENCE = 20_000
#: Candidates beyond k that the exact search re-ranks per query.
EXTRA = 16
#: Up to this many dimensions the exact CPU search takes its candidates from a k-d tree.
KD_TREE_MAX_DIM = 16
#: Target bytes of one block of scores (queries x reference rows) or of gathered rows.
BLOCK_BYTES = 64 * 2**20

_U64 = 2.0**-53


def check_search(search: Any) -> str:
    """Validate a ``search=`` option and return it."""
    if search not in SEARCHES:
        raise InputValueError(
            f"search must be one of {list(SEARCHES)}; got {search!r}. 'exact' equals a brute "
            "force, 'approximate' searches k-means cells (needs faiss), 'auto' picks by size and "
            "device."
        )
    return search


def _check_metric(metric: Any) -> str:
    return check_choice(metric, "metric", METRICS)


def _check_batch(value: Any, name: str) -> int | None:
    return check_batch_size(value, name)


def _matmul_roundoff(device: Any) -> float:
    """Unit roundoff of torch float32 matrix products under the current precision setting."""
    import torch

    mode = torch.get_float32_matmul_precision()
    if mode == "highest" and not (device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32):
        return 2.0**-24
    return 2.0**-8 if mode == "medium" else 2.0**-11  # bfloat16 / TF32 products


class NeighborIndex:
    """A reference set prepared for k-nearest-neighbour queries.

    Build it once, query it many times (the sampler asks the training set for several query
    sets); the preparation (float32 copy on the device, k-d tree, k-means cells) is made on
    first use and reused.

    Parameters
    ----------
    reference : (M, D) float array
        The rows to search; a memory-mapped array is read in chunks.
    metric : {"euclidean", "cosine"}
    search : {"auto", "exact", "approximate"}
        See the module documentation.
    device : str or torch.device, optional
        Where the exact search runs; None: CUDA when available, else the CPU.
    seed : int
        Seeds the sample the k-means cells of the approximate search are trained on.
    """

    def __init__(
        self,
        reference: Any,
        *,
        metric: str = "euclidean",
        search: str = "auto",
        device: Any = None,
        seed: int = 0,
    ) -> None:
        self.metric = _check_metric(metric)
        self.search = check_search(search)
        self.reference = check_embeddings(reference, "reference")
        self.device = resolve_device(device)
        self.seed = seed
        self._torch: tuple | None = None
        self._tree: Any = None
        self._cells_state: tuple | None = None
        self._scale: float | None = None

    def __len__(self) -> int:
        return self.reference.shape[0]

    @property
    def scale(self) -> float:
        """The power of two that every row is multiplied by inside the search (1 for the
        cosine metric), so that the largest reference value is near 1: squares and products
        of huge (1e160) or tiny (1e-160) embeddings neither overflow nor underflow. Exact, so
        distances are the same as unscaled ones, divided back at the end."""
        if self._scale is None:
            top = 0.0
            if self.metric == "euclidean":
                step = max(1, BLOCK_BYTES // (8 * max(1, self.reference.shape[1])))
                for a, b in chunks(len(self), step):
                    block = np.abs(read_rows(self.reference, a, b))
                    top = max(top, float(block.max()) if block.size else 0.0)
            self._scale = pow2_scale(top)
        return self._scale

    # ------------------------------------------------------------------ the query
    def query(
        self,
        x: Any,
        k: int,
        *,
        exclude_self: bool = False,
        batch_size: int | None = None,
        chord: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest reference rows of each row of ``x``.

        Parameters
        ----------
        x : (N, D) float array
            Query rows.
        k : int
            ``1 <= k <= M`` (``<= M - 1`` with ``exclude_self``).
        exclude_self : bool
            ``x`` is the reference itself: query ``i`` never matches reference row ``i``
            (duplicates at other positions still do).
        batch_size : int, optional
            Query rows per chunk; None sizes chunks to about 64 MB.
        chord : bool
            With ``metric="cosine"``, return the Euclidean distance between the unit rows,
            ``sqrt(2 - 2 cos)``, instead of ``1 - cos`` (same order).

        Returns
        -------
        distances : (N, k) float64 array, ascending along each row.
        indices : (N, k) int64 array, reference rows; equal distances are ordered by index.
        """
        ref = self.reference
        m, d = ref.shape
        x = check_embeddings(x, "embeddings", dim=d)
        n = x.shape[0]
        if exclude_self and n != m:
            raise InputValueError(
                f"exclude_self needs x and reference to be the same rows; got {n} and {m} rows."
            )
        k = check_count(
            k,
            m - 1 if exclude_self else m,
            what="other points" if exclude_self else "reference points",
        )
        bs = _check_batch(batch_size, "batch_size")
        if self.method_for(n, k) == "approximate":
            dist, idx = self._approximate(x, k, exclude_self, bs)
        else:
            dist, idx = self._exact(x, k, exclude_self, bs)
        dist = dist / self.scale  # exact: a power of two
        return (dist**2 / 2.0 if self.metric == "cosine" and not chord else dist), idx

    def rows(self, rows: Any) -> np.ndarray:
        """Reference rows as float64 points of the search (unit rows for the cosine metric)."""
        return rows64(self.reference, rows, self.metric, "reference")

    def method_for(self, n: int, k: int = 10) -> str:
        """Which search a query of ``n`` rows runs: ``"exact"`` or ``"approximate"``."""
        m, d = self.reference.shape
        if self.search != "auto":
            return self.search
        small = m < APPROX_MIN_REFERENCE or float(n) * m * d <= EXACT_MAX_WORK_CPU
        if self.device.type == "cuda" or small or k >= m // 2:
            return "exact"
        try:
            import faiss  # noqa: F401
        except ImportError:
            warnings.warn(
                f"search='auto' would use an approximate index for {n:,} x {m:,} rows, but "
                "faiss is not installed, so the exact search runs (slow at this size). Install "
                'it with: pip install "dataperf[scale]" (or pass search="exact" to silence this).',
                stacklevel=4,
            )
            return "exact"
        return "approximate"

    # ------------------------------------------------------------------ exact
    def _exact(
        self, x: np.ndarray, k: int, exclude_self: bool, bs: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        n, d = x.shape
        m = len(self)
        c = min(k + EXTRA, m - 1 if exclude_self else m)
        use_tree = self.device.type == "cpu" and d <= KD_TREE_MAX_DIM
        if bs is None:  # the re-rank gathers (b, c, D) float64 rows
            bs = max(1, min(2048, BLOCK_BYTES // (8 * (c + 1) * d)))
        out_d = np.empty((n, k), dtype=np.float64)
        out_i = np.empty((n, k), dtype=np.int64)
        for q0, q1 in chunks(n, bs):
            q = rows64(x, slice(q0, q1), self.metric, scale=self.scale)
            own = np.arange(q0, q1) if exclude_self else None
            if use_tree:
                cand, need = self._tree_candidates(q, k, c, own)
            else:
                cand, need = self._torch_candidates(q, k, c, own)
            proven = need < c  # else: more near-ties than candidates, rounding could hide one
            if c >= m - exclude_self:  # every row is a candidate
                proven[:], need[:] = True, c
            width = max(k, int(need[proven].max())) if proven.any() else k
            dist, idx = rerank(q, self.reference, cand[:, :width], k, self.metric, self.scale)
            if not proven.all():
                rows = np.flatnonzero(~proven)
                dist[rows], idx[rows] = self._brute(q[rows], k, own if own is None else own[rows])
            out_d[q0:q1] = dist
            out_i[q0:q1] = idx
        return out_d, out_i

    def _tree_candidates(
        self, q: np.ndarray, k: int, c: int, own: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The c nearest rows by an exact float64 k-d tree, nearest first, and how many of
        them can tie the k-th nearest within float64 rounding (see :meth:`_torch_candidates`)."""
        if self._tree is None:
            from sklearn.neighbors import KDTree

            self._tree = KDTree(rows64(self.reference, slice(None), self.metric, scale=self.scale))
        kq = min(c + 1, len(self)) if own is not None else c
        dist, idx = self._tree.query(q, k=kq)
        if own is not None:
            idx, dist = drop_own(idx, dist, own, c)
        d = q.shape[1]
        limit = dist[:, k - 1] ** 2 * (1.0 + 32 * (d + 2) * _U64) + 1e-300
        return idx, (dist**2 <= limit[:, None]).sum(axis=1)

    def _torch_state(self) -> tuple:
        """The reference centred and scaled by a power of two (so that float32 neither
        overflows nor underflows) as float32 rows on the device, with its squared norms, the
        mean, the scale and the largest scaled norm."""
        if self._torch is None:
            import torch

            ref, m = self.reference, len(self)
            step = max(1, BLOCK_BYTES // (8 * ref.shape[1]))
            mean = np.zeros(ref.shape[1])
            for a, b in chunks(m, step):
                mean += rows64(ref, slice(a, b), self.metric, "reference", self.scale).sum(axis=0)
            mean /= m
            r_max = 0.0
            for a, b in chunks(m, step):
                r = rows64(ref, slice(a, b), self.metric, "reference", self.scale) - mean
                r_max = max(r_max, float(np.sqrt(np.einsum("ij,ij->i", r, r).max())))
            scale = 2.0 ** -np.round(np.log2(r_max)) if r_max > 0 else 1.0
            blocks, norms = [], []
            for a, b in chunks(m, step):
                r = (rows64(ref, slice(a, b), self.metric, "reference", self.scale) - mean) * scale
                norms.append(np.einsum("ij,ij->i", r, r))
                blocks.append(torch.from_numpy(r.astype(np.float32)).to(self.device))
            rn2 = np.concatenate(norms)
            self._torch = (
                torch.cat(blocks),
                torch.from_numpy(rn2.astype(np.float32)).to(self.device),
                mean,
                scale,
                float(np.sqrt(rn2.max())),
            )
        return self._torch

    def _torch_candidates(
        self, q: np.ndarray, k: int, c: int, own: np.ndarray | None, rows: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The c rows with the smallest float32 scores ``s = ||r||^2 - 2 q.r`` (on centred,
        scaled rows), by increasing score, and how many of them must be re-ranked.

        ``s`` differs from the exact ``||q - r||^2 - ||q||^2`` by at most ``err`` (a rigorous
        bound on float32 rounding). So every row whose exact distance is at most the exact k-th
        has ``s <= s_k + 2 err`` (``s_k``: the k-th smallest score), and every row with
        ``s > s_k + 3 err`` is strictly farther than it, by more than float64 rounding: the
        candidates up to ``s_k + 3 err`` hold the exact answer, ties included. When all c
        candidates are within that limit (``need == c``) some row left out might be too, and
        the query is redone from differences (``-inf`` scores never prove anything).
        ``rows`` (a tensor of reference positions) restricts the search to those rows.
        """
        import torch

        r32, rn2, mean, scale, r_max = self._torch_state()
        if rows is not None:
            r32, rn2 = r32[rows], rn2[rows]
        m, d = r32.shape
        qc = (q - mean) * scale
        qn2 = np.einsum("ij,ij->i", qc, qc)
        q32 = torch.from_numpy(qc.astype(np.float32)).to(self.device)
        step = max(c, BLOCK_BYTES // (4 * len(q)))
        local = None if rows is None or own is None else rows.cpu().numpy()
        best_v = best_i = None
        with torch.inference_mode():
            for a, b in chunks(m, step):
                s = torch.addmm(rn2[None, a:b], q32, r32[a:b].T, alpha=-2)
                if own is not None:
                    hit, col = own_columns(own, a, b, local)
                    s[torch.from_numpy(hit), torch.from_numpy(col)] = math.inf
                v, i = torch.topk(s, min(c, b - a), dim=1, largest=False, sorted=False)
                i += a
                if best_v is not None:
                    v, i = torch.cat([best_v, v], 1), torch.cat([best_i, i], 1)
                    v, pos = torch.topk(v, c, dim=1, largest=False, sorted=False)
                    i = torch.gather(i, 1, pos)
                best_v, best_i = v, i
            best_v, pos = torch.sort(best_v, dim=1)
            best_i = torch.gather(best_i, 1, pos)
            if rows is not None:
                best_i = rows[best_i]
        idx = best_i.cpu().numpy().astype(np.int64)
        v = best_v.double().cpu().numpy()
        u = _matmul_roundoff(self.device)
        qn = np.sqrt(qn2)
        err = 2.0 * (2 * u * r_max**2 + (2 * d + 8) * u * qn * r_max) + 1e-30
        # float64 centring rounds too: a few ulps of the uncentred magnitudes
        far = np.sqrt(mean @ mean) * scale + qn + r_max
        err += 16 * (d + 2) * _U64 * far**2
        need = (v <= (v[:, k - 1] + 3 * err)[:, None]).sum(axis=1)
        need[~np.isfinite(v[:, k - 1]) | (qn > 1e15)] = c  # float32 could not hold the query
        return idx, need

    def _brute(
        self, q: np.ndarray, k: int, own: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact k nearest from differences against every reference row (the last resort)."""
        m, d = self.reference.shape
        step = max(1, BLOCK_BYTES // (8 * d * len(q)))
        dist = np.empty((len(q), m))
        for a, b in chunks(m, step):
            r = rows64(self.reference, slice(a, b), self.metric, "reference", self.scale)
            diff = r[None, :, :] - q[:, None, :]
            dist[:, a:b] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        if own is not None:
            dist[np.arange(len(q)), own] = np.inf
        idx = np.broadcast_to(np.arange(m), dist.shape)
        order = np.lexsort((idx, dist), axis=1)[:, :k]
        return np.take_along_axis(dist, order, 1), order.astype(np.int64)

    # ------------------------------------------------------------------ approximate
    def _cells(self) -> tuple:
        """k-means cells of the reference (:func:`dataperf._cells.build_cells`), made once."""
        if self._cells_state is None:
            faiss = require("faiss", "search='approximate'")  # before copying the reference
            r32 = self._torch_state()[0]
            self._cells_state = build_cells(faiss, r32, seed=self.seed, block_bytes=BLOCK_BYTES)
        return self._cells_state

    def _approximate(
        self, x: np.ndarray, k: int, exclude_self: bool, bs: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Queries grouped by their nearest cell, each group searched (as the exact search
        does) among the rows of the cells probed around it."""
        import torch

        centroids, members = self._cells()
        _, _, mean, scale, _ = self._torch_state()
        n, d = x.shape
        step = max(1, BLOCK_BYTES // (8 * d))
        cell = torch.cat(
            [
                nearest_centroid(
                    torch.from_numpy(q).float().to(self.device), centroids, BLOCK_BYTES
                )
                for q in (
                    (rows64(x, slice(a, b), self.metric, scale=self.scale) - mean) * scale
                    for a, b in chunks(n, step)
                )
            ]
        ).cpu()
        out_d = np.empty((n, k), dtype=np.float64)
        out_i = np.empty((n, k), dtype=np.int64)
        order = torch.argsort(cell, stable=True).numpy()
        bounds = np.searchsorted(cell.numpy()[order], np.arange(len(members) + 1))
        for g, rows in enumerate(members):
            group = order[bounds[g] : bounds[g + 1]]
            usable = len(rows) - exclude_self
            if len(group) == 0:
                continue
            if usable < k:  # a tiny cell neighbourhood: search everything for this group
                rows = None
                usable = len(self) - exclude_self
            c = min(k + EXTRA, usable)
            for a, b in chunks(len(group), bs or 4096):
                q_rows = group[a:b]
                q = rows64(x, q_rows, self.metric, scale=self.scale)
                own = q_rows if exclude_self else None
                cand, need = self._torch_candidates(q, k, c, own, rows)
                width = int(min(c, max(k, need.max())))
                out_d[q_rows], out_i[q_rows] = rerank(
                    q, self.reference, cand[:, :width], k, self.metric, self.scale
                )
        return out_d, out_i


def nearest_neighbors(
    x: Any,
    reference: Any,
    k: int,
    *,
    metric: str = "euclidean",
    batch_size: int | None = None,
    exclude_self: bool = False,
    search: str = "auto",
    device: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest ``reference`` rows of each row of ``x``, in bounded memory.

    The one-call form of :class:`NeighborIndex` (build the index yourself to query one
    reference set several times).

    Parameters
    ----------
    x : (N, D) float array
        Query rows.
    reference : (M, D) float array
        Rows to search.
    k : int
        Number of neighbours, ``1 <= k <= M`` (``<= M - 1`` with ``exclude_self``).
    metric : {"euclidean", "cosine"}
        Euclidean distance, or cosine distance ``1 - cos(a, b)`` (in ``[0, 2]``).
    batch_size : int or None
        Query rows per chunk; None picks it from the memory budget (about 64 MB).
    exclude_self : bool
        ``x`` and ``reference`` are the same rows: query ``i`` never matches reference row ``i``
        (duplicates at other positions still do).
    search : {"auto", "exact", "approximate"}
        See :mod:`dataperf.neighbors`.
    device : str or torch.device, optional
        Where the exact search runs; None: CUDA when available, else the CPU.

    Returns
    -------
    distances : (N, k) float64 array
        Sorted ascending along each row.
    indices : (N, k) int64 array
        Reference row of each distance. Equal distances are ordered by index; with the exact
        search, of several points tied at the k-th distance the lowest indices are kept.
    """
    x = check_embeddings(x, "embeddings")
    reference = check_embeddings(reference, "reference", dim=x.shape[1])
    index = NeighborIndex(reference, metric=metric, search=search, device=device)
    return index.query(x, k, exclude_self=exclude_self, batch_size=batch_size)


def recall_at_k(
    x: Any,
    reference: Any,
    k: int = 10,
    *,
    metric: str = "euclidean",
    sample: int = 1000,
    seed: int = 0,
    device: Any = None,
) -> float:
    """Share of the true k nearest neighbours that the approximate search finds.

    Measured on ``sample`` query rows drawn (seeded) from ``x``, against the exact search.
    """
    n = np.shape(x)[0]
    rows = np.sort(np.random.default_rng(seed).choice(n, min(n, sample), replace=False))
    q = np.asarray(x[rows])
    index = NeighborIndex(reference, metric=metric, search="approximate", seed=seed)
    _, approx = index.query(q, k)
    exact = NeighborIndex(reference, metric=metric, search="exact", device=device)
    _, truth = exact.query(q, k)
    hits = sum(len(np.intersect1d(a, b)) for a, b in zip(approx, truth, strict=True))
    return hits / truth.size
