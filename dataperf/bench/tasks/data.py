"""The fixed data and model of the bench tasks: splits, features and the fixed classifier.

Data (fixed for every seed; seeds vary the methods, the label flips and, for the proposal task,
the planted scenario):

``"digits"``
    scikit-learn's 8x8 digits (1797 images), split once (``default_rng(2024)``) into a pool of
    1000, a validation split of 297 and a test split of 500. Features: the 64 pixels,
    standardised with the pool's mean and standard deviation.
``"fashion-mnist"``
    Fashion-MNIST (Debian package ``dataset-fashion-mnist``): a pool of 10000 and a validation
    split of 2000 drawn from the train split, and 5000 items of the test split. Features: PCA-64
    of the pixels (scaled to [0, 1]) fitted on the pool, then standardised with the pool's
    statistics.

The validation split is never the test split: methods that need labelled reference data (such
as KNN-Shapley data values) use it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from dataperf._validate import check_choice
from dataperf.bench.registry import DATASETS
from dataperf.signals import Signals

__all__ = ["DATASETS", "TaskData", "check_dataset", "fit_score", "fixed_model", "load_task_data"]

_SPLIT_SEED = 2024
_SIZES = {  # pool, validation, test
    "digits": (1000, 297, 500),
    "fashion-mnist": (10000, 2000, 5000),
}
# The fixed model of every task: one set of hyper-parameters, never tuned per method.
_MODEL_PARAMS: dict[str, Any] = {"C": 1.0, "max_iter": 2000, "tol": 1e-4}


def fixed_model() -> Any:
    """The fixed model of the selection and debugging tasks: an unfitted scikit-learn
    ``LogisticRegression(C=1.0, max_iter=2000)`` (lbfgs, multinomial)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**_MODEL_PARAMS)


@dataclass(frozen=True, eq=False)
class TaskData:
    """The fixed splits and features of one dataset (from :func:`load_task_data`).

    Attributes
    ----------
    dataset : str
    x_pool, x_valid, x_test : (N, D) float32 arrays
        Features (standardised pixels for digits, standardised PCA-64 for Fashion-MNIST).
    y_pool, y_valid, y_test : (N,) int64 arrays
    num_classes : int
    info : dict
        Sizes and how the features were made.
    """

    dataset: str
    x_pool: np.ndarray
    y_pool: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    info: dict[str, Any]

    @cached_property
    def pool(self) -> Signals:
        """Pool Signals: 5-fold out-of-sample probs of the fixed model (fold seed 0),
        ``embeddings`` = features, ``labels`` = the pool's labels."""
        from dataperf.curate import cross_val_probs

        probs = cross_val_probs(fixed_model(), self.x_pool, self.y_pool, folds=5, seed=0).probs
        return Signals(
            probs=probs,
            embeddings=self.x_pool,
            labels=self.y_pool,
            meta={"out_of_sample": True, "dataset": self.dataset, "split": "pool"},
        )

    @cached_property
    def valid(self) -> Signals:
        """Validation Signals: probs of the fixed model trained on the whole pool."""
        model = fixed_model().fit(self.x_pool, self.y_pool)
        return Signals(
            probs=_full_probs(model, self.x_valid, self.num_classes),
            embeddings=self.x_valid,
            labels=self.y_valid,
            meta={"out_of_sample": True, "dataset": self.dataset, "split": "valid"},
        )


def check_dataset(dataset: Any) -> str:
    return check_choice(
        dataset,
        "dataset",
        DATASETS,
        fix="Fix: pass dataset='digits' (always available) or 'fashion-mnist' (Debian package "
        "dataset-fashion-mnist).",
    )


def load_task_data(dataset: str = "digits") -> TaskData:
    """The fixed pool / validation / test splits and features of ``dataset`` (cached per
    process).

    Parameters
    ----------
    dataset : {"digits", "fashion-mnist"}
        See :mod:`dataperf.bench.tasks.data` for the splits and features.

    Returns
    -------
    TaskData

    Raises
    ------
    MissingResourceError
        For ``"fashion-mnist"`` when its files are not installed.
    """
    return _task_data(check_dataset(dataset))


