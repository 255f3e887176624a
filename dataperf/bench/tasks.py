"""DataPerf-style tasks on real offline data: fix the model and the test set, vary the data.

Three tasks score data-centric algorithms end to end, each returning a :class:`TaskResult`
(tidy rows, a markdown table, a plot, JSON):

:func:`selection_task`
    Training-data selection. From a fixed candidate pool with fixed features, a method picks
    ``budget`` items; a fixed scikit-learn ``LogisticRegression`` is trained on them and scored
    on a fixed test split (accuracy and macro-F1).
:func:`debugging_task`
    Training-data debugging. A fraction of the pool's labels is flipped to another random
    class; a method ranks items to inspect. Scored by the fraction of flips found against the
    fraction inspected, and by the test accuracy after fixing the top-``m`` inspected items
    (``m`` = number of flips), next to no fixing and perfect fixing.
:func:`proposal_task`
    Test-data proposal on planted pools (:func:`dataperf.bench.planted_scenario`): precision@k
    of ``dataperf.HardnessSampler`` and the :data:`dataperf.bench.BASELINES`.

Data (fixed for every seed; seeds vary the methods, the label flips and, for the proposal task,
the planted scenario):

``"digits"``
    scikit-learn's 8x8 digits (1797 images), split once (``default_rng(2024)``) into a pool of
    1000, a validation split of 297 and a test split of 500. Features: the 64 pixels,
    standardised with the pool's mean and standard deviation.
``"fashion-mnist"``
    Fashion-MNIST (Debian package ``dataset-fashion-mnist``): a pool of 10000 and a validation
    split of 2000 drawn from the train split, and 5000 items of the test split. Features: PCA-64
    of the pixels (scaled to [0, 1]) fitted on the pool, then standardised with the pool's
    statistics.

The validation split is never the test split: methods that need labelled reference data (such
as KNN-Shapley data values) use it.

Example
-------
>>> from dataperf.bench import selection_task
>>> result = selection_task(["random", "kcenter", "el2n"], budgets=(50, 100), seeds=(0, 1))
>>> print(result.table())
>>> result.plot("selection.png"); result.to_json("selection.json")
"""

from __future__ import annotations

import json
import math
import numbers
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._files import atomic_file, atomic_write_text, check_output_file
from dataperf._validate import check_choice, check_float, check_indices, check_int, describe
from dataperf.bench.names import DATASETS, PROPOSAL_METHOD_NAMES
from dataperf.signals import Signals

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

_SPLIT_SEED = 2024
_SIZES = {  # pool, validation, test
    "digits": (1000, 297, 500),
    "fashion-mnist": (10000, 2000, 5000),
}
_DEFAULT_BUDGETS = {"digits": (50, 100, 200, 400), "fashion-mnist": (100, 300, 1000, 3000)}
# The fixed model of every task: one set of hyper-parameters, never tuned per method.
_MODEL_PARAMS: dict[str, Any] = {"C": 1.0, "max_iter": 2000, "tol": 1e-4}


