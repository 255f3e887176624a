"""Find mislabelled items from out-of-sample probabilities and embeddings.

Every method takes a :class:`~dataperf.signals.Signals` with ``probs``, ``labels`` and (for
``"knn"``, optional for ``"ensemble"``) ``embeddings``, and returns a :class:`LabelIssues`:
a ranked list of flagged items, an ``(N,)`` score (higher = more likely mislabelled), a
suggested label and human-readable reasons per flagged item.

The probabilities must be **out-of-sample**: produced by a model that did not train on the item
it scores. A model scoring its own training items has memorised their (possibly wrong) labels, so
it agrees with them and hides most errors. Two ways to get them:

* :func:`cross_val_probs` (defined in :mod:`dataperf.curate.cross_val`, re-exported here) fits a
  scikit-learn-style classifier on the embeddings in K folds and predicts each fold with the
  model that did not see it;
* with a torch model: split the data into K folds, train one model per fold on the other K - 1
  folds, run :func:`dataperf.probe` on the held-out fold, and join the parts with
  ``Signals.concat([...])`` after setting ``meta={"out_of_sample": True}`` on each (reorder by
  ``ids`` if needed). ``Signals.concat`` keeps ``out_of_sample`` only when every part has it.

Confident learning follows the description in Northcutt, Jiang & Chuang, "Confident Learning:
Estimating Uncertainty in Dataset Labels", JAIR 70 (2021); this is an independent implementation
written from the paper.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._validate import (
    check_choice,
    check_count,
    check_int,
    check_position,
    check_signals,
    resolve_device,
)
from dataperf.curate.cross_val import cross_val_probs
from dataperf.neighbors import check_search, nearest_neighbors
from dataperf.signals import Signals

__all__ = ["LabelIssues", "cross_val_probs", "find_label_issues", "METHODS"]


# ----------------------------------------------------------------------------- result type
@dataclass(frozen=True, eq=False)
class LabelIssues:
    """Items whose given label is probably wrong.

    Attributes
    ----------
    indices : (M,) int64 array
        Positions of the M flagged items, most likely mislabelled first (equal scores in
        position order).
    scores : (N,) float64 array
        Per-item score, higher = more likely mislabelled (comparable within one result only).
    is_issue : (N,) bool array
        True for the flagged items (``is_issue[indices]`` is all True).
    suggested : (N,) int64 array
        The label the evidence points to (the model's or the neighbours' choice).
    reasons : dict of int -> list of str
        For each flagged position, short human-readable reasons.
    labels : (N,) int64 array
        The given labels.
    ids : (N,) array
        Item identifiers from the Signals.
    method : str
        Name of the method that produced the result.
    class_names : list of str, optional
        ``signals.meta["classes"]`` when present: explanations and records name the classes.
    """

    indices: np.ndarray
    scores: np.ndarray
    is_issue: np.ndarray
    suggested: np.ndarray
    reasons: dict[int, list[str]]
    labels: np.ndarray
    ids: np.ndarray
    method: str
    class_names: list[str] | None = None

    def _name(self, c: int) -> str:
        return f"{c} ({self.class_names[c]!r})" if self.class_names else str(c)

    def __len__(self) -> int:
        """Number of flagged items."""
        return len(self.indices)

    def explain(self, i: int) -> str:
        """One line saying whether item at position ``i`` is flagged and why."""
        i = check_position(i, len(self.scores), "i")
        head = (
            f"item {i} (id {self.ids[i]}): labelled {self._name(int(self.labels[i]))}, "
            f"suggested {self._name(int(self.suggested[i]))}, score {self.scores[i]:.3f}"
        )
        if not self.is_issue[i]:
            return f"{head}; not flagged by {self.method}."
        rank = int(np.flatnonzero(self.indices == i)[0]) + 1
        return f"{head}; flagged (rank {rank}/{len(self)}): " + "; ".join(self.reasons[i])

    def to_records(self) -> list[dict[str, Any]]:
        """Flagged items in rank order as dicts (``rank, index, id, label, suggested, score,
        reasons``), ready for ``pandas.DataFrame`` or JSON."""
        out = []
        for rank, i in enumerate(self.indices.tolist(), start=1):
            item_id = self.ids[i]
            out.append(
                {
                    "rank": rank,
                    "index": i,
                    "id": item_id.item() if hasattr(item_id, "item") else item_id,
                    "label": int(self.labels[i]),
                    "suggested": int(self.suggested[i]),
                    "score": float(self.scores[i]),
                    "reasons": list(self.reasons[i]),
                }
            )
            if self.class_names:
                out[-1]["label_name"] = self.class_names[int(self.labels[i])]
                out[-1]["suggested_name"] = self.class_names[int(self.suggested[i])]
        return out

    def __repr__(self) -> str:
        return (
            f"LabelIssues(method={self.method!r}, flagged={len(self)} of {len(self.scores)}, "
            f"top={self.indices[:5].tolist()})"
        )


# ----------------------------------------------------------------------------- shared pieces
@dataclass(frozen=True)
class _Inputs:
    probs: np.ndarray
    labels: np.ndarray
    embeddings: np.ndarray | None
    k: int
    metric: str
    num_issues: int | None
    search: str = "auto"
    device: Any = None


@dataclass(frozen=True)
class _Partial:
    scores: np.ndarray
    is_issue: np.ndarray
    suggested: np.ndarray
    reasons: dict[int, list[str]]


def _self_confidence(inp: _Inputs) -> np.ndarray:
    return inp.probs[np.arange(len(inp.labels)), inp.labels]


def _best_other(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Most probable class other than the given one, and its probability."""
    other = probs.copy()
    other[np.arange(len(labels)), labels] = -1.0
    best = other.argmax(axis=1)
    return best, other[np.arange(len(labels)), best]


