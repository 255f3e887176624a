"""Label-issue finding: planted flips on real digits, invariants and bad inputs."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from dataperf.curate import LabelIssues, cross_val_probs, find_label_issues
from dataperf.curate.label_issues import METHODS
from dataperf.datasets import load_digits
from dataperf.signals import Signals

FLIP_RATE = 0.10


def _flip(labels: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = len(labels)
    idx = rng.choice(n, int(round(rate * n)), replace=False)
    noisy = labels.copy()
    noisy[idx] = (labels[idx] + rng.integers(1, 10, len(idx))) % 10
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return noisy, mask


@pytest.fixture(scope="module")
def planted() -> tuple[Signals, np.ndarray]:
    images, labels = load_digits()
    x = images.reshape(len(images), -1) / 255.0
    noisy, flipped = _flip(labels, FLIP_RATE, seed=1)
    signals = cross_val_probs(LogisticRegression(max_iter=1000), x, noisy, folds=5, seed=0)
    return signals, flipped


def _prf(pred: np.ndarray, true: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & true).sum())
    precision = tp / max(int(pred.sum()), 1)
    recall = tp / int(true.sum())
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-12)


# Measured on this setup (digits, LR on pixels, 10% flips): precision/recall/F1 =
# confident_learning .90/.84/.87, self_confidence .96/.93/.95, margin .94/.91/.92,
# knn .88/.99/.94, ensemble .98/.95/.96. Chance precision is 0.10.
@pytest.mark.parametrize(
    ("method", "min_f1"),
    [
        ("confident_learning", 0.8),
        ("self_confidence", 0.85),
        ("margin", 0.85),
        ("knn", 0.85),
        ("ensemble", 0.9),
    ],
)
def test_planted_flips_are_found(planted, method, min_f1):
    signals, flipped = planted
    issues = find_label_issues(signals, method=method)
    precision, recall, f1 = _prf(issues.is_issue, flipped)
    assert precision >= 0.75 and recall >= 0.75, (precision, recall)
    assert f1 >= min_f1, f1
    # Ranking: the top of the list is almost all real flips.
    assert flipped[issues.indices[:50]].mean() >= 0.9
    # Scores separate flips from clean items.
    assert issues.scores[flipped].mean() > issues.scores[~flipped].mean()


def test_suggested_label_recovers_original(planted):
    signals, flipped = planted
    _, original = load_digits()
    issues = find_label_issues(signals)
    hit = issues.indices[flipped[issues.indices]]
    assert (issues.suggested[hit] == original[hit]).mean() >= 0.85


def test_result_shape_and_reasons(planted):
    signals, _ = planted
    n = len(signals)
    issues = find_label_issues(signals, method="ensemble", k=10)
    assert isinstance(issues, LabelIssues)
    assert issues.scores.shape == (n,) and issues.scores.dtype == np.float64
    assert issues.is_issue.shape == (n,) and issues.is_issue.dtype == bool
    assert issues.suggested.shape == (n,) and issues.suggested.dtype == np.int64
    assert issues.indices.dtype == np.int64
    assert len(issues) == int(issues.is_issue.sum()) == len(issues.reasons)
    assert set(issues.indices.tolist()) == set(np.flatnonzero(issues.is_issue).tolist())
    assert np.all(np.diff(issues.scores[issues.indices]) <= 0)  # ranked, most likely first
    top = int(issues.indices[0])
    text = " ".join(issues.reasons[top])
    assert "confident learning: labelled" in text and "nearest labelled neighbours say" in text
    assert issues.explain(top).startswith(f"item {top} (id {top}): labelled")
    clean = int(np.flatnonzero(~issues.is_issue)[0])
    assert "not flagged" in issues.explain(clean)
    records = issues.to_records()
    assert records[0]["index"] == top and records[0]["rank"] == 1
    assert records[0]["label"] == int(signals.labels[top])
    assert {"id", "suggested", "score", "reasons"} <= set(records[0])
    sc = find_label_issues(signals, method="self_confidence")
    assert sc.reasons[int(sc.indices[0])][0].startswith("low self-confidence 0.")
    knn = find_label_issues(signals, method="knn", k=10)
    assert "/10 nearest labelled neighbours say" in knn.reasons[int(knn.indices[0])][0]


def test_every_ensemble_reason_names_a_number():
    """Items flagged only by the ensemble score are explained by the count flagged (was "in
    the top None" with the default num_issues)."""
    rng = np.random.default_rng(5)
    seen = []
    for seed in range(6):
        probs = np.random.default_rng(seed).dirichlet(np.ones(4), size=200)
        signals = Signals(probs=probs, labels=rng.integers(0, 4, 200), meta={"out_of_sample": True})
        issues = find_label_issues(signals, method="ensemble")
        seen += [r for i in issues.indices.tolist() for r in issues.reasons[i]]
    fallback = [r for r in seen if r.startswith("ensemble score")]
    assert fallback and not [r for r in fallback if "None" in r]


def test_num_issues_flags_exactly_that_many(planted):
    signals, _ = planted
    for method in METHODS:
        issues = find_label_issues(signals, method=method, num_issues=25)
        assert len(issues) == 25
        assert set(issues.indices.tolist()) == set(
            np.argsort(-issues.scores, kind="stable")[:25].tolist()
        )


@pytest.mark.parametrize("method", sorted(METHODS))
def test_permutation_equivariance(planted, method):
    signals, _ = planted
    rng = np.random.default_rng(3)
    # Jitter so no two neighbour distances tie (pixel features have exact ties).
    jittered = Signals(
        probs=signals.probs,
        labels=signals.labels,
        embeddings=signals.embeddings + rng.normal(0, 1e-6, signals.embeddings.shape),
        meta={"out_of_sample": True},
    )
    perm = rng.permutation(len(jittered))
    a = find_label_issues(jittered, method=method)
    b = find_label_issues(jittered[perm], method=method)
    np.testing.assert_allclose(b.scores, a.scores[perm], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(b.is_issue, a.is_issue[perm])
    np.testing.assert_array_equal(b.suggested, a.suggested[perm])
    # Same flagged items, same ranking up to the order of tied scores (ties go by position).
    np.testing.assert_array_equal(np.sort(perm[b.indices]), np.sort(a.indices))
    np.testing.assert_array_equal(a.scores[perm[b.indices]], a.scores[a.indices])


def test_deterministic(planted):
    signals, _ = planted
    for method in METHODS:
        a = find_label_issues(signals, method=method)
        b = find_label_issues(signals, method=method)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.scores, b.scores)
        assert a.reasons == b.reasons


def test_in_sample_probs_warn(planted):
    signals, _ = planted
    in_sample = Signals(probs=signals.probs, labels=signals.labels)
    with pytest.warns(UserWarning, match="out_of_sample.*cross_val_probs"):
        find_label_issues(in_sample, method="margin")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        find_label_issues(signals, method="margin")  # out-of-sample: silent


def test_cross_val_probs_matches_manual_loop():
    images, labels = load_digits()
    x = images[:600].reshape(600, -1) / 255.0
    y = labels[:600]
    est = LogisticRegression(max_iter=500)
    out = cross_val_probs(est, x, y, folds=3, seed=7)
    manual = np.zeros((600, 10))
    for train, test in StratifiedKFold(3, shuffle=True, random_state=7).split(x, y):
        manual[test] = clone(est).fit(x[train], y[train]).predict_proba(x[test])
    np.testing.assert_allclose(out.probs, manual, rtol=0, atol=1e-12)
    assert out.meta["out_of_sample"] is True
    assert out.meta["estimator"] == "LogisticRegression" and out.meta["folds"] == 3
    np.testing.assert_array_equal(out.labels, y)
    np.testing.assert_array_equal(out.embeddings, x)
    again = cross_val_probs(est, x, y, folds=3, seed=7)
    np.testing.assert_array_equal(again.probs, out.probs)


def test_cross_val_probs_signals_input_keeps_ids_and_columns():
    images, labels = load_digits()
    x = images[:300].reshape(300, -1) / 255.0
    y = labels[:300]
    ids = np.array([f"img{i}" for i in range(300)])
    # K = 12 from the input probs: classes 10 and 11 never occur, their columns stay 0.
    signals = Signals(
        probs=np.full((300, 12), 1 / 12), embeddings=x, labels=y, ids=ids, meta={"model": "m"}
    )
    out = cross_val_probs(LogisticRegression(max_iter=300), signals, folds=3)
    assert out.probs.shape == (300, 12)
    assert np.all(out.probs[:, 10:] == 0)
    np.testing.assert_allclose(out.probs.sum(1), 1.0)
    np.testing.assert_array_equal(out.ids, ids)
    assert out.meta["out_of_sample"] is True and out.meta["model"] == "m"


def test_cross_val_probs_bad_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = np.repeat(np.arange(4), 10)
    y_small = y.copy()
    y_small[:8] = 1  # class 0 keeps 2 items
    est = LogisticRegression()
    with pytest.raises(ValueError, match="class 0, which has only 2"):
        cross_val_probs(est, x, y_small, folds=5)
    with pytest.raises(ValueError, match="folds must be an int >= 2; got 1"):
        cross_val_probs(est, x, y, folds=1)
    with pytest.raises(ValueError, match="needs labels"):
        cross_val_probs(est, x)
    with pytest.raises(ValueError, match="signals.labels is None"):
        cross_val_probs(est, Signals(probs=np.full((40, 4), 0.25), embeddings=x))
    with pytest.raises(ValueError, match="has none"):
        cross_val_probs(est, Signals(probs=np.full((40, 4), 0.25), labels=y))
    with pytest.raises(ValueError, match="labels must be None"):
        cross_val_probs(est, Signals(probs=np.full((40, 4), 0.25), embeddings=x, labels=y), y)

    class NoProba:
        def fit(self, x, y):
            return self

    with pytest.raises(TypeError, match="predict_proba"):
        cross_val_probs(NoProba(), x, y)
    with pytest.raises(ValueError, match="expected 40, got 39"):
        cross_val_probs(est, x, y[:39])
    bad = y.copy()
    bad[3] = -1
    with pytest.raises(ValueError, match="class indices"):
        cross_val_probs(est, x, bad)
    with pytest.raises(TypeError, match="integer array"):
        cross_val_probs(est, x, y.astype(float))
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        cross_val_probs(est, x[:, 0], y)


def test_find_label_issues_bad_inputs(planted):
    signals, _ = planted
    with pytest.raises(ValueError, match="method must be one of .*confident_learning"):
        find_label_issues(signals, method="cleanlab")
    with pytest.raises(TypeError, match="signals must be a dataperf Signals; got numpy"):
        find_label_issues(signals.probs)
    no_labels = Signals(probs=signals.probs, meta={"out_of_sample": True})
    with pytest.raises(ValueError, match="signals.labels is None"):
        find_label_issues(no_labels)
    no_emb = Signals(probs=signals.probs, labels=signals.labels, meta={"out_of_sample": True})
    with pytest.raises(ValueError, match="needs signals.embeddings"):
        find_label_issues(no_emb, method="knn")
    find_label_issues(no_emb, method="ensemble")  # probs-only ensemble still works
    with pytest.raises(ValueError, match="k must be between 1"):
        find_label_issues(signals, method="knn", k=len(signals))
    with pytest.raises(TypeError, match="k must be an int"):
        find_label_issues(signals, method="knn", k=2.5)
    with pytest.raises(
        ValueError, match="num_issues must be an int between 0 and the number of items"
    ):
        find_label_issues(signals, num_issues=-1)
    with pytest.raises(TypeError, match="num_issues must be an int"):
        find_label_issues(signals, num_issues=0.5)
    # Invalid probs / labels / lengths are refused when the Signals is built.
    with pytest.raises(ValueError, match="sum to 1"):
        Signals(probs=signals.probs * 0.5, labels=signals.labels)
    with pytest.raises(ValueError, match=r"class indices in \[0, 10\)"):
        Signals(probs=signals.probs, labels=signals.labels + 1)
    with pytest.raises(ValueError, match="one entry per example"):
        Signals(probs=signals.probs, labels=signals.labels[:-1])
    with pytest.raises(IndexError):
        find_label_issues(signals).explain(len(signals))


def test_class_names_from_meta_appear_in_explanations_and_records():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.95, 0.05], [0.1, 0.9]] * 5)
    labels = np.array([0, 1, 1, 1] * 5)  # items 2, 6, ... look like class 0
    signals = Signals(
        probs=probs, labels=labels, meta={"out_of_sample": True, "classes": ["cat", "dog"]}
    )
    issues = find_label_issues(signals, method="self_confidence")
    i = int(issues.indices[0])
    assert "labelled 1 ('dog'), suggested 0 ('cat')" in issues.explain(i)
    record = issues.to_records()[0]
    assert record["label_name"] == "dog" and record["suggested_name"] == "cat"