def fixed_model() -> Any:
    """The fixed model of the selection and debugging tasks: an unfitted scikit-learn
    ``LogisticRegression(C=1.0, max_iter=2000)`` (lbfgs, multinomial)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**_MODEL_PARAMS)


# --------------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class TaskResult:
    """The scores of every method on one task.

    Attributes
    ----------
    task : str
        ``"selection"``, ``"debugging"`` or ``"proposal"``.
    dataset : str
    x_name : str
        What the x of each row is: ``"budget"`` (items selected), ``"fraction"`` (of the pool
        inspected) or ``"k"`` (proposals).
    rows : tuple of dict
        Tidy rows ``{"method", "seed", "metric", "x", "value"}``, one per method, seed, metric
        and x. Metrics with a single setting per seed (e.g. ``fixed_accuracy``) have ``x`` None.
    metrics : tuple of str
        The metric names in the order of :meth:`table`.
    info : dict
        Settings and references (sizes, seeds, full-pool accuracy, seconds per method, ...);
        JSON-serialisable.
    """

    task: str
    dataset: str
    x_name: str
    rows: tuple[dict[str, Any], ...]
    metrics: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        """Method names in the order they were run."""
        return list(dict.fromkeys(row["method"] for row in self.rows))

    @property
    def seeds(self) -> list[int]:
        return sorted({int(row["seed"]) for row in self.rows})

    def xs(self, metric: str) -> list[Any]:
        """The x values of ``metric``, sorted (``[None]`` for single-setting metrics)."""
        self._check_metric(metric)
        values = {row["x"] for row in self.rows if row["metric"] == metric}
        return sorted(values, key=lambda v: (v is None, v if v is not None else 0))

    def values(self, method: str, metric: str, x: Any = None) -> np.ndarray:
        """``(S,)`` float array: the value of ``metric`` at ``x`` for ``method``, per seed."""
        self._check_metric(metric)
        check_choice(method, "method", self.methods)
        return np.array(
            [
                row["value"]
                for row in sorted(self.rows, key=lambda r: r["seed"])
                if row["method"] == method and row["metric"] == metric and row["x"] == x
            ],
            dtype=np.float64,
        )

    def mean(self, method: str, metric: str, x: Any = None) -> float:
        """Mean over seeds of :meth:`values` (NaN when the method has no such row)."""
        v = self.values(method, metric, x)
        return float(v.mean()) if v.size else math.nan

    def _check_metric(self, metric: str) -> None:
        check_choice(metric, "metric", self.metrics)

    def _label(self, x: Any) -> str:
        if x is None:
            if "n_flips" in self.info:
                return f"after fixing the top {self.info['n_flips']} ranked"
            return "value"
        if self.x_name == "fraction":
            return f"{x:.0%} inspected"
        return f"{self.x_name} {x}"

    def table(self, metric: str | None = None) -> str:
        """Markdown tables, one per metric: method x budget / fraction / k, mean ± std over seeds.

        Parameters
        ----------
        metric : str, optional
            Only this metric; default all of :attr:`metrics`.
        """
        metrics = list(self.metrics) if metric is None else [metric]
        blocks = []
        for name in metrics:
            xs = self.xs(name)
            methods = [m for m in self.methods if any(self.values(m, name, x).size for x in xs)]
            n_seeds = len(self.seeds)
            lines = [
                f"**{self.task} / {self.dataset}: {name}** "
                f"(mean ± std over {n_seeds} seed{'s' * (n_seeds != 1)})",
                "",
                "| method | " + " | ".join(self._label(x) for x in xs) + " |",
                "|---|" + "---:|" * len(xs),
            ]
            for method in methods:
                cells = []
                for x in xs:
                    v = self.values(method, name, x)
                    cells.append(f"{v.mean():.3f} ± {v.std():.3f}" if v.size else "")
                lines.append(f"| {method} | " + " | ".join(cells) + " |")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: task, dataset, x_name, metrics, info, rows, summary."""
        summary: dict[str, Any] = {}
        for metric in self.metrics:
            for method in self.methods:
                for x in self.xs(metric):
                    v = self.values(method, metric, x)
                    if v.size:
                        entry = {"mean": float(v.mean()), "std": float(v.std()), "n": int(v.size)}
                        summary.setdefault(metric, {}).setdefault(method, {})[str(x)] = entry
        return {
            "task": self.task,
            "dataset": self.dataset,
            "x_name": self.x_name,
            "metrics": list(self.metrics),
            "info": self.info,
            "summary": summary,
            "rows": [dict(row) for row in self.rows],
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON to ``path`` (parent folders created); return the path."""
        path = check_output_file(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, default=_json_default) + "\n")
        return path

    def plot(self, path: str | Path) -> Path:
        """Save a figure of every metric (mean ± std over seeds) to ``path``; return the path.

        Metrics with several x values are drawn as lines (x: budget, fraction inspected or k);
        single-setting metrics as bars. Needs matplotlib (Agg backend; no display).
        """
        from dataperf._optional import require

        require("matplotlib", "TaskResult.plot")
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        height = max(4.0, 0.3 * len(self.methods) + 1.5)
        fig = Figure(figsize=(5.6 * len(self.metrics), height), layout="constrained")
        axes = fig.subplots(1, len(self.metrics), squeeze=False)[0]
        for ax, metric in zip(axes, self.metrics, strict=True):
            xs = self.xs(metric)
            methods = [m for m in self.methods if any(self.values(m, metric, x).size for x in xs)]
            if xs == [None]:
                means = [self.values(m, metric).mean() for m in methods]
                stds = [self.values(m, metric).std() for m in methods]
                colors = ["0.6" if m.startswith("(") else "tab:blue" for m in methods]
                ax.barh(range(len(methods)), means, xerr=stds, color=colors, alpha=0.85)
                ax.set_yticks(range(len(methods)), methods)
                ax.invert_yaxis()
                ax.set_xlabel(metric)
                lo = min(means) - max(stds + [0.0]) - 0.02
                ax.set_xlim(max(0.0, lo), min(1.0, max(means) + max(stds + [0.0]) + 0.02))
            else:
                for method in methods:
                    pts = [(x, self.values(method, metric, x)) for x in xs]
                    pts = [(x, v) for x, v in pts if v.size]
                    ax.errorbar(
                        [x for x, _ in pts],
                        [v.mean() for _, v in pts],
                        yerr=[v.std() for _, v in pts],
                        marker="o",
                        capsize=3,
                        label=method,
                    )
                if self.x_name == "budget":
                    ax.set_xscale("log")
                ax.set_xlabel(self.x_name)
                ax.set_ylabel(metric)
                ax.grid(alpha=0.3)
                ax.legend(fontsize=8)
            ax.set_title(f"{self.task} / {self.dataset}: {metric}")
        path = check_output_file(path)
        fmt = path.suffix.lstrip(".").lower() or "png"
        with atomic_file(path, "wb") as f:
            fig.savefig(f, dpi=110, format=fmt)
        return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise InputTypeError(f"cannot write {describe(value)} as JSON")


# --------------------------------------------------------------------------------- data


@dataclass(frozen=True, eq=False)
class TaskData:
    """The fixed splits and features of one dataset (from :func:`load_task_data`).

    Attributes
    ----------
    dataset : str
    x_pool, x_valid, x_test : (N, D) float32 arrays
        Features (standardised pixels for digits, standardised PCA-64 for Fashion-MNIST).
    y_pool, y_valid, y_test : (N,) int64 arrays
    num_classes : int
    info : dict
        Sizes and how the features were made.
    """

    dataset: str
    x_pool: np.ndarray
    y_pool: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    info: dict[str, Any]

    @cached_property
    def pool(self) -> Signals:
        """Pool Signals: 5-fold out-of-sample probs of the fixed model (fold seed 0),
        ``embeddings`` = features, ``labels`` = the pool's labels."""
        from dataperf.curate import cross_val_probs

        probs = cross_val_probs(fixed_model(), self.x_pool, self.y_pool, folds=5, seed=0).probs
        return Signals(
            probs=probs,
            embeddings=self.x_pool,
            labels=self.y_pool,
            meta={"out_of_sample": True, "dataset": self.dataset, "split": "pool"},
        )

    @cached_property
    def valid(self) -> Signals:
        """Validation Signals: probs of the fixed model trained on the whole pool."""
        model = fixed_model().fit(self.x_pool, self.y_pool)
        return Signals(
            probs=_full_probs(model, self.x_valid, self.num_classes),
            embeddings=self.x_valid,
            labels=self.y_valid,
            meta={"out_of_sample": True, "dataset": self.dataset, "split": "valid"},
        )


def _check_dataset(dataset: Any) -> str:
    return check_choice(
        dataset,
        "dataset",
        DATASETS,
        fix="Fix: pass dataset='digits' (always available) or 'fashion-mnist' (Debian package "
        "dataset-fashion-mnist).",
    )


_CACHE: dict[str, TaskData] = {}


def load_task_data(dataset: str = "digits") -> TaskData:
    """The fixed pool / validation / test splits and features of ``dataset`` (cached).

    Parameters
    ----------
    dataset : {"digits", "fashion-mnist"}
        See the module docstring for the splits and features.

    Returns
    -------
    TaskData

    Raises
    ------
    MissingResourceError
        For ``"fashion-mnist"`` when its files are not installed.
    """
    dataset = _check_dataset(dataset)
    if dataset not in _CACHE:
        _CACHE[dataset] = _make_task_data(dataset)
    return _CACHE[dataset]


def _make_task_data(dataset: str) -> TaskData:
    from dataperf.datasets import load_digits, load_fashion_mnist

    n_pool, n_valid, n_test = _SIZES[dataset]
    rng = np.random.default_rng(_SPLIT_SEED)
    if dataset == "digits":
        x, y = load_digits()
        order = rng.permutation(len(x))
        tr, va, te = np.split(order, [n_pool, n_pool + n_valid])
        flat = x.reshape(len(x), -1).astype(np.float64)
        mean, std = flat[tr].mean(0), flat[tr].std(0)
        feats = (flat - mean) / np.where(std > 0, std, 1.0)
        x_pool, x_valid, x_test = feats[tr], feats[va], feats[te]
        y_pool, y_valid, y_test = y[tr], y[va], y[te]
        how = "64 pixels standardised with the pool's mean and std"
    else:
        x, y = load_fashion_mnist("train")
        xt, yt = load_fashion_mnist("test")
        order = rng.permutation(len(x))
        tr, va = order[:n_pool], order[n_pool : n_pool + n_valid]
        te = rng.choice(len(xt), size=min(n_test, len(xt)), replace=False)
        flat = x.reshape(len(x), -1).astype(np.float64) / 255.0
        flat_t = xt.reshape(len(xt), -1).astype(np.float64) / 255.0
        mean = flat[tr].mean(0)
        # PCA-64 fitted on the pool (SVD of the centred pool pixels).
        _, _, vt = np.linalg.svd(flat[tr] - mean, full_matrices=False)
        comps = vt[:64].T

        def project(a: np.ndarray) -> np.ndarray:
            return (a - mean) @ comps

        p_pool = project(flat[tr])
        mu, sd = p_pool.mean(0), p_pool.std(0)
        x_pool = (p_pool - mu) / sd
        x_valid = (project(flat[va]) - mu) / sd
        x_test = (project(flat_t[te]) - mu) / sd
        y_pool, y_valid, y_test = y[tr], y[va], yt[te]
        how = "PCA-64 of pixels/255 fitted on the pool, standardised with the pool's statistics"
    return TaskData(
        dataset=dataset,
        x_pool=np.ascontiguousarray(x_pool, dtype=np.float32),
        y_pool=y_pool.astype(np.int64),
        x_valid=np.ascontiguousarray(x_valid, dtype=np.float32),
        y_valid=y_valid.astype(np.int64),
        x_test=np.ascontiguousarray(x_test, dtype=np.float32),
        y_test=y_test.astype(np.int64),
        num_classes=10,
        info={
            "n_pool": len(tr),
            "n_valid": len(va),
            "n_test": len(te),
            "features": how,
            "split_seed": _SPLIT_SEED,
            "model": f"sklearn LogisticRegression({_MODEL_PARAMS})",
        },
    )


def _full_probs(model: Any, x: np.ndarray, num_classes: int) -> np.ndarray:
    out = np.zeros((len(x), num_classes))
    out[:, model.classes_] = model.predict_proba(x)
    return out


def _fit_score(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, num_classes: int
) -> tuple[float, float]:
    """Train the fixed model on (x, y); return (test accuracy, test macro-F1)."""
    from sklearn.metrics import f1_score

    classes = np.unique(y)
    if len(classes) == 1:  # LogisticRegression needs two classes; predict the only one
        pred = np.full(len(y_test), classes[0])
    else:
        pred = fixed_model().fit(x, y).predict(x_test)
    acc = float((pred == y_test).mean())
    f1 = float(
        f1_score(y_test, pred, labels=np.arange(num_classes), average="macro", zero_division=0)
    )
    return acc, f1


# --------------------------------------------------------------------------------- methods


def _resolve_methods(
    methods: Any, builtins: Mapping[str, Any], what: str, signature: str
) -> dict[str, tuple[str, Any]]:
    """name -> ("builtin", key) or ("user", callable)."""
    if methods is None:
        return {name: ("builtin", name) for name in builtins}
    if isinstance(methods, str) or callable(methods):
        methods = [methods]
    if isinstance(methods, Mapping):
        items = [(str(name), m) for name, m in methods.items()]
    elif isinstance(methods, Sequence):
        items = []
        for m in methods:
            if isinstance(m, str):
                items.append((m, m))
            elif callable(m):
                items.append((getattr(m, "__name__", type(m).__name__), m))
            else:
                items.append((repr(m), m))
    else:
        raise InputTypeError(
            f"methods must be a list of names / callables or a dict name -> name or callable; "
            f"got {describe(methods)}."
        )
    if not items:
        raise InputValueError(
            f"methods must name at least one method; valid names: {list(builtins)}."
        )
    out: dict[str, tuple[str, Any]] = {}
    for name, m in items:
        if name in out:
            raise InputValueError(f"method names must be unique; got {name!r} twice.")
        if isinstance(m, str):
            if m not in builtins:
                raise InputValueError(
                    f"unknown {what} method {m!r}; valid names: {list(builtins)}, or a callable "
                    f"{signature}."
                )
            out[name] = ("builtin", m)
        elif callable(m):
            out[name] = ("user", m)
        else:
            raise InputTypeError(
                f"each {what} method must be a name in {list(builtins)} or a callable "
                f"{signature}; got {describe(m)} for {name!r}."
            )
    return out


def _check_seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, (numbers.Integral, bool)):
        seeds = [seeds]
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise InputTypeError(f"seeds must be a sequence of ints; got {describe(seeds)}.")
    out = [check_int(s, "each of seeds", low=0) for s in seeds]
    if not out or len(set(out)) != len(out):
        raise InputValueError(f"seeds must be distinct ints >= 0, at least one; got {seeds!r}.")
    return out


