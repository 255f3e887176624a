"""The debugging task: find the flipped labels of a pool, fix them, retrain the fixed model.

Per seed, a noise model flips some pool labels; a method sees the noisy labels, the fixed
features and out-of-sample probs of the fixed model trained on the noisy labels, and ranks the
items to inspect, most suspect first. Scored by the fraction of flips found against the
fraction inspected, and by the test accuracy after fixing the top-``m`` ranked items
(``m`` = number of flips), next to no fixing and perfect fixing.

The built-in methods have the user signature ``f(signals) -> ranking``; those that need a seed
name a ``seed`` parameter, which the runner fills for any method that names it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._validate import check_float, describe
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
    "NOISE_MODELS",
    "DebuggingTask",
    "debugging_task",
    "flip_labels",
    "loss_ranking",
    "random_ranking",
]


# ----------------------------------------------------------------------------- noise models


def flip_labels(labels: Any, rate: float, num_classes: int, *, seed: int) -> np.ndarray:
    """Flip ``round(rate * N)`` labels, chosen at random, each to a different random class.

    Parameters
    ----------
    labels : (N,) int array
    rate : float in [0, 1)
    num_classes : int
    seed : int

    Returns
    -------
    (N,) int64 array
        The noisy labels; ``noisy != labels`` marks the flips.
    """
    y = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng([seed, 31])
    n_flip = int(round(rate * len(y)))
    idx = rng.choice(len(y), size=n_flip, replace=False)
    noisy = y.copy()
    noisy[idx] = (y[idx] + rng.integers(1, num_classes, size=n_flip)) % num_classes
    return noisy


def _uniform(data: TaskData, rate: float, seed: int) -> np.ndarray:
    return flip_labels(data.y_pool, rate, data.num_classes, seed=seed)


NoiseModel = Callable[[TaskData, float, int], np.ndarray]
NOISE_MODELS: dict[str, NoiseModel] = {"uniform": _uniform}
"""Noise model name -> ``f(data, rate, seed) -> (N,) noisy pool labels``. ``uniform``: each
flipped label goes to a different class drawn uniformly (:func:`flip_labels`)."""


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


def _by_find_label_issues(method: str) -> Callable[[Signals], np.ndarray]:
    def run(signals: Signals) -> np.ndarray:
        from dataperf.curate.label_issues import find_label_issues

        scores = find_label_issues(signals, method=method).scores
        return _ranking(scores, len(signals), f"find_label_issues(method={method!r})")

    run.__name__ = method
    run.__doc__ = f"Rank by ``dataperf.curate.find_label_issues(signals, method={method!r})``."
    return run


BY_FIND_LABEL_ISSUES: dict[str, Callable[[Signals], np.ndarray]] = {
    m: _by_find_label_issues(m)
    for m in ("self_confidence", "margin", "confident_learning", "knn", "ensemble")
}
"""The built-ins that rank by ``dataperf.curate.find_label_issues(signals, method=...).scores``."""


# ----------------------------------------------------------------------------- the task


def check_ranking(order: Any, n: int, name: str) -> np.ndarray:
    """What a debugging method returned, checked: a permutation of ``0..n-1``."""
    arr = np.asarray(order)
    if (
        arr.shape != (n,)
        or arr.dtype.kind not in "iu"
        or not np.array_equal(np.sort(arr), np.arange(n))
    ):
        raise InputValueError(
            f"method {name!r} must return a ranking of all {n} items (a permutation of "
            f"0..{n - 1}, most suspect first); got {describe(order)}. Fix: return "
            "np.argsort(-scores)."
        )
    return arr.astype(np.int64)


@dataclass
class DebuggingTask:
    """One trial per seed: ``f(signals, seed=...)`` ranks the noisy pool; scored by the flips
    found in the first fractions inspected and the accuracy after fixing the top ranked."""

    data: TaskData
    seeds: list[int]
    flip_rate: float
    fractions: list[float]
    noise: str = "uniform"
    name: str = "debugging"
    x_name: str = "fraction"
    metrics: tuple[str, ...] = ("found", "fixed_accuracy")
    n_flips: dict[int, int] = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        return self.data.dataset

    @property
    def single_label(self) -> str:
        counts = set(self.n_flips.values())
        m = counts.pop() if len(counts) == 1 else "m"
        return f"after fixing the top {m} ranked" + (" (m = flips)" if m == "m" else "")

    def _accuracy(self, labels: np.ndarray) -> float:
        d = self.data
        return fit_score(d.x_pool, labels, d.x_test, d.y_test, d.num_classes)[0]

    def trials(self) -> Iterator[Trial]:
        from dataperf.curate.label_issues import cross_val_probs

        d = self.data
        for seed in self.seeds:
            noisy = NOISE_MODELS[self.noise](d, self.flip_rate, seed)
            self.n_flips[seed] = int((noisy != d.y_pool).sum())
            probs = cross_val_probs(fixed_model(), d.x_pool, noisy, folds=5, seed=seed).probs
            signals = Signals(
                probs=probs,
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
        order = check_ranking(output, n, method)
        rows = [
            ("found", f, float(flipped[order[: math.ceil(f * n)]].sum() / max(n_flips, 1)))
            for f in self.fractions
        ]
        fixed = noisy.copy()
        fixed[order[:n_flips]] = truth[order[:n_flips]]
        return [*rows, ("fixed_accuracy", None, self._accuracy(fixed))]

    def info(self) -> dict[str, Any]:
        counts = sorted(set(self.n_flips.values()))
        return {
            **self.data.info,
            "noise": self.noise,
            "flip_rate": self.flip_rate,
            "n_flips": counts[0] if len(counts) == 1 else dict(self.n_flips),
            "fractions": self.fractions,
        }


def debugging_task(
    methods: Any = None,
    *,
    dataset: str = "digits",
    flip_rate: float = 0.1,
    seeds: Sequence[int] = (0, 1, 2),
    fractions: Sequence[float] = (0.05, 0.1, 0.2, 0.3),
) -> TaskResult:
    """Training-data debugging: find flipped labels, fix them, retrain the fixed model.

    Per seed, ``round(flip_rate * N)`` pool labels are flipped to a different random class.
    The Signals a method sees are the noisy labels, the fixed features (``embeddings``) and
    5-fold out-of-sample probs of the fixed model trained on the noisy labels
    (``dataperf.curate.cross_val_probs``, fold seed = seed).

    Parameters
    ----------
    methods : list of (str or callable) or dict name -> (str or callable), optional
        Built-in names (``dataperf.bench.registry.REGISTRY["debugging"]``: ``"random"``,
        ``"loss"``, ``"self_confidence"``, ``"margin"``, ``"confident_learning"``, ``"knn"``,
        ``"ensemble"``) or callables ``f(signals: Signals) -> (N,) int ranking`` (a
        permutation of the pool, most suspect first). A callable that names a ``seed``
        parameter gets the run's seed. None runs every built-in.
    dataset : {"digits", "fashion-mnist"}
    flip_rate : float in (0, 0.5]
    seeds : sequence of int
    fractions : sequence of float in (0, 1]
        Fractions of the pool inspected, for the ``found`` metric.

    Returns
    -------
    TaskResult
        Metrics ``found`` (fraction of the flips among the first ``ceil(f * N)`` ranked items,
        x = f) and ``fixed_accuracy`` (test accuracy of the fixed model after restoring the
        true label of every flipped item among the first ``m`` ranked, ``m`` = number of
        flips; x None). Two reference rows of ``fixed_accuracy``: ``(no fixing)`` and
        ``(all flips fixed)``.
    """
    dataset = check_dataset(dataset)
    seeds_ = check_seeds(seeds)
    flip_rate = check_float(flip_rate, "flip_rate", low=0.0, high=0.5, low_open=True)
    fracs = sorted(
        {
            check_float(f, "each of fractions", low=0.0, low_open=True, high=1.0)
            for f in check_sequence(fractions, "fractions", "floats")
        }
    )
    if not fracs:
        raise InputValueError(f"fractions must hold at least one number; got {fractions!r}.")
    resolved = resolve_methods(methods, "debugging")
    task = DebuggingTask(load_task_data(dataset), seeds_, flip_rate, fracs)
    return run_task(task, resolved)
