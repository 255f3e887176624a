"""What a bench task returns: :class:`TaskResult`, tidy rows with a table, a plot and JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError
from dataperf._files import atomic_file, atomic_write_text, check_output_file
from dataperf._validate import check_choice, describe

__all__ = ["TaskResult"]


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
        Tidy rows ``{"method", "seed", "metric", "x", "value", "reference"}``, one per method,
        seed, metric and x. Metrics with a single setting per seed (e.g. ``fixed_accuracy``)
        have ``x`` None. ``reference`` is True for the rows that are not a method but a bound
        to read the methods against (e.g. ``(no fixing)`` and ``(all flips fixed)``).
    metrics : tuple of str
        The metric names in the order of :meth:`table`.
    info : dict
        Settings and references (sizes, seeds, full-pool accuracy, seconds per method, ...);
        JSON-serialisable.
    single_label : str
        The column heading of single-setting metrics (x None) in :meth:`table`.
    single_labels : dict of str -> str
        Per-metric headings of single-setting metrics that differ from ``single_label`` (e.g.
        the debugging task's ``precision`` of a flagged set).
    """

    task: str
    dataset: str
    x_name: str
    rows: tuple[dict[str, Any], ...]
    metrics: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)
    single_label: str = "value"
    single_labels: dict[str, str] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        """Method names in the order they were run, then the reference rows' names."""
        return list(dict.fromkeys(row["method"] for row in self.rows))

    @property
    def references(self) -> list[str]:
        """The names of the reference rows (see :attr:`rows`)."""
        return list(dict.fromkeys(row["method"] for row in self.rows if row.get("reference")))

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

    def _label(self, x: Any, metric: str) -> str:
        if x is None:
            return self.single_labels.get(metric, self.single_label)
        if self.x_name == "fraction":
            return f"{x:.0%} inspected"
        return f"{self.x_name} {x}"

    def table(self, metric: str | None = None) -> str:
        """Markdown tables, one per metric: method x budget / fraction / k, mean ± std over seeds.

        Every method has a row in every table, blank where it has no value (e.g. the debugging
        task's ``precision`` for a method that returns no flagged set); a reference row only
        where it has values.

        Parameters
        ----------
        metric : str, optional
            Only this metric; default all of :attr:`metrics`.
        """
        metrics = list(self.metrics) if metric is None else [metric]
        blocks = []
        for name in metrics:
            xs = self.xs(name)
            references = set(self.references)
            methods = [
                m
                for m in self.methods
                if m not in references or any(self.values(m, name, x).size for x in xs)
            ]
            n_seeds = len(self.seeds)
            lines = [
                f"**{self.task} / {self.dataset}: {name}** "
                f"(mean ± std over {n_seeds} seed{'s' * (n_seeds != 1)})",
                "",
                "| method | " + " | ".join(self._label(x, name) for x in xs) + " |",
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
        """A JSON-serialisable dict: task, dataset, x_name, metrics, single_label, single_labels,
        info, rows, summary."""
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
            "single_label": self.single_label,
            "single_labels": dict(self.single_labels),
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
        single-setting metrics as bars; at most three panels a row. Needs matplotlib (Agg
        backend; no display).
        """
        from dataperf._optional import require

        require("matplotlib", "TaskResult.plot")
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        height = max(4.0, 0.3 * len(self.methods) + 1.5)
        ncols = max(1, min(3, len(self.metrics)))
        nrows = max(1, math.ceil(len(self.metrics) / ncols))
        fig = Figure(figsize=(5.6 * ncols, height * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax in axes[len(self.metrics) :]:
            ax.set_axis_off()
        for ax, metric in zip(axes, self.metrics):
            xs = self.xs(metric)
            methods = [m for m in self.methods if any(self.values(m, metric, x).size for x in xs)]
            if xs == [None]:
                means = [self.values(m, metric).mean() for m in methods]
                stds = [self.values(m, metric).std() for m in methods]
                references = set(self.references)
                colors = ["0.6" if m in references else "tab:blue" for m in methods]
                ax.barh(range(len(methods)), means, xerr=stds, color=colors, alpha=0.85)
                ax.set_yticks(range(len(methods)), methods)
                ax.invert_yaxis()
                ax.set_xlabel(metric)
                spread = max(stds + [0.0])
                if max(means) <= 1.0:  # a score in [0, 1]: zoom in on the differences
                    lo = min(means) - spread - 0.02
                    ax.set_xlim(max(0.0, lo), min(1.0, max(means) + spread + 0.02))
                else:  # a count (e.g. items flagged): from zero
                    ax.set_xlim(0.0, (max(means) + spread) * 1.05)
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
