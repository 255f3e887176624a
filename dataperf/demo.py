"""The computations behind ``dataperf demo``, on real data available offline.

Three steps, each a function that returns a frozen result and prints nothing; the command
(:mod:`dataperf.cli.demo`) prints them and writes their files:

:func:`augment_images`
    Fashion-MNIST images (or scikit-learn's digits) augmented through ``augment_loader`` with
    DataLoader workers, and the same draws without workers.
:func:`augment_text`
    Real English sentences (WordNet's examples and definitions) augmented with dataperf's text
    ops and a TextAttack recipe.
:func:`propose_hard_examples`
    A small CNN trained on Fashion-MNIST (or digits); hard new test examples proposed from a
    planted pool (:func:`dataperf.bench.planted_scenario`) by ``HardnessSampler``, next to the
    baselines entropy, margin, BALD, k-center and BADGE (precision@k).

Each result has ``notes`` (what fell back or was skipped, one line each) and ``summary()``, the
JSON-ready dict that the demo's ``summary.json`` holds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataperf._errors import MissingResourceError

if TYPE_CHECKING:
    import numpy as np

    from dataperf.propose.proposal import Proposal

__all__ = [
    "COMPARED_BASELINES",
    "ImageDemo",
    "ProposeDemo",
    "TextDemo",
    "augment_images",
    "augment_text",
    "propose_hard_examples",
]

_DIGITS = "scikit-learn digits"
_FALLBACK = "\n      falling back to scikit-learn's digits."


# --------------------------------------------------------------------------------- images
@dataclass(frozen=True)
class ImageDemo:
    """Real images and their augmented views.

    Attributes
    ----------
    source : str
        Where the images come from, e.g. ``"Fashion-MNIST test split"``.
    originals : (N, H, W) or (N, H, W, C) array
        The images, as loaded.
    views : tuple of V arrays shaped like ``originals``
        View ``v`` of every image, drawn through ``augment_loader`` with ``workers`` workers.
    workers : int
        DataLoader worker processes used.
    seconds : float
        Wall-clock time of the epoch, worker start-up included.
    deterministic : bool
        Whether the same loader without workers gives the same first view.
    notes : tuple of str
        What fell back (e.g. to digits when Fashion-MNIST is not installed).
    """

    source: str
    originals: np.ndarray
    views: tuple[np.ndarray, ...]
    workers: int
    seconds: float
    deterministic: bool
    notes: tuple[str, ...] = ()

    @property
    def images_per_second(self) -> float:
        return len(self.originals) * len(self.views) / self.seconds

    def rows(self) -> list[list[np.ndarray]]:
        """One grid row per image: the original, then its views."""
        return [[image] + [v[i] for v in self.views] for i, image in enumerate(self.originals)]

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "images": len(self.originals),
            "views": len(self.views),
            "deterministic": self.deterministic,
        }


def _load_images(
    source: str, n: int, seed: int, notes: list[str]
) -> tuple[np.ndarray, np.ndarray, str]:
    import numpy as np

    from dataperf.datasets import load_digits, load_fashion_mnist

    if source in ("auto", "fashion-mnist"):
        try:
            images, labels = load_fashion_mnist("test")
            name = "Fashion-MNIST test split"
        except MissingResourceError as err:
            if source == "fashion-mnist":
                raise
            notes.append(f"note: {err}{_FALLBACK}")
            images, labels = load_digits()
            name = _DIGITS
    else:
        images, labels = load_digits()
        name = _DIGITS
    pick = np.random.default_rng(seed).choice(len(images), size=min(n, len(images)), replace=False)
    return images[np.sort(pick)], labels[np.sort(pick)], name


def image_pipeline() -> Any:
    """The demo's albumentations pipeline: affine, flip, brightness/contrast, dropout."""
    import albumentations as A

    return A.Compose(
        [
            A.Affine(scale=(0.85, 1.15), translate_percent=(-0.1, 0.1), rotate=(-20, 20), p=0.9),
            A.HorizontalFlip(p=0.5),
            A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.3, p=0.8),
            A.CoarseDropout(
                num_holes_range=(1, 2), hole_height_range=(4, 8), hole_width_range=(4, 8), p=0.5
            ),
        ]
    )


