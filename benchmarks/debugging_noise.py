"""The bench's debugging task under each noise model, against cleanlab.

For each data set and noise model (``uniform``, ``class_conditional``, ``systematic``; see
:mod:`dataperf.bench.noise`), runs ``dataperf.bench.debugging_task`` with dataperf's built-in
label-issue methods and ``cleanlab.filter.find_label_issues(labels, pred_probs)`` (defaults; its
ranking: self-confidence, as cleanlab's own default ranking of issues), all on the same
out-of-sample probabilities of the task's fixed model. Prints, per setting, the flagged set's
F1 and precision against the planted errors, the share of errors found in the first 10% of
the ranking, and the test accuracy after fixing the top-m ranked items. cleanlab is AGPL and a
benchmark-only extra (``pip install cleanlab``).

Run::

    OMP_NUM_THREADS=1 python benchmarks/debugging_noise.py --datasets digits fashion-mnist
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from dataperf.bench import debugging_task
from dataperf.bench.registry import NOISE_NAMES

METHODS = ["ensemble", "confident_learning", "self_confidence", "knn"]


def cleanlab(signals):
    """cleanlab's flagged set, ranked by self-confidence."""
    try:
        from cleanlab.filter import find_label_issues
    except ImportError as err:
        sys.exit(f"cleanlab is not installed ({err}); pip install cleanlab (benchmark only)")
    mask = find_label_issues(signals.labels, signals.probs)
    ranking = np.argsort(signals.probs[np.arange(len(signals)), signals.labels], kind="stable")
    return ranking, mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits"])
    parser.add_argument("--noises", nargs="+", default=list(NOISE_NAMES), choices=NOISE_NAMES)
    parser.add_argument("--flip-rate", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    for dataset in args.datasets:
        for noise in args.noises:
            result = debugging_task(
                [*METHODS, cleanlab],
                dataset=dataset,
                noise=noise,
                flip_rate=args.flip_rate,
                seeds=args.seeds,
                fractions=(0.1,),
            )
            print(f"\n### {dataset}, {noise} noise, rate {args.flip_rate}\n")
            for metric in ("f1", "precision", "found", "fixed_accuracy"):
                print(result.table(metric), "\n", flush=True)


if __name__ == "__main__":
    main()
