"""Precision@k of useful test-example proposals on planted scenarios, dataperf vs heuristics.

Each scenario trains a small model on real offline data (Fashion-MNIST or scikit-learn
digits), builds a candidate pool of clean unseen items mixed with items a person cannot label
(blends of two classes, noise, another domain; in the "more kinds" scenarios also mosaics,
heavy blurs and tiny crops) and near-copies of the test set, probes everything once, and asks
each method for k proposals with the pool labels hidden. A proposal is useful when it is clean,
not a near-copy, and misclassified by the model. Every method runs on the same Signals.

    .venv/bin/python benchmarks/proposal_precision.py            # all scenarios, 3 seeds
    .venv/bin/python benchmarks/proposal_precision.py --quick    # digits only
    .venv/bin/python benchmarks/proposal_precision.py --approximate  # + faiss search
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dataperf import HardnessSampler, Signals
from dataperf.bench import BASELINES, evaluate, format_table, planted_scenario

MORE_KINDS = dict(n_mosaic=150, n_blur=150, n_crop=150)
SCENARIOS = {
    "fashion-mnist, CNN": (dict(dataset="fashion-mnist"), 100),
    "fashion-mnist, MLP, more kinds": (
        dict(dataset="fashion-mnist", model="mlp", **MORE_KINDS), 100
    ),
    "digits, CNN": (dict(dataset="digits"), 30),
    "digits, MLP, more kinds": (
        dict(dataset="digits", model="mlp", n_mosaic=40, n_blur=40, n_crop=40), 30
    ),
}  # fmt: skip


def dataperf(pool: Signals, test: Signals, train: Signals, k: int, seed: int) -> np.ndarray:
    return HardnessSampler(k, seed=seed).propose(pool, test=test, train=train).indices


def dataperf_no_mc(pool: Signals, test: Signals, train: Signals, k: int, seed: int) -> np.ndarray:
    """The same without MC-dropout samples (a model without dropout)."""
    plain = Signals(probs=pool.probs, embeddings=pool.embeddings, meta=pool.meta)
    return HardnessSampler(k, seed=seed).propose(plain, test=test, train=train).indices


def dataperf_approximate(
    pool: Signals, test: Signals, train: Signals, k: int, seed: int
) -> np.ndarray:
    """The same with the approximate (faiss) neighbour search forced on these small sets."""
    sampler = HardnessSampler(k, seed=seed, search="approximate")
    return sampler.propose(pool, test=test, train=train).indices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per scenario (default 3)")
    parser.add_argument("--quick", action="store_true", help="digits scenarios only")
    parser.add_argument(
        "--approximate", action="store_true", help="add dataperf with search='approximate'"
    )
    args = parser.parse_args()
    methods = {"dataperf": dataperf, "dataperf (no MC dropout)": dataperf_no_mc, **BASELINES}
    if args.approximate:
        methods["dataperf (approximate search)"] = dataperf_approximate
    for name, (kwargs, k) in SCENARIOS.items():
        if args.quick and kwargs["dataset"] != "digits":
            continue
        table: dict[str, list[float]] = {}
        useful, accuracy, seconds = [], [], []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            sc = planted_scenario(seed=seed, **kwargs)
            seconds.append(time.perf_counter() - t0)
            useful.append(sc.useful_fraction)
            accuracy.append(sc.test_accuracy)
            res = evaluate(
                methods, sc.pool_signals, sc.test_signals, sc.train_signals, sc.useful, k,
                seeds=(seed,),
            )  # fmt: skip
            for method, values in res.items():
                table.setdefault(method, []).extend(values)
        counts = ", ".join(f"{n} {c}" for n, c in sc.pool.counts().items() if c)
        print(
            f"\n## {name}: pool of {len(sc.pool)} ({counts}); test accuracy "
            f"{np.mean(accuracy):.3f}; useful share {np.mean(useful):.3f}; {args.seeds} seeds; "
            f"{np.mean(seconds):.0f} s per scenario\n"
        )
        print(format_table(table, k=k))


if __name__ == "__main__":
    main()
