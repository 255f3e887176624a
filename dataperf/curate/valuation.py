"""Data valuation: how much each (candidate) training point helps on a validation set.

``data_values(train, valid)`` returns one value per row of ``train``; **higher means more
helpful** for predicting ``valid``. ``train`` need not be the data a model was trained on: pass a
labelled *candidate pool* as ``train`` and your validation set as ``valid`` to rank new data
before adding it (low or negative values flag harmful points such as label errors).

Methods (``method=``):

``"knn_shapley"``
    Exact Shapley values of the K-nearest-neighbour classifier utility (Jia et al., 2019,
    "Efficient task-specific data valuation for nearest neighbor algorithms", PVLDB 12(11),
    Theorem 1), averaged over validation points. For a validation point ``(x, y)`` with the
    training points sorted by Euclidean distance to ``x`` as ``a_1`` (nearest) .. ``a_N``, and
    ``m_i = 1[y_{a_i} == y]``, the utility of a subset ``S`` is
    ``U(S) = (1/K) * #{correctly labelled points among the min(K, |S|) nearest of S}``,
    ``U({}) = 0``, and the Shapley values follow the recursion from the farthest point::

        s_N = m_N / N
        s_i = s_{i+1} + (m_i - m_{i+1}) / K * min(K, i) / i

    Summing the recursion gives the closed form used here (``c_i = min(K, i) / (K i)``)::

        s_i = m_i c_i - sum_{j > max(i, K)} m_j / (j (j - 1))

    i.e. an elementwise product and one suffix (reversed cumulative) sum along the sorted order,
    vectorised over a chunk of validation points: no Python loop over points. The values sum to
    ``U(all) - U({})`` (efficiency). Cost: ``O(M N D)`` for distances (one matmul per chunk) plus
    ``O(M N log N)`` for the sorts, ``M`` validation and ``N`` training points; memory is bounded by
    chunks of validation points (about 256 MB by default).
``"loss_proxy"``
    A cheap first-order proxy, *not* a Shapley value: for training point ``i``, the mean over its
    ``k`` nearest validation points ``v`` of ``+1`` if ``y_v == y_i`` else ``-1`` (in ``[-1, 1]``).
    It measures whether point ``i`` would push a nearest-neighbour predictor towards the right
    labels on the validation points around it (lowering their 0-1 loss) or the wrong ones. It
    ignores the other training points (redundancy, competition) and costs one exact k-NN search
    (``O(N M D)``, no sort of all distances). Use it to screen very large pools or as a baseline;
    use ``"knn_shapley"`` when the ranking matters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._validate import (
    check_batch_size,
    check_choice,
    check_count,
    check_embeddings,
    check_labels,
    check_same_classes,
    describe,
    pow2_scale,
    resolve_device,
)
from dataperf.neighbors import check_search

__all__ = ["data_values", "knn_shapley", "loss_proxy", "METHODS"]

_BLOCK_BYTES = 256 * 2**20  # memory budget of one chunk of validation points
_BYTES_PER_CELL = 48  # distances, sort keys, indices, suffix sums, values: per (valid, train) pair


def _as_xy(data: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and labels from a ``Signals`` or an ``(X, y)`` tuple."""
    from dataperf.signals import Signals

    if isinstance(data, Signals):
        missing = [a for a in ("embeddings", "labels") if getattr(data, a) is None]
        if missing:
            raise InputValueError(
                f"{name} must carry embeddings and labels; {name}.{' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} None. Probe with embeddings and pass "
                f"labels (Signals(probs, embeddings=X, labels=y)), or pass an (X, y) tuple."
            )
        return data.embeddings, data.labels
    if isinstance(data, tuple) and len(data) == 2:
        x = check_embeddings(data[0], f"{name} embeddings")
        y = data[1]
        if hasattr(y, "detach") and hasattr(y, "cpu"):
            y = y.detach().cpu().numpy()
        y_arr = np.asarray(y)
        top = int(y_arr.max()) + 1 if y_arr.size and np.issubdtype(y_arr.dtype, np.integer) else 1
        return x, check_labels(y, len(x), max(top, 1), f"{name} labels")
    raise InputTypeError(
        f"{name} must be a dataperf Signals (with embeddings and labels) or an (X, y) tuple of "
        f"an (N, D) float array and (N,) int labels; got {describe(data)}."
    )


