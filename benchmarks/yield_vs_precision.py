"""The labelling round trip on planted scenarios: yield from simulated answers vs precision.

For each scenario and seed: propose k items, export them as Label Studio tasks, let simulated
annotators answer from the hidden planted truth (the true class for real images and near-copies
of the test set, "cannot tell" for blends, noise, other domains, mosaics, blurs and crops),
read the answers back with dataperf, and compare the yield with the benchmark's precision@k
from the hidden labels. With perfect annotators the two differ only by the misclassified
near-copies that the novelty score let through (a person labels them; the benchmark knows they
are copies): ``yield * answered == precision * k + slipped``. ``--slip 0.1`` lets each of three
annotators answer at random one time in ten (majority vote).

    .venv/bin/python benchmarks/yield_vs_precision.py             # digits + fashion-mnist, 3 seeds
    .venv/bin/python benchmarks/yield_vs_precision.py --quick     # digits, 3 seeds
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from dataperf import HardnessSampler
from dataperf.bench import planted_scenario, precision_at_k, simulate_answers, slipped_copies
from dataperf.propose.label_studio import export_label_studio, proposal_choices
from dataperf.propose.labels import check_alignment, read_labels, yield_summary


def one_round(dataset: str, seed: int, k: int, slip: float, folder: Path) -> dict:
    sc = planted_scenario(dataset, seed=seed)
    proposal = HardnessSampler(k, seed=seed).propose(
        sc.pool_signals, test=sc.test_signals, train=sc.train_signals
    )
    tasks, _ = export_label_studio(proposal, folder / "tasks.json", images=sc.pool.images)
    choices = proposal_choices(proposal)
    export = simulate_answers(
        sc.pool, choices, tasks, folder / "export.json", annotators=3, slip=slip, seed=seed
    )
    labels = read_labels(export)
    check_alignment(labels, proposal.records(), choices)
    summary = yield_summary(labels, proposal.records())
    return {
        "yield": summary["yield"],
        "precision": precision_at_k(proposal.indices, sc.useful),
        "slipped": slipped_copies(sc.pool, sc.predictions, proposal),
        "counts": summary["counts"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="digits only")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--slip", type=float, default=0.0)
    args = parser.parse_args()
    datasets = ["digits"] if args.quick else ["digits", "fashion-mnist"]
    print(f"k = {args.k}, 3 simulated annotators per task, slip {args.slip}")
    print(
        "| dataset | seed | yield (95% interval) | precision@k | slipped copies "
        "| yield - slipped/answered |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for dataset in datasets:
        for seed in range(args.seeds):
            with tempfile.TemporaryDirectory() as tmp:
                r = one_round(dataset, seed, args.k, args.slip, Path(tmp))
            y = r["yield"]
            corrected = (y["hits"] - r["slipped"]) / y["n"]
            print(
                f"| {dataset} | {seed} | {y['value']:.3f} ({y['low']:.2f}-{y['high']:.2f}) | "
                f"{r['precision']:.3f} | {r['slipped']} | {corrected:.3f} |"
            )


if __name__ == "__main__":
    main()