# --------------------------------------------------------------------------------- selection


def _select_builtin(method: str) -> Callable[[TaskData, int, int], np.ndarray]:
    def run(data: TaskData, budget: int, seed: int) -> np.ndarray:
        from dataperf.curate import select_subset

        return select_subset(data.pool, budget, method=method, seed=seed)

    run.__name__ = method
    run.__doc__ = f"``dataperf.curate.select_subset(pool, budget, method={method!r})``."
    return run


def _knn_shapley(data: TaskData, budget: int, seed: int) -> np.ndarray:
    """The ``budget`` pool items of highest KNN-Shapley value against the validation split."""
    values = _data_values(data)
    return np.argsort(-values, kind="stable")[:budget].astype(np.int64)


def _knn_shapley_per_class(data: TaskData, budget: int, seed: int) -> np.ndarray:
    """The highest-valued pool items of each class, in proportion to the class sizes."""
    from dataperf.curate.subsets import class_quotas

    values = _data_values(data)
    labels = np.asarray(data.y_pool)
    quotas = class_quotas(np.bincount(labels), budget)
    picked = [
        members[np.argsort(-values[members], kind="stable")[:quota]]
        for c, quota in enumerate(quotas)
        for members in [np.flatnonzero(labels == c)]
    ]
    return np.concatenate(picked).astype(np.int64)


