"""The ``dataperf`` command.

``dataperf demo`` runs the library's main job on real data available offline: it augments
Fashion-MNIST images (or scikit-learn's digits) through ``augment_loader`` with DataLoader
workers, augments real English sentences (WordNet's examples and definitions) with dataperf's
text ops and TextAttack, saves a preview grid and prints what it did.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._errors import MissingResourceError


def _load_images(source: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    from dataperf import datasets

    if source in ("auto", "fashion-mnist"):
        try:
            images, labels = datasets.load_fashion_mnist("test")
            name = "Fashion-MNIST test split"
        except MissingResourceError as err:
            if source == "fashion-mnist":
                raise
            print(f"note: {err}\n      falling back to scikit-learn's digits.")
            images, labels = datasets.load_digits()
            name = "scikit-learn digits"
    else:
        images, labels = datasets.load_digits()
        name = "scikit-learn digits"
    pick = np.random.default_rng(seed).choice(len(images), size=min(n, len(images)), replace=False)
    return images[np.sort(pick)], labels[np.sort(pick)], name


def _image_pipeline() -> Any:
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


def _augment_images(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import torch
    from torch.utils.data import DataLoader

    from dataperf import augment_loader
    from dataperf.viz import save_grid

    images, labels, name = _load_images(args.data, args.images, args.seed)
    pairs = list(zip(images, labels.tolist()))
    pipeline = _image_pipeline()
    loader = DataLoader(pairs, batch_size=max(1, min(8, len(pairs))), num_workers=args.workers)
    augmented = augment_loader(loader, pipeline, seed=args.seed, views=args.views)
    start = time.perf_counter()
    batches = list(augmented)  # epoch 0
    seconds = time.perf_counter() - start
    # views=1 keeps the usual (images, labels) batches; views>1 gives a list of view batches
    per_batch = [[b[0]] if args.views == 1 else b[0] for b in batches]
    views = [torch.cat([b[v] for b in per_batch]) for v in range(args.views)]
    # The same draws without workers: keyed by (seed, epoch, index), not by process.
    check = augment_loader(DataLoader(pairs, batch_size=len(pairs)), pipeline, seed=args.seed)
    same = torch.equal(next(iter(check))[0], views[0])
    rows = [[images[i]] + [v[i].numpy() for v in views] for i in range(len(pairs))]
    grid = save_grid(rows, out / "augment_preview.png")
    print(
        f"images: {len(pairs)} real images from {name}, {args.views} albumentations views each, "
        f"through augment_loader with num_workers={args.workers}: "
        f"{len(pairs) * args.views / seconds:.0f} augmented images/s (incl. worker start-up)."
    )
    print(
        "        same outputs with num_workers=0 as with "
        f"num_workers={args.workers}: {'yes' if same else 'NO'}"
    )
    print(f"        preview grid (left: original, then views) -> {grid}")
    return {"source": name, "images": len(pairs), "views": args.views, "deterministic": same}


def _text_augmenters(use_textattack: bool) -> dict[str, Any]:
    from dataperf import text

    augmenters: dict[str, Any] = {
        "CharSwap": text.CharSwap(rate=0.2),
        "KeyboardTypo": text.KeyboardTypo(rate=0.2),
        "WordDelete": text.WordDelete(rate=0.15),
        "WordSwap": text.WordSwap(rate=0.2),
    }
    from dataperf._wordnet import wordnet_source

    if wordnet_source() is not None:
        augmenters["SynonymReplace"] = text.SynonymReplace(rate=0.3)
    else:
        print("note: WordNet is absent, skipping SynonymReplace (apt-get install wordnet-base)")
    if use_textattack:
        try:
            name = "wordnet" if wordnet_source() is not None else "charswap"
            augmenters[f"textattack:{name}"] = text.recipe(name, pct_words_to_swap=0.2)
        except ImportError as err:
            print(f"note: skipping TextAttack: {err}")
    return augmenters


def _augment_text(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    from dataperf import AugmentedDataset
    from dataperf.datasets import wordnet_sentences

    try:
        sentences = wordnet_sentences(args.sentences, seed=args.seed)
        source = "WordNet usage examples and definitions"
    except MissingResourceError as err:
        print(f"note: {err}\n      using built-in sentences instead.")
        sentences = [
            "The quick brown fox jumps over the lazy dog near the river bank.",
            "She sells sea shells by the sea shore every summer morning.",
        ][: args.sentences]
        source = "built-in sentences"
    records = [{"original": s} for s in sentences]
    print(f"text:   {len(sentences)} real English sentences ({source}); speed after warm-up:")
    for name, augmenter in _text_augmenters(not args.no_textattack).items():
        dataset = AugmentedDataset(sentences, augmenter, seed=args.seed)
        dataset[0]  # warm-up: SynonymReplace and WordNet recipes load WordNet on first use
        start = time.perf_counter()
        outputs = [dataset[i] for i in range(len(sentences))]
        rate = len(sentences) / max(time.perf_counter() - start, 1e-9)
        changed = sum(o != s for o, s in zip(outputs, sentences))
        print(f"  {name:<20} {changed}/{len(sentences)} changed, {rate:,.0f} sentences/s")
        for record, output in zip(records, outputs):
            record[name] = output
    changes = [sum(v != r["original"] for v in r.values()) for r in records]
    shown = sorted(range(len(records)), key=lambda i: -changes[i])[:2]  # the liveliest two
    for record in (records[i] for i in sorted(shown)):
        print(f"  e.g. original:           {record['original']}")
        for name, value in record.items():
            if name != "original":
                print(f"       {name:<19} {value}")
    path = out / "text_augmentations.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    print(f"        all outputs -> {path}")
    return {"source": source, "sentences": len(sentences)}


def demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"images": _augment_images(args, out), "text": _augment_text(args, out)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"done: outputs in {out}/")
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return number


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dataperf", description="Iterate on data to improve deep-learning models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "demo",
        help="augment real images and sentences offline; save a preview",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument(
        "--data",
        choices=["auto", "fashion-mnist", "digits"],
        default="auto",
        help="image data: Fashion-MNIST from Debian's dataset-fashion-mnist, or scikit-learn's "
        "digits; auto uses Fashion-MNIST when installed (default: auto)",
    )
    p.add_argument("--images", type=_positive, default=12, help="images to augment (default 12)")
    p.add_argument("--views", type=_positive, default=5, help="views per image (default 5)")
    p.add_argument("--sentences", type=_positive, default=8, help="sentences (default 8)")
    p.add_argument(
        "--workers", type=_non_negative, default=2, help="DataLoader workers (default 2)"
    )
    p.add_argument("--seed", type=_non_negative, default=0, help="base seed (default 0)")
    p.add_argument(
        "--no-textattack", action="store_true", help="skip TextAttack (its import takes ~15 s)"
    )
    p.set_defaults(run=demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except MissingResourceError as err:
        print(f"dataperf {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
