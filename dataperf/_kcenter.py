"""The engine of greedy k-center (private): :func:`dataperf.select.kcenter_greedy` validates
its inputs and runs these on torch tensors.

- :func:`centred` -- the pool (and reference) centred on the pool mean and scaled by a power of
  two, as tensors on the compute device.
- :func:`min_sqdist` -- each point's squared distance to its nearest reference point, in chunks.
- :func:`kcenter_lazy` -- the greedy loop on :func:`dataperf._greedy.lazy_greedy` (lazy
  updates), which hands over to one full distance update per centre when lazy updates stop
  paying off (low-dimensional data).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator

import numpy as np
import torch

from dataperf._greedy import lazy_greedy
from dataperf._validate import pow2_scale, read_rows

__all__ = ["centred", "kcenter_lazy", "min_sqdist"]


def min_sqdist(x: torch.Tensor, xx: torch.Tensor, r: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N,) squared distance from each row of x to its nearest row of r, in chunks."""
    rr = (r * r).sum(1)
    out = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    for i in range(0, x.shape[0], batch_size):
        xi = x[i : i + batch_size]
        best = None
        for j in range(0, r.shape[0], batch_size):
            # -2 x.r + |r|^2, fused; |x|^2 is added after the min (it is constant per row).
            d2 = torch.addmm(rr[None, j : j + batch_size], xi, r[j : j + batch_size].T, alpha=-2)
            m = d2.min(1).values
            best = m if best is None else torch.minimum(best, m)
        out[i : i + batch_size] = (best + xx[i : i + batch_size]).clamp_min_(0)
    return out


