"""The debugging task: find the planted label errors of a pool, fix them, retrain the fixed model.

Per seed, a noise model (:data:`NOISE_MODELS`, from :mod:`dataperf.bench.noise`, or a noise
matrix of the user's) plants label errors in the pool; a method sees the noisy labels, the fixed
features and out-of-sample probs of the fixed model trained on the noisy labels, and ranks the
items to inspect, most suspect first; it may also flag a set of items as label errors. Scored by
the fraction of the errors found against the fraction inspected, by the test accuracy after
fixing the top-``m`` ranked items (``m`` = number of errors), next to no fixing and perfect
fixing, and, for a flagged set, by its precision, recall and F1 against the planted errors.

The built-in methods have the user signature ``f(signals) -> ranking`` (or a ``LabelIssues``;
see :func:`check_output`); those that need a seed name a ``seed`` parameter, which the runner
fills for any method that names it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._validate import check_choice, check_float, describe
from dataperf.bench.noise import (
    check_noise_matrix,
    class_conditional_noise,
    confusion_noise_matrix,
    systematic_noise,
    uniform_noise,
)
from dataperf.bench.tasks.data import (
    TaskData,
    check_dataset,
    fit_score,
    fixed_model,
    load_task_data,
)
from dataperf.bench.tasks.result import TaskResult
from dataperf.bench.tasks.runner import (
    Trial,
    check_seeds,
    check_sequence,
    resolve_methods,
    run_task,
)
from dataperf.signals import Signals

__all__ = [
    "BY_FIND_LABEL_ISSUES",
    "DEFAULT_FLIP_RATE",
    "NOISE_MODELS",
    "DebuggingTask",
    "check_output",
    "check_ranking",
    "debugging_task",
    "flip_labels",
    "loss_ranking",
    "pool_noise_matrix",
    "random_ranking",
]

#: The flip rate of the named noise models when ``flip_rate`` is not given.
DEFAULT_FLIP_RATE = 0.1
#: What :meth:`DebuggingTask.info` calls a noise matrix given by the user.
USER_MATRIX = "user matrix"


# ----------------------------------------------------------------------------- noise models

#: The former name of :func:`dataperf.bench.noise.uniform_noise` (same seeds, same flips).
flip_labels = uniform_noise


def pool_noise_matrix(data: TaskData, rate: float) -> np.ndarray:
    """The ``class_conditional`` noise matrix of ``data``'s pool at overall flip rate ``rate``.

    :func:`dataperf.bench.noise.confusion_noise_matrix` of the confusion matrix of the fixed
    model's 5-fold out-of-sample predictions on the clean pool (``data.pool.probs``), weighted
    by the pool's class sizes.

    Returns
    -------
    (K, K) float64 array
        ``T[i, j] = P(noisy = j | true = i)``.
    """
    k = data.num_classes
    confusion = np.zeros((k, k))
    np.add.at(confusion, (data.y_pool, data.pool.probs.argmax(axis=1)), 1.0)
    sizes = np.bincount(data.y_pool, minlength=k)
    return confusion_noise_matrix(confusion, rate, class_sizes=sizes)


def _uniform(data: TaskData, rate: float, seed: int) -> np.ndarray:
    return uniform_noise(data.y_pool, rate, data.num_classes, seed=seed)


def _class_conditional(data: TaskData, rate: float, seed: int) -> np.ndarray:
    return class_conditional_noise(data.y_pool, pool_noise_matrix(data, rate), seed=seed)


def _systematic(data: TaskData, rate: float, seed: int) -> np.ndarray:
    return systematic_noise(data.x_pool, data.y_pool, rate, seed=seed, num_classes=data.num_classes)


NoiseModel = Callable[[TaskData, float, int], np.ndarray]
NOISE_MODELS: dict[str, NoiseModel] = {
    "uniform": _uniform,
    "class_conditional": _class_conditional,
    "systematic": _systematic,
}
"""Noise model name -> ``f(data, rate, seed) -> (N,) noisy pool labels`` (see
:func:`debugging_task` for what each plants)."""


def _check_noise_name(noise: str, flip_rate: Any) -> tuple[str, float]:
    """``(name, rate)`` of a named noise model; ``flip_rate`` None is the default rate."""
    name = check_choice(
        noise,
        "noise",
        NOISE_MODELS,
        fix="Fix: pass one of these names, or a (K, K) noise matrix T[i, j] = P(noisy = j | "
        "true = i) as noise=T.",
    )
    rate = DEFAULT_FLIP_RATE if flip_rate is None else flip_rate
    return name, check_float(rate, "flip_rate", low=0.0, high=0.5, low_open=True, high_open=True)


def _as_matrix(noise: Any, flip_rate: Any) -> np.ndarray:
    """A noise given as a matrix, as a 2-D float array (its values are checked later)."""
    try:
        matrix = np.asarray(noise, dtype=np.float64)
    except (TypeError, ValueError):
        matrix = None
    if matrix is None or matrix.ndim != 2:
        raise InputTypeError(
            f"noise must be one of {list(NOISE_MODELS)} or a (K, K) noise matrix T[i, j] = "
            f"P(noisy = j | true = i); got {describe(noise)}. Fix: noise='uniform', or "
            "noise=np.array(...) of shape (K, K)."
        )
    if flip_rate is not None:
        raise InputValueError(
            f"flip_rate ({flip_rate!r}) and a noise matrix were both given; the matrix already "
            "sets each class's flip rate (1 - T[i, i]). Fix: drop flip_rate, or pass "
            "noise='class_conditional' with a flip_rate instead of the matrix."
        )
    return matrix


def _check_matrix(matrix: np.ndarray, data: TaskData) -> tuple[np.ndarray, float]:
    """A user's noise matrix checked against ``data`` (shape (K, K), rows summing to 1, every
    diagonal entry above 0.5: :func:`dataperf.bench.noise.check_noise_matrix`) and the share of
    the pool it flips, ``sum_i n_i (1 - T[i, i]) / N``."""
    k = data.num_classes
    if matrix.shape != (k, k):
        raise InputValueError(
            f"noise matrix must be ({k}, {k}) for the {k} classes of {data.dataset!r}; got shape "
            f"{matrix.shape}. Fix: one row and one column per class, T[i, j] = P(noisy = j | "
            "true = i)."
        )
    try:
        check_noise_matrix(matrix)  # before the long run
    except InputValueError as err:
        raise InputValueError(f"noise matrix: {err}") from err
    sizes = np.bincount(data.y_pool, minlength=k)
    return matrix, float((sizes * (1.0 - np.diag(matrix))).sum() / sizes.sum())


# ----------------------------------------------------------------------------- built-ins


def _ranking(scores: Any, n: int, name: str) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != (n,):
        raise InputValueError(f"{name} must return one score per item ({n},); got shape {s.shape}.")
    return np.argsort(-s, kind="stable").astype(np.int64)


def random_ranking(signals: Signals, *, seed: int) -> np.ndarray:
    """A seeded random order of the items."""
    return np.random.default_rng([seed, 7]).permutation(len(signals)).astype(np.int64)


def loss_ranking(signals: Signals) -> np.ndarray:
    """Items by the cross-entropy of their given label, highest first."""
    from dataperf.scores import loss

    return _ranking(loss(signals.probs, signals.labels), len(signals), "loss")


def _by_find_label_issues(method: str) -> Callable[[Signals], Any]:
    def run(signals: Signals) -> Any:
        from dataperf.curate.label_issues import find_label_issues

        return find_label_issues(signals, method=method)

    run.__name__ = method
    run.__doc__ = (
        f"``dataperf.curate.find_label_issues(signals, method={method!r})``: ranked by its "
        "``scores``, flagged set its ``is_issue``."
    )
    return run


BY_FIND_LABEL_ISSUES: dict[str, Callable[[Signals], Any]] = {
    m: _by_find_label_issues(m)
    for m in ("self_confidence", "margin", "confident_learning", "knn", "ensemble")
}
"""The built-ins that return ``dataperf.curate.find_label_issues(signals, method=...)`` (a
``LabelIssues``): ranked by its ``scores``, and its ``is_issue`` scored as a flagged set."""


# ----------------------------------------------------------------------------- outputs


def check_ranking(order: Any, n: int, name: str) -> np.ndarray:
    """What a debugging method returned as its ranking, checked: a permutation of ``0..n-1``."""
    arr = np.asarray(order)
    if (
        arr.shape != (n,)
        or arr.dtype.kind not in "iu"
        or not np.array_equal(np.sort(arr), np.arange(n))
    ):
        raise InputValueError(
            f"method {name!r} must return a ranking of all {n} items (a permutation of "
            f"0..{n - 1}, most suspect first), a LabelIssues, or (ranking, flagged mask); got "
            f"{describe(order)}. Fix: return np.argsort(-scores)."
        )
    return arr.astype(np.int64)


def _check_mask(mask: Any, n: int, name: str, what: str) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.shape != (n,) or arr.dtype != np.bool_:
        raise InputValueError(
            f"method {name!r}: {what} must be an ({n},) bool mask, True for each flagged item; "
            f"got {describe(mask)}. Fix: flagged = np.zeros({n}, dtype=bool); "
            "flagged[flagged_positions] = True."
        )
    return arr


def check_output(output: Any, n: int, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """What a debugging method returned, checked: ``(ranking, flagged mask or None)``.

    A method returns one of:

    - a ranking: ``(n,)`` ints, a permutation of ``0..n-1``, most suspect first (no flagged set);
    - a ``dataperf.curate.LabelIssues`` (or any object with ``scores`` and ``is_issue``): the
      ranking is ``argsort(-scores)`` (stable: ties in position order), the flagged set
      ``is_issue``;
    - a tuple ``(ranking, flagged)``: a ranking as above and an ``(n,)`` bool mask, True for the
      items the method calls label errors (e.g. cleanlab's ``find_label_issues`` mask).
    """
    if hasattr(output, "scores") and hasattr(output, "is_issue"):
        what = type(output).__name__
        scores = np.asarray(output.scores)
        if scores.shape != (n,) or scores.dtype.kind not in "iuf":
            raise InputValueError(
                f"method {name!r} returned a {what} whose scores are {describe(output.scores)}; "
                f"expected one number per pool item, shape ({n},). Fix: run find_label_issues "
                "on the Signals the method was given (all of the pool, in order)."
            )
        if np.isnan(scores).any():
            raise InputValueError(
                f"method {name!r} returned a {what} with NaN scores at positions "
                f"{np.flatnonzero(np.isnan(scores))[:5].tolist()}; they cannot be ranked. Fix: "
                "give every item a number (-inf for the least suspect)."
            )
        flagged = _check_mask(output.is_issue, n, name, f"the is_issue of its {what}")
        return np.argsort(-scores, kind="stable").astype(np.int64), flagged
    if isinstance(output, tuple) and len(output) == 2 and np.ndim(output[0]) == 1:
        order = check_ranking(output[0], n, name)
        return order, _check_mask(output[1], n, name, "the second item of its (ranking, flagged)")
    return check_ranking(output, n, name), None


def _flagged_rows(flagged: np.ndarray, errors: np.ndarray) -> list[tuple[str, Any, float]]:
    hits, n_flagged, n_errors = int((flagged & errors).sum()), int(flagged.sum()), int(errors.sum())
    return [
        ("precision", None, hits / n_flagged if n_flagged else 0.0),
        ("recall", None, hits / n_errors if n_errors else 0.0),
        ("f1", None, 2 * hits / (n_flagged + n_errors) if n_flagged + n_errors else 0.0),
        ("flagged", None, float(n_flagged)),
    ]


# ----------------------------------------------------------------------------- the task

_SINGLE_LABELS = {
    "precision": "flagged set vs the planted errors",
    "recall": "flagged set vs the planted errors",
    "f1": "flagged set vs the planted errors",
    "flagged": "items flagged",
}


@dataclass
class DebuggingTask:
    """One trial per seed: ``f(signals, seed=...)`` ranks (and may flag) the noisy pool; scored
    by the errors found in the first fractions inspected, the accuracy after fixing the top
    ranked and, for a flagged set, its precision, recall and F1."""

    data: TaskData
    seeds: list[int]
    flip_rate: float
    fractions: list[float]
    noise: str = "uniform"
    noise_matrix: np.ndarray | None = None
    name: str = "debugging"
    x_name: str = "fraction"
    metrics: tuple[str, ...] = ("found", "fixed_accuracy", "precision", "recall", "f1", "flagged")
    single_labels: dict[str, str] = field(default_factory=lambda: dict(_SINGLE_LABELS))
    n_flips: dict[int, int] = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        return self.data.dataset

    @property
    def single_label(self) -> str:
        counts = set(self.n_flips.values())
        m = counts.pop() if len(counts) == 1 else "m"
        return f"after fixing the top {m} ranked" + (" (m = flips)" if m == "m" else "")

    def noisy_labels(self, seed: int) -> np.ndarray:
        """The pool's labels with this task's noise planted with ``seed``."""
        d = self.data
        if self.noise_matrix is not None:  # user's, or class_conditional's (fixed over seeds)
            return class_conditional_noise(d.y_pool, self.noise_matrix, seed=seed)
        return NOISE_MODELS[self.noise](d, self.flip_rate, seed)

    def _accuracy(self, labels: np.ndarray) -> float:
        d = self.data
        return fit_score(d.x_pool, labels, d.x_test, d.y_test, d.num_classes)[0]

    def trials(self) -> Iterator[Trial]:
        d = self.data
        for seed in self.seeds:
            noisy = self.noisy_labels(seed)
            self.n_flips[seed] = int((noisy != d.y_pool).sum())
            signals = Signals(
                probs=_noisy_probs(d.x_pool, noisy, seed),
                embeddings=d.x_pool,
                labels=noisy,
                meta={"out_of_sample": True, "dataset": d.dataset, "flip_rate": self.flip_rate},
            )
            references = (
                ("(no fixing)", "fixed_accuracy", None, self._accuracy(noisy)),
                ("(all flips fixed)", "fixed_accuracy", None, self._accuracy(d.y_pool)),
            )
            yield Trial(seed, (signals,), {"seed": seed}, noisy, references)

    def score(self, trial: Trial, method: str, output: Any) -> list[tuple[str, Any, float]]:
        truth, noisy = self.data.y_pool, trial.truth
        flipped = noisy != truth
        n, n_flips = len(truth), int(flipped.sum())
        order, flagged = check_output(output, n, method)
        rows = [
            ("found", f, float(flipped[order[: math.ceil(f * n)]].sum() / max(n_flips, 1)))
            for f in self.fractions
        ]
        fixed = noisy.copy()
        fixed[order[:n_flips]] = truth[order[:n_flips]]
        rows.append(("fixed_accuracy", None, self._accuracy(fixed)))
        return rows if flagged is None else [*rows, *_flagged_rows(flagged, flipped)]

    def info(self) -> dict[str, Any]:
        counts = sorted(set(self.n_flips.values()))
        out = {
            **self.data.info,
            "noise": self.noise,
            "flip_rate": self.flip_rate,
            "n_flips": counts[0] if len(counts) == 1 else dict(self.n_flips),
            "fractions": self.fractions,
        }
        if self.noise_matrix is not None:
            out["noise_matrix"] = self.noise_matrix.tolist()
        return out


def _noisy_probs(x: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """5-fold out-of-sample probs of the fixed model trained on ``labels`` (fold seed ``seed``)."""
    from dataperf.curate.cross_val import cross_val_probs

    return cross_val_probs(fixed_model(), x, labels, folds=5, seed=seed).probs


def debugging_task(
    methods: Any = None,
    *,
    dataset: str = "digits",
    noise: Any = "uniform",
    flip_rate: float | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    fractions: Sequence[float] = (0.05, 0.1, 0.2, 0.3),
) -> TaskResult:
    """Training-data debugging: find planted label errors, fix them, retrain the fixed model.

    Per seed, a noise model plants label errors in the pool (:mod:`dataperf.bench.noise`; each
    is seeded and exact in its counts). The Signals a method sees are the noisy labels, the
    fixed features (``embeddings``) and 5-fold out-of-sample probs of the fixed model trained on
    the noisy labels (``dataperf.curate.cross_val_probs``, fold seed = seed).

    Noise models (``noise=``):

    ``"uniform"`` (default)
        ``round(flip_rate * N)`` items drawn at random, each flipped to a different class drawn
        uniformly (the errors of a careless annotator; the easiest case).
    ``"class_conditional"``
        Look-alike classes are confused: the noise matrix ``T`` is
        ``confusion_noise_matrix(confusion, flip_rate, class_sizes=...)`` of the confusion
        matrix of the fixed model's 5-fold out-of-sample predictions on the clean pool. Class
        ``i`` loses exactly ``round((1 - T[i, i]) * n_i)`` items, drawn at random within the
        class, mostly to the classes the model confuses it with. Class flip rates follow the
        model's per-class error rates, scaled to ``flip_rate`` overall and capped at 0.45
        (``noise.MAX_CLASS_RATE``; the excess goes to the other classes), so the true label
        stays the majority of every class. ``T`` is the same for every seed.
    ``"systematic"``
        Whole regions of feature space take their neighbour class's label: in every class,
        ``round(flip_rate * n_i)`` items in ``ceil(flip_rate / 0.05)`` regions (each the items
        nearest a random anchor, at most 5% of the class, ``noise.MAX_REGION_SHARE``) are
        relabelled as the class of the item of another class nearest the anchor. Neighbours
        share the wrong label, so a model trained on it learns it: the hard case for every
        detector.
    a ``(K, K)`` array ``T``
        Your own class-conditional noise, ``T[i, j] = P(noisy = j | true = i)``: rows summing
        to 1, every diagonal entry above 0.5 (each class flips less than half of its items).
        Class ``i`` loses exactly ``round((1 - T[i, i]) * n_i)`` items, each to ``j`` with
        probability ``T[i, j] / (1 - T[i, i])``. ``flip_rate`` must not be given with it.

    Parameters
    ----------
    methods : list of (str or callable) or dict name -> (str or callable), optional
        Built-in names (``dataperf.bench.registry.REGISTRY["debugging"]``: ``"random"``,
        ``"loss"``, ``"self_confidence"``, ``"margin"``, ``"confident_learning"``, ``"knn"``,
        ``"ensemble"``) or callables ``f(signals: Signals)`` returning one of (see
        :func:`check_output`):

        - an ``(N,)`` int ranking, a permutation of the pool, most suspect first;
        - a ``dataperf.curate.LabelIssues`` (or any object with ``scores`` (N,) and
          ``is_issue`` (N,) bool): ranked by ``argsort(-scores)`` (stable), flagged set
          ``is_issue``;
        - a tuple ``(ranking, flagged)``, ``flagged`` an ``(N,)`` bool mask of the items the
          method calls label errors (what, e.g., cleanlab's ``find_label_issues`` returns).

        A callable that names a ``seed`` parameter gets the run's seed. None runs every
        built-in; those from ``find_label_issues`` return its ``LabelIssues``, so their flagged
        sets are scored too.
    dataset : {"digits", "fashion-mnist"}
    noise : {"uniform", "class_conditional", "systematic"} or (K, K) array-like
        The noise model (above).
    flip_rate : float in (0, 0.5), optional
        Overall share of the pool planted as errors by a named noise model; default 0.1. Not
        with a noise matrix (which sets the rate of each class).
    seeds : sequence of int
    fractions : sequence of float in (0, 1]
        Fractions of the pool inspected, for the ``found`` metric.

    Returns
    -------
    TaskResult
        Metrics ``found`` (fraction of the errors among the first ``ceil(f * N)`` ranked items,
        x = f) and ``fixed_accuracy`` (test accuracy of the fixed model after restoring the
        true label of every error among the first ``m`` ranked, ``m`` = number of errors;
        x None), with two reference rows: ``(no fixing)`` and ``(all flips fixed)``. For the
        methods that return a flagged set (and only when at least one does), x None:
        ``precision`` (share of the flagged items that are errors; 0 when none is flagged),
        ``recall`` (share of the errors flagged), ``f1`` (their harmonic mean) and ``flagged``
        (how many items were flagged). ``info`` holds ``noise`` (the name, or
        ``"user matrix"``), ``flip_rate`` (for a matrix: the share of the pool it flips),
        ``n_flips`` and, for ``class_conditional`` and a user matrix, ``noise_matrix`` (a
        nested list).
    """
    dataset = check_dataset(dataset)
    seeds_ = check_seeds(seeds)
    matrix = None
    if isinstance(noise, str):
        noise_name, rate = _check_noise_name(noise, flip_rate)
    else:
        noise_name, rate, matrix = USER_MATRIX, math.nan, _as_matrix(noise, flip_rate)
    fracs = sorted(
        {
            check_float(f, "each of fractions", low=0.0, low_open=True, high=1.0)
            for f in check_sequence(fractions, "fractions", "floats")
        }
    )
    if not fracs:
        raise InputValueError(f"fractions must hold at least one number; got {fractions!r}.")
    resolved = resolve_methods(methods, "debugging")
    data = load_task_data(dataset)
    if matrix is not None:
        matrix, rate = _check_matrix(matrix, data)
    elif noise_name == "class_conditional":  # one matrix for every seed
        try:
            matrix = pool_noise_matrix(data, rate)
        except InputValueError as err:
            raise InputValueError(f"noise='class_conditional', flip_rate={rate}: {err}") from err
    task = DebuggingTask(data, seeds_, rate, fracs, noise=noise_name, noise_matrix=matrix)
    return run_task(task, resolved)
