"""Planted scenarios on real offline data: dataperf proposes more useful test examples than
entropy, margin, least confidence, BALD, k-center and BADGE run on the same Signals.

A proposal is useful when it is a clean item (not a blend, noise, another domain, a mosaic, a
blur, a crop or a near-copy of the test set) that the model misclassifies. Pool labels are
hidden from every method (the pool Signals carry none). The full-size tables are produced by
``benchmarks/proposal_precision.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from dataperf import HardnessSampler
from dataperf.bench import BASELINES, evaluate, format_table, planted_scenario
from dataperf.datasets import fashion_mnist_dir

pytestmark = pytest.mark.slow  # trains small models on real data

SEEDS = (0, 1, 2)
RIVALS = ("entropy", "margin", "least_confidence", "bald", "kcenter", "badge")
EXTRA_KINDS = dict(
    n_blend=40, n_noise=40, n_ood=40, n_copy=40, n_mosaic=40, n_blur=40, n_crop=40
)  # fmt: skip

SCENARIOS = {
    # name: (planted_scenario kwargs, k, seeds)
    "digits, CNN": (dict(dataset="digits"), 30, SEEDS),
    "digits, MLP, more kinds": (dict(dataset="digits", model="mlp", **EXTRA_KINDS), 30, SEEDS),
    "fashion-mnist, small CNN": (
        dict(
            dataset="fashion-mnist",
            n_train=4000,
            n_test=500,
            epochs=3,
            width=16,
            n_clean=800,
            n_blend=80,
            n_noise=80,
            n_ood=80,
            n_copy=80,
            mc_samples=4,
        ),
        50,
        (0,),
    ),  # fmt: skip
}


def dataperf_method(pool, test, train, k, seed):
    return HardnessSampler(k, seed=seed).propose(pool, test=test, train=train).indices


@pytest.fixture(scope="module", params=list(SCENARIOS))
def results(request):
    kwargs, k, seeds = SCENARIOS[request.param]
    if kwargs["dataset"] == "fashion-mnist" and fashion_mnist_dir() is None:
        pytest.skip("Fashion-MNIST (Debian package dataset-fashion-mnist) is not installed")
    methods = {"dataperf": dataperf_method, **{name: BASELINES[name] for name in RIVALS}}
    table: dict[str, list[float]] = {}
    for seed in seeds:
        sc = planted_scenario(seed=seed, **kwargs)
        assert sc.pool_signals.labels is None  # hidden from every method
        assert 0 < sc.useful.sum() < len(sc.useful)
        scores = evaluate(
            methods, sc.pool_signals, sc.test_signals, sc.train_signals, sc.useful, k, seeds=(seed,)
        )
        for name, values in scores.items():
            table.setdefault(name, []).extend(values)
    print(f"\n{request.param}\n{format_table(table, k=k)}")
    return table


@pytest.mark.parametrize("rival", RIVALS)
def test_dataperf_beats_each_heuristic(results, rival):
    ours, theirs = np.array(results["dataperf"]), np.array(results[rival])
    assert ours.mean() >= theirs.mean() + 0.1, (ours, theirs)
    assert (ours > theirs).all(), (ours, theirs)  # on every seed, not just on average
