"""The proposal task: precision@k of test-example proposers on planted pools.

One :func:`dataperf.bench.planted_scenario` per seed (its own splits, model and planted pool);
a method proposes ``k`` pool items, and its precision is the fraction of them that are useful
(clean images the model gets wrong). Methods have the signature
``f(pool, test, train, k, seed) -> indices``, the same as :data:`dataperf.bench.BASELINES`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._validate import check_indices, check_int
from dataperf.bench.registry import REGISTRY
from dataperf.bench.tasks.data import check_dataset
from dataperf.bench.tasks.result import TaskResult
from dataperf.bench.tasks.runner import Trial, check_seeds, resolve_methods, run_task
from dataperf.signals import Signals

__all__ = ["PROPOSAL_METHODS", "ProposalTask", "hardness_sampler", "proposal_task"]


def hardness_sampler(
    pool: Signals, test: Signals, train: Signals | None, k: int, seed: int
) -> np.ndarray:
    """``dataperf.HardnessSampler(k, seed=seed).propose(pool, test=test, train=train)``."""
    from dataperf.propose.sampler import HardnessSampler

    return HardnessSampler(k, seed=seed).propose(pool, test=test, train=train).indices


PROPOSAL_METHODS: tuple[str, ...] = REGISTRY["proposal"].names
"""Built-in proposal method names: ``"dataperf"`` (HardnessSampler) and the
:data:`dataperf.bench.BASELINES` names."""


@dataclass
class ProposalTask:
    """One trial per seed: a planted scenario; ``f(pool, test, train, k, seed)`` proposes k
    items, scored by the fraction that are useful."""

    dataset: str
    seeds: list[int]
    k: int
    scenario_kwargs: dict[str, Any]
    name: str = "proposal"
    x_name: str = "k"
    metrics: tuple[str, ...] = ("precision",)
    single_label: str = "value"
    scenarios: list[dict[str, Any]] = field(default_factory=list)

    def trials(self) -> Iterator[Trial]:
        from dataperf.bench.proposal import planted_scenario

        for seed in self.seeds:
            sc = planted_scenario(self.dataset, seed=seed, **self.scenario_kwargs)
            pool = sc.pool_signals
            if self.k > len(pool):
                raise InputValueError(f"k must be <= the pool size {len(pool)}; got {self.k}.")
            self.scenarios.append(
                {
                    "seed": seed,
                    "test_accuracy": sc.test_accuracy,
                    "useful_fraction": sc.useful_fraction,
                    "pool_size": len(pool),
                    "seconds": sc.info["seconds"],
                }
            )
            yield Trial(
                seed, (pool, sc.test_signals, sc.train_signals, self.k, seed), {}, sc.useful
            )

    def score(self, trial: Trial, method: str, output: Any) -> list[tuple[str, Any, float]]:
        from dataperf.bench.planted import precision_at_k

        useful = trial.truth
        idx = check_indices(output, self.k, len(useful), method)
        return [("precision", self.k, precision_at_k(idx, useful))]

    def info(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "scenario_kwargs": {key: str(v) for key, v in self.scenario_kwargs.items()},
            "scenarios": self.scenarios,
        }


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
    and planted pool), scored by :func:`dataperf.bench.precision_at_k` against its useful mask.

    Parameters
    ----------
    methods : list of (str or callable) or dict name -> (str or callable), optional
        Built-in names (:data:`PROPOSAL_METHODS`: ``"dataperf"`` =
        ``HardnessSampler(k, seed=seed).propose(pool, test=test, train=train)``, and the
        :data:`dataperf.bench.BASELINES` names) or callables
        ``f(pool, test, train, k, seed) -> (k,) int indices`` (pool, test, train: Signals).
        None runs every built-in. A built-in whose inputs the scenario lacks (``bald`` without
        MC-dropout probs, ``mc_samples=0``) is skipped and named in ``info["skipped"]``.
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
        Metric ``precision`` at x = k; ``info["scenarios"]`` holds per seed the useful fraction
        (the expected precision of random picks) and the test accuracy of the scenario's model.
    """
    dataset = check_dataset(dataset)
    seeds_ = check_seeds(seeds)
    k = check_int(k, "k", low=1)
    if "seed" in scenario_kwargs or "dataset" in scenario_kwargs:
        raise InputTypeError(
            "scenario_kwargs must not hold 'seed' or 'dataset'; use seeds= / dataset=."
        )
    resolved = resolve_methods(methods, "proposal")
    return run_task(ProposalTask(dataset, seeds_, k, scenario_kwargs), resolved)
