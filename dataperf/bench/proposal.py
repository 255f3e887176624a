"""Score test-example proposers on planted pools: evaluation and an end-to-end scenario.

A *method* is a callable ``(pool, test, train, k, seed) -> (k,) int64 indices`` into the pool,
where ``pool``, ``test`` and ``train`` are :class:`dataperf.Signals` (``train`` may be None);
the baselines (:data:`dataperf.propose.baselines.BASELINES`) live with the proposer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from dataperf._errors import InputTypeError, InputValueError, MissingResourceError
from dataperf._validate import check_choice, check_indices, describe
from dataperf.bench.models import ImageArray, SmallCNN, SmallMLP, train_classifier
from dataperf.bench.planted import PlantedPool, make_planted_pool, precision_at_k, upscale
from dataperf.bench.planted import useful_mask as _useful_mask
from dataperf.propose.baselines import Method
from dataperf.signals import Signals

__all__ = [
    "Scenario",
    "evaluate",
    "format_table",
    "planted_scenario",
]

# ----------------------------------------------------------------------------------- evaluation


def evaluate(
    methods: Mapping[str, Method],
    pool_signals: Signals,
    test_signals: Signals,
    train_signals: Signals | None,
    useful: Any,
    k: int,
    *,
    seeds: Sequence[int] = (0, 1, 2),
) -> dict[str, list[float]]:
    """Precision@k of each method on a planted pool, once per seed.

    Parameters
    ----------
    methods : dict of name -> callable
        ``(pool, test, train, k, seed) -> (k,) int indices`` (see :data:`dataperf.bench.BASELINES`).
    pool_signals, test_signals : Signals
    train_signals : Signals or None
    useful : (N,) bool array
        From :func:`dataperf.bench.useful_mask`, one per pool item.
    k : int
        How many items each method proposes.
    seeds : sequence of int
        Every method is called once per seed with the same Signals.

    Returns
    -------
    dict of name -> list of float
        Precision@k per seed, in the order of ``seeds``.
    """
    if not isinstance(methods, Mapping) or not methods:
        raise InputTypeError(
            f"methods must be a non-empty dict name -> callable; got {describe(methods)}."
        )
    mask = np.asarray(useful)
    if mask.shape != (len(pool_signals),) or mask.dtype != bool:
        raise (InputTypeError if mask.dtype != bool else InputValueError)(
            f"useful must be a bool array of shape ({len(pool_signals)},) (one per pool item); "
            f"got {describe(useful)}."
        )
    if not seeds:
        raise InputValueError("seeds must hold at least one seed; got an empty sequence.")
    results: dict[str, list[float]] = {}
    for name, method in methods.items():
        if not callable(method):
            raise InputTypeError(f"methods[{name!r}] must be callable; got {describe(method)}.")
        values = []
        for seed in seeds:
            idx = method(pool_signals, test_signals, train_signals, k, int(seed))
            values.append(precision_at_k(check_indices(idx, k, len(mask), name), mask))
        results[str(name)] = values
    return results


def format_table(results: Mapping[str, Sequence[float]], *, k: int | None = None) -> str:
    """A markdown table of :func:`evaluate` results: method, mean, min and max precision@k.

    Rows keep the order of ``results``; ``k`` (optional) is shown in the header.
    """
    label = f"precision@{k}" if k is not None else "precision@k"
    lines = [f"| method | mean {label} | min | max |", "|---|---:|---:|---:|"]
    for name, values in results.items():
        v = np.asarray(values, dtype=np.float64)
        if v.size == 0:
            raise InputValueError(f"results[{name!r}] is empty; expected one value per seed.")
        lines.append(f"| {name} | {v.mean():.3f} | {v.min():.3f} | {v.max():.3f} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- scenario


@dataclass(frozen=True, eq=False)
class Scenario:
    """Everything a planted benchmark needs, from :func:`planted_scenario`.

    Attributes
    ----------
    model : nn.Module
        The trained classifier (eval mode, on the CPU).
    pool : PlantedPool
    pool_signals : Signals
        Probe of the pool, without labels.
    test_signals, train_signals : Signals
        Probes of the labelled test set and of the training data.
    useful : (N,) bool array
        Clean, misclassified pool items.
    predictions : (N,) int64 array
        The model's predicted class per pool item.
    info : dict
        Dataset name, sizes, seconds spent, test accuracy.
    """

    model: nn.Module
    pool: PlantedPool
    pool_signals: Signals
    test_signals: Signals
    train_signals: Signals
    useful: np.ndarray
    predictions: np.ndarray
    info: dict[str, Any]

    @property
    def test_accuracy(self) -> float:
        """Accuracy of the model on the labelled test set."""
        probs, labels = self.test_signals.probs, self.test_signals.labels
        return float((probs.argmax(1) == labels).mean())

    @property
    def useful_fraction(self) -> float:
        """Fraction of the pool that is useful (the precision of random selection)."""
        return float(self.useful.mean())


_DEFAULTS = {
    # n_train, n_test, epochs, n_clean, n_blend, n_noise, n_ood, n_copy
    "fashion-mnist": dict(
        n_train=8000, n_test=1000, epochs=3, n_clean=2000, n_blend=250, n_noise=250, n_ood=250,
        n_copy=250,
    ),
    "digits": dict(
        n_train=700, n_test=400, epochs=15, n_clean=600, n_blend=75, n_noise=75, n_ood=75,
        n_copy=75,
    ),
}  # fmt: skip


def _load(dataset: str, seed: int, n_train: int, n_test: int) -> dict[str, np.ndarray]:
    """Disjoint train / test / pool-source splits, and OOD images at the same size."""
    from dataperf.datasets import load_digits, load_fashion_mnist

    rng = np.random.default_rng([seed, 1234])
    if dataset == "fashion-mnist":
        x, y = load_fashion_mnist("train")
        xt, yt = load_fashion_mnist("test")
        if n_train >= len(x):
            raise InputValueError(
                f"n_train must be < {len(x)} (the rest is the pool); got {n_train}."
            )
        order = rng.permutation(len(x))
        test_idx = rng.choice(len(xt), size=min(n_test, len(xt)), replace=False)
        digits, _ = load_digits()
        return {
            "x_train": x[order[:n_train]],
            "y_train": y[order[:n_train]],
            "x_test": xt[test_idx],
            "y_test": yt[test_idx],
            "x_pool": x[order[n_train:]],
            "y_pool": y[order[n_train:]],
            "ood": upscale(digits, x.shape[1]),
        }
    x, y = load_digits()
    if n_train + n_test >= len(x):
        raise InputValueError(
            f"n_train + n_test must be < {len(x)} (the rest is the pool); got {n_train} + "
            f"{n_test}. Fix: lower them."
        )
    order = rng.permutation(len(x))
    tr, te, po = np.split(order, [n_train, n_train + n_test])
    try:
        fashion, _ = load_fashion_mnist("test")
        ood: np.ndarray | None = upscale(fashion[rng.choice(len(fashion), 500, replace=False)], 8)
    except MissingResourceError:
        ood = None
    return {
        "x_train": x[tr],
        "y_train": y[tr],
        "x_test": x[te],
        "y_test": y[te],
        "x_pool": x[po],
        "y_pool": y[po],
        "ood": ood,
    }


def planted_scenario(
    dataset: str = "fashion-mnist",
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    epochs: int | None = None,
    mc_samples: int = 8,
    train_mc_samples: int = 0,
    n_clean: int | None = None,
    n_blend: int | None = None,
    n_noise: int | None = None,
    n_ood: int | None = None,
    n_copy: int | None = None,
    width: int = 32,
    model: str = "cnn",
    n_mosaic: int = 0,
    n_blur: int = 0,
    n_crop: int = 0,
    device: Any = None,
) -> Scenario:
    """Train a SmallCNN on real data, plant a candidate pool, and probe everything.

    Parameters
    ----------
    dataset : {"fashion-mnist", "digits"}
        Fashion-MNIST (Debian package ``dataset-fashion-mnist``; OOD items are scikit-learn
        digits upscaled to 28x28) or scikit-learn digits (OOD items are Fashion-MNIST shrunk
        to 8x8 when installed, else none).
    seed : int
        Seeds the splits, training and the pool.
    n_train, n_test, epochs, n_clean, n_blend, n_noise, n_ood, n_copy : int, optional
        Sizes; None takes the dataset's default (fashion-mnist: 8000 train, 1000 test,
        3 epochs, pool 2000 clean + 4 x 250; digits: 700, 400, 15 epochs, 600 clean + 4 x 75;
        the digits pool source has 697 items).
    mc_samples : int
        MC-dropout passes recorded for the test and pool probes (``mc_probs``; 0 for none).
    train_mc_samples : int
        The same for the (large) training probe; 0 by default, which keeps the fashion-mnist
        scenario near a minute on two CPU cores.
    width : int
        SmallCNN width.
    model : {"cnn", "mlp"}
        Train a :class:`SmallCNN` or a :class:`SmallMLP`.
    n_mosaic, n_blur, n_crop : int
        Extra unlabelable kinds for the pool (see :mod:`dataperf.bench.planted`); 0 by default.
    device : str or torch.device, optional
        Where to train and probe; None is CUDA if available.

    Returns
    -------
    Scenario
        The pool Signals carry no labels; ``useful`` marks clean misclassified pool items.
    """
    check_choice(dataset, "dataset", sorted(_DEFAULTS))
    check_choice(model, "model", ("cnn", "mlp"))
    given = dict(
        n_train=n_train, n_test=n_test, epochs=epochs, n_clean=n_clean, n_blend=n_blend,
        n_noise=n_noise, n_ood=n_ood, n_copy=n_copy,
    )  # fmt: skip
    cfg = {
        key: (_DEFAULTS[dataset][key] if value is None else value) for key, value in given.items()
    }
    t0 = time.perf_counter()
    data = _load(dataset, seed, cfg["n_train"], cfg["n_test"])
    if data["ood"] is None:
        cfg["n_ood"] = 0
    size = data["x_train"].shape[1]
    t_load = time.perf_counter()
    net: nn.Module = (
        SmallCNN(num_classes=10, image_size=size, width=width)
        if model == "cnn"
        else SmallMLP(num_classes=10, image_size=size)
    )
    train_classifier(
        net, data["x_train"], data["y_train"], epochs=cfg["epochs"], seed=seed, device=device
    )
    t_train = time.perf_counter()
    pool = make_planted_pool(
        data["x_pool"],
        data["y_pool"],
        data["x_test"],
        test_labels=data["y_test"],
        ood_images=data["ood"],
        n_clean=min(cfg["n_clean"], len(data["x_pool"])),
        n_blend=cfg["n_blend"],
        n_noise=cfg["n_noise"],
        n_ood=cfg["n_ood"],
        n_copy=cfg["n_copy"],
        n_mosaic=n_mosaic,
        n_blur=n_blur,
        n_crop=n_crop,
        seed=seed,
    )

    def run(images: np.ndarray, labels: np.ndarray | None, mc: int) -> Signals:
        return _probe(net, ImageArray(images, labels), mc, seed, device)

    train_signals = run(data["x_train"], data["y_train"], train_mc_samples)
    test_signals = run(data["x_test"], data["y_test"], mc_samples)
    pool_signals = run(pool.images, None, mc_samples)
    t_probe = time.perf_counter()
    predictions = pool_signals.probs.argmax(1).astype(np.int64)
    info = {
        "dataset": dataset,
        "model": model,
        "seed": seed,
        **cfg,
        "pool_counts": pool.counts(),
        "seconds": {
            "load": round(t_load - t0, 2),
            "train": round(t_train - t_load, 2),
            "pool_and_probe": round(t_probe - t_train, 2),
            "total": round(t_probe - t0, 2),
        },
    }
    scenario = Scenario(
        model=net.cpu(),
        pool=pool,
        pool_signals=pool_signals,
        test_signals=test_signals,
        train_signals=train_signals,
        useful=_useful_mask(pool, predictions),
        predictions=predictions,
        info=info,
    )
    info["test_accuracy"] = scenario.test_accuracy
    info["useful_fraction"] = scenario.useful_fraction
    return scenario


def _probe(model: nn.Module, data: ImageArray, mc_samples: int, seed: int, device: Any) -> Signals:
    from dataperf.probing import probe

    return probe(model, data, mc_samples=mc_samples, progress=False, seed=seed, device=device)
