"""Simulated annotators on a planted scenario: the yield is the benchmark's precision."""

from __future__ import annotations

import json

import pytest

from dataperf import HardnessSampler
from dataperf.bench import planted_scenario, precision_at_k, simulate_answers, slipped_copies
from dataperf.propose.label_studio import CANNOT_TELL, export_label_studio, proposal_choices
from dataperf.propose.labels import check_alignment, read_labels, yield_summary


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_yield_equals_precision_up_to_the_copies_novelty_let_through(seed, tmp_path):
    sc = planted_scenario("digits", seed=seed)
    proposal = HardnessSampler(40, seed=seed).propose(
        sc.pool_signals, test=sc.test_signals, train=sc.train_signals
    )
    tasks, _ = export_label_studio(proposal, tmp_path / "tasks.json", images=sc.pool.images)
    choices = proposal_choices(proposal)
    export = simulate_answers(sc.pool, choices, tasks, tmp_path / "export.json")
    labels = read_labels(export)
    check_alignment(labels, proposal.records(), choices)
    summary = yield_summary(labels, proposal.records())["yield"]
    assert summary["n"] == 40  # every proposal answered
    precision = precision_at_k(proposal.indices, sc.useful)
    assert summary["hits"] == round(precision * 40) + slipped_copies(
        sc.pool, sc.predictions, proposal
    )
    # the unlabelable kinds got "cannot tell", the labelable ones their class
    kinds = sc.pool.kind[proposal.indices]
    cannot = [s == "cannot_tell" for s in labels.status]
    assert cannot == [k not in ("clean", "copy") for k in kinds]


def test_answers_have_the_shape_of_a_label_studio_export(tmp_path):
    sc = planted_scenario("digits", seed=0, epochs=1, mc_samples=0)
    proposal = HardnessSampler(10).propose(sc.pool_signals, test=sc.test_signals)
    tasks, _ = export_label_studio(proposal, tmp_path / "tasks.json", images=sc.pool.images)
    choices = proposal_choices(proposal)
    path = simulate_answers(
        sc.pool, choices, tasks, tmp_path / "e.json", annotators=5, slip=0.5, seed=3
    )
    exported = json.loads(path.read_text())
    assert len(exported) == 10 and all(len(t["annotations"]) == 5 for t in exported)
    answers = {a["result"][0]["value"]["choices"][0] for t in exported for a in t["annotations"]}
    assert answers <= {*choices, CANNOT_TELL}
    labels = read_labels(path)
    assert labels.votes.tolist() == [5] * 10 and (labels.agreement < 1).any()
    with pytest.raises(ValueError, match="slip"):
        simulate_answers(sc.pool, choices, tasks, tmp_path / "x.json", slip=1.0)
