"""DataPerf-style tasks on real offline data: fix the model and the test set, vary the data.

Three tasks score data-centric algorithms end to end, each returning a :class:`TaskResult`
(tidy rows, a markdown table, a plot, JSON):

:func:`selection_task` (:mod:`~dataperf.bench.tasks.selection`)
    Training-data selection. From a fixed candidate pool with fixed features, a method picks
    ``budget`` items; a fixed scikit-learn ``LogisticRegression`` is trained on them and scored
    on a fixed test split (accuracy and macro-F1).
:func:`debugging_task` (:mod:`~dataperf.bench.tasks.debugging`)
    Training-data debugging. A noise model (uniform, class-conditional, systematic, or a
    noise matrix of yours) plants label errors in the pool; a method ranks items to inspect
    and may flag a set. Scored by the fraction of errors found against the fraction
    inspected, by the test accuracy after fixing the top-``m`` inspected items (``m`` =
    number of errors), next to no fixing and perfect fixing, and by the precision, recall and
    F1 of a flagged set.
:func:`proposal_task` (:mod:`~dataperf.bench.tasks.proposal`)
    Test-data proposal on planted pools (:func:`dataperf.bench.planted_scenario`): precision@k
    of ``dataperf.HardnessSampler`` and the :data:`dataperf.bench.BASELINES`.

The layout: :mod:`~dataperf.bench.registry` names every task and built-in method;
:mod:`~dataperf.bench.tasks.data` holds the fixed splits, features and model;
:mod:`~dataperf.bench.tasks.runner` the one loop that runs any task; each task module its
trials, its scoring and its built-in methods, all with the task's user signature.

Example
-------
>>> from dataperf.bench import selection_task
>>> result = selection_task(["random", "kcenter", "el2n"], budgets=(50, 100), seeds=(0, 1))
>>> print(result.table())
>>> result.plot("selection.png"); result.to_json("selection.json")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dataperf._validate import check_choice
from dataperf.bench.registry import REGISTRY
from dataperf.bench.tasks.data import DATASETS, TaskData, fixed_model, load_task_data
from dataperf.bench.tasks.debugging import debugging_task, flip_labels
from dataperf.bench.tasks.proposal import PROPOSAL_METHODS, proposal_task
from dataperf.bench.tasks.result import TaskResult
from dataperf.bench.tasks.selection import selection_task

__all__ = [
    "DATASETS",
    "DEBUGGING_METHODS",
    "PROPOSAL_METHODS",
    "SELECTION_METHODS",
    "TASKS",
    "TaskData",
    "TaskResult",
    "builtin_methods",
    "debugging_task",
    "fixed_model",
    "flip_labels",
    "get_task",
    "load_task_data",
    "proposal_task",
    "selection_task",
]

TASKS: dict[str, Callable[..., TaskResult]] = {
    name: entry.load() for name, entry in REGISTRY.items()
}
"""Task name -> function; every function takes ``methods`` first and ``dataset=``, ``seeds=``."""

SELECTION_METHODS: dict[str, Callable[..., Any]] = {
    b.name: b.load() for b in REGISTRY["selection"].builtins
}
"""Built-in selection methods: name -> ``f(pool, budget, seed, *, valid=None) -> indices``."""

DEBUGGING_METHODS: dict[str, Callable[..., Any]] = {
    b.name: b.load() for b in REGISTRY["debugging"].builtins
}
"""Built-in debugging methods: name -> ``f(signals[, seed=])`` returning an ``(N,)`` ranking,
most suspect first, or a ``LabelIssues`` (ranked by its scores, flagged set ``is_issue``)."""


def get_task(name: str) -> Callable[..., TaskResult]:
    """The task function called ``name``; ValueError listing the valid names otherwise."""
    return TASKS[check_choice(name, "task name", TASKS)]


def builtin_methods(task: str) -> list[str]:
    """The built-in method names of ``task``."""
    get_task(task)
    return list(REGISTRY[task].names)
