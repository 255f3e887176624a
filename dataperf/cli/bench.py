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
from pathlib import Path
from typing import Any

from dataperf._errors import InputValueError
from dataperf._term import escape
from dataperf.bench.registry import DATASETS, NOISE_NAMES, REGISTRY, TASK_NAMES
from dataperf.cli.common import positive

HELP = "benchmark data-centric methods on a DataPerf-style task (model and test fixed)"
DESCRIPTION = (
    "dataperf bench runs a DataPerf-style task (the model and the test set held fixed, the data "
    "varied) on real offline data and compares data-centric methods: training-data selection, "
    "training-data debugging (finding planted label errors) or test-data proposal. It prints a "
    "table of "
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
    g = p.add_argument_group(
        "debugging task",
        "How label errors are planted in the pool (debugging only; each seeded, exact in its "
        "counts). A method may return a ranking, a LabelIssues, or (ranking, flagged mask); a "
        "flagged set is scored by its precision, recall and f1 against the planted errors.",
    )
    noise = g.add_mutually_exclusive_group()
    noise.add_argument(
        "--noise",
        choices=NOISE_NAMES,
        metavar="MODEL",
        help="uniform: random items, each flipped to a different random class; "
        "class_conditional: classes flipped as the fixed model confuses them (its out-of-sample "
        "confusion matrix on the clean pool; no class loses over 45%% of its labels); "
        "systematic: whole regions of feature space (each at most 5%% of its class) take the "
        "nearest other class's label (default: uniform)",
    )
    noise.add_argument(
        "--noise-matrix",
        metavar="FILE",
        help="your own class-conditional noise instead of --noise: a (K, K) matrix T[i, j] = "
        "P(noisy = j | true = i) (rows summing to 1, every diagonal entry above 0.5) in a .npy "
        "file (np.save), a .csv (comma-separated) or a .txt (whitespace-separated); not with "
        "--flip-rate",
    )
    g.add_argument(
        "--flip-rate",
        type=rate,
        metavar="RATE",
        help="share of the pool planted as errors by --noise, in (0, 0.5) (default 0.1)",
    )
    p.set_defaults(run=run)


def rate(value: str) -> float:
    """A number for ``--flip-rate`` (its range is checked by the task)."""
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 0.5), got {value!r}") from None


def read_noise_matrix(path: str) -> Any:
    """The ``(K, K)`` float array in ``path`` (``.npy``, ``.csv`` or whitespace ``.txt``)."""
    import numpy as np

    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".npy", ".csv", ".txt"):
        raise InputValueError(
            f"--noise-matrix {path!r}: expected a .npy, .csv or .txt file. Fix: np.save("
            "'noise.npy', T) or np.savetxt('noise.csv', T, delimiter=',')."
        )
    if not file.is_file():
        raise InputValueError(f"--noise-matrix {path!r}: no such file. Fix: check the path.")
    if suffix == ".npy":
        from dataperf._store import read_npy

        return np.asarray(read_npy(file, mmap=False), dtype=np.float64)
    try:
        return np.loadtxt(file, delimiter="," if suffix == ".csv" else None, ndmin=2)
    except (OSError, ValueError) as err:
        raise InputValueError(
            f"--noise-matrix {path!r}: cannot read a matrix of numbers ({err}). Fix: one row "
            f"per line, {'comma' if suffix == '.csv' else 'space'}-separated numbers."
        ) from None


def noise_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``debugging_task`` that ``--noise``, ``--noise-matrix`` and
    ``--flip-rate`` give (none when they are not used)."""
    given = {
        "--noise": args.noise,
        "--noise-matrix": args.noise_matrix,
        "--flip-rate": args.flip_rate,
    }
    used = [option for option, value in given.items() if value is not None]
    if used and args.task != "debugging":
        raise InputValueError(
            f"{', '.join(used)} appl{'ies' if len(used) == 1 else 'y'} to the debugging task "
            f"only; the task is {args.task}. Fix: drop {', '.join(used)}, or run dataperf bench "
            "debugging."
        )
    if args.noise_matrix is not None and args.flip_rate is not None:
        raise InputValueError(
            "--flip-rate and --noise-matrix were both given; the matrix already sets each "
            "class's flip rate (1 - T[i, i]). Fix: drop --flip-rate, or use --noise "
            "class_conditional --flip-rate RATE."
        )
    options: dict[str, Any] = {}
    if args.noise is not None:
        options["noise"] = args.noise
    if args.noise_matrix is not None:
        options["noise"] = read_noise_matrix(args.noise_matrix)
    if args.flip_rate is not None:
        options["flip_rate"] = args.flip_rate
    return options


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
    options = noise_options(args)
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
    result = task(methods, dataset=args.dataset, seeds=tuple(range(args.seeds)), **options)
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