def _thresholds(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """t_j = mean p_j over items labelled j (inf for a class nobody carries)."""
    k = probs.shape[1]
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    sums = np.zeros(k)
    np.add.at(sums, labels, probs[np.arange(len(labels)), labels])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)


def _top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of the n highest scores (ties by lower position first)."""
    mask = np.zeros(len(scores), dtype=bool)
    if n > 0:
        mask[np.lexsort((np.arange(len(scores)), -scores))[:n]] = True
    return mask


def _rank01(x: np.ndarray) -> np.ndarray:
    """Rank-normalise to (0, 1], average ranks for ties (order-independent)."""
    from scipy.stats import rankdata

    return rankdata(x, method="average") / len(x)


def _confident_learning(inp: _Inputs) -> tuple[_Partial, int]:
    """Confident joint + prune by noise rate; also returns the estimated number of issues."""
    p, y = inp.probs, inp.labels
    n, k = p.shape
    rows = np.arange(n)
    t = _thresholds(p, y)
    above = p >= t[None, :]
    masked = np.where(above, p, -1.0)
    confident = masked.argmax(axis=1)
    has = above.any(axis=1)
    joint = np.zeros((k, k), dtype=np.int64)
    np.add.at(joint, (y[has], confident[has]), 1)
    # Calibrate rows to the given-label counts: C~_ij = C_ij / sum_j C_ij * n_i.
    label_counts = np.bincount(y, minlength=k).astype(np.float64)
    row_sums = joint.sum(axis=1).astype(np.float64)
    calibrated = np.where(
        row_sums[:, None] > 0, joint / np.maximum(row_sums, 1)[:, None] * label_counts[:, None], 0
    )
    remove = np.rint(calibrated).astype(np.int64)
    np.fill_diagonal(remove, 0)
    flagged = np.zeros(n, dtype=bool)
    cell_of = np.full(n, -1, dtype=np.int64)
    best_margin = np.full(n, -np.inf)
    for i in range(k):
        members = np.flatnonzero(y == i)
        if len(members) == 0 or remove[i].sum() == 0:
            continue
        for j in np.flatnonzero(remove[i]):
            margin = p[members, j] - p[members, i]
            eligible = margin > 0  # only items the model finds more likely j than i
            cand, cand_margin = members[eligible], margin[eligible]
            take = cand[_top_n(cand_margin, int(remove[i, j]))]
            flagged[take] = True
            better = p[take, j] - p[take, i] > best_margin[take]
            cell_of[take[better]] = j
            best_margin[take[better]] = (p[take, j] - p[take, i])[better]
    best, p_best = _best_other(p, y)
    scores = (1.0 - (p[rows, y] - p_best)) / 2.0
    suggested = np.where(flagged, cell_of, p.argmax(axis=1))
    reasons = {
        int(i): [
            f"confident learning: labelled {int(y[i])}, confidently {int(cell_of[i])} "
            f"(off-diagonal count {int(joint[y[i], cell_of[i]])})"
        ]
        for i in np.flatnonzero(flagged)
    }
    estimate = int(remove.sum())
    return _Partial(scores, flagged, suggested.astype(np.int64), reasons), estimate


def _estimated_count(inp: _Inputs) -> int:
    if inp.num_issues is not None:
        return inp.num_issues
    return _confident_learning(inp)[1]


def _method_confident_learning(inp: _Inputs) -> _Partial:
    part, _ = _confident_learning(inp)
    if inp.num_issues is not None:
        flagged = _top_n(part.scores, inp.num_issues)
        p, y = inp.probs, inp.labels
        best, p_best = _best_other(p, y)
        reasons = {
            int(i): part.reasons.get(int(i))
            or [f"margin score {part.scores[i]:.2f} in the top {inp.num_issues}"]
            for i in np.flatnonzero(flagged)
        }
        suggested = np.where(part.is_issue, part.suggested, best).astype(np.int64)
        part = _Partial(part.scores, flagged, suggested, reasons)
    return part


def _self_conf_reason(sc: float) -> str:
    return f"low self-confidence {sc:.2f}"


def _method_self_confidence(inp: _Inputs) -> _Partial:
    sc = _self_confidence(inp)
    scores = 1.0 - sc
    flagged = _top_n(scores, _estimated_count(inp))
    reasons = {int(i): [_self_conf_reason(sc[i])] for i in np.flatnonzero(flagged)}
    return _Partial(scores, flagged, inp.probs.argmax(axis=1).astype(np.int64), reasons)


def _method_margin(inp: _Inputs) -> _Partial:
    p, y = inp.probs, inp.labels
    best, p_best = _best_other(p, y)
    margin = p[np.arange(len(y)), y] - p_best
    scores = (1.0 - margin) / 2.0
    flagged = _top_n(scores, _estimated_count(inp))
    reasons = {
        int(i): [f"margin {margin[i]:+.2f}: p[{int(y[i])}] vs p[{int(best[i])}] {p_best[i]:.2f}"]
        for i in np.flatnonzero(flagged)
    }
    return _Partial(scores, flagged, p.argmax(axis=1).astype(np.int64), reasons)


def _knn_votes(inp: _Inputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Neighbour disagreement, majority other label and its vote count, and k used."""
    if inp.embeddings is None:
        raise InputValueError(
            "method 'knn' needs signals.embeddings (N, D); this Signals has none. Fix: probe "
            "with embeddings, or use a probs-only method: 'confident_learning', "
            "'self_confidence', 'margin'."
        )
    y = inp.labels
    n = len(y)
    k = check_count(inp.k, n - 1, "k", what="other items (N - 1)")
    x = inp.embeddings
    _, idx = nearest_neighbors(
        x, x, k, metric=inp.metric, exclude_self=True, search=inp.search, device=inp.device
    )
    neighbour_labels = y[idx]
    num_classes = inp.probs.shape[1]
    votes = np.zeros((n, num_classes), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(n), k), neighbour_labels.ravel()), 1)
    agree = votes[np.arange(n), y]
    votes_other = votes.copy()
    votes_other[np.arange(n), y] = -1
    top_other = votes_other.argmax(axis=1)
    top_votes = votes_other[np.arange(n), top_other]
    return 1.0 - agree / k, top_other.astype(np.int64), top_votes, k


