"""Do the labels mean what the model's outputs mean? (private)

:func:`label_agreement` measures, on labelled data, how often the model's top class equals the
label, and how much better it would be under the best one-to-one renaming of the classes (the
optimal assignment on the confusion matrix). :func:`check_label_agreement` turns that into a
warning (or an error, if asked) when the labels look wrong for the model:

- accuracy below ``2 / K`` (for two classes, below 60%): near chance, e.g. labels from another
  task, an untrained model, or inputs preprocessed differently from training;
- a renaming of the classes that raises accuracy by 30 points or more: the labels are in another
  class order than the model's outputs (e.g. class folders sorted by name while the model was
  trained with another order).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dataperf._errors import InputValueError
from dataperf._validate import check_choice

__all__ = ["LABEL_CHECKS", "Agreement", "LabelMismatchWarning", "check_label_agreement"]

LABEL_CHECKS = ("warn", "error", "off")
MIN_ITEMS = 20  # fewer labelled items say too little to warn about
PERMUTATION_GAIN = 0.30
_CHUNK = 1 << 20  # rows per argmax (memory-mapped probabilities of any size)


class LabelMismatchWarning(UserWarning):
    """The labels disagree with the model: near-chance accuracy, or a permuted class order."""


@dataclass(frozen=True)
class Agreement:
    """How the labels and the model's top class agree on ``n`` labelled items of ``k`` classes.

    ``remap[label]`` is the model class that items with that label are best matched to (the
    optimal assignment on the confusion matrix); ``remapped_accuracy`` is the accuracy under it.
    """

    n: int
    k: int
    accuracy: float
    remapped_accuracy: float
    remap: tuple[int, ...]

    @property
    def near_chance_below(self) -> float:
        """The accuracy under which agreement counts as near chance: 2/K (60% for K = 2)."""
        return 0.6 if self.k == 2 else 2.0 / self.k

    def problem(self) -> str | None:
        """``"permuted"``, ``"near_chance"`` or None (too few items also give None)."""
        if self.n < MIN_ITEMS:
            return None
        if self.remapped_accuracy - self.accuracy >= PERMUTATION_GAIN:
            return "permuted"
        if self.accuracy < self.near_chance_below:
            return "near_chance"
        return None


def label_agreement(probs: np.ndarray, labels: np.ndarray) -> Agreement:
    """:class:`Agreement` of ``labels`` (N,) with the top class of ``probs`` (N, K)."""
    from scipy.optimize import linear_sum_assignment

    n, k = probs.shape
    counts = np.zeros(k * k, dtype=np.int64)
    for start in range(0, n, _CHUNK):
        predicted = np.asarray(probs[start : start + _CHUNK]).argmax(axis=1)
        truth = np.asarray(labels[start : start + _CHUNK], dtype=np.int64)
        counts += np.bincount(truth * k + predicted, minlength=k * k)
    confusion = counts.reshape(k, k)  # [label, predicted]
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    remap = np.arange(k)
    remap[rows] = cols
    total = max(n, 1)
    return Agreement(
        n=n,
        k=k,
        accuracy=float(np.trace(confusion)) / total,
        remapped_accuracy=float(confusion[rows, cols].sum()) / total,
        remap=tuple(int(c) for c in remap),
    )


def _label(c: int, classes: Sequence[str] | None) -> str:
    return f"{c} ({classes[c]!r})" if classes is not None and c < len(classes) else str(c)


def implied_classes(agreement: Agreement, classes: Sequence[str]) -> list[str]:
    """The class names in the model's output order that the best renaming implies: model
    output ``remap[label]`` gets the name of ``label``."""
    implied = list(classes)
    for label, output in enumerate(agreement.remap):
        implied[output] = classes[label]
    return implied


_EXPECTED = (
    " If the set was chosen to be hard for this model (e.g. labelled proposals), this is "
    "expected: pass label_check='off' (--label-check off)."
)


def agreement_message(agreement: Agreement, classes: Sequence[str] | None = None) -> str:
    """One sentence: the accuracy, and what is wrong if the labels look wrong.

    ``classes`` are the names of the *labels* (e.g. the class folders); the model's outputs
    are named by number, since their names are what is in doubt.
    """
    a = agreement
    head = f"the model's top class equals the label for {a.accuracy:.1%} of {a.n:,} labelled items"
    problem = a.problem()
    if problem == "permuted":
        moved = [(label, c) for label, c in enumerate(a.remap) if label != c]
        shown = "; ".join(
            f"items labelled {_label(label, classes)} are mostly predicted as model output {c}"
            for label, c in moved[:4]
        )
        more = f" (and {len(moved) - 4} more)" if len(moved) > 4 else ""
        fix = "give the labels in the model's class order (CLI: --classes with the model's "
        if classes is not None and len(classes) == a.k:
            implied = implied_classes(a, classes)
            listed = ",".join(implied)
            suggestion = (
                f"--classes {listed}"
                if all("," not in n for n in implied) and len(listed) < 400
                else "--classes FILE listing them one per line"
            )
            fix += f"class names in its output order; these labels suggest {suggestion})"
        else:
            fix += "class names in its output order, as a comma list or a file)"
        return (
            f"{head}, but {a.remapped_accuracy:.1%} if the classes were renamed: {shown}{more}. "
            "The labels look like they are in another class order than the model's outputs "
            f"(e.g. class folders sorted by name). Fix: {fix}.{_EXPECTED}"
        )
    if problem == "near_chance":
        return (
            f"{head}, below {a.near_chance_below:.0%} (2/K for K = {a.k}): near chance. Either "
            "the labels do not mean what the model's outputs mean (another class order: give it "
            "with --classes; another task), or the inputs are not preprocessed as in training "
            "(--image-size, --grayscale, --mean/--std, --transform), or the model is untrained."
            + _EXPECTED
        )
    return head


def check_label_agreement(
    probs: np.ndarray,
    labels: np.ndarray | None,
    *,
    mode: str = "warn",
    classes: Sequence[str] | None = None,
    what: str = "the data",
    stacklevel: int = 2,
) -> Agreement | None:
    """Measure the agreement of ``labels`` with ``probs``; warn (``mode="warn"``), raise
    :class:`InputValueError` (``"error"``) or say nothing (``"off"``) when the labels look
    wrong for the model. Returns the :class:`Agreement`, or None without labels or when off."""
    check_choice(mode, "label_check", LABEL_CHECKS)
    if labels is None or mode == "off" or len(labels) == 0:
        return None
    agreement = label_agreement(probs, labels)
    if agreement.problem() is None:
        return agreement
    message = f"labels of {what}: {agreement_message(agreement, classes)}"
    if mode == "error":
        raise InputValueError(message)
    warnings.warn(message, LabelMismatchWarning, stacklevel=stacklevel + 1)
    return agreement