_VALUES: dict[str, np.ndarray] = {}


def _data_values(data: TaskData) -> np.ndarray:
    if data.dataset not in _VALUES:
        from dataperf.curate import data_values

        values = np.asarray(data_values(data.pool, data.valid, method="knn_shapley"), float)
        if values.shape != (len(data.y_pool),):
            raise InputValueError(
                f"data_values must return one value per pool item ({len(data.y_pool)},); got "
                f"shape {values.shape}."
            )
        _VALUES[data.dataset] = values
    return _VALUES[data.dataset]


SELECTION_METHODS: dict[str, Callable[[TaskData, int, int], np.ndarray]] = {
    "random": _select_builtin("random"),
    "kcenter": _select_builtin("kcenter"),
    "facility_location": _select_builtin("facility_location"),
    "el2n": _select_builtin("el2n"),
    "knn_shapley": _knn_shapley,
    "knn_shapley_per_class": _knn_shapley_per_class,
}
"""Built-in selection methods: name -> ``f(data: TaskData, budget, seed) -> (budget,) indices``.
All but ``knn_shapley`` call ``dataperf.curate.select_subset`` on the pool Signals (out-of-sample
probs of the fixed model, features as embeddings, labels); ``knn_shapley`` takes the top-budget
``dataperf.curate.data_values(pool, valid, method="knn_shapley")``, and
``knn_shapley_per_class`` the top-valued items of each class in proportion to the class sizes."""


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
        Built-in names (:data:`SELECTION_METHODS`: ``"random"``, ``"kcenter"``,
        ``"facility_location"``, ``"el2n"``, ``"knn_shapley"``) or callables
        ``f(pool: Signals, budget: int, seed: int) -> (budget,) int indices`` into the pool.
        ``pool`` has ``probs`` (5-fold out-of-sample probs of the fixed model), ``embeddings``
        (the fixed features, (N, 64)) and ``labels``. None runs every built-in.
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
    dataset = _check_dataset(dataset)
    seeds_ = _check_seeds(seeds)
    resolved = _resolve_methods(
        methods, SELECTION_METHODS, "selection", "f(pool: Signals, budget: int, seed: int)"
    )
    data = load_task_data(dataset)
    n = len(data.y_pool)
    budgets_ = _DEFAULT_BUDGETS[dataset] if budgets is None else budgets
    if isinstance(budgets_, (str, bytes)) or not isinstance(budgets_, Iterable):
        raise InputTypeError(f"budgets must be a sequence of ints; got {describe(budgets)}.")
    high_name = f"the pool size of {dataset!r}"
    budget_list = [
        check_int(b, "each of budgets", low=1, high=n, high_name=high_name) for b in budgets_
    ]
    if not budget_list:
        raise InputValueError(f"budgets must hold at least one budget; got {budgets!r}.")
    budget_list = sorted(set(budget_list))
    full_acc, full_f1 = _fit_score(data.x_pool, data.y_pool, data.x_test, data.y_test, 10)
    rows: list[dict[str, Any]] = []
    seconds: dict[str, float] = {}
    for name, (kind, m) in resolved.items():
        start = time.perf_counter()
        for seed in seeds_:
            for budget in budget_list:
                if kind == "builtin":
                    idx = SELECTION_METHODS[m](data, budget, seed)
                else:
                    idx = m(data.pool, budget, seed)
                idx = check_indices(idx, budget, n, name)
                acc, f1 = _fit_score(
                    data.x_pool[idx], data.y_pool[idx], data.x_test, data.y_test, 10
                )
                for metric, value in (("accuracy", acc), ("macro_f1", f1)):
                    rows.append(
                        {
                            "method": name,
                            "seed": seed,
                            "metric": metric,
                            "x": budget,
                            "value": value,
                        }
                    )
        seconds[name] = round(time.perf_counter() - start, 3)
    return TaskResult(
        task="selection",
        dataset=dataset,
        x_name="budget",
        rows=tuple(rows),
        metrics=("accuracy", "macro_f1"),
        info={
            **data.info,
            "budgets": budget_list,
            "seeds": seeds_,
            "full_pool_accuracy": full_acc,
            "full_pool_macro_f1": full_f1,
            "seconds": seconds,
        },
    )