# ----------------------------------------------------------------------------- issue 12
def test_ensemble_flags_as_many_as_confident_learning(planted):
    signals, _ = planted
    cl = find_label_issues(signals, method="confident_learning")
    for method in ("ensemble", "self_confidence", "margin"):
        assert len(find_label_issues(signals, method=method)) == len(cl), method


def test_suggestion_confidence_and_review_order(planted):
    signals, flipped = planted
    _, original = load_digits()
    issues = find_label_issues(signals)
    conf = issues.suggestion_confidence
    assert conf.shape == (len(signals),) and conf.dtype == np.float64
    assert np.all((conf >= 0) & (conf <= 1))
    # A flagged item's suggestion is never its given label.
    assert np.all(issues.suggested[issues.indices] != signals.labels[issues.indices])
    order = issues.review_order("suggestion")
    assert sorted(order.tolist()) == sorted(issues.indices.tolist())
    assert np.all(np.diff(conf[order]) <= 0)
    assert np.array_equal(issues.review_order(), issues.indices)
    # Confident suggestions are more often right than doubtful ones.
    hits = order[flipped[order]]
    half = len(hits) // 2
    right = issues.suggested[hits] == original[hits]
    assert right[:half].mean() >= right[half:].mean()
    assert right[:half].mean() >= 0.95
    records = issues.to_records(by="suggestion")
    assert [r["index"] for r in records] == order.tolist()
    assert records[0]["suggestion_confidence"] == pytest.approx(conf[order[0]])
    assert {r["rank"] for r in records} == set(range(1, len(issues) + 1))
    with pytest.raises(ValueError, match="by"):
        issues.review_order("confidence")
    bare = dataclasses.replace(issues, suggestion_confidence=None)  # built by hand, without it
    with pytest.raises(ValueError, match="without it"):
        bare.review_order("suggestion")
    assert "suggestion_confidence" not in bare.to_records()[0]


