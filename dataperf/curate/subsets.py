"""Subset selection: keep ``k`` of ``N`` training items that preserve what the data teach.

:func:`select_subset` chooses a method by name from :data:`METHODS`:

- ``"facility_location"`` -- greedy maximisation of the facility-location objective
  ``F(S) = sum_i max_{j in S} sim(i, j)`` over a *sparse* k-nearest-neighbour cosine
  similarity graph: every item is "covered" by its most similar selected neighbour. The graph
  keeps, for each item ``i``, itself (``sim = 1``) and its ``neighbors`` nearest neighbours
  (cosine, :func:`dataperf.neighbors.nearest_neighbors`; ``search=`` picks exact or
  approximate), with similarities clipped at 0; the pair ``(i, j)`` counts only when ``j`` is
  one of ``i``'s neighbours. Memory is ``O(N * neighbors)``, never ``N x N``. Greedy uses
  lazy evaluation with a heap (Minoux), which returns exactly the plain greedy result, ties
  to the lowest index.
- ``"kcenter"`` -- exact greedy k-center on the raw embeddings
  (:func:`dataperf.select.kcenter_greedy`): covers the embedding space evenly.
- ``"el2n"`` -- the ``k`` *hardest* items by EL2N, ``||probs - onehot(label)||_2`` (Paul et al.
  2021), ties to the lowest index. Hard items carry the most signal, but on noisy data the very
  hardest are often mislabelled: clean labels first (or use another method) if that matters.
- ``"random"`` -- ``k`` items drawn without replacement with ``np.random.default_rng(seed)``.

With ``per_class=True`` the budget is split across classes in proportion to their frequency and
the method runs within each class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._greedy import lazy_greedy
from dataperf._validate import (
    check_bool,
    check_choice,
    check_embeddings,
    check_int,
    check_signals,
    resolve_device,
)
from dataperf.neighbors import check_search, nearest_neighbors
from dataperf.select import kcenter_greedy
from dataperf.signals import Signals

__all__ = ["METHODS", "el2n", "facility_location", "knn_similarity_graph", "select_subset"]


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------


def el2n(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """EL2N score ``||probs - onehot(label)||_2`` of each item (higher means harder).

    Parameters
    ----------
    probs : (N, K) float array
    labels : (N,) int array

    Returns
    -------
    (N,) float64 array in ``[0, sqrt(2)]``.
    """
    p = np.asarray(probs, dtype=np.float64)
    sq = np.einsum("ij,ij->i", p, p)
    picked = p[np.arange(len(p)), labels]
    # ||p - e_y||^2 = ||p||^2 - 2 p_y + 1
    return np.sqrt(np.maximum(sq - 2.0 * picked + 1.0, 0.0))


def knn_similarity_graph(
    embeddings: Any, neighbors: int, *, search: str = "auto", device: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sparse cosine-similarity graph of each item and its nearest neighbours.

    Parameters
    ----------
    embeddings : (N, D) float array
        No all-zero rows.
    neighbors : int
        Neighbours per item besides itself; reduced to ``N - 1`` when larger.
    search, device
        The neighbour search and where it runs; see :mod:`dataperf.neighbors`.

    Returns
    -------
    indices : (N, neighbors + 1) int64 array
        Row ``i`` lists ``i`` itself, then its nearest neighbours, nearest first.
    sims : (N, neighbors + 1) float64 array
        ``max(0, cos(i, j))`` for each listed ``j`` (1 for ``i`` itself).
    """
    x = check_embeddings(embeddings)
    n = x.shape[0]
    own = np.arange(n, dtype=np.int64)[:, None]
    kn = min(int(neighbors), n - 1)
    if kn < 1:
        return own, np.ones((n, 1))
    dist, idx = nearest_neighbors(
        x, x, kn, metric="cosine", exclude_self=True, search=search, device=device
    )
    sims = np.clip(1.0 - dist, 0.0, 1.0)
    return np.hstack([own, idx]), np.hstack([np.ones((n, 1)), sims])