# --------------------------------------------------------------------------------- debugging


def _rank(scores: Any, n: int, name: str) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != (n,):
        raise InputValueError(f"{name} must return one score per item ({n},); got shape {s.shape}.")
    return np.argsort(-s, kind="stable").astype(np.int64)


def _debug_random(signals: Signals, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, 7]).permutation(len(signals)).astype(np.int64)


def _debug_loss(signals: Signals, seed: int) -> np.ndarray:
    from dataperf.scores import loss

    return _rank(loss(signals.probs, signals.labels), len(signals), "loss")


def _debug_issues(method: str) -> Callable[[Signals, int], np.ndarray]:
    def run(signals: Signals, seed: int) -> np.ndarray:
        from dataperf.curate import find_label_issues

        scores = find_label_issues(signals, method=method).scores
        return _rank(scores, len(signals), f"find_label_issues(method={method!r})")

    run.__name__ = method
    run.__doc__ = f"Rank by ``dataperf.curate.find_label_issues(signals, method={method!r})``."
    return run


DEBUGGING_METHODS: dict[str, Callable[[Signals, int], np.ndarray]] = {
    "random": _debug_random,
    "loss": _debug_loss,
    "self_confidence": _debug_issues("self_confidence"),
    "margin": _debug_issues("margin"),
    "confident_learning": _debug_issues("confident_learning"),
    "knn": _debug_issues("knn"),
    "ensemble": _debug_issues("ensemble"),
}
"""Built-in debugging methods: name -> ``f(signals, seed) -> (N,) ranking``, most suspect first.
``random`` is a seeded permutation, ``loss`` ranks by cross-entropy of the given label
(:func:`dataperf.scores.loss`), the others by ``dataperf.curate.find_label_issues(...).scores``."""


