"""``dataperf bench``: compare data-centric methods on a DataPerf-style task.

The tasks (:mod:`dataperf.bench.tasks`) hold the model and the test set fixed and vary the data.
The parser reads the tasks, datasets, built-in method names and method signatures from
:mod:`dataperf.bench.registry`, which imports neither numpy nor torch, so ``--help`` stays
light and lists exactly what the tasks run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from dataperf._errors import InputValueError
from dataperf._term import escape
from dataperf.bench.registry import DATASETS, REGISTRY, TASK_NAMES
from dataperf.cli.common import positive

HELP = "benchmark data-centric methods on a DataPerf-style task (model and test fixed)"
DESCRIPTION = (
    "dataperf bench runs a DataPerf-style task (the model and the test set held fixed, the data "
    "varied) on real offline data and compares data-centric methods: training-data selection, "
    "training-data debugging (finding flipped labels) or test-data proposal. It prints a table of "
    "mean +- std over seeds and saves a plot and the results as JSON."
)


def builtin_names_help() -> str:
    """The built-in method names of every task, as ``--method`` lists them."""
    return "; ".join(f"{task}: {' '.join(e.names)}" for task, e in REGISTRY.items())


def signatures_help() -> str:
    """The method signature of every task, as ``--method`` lists them."""
    return "; ".join(f"{task} {e.signature}" for task, e in REGISTRY.items())


def add_parser(commands: Any) -> None:
    """Add ``bench`` to the sub-command parsers ``commands``."""
    p = commands.add_parser("bench", help=HELP, description=DESCRIPTION)
    p.add_argument(
        "task",
        nargs="?",
        choices=TASK_NAMES,
        metavar="TASK",
        help=", ".join(f"{task} ({e.summary})" for task, e in REGISTRY.items()),
    )
    p.add_argument(
        "--method",
        action="extend",
        nargs="+",
        metavar="NAME_OR_module:function",
        help="methods to compare, separated by spaces or commas (repeatable; default: every "
        "built-in of the task). Name the TASK first, or last after the methods. A built-in "
        f"name ({builtin_names_help()}) or module:function (or path/to/file.py:function) "
        f"with the task's signature: {signatures_help()}",
    )
    p.add_argument(
        "--dataset",
        choices=DATASETS,
        default="digits",
        help="scikit-learn's digits (always available) or Fashion-MNIST (Debian package "
        "dataset-fashion-mnist) (default: digits)",
    )
    p.add_argument(
        "--seeds",
        type=positive,
        default=3,
        metavar="N",
        help="run every method with seeds 0..N-1; the table shows mean +- std (default 3)",
    )
    p.add_argument(
        "--out",
        default="runs/bench",
        metavar="DIR",
        help="folder for DIR/<task>.png (plot) and DIR/<task>.json (results; created if "
        "needed) (default: runs/bench)",
    )
    p.set_defaults(run=run)


def _bench_method(spec: str) -> Any:
    """A built-in method name, or the callable named by ``module:function``."""
    from dataperf._specs import callable_attribute, split_spec

    if split_spec(spec) is None:
        return spec  # a built-in name; the task checks it and lists the valid names
    return callable_attribute(spec, "--method")[0]


def bench_methods(task: str | None, method: Sequence[str] | None) -> tuple[str, list[str]]:
    """The task and the method specs of ``dataperf bench``, from the parsed TASK and --method.

    ``--method`` takes several values, each a name or a comma list (``--method random,loss``),
    and may be repeated. Given before the task (``--method random loss debugging``) it takes
    the task name too: a trailing task name is moved back to TASK (no method is named like a
    task, so this is unambiguous).
    """
    specs = [part.strip() for value in method or () for part in value.split(",")]
    if task is None and specs and specs[-1] in TASK_NAMES:
        task = specs.pop()
    if task is None:
        raise InputValueError(
            f"no TASK given; expected one of {', '.join(TASK_NAMES)}. Fix: name the task "
            "first, e.g. dataperf bench debugging --method random loss."
        )
    if "" in specs or (method is not None and not specs):
        raise InputValueError(
            f"--method {' '.join(method or ())!r} holds an empty name. Fix: give method names "
            "separated by spaces or commas, e.g. --method random,loss."
        )
    return task, specs


def run(args: argparse.Namespace) -> int:
    """``dataperf bench``: run the task with the chosen methods; print and save the results."""
    from dataperf._files import make_output_folder, os_errors
    from dataperf.bench.tasks import builtin_methods, get_task

    args.task, chosen = bench_methods(args.task, args.method)
    task = get_task(args.task)
    specs = chosen or builtin_methods(args.task)
    methods: dict[str, Any] = {}
    for spec in specs:
        method = _bench_method(spec)
        # module:function is shown by its function name (the whole spec if that name is taken)
        name = spec if isinstance(method, str) else spec.rsplit(":", 1)[1]
        if name in methods:
            name = spec
        if name in methods:
            raise InputValueError(f"--method {spec!r} is given twice; name each method once.")
        methods[name] = method
    out = make_output_folder(args.out, "--out")  # before the long run
    start = time.perf_counter()
    result = task(methods, dataset=args.dataset, seeds=tuple(range(args.seeds)))
    seconds = time.perf_counter() - start
    print(escape(result.table()))
    with os_errors(f"--out {out}"):
        png = result.plot(out / f"{args.task}.png")
        js = result.to_json(out / f"{args.task}.json")
    print(
        f"\n{args.task} on {args.dataset}, {args.seeds} seed(s): {seconds:.1f} s; "
        f"wrote {escape(png)}, {escape(js)}"
    )
    return 0
