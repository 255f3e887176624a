"""Find mislabelled items from out-of-sample probabilities and embeddings.

:func:`find_label_issues` takes a :class:`~dataperf.signals.Signals` with ``probs``, ``labels``
and (for ``"knn"``, optional for ``"ensemble"``) ``embeddings``, and returns a
:class:`LabelIssues`: a ranked list of flagged items, an ``(N,)`` score (higher = more likely
mislabelled), a suggested label and human-readable reasons per flagged item. This module holds
that entry point and its result type; the methods themselves are in
:mod:`dataperf.curate.label_issue_methods`. :data:`METHODS` (from there) and
:func:`cross_val_probs` (from :mod:`dataperf.curate.cross_val`) are re-exported here.

The probabilities must be **out-of-sample**: produced by a model that did not train on the item
it scores. A model scoring its own training items has memorised their (possibly wrong) labels, so
it agrees with them and hides most errors. Two ways to get them:

* :func:`cross_val_probs` (in :mod:`dataperf.curate.cross_val`) fits a scikit-learn-style
  classifier on the embeddings in K folds and predicts each fold with the model that did not see
  it;
* with a torch model: split the data into K folds, train one model per fold on the other K - 1
  folds, run :func:`dataperf.probe` on the held-out fold, and join the parts with
  ``Signals.concat([...])`` after setting ``meta={"out_of_sample": True}`` on each (reorder by
  ``ids`` if needed). ``Signals.concat`` keeps ``out_of_sample`` only when every part has it.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
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
from dataperf.curate.label_issue_methods import METHODS, Inputs
from dataperf.neighbors import check_search
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
        The label the evidence points to: for a flagged item the most likely class other than
        the given one, for the others the most likely class. The evidence is the method's
        class distribution: the model's probabilities (``"confident_learning"``,
        ``"self_confidence"``, ``"margin"``), the neighbours' label shares (``"knn"``) or their
        weighted mean (``"ensemble"`` with embeddings).
    suggestion_confidence : (N,) float64 array, optional
        The evidence's probability of the suggested label, in [0, 1]: how sure the method is
        that the suggestion is right. Review the flagged items with
        ``review_order("suggestion")`` to see the suggestions most likely right first (these
        can often be accepted in bulk) and the doubtful ones last.
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
    suggestion_confidence: np.ndarray | None = None
    class_names: list[str] | None = None

    def _name(self, c: int) -> str:
        return f"{c} ({self.class_names[c]!r})" if self.class_names else str(c)

    def __len__(self) -> int:
        """Number of flagged items."""
        return len(self.indices)

    def review_order(self, by: str = "score") -> np.ndarray:
        """The flagged positions in the order to review them.

        Parameters
        ----------
        by : {"score", "suggestion"}
            ``"score"``: most likely mislabelled first (``indices``). ``"suggestion"``: the most
            confident suggested label first (ties: by score), so the fixes that are most likely
            right come first and the doubtful ones, which need a closer look, come last.

        Returns
        -------
        (M,) int64 array
        """
        check_choice(by, "by", ["score", "suggestion"])
        if by == "score":
            return self.indices.copy()
        if self.suggestion_confidence is None:
            raise InputValueError(
                "review_order('suggestion') needs suggestion_confidence, but this LabelIssues "
                "was built without it. Fix: use find_label_issues(...), which sets it, or "
                "review_order('score')."
            )
        conf = self.suggestion_confidence[self.indices]
        rank = np.arange(len(self.indices))
        return self.indices[np.lexsort((rank, -conf))]

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

    def to_records(self, by: str = "score") -> list[dict[str, Any]]:
        """Flagged items as dicts (``rank, index, id, label, suggested, suggestion_confidence,
        score, reasons``), ready for ``pandas.DataFrame`` or JSON, in
        :meth:`review_order` ``(by)``; ``rank`` is the rank by score either way."""
        out = []
        score_rank = {int(i): r for r, i in enumerate(self.indices.tolist(), start=1)}
        for i in self.review_order(by).tolist():
            rank = score_rank[i]
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
            if self.suggestion_confidence is not None:
                out[-1]["suggestion_confidence"] = float(self.suggestion_confidence[i])
            if self.class_names:
                out[-1]["label_name"] = self.class_names[int(self.labels[i])]
                out[-1]["suggested_name"] = self.class_names[int(self.suggested[i])]
        return out

    def to_html(
        self,
        path: str | os.PathLike[str],
        *,
        images: Any = None,
        image_root: str | os.PathLike[str] | None = None,
    ) -> Path:
        """Write a self-contained HTML report of the flagged items (rank, thumbnail, id, given
        and suggested label, score, reasons; sortable and filterable); return the path. See
        :func:`dataperf.curate.reports.label_issues_report`."""
        from dataperf.curate.reports import label_issues_report

        return label_issues_report(self, path, images=images, image_root=image_root)

    def __repr__(self) -> str:
        return (
            f"LabelIssues(method={self.method!r}, flagged={len(self)} of {len(self.scores)}, "
            f"top={self.indices[:5].tolist()})"
        )


# ----------------------------------------------------------------------------- entry point
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
        Score ``1 - p[given]``; flags the top n, n = the number of items confident learning
        flags (its estimate of the number of label errors) or ``num_issues``.
    ``"margin"``
        Score ``(1 - (p[given] - max_{j != given} p_j)) / 2`` in [0, 1]; flags as above.
    ``"knn"``
        Score: fraction of the ``k`` nearest other items (in embedding space) whose label
        differs from the given one. Flags items whose neighbours' plurality vote picks a
        different label (ties not flagged). Needs ``embeddings``; ignores ``probs``.
    ``"ensemble"`` (default)
        Flags the top n (n = the number of items confident learning flags, or
        ``num_issues``) of a score that is the weighted mean of the rank-normalised margin
        score ``max_{j != given} p_j - p[given]`` (weight 1) and the rank-normalised kNN
        disagreement (weight ``w``); without embeddings, the mean of the rank-normalised margin
        and self-confidence ``1 - p[given]`` scores. So the model and the labelled
        neighbourhood must both point at an item. ``w`` measures how far the neighbours can be
        trusted: with ``a`` the share of confident learning's flagged items whose neighbours'
        plurality also prefers another label, ``w = clip((a - 0.5) / 0.3, 0, 1)``. Where
        neighbours share a wrong label (a mislabelled region) they vouch for each other, ``a``
        falls and the model decides alone.
        Suggested label: the best other class by the same weighted mean of the model's
        probabilities and the neighbours' label shares. Reasons list every method that points
        at it.

    Every result carries a suggested label per item and its confidence
    (``suggestion_confidence``); ``issues.review_order("suggestion")`` lists the flagged
    items with the surest suggestions first.

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
    inp = Inputs(
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
    suggested, confidence = _suggestions(part.evidence, signals.labels, part.is_issue)
    return LabelIssues(
        indices=order.astype(np.int64),
        scores=np.asarray(part.scores, dtype=np.float64),
        is_issue=part.is_issue.astype(bool),
        suggested=suggested,
        reasons={int(i): part.reasons[int(i)] for i in order},
        labels=signals.labels,
        ids=signals.ids,
        method=method,
        suggestion_confidence=confidence,
        class_names=_class_names(signals.meta.get("classes"), signals.num_classes),
    )


def _suggestions(
    evidence: np.ndarray, labels: np.ndarray, flagged: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Suggested label (flagged: best class other than the given one; others: best class) and
    its share of the evidence."""
    ev = np.asarray(evidence, dtype=np.float64)
    rows = np.arange(len(labels))
    other = ev.copy()
    other[rows, labels] = -np.inf
    suggested = np.where(flagged, other.argmax(axis=1), ev.argmax(axis=1)).astype(np.int64)
    total = ev.sum(axis=1)
    confidence = ev[rows, suggested] / np.where(total > 0, total, 1.0)
    return suggested, np.clip(confidence, 0.0, 1.0)


def _class_names(names: Any, k: int) -> list[str] | None:
    if isinstance(names, (list, tuple)) and len(names) == k:
        return [str(n) for n in names]
    return None