@functools.cache
def _task_data(dataset: str) -> TaskData:
    from dataperf.datasets import load_digits, load_fashion_mnist

    n_pool, n_valid, n_test = _SIZES[dataset]
    rng = np.random.default_rng(_SPLIT_SEED)
    if dataset == "digits":
        x, y = load_digits()
        order = rng.permutation(len(x))
        tr, va, te = np.split(order, [n_pool, n_pool + n_valid])
        flat = x.reshape(len(x), -1).astype(np.float64)
        mean, std = flat[tr].mean(0), flat[tr].std(0)
        feats = (flat - mean) / np.where(std > 0, std, 1.0)
        x_pool, x_valid, x_test = feats[tr], feats[va], feats[te]
        y_pool, y_valid, y_test = y[tr], y[va], y[te]
        how = "64 pixels standardised with the pool's mean and std"
    else:
        x, y = load_fashion_mnist("train")
        xt, yt = load_fashion_mnist("test")
        order = rng.permutation(len(x))
        tr, va = order[:n_pool], order[n_pool : n_pool + n_valid]
        te = rng.choice(len(xt), size=min(n_test, len(xt)), replace=False)
        flat = x.reshape(len(x), -1).astype(np.float64) / 255.0
        flat_t = xt.reshape(len(xt), -1).astype(np.float64) / 255.0
        mean = flat[tr].mean(0)
        # PCA-64 fitted on the pool (SVD of the centred pool pixels).
        _, _, vt = np.linalg.svd(flat[tr] - mean, full_matrices=False)
        comps = vt[:64].T

        def project(a: np.ndarray) -> np.ndarray:
            return (a - mean) @ comps

        p_pool = project(flat[tr])
        mu, sd = p_pool.mean(0), p_pool.std(0)
        x_pool = (p_pool - mu) / sd
        x_valid = (project(flat[va]) - mu) / sd
        x_test = (project(flat_t[te]) - mu) / sd
        y_pool, y_valid, y_test = y[tr], y[va], yt[te]
        how = "PCA-64 of pixels/255 fitted on the pool, standardised with the pool's statistics"
    return TaskData(
        dataset=dataset,
        x_pool=np.ascontiguousarray(x_pool, dtype=np.float32),
        y_pool=y_pool.astype(np.int64),
        x_valid=np.ascontiguousarray(x_valid, dtype=np.float32),
        y_valid=y_valid.astype(np.int64),
        x_test=np.ascontiguousarray(x_test, dtype=np.float32),
        y_test=y_test.astype(np.int64),
        num_classes=10,
        info={
            "n_pool": len(tr),
            "n_valid": len(va),
            "n_test": len(te),
            "features": how,
            "split_seed": _SPLIT_SEED,
            "model": f"sklearn LogisticRegression({_MODEL_PARAMS})",
        },
    )


def _full_probs(model: Any, x: np.ndarray, num_classes: int) -> np.ndarray:
    out = np.zeros((len(x), num_classes))
    out[:, model.classes_] = model.predict_proba(x)
    return out


def fit_score(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, num_classes: int
) -> tuple[float, float]:
    """Train the fixed model on (x, y); return (test accuracy, test macro-F1)."""
    from sklearn.metrics import f1_score

    classes = np.unique(y)
    if len(classes) == 1:  # LogisticRegression needs two classes; predict the only one
        pred = np.full(len(y_test), classes[0])
    else:
        pred = fixed_model().fit(x, y).predict(x_test)
    acc = float((pred == y_test).mean())
    f1 = float(
        f1_score(y_test, pred, labels=np.arange(num_classes), average="macro", zero_division=0)
    )
    return acc, f1
