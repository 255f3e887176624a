"""The test-data sampler: :class:`HardnessSampler` scores a pool and picks ``k`` proposals.

The components live in :mod:`~dataperf.propose.hard`, :mod:`~dataperf.propose.labelable` and
:mod:`~dataperf.propose.novel`; this module runs each pool search once, feeds the components,
and picks with :func:`diverse_greedy` (on :func:`dataperf._greedy.lazy_greedy`). The design
is described in :mod:`dataperf.propose`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._greedy import lazy_greedy
from dataperf._validate import (
    check_choice,
    check_count,
    check_embeddings,
    check_float,
    check_int,
    check_same_classes,
    check_signals,
    check_weights,
    describe,
    resolve_device,
    row_norms,
)
from dataperf.neighbors import check_search
from dataperf.propose.buckets import BucketRules, assign_buckets
from dataperf.propose.hard import (
    error_probability,
    fit_temperature,
    neighbor_shares,
    top_classes,
)
from dataperf.propose.labelable import TYPICAL_LEVEL, combine, typicality_stats
from dataperf.propose.novel import COPY_LEVEL, novelty_from_search, novelty_score
from dataperf.propose.proposal import Proposal
from dataperf.propose.space import Space, calibration_rows
from dataperf.signals import Signals

__all__ = ["COMPONENTS", "HardnessSampler", "diverse_greedy"]

COMPONENTS = ("hard", "labelable", "novel")


def diverse_greedy(
    rows: Callable[[Any], np.ndarray], value: np.ndarray, k: int, radius: float
) -> np.ndarray:
    """Greedy: pick the argmax of ``value * min(1, dist to picked / radius)``, k times.

    ``rows(indices)`` gives the points of those candidates. The factor only shrinks as
    proposals are added, so a candidate's last computed score is an upper bound: the lazy
    greedy (:func:`dataperf._greedy.lazy_greedy`) re-scores only candidates that could still
    win (exact result; ties go to the lowest index), and only their rows are ever read.
    ``radius <= 0``: the ``k`` largest values (ties to the lowest index).

    Returns
    -------
    (k,) int64 array
        Positions in selection order.
    """
    n = len(value)
    if radius <= 0:
        order = np.lexsort((np.arange(n), -value))
        return order[:k].astype(np.int64)
    points: list[np.ndarray] = []
    factor = np.ones(n)

    def refresh(stale: list[int], since: np.ndarray) -> list[float]:
        out = []
        for i, seen in zip(stale, since, strict=True):
            dist = row_norms(np.stack(points[seen:]) - rows([i])[0]).min()
            factor[i] = min(factor[i], dist / radius)
            out.append(float(value[i] * factor[i]))
        return out

    def add(i: int, refreshed: int) -> None:
        points.append(rows([i])[0])

    return np.asarray(lazy_greedy(value, k, refresh, on_pick=add), dtype=np.int64)


def _check_signals(s: Any, name: str, *, pool_dims: tuple[int, int, int] | None) -> Signals:
    check_signals(
        s, name, fix="Get one from dataperf.probe, or build Signals(probs=..., embeddings=...)."
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
    bucket_rules : BucketRules, optional
        The thresholds that put every candidate in one bucket (``Proposal.buckets``): why it
        was or was not proposed; see :mod:`dataperf.propose.buckets`.

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
    bucket_rules: BucketRules = field(default_factory=BucketRules)

    def __post_init__(self) -> None:
        check_int(self.k, "k", low=1)
        self.weights = check_weights(self.weights, "weights", COMPONENTS)
        self.diversity = check_float(self.diversity, "diversity", low=0.0)
        check_choice(self.metric, "metric", ("cosine", "euclidean"))
        check_int(self.seed, "seed", low=0)
        check_count(self.neighbors, 10**6, "neighbors", what="allowed neighbours")
        check_search(self.search)
        resolve_device(self.device)
        if not isinstance(self.bucket_rules, BucketRules):
            raise InputTypeError(
                f"bucket_rules must be a dataperf.propose.buckets.BucketRules; got "
                f"{describe(self.bucket_rules)}. Fix: BucketRules(hard=0.4, ...)."
            )

    def propose(
        self,
        pool: Signals,
        *,
        test: Signals | None = None,
        train: Signals | None = None,
        exclude: Any = None,
    ) -> Proposal:
        """Score the ``pool`` and pick ``k`` proposals; labels of the pool are not needed.

        ``test``: the current test set (labels used to calibrate the model's confidence;
        embeddings for novelty and typicality). ``train``: the training set (embeddings define
        what typical data looks like). Either may be None; without both, typicality is
        judged within the pool itself. ``exclude``: pool ids never to propose, e.g. those
        people already answered (:func:`dataperf.propose.labels.answered_ids`); they are
        still scored, in the bucket ``already_answered``.
        """
        pool = _check_signals(pool, "pool", pool_dims=None)
        dims = (len(pool), pool.num_classes, pool.embeddings.shape[1])
        if test is not None:
            test = _check_signals(test, "test", pool_dims=dims)
        if train is not None:
            train = _check_signals(train, "train", pool_dims=dims)
        n = len(pool)
        excluded = excluded_mask(pool, exclude)
        what = "pool items not excluded" if excluded.any() else "pool items"
        k = check_count(self.k, n - int(excluded.sum()), "k", what=what)

        space = Space(self.metric, self.search, resolve_device(self.device), self.seed)
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
            stats = typicality_stats(
                space,
                "pool",
                pool.embeddings,
                reference,
                calibration,
                self.neighbors,
                self.seed,
                pool_dist=None if reference is None else found[reference][0],
            )
            labelable, parts = combine(*stats, pool.mc_probs, TYPICAL_LEVEL)
            details.update(parts)

        if test is not None:
            novel, spacing = _novelty(pool, test, space, found["test"], self.seed, details)
        else:
            novel = np.ones(n)
            spacing = (
                float(np.median(space.loo_stat("pool", calibration_rows(n, self.seed), 1)))
                if n > 1
                else 1
            )
        w = self.weights
        total = hard ** w["hard"] * labelable ** w["labelable"] * novel ** w["novel"]
        rows = functools.partial(space.rows, "pool")
        kept = np.flatnonzero(~excluded)
        indices = kept[
            diverse_greedy(lambda i: rows(kept[i]), total[kept], k, self.diversity * spacing)
        ]
        top2 = np.take_along_axis(pool.probs, top_classes(pool.probs, 2), axis=1)
        details["prediction"] = pool.probs.argmax(axis=1)
        details["confidence"] = top2[:, 0]
        if top2.shape[1] > 1:
            details["margin"] = top2[:, 0] - top2[:, 1]
        scores = {"hard": hard, "labelable": labelable, "novel": novel, "total": total}
        buckets, ambiguity = assign_buckets(
            scores, details, indices, self.bucket_rules, excluded=excluded
        )
        return Proposal(
            indices=indices,
            ids=pool[indices].ids,
            scores=scores,
            details=details,
            buckets=buckets,
            class_names=_class_names(pool, test, train),
            settings={
                "k": k,
                "pool_size": n,
                "num_classes": int(pool.num_classes),
                "weights": dict(w),
                "diversity": float(self.diversity),
                "radius": float(self.diversity * spacing),
                "temperature": temperature,
                "metric": self.metric,
                "search": self.search,
                "neighbors": int(self.neighbors),
                "label_neighbors": k_nn,
                "typicality_against": typical_of,
                "buckets": {**asdict(self.bucket_rules), "ambiguity": ambiguity},
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
    top2 = top_classes(pool.probs, 2)
    shares = neighbor_shares(top2, dist, idx, labels, k_nn)
    disagreement = 1.0 - shares[:, 0]
    details["model_error"], details["neighbor_disagreement"] = hard, disagreement
    if top2.shape[1] > 1:  # for the hard_but_ambiguous bucket: do the neighbours share both?
        details["neighbor_share_second"] = shares[:, 1]
    return (hard + disagreement) / 2.0, k_nn


def _novelty(
    pool: Signals,
    test: Signals,
    space: Space,
    found: tuple[np.ndarray, np.ndarray],
    seed: int,
    details: dict[str, np.ndarray],
) -> tuple[np.ndarray, float]:
    """The ``novel`` component (embeddings and, for images, fingerprints) and the spacing."""
    dist, idx = found
    novel, d, nearest, spacing = novelty_from_search(
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


def excluded_mask(pool: Signals, exclude: Any) -> np.ndarray:
    """(N,) bool: the pool items whose id is in ``exclude`` (ids as str or int)."""
    if exclude is None:
        return np.zeros(len(pool), dtype=bool)
    if isinstance(exclude, (str, bytes)) or not hasattr(exclude, "__iter__"):
        raise InputTypeError(f"exclude must be a sequence of pool ids; got {describe(exclude)}.")
    wanted = {i.item() if hasattr(i, "item") else i for i in exclude}
    ids = [i.item() if hasattr(i, "item") else str(i) for i in pool.ids]
    unknown = wanted - set(ids)
    if unknown:
        warnings.warn(
            f"{len(unknown)} of the {len(wanted)} ids to exclude are not pool ids (e.g. "
            f"{sorted(map(str, unknown))[:3]}): are they answers to proposals from another pool?",
            stacklevel=3,
        )
    return np.fromiter((i in wanted for i in ids), bool, len(ids))


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
