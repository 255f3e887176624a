"""Simulated annotators for planted pools: answers from the hidden planted truth.

A person labels a real image (``clean``) or a near-copy of a test image (``copy``) with its
true class, and answers "cannot tell" for every kind nobody can label (blends, noise, other
domains, mosaics, blurs, crops). :func:`simulate_answers` writes such answers for the tasks
that :func:`dataperf.propose.label_studio.export_label_studio` exported, in the shape of a
Label Studio JSON export, so the whole round trip (read back, yield, grown test set) runs
without a labelling tool; :func:`slipped_copies` counts the one difference between the yield
and the benchmark's precision.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._files import atomic_write_text
from dataperf._validate import check_float, check_int
from dataperf.bench.planted import PlantedPool
from dataperf.propose.label_studio import CANNOT_TELL, choice_result
from dataperf.propose.proposal import Proposal

__all__ = ["LABELABLE_KINDS", "simulate_answers", "slipped_copies"]

LABELABLE_KINDS = ("clean", "copy")
"""The planted kinds a person can label; every other kind gets "cannot tell"."""


def simulate_answers(
    pool: PlantedPool,
    choices: list[str],
    tasks_path: str | Path,
    out: str | Path,
    *,
    annotators: int = 3,
    slip: float = 0.0,
    seed: int = 0,
) -> Path:
    """Answer every exported task as ``annotators`` people would; write a Label Studio-style
    JSON export to ``out`` and return its path.

    Parameters
    ----------
    pool : PlantedPool
        The pool the proposals came from; a task's ``dataperf_id`` must be a pool position
        (``int``) or end in ``-<position>`` (e.g. ``"pool-12"``).
    choices : list of str
        The class names as exported (``choices[c]`` is class ``c``).
    tasks_path : path
        The tasks file that ``export_label_studio`` wrote.
    out : path
        Where to write the export.
    annotators : int
        Annotations per task.
    slip : float in [0, 1)
        Each annotator's chance to answer at random (a class or "cannot tell") instead.
    seed : int
    """
    check_int(annotators, "annotators", low=1)
    slip = check_float(slip, "slip", low=0.0, high=1.0, high_open=True)
    rng = np.random.default_rng([seed, 47])
    tasks = json.loads(Path(tasks_path).read_text(encoding="utf-8"))
    options = [*choices, CANNOT_TELL]
    for task in tasks:
        i = _position(task["data"]["dataperf_id"])
        kind = pool.kind[i]
        truth = choices[int(pool.labels[i])] if kind in LABELABLE_KINDS else CANNOT_TELL
        answers = [
            options[rng.integers(len(options))] if rng.random() < slip else truth
            for _ in range(annotators)
        ]
        task["annotations"] = [
            {"was_cancelled": False, "completed_by": n + 1, "result": [choice_result(a)]}
            for n, a in enumerate(answers)
        ]
    return atomic_write_text(Path(out), json.dumps(tasks) + "\n")


def _position(pool_id: Any) -> int:
    return int(pool_id) if isinstance(pool_id, int) else int(str(pool_id).rsplit("-", 1)[-1])


def slipped_copies(pool: PlantedPool, predictions: np.ndarray, proposal: Proposal) -> int:
    """Proposed near-copies of the test set (kind ``copy``) that the model gets wrong and the
    novelty score did not put in ``already_covered``: a person labels them, so they count in
    the yield, while the benchmark's precision knows they are copies. With perfect answers,
    ``yield * answered == precision * k + slipped_copies``."""
    p = np.asarray(proposal.indices)
    wrong = np.asarray(predictions)[p] != pool.labels[p]
    covered = proposal.buckets[p] == "already_covered"
    return int(((pool.kind[p] == "copy") & wrong & ~covered).sum())
