"""Propose new test examples that are hard, labelable and novel.

:class:`HardnessSampler` scores every candidate of an unlabelled pool on three components, each
in ``[0, 1]``, and picks ``k`` of them greedily with a diversity penalty:

``hard``
    The estimated probability that the model is wrong on the candidate, the mean of two
    estimates: the model's own, ``1 - max p`` after temperature scaling fitted on the labelled
    test set (so an over-confident model is corrected), and its labelled neighbours', the
    share of the ``neighbors`` nearest labelled examples (training and test) whose label is
    not the predicted class. When the pool happens to carry labels, ``1 - p[label]`` alone.
``labelable``
    Whether a person can give the candidate one label. A candidate is **unlabelable** when it
    does not look like the data people labelled before: it lies where no training (or test)
    example lies -- noise, images from another domain, blends of two classes that fall
    between the class clusters -- or, with MC-dropout samples, when the model's uncertainty is
    mostly *aleatoric* (the input itself is ambiguous) rather than *epistemic* (the model has not
    learned it). See :func:`labelability`. Replace it with your own score (e.g. from annotation
    cost) through ``HardnessSampler(labelability=...)``.
``novel``
    Whether the candidate is unlike the current test set: its distance to the nearest test
    example, compared with the distance a genuinely new example has (leave-one-out distances
    within the test set). Near-copies of test items score about 0.

``total = hard**w_hard * labelable**w_labelable * novel**w_novel``; the greedy step then
multiplies each candidate's total by ``min(1, distance to the nearest proposal so far / r)``,
where ``r`` is ``diversity`` times the typical spacing between neighbouring examples, so the
proposals are unlike each other as well.

Distances are Euclidean between L2-normalised embeddings (``metric="cosine"``, the default,
which works best for penultimate-layer features) or between raw embeddings
(``metric="euclidean"``).
"""

from __future__ import annotations

import csv
import functools
import heapq
import json
import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._store import atomic_file, atomic_write_text, check_output_file
from dataperf._validate import (
    check_choice,
    check_count,
    check_embeddings,
    check_float,
    check_int,
    check_same_classes,
    check_weights,
    describe,
    resolve_device,
    row_norms,
)
from dataperf.neighbors import NeighborIndex, check_search
from dataperf.scores import bald, entropy
from dataperf.signals import Signals

__all__ = [
    "COMPONENTS",
    "HardnessSampler",
    "Proposal",
    "error_probability",
    "fit_temperature",
    "labelability",
    "novelty_score",
]

COMPONENTS = ("hard", "labelable", "novel")

#: Above this p-value a candidate counts as fully typical (``labelable`` = 1 from density).
TYPICAL_LEVEL = 0.05
#: Candidates nearer the test set than this fraction of genuinely new examples are near-copies.
COPY_LEVEL = 0.05
#: Reference sets larger than this are subsampled (seeded) for calibration statistics.
_CALIBRATION_MAX = 5000


# --------------------------------------------------------------------------------------------
# component scores: pure functions over arrays
# --------------------------------------------------------------------------------------------


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, 1e-12, 1.0))


def _softmax_t(probs: np.ndarray, temperature: float) -> np.ndarray:
    z = _log(probs) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """Temperature ``T`` minimising the log loss of ``softmax(log(probs) / T)`` on labelled data.

    Temperature scaling (Guo et al., 2017): ``T > 1`` softens an over-confident model,
    ``T < 1`` sharpens an under-confident one; the argmax never changes. Searched in
    ``[0.05, 20]`` on a log scale.
    """
    from scipy.optimize import minimize_scalar

    logp = _log(probs)
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[rows, labels]))

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def error_probability(
    probs: np.ndarray, *, temperature: float = 1.0, labels: np.ndarray | None = None
) -> np.ndarray:
    """Estimated probability that the model's prediction is wrong, per row.

    ``1 - max softmax(log(probs) / temperature)``; with ``labels``, the probability the model
    does not give the true label, ``1 - p[label]``.
    """
    p = _softmax_t(probs, temperature) if temperature != 1.0 else probs
    if labels is not None:
        return 1.0 - p[np.arange(len(p)), labels]
    return 1.0 - p.max(axis=1)


