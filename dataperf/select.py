"""Pure selectors: choose ``k`` items from a pool of ``N``.

Every selector returns a ``(k,)`` ``int64`` array of distinct pool positions, in selection order.
None of them allocates an ``N x N`` or ``k x N`` array, so they scale to large pools.

- :func:`top_k` -- the ``k`` largest scores.
- :func:`random` -- ``k`` positions drawn without replacement.
- :func:`kcenter_greedy` -- exact greedy k-center (coreset), optionally relative to a reference
  set and score-weighted; fast and exact thanks to lazy updates.
- :func:`kmeans_pp` -- k-means++ seeding (D^2 sampling), optionally weighted.
- :func:`badge` -- k-means++ on gradient embeddings (BADGE, Ash et al. 2020).

Choose one by name with :func:`get_selector` or the :data:`SELECTORS` dict.

:func:`kcenter_greedy` runs on the k-center engine in :mod:`dataperf._kcenter`. The one lazy
(priority-queue) greedy loop of the package, :func:`~dataperf._greedy.lazy_greedy`, is
importable from here as well: k-center, facility location (:mod:`dataperf.curate.subsets`) and
the diverse greedy of the test-data sampler (:mod:`dataperf.propose.sampler`) all run on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dataperf._errors import InputTypeError, InputValueError
from dataperf._greedy import lazy_greedy as lazy_greedy  # importable from here too
from dataperf._kcenter import centred, kcenter_lazy, min_sqdist
from dataperf._validate import (
    check_batch_size,
    check_choice,
    check_count,
    check_int,
    describe,
    first_nonfinite,
    pow2_scale,
    resolve_device,
)

__all__ = [
    "SELECTORS",
    "badge",
    "get_selector",
    "kcenter_greedy",
    "kmeans_pp",
    "random",
    "top_k",
]


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _check_matrix(x: Any, name: str) -> np.ndarray | torch.Tensor:
    """Validate an (N, D) finite real matrix; returns a numpy array or the given tensor."""
    if isinstance(x, torch.Tensor):
        if x.is_complex() or x.dtype == torch.bool:
            raise InputTypeError(f"{name} must be a real float array; got {describe(x)}")
        arr: np.ndarray | torch.Tensor = x.detach()
        finite = bool(torch.isfinite(arr).all()) if arr.is_floating_point() else True
    else:
        try:
            arr = x if isinstance(x, np.memmap) else np.asarray(x)  # a memory map stays one
        except (TypeError, ValueError) as err:  # ragged lists
            raise InputTypeError(
                f"{name} must be an (N, D) float array; got {describe(x)}: pass a 2-D array"
            ) from err
        if arr.dtype.kind not in "fiu":
            raise InputTypeError(
                f"{name} must be a real float array; got {describe(x)}: "
                "convert it with np.asarray(..., dtype=np.float32)"
            )
        finite = arr.dtype.kind != "f" or first_nonfinite(arr) is None
    if arr.ndim != 2:
        raise InputValueError(
            f"{name} must have shape (N, D); got shape {tuple(arr.shape)}: "
            "pass one row per item (reshape a single item with x[None])"
        )
    if not finite:
        raise InputValueError(
            f"{name} must be finite; got NaN or infinite values: drop or impute those rows"
        )
    return arr


def _check_weights(weights: Any, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = _as_numpy(weights)
    if w.dtype.kind not in "fiu":
        raise InputTypeError(f"weights must be a real (N,) array; got {describe(weights)}")
    w = w.astype(np.float64)
    if w.shape != (n,):
        raise InputValueError(
            f"weights must have shape (N,) == ({n},), one per pool item; got shape {w.shape}"
        )
    if not np.isfinite(w).all():
        raise InputValueError("weights must be finite; got NaN or infinite values: replace them")
    if (w < 0).any():
        raise InputValueError(
            f"weights must be >= 0; got a minimum of {w.min():.4g}: "
            "shift or clip the scores (e.g. np.clip(w, 0, None)) before passing them"
        )
    return w


# --------------------------------------------------------------------------------------------
# simple selectors
# --------------------------------------------------------------------------------------------


def top_k(scores: Any, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores.

    Parameters
    ----------
    scores : (N,) real array
        Higher means more wanted. NaN is not allowed.
    k : int
        How many to return, ``1 <= k <= N``.

    Returns
    -------
    (k,) int64 array
        Positions sorted by score, descending; equal scores keep their order (lowest index
        first).
    """
    s = _as_numpy(scores)
    if s.dtype.kind not in "fiub":
        raise InputTypeError(f"scores must be a real (N,) array; got {describe(scores)}")
    if s.ndim != 1:
        raise InputValueError(
            f"scores must have shape (N,); got shape {s.shape}: pass one score per item"
        )
    k = check_count(k, s.shape[0], "k", what="pool items")
    s = s.astype(np.float64)
    if np.isnan(s).any():
        raise InputValueError("scores must not contain NaN: drop or impute those items first")
    return np.argsort(-s, kind="stable")[:k].astype(np.int64)


