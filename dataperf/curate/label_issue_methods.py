"""The label-issue methods behind :func:`dataperf.curate.find_label_issues`, by name in
:data:`METHODS`.

Each method maps the validated :class:`Inputs` of one call to a :class:`Partial` result: an
``(N,)`` score (higher = more likely mislabelled), the flagged items, a suggested label per item
and reasons per flagged item. ``find_label_issues`` validates, picks the method, and ranks and
packages what it returns; its docstring defines each method. Here: the shared pieces
(self-confidence, the best other class, per-class thresholds, top-n, rank normalisation),
confident learning (confident joint, prune by noise rate), the self-confidence, margin and kNN
label-vote methods, and the ensemble of them.

Confident learning follows the description in Northcutt, Jiang & Chuang, "Confident Learning:
Estimating Uncertainty in Dataset Labels", JAIR 70 (2021); this is an independent implementation
written from the paper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._validate import check_count
from dataperf.neighbors import nearest_neighbors

__all__ = ["METHODS", "Inputs", "Partial"]


# ----------------------------------------------------------------------------- shared pieces
@dataclass(frozen=True)
class Inputs:
    """What every method gets: the validated arrays and options of one
    :func:`~dataperf.curate.find_label_issues` call.

    Attributes
    ----------
    probs : (N, K) float array
        Class probabilities (expected out-of-sample).
    labels : (N,) int array
        The given labels.
    embeddings : (N, D) float array or None
        For the neighbour vote of ``"knn"`` and ``"ensemble"``.
    k : int
        Neighbours of that vote (checked against N - 1 where it is used).
    metric : str
        Neighbour distance, ``"euclidean"`` or ``"cosine"``.
    num_issues : int or None
        Flag exactly this many top-scored items; None: the method's own rule.
    search : str
        The neighbour search (see :mod:`dataperf.neighbors`).
    device : torch.device or None
        Where that search runs.
    """

    probs: np.ndarray
    labels: np.ndarray
    embeddings: np.ndarray | None
    k: int
    metric: str
    num_issues: int | None
    search: str = "auto"
    device: Any = None


@dataclass(frozen=True)
class Partial:
    """What every method returns, before :func:`~dataperf.curate.find_label_issues` ranks the
    flagged items.

    Attributes
    ----------
    scores : (N,) float array
        Higher = more likely mislabelled.
    is_issue : (N,) bool array
        The flagged items.
    evidence : (N, K) float array
        Per item, a distribution over the classes behind the suggested label: the model's
        probabilities, the neighbours' label shares, or their mean. ``find_label_issues`` turns
        it into the suggested label and its confidence.
    reasons : dict of int -> list of str
        Short human-readable reasons for each flagged position.
    """

    scores: np.ndarray
    is_issue: np.ndarray
    evidence: np.ndarray
    reasons: dict[int, list[str]]


def _self_confidence(inp: Inputs) -> np.ndarray:
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


def _confident_learning(inp: Inputs) -> tuple[Partial, int]:
    """Confident joint + prune by noise rate; also returns the number of items it flags."""
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
    _, p_best = _best_other(p, y)
    scores = (1.0 - (p[rows, y] - p_best)) / 2.0
    reasons = {
        int(i): [
            f"confident learning: labelled {int(y[i])}, confidently {int(cell_of[i])} "
            f"(off-diagonal count {int(joint[y[i], cell_of[i]])})"
        ]
        for i in np.flatnonzero(flagged)
    }
    return Partial(scores, flagged, p, reasons), int(flagged.sum())


def _estimated_count(inp: Inputs) -> int:
    """``num_issues``, else the number of items confident learning flags."""
    if inp.num_issues is not None:
        return inp.num_issues
    return _confident_learning(inp)[1]


def _method_confident_learning(inp: Inputs) -> Partial:
    part, _ = _confident_learning(inp)
    if inp.num_issues is not None:
        flagged = _top_n(part.scores, inp.num_issues)
        reasons = {
            int(i): part.reasons.get(int(i))
            or [f"margin score {part.scores[i]:.2f} in the top {inp.num_issues}"]
            for i in np.flatnonzero(flagged)
        }
        part = Partial(part.scores, flagged, part.evidence, reasons)
    return part


def _self_conf_reason(sc: float) -> str:
    return f"low self-confidence {sc:.2f}"


def _method_self_confidence(inp: Inputs) -> Partial:
    sc = _self_confidence(inp)
    scores = 1.0 - sc
    flagged = _top_n(scores, _estimated_count(inp))
    reasons = {int(i): [_self_conf_reason(sc[i])] for i in np.flatnonzero(flagged)}
    return Partial(scores, flagged, inp.probs, reasons)


def _method_margin(inp: Inputs) -> Partial:
    p, y = inp.probs, inp.labels
    best, p_best = _best_other(p, y)
    margin = p[np.arange(len(y)), y] - p_best
    scores = (1.0 - margin) / 2.0
    flagged = _top_n(scores, _estimated_count(inp))
    reasons = {
        int(i): [f"margin {margin[i]:+.2f}: p[{int(y[i])}] vs p[{int(best[i])}] {p_best[i]:.2f}"]
        for i in np.flatnonzero(flagged)
    }
    return Partial(scores, flagged, p, reasons)


def _knn_votes(inp: Inputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
    """Neighbour disagreement, majority other label and its vote count, k used, and the
    neighbours' label shares (N, K)."""
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
    return 1.0 - agree / k, top_other.astype(np.int64), top_votes, k, votes / k