def _check_ranking(order: Any, n: int, name: str) -> np.ndarray:
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
        Built-in names (:data:`DEBUGGING_METHODS`: ``"random"``, ``"loss"``,
        ``"self_confidence"``, ``"margin"``, ``"confident_learning"``, ``"knn"``,
        ``"ensemble"``) or callables ``f(signals: Signals) -> (N,) int ranking`` (a
        permutation of the pool, most suspect first). None runs every built-in.
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
    dataset = _check_dataset(dataset)
    seeds_ = _check_seeds(seeds)
    flip_rate = check_float(flip_rate, "flip_rate", low=0.0, high=0.5, low_open=True)
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, Iterable):
        raise InputTypeError(f"fractions must be a sequence of floats; got {describe(fractions)}.")
    fracs = sorted(
        {check_float(f, "each of fractions", low=0.0, low_open=True, high=1.0) for f in fractions}
    )
    if not fracs:
        raise InputValueError(f"fractions must hold at least one number; got {fractions!r}.")
    resolved = _resolve_methods(
        methods, DEBUGGING_METHODS, "debugging", "f(signals: Signals) -> (N,) ranking"
    )
    data = load_task_data(dataset)
    from dataperf.curate import cross_val_probs

    n, k = len(data.y_pool), data.num_classes
    rows: list[dict[str, Any]] = []
    seconds = dict.fromkeys(resolved, 0.0)
    n_flips = 0
    for seed in seeds_:
        noisy = flip_labels(data.y_pool, flip_rate, k, seed=seed)
        flipped = noisy != data.y_pool
        n_flips = int(flipped.sum())
        probs = cross_val_probs(fixed_model(), data.x_pool, noisy, folds=5, seed=seed).probs
        signals = Signals(
            probs=probs,
            embeddings=data.x_pool,
            labels=noisy,
            meta={"out_of_sample": True, "dataset": dataset, "flip_rate": flip_rate},
        )

        def accuracy(labels: np.ndarray) -> float:
            return _fit_score(data.x_pool, labels, data.x_test, data.y_test, k)[0]

        for ref, labels in (("(no fixing)", noisy), ("(all flips fixed)", data.y_pool)):
            rows.append(
                {
                    "method": ref,
                    "seed": seed,
                    "metric": "fixed_accuracy",
                    "x": None,
                    "value": accuracy(labels),
                }
            )
        for name, (kind, m) in resolved.items():
            start = time.perf_counter()
            if kind == "builtin":
                order = DEBUGGING_METHODS[m](signals, seed)
            else:
                order = m(signals)
            order = _check_ranking(order, n, name)
            seconds[name] += time.perf_counter() - start
            for f in fracs:
                top = order[: math.ceil(f * n)]
                found = float(flipped[top].sum() / max(n_flips, 1))
                rows.append(
                    {"method": name, "seed": seed, "metric": "found", "x": f, "value": found}
                )
            fixed = noisy.copy()
            top = order[:n_flips]
            fixed[top] = data.y_pool[top]
            rows.append(
                {
                    "method": name,
                    "seed": seed,
                    "metric": "fixed_accuracy",
                    "x": None,
                    "value": accuracy(fixed),
                }
            )
    # method rows first, then the two references
    rows.sort(key=lambda r: r["method"].startswith("("))
    return TaskResult(
        task="debugging",
        dataset=dataset,
        x_name="fraction",
        rows=tuple(rows),
        metrics=("found", "fixed_accuracy"),
        info={
            **data.info,
            "flip_rate": flip_rate,
            "n_flips": n_flips,
            "fractions": fracs,
            "seeds": seeds_,
            "seconds": {name: round(s, 3) for name, s in seconds.items()},
        },
    )


