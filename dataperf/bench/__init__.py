"""Benchmarks with a known answer: planted candidate pools, baselines and their scores.

``dataperf.bench`` is not imported by ``import dataperf`` (it trains models and reads
datasets); import it explicitly::

    from dataperf.bench import BASELINES, evaluate, format_table, planted_scenario

    sc = planted_scenario("digits")
    print(format_table(evaluate(BASELINES, sc.pool_signals, sc.test_signals,
                                sc.train_signals, sc.useful, k=50), k=50))

Public names are loaded on first use, so a light submodule (:mod:`dataperf.bench.registry`, read
by ``dataperf bench --help``) imports no torch or numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataperf._lazy import lazy_names

_EXPORTS = {
    "LABELABLE_KINDS": "dataperf.bench.annotators",
    "simulate_answers": "dataperf.bench.annotators",
    "slipped_copies": "dataperf.bench.annotators",
    "ImageArray": "dataperf.bench.models",
    "SmallCNN": "dataperf.bench.models",
    "SmallMLP": "dataperf.bench.models",
    "train_classifier": "dataperf.bench.models",
    "KINDS": "dataperf.bench.planted",
    "PlantedPool": "dataperf.bench.planted",
    "make_planted_pool": "dataperf.bench.planted",
    "precision_at_k": "dataperf.bench.planted",
    "upscale": "dataperf.bench.planted",
    "useful_mask": "dataperf.bench.planted",
    "BASELINES": "dataperf.propose.baselines",
    "Method": "dataperf.propose.baselines",
    "Scenario": "dataperf.bench.proposal",
    "badge_embeddings": "dataperf.propose.baselines",
    "evaluate": "dataperf.bench.proposal",
    "format_table": "dataperf.bench.proposal",
    "planted_scenario": "dataperf.bench.proposal",
    "TASKS": "dataperf.bench.tasks",
    "TaskData": "dataperf.bench.tasks",
    "TaskResult": "dataperf.bench.tasks",
    "debugging_task": "dataperf.bench.tasks",
    "load_task_data": "dataperf.bench.tasks",
    "proposal_task": "dataperf.bench.tasks",
    "selection_task": "dataperf.bench.tasks",
}
_SUBMODULES = ("annotators", "models", "planted", "proposal", "registry", "tasks")

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from dataperf.bench.annotators import (  # noqa: F401
        LABELABLE_KINDS,
        simulate_answers,
        slipped_copies,
    )
    from dataperf.bench.models import (  # noqa: F401
        ImageArray,
        SmallCNN,
        SmallMLP,
        train_classifier,
    )
    from dataperf.bench.planted import (  # noqa: F401
        KINDS,
        PlantedPool,
        make_planted_pool,
        precision_at_k,
        upscale,
        useful_mask,
    )
    from dataperf.bench.proposal import (  # noqa: F401
        Scenario,
        evaluate,
        format_table,
        planted_scenario,
    )
    from dataperf.bench.tasks import (  # noqa: F401
        TASKS,
        TaskData,
        TaskResult,
        debugging_task,
        load_task_data,
        proposal_task,
        selection_task,
    )
    from dataperf.propose.baselines import BASELINES, Method, badge_embeddings  # noqa: F401


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS, globals(), _SUBMODULES)
