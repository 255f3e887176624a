"""``dataperf demo``: the library's main jobs on real data available offline.

The computations are :func:`dataperf.demo.augment_images`, :func:`dataperf.demo.augment_text`
and :func:`dataperf.demo.propose_hard_examples`; this command only prints what they return and
writes their files (a preview grid, the text outputs, the proposals and their contact sheet, and
``summary.json``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataperf._term import escape
from dataperf.cli.common import non_negative, positive

if TYPE_CHECKING:
    from dataperf.demo import ImageDemo, ProposeDemo, TextDemo

HELP = "augment real images and sentences, propose hard test examples, offline"
DESCRIPTION = (
    "dataperf demo runs the library's main jobs on real data available offline: it augments "
    "Fashion-MNIST images (or scikit-learn's digits) through augment_loader with DataLoader "
    "workers, augments real English sentences (WordNet's examples and definitions) with "
    "dataperf's text ops and TextAttack, then trains a small CNN on Fashion-MNIST (or digits) and "
    "proposes hard new test examples from a pool of unseen images mixed with planted unlabelable "
    "items and near-copies of the test set, comparing HardnessSampler with entropy, margin, BALD, "
    "k-center and BADGE. It saves a preview grid, the proposals (JSON lines and a contact sheet) "
    "and a summary, and prints what it did."
)


def add_parser(commands: Any) -> None:
    """Add ``demo`` to the sub-command parsers ``commands``."""
    p = commands.add_parser("demo", help=HELP, description=DESCRIPTION)
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument(
        "--data",
        choices=["auto", "fashion-mnist", "digits"],
        default="auto",
        help="image data: Fashion-MNIST from Debian's dataset-fashion-mnist, or scikit-learn's "
        "digits; auto uses Fashion-MNIST when installed (default: auto)",
    )
    p.add_argument("--images", type=positive, default=12, help="images to augment (default 12)")
    p.add_argument("--views", type=positive, default=5, help="views per image (default 5)")
    p.add_argument("--sentences", type=positive, default=8, help="sentences (default 8)")
    p.add_argument("--workers", type=non_negative, default=2, help="DataLoader workers (default 2)")
    p.add_argument("--seed", type=non_negative, default=0, help="base seed (default 0)")
    p.add_argument(
        "--no-textattack", action="store_true", help="skip TextAttack (its import takes ~15 s)"
    )
    g = p.add_argument_group("proposing hard test examples")
    g.add_argument("--k", type=positive, default=100, help="test examples to propose (default 100)")
    g.add_argument(
        "--propose-train",
        type=positive,
        metavar="N",
        help="training images for the model (default: 8000 Fashion-MNIST, 700 digits)",
    )
    g.add_argument(
        "--epochs",
        type=positive,
        help="training epochs (default: 3 Fashion-MNIST, 15 digits)",
    )
    g.add_argument(
        "--no-propose",
        action="store_true",
        help="skip training a model and proposing hard test examples (~1 minute)",
    )
    p.set_defaults(run=run)


def _print_notes(notes: tuple[str, ...]) -> None:
    for note in notes:
        print(note)


def _images(args: argparse.Namespace, out: Path) -> ImageDemo:
    from dataperf.demo import augment_images
    from dataperf.viz import save_grid

    result = augment_images(
        data=args.data, n=args.images, views=args.views, workers=args.workers, seed=args.seed
    )
    grid = save_grid(result.rows(), out / "augment_preview.png")
    _print_notes(result.notes)
    n, views, workers = len(result.originals), len(result.views), result.workers
    print(
        f"images: {n} real images from {result.source}, {views} albumentations views each, "
        f"through augment_loader with num_workers={workers}: "
        f"{result.images_per_second:.0f} augmented images/s (incl. worker start-up)."
    )
    print(
        "        same outputs with num_workers=0 as with "
        f"num_workers={workers}: {'yes' if result.deterministic else 'NO'}"
    )
    print(f"        preview grid (left: original, then views) -> {grid}")
    return result


def _text(args: argparse.Namespace, out: Path) -> TextDemo:
    from dataperf._files import atomic_write_text
    from dataperf.demo import augment_text

    result = augment_text(n=args.sentences, seed=args.seed, textattack=not args.no_textattack)
    _print_notes(result.notes)
    print(
        f"text:   {len(result.records)} real English sentences ({result.source}), each seen "
        "once (speed includes loading WordNet or the synonym table):"
    )
    _print_notes(result.skipped)
    for r in result.runs:
        print(
            f"  {r.name:<20} {r.changed}/{len(result.records)} changed, "
            f"{r.sentences_per_second:,.0f} sentences/s"
        )
    for record in result.liveliest(2):
        print(f"  e.g. original:           {record['original']}")
        for name, value in record.items():
            if name != "original":
                print(f"       {name:<19} {value}")
    path = out / "text_augmentations.jsonl"
    lines = (json.dumps(r, ensure_ascii=False) + "\n" for r in result.records)
    atomic_write_text(path, "".join(lines))
    print(f"        all outputs -> {path}")
    return result


def _propose(args: argparse.Namespace, out: Path) -> ProposeDemo:
    from dataperf.demo import propose_hard_examples

    result = propose_hard_examples(
        data=args.data, k=args.k, n_train=args.propose_train, epochs=args.epochs, seed=args.seed
    )
    _print_notes(result.notes)
    fashion = result.dataset == "fashion-mnist"
    data = "Fashion-MNIST" if fashion else "scikit-learn digits"
    info, k = result.info, result.k
    print(
        f"propose: trained a SmallCNN on {info['n_train']} {data} images for {info['epochs']} "
        f"epoch(s): test accuracy {result.test_accuracy:.1%} on {info['n_test']} test images "
        f"({result.seconds:.0f} s incl. probing)."
    )
    labels = {
        "useful": "clean & misclassified (useful)",
        "clean_correct": "clean but correct",
        "clean": f"unseen {data} images (clean)",
        "blend": "blends of two classes",
        "ood": "out-of-domain " + ("digits" if fashion else "clothes"),
        "copy": "near-copies of test items",
    }
    print(
        f"        pool of {result.pool_size} unlabelled candidates: "
        + ", ".join(f"{n} {labels.get(kind, kind)}" for kind, n in result.pool_counts.items())
        + f"; {result.pool_useful} of them ({result.useful_fraction:.0%}) are clean and "
        "misclassified (useful new test examples). HardnessSampler never sees the pool labels."
    )
    print(f"        HardnessSampler({k}), the first 3 of {k} proposals:")
    for r in range(min(3, k)):
        print(f"  {escape(result.proposal.explain(r))}")
    print(
        f"        the {k} proposals hold: "
        + ", ".join(f"{n} {labels.get(kind, kind)}" for kind, n in result.contents.items())
        + "."
    )
    print(f"        precision@{k} (fraction of proposals that are useful), seed {result.seed}:")
    for name, value in result.precision.items():
        print(f"  {name:<16} {value:.2f}")
    jsonl = result.proposal.to_jsonl(out / "proposals.jsonl")
    sheet = result.proposal.contact_sheet(result.pool_images, out / "proposals.png")
    print(f"        proposals with explanations -> {jsonl}")
    print(f"        contact sheet (rank, prediction, confidence) -> {sheet}")
    return result


def run(args: argparse.Namespace) -> int:
    """``dataperf demo``: run each step, print what it did and write its files."""
    from dataperf._files import atomic_write_text, make_output_folder, os_errors

    out = make_output_folder(args.out, "--out")
    with os_errors(f"--out {out}"):
        summary = {
            "images": _images(args, out).summary(),
            "text": _text(args, out).summary(),
        }
        if not args.no_propose:
            summary["propose"] = _propose(args, out).summary()
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    print(f"done: outputs in {escape(out)}/")
    return 0
