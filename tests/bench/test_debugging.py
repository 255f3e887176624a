"""The debugging task's noise models and flagged-set scores (dataperf.bench.tasks.debugging).

Most tests replace the two model fits of a trial (the 5-fold out-of-sample probs and the fixed
model's test accuracy) by cheap stand-ins, so they check the task's plumbing in seconds; the
built-ins' real flagged sets are checked against ``find_label_issues`` on real probs."""

from __future__ import annotations

import numpy as np
import pytest

from dataperf.bench import debugging_task, load_task_data, registry
from dataperf.bench.noise import (
    class_conditional_noise,
    confusion_noise_matrix,
    uniform_noise,
)
from dataperf.bench.tasks import debugging
from dataperf.bench.tasks.debugging import NOISE_MODELS, flip_labels
from dataperf.curate import LabelIssues

DATA = load_task_data("digits")
Y = DATA.y_pool
N, K = len(Y), DATA.num_classes
SIZES = np.bincount(Y, minlength=K)


@pytest.fixture
def fast(monkeypatch):
    """Stand-ins for the model fits: probs that put 0.9 on the given label, accuracy 0.5."""

    def probs(x, labels, seed):
        p = np.full((len(labels), K), 0.1 / (K - 1))
        p[np.arange(len(labels)), labels] = 0.9
        return p

    monkeypatch.setattr(debugging, "_noisy_probs", probs)
    monkeypatch.setattr(debugging, "fit_score", lambda *args: (0.5, 0.5))


def _seen_labels(**kwargs) -> tuple[dict[int, np.ndarray], object]:
    """Run the task with one method that records the noisy labels it is given."""
    seen: dict[int, np.ndarray] = {}

    def record(signals, seed):
        seen[seed] = signals.labels.copy()
        return np.arange(len(signals))

    result = debugging_task([record], fractions=(0.1,), **kwargs)
    return seen, result


def _pool_confusion() -> np.ndarray:
    c = np.zeros((K, K))
    for true, pred in zip(Y, DATA.pool.probs.argmax(axis=1)):
        c[true, pred] += 1
    return c


# ----------------------------------------------------------------------------- noise models


def test_the_registry_names_the_noise_models():
    assert tuple(NOISE_MODELS) == registry.NOISE_NAMES


def test_uniform_is_the_default_and_flips_as_before(fast):
    seen, result = _seen_labels(seeds=(0, 1))
    assert flip_labels is uniform_noise  # the former name still works
    for seed in (0, 1):
        np.testing.assert_array_equal(seen[seed], uniform_noise(Y, 0.1, K, seed=seed))
    assert result.info["noise"] == "uniform" and result.info["flip_rate"] == 0.1
    assert result.info["n_flips"] == 100 and "noise_matrix" not in result.info
    seen, result = _seen_labels(seeds=(0,), noise="uniform", flip_rate=0.2)
    assert (seen[0] != Y).sum() == 200 and result.info["n_flips"] == 200


def test_class_conditional_flips_where_the_fixed_model_is_confused(fast):
    seen, result = _seen_labels(seeds=(0, 1), noise="class_conditional", flip_rate=0.1)
    confusion = _pool_confusion()
    t = confusion_noise_matrix(confusion, 0.1, class_sizes=SIZES)
    np.testing.assert_allclose(result.info["noise_matrix"], t)
    assert result.info["noise"] == "class_conditional" and result.info["flip_rate"] == 0.1
    expected = np.round((1 - np.diag(t)) * SIZES).astype(int)
    for seed in (0, 1):
        noisy = seen[seed]
        np.testing.assert_array_equal(noisy, class_conditional_noise(Y, t, seed=seed))
        flipped = noisy != Y
        np.testing.assert_array_equal(np.bincount(Y[flipped], minlength=K), expected)
        assert (expected / SIZES < 0.5).all()
        # a class the model confuses sends its flips only to the classes it is confused with
        confused = (confusion - np.diag(np.diag(confusion))).sum(axis=1) > 0
        for i, j in zip(Y[flipped], noisy[flipped]):
            assert j != i and (confusion[i, j] > 0 or not confused[i]), (i, j)
    assert result.info["n_flips"] == int(expected.sum())
    assert abs(result.info["n_flips"] - 100) <= K / 2
    # classes lose items in proportion to how often the model gets them wrong
    errors = 1 - np.diag(confusion) / confusion.sum(axis=1)
    assert np.argmax(1 - np.diag(t)) == np.argmax(errors)
    assert np.corrcoef(expected / SIZES, errors)[0, 1] > 0.95


def test_systematic_relabels_regions_as_a_neighbour_class(fast):
    seen, result = _seen_labels(seeds=(0, 2), noise="systematic", flip_rate=0.1)
    assert result.info["noise"] == "systematic" and "noise_matrix" not in result.info
    regions = 2  # ceil(0.1 / 0.05), each at most 5% of its class
    for seed in (0, 2):
        noisy = seen[seed]
        flipped = noisy != Y
        np.testing.assert_array_equal(
            np.bincount(Y[flipped], minlength=K), np.round(0.1 * SIZES).astype(int)
        )
        for c in range(K):
            assert 1 <= len(set(noisy[flipped & (Y == c)])) <= regions, c
    assert not np.array_equal(seen[0], seen[2])