def random(n: int, k: int, *, seed: int = 0) -> np.ndarray:
    """``k`` distinct positions in ``range(n)``, drawn without replacement.

    Parameters
    ----------
    n : int
        Pool size.
    k : int
        How many to draw, ``1 <= k <= n``.
    seed : int
        Seed of ``np.random.default_rng(seed)``; the global RNGs are never used.

    Returns
    -------
    (k,) int64 array
    """
    n = check_int(n, "n (the pool size)", low=0)
    k = check_count(k, n, "k", what="pool items")
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    return rng.choice(int(n), size=k, replace=False).astype(np.int64)


# --------------------------------------------------------------------------------------------
# k-center greedy
# --------------------------------------------------------------------------------------------


def kcenter_greedy(
    embeddings: Any,
    k: int,
    *,
    reference: Any = None,
    weights: Any = None,
    device: Any = None,
    dtype: str = "float32",
    batch_size: int = 2048,
) -> np.ndarray:
    """Exact greedy k-center (farthest-first traversal), optionally weighted.

    Each step picks the pool point ``x`` with the largest score
    ``weights[x] * min_c ||x - c||`` (Euclidean), where ``c`` ranges over the reference points
    and the points already picked. This is the coreset selection of Sener & Savarese (2018)
    with an optional per-point weight (score-weighted diversity).

    Rules, exactly:

    - With no ``reference``, the first pick is the point with the largest weight (index 0 when
      ``weights`` is None); with a reference, the first pick already uses the distances to it.
    - Ties go to the lowest index, at every step.
    - A picked point has distance 0 and is never picked again, even when every remaining score
      is 0 (duplicates, zero weights): then the lowest remaining index is taken.

    Algorithm: one chunked matrix-product pass gives each point's distance to the reference set
    (memory ``O(batch_size^2)``). The greedy part uses lazy updates: each point keeps its score
    against the centres it has already been compared with, which is an upper bound on its true
    score (more centres can only bring it closer). A step looks only at the points with the
    largest bounds, brings those up to date against the centres added since they were last
    compared (one small matrix product), and stops once the largest bound belongs to a point
    that is up to date -- that point is then the exact argmax. Most points are never refreshed
    at most steps, so this is much faster than a full ``O(N D)`` update per centre, while the
    selection is the same. When many points go stale at every step (typically low-dimensional
    data, where each new centre is near many points), the bookkeeping would cost more than it
    saves, so the loop switches to one full update per centre for the remaining picks (same
    selection rules).

    Numerics: distances are computed on centred data as ``|x|^2 + |c|^2 - 2 x.c`` in
    ``dtype`` (``"float32"`` by default, ``"float64"`` available). The selection equals a
    float64 brute force whenever, at each step, the best and second-best scores differ by more
    than the float32 rounding of that formula (relative error about
    ``1e-7 * |x - mean|^2 / distance^2``; use ``dtype="float64"`` for near-ties). Ties between
    computed scores always go to the lowest index. The CPU loop runs on one thread (restored
    afterwards): its matrix products are tiny.

    Parameters
    ----------
    embeddings : (N, D) float array or tensor
        The pool.
    k : int
        How many to pick, ``1 <= k <= N``.
    reference : (M, D) float array or tensor, optional
        Points already held (e.g. the test set): picks are kept far from them.
    weights : (N,) float array, optional
        Non-negative multipliers of each point's distance (e.g. a hardness score).
    device : str or torch.device, optional
        Where to compute; None means CUDA when available, else CPU.
    dtype : {"float32", "float64"}
        Compute precision.
    batch_size : int
        Row/column chunk of the reference distance pass (bounds its memory).

    Returns
    -------
    (k,) int64 array
        Pool positions in selection order.
    """
    x_in = _check_matrix(embeddings, "embeddings")
    n, d = x_in.shape
    k = check_count(k, n, "k", what="pool items")
    w_np = _check_weights(weights, n)
    check_choice(dtype, "dtype", ("float32", "float64"))
    batch_size = check_batch_size(batch_size, allow_none=False)
    r_in = None
    if reference is not None:
        r_in = _check_matrix(reference, "reference")
        if r_in.shape[1] != d:
            raise InputValueError(
                f"reference must have the same number of columns as embeddings (D={d}); "
                f"got shape {tuple(r_in.shape)}: embed both with the same model and layer"
            )
        if r_in.shape[0] == 0:
            r_in = None

    dev = resolve_device(device)
    tdt = torch.float32 if dtype == "float32" else torch.float64

    with torch.inference_mode():
        # centring keeps |x|^2 + |c|^2 - 2 x.c accurate; scaling keeps it in range
        x, r = centred(x_in, r_in, dev, tdt)
        xx = (x * x).sum(1)
        w = None if w_np is None else torch.from_numpy(w_np).to(device=dev, dtype=tdt)

        picked: list[int] = []
        if r_in is not None:
            dmin2 = min_sqdist(x, xx, r, batch_size)
        else:
            first = 0 if w_np is None else int(np.argmax(w_np))  # first maximum: lowest index
            picked.append(first)
            dmin2 = min_sqdist(x, xx, x[first : first + 1], batch_size)
        # The greedy loop runs many tiny matrix products: extra CPU threads only add
        # synchronisation cost there (and stall badly on a busy machine), so use one.
        threads = torch.get_num_threads()
        if dev.type == "cpu":
            torch.set_num_threads(1)
        try:
            return kcenter_lazy(x, xx, dmin2, w, k, picked)
        finally:
            torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------
