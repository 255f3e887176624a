"""Buckets: one reason per pool candidate, by the documented rules and precedence."""

from __future__ import annotations

import numpy as np
import pytest

from dataperf.propose.buckets import BUCKETS, BucketRules, assign_buckets
from dataperf.propose.sampler import HardnessSampler
from dataperf.signals import Signals


def _case(**overrides):
    n = 8
    scores = {"hard": np.full(n, 0.9), "labelable": np.ones(n), "novel": np.ones(n)}
    details = {"typical": np.ones(n), "margin": np.full(n, 0.9)}
    for key, value in overrides.items():
        (scores if key in scores else details)[key] = np.asarray(value, dtype=float)
    return scores, details


def test_each_rule_and_the_precedence():
    #        0: covered+unlabelable  1: unlabelable  2: ambiguous  3: picked  4: not picked
    #        5: easy  6: picked but easy  7: picked but covered
    scores, details = _case(
        novel=[0.1, 1, 1, 1, 1, 1, 1, 0.2],
        typical=[0.1, 0.3, 1, 1, 1, 1, 1, 1],
        unambiguous=[1, 1, 0.2, 1, 1, 1, 1, 1],
        hard=[0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.9],
    )
    buckets, ambiguity = assign_buckets(scores, details, np.array([3, 6, 7]))
    assert ambiguity == "mc_dropout"
    assert buckets.tolist() == [
        "already_covered",
        "unlabelable",
        "hard_but_ambiguous",
        "proposed",
        "below_cutoff",
        "easy",
        "proposed",
        "already_covered",
    ]


def test_near_tie_needs_the_neighbours_to_share_both_classes():
    scores, details = _case(
        margin=[0.05, 0.05, 0.05, 0.5, 0.05, 0.05, 0.05, 0.05],
        neighbor_disagreement=[0.5, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],  # top-1 share 0.5 / 0.1
        neighbor_share_second=[0.5, 0.9, 0.1, 0.5, 0.5, 0.5, 0.5, 0.5],
    )
    buckets, ambiguity = assign_buckets(scores, details, np.array([], dtype=np.int64))
    assert ambiguity == "near_tie_with_neighbours"
    expected = ["hard_but_ambiguous", "below_cutoff", "below_cutoff", "below_cutoff"]
    assert buckets[:4].tolist() == expected
    del details["neighbor_share_second"]
    buckets, ambiguity = assign_buckets(scores, details, np.array([], dtype=np.int64))
    assert ambiguity == "near_tie" and buckets[1] == "hard_but_ambiguous"  # the tie alone


def test_rules_are_checked():
    with pytest.raises(ValueError, match="hard"):
        BucketRules(hard=1.5)
    with pytest.raises(TypeError, match="BucketRules"):
        HardnessSampler(3, bucket_rules={"hard": 0.3})


def test_propose_buckets_every_candidate():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 16)) * 4

    def signals(n, labelled):
        y = rng.integers(0, 3, n)
        emb = centers[y] + rng.normal(size=(n, 16))
        logits = emb @ centers.T / 8
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        return Signals(probs=probs, embeddings=emb, labels=y if labelled else None)

    pool, test, train = signals(300, False), signals(60, True), signals(200, True)
    proposal = HardnessSampler(20, seed=0).propose(pool, test=test, train=train)
    counts = proposal.bucket_counts()
    assert list(counts) == list(BUCKETS) and sum(counts.values()) == len(pool)
    assert set(proposal.buckets[proposal.indices]) <= set(BUCKETS)
    assert proposal.settings["buckets"]["ambiguity"] == "near_tie_with_neighbours"
    assert proposal.settings["buckets"]["hard"] == 0.25
    assert all("bucket" in record for record in proposal.records())
    # nothing outside the picks is "proposed"
    outside = np.setdiff1d(np.arange(len(pool)), proposal.indices)
    assert "proposed" not in set(proposal.buckets[outside])
