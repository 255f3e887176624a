"""Benchmarks with a known answer: planted candidate pools, baselines and their scores.

``dataperf.bench`` is not imported by ``import dataperf`` (it trains models and reads
datasets); import it explicitly::

    from dataperf.bench import BASELINES, evaluate, format_table, planted_scenario

    sc = planted_scenario("digits")
    print(format_table(evaluate(BASELINES, sc.pool_signals, sc.test_signals,
                                sc.train_signals, sc.useful, k=50), k=50))
"""

from __future__ import annotations

from dataperf.bench.models import ImageArray, SmallCNN, SmallMLP, train_classifier
from dataperf.bench.planted import (
    KINDS,
    PlantedPool,
    make_planted_pool,
    precision_at_k,
    upscale,
    useful_mask,
)
from dataperf.bench.proposal import Scenario, evaluate, format_table, planted_scenario
from dataperf.bench.tasks import (
    TASKS,
    TaskData,
    TaskResult,
    debugging_task,
    load_task_data,
    proposal_task,
    selection_task,
)
from dataperf.propose.baselines import BASELINES, Method, badge_embeddings

__all__ = [
    "BASELINES",
    "KINDS",
    "ImageArray",
    "Method",
    "PlantedPool",
    "Scenario",
    "SmallMLP",
    "SmallCNN",
    "TASKS",
    "TaskData",
    "TaskResult",
    "badge_embeddings",
    "debugging_task",
    "evaluate",
    "format_table",
    "load_task_data",
    "make_planted_pool",
    "planted_scenario",
    "precision_at_k",
    "proposal_task",
    "selection_task",
    "train_classifier",
    "upscale",
    "useful_mask",
]
