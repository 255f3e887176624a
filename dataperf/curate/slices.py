"""Weak slices: coherent groups of items on which the model does badly.

:func:`find_weak_slices` builds candidate groups, scores each by the model's error rate (or mean
loss) on it, and ranks them by a *lower confidence bound* of how much worse the group is than the
whole data, so that a tiny cluster with a few unlucky errors does not outrank a large, clearly
weak one. Candidates are

- clusters in embedding space: seeded k-means (scikit-learn) on L2-normalised embeddings, by
  default at several granularities (3, 6, 12, 25, 50 clusters, say) and both over all items and
  within each label, since a weak subgroup is often part of one class (a rare subclass) and
  only one level of detail matches its size. Overlapping clusters are the same region seen at
  several levels: of each such family only the one with the strongest evidence of a higher
  error rate (the scan statistic's likelihood ratio, as in Kulldorff's spatial scan) is kept,
  so a weak region appears once, at its own extent, rather than as its purest sliver or as a
  coarse blob around it. Domino (Eyuboglu et al., ICLR 2022) fits one mixture model to
  embeddings, labels and predictions; here plain k-means partitions are made label-aware by
  clustering within each label and error-aware by how one cluster is chosen among overlapping
  ones;
- groups defined by per-item metadata columns (``signals.meta["columns"]``) named in
  ``columns``: one group per value of a categorical column, quantile bins of a numeric one.

Each result is a frozen :class:`Slice` with its member positions, statistics, a few
representative members and a plain-text description.

Permutation equivariance: items are processed in the order of ``signals.ids`` (a stable sort),
so shuffling the Signals (``signals[perm]``, which carries the ids along) gives the same slices,
as sets of ids, in the same ranking. With duplicate ids ties fall back to position order.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._validate import (
    check_choice,
    check_embeddings,
    check_float,
    check_int,
    check_signals,
    describe,
    row_norms,
)
from dataperf.scores import loss as _loss
from dataperf.signals import Signals
from dataperf.stats import mean_interval, wilson_interval

__all__ = ["METRICS", "Slice", "find_weak_slices"]

#: Names accepted by ``find_weak_slices(metric=...)``.
METRICS = ("error", "loss")

_N_REPRESENTATIVES = 5
_MAX_CLUSTERS = 50  # clusters per k-means partition at most
_COARSE = 8  # partitions into at most this many clusters get three k-means starts
_N_BINS = 4  # quantile bins per numeric column (quartiles), fewer when data are scarce
_MAX_INT_CATEGORIES = 20  # integer columns with at most this many values count as categorical


@dataclass(frozen=True, eq=False)
class Slice:
    """A group of items on which the model is weak.

    Attributes
    ----------
    indices : (m,) int64 array
        Positions of the members in the Signals, ascending.
    size : int
        ``m``, the number of members.
    metric : {"error", "loss"}
        What ``value`` measures: the error rate (``argmax probs != label``) or the mean
        cross-entropy loss.
    value : float
        The metric on the slice.
    overall : float
        The metric on all items.
    lift : float
        ``value / overall`` (how many times worse than overall).
    ci : (float, float)
        Confidence interval of ``value`` at the requested level: Wilson score interval for the
        error rate, normal interval ``mean +- z * sd / sqrt(m)`` (low end clipped at 0) for the
        mean loss. Ranking uses ``ci[0] / overall``, the lower bound of the lift.
    representatives : (r,) int64 array
        Up to 5 member positions nearest the slice centroid in normalised embedding space,
        nearest first (the highest-loss members when the Signals have no embeddings).
    description : str
        Plain text, e.g. ``"embedding cluster 7: 41 items, error 46% vs 12% overall (lift
        3.8x, 95% CI 32%-61%)"``.
    kind : {"cluster", "column"}
        Where the group came from.
    """

    indices: np.ndarray
    size: int
    metric: str
    value: float
    overall: float
    lift: float
    ci: tuple[float, float]
    representatives: np.ndarray
    description: str
    kind: str

    def __repr__(self) -> str:
        return f"Slice({self.description!r})"


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def _check_columns(signals: Signals, columns: Any) -> list[str]:
    if columns is None:
        return []
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(columns, Sequence) or not all(isinstance(c, str) for c in columns):
        raise InputTypeError(
            f"columns must be a column name or a list of names; got {describe(columns)}."
        )
    available = signals.meta.get("columns", {})
    one_d = sorted(name for name, v in available.items() if np.ndim(v) == 1)
    out = []
    for name in columns:
        if name not in available:
            raise InputValueError(
                f"unknown meta column {name!r}; valid 1-D columns: {one_d or 'none'}. "
                "Add it to Signals(meta={'columns': {name: (N,) array}}) or fix the name."
            )
        if np.ndim(available[name]) != 1:
            raise InputValueError(
                f"meta column {name!r} has shape {np.shape(available[name])}; slices need a 1-D "
                f"column (one value per item). Valid 1-D columns: {one_d or 'none'}."
            )
        if name not in out:
            out.append(name)
    return out


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------


def _fmt(value: float, metric: str) -> str:
    return f"{100 * value:.0f}%" if metric == "error" else f"{value:.3g}"


# --------------------------------------------------------------------------------------------
# candidate groups (all in canonical order: positions into the id-sorted arrays)
# --------------------------------------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64, copy=False)
    norms = row_norms(x)
    return x / np.where(norms > 0, norms, 1.0)[:, None]


def _kmeans(x: np.ndarray, k: int, seed: int, n_init: int) -> np.ndarray:
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # fewer distinct points than clusters: k-means returns duplicate (empty) clusters
        warnings.simplefilter("ignore", ConvergenceWarning)
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(x)


def _cluster_groups(x: np.ndarray, n_clusters: int, seed: int) -> list[tuple[str, np.ndarray]]:
    n_clusters = min(n_clusters, len(x))
    if n_clusters < 2:
        return []
    labels = _kmeans(x, n_clusters, seed, n_init=3)
    return [
        (f"embedding cluster {c}", np.flatnonzero(labels == c).astype(np.int64))
        for c in range(n_clusters)
    ]


def _ladder(k_max: int) -> list[int]:
    """Cluster counts from coarse to fine, halving down from ``k_max``: e.g. 3, 6, 12, 25, 50."""
    ks = []
    k = k_max
    while k >= 2:
        ks.append(k)
        k //= 2
    return ks[::-1]


def _starts(k: int) -> int:
    """k-means starts for a partition into ``k`` clusters: three for a coarse one, where one bad
    start can merge two whole regions, one for a fine one (cheap insurance is no longer cheap
    there, and the neighbouring levels give other views of the same regions)."""
    return 3 if k <= _COARSE else 1


def _multiscale_groups(
    x: np.ndarray, labels: np.ndarray, min_size: int, seed: int
) -> list[tuple[str, np.ndarray]]:
    """k-means partitions at several granularities, of all items and of each label's items.

    A partition of ``m`` items has at most ``min(50, m // (2 * min_size))`` clusters (at least 2
    for the partition of all items), so its clusters hold ``2 * min_size`` items on average at
    the finest level.
    """
    everything = np.arange(len(x), dtype=np.int64)
    k_all = min(len(x), max(2, min(_MAX_CLUSTERS, len(x) // (2 * min_size))))
    parts = [("", everything, k_all)]
    for value in np.unique(labels):
        idx = np.flatnonzero(labels == value).astype(np.int64)
        parts.append(
            (f"label {value.item()!r}, ", idx, min(_MAX_CLUSTERS, len(idx) // (2 * min_size)))
        )
    groups = []
    for prefix, idx, k_max in parts:
        for k in _ladder(k_max):
            assign = _kmeans(x[idx], k, seed, n_init=_starts(k))
            groups += [
                (f"{prefix}embedding cluster {c + 1} of {k}", idx[assign == c]) for c in range(k)
            ]
    return groups


def _evidence(total: float, m: int, grand: float, n: int, metric: str) -> float:
    """How clearly ``m`` items whose values sum to ``total`` stand out from the rest: the
    log-likelihood ratio of the scan statistic (Kulldorff), "one rate inside and another
    outside" against "one rate everywhere"; Bernoulli for the error rate, and for the loss the
    Gaussian mean shift ``m n / (n - m) (v - o)^2``, which orders groups as that model's ratio
    does (the shared variance is left out: it is the same for every group)."""
    if m >= n:
        return 0.0
    if metric == "loss":
        v, o = total / m, grand / n
        return m * n / (n - m) * (v - o) ** 2

    def loglik(c: float, k: float) -> float:  # max log-likelihood of c successes in k trials
        return sum(a * np.log(a / k) for a in (c, k - c) if a > 0)

    return loglik(total, m) + loglik(grand - total, n - m) - loglik(grand, n)


def _distinct(candidates: list[tuple], n: int) -> list[tuple]:
    """Candidates in order of evidence (``t[-1]``, then ``t[3]``), keeping a cluster only when
    at most half of the smaller of it and each kept cluster lies in the other: of a family of
    nested or overlapping clusters (the same region at several granularities) the one with the
    strongest evidence stays. Column groups are always kept and block nothing."""
    kept = []
    owner = np.full((n, 1), -1, dtype=np.int64)  # per item: the kept clusters holding it
    sizes = np.zeros(0, dtype=np.int64)
    for t in sorted(candidates, key=lambda t: (-t[-1], t[3])):
        members = t[6]
        if t[4] == "cluster":
            held = owner[members]
            inter = np.bincount(held[held >= 0], minlength=len(sizes))
            if np.any(inter > 0.5 * np.minimum(len(members), sizes)):
                continue
            free = held < 0
            if not free.any(axis=1).all():  # some member already fills every column
                owner = np.hstack([owner, np.full((n, 1), -1, dtype=np.int64)])
                free = owner[members] < 0
            owner[members, free.argmax(axis=1)] = len(sizes)
            sizes = np.append(sizes, len(members))
        kept.append(t)
    return kept


def _column_groups(name: str, values: np.ndarray, min_size: int) -> list[tuple[str, np.ndarray]]:
    values = np.asarray(values)
    kind = values.dtype.kind
    categorical = kind in "bOSU" or (kind in "iu" and len(np.unique(values)) <= _MAX_INT_CATEGORIES)
    groups = []
    if categorical:
        for v in np.unique(values):
            label = v.item() if hasattr(v, "item") else v
            groups.append((f"column {name!r} = {label!r}", np.flatnonzero(values == v)))
        return [(d, g.astype(np.int64)) for d, g in groups]
    if kind not in "iuf":
        raise InputTypeError(
            f"meta column {name!r} must be categorical (str, bool, int) or numeric; "
            f"got dtype {values.dtype}."
        )
    v = values.astype(np.float64)
    finite = np.isfinite(v)
    if not finite.any():
        return []
    n_bins = max(1, min(_N_BINS, int(finite.sum()) // max(1, min_size)))
    edges = np.unique(np.quantile(v[finite], np.linspace(0, 1, n_bins + 1)))
    if len(edges) < 2:
        return [(f"column {name!r} = {edges[0]:.4g}", np.flatnonzero(finite).astype(np.int64))]
    # bin b holds edges[b] <= v < edges[b + 1]; the last bin also holds the maximum
    bins = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2)
    for b in range(len(edges) - 1):
        members = np.flatnonzero(finite & (bins == b))
        close = "]" if b == len(edges) - 2 else ")"
        groups.append((f"column {name!r} in [{edges[b]:.4g}, {edges[b + 1]:.4g}{close}", members))
    return [(d, g.astype(np.int64)) for d, g in groups]


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def find_weak_slices(
    signals: Signals,
    *,
    n_slices: int = 10,
    min_size: int = 20,
    metric: str = "error",
    columns: str | Sequence[str] | None = None,
    n_clusters: int | None = None,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[Slice]:
    """Coherent groups of items where the model is weak, most clearly weak first.

    Parameters
    ----------
    signals : Signals
        Needs ``labels``; needs ``embeddings`` for cluster slices (without them, only the
        column slices are searched and ``columns`` is required).
    n_slices : int
        At most this many slices are returned.
    min_size : int
        Groups with fewer members are dropped; ``1 <= min_size <= N``.
    metric : {"error", "loss"}
        ``"error"``: error rate, ``argmax(probs) != label``; ``"loss"``: mean cross-entropy.
    columns : str or list of str, optional
        Names of 1-D per-item columns in ``signals.meta["columns"]`` to slice by. Strings,
        booleans and integer columns with at most 20 distinct values are categorical (one group
        per value); other numeric columns are cut at their quartiles (fewer bins when
        ``N / min_size < 4``; NaN items are left out). 2-D columns (e.g. image fingerprints)
        cannot be named here; unnamed columns are ignored.
    n_clusters : int, optional
        Number of k-means clusters of one partition of all items (no other clusters). Default:
        several partitions, of all items and of each label's items, from 2 or 3 clusters up to
        ``min(50, m // (2 * min_size))`` for ``m`` items (at least 2 for all items), halving
        the count from level to level; of clusters that overlap (more than half of the smaller
        inside the other) only the one with the largest likelihood ratio of "higher error rate
        (mean loss) inside than outside" is kept. These k-means runs have three starts up to 8
        clusters, one above; an explicit ``n_clusters`` has three (``n_init=3``).
    confidence : float
        Level of the confidence intervals, in (0, 1).
    seed : int
        Seed of k-means (``random_state``); the global RNGs are never used.

    Returns
    -------
    list of Slice
        Groups with ``size >= min_size`` that are worse than overall (``value > overall``),
        no two clusters overlapping by more than half of the smaller one, sorted by the lower
        confidence bound of the lift (``ci[0] / overall``), descending; ties go to the larger
        value, then the larger group. Empty when the model makes no error (or has zero loss)
        on any item.

    Raises
    ------
    ValueError
        No labels, unknown metric or column, ``min_size > N``, no embeddings and no columns.
    """
    check_signals(signals)
    if signals.labels is None:
        raise InputValueError(
            "find_weak_slices needs labels to measure where the model is wrong; got "
            "signals.labels=None. Pass Signals(..., labels=y)."
        )
    check_choice(metric, "metric", METRICS)
    n = len(signals)
    n_slices = check_int(n_slices, "n_slices", low=1)
    min_size = check_int(min_size, "min_size", low=1)
    if min_size > n:
        raise InputValueError(
            f"min_size ({min_size}) is larger than the number of items ({n}); no group can be "
            f"that big. Pass min_size <= {n}."
        )
    if n_clusters is not None:
        n_clusters = check_int(n_clusters, "n_clusters", low=2, high=n)
    confidence = check_float(
        confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True
    )
    names = _check_columns(signals, columns)
    if signals.embeddings is None and not names:
        raise InputValueError(
            "find_weak_slices needs embeddings (for cluster slices) or columns (for metadata "
            "slices); the Signals have no embeddings and columns=None. Pass embeddings, or "
            "columns=['name', ...] naming 1-D arrays in signals.meta['columns']."
        )
    z = NormalDist().inv_cdf(0.5 + float(confidence) / 2.0)

    # canonical order: by id (stable), so results do not depend on the order of the items
    order = np.argsort(signals.ids, kind="stable")
    probs = signals.probs[order]
    labels = signals.labels[order]
    per_item = _loss(probs, labels)
    wrong = (probs.argmax(1) != labels).astype(np.float64)
    values = wrong if metric == "error" else per_item
    overall = float(values.mean())
    if overall <= 0.0:
        return []

    x = None
    groups: list[tuple[str, str, np.ndarray]] = []
    if signals.embeddings is not None:
        x = _unit(check_embeddings(signals.embeddings)[order])
        if n_clusters is None:
            found = _multiscale_groups(x, labels, min_size, seed)
        else:
            found = _cluster_groups(x, n_clusters, seed)
        groups += [("cluster", d, g) for d, g in found]
    for name in names:
        col = np.asarray(signals.meta["columns"][name])[order]
        groups += [("column", d, g) for d, g in _column_groups(name, col, min_size)]

    scored = []
    grand = float(values.sum())
    for rank, (kind, label, members) in enumerate(groups):
        m = len(members)
        if m < min_size:
            continue
        v = values[members]
        value = float(v.mean())
        if value <= overall:
            continue
        ci = wilson_interval(float(v.sum()), m, z) if metric == "error" else mean_interval(v, z)
        ci = (min(ci[0], value), max(ci[1], value))  # guard rounding at the ends
        evidence = _evidence(float(v.sum()), m, grand, n, metric)
        scored.append((-ci[0], -value, -m, rank, kind, label, members, value, ci, evidence))
    scored = _distinct(scored, n)
    scored.sort(key=lambda t: t[:4])

    pct = f"{100 * float(confidence):g}%"
    out = []
    for _, _, _, _, kind, label, members, value, ci, _ in scored[:n_slices]:
        m = len(members)
        if x is not None:
            centre = x[members].mean(0)
            dist = row_norms(x[members] - centre)
            reps = members[np.argsort(dist, kind="stable")[:_N_REPRESENTATIVES]]
        else:
            reps = members[np.argsort(-per_item[members], kind="stable")[:_N_REPRESENTATIVES]]
        word = "error" if metric == "error" else "mean loss"
        lift = value / overall
        description = (
            f"{label}: {m} items, {word} {_fmt(value, metric)} vs {_fmt(overall, metric)} "
            f"overall (lift {lift:.1f}x, {pct} CI {_fmt(ci[0], metric)}-{_fmt(ci[1], metric)})"
        )
        out.append(
            Slice(
                indices=np.sort(order[members]).astype(np.int64),
                size=m,
                metric=metric,
                value=value,
                overall=overall,
                lift=lift,
                ci=(float(ci[0]), float(ci[1])),
                representatives=order[reps].astype(np.int64),
                description=description,
                kind=kind,
            )
        )
    return out
