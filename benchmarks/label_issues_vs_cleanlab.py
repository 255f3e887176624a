"""Label-issue detection: dataperf vs cleanlab on planted label flips.

For each dataset and flip rate, a fraction of labels is flipped to a different class (seeded),
out-of-sample probabilities come from 5-fold ``cross_val_probs`` with a LogisticRegression, and
both libraries see the *same* probabilities:

* digits: scikit-learn's 1,797 8x8 digits, pixels / 255 as features;
* fashion: Fashion-MNIST train (first ``--fashion-n`` images), pixels reduced to 64-d with PCA.

Rows report precision / recall / F1 of the flagged set against the planted flips and the wall
time of the detection step only (best of ``--repeats``), with the ratio to
``cleanlab.filter.find_label_issues(labels, pred_probs)`` (defaults). cleanlab is AGPL and a
benchmark-only extra: ``pip install cleanlab``; dataperf never imports it.

Run::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/label_issues_vs_cleanlab.py
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np

from dataperf.curate import cross_val_probs, find_label_issues
from dataperf.datasets import load_digits, load_fashion_mnist

METHODS = ["confident_learning", "self_confidence", "margin", "knn", "ensemble"]


def _cleanlab() -> Callable[..., np.ndarray]:
    try:
        from cleanlab.filter import find_label_issues as cl_find
    except ImportError as err:
        sys.exit(
            f"This benchmark compares against cleanlab, which is not installed ({err}). "
            "Install it (AGPL, benchmark only): pip install cleanlab"
        )
    return cl_find


def flip(labels: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Flip ``rate`` of the labels to a uniformly drawn different class."""
    rng = np.random.default_rng(seed)
    n, k = len(labels), int(labels.max()) + 1
    idx = rng.choice(n, int(round(rate * n)), replace=False)
    noisy = labels.copy()
    noisy[idx] = (labels[idx] + rng.integers(1, k, len(idx))) % k
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return noisy, mask


def prf(pred: np.ndarray, true: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & true).sum())
    p = tp / max(int(pred.sum()), 1)
    r = tp / max(int(true.sum()), 1)
    return p, r, 2 * p * r / max(p + r, 1e-12)


def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def datasets(fashion_n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from sklearn.decomposition import PCA

    images, labels = load_digits()
    out = {"digits": (images.reshape(len(images), -1) / 255.0, labels)}
    try:
        images, labels = load_fashion_mnist("train")
    except LookupError as err:
        print(f"(skipping Fashion-MNIST: {err})", file=sys.stderr)
        return out
    x = images[:fashion_n].reshape(min(fashion_n, len(images)), -1) / 255.0
    out[f"fashion-{len(x)}"] = (PCA(64, random_state=0).fit_transform(x), labels[:fashion_n])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.05, 0.10, 0.20])
    parser.add_argument("--fashion-n", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    cl_find = _cleanlab()
    from sklearn.linear_model import LogisticRegression

    print(
        "| data | flips | method | flagged | precision | recall | F1 | time (s) | time / cleanlab |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (x, clean) in datasets(args.fashion_n).items():
        for rate in args.rates:
            noisy, planted = flip(clean, rate, args.seed)
            signals = cross_val_probs(LogisticRegression(max_iter=1000), x, noisy, seed=0)
            t_cl, mask = best_time(lambda s=signals: cl_find(s.labels, s.probs), args.repeats)
            rows = [("cleanlab", np.asarray(mask, dtype=bool), t_cl)]
            for method in METHODS:
                reps = 1 if method in ("knn", "ensemble") else args.repeats
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # the probs are out-of-sample: no warning
                    t, res = best_time(
                        lambda s=signals, m=method: find_label_issues(s, method=m), reps
                    )
                rows.append((method, res.is_issue, t))
            for method, pred, t in rows:
                p, r, f = prf(pred, planted)
                print(
                    f"| {name} | {rate:.0%} | {method} | {int(pred.sum())} | {p:.3f} | {r:.3f} "
                    f"| {f:.3f} | {t:.4f} | {t / t_cl:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