def _knn_reason(votes: int, k: int, label: int) -> str:
    return f"{votes}/{k} nearest labelled neighbours say {label}"


def _method_knn(inp: _Inputs) -> _Partial:
    disagreement, top_other, top_votes, k = _knn_votes(inp)
    agree = np.rint((1.0 - disagreement) * k).astype(np.int64)
    if inp.num_issues is not None:
        flagged = _top_n(disagreement, inp.num_issues)
    else:
        flagged = top_votes > agree  # a plain kNN vote prefers another label
    suggested = np.where(top_votes > agree, top_other, inp.labels)
    reasons = {
        int(i): [_knn_reason(int(top_votes[i]), k, int(top_other[i]))]
        for i in np.flatnonzero(flagged)
    }
    return _Partial(disagreement, flagged, suggested, reasons)


def _method_ensemble(inp: _Inputs) -> _Partial:
    cl, estimate = _confident_learning(inp)
    sc = _self_confidence(inp)
    parts = [_rank01(1.0 - sc)]
    knn = None
    if inp.embeddings is not None:
        knn = _knn_votes(inp)
        parts.append(_rank01(knn[0]))
    scores = np.mean(parts, axis=0)
    flagged = _top_n(scores, estimate if inp.num_issues is None else inp.num_issues)
    t = _thresholds(inp.probs, inp.labels)
    reasons: dict[int, list[str]] = {}
    for i in np.flatnonzero(flagged).tolist():
        why = list(cl.reasons.get(i, []))
        if sc[i] < t[inp.labels[i]]:
            why.append(_self_conf_reason(sc[i]))
        if knn is not None:
            disagreement, top_other, top_votes, k = knn
            if top_votes[i] > k - round(disagreement[i] * k):
                why.append(_knn_reason(int(top_votes[i]), k, int(top_other[i])))
        reasons[i] = why or [f"ensemble score {scores[i]:.2f} in the top {inp.num_issues}"]
    return _Partial(scores, flagged, cl.suggested, reasons)


