"""The one loop that runs every bench task: resolve the methods, run each on every trial, score.

A task (:class:`Task`) says what one trial is and how a method's output is scored; the runner
(:func:`run_task`) does the rest the same way for every task: it resolves names to built-ins
through the registry (:mod:`dataperf.bench.registry`), calls every method with the task's one
signature (plus the keywords it asks for), times it, skips a built-in whose inputs are missing,
and collects tidy rows into a :class:`~dataperf.bench.tasks.result.TaskResult`.

A new task implements :class:`Task` and adds a :class:`~dataperf.bench.registry.TaskEntry`.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dataperf._errors import InputTypeError, InputValueError
from dataperf._validate import check_int, describe
from dataperf.bench.registry import REGISTRY
from dataperf.bench.tasks.result import TaskResult

__all__ = [
    "Deferred",
    "Method",
    "Task",
    "Trial",
    "check_seeds",
    "check_sequence",
    "resolve_methods",
    "run_task",
]


class Deferred:
    """A keyword value made on first use, for inputs that only some methods need."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make

    @functools.cached_property
    def value(self) -> Any:
        return self._make()


@dataclass(frozen=True, eq=False)
class Trial:
    """One setting on which every method runs with the same inputs.

    Attributes
    ----------
    seed : int
    args : tuple
        The positional arguments of the task's method signature.
    keywords : dict
        Keyword arguments offered to the methods that name them (see :class:`Method`); a
        :class:`Deferred` value is made when a method first takes it.
    truth : Any
        What scoring needs and methods never see (flipped labels, the useful mask, ...).
    references : tuple of (name, metric, x, value)
        Reference rows of this trial (e.g. the accuracy with no fixing).
    """

    seed: int
    args: tuple[Any, ...]
    keywords: dict[str, Any] = field(default_factory=dict)
    truth: Any = None
    references: tuple[tuple[str, str, Any, float], ...] = ()


class Task(Protocol):
    """What the runner needs from a task.

    ``name`` is its registry key, ``x_name`` what the x of a row is (``"budget"``, ...), and
    ``metrics`` the metric names it may score (a metric no method scored is left out of the
    result). A task may also have ``single_labels``, a dict metric -> the column heading of a
    single-setting metric (see :class:`~dataperf.bench.tasks.result.TaskResult`).
    :meth:`trials` yields the trials (at least one per seed); :meth:`score` checks one method's
    output on one trial and returns ``(metric, x, value)`` triples; :meth:`info` returns the
    settings to keep in ``TaskResult.info``.
    """

    name: str
    dataset: str
    seeds: list[int]
    x_name: str
    metrics: tuple[str, ...]
    single_label: str

    def trials(self) -> Iterator[Trial]: ...

    def score(self, trial: Trial, method: str, output: Any) -> Iterable[tuple[str, Any, float]]: ...

    def info(self) -> dict[str, Any]: ...


@dataclass(frozen=True, eq=False)
class Method:
    """A method as the runner calls it: ``function(*trial.args, **keywords it accepts)``.

    ``keywords`` is the set of offered keyword names that ``function`` names as parameters
    (all of them when it takes ``**kwargs``); ``needs`` the pool fields it cannot run without.
    """

    function: Callable[..., Any]
    accepts: frozenset[str] | None
    needs: tuple[str, ...] = ()

    @classmethod
    def wrap(cls, function: Callable[..., Any], needs: tuple[str, ...] = ()) -> Method:
        try:
            params = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):  # no signature to read (some C callables)
            return cls(function, frozenset(), needs)
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return cls(function, None, needs)
        named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        return cls(function, frozenset(named), needs)

    def __call__(self, trial: Trial) -> Any:
        keywords = {
            k: v.value if isinstance(v, Deferred) else v
            for k, v in trial.keywords.items()
            if self.accepts is None or k in self.accepts
        }
        return self.function(*trial.args, **keywords)

    def missing(self, trial: Trial) -> list[str]:
        """The fields in ``needs`` that the trial's first argument (the pool) lacks."""
        return [f for f in self.needs if getattr(trial.args[0], f, None) is None]


