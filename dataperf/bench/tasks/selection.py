"""The selection task: the fixed model trained on each method's subset, scored on a fixed test.

From a fixed candidate pool with fixed features, a method picks ``budget`` items; the fixed
scikit-learn ``LogisticRegression`` is trained on them and scored on the fixed test split
(accuracy and macro-F1). The built-in methods have the user signature
``f(pool, budget, seed) -> indices``; those that need labelled reference data also take the
validation split as ``valid=`` (a keyword the runner passes to any method that names it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._validate import check_indices, check_int
from dataperf.bench.tasks.data import TaskData, check_dataset, fit_score, load_task_data
from dataperf.bench.tasks.result import TaskResult
from dataperf.bench.tasks.runner import (
    Deferred,
    Trial,
    check_seeds,
    check_sequence,
    resolve_methods,
    run_task,
)
from dataperf.signals import Signals

__all__ = [
    "BY_SELECT_SUBSET",
    "SelectionTask",
    "knn_shapley",
    "knn_shapley_per_class",
    "selection_task",
]

DEFAULT_BUDGETS = {"digits": (50, 100, 200, 400), "fashion-mnist": (100, 300, 1000, 3000)}


# ----------------------------------------------------------------------------- built-ins


def _by_select_subset(method: str) -> Callable[[Signals, int, int], np.ndarray]:
    def run(pool: Signals, budget: int, seed: int) -> np.ndarray:
        from dataperf.curate.subsets import select_subset

        return select_subset(pool, budget, method=method, seed=seed)

    run.__name__ = method
    run.__doc__ = f"``dataperf.curate.select_subset(pool, budget, method={method!r})``."
    return run


BY_SELECT_SUBSET: dict[str, Callable[[Signals, int, int], np.ndarray]] = {
    name: _by_select_subset(name) for name in ("random", "kcenter", "facility_location", "el2n")
}
"""The built-ins that call ``dataperf.curate.select_subset`` on the pool Signals."""


@functools.lru_cache(maxsize=4)  # Signals hash by identity; the cache keeps them alive
def _knn_values(pool: Signals, valid: Signals) -> np.ndarray:
    from dataperf.curate.valuation import data_values

    values = np.asarray(data_values(pool, valid, method="knn_shapley"), dtype=np.float64)
    if values.shape != (len(pool),):
        raise InputValueError(
            f"data_values must return one value per pool item ({len(pool)},); got shape "
            f"{values.shape}."
        )
    values.flags.writeable = False
    return values


def knn_shapley(pool: Signals, budget: int, seed: int, *, valid: Signals) -> np.ndarray:
    """The ``budget`` pool items of highest KNN-Shapley value against ``valid``."""
    values = _knn_values(pool, valid)
    return np.argsort(-values, kind="stable")[:budget].astype(np.int64)


def knn_shapley_per_class(pool: Signals, budget: int, seed: int, *, valid: Signals) -> np.ndarray:
    """The highest-valued pool items of each class, in proportion to the class sizes."""
    from dataperf.curate.subsets import class_quotas

    values = _knn_values(pool, valid)
    labels = np.asarray(pool.labels)
    quotas = class_quotas(np.bincount(labels), budget)
    picked = [
        members[np.argsort(-values[members], kind="stable")[:quota]]
        for c, quota in enumerate(quotas)
        for members in [np.flatnonzero(labels == c)]
    ]
    return np.concatenate(picked).astype(np.int64)


# ----------------------------------------------------------------------------- the task


@dataclass
class SelectionTask:
    """One trial per seed and budget: ``f(pool, budget, seed, valid=...)``; scored by the test
    accuracy and macro-F1 of the fixed model trained on the picked items."""

    data: TaskData
    seeds: list[int]
    budgets: list[int]
    name: str = "selection"
    x_name: str = "budget"
    metrics: tuple[str, ...] = ("accuracy", "macro_f1")
    single_label: str = "value"

    @property
    def dataset(self) -> str:
        return self.data.dataset

    def trials(self) -> Iterator[Trial]:
        valid = Deferred(lambda: self.data.valid)  # trains the fixed model: only when asked
        for seed in self.seeds:
            for budget in self.budgets:
                yield Trial(seed, (self.data.pool, budget, seed), {"valid": valid}, budget)

    def score(self, trial: Trial, method: str, output: Any) -> list[tuple[str, Any, float]]:
        d = self.data
        idx = check_indices(output, trial.truth, len(d.y_pool), method)
        acc, f1 = fit_score(d.x_pool[idx], d.y_pool[idx], d.x_test, d.y_test, d.num_classes)
        return [("accuracy", trial.truth, acc), ("macro_f1", trial.truth, f1)]

    def info(self) -> dict[str, Any]:
        d = self.data
        full_acc, full_f1 = fit_score(d.x_pool, d.y_pool, d.x_test, d.y_test, d.num_classes)
        return {
            **d.info,
            "budgets": self.budgets,
            "full_pool_accuracy": full_acc,
            "full_pool_macro_f1": full_f1,
        }


def selection_task(
    methods: Any = None,
    *,
    dataset: str = "digits",
    budgets: Sequence[int] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
) -> TaskResult:
    """Training-data selection: the fixed model trained on each method's subset, on a fixed test.

    Parameters
    ----------
    methods : list of (str or callable) or dict name -> (str or callable), optional
        Built-in names (``dataperf.bench.registry.REGISTRY["selection"]``: ``"random"``,
        ``"kcenter"``, ``"facility_location"``, ``"el2n"``, ``"knn_shapley"``,
        ``"knn_shapley_per_class"``) or callables
        ``f(pool: Signals, budget: int, seed: int) -> (budget,) int indices`` into the pool.
        ``pool`` has ``probs`` (5-fold out-of-sample probs of the fixed model), ``embeddings``
        (the fixed features, (N, 64)) and ``labels``. A callable that names a ``valid``
        parameter also gets the validation split's Signals (probs of the fixed model trained
        on the whole pool). None runs every built-in.
    dataset : {"digits", "fashion-mnist"}
    budgets : sequence of int, optional
        Subset sizes; default (50, 100, 200, 400) for digits (pool 1000) and
        (100, 300, 1000, 3000) for Fashion-MNIST (pool 10000).
    seeds : sequence of int
        Each method is run once per seed and budget.

    Returns
    -------
    TaskResult
        Metrics ``accuracy`` and ``macro_f1`` on the test split, x = budget. ``info`` holds the
        fixed model's scores when trained on the whole pool.
    """
    dataset = check_dataset(dataset)
    seeds_ = check_seeds(seeds)
    resolved = resolve_methods(methods, "selection")
    data = load_task_data(dataset)
    given = DEFAULT_BUDGETS[dataset] if budgets is None else budgets
    high_name = f"the pool size of {dataset!r}"
    budget_list = [
        check_int(b, "each of budgets", low=1, high=len(data.y_pool), high_name=high_name)
        for b in check_sequence(given, "budgets", "ints")
    ]
    if not budget_list:
        raise InputValueError(f"budgets must hold at least one budget; got {budgets!r}.")
    task = SelectionTask(data, seeds_, sorted(set(budget_list)))
    return run_task(task, resolved)