#: Label-issue methods by name; each maps validated inputs to scores, flags and reasons.
METHODS: dict[str, Callable[[_Inputs], _Partial]] = {
    "confident_learning": _method_confident_learning,
    "self_confidence": _method_self_confidence,
    "margin": _method_margin,
    "knn": _method_knn,
    "ensemble": _method_ensemble,
}


def find_label_issues(
    signals: Signals,
    *,
    method: str = "ensemble",
    k: int = 10,
    metric: str = "euclidean",
    num_issues: int | None = None,
    search: str = "auto",
    device: Any = None,
) -> LabelIssues:
    """Flag items whose given label is probably wrong.

    Methods (``method=``):

    ``"confident_learning"``
        Confident learning (Northcutt et al. 2021). Per-class thresholds ``t_j`` = mean
        ``p_j`` of the items labelled ``j``; each item counts in the confident joint
        ``C[given, j*]`` with ``j*`` its most probable class among those with ``p_j >= t_j``.
        Rows of ``C`` are calibrated to the label counts, and for every off-diagonal cell
        ``(i, j)`` the ``round(C~_ij)`` items labelled ``i`` with the largest margin
        ``p_j - p_i`` (and ``p_j > p_i``) are flagged ("prune by noise rate"). Score: the
        normalised margin score ``(1 - (p_given - max_other p)) / 2``.
    ``"self_confidence"``
        Score ``1 - p[given]``; flags the top n, n = confident learning's estimate of the number
        of label errors (the rounded sum of the calibrated off-diagonal counts) or
        ``num_issues``.
    ``"margin"``
        Score ``(1 - (p[given] - max_{j != given} p_j)) / 2`` in [0, 1]; flags as above.
    ``"knn"``
        Score: fraction of the ``k`` nearest other items (in embedding space) whose label
        differs from the given one. Flags items whose neighbours' plurality vote picks a
        different label (ties not flagged). Needs ``embeddings``; ignores ``probs``.
    ``"ensemble"`` (default)
        Flags the top n (n = confident learning's estimate of the number of label errors, or
        ``num_issues``) of a score that is the mean of the rank-normalised self-confidence
        score ``1 - p[given]`` and, when embeddings exist, the rank-normalised kNN
        disagreement; so the model and the labelled neighbourhood must both point at an item.
        Suggested label: confident learning's. Reasons list every method that points at it.

    Out-of-sample probabilities are expected (``signals.meta["out_of_sample"] is True``);
    otherwise a ``UserWarning`` is issued. Get them with :func:`cross_val_probs`, or for a torch
    model: split into K folds, train one model per fold on the rest, ``probe`` the held-out
    fold, set ``meta={"out_of_sample": True}`` on each part and ``Signals.concat`` them.

    Parameters
    ----------
    signals : Signals
        ``probs`` (N, K), ``labels`` (N,) and, for ``"knn"``, ``embeddings`` (N, D).
    method : str
        One of :data:`METHODS`.
    k : int
        Neighbours for ``"knn"`` and ``"ensemble"``, ``1 <= k <= N - 1``.
    metric : {"euclidean", "cosine"}
        Neighbour distance.
    num_issues : int, optional
        Flag exactly this many top-scored items instead of the method's own rule.
    search : {"auto", "exact", "approximate"}
        The neighbour search of ``"knn"`` and ``"ensemble"``; see :mod:`dataperf.neighbors`.
    device : str or torch.device, optional
        Where that search runs; None: CUDA when available, else the CPU.

    Returns
    -------
    LabelIssues

    Examples
    --------
    >>> oos = cross_val_probs(LogisticRegression(max_iter=1000), features, labels)
    >>> issues = find_label_issues(oos)
    >>> for row in issues.to_records()[:10]:
    ...     print(row["index"], row["label"], "->", row["suggested"], row["reasons"])
    """
    check_signals(
        signals,
        fix="Fix: Signals(probs=probs, labels=labels, embeddings=..., "
        "meta={'out_of_sample': True}).",
    )
    check_choice(method, "method", sorted(METHODS))
    if signals.labels is None:
        raise InputValueError(
            "find_label_issues needs the given labels, but signals.labels is None. Fix: build "
            "the Signals with labels=(N,) class indices."
        )
    n = len(signals)
    if n < 2:
        raise InputValueError(f"find_label_issues needs at least 2 items; got {n}.")
    num_issues = check_int(
        num_issues,
        "num_issues",
        low=0,
        high=n,
        allow_none=True,
        high_name="the number of items",
        none_means="the method's own rule",
    )
    if method in ("knn", "ensemble") and (signals.embeddings is not None or method == "knn"):
        check_count(k, n - 1, "k", what="other items (N - 1)")
    if signals.meta.get("out_of_sample") is not True:
        warnings.warn(
            "signals.meta['out_of_sample'] is not True: if these probs come from a model that "
            "trained on the same items, it has memorised their labels (wrong ones included) and "
            "label issues will be badly under-reported. Get out-of-sample probs with "
            "dataperf.curate.cross_val_probs(estimator, signals), or train one model per fold "
            "and probe its held-out fold; then set meta={'out_of_sample': True}.",
            UserWarning,
            stacklevel=2,
        )
    inp = _Inputs(
        probs=signals.probs,
        labels=signals.labels,
        embeddings=signals.embeddings,
        k=k,
        metric=metric,
        num_issues=num_issues,
        search=check_search(search),
        device=resolve_device(device),
    )
    part = METHODS[method](inp)
    flagged = np.flatnonzero(part.is_issue)
    order = flagged[np.lexsort((flagged, -part.scores[flagged]))]
    return LabelIssues(
        indices=order.astype(np.int64),
        scores=np.asarray(part.scores, dtype=np.float64),
        is_issue=part.is_issue.astype(bool),
        suggested=part.suggested.astype(np.int64),
        reasons={int(i): part.reasons[int(i)] for i in order},
        labels=signals.labels,
        ids=signals.ids,
        method=method,
        class_names=_class_names(signals.meta.get("classes"), signals.num_classes),
    )


def _class_names(names: Any, k: int) -> list[str] | None:
    if isinstance(names, (list, tuple)) and len(names) == k:
        return [str(n) for n in names]
    return None