def test_ensemble_suggestion_uses_the_neighbours():
    """The model's second choice is wrong, the neighbours know better: the suggestion follows
    the mean of both."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c * 10.0, 0.5, size=(30, 2)) for c in range(3)])
    labels = np.repeat(np.arange(3), 30)
    labels[5] = 1  # a class-0 item labelled 1
    probs = np.full((90, 3), 0.05)
    probs[np.arange(90), labels] = 0.9
    probs[5] = [0.40, 0.15, 0.45]  # the model prefers 2 over the true class 0
    signals = Signals(probs=probs, labels=labels, embeddings=x, meta={"out_of_sample": True})
    issues = find_label_issues(signals, k=5, num_issues=1)
    assert issues.indices.tolist() == [5]
    assert issues.suggested[5] == 0
    plain = find_label_issues(signals, method="self_confidence", num_issues=1)
    assert plain.suggested[5] == 2  # the model alone would suggest the wrong class


def _region_signals(shared_wrong_label: bool) -> tuple[Signals, np.ndarray]:
    """Two classes; 12 items of class 0 carry label 1. The model (probs) sees them as class 0;
    in embedding space they sit together (a mislabelled region) or scattered among class 0."""
    rng = np.random.default_rng(3)
    n = 200
    labels = np.repeat([0, 1], n // 2)
    x = np.where(labels[:, None] == 0, -3.0, 3.0) + rng.normal(0, 1.0, size=(n, 2))
    wrong = rng.choice(n // 2, 12, replace=False)
    if shared_wrong_label:
        x[wrong] = [-3.0, 8.0] + rng.normal(0, 0.2, size=(12, 2))  # their own corner
    noisy = labels.copy()
    noisy[wrong] = 1
    probs = np.where(labels[:, None] == np.arange(2), 0.8, 0.2) + rng.uniform(-0.1, 0.1, (n, 1))
    probs = probs / probs.sum(axis=1, keepdims=True)
    signals = Signals(probs=probs, labels=noisy, embeddings=x, meta={"out_of_sample": True})
    return signals, noisy != labels


def _margin_ranks(signals: Signals) -> np.ndarray:
    """The ensemble's model part: rank-normalised margin scores, average ranks for ties."""
    from scipy.stats import rankdata

    scores = find_label_issues(signals, method="margin").scores
    return rankdata(scores, method="average") / len(scores)


def test_neighbours_that_vouch_for_a_wrong_region_are_not_trusted():
    signals, flipped = _region_signals(shared_wrong_label=True)
    ens = find_label_issues(signals, k=5)
    # The region's neighbours all carry the wrong label: the ensemble drops their vote and
    # ranks exactly as the model's margin, so the region is still found.
    assert np.allclose(ens.scores, _margin_ranks(signals))
    assert len(ens) >= 6 and flipped[ens.indices].all()


def test_neighbours_that_confirm_the_model_are_used():
    signals, flipped = _region_signals(shared_wrong_label=False)
    ens = find_label_issues(signals, k=5)
    assert not np.allclose(ens.scores, _margin_ranks(signals))
    assert len(ens) >= 6 and flipped[ens.indices].all()
