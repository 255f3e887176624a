"""The names in the bench registries, importable without numpy or torch.

``dataperf bench --help`` lists the tasks, datasets and built-in methods from here, so the
parser and its help stay light. The registries themselves (name -> function) are in
:mod:`dataperf.bench.tasks`: ``TASKS``, ``SELECTION_METHODS``, ``DEBUGGING_METHODS`` and
``PROPOSAL_METHODS`` (``"dataperf"`` and the :data:`dataperf.bench.BASELINES`);
tests/test_bench_tasks.py checks that they hold exactly these names, in this order.
"""

from __future__ import annotations

__all__ = [
    "BUILTIN_METHOD_NAMES",
    "DATASETS",
    "DEBUGGING_METHOD_NAMES",
    "PROPOSAL_METHOD_NAMES",
    "SELECTION_METHOD_NAMES",
    "TASK_NAMES",
]

TASK_NAMES: tuple[str, ...] = ("selection", "debugging", "proposal")
"""The keys of :data:`dataperf.bench.tasks.TASKS`."""

DATASETS: tuple[str, ...] = ("digits", "fashion-mnist")
"""The datasets every task runs on."""

SELECTION_METHOD_NAMES: tuple[str, ...] = (
    "random",
    "kcenter",
    "facility_location",
    "el2n",
    "knn_shapley",
    "knn_shapley_per_class",
)
"""The keys of :data:`dataperf.bench.tasks.SELECTION_METHODS`."""

DEBUGGING_METHOD_NAMES: tuple[str, ...] = (
    "random",
    "loss",
    "self_confidence",
    "margin",
    "confident_learning",
    "knn",
    "ensemble",
)
"""The keys of :data:`dataperf.bench.tasks.DEBUGGING_METHODS`."""

PROPOSAL_METHOD_NAMES: tuple[str, ...] = (
    "dataperf",
    "random",
    "entropy",
    "margin",
    "least_confidence",
    "bald",
    "kcenter",
    "badge",
)
"""``"dataperf"`` (HardnessSampler) and the keys of :data:`dataperf.bench.BASELINES`."""

BUILTIN_METHOD_NAMES: dict[str, tuple[str, ...]] = {
    "selection": SELECTION_METHOD_NAMES,
    "debugging": DEBUGGING_METHOD_NAMES,
    "proposal": PROPOSAL_METHOD_NAMES,
}
"""Task name -> the names of its built-in methods."""