def resolve_methods(methods: Any, task: str) -> dict[str, Method]:
    """name -> :class:`Method` from ``task``'s built-in names and user callables (a list or a
    dict name -> name or callable); None means every built-in."""
    entry = REGISTRY[task]
    names = list(entry.names)
    shape = f"a callable {entry.signature}"
    if methods is None:
        methods = names
    if isinstance(methods, str) or callable(methods):
        methods = [methods]
    if isinstance(methods, Mapping):
        items = [(str(name), m) for name, m in methods.items()]
    elif isinstance(methods, Sequence):
        items = [(_name_of(m), m) for m in methods]
    else:
        raise InputTypeError(
            f"methods must be a list of names / callables or a dict name -> name or callable; "
            f"got {describe(methods)}."
        )
    if not items:
        raise InputValueError(f"methods must name at least one method; valid names: {names}.")
    out: dict[str, Method] = {}
    for name, m in items:
        if name in out:
            raise InputValueError(f"method names must be unique; got {name!r} twice.")
        if isinstance(m, str):
            if m not in names:
                raise InputValueError(
                    f"unknown {entry.name} method {m!r}; valid names: {names}, or {shape}."
                )
            builtin = entry.builtin(m)
            out[name] = Method.wrap(builtin.load(), builtin.needs)
        elif callable(m):
            out[name] = Method.wrap(m)
        else:
            raise InputTypeError(
                f"each {entry.name} method must be a name in {names} or {shape}; got "
                f"{describe(m)} for {name!r}."
            )
    return out


def _name_of(method: Any) -> str:
    if isinstance(method, str):
        return method
    if callable(method):
        return getattr(method, "__name__", type(method).__name__)
    return repr(method)


def check_sequence(values: Any, name: str, what: str) -> list[Any]:
    """``values`` as a list; InputTypeError for a str or a non-iterable."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InputTypeError(f"{name} must be a sequence of {what}; got {describe(values)}.")
    return list(values)


def check_seeds(seeds: Any) -> list[int]:
    """Distinct ints >= 0 (one int is one seed)."""
    if isinstance(seeds, (numbers.Integral, bool)):
        seeds = [seeds]
    out = [check_int(s, "each of seeds", low=0) for s in check_sequence(seeds, "seeds", "ints")]
    if not out or len(set(out)) != len(out):
        raise InputValueError(f"seeds must be distinct ints >= 0, at least one; got {seeds!r}.")
    return out


def _row(method: str, seed: int, metric: str, x: Any, value: float, reference: bool) -> dict:
    return {
        "method": method,
        "seed": seed,
        "metric": metric,
        "x": x,
        "value": float(value),
        "reference": reference,
    }


def run_task(task: Task, methods: Mapping[str, Method]) -> TaskResult:
    """Run every method (from :func:`resolve_methods`) on every trial of ``task``; rows of the
    methods first, then the references.

    ``info["seconds"]`` is the time spent inside each method (summed over trials);
    ``info["skipped"]`` (when present) names the built-ins that could not run and why. A metric
    of ``task.metrics`` with no row (e.g. a flagged-set score when no method flags a set) is
    left out of ``TaskResult.metrics``.
    """
    resolved = dict(methods)
    rows: list[dict[str, Any]] = []
    seconds = dict.fromkeys(resolved, 0.0)
    skipped: dict[str, str] = {}
    for trial in task.trials():
        for ref, metric, x, value in trial.references:
            rows.append(_row(ref, trial.seed, metric, x, value, reference=True))
        for name, method in resolved.items():
            missing = method.missing(trial)
            if missing:
                skipped[name] = f"the pool Signals have no {', '.join(missing)}"
                continue
            start = time.perf_counter()
            output = method(trial)
            seconds[name] += time.perf_counter() - start
            for metric, x, value in task.score(trial, name, output):
                rows.append(_row(name, trial.seed, metric, x, value, reference=False))
    rows.sort(key=lambda row: row["reference"])  # stable: methods in run order, then references
    info = {
        **task.info(),
        "seeds": task.seeds,
        "seconds": {name: round(s, 3) for name, s in seconds.items()},
    }
    if skipped:
        info["skipped"] = skipped
    return TaskResult(
        task=task.name,
        dataset=task.dataset,
        x_name=task.x_name,
        rows=tuple(rows),
        metrics=tuple(m for m in task.metrics if any(row["metric"] == m for row in rows)),
        info=info,
        single_label=task.single_label,
        single_labels=dict(getattr(task, "single_labels", {})),
    )
