"""Label-issue detection, dataperf vs cleanlab: uniform, class-conditional and systematic noise.

Grid: data x model x noise x rate x seed. For each cell the labels are corrupted by a noise
model of :mod:`dataperf.bench.noise`, 5-fold out-of-sample probabilities come from the model
trained on the noisy labels, and every method sees the *same* probabilities:

* data: ``digits`` (scikit-learn's 1,797 8x8 digits; features = standardised pixels) and
  ``fashion`` (the first ``--fashion-n`` Fashion-MNIST training images; features = PCA-64 of
  the pixels, standardised);
* models: ``linear`` (``LogisticRegression`` on the features, :func:`cross_val_probs`) and
  ``cnn`` (:class:`dataperf.bench.SmallCNN` trained on the images, one per fold);
* noise: ``uniform`` (flips to a uniformly drawn other class), ``class_conditional`` (class
  flip rates and targets from the linear model's confusion matrix on the clean labels, every
  class below 45%) and ``systematic`` (regions of at most 5% of a class take the nearest other
  class's label: the hard case).

Methods: ``cleanlab`` = ``cleanlab.filter.find_label_issues(labels, pred_probs)`` with its
defaults; ``ensemble`` = ``dataperf.curate.find_label_issues(signals)`` with its defaults
(embeddings = the features, exact neighbour search); ``ensemble (probs only)`` = the same
without embeddings; ``--methods`` adds other dataperf methods. Each flagged set is scored
against the planted errors: precision, recall, F1, and the accuracy of the suggested label on
the correctly flagged items, all of them and the half with the most confident suggestion
(cleanlab: the argmax of ``pred_probs``, as its Datalab suggests, confidence its probability;
dataperf: ``suggested`` and ``suggestion_confidence``).

Out-of-sample probabilities are cached in ``--cache`` (one ``.npz`` per cell, keyed by every
setting that changes them), so a re-run or a new method costs only the detection step.
cleanlab is AGPL and a benchmark-only extra (``pip install cleanlab``); dataperf never imports
it.

Run::

    OMP_NUM_THREADS=1 python benchmarks/label_issues_vs_cleanlab.py
    python benchmarks/label_issues_vs_cleanlab.py --models cnn --fashion-n 6000 --json out.json
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dataperf.bench.noise import (
    class_conditional_noise,
    confusion_noise_matrix,
    systematic_noise,
    uniform_noise,
)
from dataperf.curate import cross_val_probs, find_label_issues
from dataperf.signals import Signals

NOISES = ("uniform", "class_conditional", "systematic")
MODELS = ("linear", "cnn")
FOLDS = 5
# Per data set: digits has 1,797 tiny images, so it needs more passes for as many steps.
CNN_SETTINGS = {
    "digits": {"width": 16, "epochs": 20, "batch_size": 64, "lr": 2e-3},
    "fashion": {"width": 16, "epochs": 4, "batch_size": 128, "lr": 2e-3},
}


def _cleanlab() -> Callable[..., np.ndarray]:
    try:
        from cleanlab.filter import find_label_issues as cl_find
    except ImportError as err:
        sys.exit(
            f"This benchmark compares against cleanlab, which is not installed ({err}). "
            "Install it (AGPL, benchmark only): pip install cleanlab"
        )
    return cl_find


# ----------------------------------------------------------------------------- data and noise
@functools.cache
def load(name: str, fashion_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, features, labels) of a data set."""
    from dataperf.datasets import load_digits, load_fashion_mnist

    if name == "digits":
        images, labels = load_digits()
        flat = images.reshape(len(images), -1).astype(np.float64)
        feats = (flat - flat.mean(0)) / np.where(flat.std(0) > 0, flat.std(0), 1.0)
    elif name == "fashion":
        images, labels = load_fashion_mnist("train")
        images, labels = images[:fashion_n], labels[:fashion_n]
        flat = images.reshape(len(images), -1).astype(np.float64) / 255.0
        flat -= flat.mean(0)
        _, _, vt = np.linalg.svd(flat, full_matrices=False)
        proj = flat @ vt[:64].T
        feats = (proj - proj.mean(0)) / proj.std(0)
    else:
        raise ValueError(f"unknown data set {name!r}; expected 'digits' or 'fashion'")
    return images, np.ascontiguousarray(feats, dtype=np.float32), labels.astype(np.int64)