def augment_images(
    *, data: str = "auto", n: int = 12, views: int = 5, workers: int = 2, seed: int = 0
) -> ImageDemo:
    """Augment ``n`` real images (``data``: ``"auto"``, ``"fashion-mnist"`` or ``"digits"``)
    into ``views`` views each through ``augment_loader`` with ``workers`` DataLoader workers,
    and check that the loader without workers draws the same first views."""
    import torch
    from torch.utils.data import DataLoader

    from dataperf.augment.dataset import augment_loader

    notes: list[str] = []
    images, labels, name = _load_images(data, n, seed, notes)
    pairs = list(zip(images, labels.tolist()))
    pipeline = image_pipeline()
    loader = DataLoader(pairs, batch_size=max(1, min(8, len(pairs))), num_workers=workers)
    augmented = augment_loader(loader, pipeline, seed=seed, views=views)
    start = time.perf_counter()
    batches = list(augmented)  # epoch 0
    seconds = time.perf_counter() - start
    # views=1 keeps the usual (images, labels) batches; views>1 gives a list of view batches
    per_batch = [[b[0]] if views == 1 else b[0] for b in batches]
    drawn = [torch.cat([b[v] for b in per_batch]) for v in range(views)]
    # The same draws without workers: keyed by (seed, epoch, index), not by process.
    check = augment_loader(DataLoader(pairs, batch_size=len(pairs)), pipeline, seed=seed)
    same = torch.equal(next(iter(check))[0], drawn[0])
    return ImageDemo(
        source=name,
        originals=images,
        views=tuple(v.numpy() for v in drawn),
        workers=workers,
        seconds=seconds,
        deterministic=bool(same),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------- text
@dataclass(frozen=True)
class TextRun:
    """One text augmenter over the sentences: how many it changed, and how fast."""

    name: str
    changed: int
    sentences_per_second: float


@dataclass(frozen=True)
class TextDemo:
    """Real sentences and what each text augmenter made of them.

    Attributes
    ----------
    source : str
        Where the sentences come from.
    records : list of dict
        One per sentence: ``{"original": ..., <augmenter name>: output, ...}``.
    runs : tuple of TextRun
        Per augmenter, in the order of the records' keys.
    notes : tuple of str
        What fell back (built-in sentences when WordNet is absent).
    skipped : tuple of str
        The augmenters left out and why (WordNet or TextAttack absent), one note each.
    """

    source: str
    records: list[dict[str, str]]
    runs: tuple[TextRun, ...]
    notes: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    def liveliest(self, n: int = 2) -> list[dict[str, str]]:
        """The ``n`` records with the most changed outputs, in their original order."""
        changes = [sum(v != r["original"] for v in r.values()) for r in self.records]
        shown = sorted(range(len(self.records)), key=lambda i: -changes[i])[:n]
        return [self.records[i] for i in sorted(shown)]

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "sentences": len(self.records)}


def text_augmenters(use_textattack: bool) -> tuple[dict[str, Any], list[str]]:
    """The demo's text augmenters by name, and a note for each one left out."""
    from dataperf._wordnet import wordnet_source
    from dataperf.augment.textattack_adapter import recipe
    from dataperf.text import CharSwap, KeyboardTypo, SynonymReplace, WordDelete, WordSwap

    skipped: list[str] = []
    augmenters: dict[str, Any] = {
        "CharSwap": CharSwap(rate=0.2),
        "KeyboardTypo": KeyboardTypo(rate=0.2),
        "WordDelete": WordDelete(rate=0.15),
        "WordSwap": WordSwap(rate=0.2),
    }
    if wordnet_source() is not None:
        augmenters["SynonymReplace"] = SynonymReplace(rate=0.3)
    else:
        skipped.append(
            "note: WordNet is absent, skipping SynonymReplace (apt-get install wordnet-base)"
        )
    if use_textattack:
        try:
            name = "wordnet" if wordnet_source() is not None else "charswap"
            augmenters[f"textattack:{name}"] = recipe(name, pct_words_to_swap=0.2)
        except ImportError as err:
            skipped.append(f"note: skipping TextAttack: {err}")
    return augmenters, skipped