def test_a_user_noise_matrix(fast):
    rates = np.full(K, 0.2)
    t = np.diag(1 - rates)
    t[np.arange(K), (np.arange(K) + 1) % K] = rates
    seen, result = _seen_labels(seeds=(3,), noise=t.tolist())
    noisy = seen[3]
    flipped = noisy != Y
    np.testing.assert_array_equal(noisy[flipped], (Y[flipped] + 1) % K)
    np.testing.assert_array_equal(
        np.bincount(Y[flipped], minlength=K), np.round(0.2 * SIZES).astype(int)
    )
    assert result.info["noise"] == "user matrix"
    assert result.info["noise_matrix"] == t.tolist()
    assert result.info["flip_rate"] == pytest.approx(0.2)
    assert result.info["n_flips"] == int(flipped.sum())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"noise": "gaussian"},
            ValueError,
            r"noise must be one of \['uniform', 'class_conditional', 'systematic'\]; got "
            r"'gaussian'.*\(K, K\) noise matrix",
        ),
        (
            {"noise": 3},
            TypeError,
            r"noise must be one of .* or a \(K, K\) noise matrix .*; got int",
        ),
        ({"noise": None}, TypeError, r"noise must be one of"),
        ({"noise": [0.9, 0.1]}, TypeError, r"got list of length 2"),
        ({"noise": np.eye(K), "flip_rate": 0.1}, ValueError, r"flip_rate \(0.1\) and a noise"),
        ({"noise": np.eye(3)}, ValueError, r"noise matrix must be \(10, 10\).*got shape \(3, 3\)"),
        ({"noise": np.eye(K) * 0.9}, ValueError, r"noise matrix: every row .* must sum to 1"),
        ({"noise": np.full((K, K), 0.1)}, ValueError, r"noise matrix: .*flips half or more"),
        ({"flip_rate": 0.5}, ValueError, r"flip_rate must be a finite number > 0 and < 0.5"),
        ({"flip_rate": 0.0}, ValueError, r"flip_rate must be"),
        ({"flip_rate": "0.1"}, TypeError, r"flip_rate must be"),
        (
            {"noise": "class_conditional", "flip_rate": 0.48},
            ValueError,
            r"noise='class_conditional', flip_rate=0.48: rate 0.48 cannot be reached",
        ),
    ],
)
def test_bad_noise(kwargs, error, match):
    with pytest.raises(error, match=match):
        debugging_task(["random"], seeds=(0,), **kwargs)


# ----------------------------------------------------------------------------- flagged sets


def _truth_method(fraction_of_errors: float = 1.0, extra: int = 0):
    """A method that flags the first ``fraction_of_errors`` of the true errors and ``extra``
    clean items, as a (ranking, mask) tuple."""

    def truth(signals):
        errors = np.flatnonzero(signals.labels != Y)
        clean = np.flatnonzero(signals.labels == Y)
        mask = np.zeros(len(signals), dtype=bool)
        mask[errors[: round(fraction_of_errors * len(errors))]] = True
        mask[clean[:extra]] = True
        order = np.argsort(signals.labels == Y, kind="stable")  # the errors first
        return order, mask

    return truth


def _issues(scores: np.ndarray, is_issue: np.ndarray, labels: np.ndarray) -> LabelIssues:
    return LabelIssues(
        indices=np.flatnonzero(is_issue),
        scores=scores,
        is_issue=is_issue,
        suggested=labels.copy(),
        reasons={int(i): ["planted"] for i in np.flatnonzero(is_issue)},
        labels=labels,
        ids=np.arange(len(labels)),
        method="hand-made",
    )


