"""The one lazy (priority-queue) greedy loop of the package (private).

:func:`lazy_greedy` picks ``k`` items one at a time, re-scoring only the candidates that could
still be the best. Three algorithms run on it: greedy k-center (:mod:`dataperf._kcenter`, behind
:func:`dataperf.select.kcenter_greedy`), facility location (:mod:`dataperf.curate.subsets`) and
the diverse greedy of the test-data sampler (:mod:`dataperf.propose.sampler`). It is also
importable as ``dataperf.select.lazy_greedy``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

import numpy as np

from dataperf._errors import InputValueError

__all__ = ["lazy_greedy"]


def lazy_greedy(
    values: Sequence[float],
    k: int,
    refresh: Callable[[list[int], np.ndarray], Sequence[float]],
    *,
    on_pick: Callable[[int, int], bool | None] | None = None,
    exclude: Sequence[int] = (),
    batch: int = 1,
    max_batch: int | None = None,
) -> list[int]:
    """Lazy (priority-queue) greedy: ``k`` times, pick the item of largest current value.

    For objectives whose values can only go down as items are picked (a submodular gain, a
    distance to the nearest pick, a factor that only shrinks), a value computed after fewer
    picks is an upper bound on the current one. A max-heap holds each candidate's last computed
    value. When the heap top is up to date it is the exact argmax and is picked; otherwise the
    out-of-date candidates at the top are refreshed (``refresh``) and pushed back. Most
    candidates are never refreshed at most steps, and the picks equal those of the plain
    greedy loop that re-scores every candidate at every step: among equal values, the lowest
    index wins.

    Parameters
    ----------
    values : (N,) sequence of float
        Each candidate's value before any pick (with the ``exclude`` items already chosen).
    k : int
        How many to pick, ``0 <= k <= N - len(exclude)``.
    refresh : callable
        ``refresh(indices, since) -> values``: the current values of the candidates
        ``indices`` (a list of ints); ``since[j]`` says how many picks of this call the
        previous value of ``indices[j]`` already accounts for (for an incremental update). It
        must be deterministic and never return more than that previous value.
    on_pick : callable, optional
        ``on_pick(i, refreshed)``, called after each pick with the number of candidates
        refreshed to find it (to update the caller's state before the next refresh). A true
        return stops the loop early; the picks so far are returned.
    exclude : sequence of int
        Items that are never picked (e.g. chosen before).
    batch, max_batch : int
        How many out-of-date candidates at the top are refreshed together (one ``refresh``
        call). With ``max_batch > batch`` the number adapts: it doubles (up to ``max_batch``)
        after a step that needed more than two refresh calls and halves (down to ``batch``)
        after one that needed at most one.

    Returns
    -------
    list of int
        The picks, in order: ``k`` of them unless ``on_pick`` stopped the loop.
    """
    n = len(values)
    excluded = set(exclude)
    if not 0 <= k <= n - len(excluded):
        raise InputValueError(
            f"k must be in [0, {n - len(excluded)}] (the candidates not excluded); got {k}."
        )
    max_batch = batch if max_batch is None else max_batch
    # since[i]: how many picks the value of candidate i in the heap accounts for
    since = np.zeros(n, dtype=np.int64)
    heap = [(-float(v), i) for i, v in enumerate(values) if i not in excluded]
    heapq.heapify(heap)
    picked: list[int] = []
    size = batch
    while len(picked) < k:
        step = len(picked)
        rounds = refreshed = 0
        while True:
            i = heap[0][1]
            if since[i] == step:
                heapq.heappop(heap)
                break
            stale: list[int] = []
            while heap and len(stale) < size and since[heap[0][1]] != step:
                stale.append(heapq.heappop(heap)[1])
            for j, v in zip(stale, refresh(stale, since[stale]), strict=True):
                heapq.heappush(heap, (-float(v), j))
            since[stale] = step
            rounds += 1
            refreshed += len(stale)
        if rounds > 2:
            size = min(2 * size, max_batch)
        elif rounds <= 1 and size > batch:
            size //= 2
        picked.append(i)
        if on_pick is not None and on_pick(i, refreshed):
            break
    return picked