_BUILTIN_SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "She sells sea shells by the sea shore every summer morning.",
)


def augment_text(*, n: int = 8, seed: int = 0, textattack: bool = True) -> TextDemo:
    """Augment ``n`` real English sentences (WordNet's usage examples and definitions, or two
    built-in sentences without WordNet) once with each text augmenter, timing each."""
    from dataperf.augment.dataset import AugmentedDataset
    from dataperf.datasets import wordnet_sentences

    notes: list[str] = []
    try:
        sentences = wordnet_sentences(n, seed=seed)
        source = "WordNet usage examples and definitions"
    except MissingResourceError as err:
        notes.append(f"note: {err}\n      using built-in sentences instead.")
        sentences = list(_BUILTIN_SENTENCES[:n])
        source = "built-in sentences"
    records = [{"original": s} for s in sentences]
    augmenters, skipped = text_augmenters(textattack)
    runs = []
    for name, augmenter in augmenters.items():
        dataset = AugmentedDataset(sentences, augmenter, seed=seed)
        start = time.perf_counter()
        outputs = [dataset[i] for i in range(len(sentences))]
        rate = len(sentences) / max(time.perf_counter() - start, 1e-9)
        changed = sum(o != s for o, s in zip(outputs, sentences))
        runs.append(TextRun(name, changed, rate))
        for record, output in zip(records, outputs):
            record[name] = output
    return TextDemo(source, records, tuple(runs), tuple(notes), tuple(skipped))


# --------------------------------------------------------------------------------- propose
COMPARED_BASELINES = {
    "entropy": "entropy",
    "margin": "margin",
    "bald": "BALD",
    "kcenter": "k-center",
    "badge": "BADGE",
}
"""The :data:`dataperf.bench.BASELINES` the demo compares with, by name -> shown name."""


@dataclass(frozen=True)
class ProposeDemo:
    """A trained model's proposals from a planted pool, and how they compare.

    Attributes
    ----------
    dataset : str
        ``"fashion-mnist"`` or ``"digits"``.
    info : dict
        The scenario's ``info`` (``n_train``, ``n_test``, ``epochs``, ...).
    test_accuracy : float
        The trained model's accuracy on the test split.
    seconds : float
        Training, probing and proposing, wall-clock.
    pool_counts : dict
        Planted kind -> number of pool items (kinds with none left out).
    pool_useful : int
        Pool items that are clean and misclassified (useful new test examples).
    useful_fraction : float
        ``pool_useful / len(pool)``: the expected precision of a random pick.
    proposal : Proposal
        ``HardnessSampler(k).propose(pool, test=..., train=...)``.
    contents : dict
        What the proposals hold: ``useful``, ``clean_correct`` and each planted kind.
    precision : dict
        Method -> precision@k with seed ``seed`` (HardnessSampler, random, the baselines).
    table : str
        The markdown table of ``precision``.
    pool_images : array
        The pool's images, for a contact sheet of the proposals.
    notes : tuple of str
        What fell back (to digits when Fashion-MNIST is not installed).
    """

    dataset: str
    info: dict[str, Any]
    test_accuracy: float
    seconds: float
    pool_counts: dict[str, int]
    pool_useful: int
    useful_fraction: float
    proposal: Proposal
    contents: dict[str, int]
    precision: dict[str, float]
    table: str
    pool_images: Any = field(repr=False)
    seed: int = 0
    notes: tuple[str, ...] = ()

    @property
    def k(self) -> int:
        return len(self.proposal)

    @property
    def pool_size(self) -> int:
        return sum(self.pool_counts.values())

    def summary(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "n_train": self.info["n_train"],
            "n_test": self.info["n_test"],
            "epochs": self.info["epochs"],
            "test_accuracy": round(self.test_accuracy, 4),
            "seconds": round(self.seconds, 1),
            "pool": self.pool_counts,
            "pool_useful": self.pool_useful,
            "k": self.k,
            "proposals": self.contents,
            "precision_at_k": {name: round(v, 4) for name, v in self.precision.items()},
            "table": self.table,
        }