def test_flagged_set_scores(fast):
    def half_as_label_issues(signals):
        errors = signals.labels != Y
        is_issue = errors & (np.cumsum(errors) <= errors.sum() // 2)
        return _issues(errors.astype(float), is_issue, signals.labels)

    def nothing(signals):
        return np.arange(len(signals)), np.zeros(len(signals), dtype=bool)

    methods = {
        "truth": _truth_method(),
        "half": half_as_label_issues,
        "noisy": _truth_method(0.5, extra=50),
        "nothing": nothing,
        "ranking": lambda s: np.arange(len(s)),
    }
    result = debugging_task(methods, seeds=(0, 1), fractions=(0.1,))
    assert result.metrics == ("found", "fixed_accuracy", "precision", "recall", "f1", "flagged")

    def mean(method, metric):
        return result.mean(method, metric)

    assert [mean("truth", m) for m in ("precision", "recall", "f1", "flagged")] == [1, 1, 1, 100]
    assert result.mean("truth", "found", 0.1) == 1.0  # the errors ranked first
    assert [mean("half", m) for m in ("precision", "recall", "flagged")] == [1.0, 0.5, 50]
    assert mean("half", "f1") == pytest.approx(2 / 3)
    assert result.mean("half", "found", 0.1) == 1.0  # ranked by its scores: the errors first
    assert [mean("noisy", m) for m in ("precision", "recall", "flagged")] == [0.5, 0.5, 100]
    assert mean("noisy", "f1") == pytest.approx(0.5)
    assert [mean("nothing", m) for m in ("precision", "recall", "f1", "flagged")] == [0, 0, 0, 0]
    # a method that returns only a ranking has no flagged-set rows; tables show it blank
    for metric in ("precision", "recall", "f1", "flagged"):
        assert result.values("ranking", metric).size == 0
        assert result.values("(no fixing)", metric).size == 0
    table = result.table("precision")
    assert "| method | flagged set vs the planted errors |" in table
    assert "| ranking |  |" in table and "(no fixing)" not in table
    assert "| items flagged |" in result.table("flagged")
    assert "after fixing the top 100 ranked" in result.table("fixed_accuracy")


def test_no_flagged_set_no_flagged_metrics(fast, tmp_path):
    result = debugging_task(["random", "loss"], seeds=(0,), fractions=(0.1,))
    assert result.metrics == ("found", "fixed_accuracy")
    assert "precision" not in result.table()
    with pytest.raises(ValueError, match="metric must be one of"):
        result.values("random", "precision")


def test_results_with_flagged_sets_plot_and_serialise(fast, tmp_path):
    result = debugging_task(["random", _truth_method()], seeds=(0,), fractions=(0.1, 0.2))
    data = result.to_dict()
    assert data["summary"]["precision"]["truth"]["None"]["mean"] == 1.0
    assert "random" not in data["summary"]["precision"]
    assert data["single_labels"]["flagged"] == "items flagged"
    pytest.importorskip("matplotlib")
    png = result.plot(tmp_path / "d.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _labels_of(signals):
    return signals.labels


@pytest.mark.parametrize(
    ("method", "match"),
    [
        (
            lambda s: _issues(np.zeros(999), np.zeros(999, bool), _labels_of(s)[:999]),
            r"returned a LabelIssues whose scores are .*shape \(999,\).*expected one number per "
            r"pool item, shape \(1000,\)",
        ),
        (
            lambda s: _issues(np.zeros(1000), np.zeros(999, bool), _labels_of(s)),
            r"the is_issue of its LabelIssues must be an \(1000,\) bool mask",
        ),
        (
            lambda s: _issues(np.full(1000, np.nan), np.zeros(1000, bool), _labels_of(s)),
            r"NaN scores at positions \[0, 1, 2, 3, 4\]",
        ),
        (
            lambda s: (np.arange(1000), np.zeros(1000, dtype=int)),
            r"second item of its \(ranking, flagged\) must be an \(1000,\) bool mask.*int",
        ),
        (
            lambda s: (np.arange(1000), np.zeros(10, dtype=bool)),
            r"must be an \(1000,\) bool mask.*shape \(10,\)",
        ),
        (
            lambda s: (np.arange(1000), np.arange(5)),
            r"bool mask, True for each flagged item",
        ),
        (
            lambda s: (np.arange(10), np.zeros(1000, dtype=bool)),
            r"ranking of all 1000 items .*a LabelIssues, or \(ranking, flagged mask\)",
        ),
        (lambda s: (np.arange(1000),), r"ranking of all 1000 items"),
        (lambda s: "first", r"ranking of all 1000 items"),
    ],
    ids=[
        "issues-other-length",
        "issues-mask-length",
        "issues-nan",
        "int-mask",
        "short-mask",
        "indices-not-mask",
        "partial-ranking",
        "one-tuple",
        "str",
    ],
)
def test_bad_method_outputs(fast, method, match):
    with pytest.raises(ValueError, match=match):
        debugging_task([method], seeds=(0,), fractions=(0.1,))


# ----------------------------------------------------------------------------- real fits


@pytest.mark.slow
def test_builtins_flagged_sets_are_find_label_issues_is_issue():
    """On real probs: a built-in's flagged-set scores are those of find_label_issues's
    is_issue, its ranking that of its scores (so `found` is unchanged)."""
    from dataperf.curate import cross_val_probs, find_label_issues
    from dataperf.signals import Signals

    result = debugging_task(["ensemble"], seeds=(0,), fractions=(0.1,))
    noisy = uniform_noise(Y, 0.1, K, seed=0)
    probs = cross_val_probs(debugging.fixed_model(), DATA.x_pool, noisy, folds=5, seed=0).probs
    signals = Signals(
        probs=probs, embeddings=DATA.x_pool, labels=noisy, meta={"out_of_sample": True}
    )
    issues = find_label_issues(signals, method="ensemble")
    errors = noisy != Y
    hits = int((issues.is_issue & errors).sum())
    assert result.values("ensemble", "flagged")[0] == issues.is_issue.sum()
    assert result.values("ensemble", "precision")[0] == pytest.approx(hits / issues.is_issue.sum())
    assert result.values("ensemble", "recall")[0] == pytest.approx(hits / errors.sum())
    order = np.argsort(-issues.scores, kind="stable")
    assert result.values("ensemble", "found", 0.1)[0] == errors[order[:100]].sum() / 100
    assert result.mean("ensemble", "recall") > 0.9 and result.mean("ensemble", "precision") > 0.5