def centred(
    x_in: np.ndarray | torch.Tensor,
    r_in: np.ndarray | torch.Tensor | None,
    dev: torch.device,
    tdt: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(x - mean(x)) * s`` and ``(r - mean(x)) * s`` as ``tdt`` tensors on ``dev``, where
    ``s`` is the power of two that brings the largest centred value near 1: an exact scaling
    (selections do not change) under which squared distances neither overflow (embeddings of
    magnitude 1e25) nor underflow (1e-25) in float32. A NumPy (or memory-mapped) array is read
    in chunks of rows, so only the results are ever held in full."""

    def chunks(a: np.ndarray | torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
        step = max(1, 2**24 // max(1, a.shape[1]))
        for s in range(0, a.shape[0], step):
            if isinstance(a, torch.Tensor):
                chunk = a[s : s + step]
            else:
                chunk = torch.from_numpy(read_rows(a, s, min(s + step, a.shape[0])))
            yield s, chunk.to(device=dev, dtype=torch.float64)

    n, d = x_in.shape
    total = torch.zeros(d, dtype=torch.float64, device=dev)
    for _, chunk in chunks(x_in):
        total += chunk.sum(0)
    mu = total / n
    top = 0.0
    for a in (x_in, r_in):
        if a is not None:
            for _, chunk in chunks(a):
                top = max(top, float((chunk - mu).abs().max()))
    scale = pow2_scale(top)

    def scaled(a: np.ndarray | torch.Tensor) -> torch.Tensor:
        out = torch.empty(tuple(a.shape), dtype=tdt, device=dev)
        for s, chunk in chunks(a):
            out[s : s + len(chunk)] = ((chunk - mu) * scale).to(tdt)
        return out

    return scaled(x_in), None if r_in is None else scaled(r_in)


def kcenter_lazy(
    x: torch.Tensor,
    xx: torch.Tensor,
    dmin2: torch.Tensor,
    w: torch.Tensor | None,
    k: int,
    picked: list[int],
) -> np.ndarray:
    """Greedy k-center from the current squared distances ``dmin2`` (updated in place).

    Runs :func:`lazy_greedy` on the scores ``w * sqrt(dmin2)``: a point's score against the
    centres it has been compared with is an upper bound on its true score. Stale points at the
    heap top are refreshed together (one small matrix product against the centres they have
    not seen), in adaptive batches.
    """
    n, d = x.shape
    dev = x.device
    cent = torch.empty((k, d), dtype=x.dtype, device=dev)
    cc = torch.empty(k, dtype=x.dtype, device=dev)
    # t_last[i]: how many of the new centres (rows of `cent`) dmin2[i] already accounts for.
    t_last = np.zeros(n, dtype=np.int64)
    t_last[picked] = np.iinfo(np.int64).max
    t = 0  # centres added so far (not counting the reference or a no-reference first pick)

    def score(idx: torch.Tensor | slice) -> torch.Tensor:
        s = dmin2[idx].sqrt()
        return s if w is None else s * w[idx]

    def refresh(idx_list: list[int], since: np.ndarray | None = None) -> list[float]:
        """Bring dmin2 of these points up to date with centres [t_last, t); new bounds."""
        tl = t_last[idx_list]
        t0 = int(tl.min())
        idx = torch.as_tensor(idx_list, dtype=torch.int64, device=dev)
        d2 = torch.addmm(cc[None, t0:t], x[idx], cent[t0:t].T, alpha=-2)
        if (tl != t0).any():  # skip centres a point has already been compared with
            seen = np.arange(t0, t)[None, :] < tl[:, None]
            d2.masked_fill_(torch.from_numpy(seen).to(dev), float("inf"))
        m = (d2.min(1).values + xx[idx]).clamp_min_(0)
        dmin2[idx] = torch.minimum(dmin2[idx], m)
        t_last[idx_list] = t
        return score(idx).tolist()

    max_rows = max(1, (1 << 22) // max(1, k))  # bounds the refresh matrix to ~4M entries
    # When many points go stale at every step (low-dimensional data), the heap costs more
    # than a plain full update; then switch, for good, to one full update per centre.
    window, recent = 16, collections.deque(maxlen=16)
    pop_limit = window * max(32.0, n * (d + 10) / 4000.0)

    def add_centre(i: int, refreshed: int) -> bool:
        nonlocal t
        cent[t] = x[i]
        cc[t] = xx[i]
        dmin2[i] = 0.0
        t_last[i] = np.iinfo(np.int64).max
        t += 1
        recent.append(refreshed)
        return len(recent) == window and sum(recent) > pop_limit

    picked = picked + lazy_greedy(
        score(slice(None)).tolist(),
        k - len(picked),
        refresh,
        on_pick=add_centre,
        exclude=picked,
        batch=4,
        max_batch=max_rows,
    )
    if len(picked) < k:
        return _eager_finish(x, xx, dmin2, w, k, picked, t_last, t, refresh, max_rows)
    return np.asarray(picked, dtype=np.int64)


def _eager_finish(
    x: torch.Tensor,
    xx: torch.Tensor,
    dmin2: torch.Tensor,
    w: torch.Tensor | None,
    k: int,
    picked: list[int],
    t_last: np.ndarray,
    t: int,
    refresh: Callable[[list[int]], list[float]],
    max_rows: int,
) -> np.ndarray:
    """Bring every point up to date, then one full distance update per new centre."""
    stale = np.flatnonzero(t_last < t)
    stale = stale[np.argsort(t_last[stale], kind="stable")]  # similar windows together
    for s in range(0, stale.size, max_rows):
        refresh(stale[s : s + max_rows].tolist())
    free = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
    free[picked] = False
    while len(picked) < k:
        s = dmin2.sqrt()
        if w is not None:
            s = s * w
        i = int(torch.argmax(s.masked_fill_(~free, float("-inf"))))  # first max: lowest index
        picked.append(i)
        free[i] = False
        d2 = (x @ x[i]).mul_(-2).add_(xx).add_(xx[i]).clamp_min_(0)
        torch.minimum(dmin2, d2, out=dmin2)
        dmin2[i] = 0.0
    return np.asarray(picked, dtype=np.int64)