# k-means++ / BADGE
# --------------------------------------------------------------------------------------------


def kmeans_pp(
    embeddings: Any, k: int, *, weights: Any = None, seed: int = 0, batch_size: int = 65536
) -> np.ndarray:
    """k-means++ seeding (D^2 sampling), optionally weighted.

    The first pick is drawn with probability proportional to ``weights`` (uniformly without
    weights); each later pick with probability proportional to ``weights[x] * D(x)^2``, where
    ``D(x)`` is the Euclidean distance to the nearest point already picked. Points already
    picked are never drawn again; when every remaining probability is 0 (duplicates or zero
    weights) the next pick is uniform over the points not yet picked.

    Parameters
    ----------
    embeddings : (N, D) float array or tensor
    k : int
        How many to pick, ``1 <= k <= N``.
    weights : (N,) float array, optional
        Non-negative multipliers of the sampling probabilities.
    seed : int
        Seed of ``np.random.default_rng(seed)``; the same seed gives the same picks.
    batch_size : int
        Row chunk of each distance update.

    Returns
    -------
    (k,) int64 array
        Pool positions in selection order.
    """
    x = _check_matrix(embeddings, "embeddings")
    x = _as_numpy(x)
    n = x.shape[0]
    k = check_count(k, n, "k", what="pool items")
    w = _check_weights(weights, n)
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    x = x.astype(np.float64 if x.dtype == np.float64 else np.float32)
    x = x - x.mean(0, dtype=np.float64).astype(x.dtype)
    x *= x.dtype.type(pow2_scale(float(np.abs(x).max())))  # exact; squares stay in range
    xx = np.einsum("ij,ij->i", x, x).astype(np.float64)
    dmin2 = np.full(n, np.inf)
    free = np.ones(n, dtype=bool)

    def draw(p: np.ndarray) -> int:
        p = np.where(free, p, 0.0)
        total = p.sum()
        if not total > 0:
            cand = np.flatnonzero(free)
            return int(cand[rng.integers(cand.size)])
        cum = np.cumsum(p)
        i = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
        i = min(i, n - 1)
        while not p[i] > 0:  # guard against landing on a zero-probability slot by rounding
            i -= 1
        return i

    picked: list[int] = []
    p0 = np.ones(n) if w is None else w
    for _ in range(k):
        i = draw(p0 if not picked else (dmin2 if w is None else w * dmin2))
        picked.append(i)
        free[i] = False
        c = x[i]
        for s in range(0, n, batch_size):
            d2 = xx[s : s + batch_size] + xx[i] - 2.0 * (x[s : s + batch_size] @ c)
            np.minimum(
                dmin2[s : s + batch_size], np.maximum(d2, 0.0), out=dmin2[s : s + batch_size]
            )
        dmin2[i] = 0.0
    return np.asarray(picked, dtype=np.int64)


def badge(grad_embeddings: Any, k: int, *, seed: int = 0) -> np.ndarray:
    """BADGE (Ash et al. 2020): k-means++ seeding on gradient embeddings.

    The caller supplies the gradient embeddings, usually the gradient of the loss at the
    predicted label with respect to the last layer's weights, i.e. the flattened outer product
    ``(probs - onehot(argmax probs)) x penultimate embedding``, of shape ``(N, K * D)``. This
    function is exactly :func:`kmeans_pp` on those rows (no weights).

    Parameters
    ----------
    grad_embeddings : (N, G) float array or tensor
    k : int
        How many to pick, ``1 <= k <= N``.
    seed : int
        Seed of ``np.random.default_rng(seed)``.

    Returns
    -------
    (k,) int64 array
    """
    return kmeans_pp(grad_embeddings, k, seed=seed)


SELECTORS: dict[str, Callable[..., np.ndarray]] = {
    "top_k": top_k,
    "random": random,
    "kcenter_greedy": kcenter_greedy,
    "kmeans_pp": kmeans_pp,
    "badge": badge,
}


def get_selector(name: str) -> Callable[..., np.ndarray]:
    """The selector function called ``name`` (a key of :data:`SELECTORS`)."""
    return SELECTORS[check_choice(name, "selector name", sorted(SELECTORS))]