def facility_location(indices: np.ndarray, sims: np.ndarray, k: int) -> np.ndarray:
    """Greedy facility location on a sparse similarity graph (exact lazy greedy).

    Maximises ``F(S) = sum_i max_{j in S} sims[i, t]`` over the pairs ``j = indices[i, t]``
    (0 for an item with no selected neighbour). Each step adds the item with the largest
    marginal gain, ties to the lowest index; when every gain is 0 (all items covered) the
    lowest remaining indices follow. Lazy evaluation: stale gains in a max-heap are upper
    bounds (the objective is submodular), so only the heap top is re-evaluated
    (:func:`dataperf._greedy.lazy_greedy`). A gain is always summed in the same order, so
    re-evaluated floats never exceed their stale bound and the result equals the plain
    greedy's.

    Parameters
    ----------
    indices : (N, L) int64 array
        Row ``i``: the items that can cover ``i``.
    sims : (N, L) float array
        Their non-negative similarities to ``i``.
    k : int
        Items to select, ``1 <= k <= N``.

    Returns
    -------
    (k,) int64 array
        Selected items in selection order.
    """
    n = indices.shape[0]
    # reverse graph: for candidate j, the rows i it covers and sim(i, j), grouped by j
    cand = indices.ravel()
    rows = np.repeat(np.arange(n, dtype=np.int64), indices.shape[1])
    order = np.argsort(cand, kind="stable")
    covered = rows[order]
    weight = np.asarray(sims, dtype=np.float64).ravel()[order]
    bounds = np.searchsorted(cand[order], np.arange(n + 1))
    cur = np.zeros(n, dtype=np.float64)

    def gain(j: int) -> float:
        a, b = bounds[j], bounds[j + 1]
        return float(np.maximum(weight[a:b] - cur[covered[a:b]], 0.0).sum())

    def refresh(stale: list[int], since: np.ndarray) -> list[float]:
        return [gain(j) for j in stale]

    def cover(j: int, refreshed: int) -> None:
        a, b = bounds[j], bounds[j + 1]
        np.maximum.at(cur, covered[a:b], weight[a:b])

    picked = lazy_greedy([gain(j) for j in range(n)], k, refresh, on_pick=cover)
    return np.asarray(picked, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# methods: (signals, rows, k, options) -> positions into rows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    seed: Any  # an int, or [seed, class] within a class
    neighbors: int
    device: Any
    search: str


def _embeddings(signals: Signals, method: str) -> np.ndarray:
    if signals.embeddings is None:
        raise InputValueError(
            f"method {method!r} needs embeddings; got signals.embeddings=None. Pass "
            "Signals(..., embeddings=features), or use method='el2n' or 'random'."
        )
    return signals.embeddings


def _facility(signals: Signals, rows: np.ndarray, k: int, opt: _Options) -> np.ndarray:
    x = _embeddings(signals, "facility_location")[rows]
    idx, sims = knn_similarity_graph(x, opt.neighbors, search=opt.search, device=opt.device)
    return facility_location(idx, sims, k)


def _kcenter(signals: Signals, rows: np.ndarray, k: int, opt: _Options) -> np.ndarray:
    return kcenter_greedy(_embeddings(signals, "kcenter")[rows], k, device=opt.device)


def _el2n(signals: Signals, rows: np.ndarray, k: int, opt: _Options) -> np.ndarray:
    scores = el2n(signals.probs[rows], signals.labels[rows])
    return np.argsort(-scores, kind="stable")[:k].astype(np.int64)


def _random(signals: Signals, rows: np.ndarray, k: int, opt: _Options) -> np.ndarray:
    rng = np.random.default_rng(opt.seed)
    return rng.choice(len(rows), size=k, replace=False).astype(np.int64)


#: Subset-selection methods by name.
METHODS: dict[str, Callable[..., np.ndarray]] = {
    "facility_location": _facility,
    "kcenter": _kcenter,
    "el2n": _el2n,
    "random": _random,
}
_NEEDS_LABELS = ("el2n",)


def class_quotas(counts: np.ndarray, k: int) -> np.ndarray:
    """Split ``k`` in proportion to ``counts`` (largest remainder), each class >= 1 if k allows."""
    total = counts.sum()
    exact = k * counts / total
    quota = np.floor(exact).astype(np.int64)
    rest = k - int(quota.sum())
    frac = exact - quota
    # largest fractional parts first; ties: larger class, then lower class index
    for c in np.lexsort((np.arange(len(counts)), -counts, -frac))[:rest]:
        quota[c] += 1
    present = counts > 0
    if k >= int(present.sum()):
        for c in np.flatnonzero(present & (quota == 0)):
            # take one from the class with the most above its exact share
            donor = int(np.argmax(np.where(quota > 1, quota - exact, -np.inf)))
            quota[donor] -= 1
            quota[c] += 1
    return quota


def select_subset(
    signals: Signals,
    k: int,
    *,
    method: str = "facility_location",
    per_class: bool = False,
    seed: int = 0,
    neighbors: int = 10,
    device: Any = None,
    search: str = "auto",
) -> np.ndarray:
    """Choose ``k`` representative (or informative) items to keep.

    Parameters
    ----------
    signals : Signals
        ``embeddings`` for ``"facility_location"`` and ``"kcenter"``; ``labels`` for
        ``"el2n"`` and for ``per_class=True``.
    k : int
        Subset size, ``1 <= k <= N``.
    method : {"facility_location", "kcenter", "el2n", "random"}
        See the module docstring and :data:`METHODS`.
    per_class : bool
        Split ``k`` across classes in proportion to class frequency (largest-remainder
        rounding; every class present gets at least one item when ``k`` is at least the
        number of classes present) and run the method within each class.
    seed : int
        Seed for ``"random"`` (per class: ``default_rng([seed, class])``); the other methods
        are deterministic. The global RNGs are never used.
    neighbors : int
        Nearest neighbours per item in the facility-location graph (fewer in a class with
        fewer items).
    device : str or torch.device, optional
        Where ``"kcenter"`` and the facility-location neighbour search run: None means CUDA
        when available, else CPU.
    search : {"auto", "exact", "approximate"}
        The facility-location neighbour search; see :mod:`dataperf.neighbors`.

    Returns
    -------
    (k,) int64 array
        Distinct positions in selection order (with ``per_class``: class by class, classes
        ascending).
    """
    check_signals(signals)
    n = len(signals)
    k = check_int(k, "k", low=1, high=n, high_name="the number of items")
    check_choice(method, "method", sorted(METHODS))
    check_int(neighbors, "neighbors", low=1)
    check_int(seed, "seed", low=0)
    per_class = check_bool(per_class, "per_class")
    if signals.labels is None and (per_class or method in _NEEDS_LABELS):
        why = "per_class=True" if per_class else f"method {method!r}"
        raise InputValueError(
            f"{why} needs labels; got signals.labels=None. Pass Signals(..., labels=y), or use "
            "per_class=False with method 'facility_location', 'kcenter' or 'random'."
        )
    if method in ("facility_location", "kcenter"):
        _embeddings(signals, method)
    check_search(search)
    resolve_device(device)
    fn = METHODS[method]
    opt = _Options(seed, int(neighbors), device, search)

    if not per_class:
        return fn(signals, np.arange(n, dtype=np.int64), k, opt)
    labels = signals.labels
    counts = np.bincount(labels, minlength=signals.num_classes)
    quota = class_quotas(counts, k)
    parts = []
    for c in np.flatnonzero(quota):
        rows = np.flatnonzero(labels == c).astype(np.int64)
        local = fn(signals, rows, int(quota[c]), replace(opt, seed=[seed, int(c)]))
        parts.append(rows[local])
    return np.concatenate(parts).astype(np.int64)