def _knn_reason(votes: int, k: int, label: int) -> str:
    return f"{votes}/{k} nearest labelled neighbours say {label}"


def _method_knn(inp: Inputs) -> Partial:
    disagreement, top_other, top_votes, k, shares = _knn_votes(inp)
    agree = np.rint((1.0 - disagreement) * k).astype(np.int64)
    if inp.num_issues is not None:
        flagged = _top_n(disagreement, inp.num_issues)
    else:
        flagged = top_votes > agree  # a plain kNN vote prefers another label
    reasons = {
        int(i): [_knn_reason(int(top_votes[i]), k, int(top_other[i]))]
        for i in np.flatnonzero(flagged)
    }
    return Partial(disagreement, flagged, shares, reasons)


def _neighbour_weight(cl_flagged: np.ndarray, knn: tuple) -> float:
    """Weight of the neighbour vote in the ensemble, from how often it confirms confident
    learning: ``a`` = share of confident learning's flagged items whose neighbours' plurality
    prefers another label; weight 0 for ``a <= 0.5`` rising linearly to 1 at ``a >= 0.8``.

    When labelled neighbours share the same wrong label (a mislabelled region, or embeddings
    that do not reflect the classes), their vote vouches for the errors and ``a`` drops, so
    the ensemble leans on the model instead.
    """
    if not cl_flagged.any():
        return 1.0
    disagreement, _, top_votes, k, _ = knn
    prefers_other = top_votes > np.rint((1.0 - disagreement) * k)
    confirmed = float(prefers_other[cl_flagged].mean())
    return float(np.clip((confirmed - 0.5) / 0.3, 0.0, 1.0))


def _method_ensemble(inp: Inputs) -> Partial:
    cl, estimate = _confident_learning(inp)
    sc = _self_confidence(inp)
    _, p_best = _best_other(inp.probs, inp.labels)
    margin = _rank01(p_best - sc)  # how much the model prefers another class
    # The model and the neighbours both vote on the true label, the neighbours as far as
    # they can be trusted: the suggestions come from the same weighted mean. Without
    # neighbours, low self-confidence joins the margin as the label's lack of support.
    knn, evidence = None, inp.probs
    if inp.embeddings is None:
        scores = (_rank01(1.0 - sc) + margin) / 2.0
    else:
        knn = _knn_votes(inp)
        weight = _neighbour_weight(cl.is_issue, knn)
        scores = (margin + weight * _rank01(knn[0])) / (1.0 + weight)
        evidence = (inp.probs + weight * knn[4]) / (1.0 + weight)
    n_flagged = estimate if inp.num_issues is None else inp.num_issues
    flagged = _top_n(scores, n_flagged)
    t = _thresholds(inp.probs, inp.labels)
    reasons: dict[int, list[str]] = {}
    for i in np.flatnonzero(flagged).tolist():
        why = list(cl.reasons.get(i, []))
        if sc[i] < t[inp.labels[i]]:
            why.append(_self_conf_reason(sc[i]))
        if knn is not None:
            disagreement, top_other, top_votes, k, _ = knn
            if top_votes[i] > k - round(disagreement[i] * k):
                why.append(_knn_reason(int(top_votes[i]), k, int(top_other[i])))
        reasons[i] = why or [f"ensemble score {scores[i]:.2f} in the top {n_flagged}"]
    return Partial(scores, flagged, evidence, reasons)


#: Label-issue methods by name; each maps validated inputs to scores, flags and reasons.
METHODS: dict[str, Callable[[Inputs], Partial]] = {
    "confident_learning": _method_confident_learning,
    "self_confidence": _method_self_confidence,
    "margin": _method_margin,
    "knn": _method_knn,
    "ensemble": _method_ensemble,
}
