"""The one registry of the bench: its tasks, datasets and built-in methods, by name.

Everything that lists the bench's names reads them from here: the task runner
(:mod:`dataperf.bench.tasks`), ``dataperf bench --help`` and the README's method tables (a test
checks them against :func:`markdown`). Entries name their code by ``"module:attribute"``, so
this module imports neither numpy nor torch and ``--help`` stays light.

To add a built-in method, write it with its task's user signature (below) in the task's module
and add one :class:`Builtin` line to that task's entry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BUILTIN_METHOD_NAMES",
    "DATASETS",
    "NOISE_NAMES",
    "REGISTRY",
    "TASK_NAMES",
    "Builtin",
    "TaskEntry",
    "load",
    "markdown",
]

DATASETS: tuple[str, ...] = ("digits", "fashion-mnist")
"""The datasets every task runs on."""

NOISE_NAMES: tuple[str, ...] = ("uniform", "class_conditional", "systematic")
"""The named noise models of the debugging task (``dataperf.bench.tasks.debugging.NOISE_MODELS``;
``dataperf bench debugging --noise``)."""


def load(target: str, key: str | None = None) -> Any:
    """The object that ``"module:attribute"`` names; ``key`` picks an entry of a mapping."""
    module, _, attribute = target.partition(":")
    obj = getattr(importlib.import_module(module), attribute)
    return obj[key] if isinstance(obj, Mapping) and key is not None else obj


@dataclass(frozen=True)
class Builtin:
    """One built-in method of a task.

    Attributes
    ----------
    name : str
        The name users pass (``--method NAME``; ``methods=["NAME"]``).
    target : str
        ``"module:attribute"`` of a callable with the task's user signature. When the attribute
        is a mapping (such as ``BASELINES``), the method is its entry called ``name``.
    summary : str
        One line for the README's method table.
    needs : tuple of str
        Fields of the Signals passed first (the pool) that the method needs; a run whose
        Signals lack one skips the method and says so in ``TaskResult.info["skipped"]``.
    """

    name: str
    target: str
    summary: str
    needs: tuple[str, ...] = ()

    def load(self) -> Callable[..., Any]:
        """The method's callable."""
        return load(self.target, self.name)


@dataclass(frozen=True)
class TaskEntry:
    """One task: where its function is, what a method looks like, and its built-ins.

    ``signature`` is the call every method gets; ``keywords`` are extra keyword arguments the
    runner passes to the methods whose signature names them (or takes ``**kwargs``).
    """

    name: str
    function: str
    signature: str
    summary: str
    builtins: tuple[Builtin, ...]
    keywords: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.builtins)

    def builtin(self, name: str) -> Builtin:
        return {b.name: b for b in self.builtins}[name]

    def load(self) -> Callable[..., Any]:
        """The task function."""
        return load(self.function)


def _find_label_issues(method: str) -> Builtin:
    return Builtin(
        method,
        "dataperf.bench.tasks.debugging:BY_FIND_LABEL_ISSUES",
        f"`find_label_issues(signals, method={method!r})`: ranks by its `scores`, flags its "
        "`is_issue`",
    )


def _baseline(name: str, summary: str, needs: tuple[str, ...] = ()) -> Builtin:
    return Builtin(name, "dataperf.propose.baselines:BASELINES", summary, needs)


_SELECT = "dataperf.bench.tasks.selection:BY_SELECT_SUBSET"

REGISTRY: dict[str, TaskEntry] = {
    entry.name: entry
    for entry in (
        TaskEntry(
            "selection",
            "dataperf.bench.tasks.selection:selection_task",
            "f(pool, budget, seed) -> indices",
            "pick a training subset under a budget",
            (
                Builtin("random", _SELECT, "a uniform random subset"),
                Builtin("kcenter", _SELECT, "k-center greedy on the features"),
                Builtin(
                    "facility_location",
                    _SELECT,
                    "facility location, lazy greedy on a k-nearest-neighbour similarity graph",
                ),
                Builtin("el2n", _SELECT, "the hardest items by EL2N, ‖p − onehot(y)‖"),
                Builtin(
                    "knn_shapley",
                    "dataperf.bench.tasks.selection:knn_shapley",
                    "the items of highest KNN-Shapley value against the validation split",
                ),
                Builtin(
                    "knn_shapley_per_class",
                    "dataperf.bench.tasks.selection:knn_shapley_per_class",
                    "the highest-valued items of each class, in proportion to the class sizes",
                ),
            ),
            keywords=("valid",),
        ),
        TaskEntry(
            "debugging",
            "dataperf.bench.tasks.debugging:debugging_task",
            "f(signals) -> ranking, LabelIssues or (ranking, flagged mask)",
            "rank training items to find planted label errors, optionally flagging a set",
            (
                Builtin(
                    "random",
                    "dataperf.bench.tasks.debugging:random_ranking",
                    "a seeded random order (what inspecting without help finds)",
                ),
                Builtin(
                    "loss",
                    "dataperf.bench.tasks.debugging:loss_ranking",
                    "ranks by the cross-entropy of the given label",
                ),
                *(
                    _find_label_issues(m)
                    for m in ("self_confidence", "margin", "confident_learning", "knn", "ensemble")
                ),
            ),
            keywords=("seed",),
        ),
        TaskEntry(
            "proposal",
            "dataperf.bench.tasks.proposal:proposal_task",
            "f(pool, test, train, k, seed) -> indices",
            "propose useful new test examples from a planted pool",
            (
                Builtin(
                    "dataperf",
                    "dataperf.bench.tasks.proposal:hardness_sampler",
                    "`HardnessSampler(k, seed=seed).propose(pool, test=test, train=train)`",
                ),
                _baseline("random", "k pool items at random"),
                _baseline("entropy", "the k of highest predictive entropy"),
                _baseline("margin", "the k of smallest top-1 minus top-2 probability"),
                _baseline("least_confidence", "the k of lowest top-1 probability"),
                _baseline(
                    "bald",
                    "the k of highest BALD mutual information (needs MC-dropout probs)",
                    needs=("mc_probs",),
                ),
                _baseline("kcenter", "k-center greedy away from the test set's embeddings"),
                _baseline("badge", "BADGE: k-means++ on gradient embeddings"),
            ),
        ),
    )
}
"""Task name -> :class:`TaskEntry`, in the order ``dataperf bench --help`` lists them."""

TASK_NAMES: tuple[str, ...] = tuple(REGISTRY)
"""The task names."""

BUILTIN_METHOD_NAMES: dict[str, tuple[str, ...]] = {t: e.names for t, e in REGISTRY.items()}
"""Task name -> the names of its built-in methods."""


def markdown() -> str:
    """The README's built-in method tables, one per task."""
    blocks = []
    for entry in REGISTRY.values():
        keywords = "".join(f", optional keyword `{k}`" for k in entry.keywords)
        lines = [
            f"**{entry.name}** ({entry.summary}; your method: `{entry.signature}`{keywords})",
            "",
            "| method | what it does |",
            "|---|---|",
            *(f"| `{b.name}` | {b.summary} |" for b in entry.builtins),
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
