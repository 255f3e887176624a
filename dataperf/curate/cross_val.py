"""Out-of-sample class probabilities by stratified K-fold cross-validation.

:func:`cross_val_probs` fits clones of a scikit-learn-style classifier on the embeddings (or any
feature matrix) in K folds and predicts each fold with the model that did not see it: the
out-of-sample ``probs`` that :func:`dataperf.curate.find_label_issues` expects. What each fold's
``predict_proba`` returns is checked before it is used; rows that are not probabilities are
refused, never replaced.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._validate import check_embeddings, check_int, check_labels, describe
from dataperf.signals import Signals

__all__ = ["cross_val_probs"]


def cross_val_probs(
    estimator: Any,
    signals_or_X: Any,
    labels: Any = None,
    *,
    folds: int = 5,
    seed: int = 0,
) -> Signals:
    """Out-of-sample class probabilities by stratified K-fold cross-validation.

    Each item's probabilities come from a clone of ``estimator`` fitted on the other folds, so
    no item is scored by a model that saw its label.

    Parameters
    ----------
    estimator : scikit-learn-style classifier
        Anything ``sklearn.base.clone`` accepts with ``fit(X, y)`` and ``predict_proba(X)``, e.g.
        ``LogisticRegression(max_iter=1000)``.
    signals_or_X : Signals or (N, D) float array
        A Signals with ``embeddings`` and ``labels`` (its ``ids`` are kept), or a feature
        matrix ``X``.
    labels : (N,) int array, optional
        Class indices; required with an array ``X``, must be None with a Signals.
    folds : int
        Number of folds, ``2 <= folds <=`` the smallest class count.
    seed : int
        Seed of the fold shuffle (``StratifiedKFold(shuffle=True, random_state=seed)``).

    Returns
    -------
    Signals
        ``probs`` (N, K) out-of-sample probabilities, with K = the input Signals' K or
        ``labels.max() + 1``; columns of classes a fold's model never saw are 0. Also the
        embeddings, labels and ids, and ``meta`` with ``out_of_sample=True``, ``estimator``
        (class name), ``folds`` and ``cv_seed``.
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    meta: dict[str, Any] = {}
    ids = None
    if isinstance(signals_or_X, Signals):
        if labels is not None:
            raise InputValueError(
                "labels must be None when passing a Signals (its .labels are used); got "
                f"{describe(labels)}. Fix: drop the labels argument, or pass an array X instead."
            )
        if signals_or_X.embeddings is None:
            raise InputValueError(
                "cross_val_probs fits the estimator on signals.embeddings, but this Signals has "
                "none. Fix: probe with embeddings, or pass an (N, D) feature array and labels."
            )
        if signals_or_X.labels is None:
            raise InputValueError(
                "cross_val_probs needs labels, but signals.labels is None. Fix: build the "
                "Signals with labels=..., or pass X and labels."
            )
        x = signals_or_X.embeddings
        y = signals_or_X.labels
        k = signals_or_X.num_classes
        ids = signals_or_X.ids
        meta = dict(signals_or_X.meta)
    else:
        x = check_embeddings(signals_or_X, "X")
        if labels is None:
            raise InputValueError(
                "cross_val_probs needs labels with an array X; got labels=None. Fix: pass "
                "cross_val_probs(estimator, X, labels)."
            )
        y = np.asarray(labels.detach().cpu().numpy() if hasattr(labels, "detach") else labels)
        if y.ndim == 1 and len(y) and np.issubdtype(y.dtype, np.integer):
            k = max(int(y.max()) + 1, 1)
        else:
            k = 1
        y = check_labels(y, len(x), k)
    if not callable(getattr(estimator, "predict_proba", None)):
        raise InputTypeError(
            f"estimator must have a predict_proba method; got {type(estimator).__name__} "
            "without one. Fix: use a probabilistic classifier, e.g. "
            "LogisticRegression(max_iter=1000), or SVC(probability=True)."
        )
    if not callable(getattr(estimator, "fit", None)):
        raise InputTypeError(f"estimator must have a fit method; got {describe(estimator)}.")
    folds = check_int(folds, "folds", low=2)
    counts = np.bincount(y, minlength=k)
    present = np.flatnonzero(counts)
    if len(present) < 2:
        raise InputValueError(
            f"cross_val_probs needs labels of at least 2 classes; every one of the {len(y)} "
            f"labels is class {int(present[0]) if len(present) else '?'}, so no classifier can "
            "be trained. Fix: pass labelled items of two or more classes."
        )
    smallest = int(present[np.argmin(counts[present])])
    if folds > counts[smallest]:
        raise InputValueError(
            f"folds={folds} exceeds the size of class {smallest}, which has only "
            f"{int(counts[smallest])} labelled item(s); every class needs at least one item per "
            f"fold. Fix: pass folds <= {int(counts[smallest])}, or drop/merge class {smallest}."
        )
    probs = np.zeros((len(y), k), dtype=np.float64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(splitter.split(x, y)):
        model = clone(estimator)
        model.fit(x[train], y[train])
        part = np.asarray(model.predict_proba(x[test]), dtype=np.float64)
        classes = np.asarray(model.classes_).astype(np.int64)
        _check_fold_probs(part, test, fold, estimator, len(classes))
        probs[np.ix_(test, classes)] = part
    probs /= probs.sum(axis=1, keepdims=True)  # each row sums to 1 within 1e-3 already
    meta.update(
        out_of_sample=True, estimator=type(estimator).__name__, folds=folds, cv_seed=int(seed)
    )
    return Signals(probs=probs, embeddings=x, labels=y, ids=ids, meta=meta)


def _check_fold_probs(
    part: np.ndarray, rows: np.ndarray, fold: int, estimator: Any, k: int
) -> None:
    """Refuse what ``predict_proba`` returned for the held-out ``rows`` of one fold unless it is
    an (len(rows), k) array of finite, non-negative rows summing to 1: never fabricate
    probabilities for an item the estimator could not score."""
    name = type(estimator).__name__
    if part.shape != (len(rows), k):
        raise InputValueError(
            f"{name}.predict_proba returned shape {part.shape} in fold {fold}; expected "
            f"({len(rows)}, {k}) (held-out items x classes seen in training). Fix the estimator."
        )
    bad = ~np.isfinite(part).all(axis=1) | (part < 0).any(axis=1)
    with np.errstate(invalid="ignore"):
        bad |= ~(np.abs(part.sum(axis=1) - 1.0) <= 1e-3)
    if bad.any():
        items = rows[bad]
        raise InputValueError(
            f"{name}.predict_proba returned {int(bad.sum())} row(s) that are not probabilities "
            f"(NaN/inf, negative, or not summing to 1) in fold {fold}, for item(s) "
            f"{items[:10].tolist()}{' ...' if len(items) > 10 else ''}; e.g. "
            f"{np.round(part[np.flatnonzero(bad)[0]], 4).tolist()[:10]}. Refused rather than "
            "replaced by made-up probabilities. Fix: impute or drop those items' features (NaN "
            "inputs), or use an estimator whose predict_proba is defined for them."
        )