def knn_shapley(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    k: int,
    *,
    batch_size: int | None = None,
    device: Any = None,
    progress: bool = False,
) -> np.ndarray:
    """Exact KNN-Shapley values (Jia et al., 2019) from validated arrays.

    Parameters
    ----------
    x_train : (N, D) float array
    y_train : (N,) int array
    x_valid : (M, D) float array
    y_valid : (M,) int array
    k : int
        K of the KNN classifier, ``1 <= k <= N``.
    batch_size : int or None
        Validation points per chunk; None sizes chunks to about 256 MB.
    device : str, torch.device or None
        Where distances and sorts run; None: CUDA if available, else CPU.
    progress : bool
        Show a tqdm bar over chunks.

    Returns
    -------
    (N,) float64 array
        Shapley value of each training point, averaged over the M validation points.

    Notes
    -----
    Distances are computed in float64 on the CPU and float32 on GPUs (after centring both sets
    on the training mean), then ranked at float32 resolution (relative 6e-8) with ties broken by
    training index, so the result is deterministic. On the CPU the sort is NumPy's sort of int64
    keys that pack the float32 distance bits above the index.
    """
    import torch

    dev = resolve_device(device)
    n, m = len(x_train), len(x_valid)
    cuda = dev.type != "cpu"
    dtype = torch.float32 if cuda else torch.float64
    mean = x_train.mean(axis=0, dtype=np.float64)
    ct, cv = x_train - mean, x_valid - mean
    # an exact power-of-two scaling: squared distances stay within float32 at any magnitude
    scale = pow2_scale(max(float(np.abs(ct).max()), float(np.abs(cv).max())))
    xt = torch.as_tensor(ct * scale, dtype=dtype, device=dev)
    xv = torch.as_tensor(cv * scale, dtype=dtype, device=dev)
    del ct, cv
    yt = torch.as_tensor(y_train, device=dev)
    yv = torch.as_tensor(y_valid, device=dev)
    sq_t = (xt * xt).sum(1)
    sq_v = (xv * xv).sum(1)

    pos = torch.arange(1, n + 1, dtype=torch.float64, device=dev)  # 1-based rank j
    c = torch.minimum(pos, torch.tensor(float(k), dtype=torch.float64, device=dev)) / (k * pos)
    w = torch.where(pos > k, 1.0 / (pos * (pos - 1).clamp_min(1)), torch.zeros_like(pos))
    index = torch.arange(n, dtype=torch.int64, device=dev)
    values = torch.zeros(n, dtype=torch.float64, device=dev)

    bs = batch_size or max(1, _BLOCK_BYTES // (_BYTES_PER_CELL * n))
    bs = min(bs, m)
    starts = range(0, m, bs)
    if progress:
        from dataperf._progress import progress as _progress

        starts = _progress(starts, total=math.ceil(m / bs), desc="knn_shapley", unit="chunk")
    for q0 in starts:
        q1 = min(q0 + bs, m)
        dist = torch.addmm(sq_t[None, :], xv[q0:q1], xt.T, alpha=-2.0)
        dist += sq_v[q0:q1, None]
        # float32 bits of a non-negative float are ordered like the float: pack them above the
        # index into an int64 key, so one sort gives the order with ties broken by index
        bits = dist.to(torch.float32).view(torch.int32).clamp_min_(0)  # negatives, -0.0 -> 0
        del dist
        key = bits.to(torch.int64).bitwise_left_shift_(32).bitwise_or_(index)
        del bits
        if cuda:
            key = torch.sort(key, dim=1).values
        else:
            key.numpy().sort(axis=1)  # in place; NumPy's int64 sort is SIMD-accelerated
        order = key.bitwise_and_(0xFFFFFFFF)  # training index at each rank, nearest first
        match = yt[order] == yv[q0:q1, None]  # m_i along the sorted order
        suffix = torch.where(match, w, 0.0).cumsum_(1)
        total = suffix[:, -1:].clone()
        suffix.neg_().add_(total)  # sum over j > i of m_j w_j
        shap = torch.where(match, c, 0.0).sub_(suffix)
        values.index_add_(0, order.reshape(-1), shap.reshape(-1))
        del key, order, match, suffix, shap
    return (values / m).cpu().numpy()


def loss_proxy(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    k: int,
    *,
    batch_size: int | None = None,
    device: Any = None,
    progress: bool = False,
    search: str = "auto",
) -> np.ndarray:
    """KNN label-agreement proxy: mean of ±1 label agreement with the k nearest validation points.

    Parameters
    ----------
    x_train, y_train, x_valid, y_valid, k, batch_size
        As in :func:`knn_shapley`, except ``1 <= k <= M`` (validation points).
    device, search
        Where the neighbour search runs and which (see :mod:`dataperf.neighbors`).
    progress
        Accepted for a uniform signature.

    Returns
    -------
    (N,) float64 array in [-1, 1]
        ``(1/k) * sum over the k nearest validation points v of (+1 if y_v == y_i else -1)``.
    """
    from dataperf.neighbors import nearest_neighbors

    _, idx = nearest_neighbors(
        x_train, x_valid, k, batch_size=batch_size, search=search, device=device
    )
    agree = y_valid[idx] == y_train[:, None]
    return (2.0 * agree - 1.0).mean(axis=1)


METHODS: dict[str, Callable[..., np.ndarray]] = {
    "knn_shapley": knn_shapley,
    "loss_proxy": loss_proxy,
}


def data_values(
    train: Any,
    valid: Any,
    *,
    method: str = "knn_shapley",
    k: int = 10,
    batch_size: int | None = None,
    device: Any = None,
    progress: bool = False,
    search: str = "auto",
) -> np.ndarray:
    """Value of each training (or candidate) point for predicting a validation set.

    Parameters
    ----------
    train : Signals or (X, y) tuple
        Points to value: ``(N, D)`` embeddings and ``(N,)`` int labels. May be a labelled
        candidate pool that is not in the training set yet.
    valid : Signals or (X, y) tuple
        Validation points: ``(M, D)`` embeddings (same D, same embedding model) and ``(M,)``
        labels in the same class numbering.
    method : {"knn_shapley", "loss_proxy"}
        See the module docstring.
    k : int
        Neighbours: K of the KNN classifier (``1 <= k <= N``) for ``"knn_shapley"``; validation
        neighbours (``1 <= k <= M``) for ``"loss_proxy"``.
    batch_size : int or None
        Validation points (``"knn_shapley"``) or training points (``"loss_proxy"``) per chunk;
        None sizes chunks to about 256 MB.
    device : str, torch.device or None
        ``"knn_shapley"`` runs on CUDA when available (None) or where told.
    progress : bool
        Show a progress bar over chunks.
    search : {"auto", "exact", "approximate"}
        The neighbour search of ``"loss_proxy"`` (see :mod:`dataperf.neighbors`).
        ``"knn_shapley"`` needs every distance in sorted order, so it is always exact.

    Returns
    -------
    (N,) float64 array
        Higher means more helpful; negative values flag points that hurt (e.g. label errors).

    Examples
    --------
    >>> values = data_values(candidates, validation, k=10)
    >>> keep = candidates[np.argsort(-values)[:1000]]  # the 1,000 most helpful candidates
    """
    check_choice(method, "method", sorted(METHODS))
    x_train, y_train = _as_xy(train, "train")
    x_valid, y_valid = _as_xy(valid, "valid")
    from dataperf.signals import Signals

    if isinstance(train, Signals) and isinstance(valid, Signals):
        check_same_classes(train.probs.shape, valid.probs.shape, "train", "valid")
    if x_valid.shape[1] != x_train.shape[1]:
        raise InputValueError(
            f"valid embeddings must have D = {x_train.shape[1]} features like train; got shape "
            f"{x_valid.shape}. Embed both sets with the same model layer."
        )
    if method == "knn_shapley":
        k = check_count(k, len(x_train), "k", what="training points")
    else:
        k = check_count(k, len(x_valid), "k", what="validation points")
    bs = check_batch_size(batch_size)
    opts = {"batch_size": bs, "device": device, "progress": progress}
    if method == "loss_proxy":
        opts["search"] = check_search(search)
    elif check_search(search) == "approximate":
        raise InputValueError(
            "search='approximate' cannot serve method='knn_shapley': exact Shapley values need "
            "every distance in sorted order. Use search='auto' or 'exact' (pass device='cuda' "
            "for speed), or method='loss_proxy'."
        )
    return METHODS[method](x_train, y_train, x_valid, y_valid, k, **opts)
