"""Label issues under noise the main grid does not plant, on other data and models, vs cleanlab.

A check from outside the project's own benchmark (``label_issues_vs_cleanlab.py``): other
noise structures, data and models, and the same comparison, each method's own flagged set
against ``cleanlab.filter.find_label_issues(labels, pred_probs)`` (defaults) on the same 5-fold
out-of-sample probabilities, mean of 3 seeds.

* noise: ``pairflip`` (``rate`` of the items, drawn at random, labelled as the next class,
  ``i -> i + 1 mod K``) and ``instance`` (instance-dependent: items are drawn with probability
  proportional to how unsure a clean logistic regression is of their true class, and take its
  best other class; hard items flip more);
* data: scikit-learn's wine (178 items, 3 classes) and breast cancer (569, 2 classes), features
  standardised; ``--fashion-test`` adds Fashion-MNIST's 10,000 test images (PCA-48);
* models: an MLP and a random forest (scikit-learn).

Run::

    OMP_NUM_THREADS=1 python benchmarks/label_issues_other_noise.py
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

from dataperf.curate import cross_val_probs, find_label_issues
from dataperf.signals import Signals


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    if name == "fashion-test":
        from dataperf.datasets import load_fashion_mnist

        x, y = load_fashion_mnist("test")
        x = PCA(48, random_state=0).fit_transform(x.reshape(len(x), -1) / 255.0)
    else:
        x, y = {"wine": load_wine, "cancer": load_breast_cancer}[name](return_X_y=True)
    return StandardScaler().fit_transform(x), np.asarray(y, dtype=np.int64)


def corrupt(kind: str, y: np.ndarray, rate: float, seed: int, clean_p: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n, k = len(y), int(y.max()) + 1
    noisy = y.copy()
    if kind == "pairflip":
        idx = rng.choice(n, int(rate * n), replace=False)
        noisy[idx] = (y[idx] + 1) % k
    else:  # instance-dependent
        w = 1.0 - clean_p[np.arange(n), y] + 0.02
        idx = rng.choice(n, int(rate * n), replace=False, p=w / w.sum())
        other = clean_p.copy()
        other[np.arange(n), y] = -1.0
        noisy[idx] = other[idx].argmax(axis=1)
    return noisy


def model(name: str):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neural_network import MLPClassifier

    if name == "mlp":
        return MLPClassifier((64,), max_iter=300, random_state=0)
    return RandomForestClassifier(200, min_samples_leaf=2, random_state=0, n_jobs=1)


def prf(mask: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = float((mask & truth).sum())
    p, r = tp / max(int(mask.sum()), 1), tp / max(int(truth.sum()), 1)
    return p, 2 * p * r / max(p + r, 1e-12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion-test", action="store_true")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.2, 0.35])
    args = parser.parse_args()
    try:
        from cleanlab.filter import find_label_issues as cl_find
    except ImportError as err:
        sys.exit(f"cleanlab is not installed ({err}); pip install cleanlab (benchmark only)")
    from sklearn.linear_model import LogisticRegression

    names = ["wine", "cancer"] + (["fashion-test"] if args.fashion_test else [])
    print("| data | model | noise | rate | cleanlab P / F1 | ensemble P / F1 | probs only P / F1 |")
    print("|---|---|---|---|---|---|---|")
    for data in names:
        x, y = load(data)
        clean_p = cross_val_probs(LogisticRegression(max_iter=2000), x, y, seed=9).probs
        for mname in ("mlp", "rf"):
            for kind in ("pairflip", "instance"):
                for rate in args.rates:
                    res = []
                    for seed in range(3):
                        noisy = corrupt(kind, y, rate, seed, clean_p)
                        truth = noisy != y
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")  # MLP convergence warnings
                            p = cross_val_probs(model(mname), x, noisy, seed=seed).probs
                        meta = {"out_of_sample": True}
                        ens = find_label_issues(
                            Signals(probs=p, labels=noisy, embeddings=x, meta=meta), search="exact"
                        )
                        alone = find_label_issues(Signals(probs=p, labels=noisy, meta=meta))
                        mask = np.asarray(cl_find(noisy, p), dtype=bool)
                        found = (mask, ens.is_issue, alone.is_issue)
                        res.append([v for flagged in found for v in prf(flagged, truth)])
                    a = np.mean(res, axis=0)
                    print(
                        f"| {data} | {mname} | {kind} | {rate:.0%} | {a[0]:.3f} / {a[1]:.3f} | "
                        f"{a[2]:.3f} / {a[3]:.3f} ({a[3] - a[1]:+.3f}) | "
                        f"{a[4]:.3f} / {a[5]:.3f} ({a[5] - a[1]:+.3f}) |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