def _pvalue(values: np.ndarray, calibration: np.ndarray) -> np.ndarray:
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


def _subsample(n: int, seed: int) -> np.ndarray:
    if n <= _CALIBRATION_MAX:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, _CALIBRATION_MAX, replace=False))


class _Space:
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


def _space(metric: str, **sets: Any) -> _Space:
    space = _Space(metric, "auto", None, 0)
    for name, x in sets.items():
        if x is not None:
            space.add(name, x)
    return space


def labelability(
    pool: np.ndarray,
    reference: np.ndarray | None,
    calibration: np.ndarray | None = None,
    *,
    mc_probs: np.ndarray | None = None,
    k: int = 10,
    level: float = TYPICAL_LEVEL,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """How likely a person can label each candidate, in ``[0, 1]``, and its parts.

    1. **Typicality** (always): the mean distance ``s`` from the candidate to its ``k`` nearest
       ``reference`` embeddings (the training set, else the test set) is compared with the same
       statistic for ``calibration`` embeddings -- examples known to be labelable that the
       model did not train on (the test set). The conformal p-value
       ``p = (1 + #{calibration s >= candidate s}) / (1 + n)`` says how unusual the candidate
       is among real labelled examples; ``typical = min(1, p / level)``. Noise, other
       domains and off-manifold blends are farther from the reference than almost every real
       example, so ``typical`` goes to ~0; any candidate at least as typical as the ``level``
       most unusual real examples gets 1. Without calibration embeddings the reference itself
       is used, each point leaving itself out.
    2. **Unambiguity** (with ``mc_probs``, (N, T, K) MC-dropout samples): the share of the
       predictive entropy that is epistemic, ``BALD / H[mean p]``, rescaled so that the
       median candidate gets 1: an input whose uncertainty the dropout samples all agree on
       (high aleatoric, low epistemic) is ambiguous in itself.

    Distances are Euclidean between the given rows. Returns ``(labelable, parts)`` with
    ``parts`` holding ``typical``, ``typicality_pvalue`` and (with ``mc_probs``)
    ``unambiguous``.
    """
    space = _space("euclidean", pool=pool, reference=reference)
    s_pool, s_cal = _typicality_stats(space, "pool", pool, "reference", calibration, k, seed)
    return _labelability(s_pool, s_cal, mc_probs, level)


def _typicality_stats(
    space: _Space,
    pool_name: str,
    pool: np.ndarray,
    reference: str | None,
    calibration: np.ndarray | None,
    k: int,
    seed: int,
    pool_dist: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean k-NN distances of the pool and of the calibration rows to the reference set
    (``pool_dist``: the pool's sorted neighbour distances, when already searched)."""
    n = len(pool)
    if reference is None:  # judge the pool by itself, each point leaving itself out
        if n < 2:
            return np.zeros(n), np.zeros(n)
        s_pool = space.loo_stat(pool_name, np.arange(n), min(k, n - 1))
        return s_pool, s_pool
    m = space.size(reference)
    kk = min(k, m)
    if pool_dist is None:
        pool_dist = space.knn(reference, pool, kk)[0]
    s_pool = pool_dist[:, :kk].mean(axis=1)
    if calibration is not None:
        cal = calibration[_subsample(len(calibration), seed)]
        return s_pool, space.knn(reference, cal, kk)[0].mean(axis=1)
    if m >= 2:
        return s_pool, space.loo_stat(reference, _subsample(m, seed), min(k, m - 1))
    return s_pool, None  # one reference point: nothing to compare with, every item is typical


def _labelability(
    s_pool: np.ndarray,
    s_cal: np.ndarray | None,
    mc_probs: np.ndarray | None,
    level: float,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    pvalue = np.ones(len(s_pool)) if s_cal is None else _pvalue(s_pool, s_cal)
    typical = np.minimum(1.0, pvalue / level)
    parts = {"typical": typical, "typicality_pvalue": pvalue}
    labelable = typical
    if mc_probs is not None:
        total = entropy(mc_probs.mean(axis=1))
        share = bald(mc_probs) / np.maximum(total, 1e-12)
        median = np.median(share)
        unambiguous = np.minimum(1.0, share / median) if median > 0 else np.ones_like(share)
        parts["unambiguous"] = unambiguous
        labelable = labelable * unambiguous
    return labelable, parts


def novelty_score(
    pool: np.ndarray, test: np.ndarray, *, level: float = COPY_LEVEL, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """How unlike the test set each candidate is, in ``[0, 1]``.

    ``d`` = distance to the nearest test row. A genuinely new example drawn like the test set
    is about as far from the test set as a test example is from the *other* test examples, so
    the leave-one-out nearest-neighbour distances ``c`` within the test set are the
    yardstick: ``novel = min(1, q / level)``, with ``q`` the (lower-tail) conformal p-value of
    ``d`` among ``c``. Candidates nearer to the test set than all but a ``level`` share of new
    examples (near-copies) score near 0. Distances are Euclidean between the given rows.

    Returns ``(novel, d, nearest, spacing)``: the score, the distances, the nearest test row,
    and the median leave-one-out distance (the typical spacing between neighbours).
    """
    space = _space("euclidean", test=test)
    dist, idx = space.knn("test", pool, 1)
    return _novelty_score(space, "test", dist[:, 0], idx[:, 0], level, seed)


def _novelty_score(
    space: _Space, test: str, d: np.ndarray, nearest: np.ndarray, level: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    m = space.size(test)
    if m < 2:
        return np.ones(len(d)), d, nearest, float(np.median(d)) if len(d) else 1.0
    c = space.loo_stat(test, _subsample(m, seed), 1)
    novel = np.minimum(1.0, _pvalue(-d, -c) / level)  # share of new examples at most as far
    return novel, d, nearest, float(np.median(c))


# --------------------------------------------------------------------------------------------
# diverse greedy selection
# --------------------------------------------------------------------------------------------


def _diverse_greedy(
    rows: Callable[[Any], np.ndarray], value: np.ndarray, k: int, radius: float
) -> np.ndarray:
    """Greedy: pick the argmax of ``value * min(1, dist to picked / radius)``, k times.

    ``rows(indices)`` gives the points of those candidates. The factor only shrinks as
    proposals are added, so a candidate's last computed score is an upper bound: a lazy heap
    re-scores only candidates that could still win (exact result; ties go to the lowest
    index), and only their rows are ever read.
    """
    n = len(value)
    if radius <= 0:
        order = np.lexsort((np.arange(n), -value))
        return order[:k].astype(np.int64)
    heap = [(-float(v), i, 0) for i, v in enumerate(value)]
    heapq.heapify(heap)
    picked: list[int] = []
    points: list[np.ndarray] = []
    factor = np.ones(n)
    while len(picked) < k:
        neg, i, seen = heapq.heappop(heap)
        if seen < len(picked):
            new = np.stack(points[seen:])
            dist = row_norms(new - rows([i])[0]).min()
            factor[i] = min(factor[i], dist / radius)
            heapq.heappush(heap, (-float(value[i] * factor[i]), i, len(picked)))
            continue
        picked.append(i)
        points.append(rows([i])[0])
    return np.asarray(picked, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# the sampler
# --------------------------------------------------------------------------------------------


def _check_signals(s: Any, name: str, *, pool_dims: tuple[int, int, int] | None) -> Signals:
    if not isinstance(s, Signals):
        raise InputTypeError(
            f"{name} must be dataperf.Signals (from dataperf.probe or Signals(probs=..., "
            f"embeddings=...)); got {describe(s)}."
        )
    if len(s) == 0:
        raise InputValueError(f"{name} is empty (0 items); pass at least one item.")
    if s.embeddings is None:
        raise InputValueError(
            f"{name} has no embeddings; the sampler needs them for labelability, novelty and "
            "diversity. Probe with dataperf.probe (it collects them) or pass embeddings=."
        )
    if pool_dims is not None:
        n, k, d = pool_dims
        check_same_classes(s.probs.shape, (n, k), name, "the pool")
        if s.embeddings.shape[1] != d:
            raise InputValueError(
                f"{name} embeddings have D={s.embeddings.shape[1]} features but the pool's have "
                f"D={d}; take them from the same model layer."
            )
    return s


@dataclass
class HardnessSampler:
    """Propose ``k`` pool items that are hard for the model, labelable and novel.

    Parameters
    ----------
    k : int
        How many to propose.
    weights : dict, optional
        Exponents of the components in ``total``, e.g. ``{"hard": 2.0}`` to favour hardness;
        missing names default to 1; 0 ignores a component.
    diversity : float
        Radius of the diversity penalty in units of the typical spacing between neighbouring
        examples; 0 turns it off (plain top-k of ``total``).
    seed : int
        Seeds the subsampling of large reference sets (calibration statistics).
    labelability : (N,) array or callable, optional
        Your own labelability score in ``[0, 1]`` for the pool (e.g. ``1 / annotation cost``),
        used instead of the built-in one; a callable is called as
        ``f(pool, test=test, train=train)`` and returns that array.
    neighbors : int
        k of the k-nearest-neighbour typicality statistic.
    metric : {"cosine", "euclidean"}
        Geometry of the embeddings.
    search : {"auto", "exact", "approximate"}
        The neighbour search behind typicality, novelty and neighbour disagreement: exact
        (equal to a float64 brute force), approximate (k-means cells, for pools of millions),
        or chosen by size and device; see :mod:`dataperf.neighbors`.
    device : str or torch.device, optional
        Where the exact search runs; None: CUDA when available, else the CPU.

    Examples
    --------
    >>> proposal = HardnessSampler(100).propose(pool, test=test, train=train)
    >>> print(proposal.explain(0)); proposal.to_jsonl("proposals.jsonl")
    """

    k: int
    weights: dict[str, float] | None = None
    diversity: float = 1.0
    seed: int = 0
    labelability: np.ndarray | Callable[..., Any] | None = None
    neighbors: int = 10
    metric: str = "cosine"
    search: str = "auto"
    device: Any = None

    def __post_init__(self) -> None:
        check_int(self.k, "k", low=1)
        self.weights = check_weights(self.weights, "weights", COMPONENTS)
        self.diversity = check_float(self.diversity, "diversity", low=0.0)
        check_choice(self.metric, "metric", ("cosine", "euclidean"))
        check_int(self.seed, "seed", low=0)
        check_count(self.neighbors, 10**6, "neighbors", what="allowed neighbours")
        check_search(self.search)
        resolve_device(self.device)

    def propose(
        self, pool: Signals, *, test: Signals | None = None, train: Signals | None = None
    ) -> Proposal:
        """Score the ``pool`` and pick ``k`` proposals; labels of the pool are not needed.

        ``test``: the current test set (labels used to calibrate the model's confidence;
        embeddings for novelty and typicality). ``train``: the training set (embeddings define
        what typical data looks like). Either may be None; without both, typicality is
        judged within the pool itself.
        """
        pool = _check_signals(pool, "pool", pool_dims=None)
        dims = (len(pool), pool.num_classes, pool.embeddings.shape[1])
        if test is not None:
            test = _check_signals(test, "test", pool_dims=dims)
        if train is not None:
            train = _check_signals(train, "train", pool_dims=dims)
        n = len(pool)
        k = check_count(self.k, n, "k", what="pool items")

        space = _Space(self.metric, self.search, resolve_device(self.device), self.seed)
        space.add("pool", pool.embeddings)
        sets = {"train": train, "test": test}
        for name, signals in sets.items():
            if signals is not None:
                space.add(name, signals.embeddings)
        # each pool x reference search runs once, for every component that needs it
        found = {
            name: space.knn(name, pool.embeddings, min(self.neighbors, len(signals)))
            for name, signals in sets.items()
            if signals is not None
        }
        reference = "train" if train is not None else "test" if test is not None else None
        calibration = test.embeddings if train is not None and test is not None else None
        typical_of = (
            "held-out labelled examples"
            if calibration is not None
            else "training examples"
            if train is not None
            else "test examples"
            if test is not None
            else "pool items"
        )
        details: dict[str, np.ndarray] = {}

        temperature = 1.0
        if test is not None and test.labels is not None:
            temperature = fit_temperature(test.probs, test.labels)
        elif test is not None and pool.labels is None:
            _warn_unlabelled_test(train is not None and train.labels is not None)
        hard, k_nn = _hardness(pool, sets, found, temperature, self.neighbors, details)
        if self.labelability is not None:
            labelable = self._user_labelability(pool, test, train)
        else:
            stats = _typicality_stats(
                space,
                "pool",
                pool.embeddings,
                reference,
                calibration,
                self.neighbors,
                self.seed,
                pool_dist=None if reference is None else found[reference][0],
            )
            labelable, parts = _labelability(*stats, pool.mc_probs, TYPICAL_LEVEL)
            details.update(parts)

        if test is not None:
            novel, spacing = _novelty(pool, test, space, found["test"], self.seed, details)
        else:
            novel = np.ones(n)
            spacing = (
                float(np.median(space.loo_stat("pool", _subsample(n, self.seed), 1)))
                if n > 1
                else 1
            )
        w = self.weights
        total = hard ** w["hard"] * labelable ** w["labelable"] * novel ** w["novel"]
        rows = functools.partial(space.rows, "pool")
        indices = _diverse_greedy(rows, total, k, self.diversity * spacing)
        details["prediction"] = pool.probs.argmax(axis=1)
        details["confidence"] = pool.probs.max(axis=1)
        return Proposal(
            indices=indices,
            ids=pool[indices].ids,
            scores={"hard": hard, "labelable": labelable, "novel": novel, "total": total},
            details=details,
            class_names=_class_names(pool, test, train),
            settings={
                "k": k,
                "weights": dict(w),
                "diversity": float(self.diversity),
                "radius": float(self.diversity * spacing),
                "temperature": temperature,
                "metric": self.metric,
                "search": self.search,
                "neighbors": int(self.neighbors),
                "label_neighbors": k_nn,
                "typicality_against": typical_of,
                "used": {
                    "test": test is not None,
                    "train": train is not None,
                    "mc_probs": pool.mc_probs is not None and self.labelability is None,
                    "pool_labels": pool.labels is not None,
                    "user_labelability": self.labelability is not None,
                },
            },
        )

    def _user_labelability(self, pool: Signals, test: Any, train: Any) -> np.ndarray:
        value = self.labelability
        if callable(value):
            value = value(pool, test=test, train=train)
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (len(pool),) or not np.isfinite(arr).all():
            raise InputValueError(
                f"labelability must be a finite (N,) = ({len(pool)},) array; got {describe(value)}."
            )
        if (arr < 0).any() or (arr > 1).any():
            raise InputValueError(
                f"labelability must lie in [0, 1]; got values in [{arr.min():.3g}, "
                f"{arr.max():.3g}]. Rescale it, e.g. x / x.max()."
            )
        return arr


def _hardness(
    pool: Signals,
    sets: dict[str, Signals | None],
    found: dict[str, tuple[np.ndarray, np.ndarray]],
    temperature: float,
    neighbors: int,
    details: dict[str, np.ndarray],
) -> tuple[np.ndarray, int]:
    """The ``hard`` component and the number of labelled neighbours it used (0: none).

    The labelled neighbours are the nearest of the training and test items together (ties to
    the training items, then the lower index), merged from the two searches already run.
    """
    hard = error_probability(pool.probs, temperature=temperature, labels=pool.labels)
    labelled = [n for n, s in sets.items() if s is not None and s.labels is not None]
    if not labelled or pool.labels is not None:
        return hard, 0
    k_nn = min(int(neighbors), sum(len(sets[n]) for n in labelled))
    dist = np.hstack([found[n][0] for n in labelled])
    offset = np.cumsum([0] + [len(sets[n]) for n in labelled])
    idx = np.hstack([found[n][1] + o for n, o in zip(labelled, offset, strict=False)])
    labels = np.concatenate([sets[n].labels for n in labelled])
    order = np.lexsort((idx, dist), axis=1)[:, :k_nn]
    neighbour_labels = labels[np.take_along_axis(idx, order, 1)]
    agree = (neighbour_labels == pool.probs.argmax(axis=1)[:, None]).mean(axis=1)
    details["model_error"], details["neighbor_disagreement"] = hard, 1.0 - agree
    return (hard + (1.0 - agree)) / 2.0, k_nn


def _novelty(
    pool: Signals,
    test: Signals,
    space: _Space,
    found: tuple[np.ndarray, np.ndarray],
    seed: int,
    details: dict[str, np.ndarray],
) -> tuple[np.ndarray, float]:
    """The ``novel`` component (embeddings and, for images, fingerprints) and the spacing."""
    dist, idx = found
    novel, d, nearest, spacing = _novelty_score(
        space, "test", dist[:, 0], idx[:, 0], COPY_LEVEL, seed
    )
    details["test_distance"] = d
    prints = _fingerprints(pool, test)
    if prints is not None:  # a near-copy by either measure is a near-copy
        novel_fp, _, nearest_fp, _ = novelty_score(*prints, seed=seed)
        details["novel_embedding"], details["novel_fingerprint"] = novel, novel_fp
        nearest = np.where(novel_fp < novel, nearest_fp, nearest)
        novel = np.minimum(novel, novel_fp)
    details["nearest_test_id"] = test.ids[nearest]
    return novel, spacing


def _fingerprints(pool: Signals, test: Signals) -> tuple[np.ndarray, np.ndarray] | None:
    """The image fingerprints of pool and test when both have them, of one size."""
    a, b = pool.fingerprints, test.fingerprints
    if a is None or b is None or a.shape[1:] != b.shape[1:]:
        return None
    return check_embeddings(a, "pool fingerprint"), check_embeddings(b, "test fingerprint")


def _warn_unlabelled_test(train_labelled: bool) -> None:
    """Say what proposing against a test set without labels gives up."""
    lost = [
        "the model's confidence is not calibrated on it (temperature 1.0: confidence as the "
        "model states it, often over-confident)"
    ]
    if not train_labelled:
        lost.append(
            "hardness is the model's own uncertainty only, without disagreement with labelled "
            "neighbours, so more proposals are items the model in fact gets right"
        )
    warnings.warn(
        "the test set has no labels, so " + "; and ".join(lost) + ". Fix: give the test "
        "set's labels (an ImageFolder layout, images.npy:labels.npy, or Signals with labels), "
        "or a labelled training set (train=, --train).",
        stacklevel=3,
    )


def _class_names(*signals: Signals | None) -> list[str] | None:
    for s in signals:
        if s is not None and isinstance(s.meta.get("classes"), list):
            return [str(c) for c in s.meta["classes"]]
    return None


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Proposal:
    """The proposed pool items, in selection order, with the scores that chose them.

    ``indices`` are pool positions and ``ids`` the pool's ids of those items (file paths for
    an image folder). ``scores`` holds each component and the total for *every* pool item;
    ``hard`` / ``labelable`` / ``novel`` / ``total`` are those of the proposed items.
    """

    indices: np.ndarray
    ids: np.ndarray
    scores: dict[str, np.ndarray]
    details: dict[str, np.ndarray] = field(default_factory=dict)
    class_names: list[str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def hard(self) -> np.ndarray:
        return self.scores["hard"][self.indices]

    @property
    def labelable(self) -> np.ndarray:
        return self.scores["labelable"][self.indices]

    @property
    def novel(self) -> np.ndarray:
        return self.scores["novel"][self.indices]

    @property
    def total(self) -> np.ndarray:
        return self.scores["total"][self.indices]

    def _class(self, c: int) -> str:
        return f"'{self.class_names[c]}'" if self.class_names else f"class {c}"

    def _rank(self, rank: Any) -> int:
        n = len(self)
        if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or not -n <= rank < n:
            raise IndexError(f"rank must be an int in [0, {n}); got {rank!r}.")
        return int(rank) % n

    def explain(self, rank: int) -> str:
        """One plain sentence: why the ``rank``-th proposal (0 = first) was chosen."""
        r = self._rank(rank)
        i = int(self.indices[r])
        d = self.details
        s = {c: float(v[i]) for c, v in self.scores.items()}
        predicted = self._class(int(d["prediction"][i]))
        estimate = f"an estimated {s['hard']:.0%} chance it is wrong"
        if self.settings.get("used", {}).get("pool_labels"):
            hard = f"the model gives its known label only {1 - s['hard']:.0%} probability"
        elif "neighbor_disagreement" in d:
            k = int(self.settings["label_neighbors"])
            m = int(round(float(d["neighbor_disagreement"][i]) * k))
            hard = (
                f"the model predicts {predicted} with {d['confidence'][i]:.0%} confidence while "
                f"{m} of its {k} nearest labelled examples have another label ({estimate})"
            )
        else:
            confidence = f"{d['confidence'][i]:.0%}"
            hard = f"the model predicts {predicted} with {confidence} confidence ({estimate})"
        why = [hard]
        if "typicality_pvalue" in d:
            p = float(d["typicality_pvalue"][i])
            of = self.settings.get("typicality_against", "held-out labelled examples")
            why.append(
                f"it looks like real data (as typical as {p:.0%} of {of})"
                if d["typical"][i] >= 0.5
                else f"yet it looks unusual (as typical as only {p:.1%} of {of}), so it may be "
                "hard to label"
            )
        if "unambiguous" in d and d["unambiguous"][i] < 0.5:
            why.append("its MC-dropout samples agree it is ambiguous, so it may be hard to label")
        if self.settings.get("used", {}).get("user_labelability"):
            why.append(f"your labelability score for it is {s['labelable']:.2f}")
        if "nearest_test_id" in d:
            near = d["nearest_test_id"][i]
            why.append(
                f"it is unlike every current test example (the nearest is test item {near})"
                if s["novel"] >= 0.5
                else f"yet it looks like a near-copy of test item {near}"
            )
        head = f"#{r + 1} (pool item {self.ids[r]!s}, score {s['total']:.2f}): "
        tail = why[-1] if len(why) == 1 else ", ".join(why[:-1]) + ", and " + why[-1]
        return head + tail + "."

    def records(self) -> list[dict[str, Any]]:
        """One dict per proposal: rank, index, id, prediction, confidence, scores, explanation."""
        out = []
        for r, i in enumerate(self.indices):
            c = int(self.details["prediction"][i])
            out.append(
                {
                    "rank": r + 1,
                    "index": int(i),
                    "id": self.ids[r].item() if hasattr(self.ids[r], "item") else self.ids[r],
                    "prediction": self.class_names[c] if self.class_names else c,
                    "confidence": round(float(self.details["confidence"][i]), 6),
                    **{n: round(float(v[i]), 6) for n, v in self.scores.items()},
                    "explanation": self.explain(r),
                }
            )
        return out

    def to_jsonl(self, path: str | Path) -> Path:
        """Write :meth:`records` as JSON lines; return the path."""
        path = check_output_file(path)
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in self.records()))
        return path

    def to_csv(self, path: str | Path) -> Path:
        """Write :meth:`records` as CSV with a header row; return the path."""
        path = check_output_file(path)
        rows = self.records()
        with atomic_file(path, "w") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return path

    def contact_sheet(self, images: Sequence[Any], path: str | Path, *, columns: int = 10) -> Path:
        """Save the proposed images in selection order as one PNG, captioned; return the path.

        ``images`` is indexable by pool position (a Dataset, array or list); each element is
        an image (array, tensor or PIL image), an ``(image, label, ...)`` tuple, or a file path.
        """
        from dataperf.viz import save_grid

        check_count(columns, 10**6, "columns", what="allowed columns")
        tiles, captions = [], []
        for r, i in enumerate(self.indices):
            tiles.append(_load_image(images[int(i)]))
            c = int(self.details["prediction"][i])
            name = self.class_names[c] if self.class_names else f"class {c}"
            captions.append(f"#{r + 1} {name[:10]} {self.details['confidence'][i]:.0%}")
        rows = [tiles[j : j + columns] for j in range(0, len(tiles), columns)]
        caps = [captions[j : j + columns] for j in range(0, len(captions), columns)]
        return save_grid(rows, path, captions=caps)


def _load_image(item: Any) -> Any:
    if isinstance(item, (tuple, list)):
        item = item[0]
    if isinstance(item, (str, Path)):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(item) as img:
                return np.asarray(img.convert("RGB"))
        except (Image.DecompressionBombError, UnidentifiedImageError, OSError, ValueError) as err:
            raise InputValueError(
                f"cannot read image {item} for the contact sheet: {err}. Fix: replace or "
                "remove the file, or write no contact sheet (--no-sheet)."
            ) from None
    return item
