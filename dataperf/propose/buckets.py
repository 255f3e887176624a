"""Why each pool candidate was or was not proposed: one bucket per candidate.

The sampler scores every candidate once (``hard``, ``labelable``, ``novel`` and their parts);
:func:`assign_buckets` turns those scores into one reason per candidate, taking the first rule
that holds, in this order:

``already_answered``
    Excluded by the caller: people answered it in an earlier round (labelled, or "cannot
    tell"); never proposed again.
``already_covered``
    A near-copy of a current test item: ``novel < covered`` (default 0.5: nearer the test set
    than all but ~2.5% of genuinely new examples). Needs a test set.
``unlabelable``
    Noise, another domain, off-manifold: ``typical < unlabelable`` (default 0.5: less typical
    than ~2.5% of real labelled examples), or your own ``labelability`` below it.
``hard_but_ambiguous``
    Hard (below) and ambiguous in itself. With MC-dropout samples: ``unambiguous < ambiguous``
    (default 0.5, half the median epistemic share). Without them: a near-tie between two
    classes, top-1 minus top-2 probability ``< tie_margin`` (default 0.2), that the labelled
    neighbours share, each class holding ``>= tie_share`` (default 0.2) of them; without
    labelled neighbours, the near-tie alone. ``settings["buckets"]["ambiguity"]`` says which.
``proposed``
    Picked by the sampler.
``below_cutoff``
    Hard (``hard >= hard``, default 0.25: at least a one-in-four estimated chance that the
    model is wrong) and labelable, but not picked: past ``k``, or too close to a proposal
    (diversity).
``easy``
    The rest: the model is probably right (estimated chance of an error below ``hard``).

A picked candidate that a rule above ``proposed`` catches keeps that bucket, as a warning. With
MC-dropout samples this is rare (unambiguity is part of ``labelable``, so the sampler already
avoids those candidates). Without them, the near-tie rule is not part of the sampler's scores,
and it is a weak signal: on the planted digits pools (3 seeds, no MC samples) 31% of the hard,
typical, novel candidates it flags are useful test examples, the same share as among those it
does not flag; leaving its candidates out of the selection lowered precision@50 from
0.44-0.50 to 0.36-0.40. So the sampler does not exclude them, and probing with MC samples is the
way to catch ambiguous inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._validate import check_float

__all__ = ["BUCKETS", "BucketRules", "assign_buckets", "bucket_meaning"]

BUCKETS: tuple[str, ...] = (
    "already_answered",
    "already_covered",
    "unlabelable",
    "hard_but_ambiguous",
    "proposed",
    "below_cutoff",
    "easy",
)
"""The buckets, in the order their rules are tried."""

_MEANINGS = {
    "already_answered": 'People answered it in an earlier round (a label or "cannot tell"): '
    "never proposed again.",
    "already_covered": "A near-copy of a current test item (novel < {covered}).",
    "unlabelable": "Noise, another domain or off-manifold: unlike anything people labelled "
    "(typical, or your labelability, < {unlabelable}).",
    "hard_but_ambiguous": "Hard, but ambiguous in itself, so people would disagree on its "
    "label (see the ambiguity rule).",
    "proposed": "Picked by the sampler: hard, labelable and novel.",
    "below_cutoff": "Hard (hard >= {hard}) and labelable, but not picked: past k, or too close "
    "to a proposal.",
    "easy": "The model is probably right (estimated chance of an error < {hard}).",
}


@dataclass(frozen=True)
class BucketRules:
    """The thresholds of :func:`assign_buckets` (see the module docstring)."""

    covered: float = 0.5
    unlabelable: float = 0.5
    ambiguous: float = 0.5
    tie_margin: float = 0.2
    tie_share: float = 0.2
    hard: float = 0.25

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            check_float(value, name, low=0.0, high=1.0)


def assign_buckets(
    scores: Mapping[str, np.ndarray],
    details: Mapping[str, np.ndarray],
    picked: np.ndarray,
    rules: BucketRules = BucketRules(),
    *,
    excluded: np.ndarray | None = None,
) -> tuple[np.ndarray, str]:
    """One bucket per candidate, and which ambiguity rule was used.

    Parameters
    ----------
    scores : dict
        ``hard``, ``labelable``, ``novel`` (N,) arrays, as in ``Proposal.scores``.
    details : dict
        ``Proposal.details``: ``typical`` (else ``labelable`` is used), ``unambiguous`` (MC
        dropout), ``margin`` and ``neighbor_share_second`` / ``neighbor_disagreement``.
    picked : (k,) int array
        The proposed positions.
    rules : BucketRules
    excluded : (N,) bool array, optional
        Candidates the caller excluded (``already_answered``).

    Returns
    -------
    buckets : (N,) array of str
        A name of :data:`BUCKETS` per candidate.
    ambiguity : str
        ``"mc_dropout"``, ``"near_tie_with_neighbours"``, ``"near_tie"`` or ``"none"`` (one
        class: nothing can tie).
    """
    hard = np.asarray(scores["hard"]) >= rules.hard
    n = len(hard)
    covered = np.asarray(scores["novel"]) < rules.covered
    unlabelable = np.asarray(details.get("typical", scores["labelable"])) < rules.unlabelable
    ambiguous, ambiguity = _ambiguous(details, n, rules)
    chosen = np.zeros(n, dtype=bool)
    chosen[np.asarray(picked, dtype=np.int64)] = True
    answered = np.zeros(n, dtype=bool) if excluded is None else np.asarray(excluded, dtype=bool)
    conditions = [answered, covered, unlabelable, hard & ambiguous, chosen, hard]
    buckets = np.select(conditions, BUCKETS[:6], default=BUCKETS[6])
    return buckets.astype(f"<U{max(map(len, BUCKETS))}"), ambiguity


def bucket_meaning(name: str, thresholds: Mapping[str, Any] | None = None) -> str:
    """What bucket ``name`` means, in one line, with the thresholds that were used.

    ``thresholds`` holds the fields of :class:`BucketRules` (e.g.
    ``proposal.settings["buckets"]``); missing ones take their defaults.
    """
    if name not in _MEANINGS:
        raise InputValueError(f"unknown bucket {name!r}; valid buckets: {', '.join(BUCKETS)}.")
    values = {**asdict(BucketRules()), **dict(thresholds or {})}
    return _MEANINGS[name].format(
        **{k: f"{v:g}" if isinstance(v, float) else v for k, v in values.items()}
    )


def _ambiguous(details: Mapping[str, Any], n: int, rules: BucketRules) -> tuple[np.ndarray, str]:
    if "unambiguous" in details:
        return np.asarray(details["unambiguous"]) < rules.ambiguous, "mc_dropout"
    if "margin" not in details:  # one class: nothing can tie
        return np.zeros(n, dtype=bool), "none"
    tie = np.asarray(details["margin"]) < rules.tie_margin
    if "neighbor_share_second" not in details:
        return tie, "near_tie"
    first = 1.0 - np.asarray(details["neighbor_disagreement"])
    second = np.asarray(details["neighbor_share_second"])
    shared = (first >= rules.tie_share) & (second >= rules.tie_share)
    return tie & shared, "near_tie_with_neighbours"