def _scenario(
    data: str, seed: int, n_train: int | None, epochs: int | None, notes: list[str]
) -> Any:
    from dataperf.bench.proposal import planted_scenario

    sizes = {"n_train": n_train, "epochs": epochs}
    if data in ("auto", "fashion-mnist"):
        try:
            return planted_scenario("fashion-mnist", seed=seed, **sizes)
        except MissingResourceError as err:
            if data == "fashion-mnist":
                raise
            notes.append(f"note: {err}{_FALLBACK}")
            if n_train is not None:  # a Fashion-MNIST size is too big for digits
                sizes["n_train"] = min(n_train, 700)
    return planted_scenario("digits", seed=seed, **sizes)


def propose_hard_examples(
    *,
    data: str = "auto",
    k: int = 100,
    n_train: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    baselines: Sequence[str] = tuple(COMPARED_BASELINES),
) -> ProposeDemo:
    """Train a small CNN on ``data`` (``n_train`` images, ``epochs`` epochs; ``None``: the
    scenario's defaults), propose ``k`` hard test examples from a planted pool with
    ``HardnessSampler`` (it never sees the pool labels), and score them and the
    ``baselines`` by precision@k: the fraction of proposals that are clean and misclassified."""
    from dataclasses import replace

    from dataperf.bench.planted import precision_at_k
    from dataperf.bench.proposal import evaluate, format_table
    from dataperf.datasets import FASHION_MNIST_CLASSES
    from dataperf.propose.baselines import BASELINES
    from dataperf.propose.sampler import HardnessSampler

    notes: list[str] = []
    start = time.perf_counter()
    sc = _scenario(data, seed, n_train, epochs, notes)
    fashion = sc.info["dataset"] == "fashion-mnist"
    names = list(FASHION_MNIST_CLASSES) if fashion else [str(c) for c in range(10)]
    pool, test, train = (
        replace(s, meta={**s.meta, "classes": names})
        for s in (sc.pool_signals, sc.test_signals, sc.train_signals)
    )
    k = min(k, len(pool))
    proposal = HardnessSampler(k, seed=seed).propose(pool, test=test, train=train)
    seconds = time.perf_counter() - start
    counts = {kind: n for kind, n in sc.pool.counts().items() if n}
    idx = proposal.indices
    kinds = sc.pool.kind[idx]
    useful = sc.useful[idx]
    contents = {
        "useful": int(useful.sum()),
        "clean_correct": int(((kinds == "clean") & ~useful).sum()),
        **{kind: int((kinds == kind).sum()) for kind in counts if kind != "clean"},
    }
    results = {"HardnessSampler": [precision_at_k(idx, sc.useful)]}
    results["random"] = [sc.useful_fraction]  # the expected precision of a random pick
    compared = {COMPARED_BASELINES.get(name, name): BASELINES[name] for name in baselines}
    results.update(evaluate(compared, pool, test, train, sc.useful, k, seeds=(seed,)))
    return ProposeDemo(
        dataset=sc.info["dataset"],
        info=dict(sc.info),
        test_accuracy=float(sc.test_accuracy),
        seconds=seconds,
        pool_counts=counts,
        pool_useful=int(sc.useful.sum()),
        useful_fraction=float(sc.useful_fraction),
        proposal=proposal,
        contents=contents,
        precision={name: float(values[0]) for name, values in results.items()},
        table=format_table(results, k=k),
        pool_images=sc.pool.images,
        seed=seed,
        notes=tuple(notes),
    )