@functools.cache
def clean_confusion(name: str, fashion_n: int) -> np.ndarray:
    """Confusion matrix of the linear model's out-of-sample predictions on the clean labels."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix

    _, x, y = load(name, fashion_n)
    probs = cross_val_probs(LogisticRegression(max_iter=1000), x, y, seed=0).probs
    return confusion_matrix(y, probs.argmax(1), labels=np.arange(probs.shape[1]))


def corrupt(name: str, fashion_n: int, noise: str, rate: float, seed: int) -> np.ndarray:
    _, x, y = load(name, fashion_n)
    k = int(y.max()) + 1
    if noise == "uniform":
        return uniform_noise(y, rate, k, seed=seed)
    if noise == "class_conditional":
        conf = clean_confusion(name, fashion_n)
        return class_conditional_noise(y, confusion_noise_matrix(conf, rate), seed=seed)
    if noise == "systematic":
        return systematic_noise(x, y, rate, seed=seed, num_classes=k)
    raise ValueError(f"unknown noise {noise!r}; expected one of {NOISES}")


# ----------------------------------------------------------------------------- probabilities
def _cnn_probs(name: str, images: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    import torch
    from sklearn.model_selection import StratifiedKFold

    from dataperf.bench.models import SmallCNN, train_classifier

    k = int(labels.max()) + 1
    probs = np.zeros((len(labels), k))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    s = CNN_SETTINGS[name]
    for f, (tr, te) in enumerate(folds.split(images, labels)):
        model = SmallCNN(k, image_size=images.shape[1], width=s["width"])
        train_classifier(
            model,
            images[tr],
            labels[tr],
            epochs=s["epochs"],
            batch_size=s["batch_size"],
            lr=s["lr"],
            seed=seed * FOLDS + f,
            device="cpu",
        )
        x = torch.from_numpy(images[te].astype(np.float32) / 255.0).unsqueeze(1)
        with torch.inference_mode():
            probs[te] = torch.softmax(model(x), dim=1).double().numpy()
    return probs


def oos_probs(
    name: str, fashion_n: int, model: str, noise: str, rate: float, seed: int, cache: Path | None
) -> tuple[np.ndarray, np.ndarray]:
    """(noisy labels, out-of-sample probs) of one cell, from ``cache`` when there."""
    from sklearn.linear_model import LogisticRegression

    settings = {
        "data": name,
        "n": fashion_n if name == "fashion" else None,
        "model": model,
        "cnn": CNN_SETTINGS[name] if model == "cnn" else None,
        "noise": noise,
        "rate": rate,
        "seed": seed,
        "folds": FOLDS,
        "version": 1,
    }
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    path = None if cache is None else cache / f"{name}-{model}-{noise}-{rate}-{seed}-{key}.npz"
    if path is not None and path.exists():
        with np.load(path) as z:
            return z["noisy"], z["probs"]
    images, x, _ = load(name, fashion_n)
    noisy = corrupt(name, fashion_n, noise, rate, seed)
    if model == "linear":
        probs = cross_val_probs(LogisticRegression(max_iter=1000), x, noisy, seed=seed).probs
    elif model == "cnn":
        probs = _cnn_probs(name, images, noisy, seed)
    else:
        raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, noisy=noisy, probs=probs)
        tmp.replace(path)
    return noisy, probs


# ----------------------------------------------------------------------------- scoring
def scores(flagged, suggested, confidence, truth, noisy) -> dict[str, float]:
    """Precision, recall, F1 of a flagged mask; accuracy of the suggestions on the true hits,
    all of them and the more confident half."""
    planted = noisy != truth
    hits = np.flatnonzero(flagged & planted)
    tp = float(len(hits))
    p = tp / max(int(flagged.sum()), 1)
    r = tp / max(int(planted.sum()), 1)
    f = 2 * p * r / max(p + r, 1e-12)
    right = suggested[hits] == truth[hits]
    surest = right[np.argsort(-confidence[hits], kind="stable")[: (len(hits) + 1) // 2]]
    return {
        "flagged": int(flagged.sum()),
        "precision": p,
        "recall": r,
        "f1": f,
        "suggest": float(right.mean()) if tp else float("nan"),
        "suggest_surest": float(surest.mean()) if tp else float("nan"),
    }


def detect(method: str, noisy: np.ndarray, probs: np.ndarray, x: np.ndarray, cl_find):
    """(flagged mask, suggested labels, their confidence, seconds) of one method."""
    start = time.perf_counter()
    if method == "cleanlab":
        mask = np.asarray(cl_find(noisy, probs), dtype=bool)
        return mask, probs.argmax(1), probs.max(1), time.perf_counter() - start
    base, _, variant = method.partition(" ")
    emb = None if variant == "(probs only)" else x
    signals = Signals(probs=probs, labels=noisy, embeddings=emb, meta={"out_of_sample": True})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the probs are out-of-sample: no warning expected
        res = find_label_issues(signals, method=base, search="exact")
    seconds = time.perf_counter() - start
    return res.is_issue, res.suggested, res.suggestion_confidence, seconds


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    cl_find = _cleanlab()
    cache = None if args.no_cache else Path(args.cache)
    methods = ["cleanlab", "ensemble", "ensemble (probs only)", *args.methods]
    rows = []
    for name in args.datasets:
        _, x, truth = load(name, args.fashion_n)
        for model in args.models:
            for noise in args.noises:
                for rate in args.rates:
                    for seed in args.seeds:
                        noisy, probs = oos_probs(
                            name, args.fashion_n, model, noise, rate, seed, cache
                        )
                        for method in methods:
                            mask, sugg, conf, secs = detect(method, noisy, probs, x, cl_find)
                            row = {
                                "data": name if name == "digits" else f"fashion-{len(truth)}",
                                "model": model,
                                "noise": noise,
                                "rate": rate,
                                "seed": seed,
                                "method": method,
                                "errors": int((noisy != truth).sum()),
                                "seconds": secs,
                                **scores(mask, sugg, conf, truth, noisy),
                            }
                            rows.append(row)
                        if args.verbose:
                            print(
                                f"done {name} {model} {noise} {rate} {seed}",
                                file=sys.stderr,
                                flush=True,
                            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per (data, model, noise, rate, method), means over seeds."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["data"], r["model"], r["noise"], r["rate"], r["method"]), []).append(r)
    ref = {k[:4]: np.mean([r["f1"] for r in v]) for k, v in groups.items() if k[4] == "cleanlab"}
    ref_p = {
        k[:4]: np.mean([r["precision"] for r in v]) for k, v in groups.items() if k[4] == "cleanlab"
    }
    out = [
        "| data | model | noise | rate | method | seeds | errors | flagged | precision | recall "
        "| F1 | F1 - cleanlab | precision - cleanlab | suggestion right | surest half right |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, v in groups.items():
        data, model, noise, rate, method = key

        def m(field: str, v: list[dict[str, Any]] = v) -> float:
            return float(np.nanmean([r[field] for r in v]))

        d_f1 = "" if method == "cleanlab" else f"{m('f1') - ref[key[:4]]:+.3f}"
        d_p = "" if method == "cleanlab" else f"{m('precision') - ref_p[key[:4]]:+.3f}"
        out.append(
            f"| {data} | {model} | {noise} | {rate:.0%} | {method} | {len(v)} | "
            f"{m('errors'):.0f} | {m('flagged'):.0f} | {m('precision'):.3f} | {m('recall'):.3f} "
            f"| {m('f1'):.3f} | {d_f1} | {d_p} | {m('suggest'):.3f} | {m('suggest_surest'):.3f} |"
        )
    return "\n".join(out)


def summary(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per (data, model, noise, rate): cleanlab against the default method
    with and without embeddings (means over seeds)."""
    cells: dict[tuple, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        key = (r["data"], r["model"], r["noise"], r["rate"])
        cells.setdefault(key, {}).setdefault(r["method"], []).append(r)
    out = [
        "| data | model | noise | rate | cleanlab F1 / precision | ensemble F1 / precision "
        "| probs only F1 / precision | suggestion right: cleanlab / ensemble (surest half) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (data, model, noise, rate), by in cells.items():

        def m(method: str, field: str, by: dict = by) -> float:
            return float(np.nanmean([r[field] for r in by[method]]))

        def pair(method: str) -> str:
            f, p = m(method, "f1"), m(method, "precision")
            if method == "cleanlab":
                return f"{f:.3f} / {p:.3f}"
            df, dp = f - m("cleanlab", "f1"), p - m("cleanlab", "precision")
            return f"{f:.3f} ({df:+.3f}) / {p:.3f} ({dp:+.3f})"

        out.append(
            f"| {data} | {model} | {noise} | {rate:.0%} | {pair('cleanlab')} | "
            f"{pair('ensemble')} | {pair('ensemble (probs only)')} | "
            f"{m('cleanlab', 'suggest'):.3f} / {m('ensemble', 'suggest'):.3f} "
            f"({m('ensemble', 'suggest_surest'):.3f}) |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "fashion"])
    parser.add_argument("--models", nargs="+", default=["linear"], choices=MODELS)
    parser.add_argument("--noises", nargs="+", default=list(NOISES), choices=NOISES)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fashion-n", type=int, default=10000)
    parser.add_argument("--methods", nargs="*", default=[], help="more dataperf methods")
    parser.add_argument("--cache", default=".cache/label-issues-bench")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--json", help="also write every row (per seed) to this JSON file")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    rows = run(args)
    print(summary(rows), "\n")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