# --------------------------------------------------------------------------------- proposal


def _hardness_sampler(
    pool: Signals, test: Signals, train: Signals | None, k: int, seed: int
) -> np.ndarray:
    """``dataperf.HardnessSampler(k, seed=seed).propose(pool, test=test, train=train)``."""
    from dataperf.propose.sampler import HardnessSampler

    return HardnessSampler(k, seed=seed).propose(pool, test=test, train=train).indices


def _proposal_methods() -> dict[str, Callable[..., np.ndarray]]:
    from dataperf.propose.baselines import BASELINES

    return {"dataperf": _hardness_sampler, **BASELINES}


PROPOSAL_METHODS: tuple[str, ...] = PROPOSAL_METHOD_NAMES
"""Built-in proposal method names: ``"dataperf"`` (HardnessSampler) and the
:data:`dataperf.bench.BASELINES` names."""


def proposal_task(
    methods: Any = None,
    *,
    dataset: str = "digits",
    k: int = 30,
    seeds: Sequence[int] = (0, 1, 2),
    **scenario_kwargs: Any,
) -> TaskResult:
    """Test-data proposal on planted pools: precision@k (fraction of proposals that are useful).

    One :func:`dataperf.bench.planted_scenario` per seed (``seed=seed``: its own splits, model
    and planted pool), scored with :func:`dataperf.bench.evaluate` for that seed.

    Parameters
    ----------
    methods : list of (str or callable) or dict name -> (str or callable), optional
        Built-in names (:data:`PROPOSAL_METHODS`: ``"dataperf"`` =
        ``HardnessSampler(k, seed=seed).propose(pool, test=test, train=train)``, and the
        :data:`dataperf.bench.BASELINES` names) or callables
        ``f(pool, test, train, k, seed) -> (k,) int indices`` (pool, test, train: Signals).
        None runs every built-in.
    dataset : {"digits", "fashion-mnist"}
    k : int
        Proposals per method.
    seeds : sequence of int
    **scenario_kwargs
        Passed to :func:`dataperf.bench.planted_scenario` (e.g. ``epochs``, ``n_train``,
        ``device``).

    Returns
    -------
    TaskResult
        Metric ``precision`` at x = k; ``info["useful_fraction"]`` per seed (the expected
        precision of random picks) and the test accuracy of each scenario's model.
    """
    from dataperf.bench.proposal import evaluate, planted_scenario

    dataset = _check_dataset(dataset)
    seeds_ = _check_seeds(seeds)
    k = check_int(k, "k", low=1)
    if "seed" in scenario_kwargs or "dataset" in scenario_kwargs:
        raise InputTypeError(
            "scenario_kwargs must not hold 'seed' or 'dataset'; use seeds= / dataset=."
        )
    builtins = _proposal_methods()
    resolved = _resolve_methods(
        methods, builtins, "proposal", "f(pool, test, train, k, seed) -> (k,) indices"
    )
    callables = {
        name: builtins[m] if kind == "builtin" else m for name, (kind, m) in resolved.items()
    }
    rows: list[dict[str, Any]] = []
    scen_info: list[dict[str, Any]] = []
    seconds = dict.fromkeys(callables, 0.0)
    for seed in seeds_:
        sc = planted_scenario(dataset, seed=seed, **scenario_kwargs)
        if k > len(sc.pool_signals):
            raise InputValueError(f"k must be <= the pool size {len(sc.pool_signals)}; got {k}.")
        scen_info.append(
            {
                "seed": seed,
                "test_accuracy": sc.test_accuracy,
                "useful_fraction": sc.useful_fraction,
                "pool_size": len(sc.pool_signals),
                "seconds": sc.info["seconds"],
            }
        )
        for name, method in callables.items():
            start = time.perf_counter()
            try:
                value = evaluate(
                    {name: method},
                    sc.pool_signals,
                    sc.test_signals,
                    sc.train_signals,
                    sc.useful,
                    k,
                    seeds=(seed,),
                )[name][0]
            except ValueError as err:
                if name == "bald" and sc.pool_signals.mc_probs is None:
                    continue  # scenario built with mc_samples=0: BALD does not apply
                raise err
            seconds[name] += time.perf_counter() - start
            rows.append(
                {"method": name, "seed": seed, "metric": "precision", "x": k, "value": value}
            )
    return TaskResult(
        task="proposal",
        dataset=dataset,
        x_name="k",
        rows=tuple(rows),
        metrics=("precision",),
        info={
            "k": k,
            "seeds": seeds_,
            "scenario_kwargs": {key: str(v) for key, v in scenario_kwargs.items()},
            "scenarios": scen_info,
            "seconds": {name: round(s, 3) for name, s in seconds.items()},
        },
    )


TASKS: dict[str, Callable[..., TaskResult]] = {
    "selection": selection_task,
    "debugging": debugging_task,
    "proposal": proposal_task,
}
"""Task name -> function; every function takes ``methods`` first and ``dataset=``, ``seeds=``."""


def get_task(name: str) -> Callable[..., TaskResult]:
    """The task function called ``name``; ValueError listing the valid names otherwise."""
    return TASKS[check_choice(name, "task name", TASKS)]


def builtin_methods(task: str) -> list[str]:
    """The built-in method names of ``task``."""
    get_task(task)
    if task == "selection":
        return list(SELECTION_METHODS)
    if task == "debugging":
        return list(DEBUGGING_METHODS)
    return list(PROPOSAL_METHODS)
