"""The ``dataperf`` command.

``dataperf demo`` runs the library's main jobs on real data available offline: it augments
Fashion-MNIST images (or scikit-learn's digits) through ``augment_loader`` with DataLoader
workers, augments real English sentences (WordNet's examples and definitions) with dataperf's
text ops and TextAttack, then trains a small CNN on Fashion-MNIST (or digits) and proposes hard
new test examples from a pool of unseen images mixed with planted unlabelable items and
near-copies of the test set, comparing HardnessSampler with entropy, margin, BALD, k-center and
BADGE. It saves a preview grid, the proposals (JSON lines and a contact sheet) and a summary, and
prints what it did.

``dataperf probe`` runs a model once over data (an image folder, a .npy array or a Python
function returning a Dataset) and saves what it saw (probabilities, embeddings, labels, file
paths) as a Signals folder, e.g. on a GPU machine. It writes as it goes: after a crash or a
kill, the same command resumes. Under torchrun (torchrun --nproc_per_node=N -m dataperf probe
...) the processes share the batches.

``dataperf propose`` proposes hard new test examples from a pool of candidates: hard for the
model, labelable by a person, and unlike the current test set. Each of --pool, --test and
--train is a saved Signals folder or data (probed first with --model).

``dataperf bench`` runs a DataPerf-style task (the model and the test set held fixed, the data
varied) on real offline data and compares data-centric methods: training-data selection,
training-data debugging (finding flipped labels) or test-data proposal. It prints a table of
mean +- std over seeds and saves a plot and the results as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataperf._errors import InputError, InputValueError, MissingResourceError

if TYPE_CHECKING:  # the parser and --help import no numpy, torch or other heavy module
    import numpy as np


def _escape(text: object) -> str:
    """``text`` safe for a terminal: data-derived strings may hold escape sequences."""
    from dataperf._term import escape

    return escape(text)


def _load_images(source: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    import numpy as np

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
    from dataperf._store import atomic_write_text
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
    print(
        f"text:   {len(sentences)} real English sentences ({source}), each seen once "
        "(speed includes loading WordNet or the synonym table):"
    )
    for name, augmenter in _text_augmenters(not args.no_textattack).items():
        dataset = AugmentedDataset(sentences, augmenter, seed=args.seed)
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
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    print(f"        all outputs -> {path}")
    return {"source": source, "sentences": len(sentences)}


# dataperf.bench.BASELINES name -> shown name
_COMPARED = {"entropy": "entropy", "margin": "margin", "bald": "BALD", "kcenter": "k-center"}
_COMPARED["badge"] = "BADGE"


def _propose_scenario(args: argparse.Namespace) -> Any:
    from dataperf.bench import planted_scenario

    sizes = {"n_train": args.propose_train, "epochs": args.epochs}
    if args.data in ("auto", "fashion-mnist"):
        try:
            return planted_scenario("fashion-mnist", seed=args.seed, **sizes)
        except MissingResourceError as err:
            if args.data == "fashion-mnist":
                raise
            print(f"note: {err}\n      falling back to scikit-learn's digits.")
            if args.propose_train is not None:  # a Fashion-MNIST size is too big for digits
                sizes["n_train"] = min(args.propose_train, 700)
    return planted_scenario("digits", seed=args.seed, **sizes)


def _propose(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Train a small CNN, propose hard test examples from a planted pool, compare baselines."""
    from dataclasses import replace

    from dataperf import HardnessSampler
    from dataperf.bench import BASELINES, evaluate, format_table, precision_at_k
    from dataperf.datasets import FASHION_MNIST_CLASSES

    start = time.perf_counter()
    sc = _propose_scenario(args)
    fashion = sc.info["dataset"] == "fashion-mnist"
    names = list(FASHION_MNIST_CLASSES) if fashion else [str(c) for c in range(10)]
    pool, test, train = (
        replace(s, meta={**s.meta, "classes": names})
        for s in (sc.pool_signals, sc.test_signals, sc.train_signals)
    )
    k = min(args.k, len(pool))
    proposal = HardnessSampler(k, seed=args.seed).propose(pool, test=test, train=train)
    seconds = time.perf_counter() - start
    data = "Fashion-MNIST" if fashion else "scikit-learn digits"
    info = sc.info
    print(
        f"propose: trained a SmallCNN on {info['n_train']} {data} images for {info['epochs']} "
        f"epoch(s): test accuracy {sc.test_accuracy:.1%} on {info['n_test']} test images "
        f"({seconds:.0f} s incl. probing)."
    )
    counts = {kind: n for kind, n in sc.pool.counts().items() if n}
    labels = {
        "useful": "clean & misclassified (useful)",
        "clean_correct": "clean but correct",
        "clean": f"unseen {data} images (clean)",
        "blend": "blends of two classes",
        "ood": "out-of-domain " + ("digits" if fashion else "clothes"),
        "copy": "near-copies of test items",
    }
    print(
        f"        pool of {len(pool)} unlabelled candidates: "
        + ", ".join(f"{n} {labels.get(kind, kind)}" for kind, n in counts.items())
        + f"; {int(sc.useful.sum())} of them ({sc.useful_fraction:.0%}) are clean and "
        "misclassified (useful new test examples). HardnessSampler never sees the pool labels."
    )
    print(f"        HardnessSampler({k}), the first 3 of {k} proposals:")
    for r in range(min(3, k)):
        print(f"  {_escape(proposal.explain(r))}")
    idx = proposal.indices
    kinds = sc.pool.kind[idx]
    useful = sc.useful[idx]
    contents = {
        "useful": int(useful.sum()),
        "clean_correct": int(((kinds == "clean") & ~useful).sum()),
        **{kind: int((kinds == kind).sum()) for kind in counts if kind != "clean"},
    }
    print(
        f"        the {k} proposals hold: "
        + ", ".join(f"{n} {labels.get(kind, kind)}" for kind, n in contents.items())
        + "."
    )
    results = {"HardnessSampler": [precision_at_k(idx, sc.useful)]}
    results["random"] = [sc.useful_fraction]  # the expected precision of a random pick
    baselines = {shown: BASELINES[name] for name, shown in _COMPARED.items()}
    results.update(evaluate(baselines, pool, test, train, sc.useful, k, seeds=(args.seed,)))
    print(f"        precision@{k} (fraction of proposals that are useful), seed {args.seed}:")
    for name, values in results.items():
        print(f"  {name:<16} {values[0]:.2f}")
    jsonl = proposal.to_jsonl(out / "proposals.jsonl")
    sheet = proposal.contact_sheet(sc.pool.images, out / "proposals.png")
    print(f"        proposals with explanations -> {jsonl}")
    print(f"        contact sheet (rank, prediction, confidence) -> {sheet}")
    return {
        "dataset": info["dataset"],
        "n_train": info["n_train"],
        "n_test": info["n_test"],
        "epochs": info["epochs"],
        "test_accuracy": round(sc.test_accuracy, 4),
        "seconds": round(seconds, 1),
        "pool": counts,
        "pool_useful": int(sc.useful.sum()),
        "k": k,
        "proposals": contents,
        "precision_at_k": {name: round(v[0], 4) for name, v in results.items()},
        "table": format_table(results, k=k),
    }


def demo(args: argparse.Namespace) -> int:
    from dataperf._files import make_output_folder, os_errors
    from dataperf._store import atomic_write_text

    out = make_output_folder(args.out, "--out")
    with os_errors(f"--out {out}"):
        summary = {"images": _augment_images(args, out), "text": _augment_text(args, out)}
        if not args.no_propose:
            summary["propose"] = _propose(args, out)
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    print(f"done: outputs in {_escape(out)}/")
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


# --------------------------------------------------------------------------- probe and propose
_MODEL_HELP = (
    "the model: a TorchScript file (model.ts; its forward may return (logits, features) to "
    "give the embeddings); module:function, called with no arguments and "
    "returning an nn.Module; or module:Class with --state-dict FILE. The module may be a dotted "
    "name importable from the current folder or a path to a .py file (path/to/models.py:Net). "
    "Whole pickled models (torch.save(model)) are refused: they can run arbitrary code"
)
_DATA_HELP = (
    "an image folder (ImageFolder layout: one subfolder per class, labels from the sorted "
    "subfolder names or from --classes; or flat: images only, unlabelled), a .npy array "
    "(images.npy, or images.npy:labels.npy with (N,) integer labels; uint8 is scaled to "
    "[0, 1]), or module:function returning a Dataset"
)


def _float_at_least_zero(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value!r}") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return number


def _device_name(value: str) -> str:
    import torch

    try:
        torch.device(value)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"expected a torch device such as cpu, cuda, cuda:1 or mps; got {value!r}"
        ) from None
    return value


def _component_weights(value: str) -> dict[str, float]:
    weights = {}
    for part in filter(None, value.split(",")):
        name, sep, number = part.partition("=")
        try:
            weights[name.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep:
            raise argparse.ArgumentTypeError(
                f"expected NAME=NUMBER[,NAME=NUMBER...] such as hard=2,novel=0.5; got {value!r}"
            )
    return weights


def _add_model_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The options that say which model to run and how (shared by probe and propose)."""
    g = parser.add_argument_group("model (how the data is probed)")
    g.add_argument("--model", required=required, metavar="SPEC", help=_MODEL_HELP)
    g.add_argument(
        "--state-dict",
        metavar="FILE",
        help="weights for --model module:Class, written by torch.save(model.state_dict(), FILE);"
        " read with torch.load(weights_only=True); keys and shapes must match the model",
    )
    g.add_argument(
        "--layer",
        metavar="NAME",
        help="module whose output gives the embeddings (e.g. 'avgpool'; see "
        "model.named_modules()); default: the input of the model's last nn.Linear",
    )
    g.add_argument(
        "--mc-samples",
        type=_non_negative,
        default=0,
        metavar="T",
        help="extra forward passes with dropout on (MC dropout) to separate ambiguous inputs "
        "from ones the model has not learned; needs dropout layers (default 0: off)",
    )
    g.add_argument(
        "--outputs",
        choices=["logits", "probs", "log_probs"],
        default="logits",
        help="what the model returns; softmax is applied to logits only (default: logits; "
        "outputs that are already probabilities or log-probabilities are refused, naming this "
        "option)",
    )
    g.add_argument(
        "--label-check",
        choices=["warn", "error", "off"],
        default="warn",
        help="on labelled data, warn (or fail) when the model's accuracy is near chance (below "
        "2/K) or renaming the classes would raise it by 30 points or more, e.g. class folders "
        "whose sorted order is not the model's (default: warn)",
    )
    g.add_argument(
        "--batch-size", type=_positive, default=256, metavar="B", help="batch size (default 256)"
    )
    g.add_argument(
        "--device",
        type=_device_name,
        metavar="D",
        help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda when available, else cpu)",
    )
    g.add_argument(
        "--workers",
        type=_non_negative,
        default=0,
        metavar="W",
        help="DataLoader worker processes that read and decode the data (default 0: in the "
        "main process; 4-8 keep a GPU busy on image folders)",
    )
    g.add_argument(
        "--no-progress", action="store_true", help="do not show a progress bar while probing"
    )


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    """How images are turned into model inputs (shared by probe and propose)."""
    g = parser.add_argument_group("data preprocessing (image folders and .npy images)")
    g.add_argument(
        "--image-size",
        type=_positive,
        metavar="S",
        help="resize every image to S x S pixels (needed when images differ in size)",
    )
    g.add_argument(
        "--grayscale", action="store_true", help="convert images to one channel (e.g. MNIST)"
    )
    g.add_argument(
        "--mean",
        type=float,
        nargs="+",
        metavar="M",
        help="per-channel mean to subtract after scaling to [0, 1] (with --std), e.g. "
        "0.485 0.456 0.406 for ImageNet models",
    )
    g.add_argument(
        "--std",
        type=float,
        nargs="+",
        metavar="S",
        help="per-channel standard deviation to divide by (with --mean), e.g. 0.229 0.224 0.225",
    )
    g.add_argument(
        "--transform",
        metavar="MODULE:FUNCTION",
        help="function (no arguments) returning a callable that maps a PIL image to the model "
        "input, used instead of the default scaling (not with --mean/--std; --image-size and "
        "--grayscale are applied before it)",
    )
    g.add_argument(
        "--classes",
        metavar="NAMES",
        help="the model's class names in the order of its outputs: a comma list (cat,dog,fox) "
        "or a file (one name per line, or a JSON list). Class folders get their labels from "
        "it (matched exactly or ignoring case and punctuation) instead of from sorted order; "
        "captions and outputs show the names",
    )
    g.add_argument(
        "--skip-unreadable",
        action="store_true",
        help="image folders: decode every image once first and leave out those that cannot be "
        "read (listed in the output's meta.json under skipped_unreadable) instead of stopping",
    )


def _load_model(args: argparse.Namespace) -> Any:
    from dataperf._files import os_errors
    from dataperf._models import load_model

    what = f"--model {args.model}" + (f" --state-dict {args.state_dict}" if args.state_dict else "")
    with os_errors(what, fix="check that the files exist and are readable."):
        return load_model(args.model, state_dict=args.state_dict)


def _classes(args: argparse.Namespace) -> list[str] | None:
    """The ``--classes`` names (read once), or None."""
    from dataperf._loading import parse_classes

    if args.classes is None:
        return None
    if not hasattr(args, "class_names"):
        args.class_names = parse_classes(args.classes)
    return args.class_names


def _load_data(spec: str, args: argparse.Namespace) -> Any:
    from dataperf._loading import load_data

    data = load_data(
        spec,
        image_size=args.image_size,
        grayscale=args.grayscale,
        mean=args.mean,
        std=args.std,
        transform=args.transform,
        classes=_classes(args),
        skip_unreadable=args.skip_unreadable,
    )
    skipped = getattr(data, "skipped", None)
    if skipped:
        print(
            f"note: {len(skipped)} unreadable images of {spec} are left out (e.g. "
            f"{_escape(skipped[0]['error'])}); the Signals' meta lists them "
            "(skipped_unreadable).",
            file=sys.stderr,
        )
    return data


def _provenance(spec: str, data: Any, args: argparse.Namespace) -> dict[str, Any]:
    """What the Signals' meta records about where ``data`` came from."""
    meta: dict[str, Any] = {"source": spec}
    if _classes(args) is not None:
        meta["classes"] = _classes(args)
    if getattr(data, "skipped", None):
        meta["skipped_unreadable"] = data.skipped
    return meta


def _accuracy_line(what: str, agreement: Any) -> str:
    return (
        f"{what}: the model's accuracy on its labels is {agreement.accuracy:.1%} "
        f"({agreement.n:,} labelled items)"
    )


def _check_device(device: str | None) -> None:
    import torch

    if device is not None and torch.device(device).type == "cuda":
        if not torch.cuda.is_available():
            raise InputValueError(
                f"--device {device}: no CUDA GPU is visible to PyTorch here. Fix: run on a "
                "machine with a GPU (and a CUDA build of torch), or pass --device cpu."
            )


def _worker_error(err: BaseException, spec: str) -> InputValueError | None:
    """The one-line user error for an error that a DataLoader worker raised while reading
    ``spec`` (torch re-raises it with the worker's traceback in the message): bad input (an
    :class:`InputError`, or items of unequal size), else None (a bug or the user's own code,
    which keeps its type and traceback)."""
    text = str(err)
    last = [line for line in text.strip().splitlines() if line.strip()][-1]
    name, sep, message = last.partition(": ")
    message = message if sep and " " not in name else last
    if "stack expects each tensor to be equal size" in message:
        return _unequal_sizes(message, spec)
    return InputValueError(message) if isinstance(err, InputError) else None


def _unequal_sizes(first: str, spec: str) -> InputValueError:
    return InputValueError(
        f"the items of {spec} differ in size and cannot be batched ({first}). Fix: pass "
        "--image-size S to resize every image to S x S."
    )


def _probe_options(model: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The ``probe`` keyword options that the model options of ``args`` give."""
    from dataperf._models import ScriptedModel

    layer = args.layer
    if isinstance(model, ScriptedModel):
        if layer is not None:
            raise InputValueError(
                f"--layer {layer}: a TorchScript model hides its layers, so no layer can be "
                "chosen. Fix: export a model whose forward returns (logits, features) and drop "
                "--layer, or pass --model module:Class --state-dict FILE."
            )
        layer = ScriptedModel.LAYER
    return dict(
        layer=layer,
        mc_samples=args.mc_samples,
        batch_size=args.batch_size,
        device=args.device,
        num_workers=args.workers,
        progress=not args.no_progress,
        outputs=args.outputs,
        seed=args.seed,
        label_check=args.label_check,
    )


def _run_probe(call: Any, model: Any, spec: str) -> Any:
    """``call()``, with errors from the model pass over ``spec`` as one-line user errors, and
    a note when a TorchScript model gave only logits."""
    from dataperf._models import ScriptedModel

    try:
        result = call()
    except Exception as err:
        error = _probe_error(err, spec)
        if error is None:
            raise
        raise error from err
    if isinstance(model, ScriptedModel) and model.has_features is False:
        print(
            "note: the TorchScript model returns only logits, so its logits serve as embeddings; "
            "export one whose forward returns (logits, features) for better novelty and "
            "labelability scores.",
            file=sys.stderr,
        )
    return result


def _probe_data(model: Any, data: Any, name: str, spec: str, args: argparse.Namespace) -> Any:
    """Run :func:`dataperf.probe` over ``data`` (``--name spec``); record its class names and
    source in meta, and print the accuracy on labelled data."""
    from dataperf.probing import run_probe

    options = _probe_options(model, args)
    meta = _provenance(spec, data, args)
    signals, report = _run_probe(lambda: run_probe(model, data, meta=meta, **options), model, spec)
    if report.agreement is not None:
        print(_accuracy_line(f"--{name} {spec}", report.agreement), file=sys.stderr)
    return signals


def _describe_signals(signals: Any) -> str:
    parts = [f"{len(signals)} items", f"{signals.num_classes} classes"]
    if signals.embeddings is not None:
        parts.append(f"{signals.embeddings.shape[1]}-dim embeddings")
    if signals.mc_probs is not None:
        parts.append(f"{signals.mc_probs.shape[1]} MC-dropout samples")
    parts.append("labelled" if signals.labels is not None else "unlabelled")
    paths = signals[:1].ids.dtype.kind == "U"  # one row: loaded ids stay encoded
    parts.append("ids: file paths" if paths else "ids: positions")
    return ", ".join(parts)


def _probe_error(err: Exception, spec: str) -> Exception | None:
    """A one-line user error for an exception raised while probing ``spec``, or None."""
    if "DataLoader worker process" in str(err) and "Original Traceback" in str(err):
        return _worker_error(err, spec)
    if not isinstance(err, RuntimeError):
        return None
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if "stack expects each tensor to be equal size" in str(err):
        return _unequal_sizes(first, spec)
    if "on another rank" in first:
        return None
    return InputValueError(
        f"running the model on {spec} failed: {first}. Fix: check that --image-size, "
        "--grayscale, --mean/--std or --transform give the inputs the model was trained on "
        "(set DATAPERF_TRACEBACK=1 to see the traceback)."
    )


@contextlib.contextmanager
def _process_group(device: str | None) -> Any:
    """Join the torch.distributed group that ``torchrun`` describes (``WORLD_SIZE`` > 1):
    NCCL when the probe runs on CUDA, else gloo. Left as it is if already initialised."""
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        yield
        return
    cuda = torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda")
    # rank 0 merges the shards while the others wait: allow for a long merge
    dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(hours=2))
    try:
        yield
    finally:
        dist.destroy_process_group()


def probe_command(args: argparse.Namespace) -> int:
    """``dataperf probe``: run the model over the data, writing a resumable Signals folder.

    The output folder is checked before anything is loaded; results are written in shards as
    they come, a rerun of the same command resumes, and under ``torchrun`` the ranks share
    the batches (see ``dataperf.probe``).
    """
    from dataperf.probing import run_probe
    from dataperf.signals import check_output_dir

    out = check_output_dir(args.out, probe_run=True)
    _check_device(args.device)
    model = _load_model(args)
    data = _load_data(args.data, args)
    options = _probe_options(model, args)
    options.update(out=out, shard_size=args.shard_size, embeddings_dtype=args.embeddings_dtype)
    with _process_group(args.device):
        meta = _provenance(args.data, data, args)
        signals, report = _run_probe(
            lambda: run_probe(model, data, meta=meta, **options), model, args.data
        )
    if report.rank != 0:
        return 0
    if report.complete:
        print(f"{out} already holds this probe (same model, data and settings): loaded it")
    elif report.resumed:
        print(f"resumed: {report.resumed} of {report.batches} batches were already done in {out}")
    layer = signals.meta.get("layer")
    where = f"the output of {layer!r}" if args.layer else f"the input of {layer!r}"
    if layer == "embedding" and args.layer is None:  # a TorchScript model (ScriptedModel)
        where = "the model's output"
    ranks = f" on {report.world} processes" if report.world > 1 else ""
    print(f"probed {args.data}{ranks}: {_describe_signals(signals)}; embeddings: {where}")
    if report.agreement is not None:
        print(_accuracy_line("labels", report.agreement))
    print(f"saved Signals -> {out}/ (use it as --pool/--test/--train of dataperf propose)")
    return 0


def _is_signals_dir(source: str) -> bool:
    """Whether ``source`` is a Signals folder: format version 1 (meta.json + signals.npz) or
    2 (meta.json + .npy files), or a folder that ``dataperf probe --out`` has not finished yet
    (loading it then says how to finish it)."""
    folder = Path(source)
    markers = ("meta.json", "signals.npz", ".probe-run.json")
    return folder.is_dir() and any((folder / name).is_file() for name in markers)


def _resolve_sources(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """Each given source as Signals (a saved folder) or a Dataset; and the model if needed."""
    from dataperf.signals import Signals

    sources = {n: getattr(args, n) for n in ("pool", "test", "train") if getattr(args, n)}
    data_sources = [n for n, src in sources.items() if not _is_signals_dir(src)]
    if data_sources and args.model is None:
        named = ", ".join(f"--{n} {sources[n]}" for n in data_sources)
        raise InputValueError(
            f"{named}: not a saved Signals folder (written by dataperf probe or Signals.save), "
            "so it is data that must be probed first, and no --model was given. Fix: pass "
            "--model SPEC (and --state-dict FILE if needed), or pass Signals folders written by "
            "`dataperf probe`."
        )
    if args.model is not None and not data_sources:
        print("note: every source is a saved Signals folder; --model is not used.")
    model = _load_model(args) if data_sources else None
    resolved = {
        name: _load_data(src, args) if name in data_sources else Signals.load(src)
        for name, src in sources.items()
    }
    return resolved, model


def _sheet_images(
    pool: Any, signals: Any, proposal: Any, image_root: str | None, *, explicit: bool
) -> Any:
    """What ``Proposal.contact_sheet`` can show for the pool, or None when it is not images.

    A Dataset from ``module:function`` is shown only when asked for (``--sheet``): its items
    may not be images.
    """
    from dataperf._loading import ArrayDataset, ImageFiles, is_image_path

    if isinstance(pool, ImageFiles):
        return pool.paths
    if isinstance(pool, ArrayDataset):
        return pool.array if pool.array.ndim in (3, 4) else None
    if pool is not signals:
        return pool if explicit else None
    if signals.ids.dtype.kind != "U":
        return None
    from dataperf._term import escape
    from dataperf.viz import confine_paths

    indices = [int(i) for i in proposal.indices]
    try:  # untrusted ids: no file outside the image root (default: the current folder)
        chosen = confine_paths(
            [signals.ids[i] for i in indices], image_root or Path.cwd(), what="pool ids"
        )
    except InputValueError as err:
        if explicit:
            raise
        print(f"note: no contact sheet: {escape(err)}", file=sys.stderr)
        return None
    if all(is_image_path(p) and p.is_file() for p in chosen):
        return dict(zip(indices, map(str, chosen)))  # indexable by pool position
    return None


def _write_sheet(args: argparse.Namespace, pool: Any, signals: Any, proposal: Any) -> Path | None:
    from dataperf._files import os_errors
    from dataperf._term import escape

    if args.no_sheet:
        return None
    explicit = args.sheet is not None
    path = (
        Path(args.sheet)
        if explicit
        else Path(args.out).with_name(f"{Path(args.out).stem}_sheet.png")
    )
    images = _sheet_images(pool, signals, proposal, args.image_root, explicit=explicit)
    if images is None:
        if explicit:
            raise InputValueError(
                f"--sheet {args.sheet}: the pool is not images (got ids such as "
                f"{escape(proposal.ids[0], newlines=False)}); a contact sheet needs an image "
                "folder, a .npy image array, or Signals whose ids are paths of existing image "
                "files (see --image-root)."
            )
        if pool is signals and signals.ids.dtype.kind == "U":
            print(
                "note: no contact sheet: pool ids such as "
                f"{escape(proposal.ids[0], newlines=False)} are not image "
                "files here; pass --image-root DIR if they are relative to another folder.",
                file=sys.stderr,
            )
        return None
    try:
        with os_errors(
            f"--sheet {path}",
            fix="check that the images are readable and that "
            "the sheet's folder is writable, or pass --no-sheet.",
        ):
            return proposal.contact_sheet(images, path, columns=args.sheet_columns)
    except (ValueError, TypeError) as err:
        if explicit:
            raise
        print(f"note: no contact sheet: {escape(err)}", file=sys.stderr)
        return None


def _saved_signals(signals: Any, name: str, spec: str, args: argparse.Namespace) -> Any:
    """A Signals folder given as ``--name spec``: named by ``--classes`` if given, its labels
    checked against the model's outputs (as probe does) and its accuracy printed."""
    from dataclasses import replace

    from dataperf._agreement import check_label_agreement

    classes = _classes(args)
    if classes is not None:
        if len(classes) != signals.num_classes:
            raise InputValueError(
                f"--classes gives {len(classes)} names, but --{name} {spec} has "
                f"{signals.num_classes} classes. Fix: one name per class, in the model's order."
            )
        signals = replace(signals, meta={**signals.meta, "classes": classes})
    agreement = check_label_agreement(
        signals.probs,
        signals.labels,
        mode=args.label_check,
        classes=signals.meta.get("classes"),
        what=f"--{name} {spec}",
    )
    if agreement is not None:
        print(_accuracy_line(f"--{name} {spec}", agreement), file=sys.stderr)
    return signals


def propose_command(args: argparse.Namespace) -> int:
    """``dataperf propose``: pick k hard, labelable, novel pool items and write them out."""
    from dataperf._files import os_errors
    from dataperf.propose.sampler import HardnessSampler
    from dataperf.signals import Signals

    _check_device(args.device)
    sampler = HardnessSampler(
        args.k,
        weights=args.weights,
        diversity=args.diversity,
        seed=args.seed,
        search=args.search,
        device=args.device,
    )
    resolved, model = _resolve_sources(args)
    pool_size = len(resolved["pool"])
    if args.k > pool_size:
        raise InputValueError(
            f"--k {args.k} is more than the {pool_size} items of the pool {args.pool}. Fix: pass "
            f"--k {pool_size} or less, or a larger pool."
        )
    signals = {}
    for name, value in resolved.items():
        if isinstance(value, Signals):
            signals[name] = _saved_signals(value, name, getattr(args, name), args)
            continue
        print(f"probing --{name} {getattr(args, name)} ({len(value)} items)...", file=sys.stderr)
        signals[name] = _probe_data(model, value, name, getattr(args, name), args)
        if args.save_signals:
            with os_errors(f"--save-signals {args.save_signals}"):
                folder = signals[name].save(Path(args.save_signals) / name)
            print(f"saved {name} Signals -> {folder}/", file=sys.stderr)
    proposal = sampler.propose(
        signals["pool"], test=signals.get("test"), train=signals.get("train")
    )
    with os_errors(f"--out {args.out}"):
        written = [proposal.to_jsonl(args.out)]
    if args.csv:
        with os_errors(f"--csv {args.csv}"):
            written.append(proposal.to_csv(args.csv))
    sheet = _write_sheet(args, resolved["pool"], signals["pool"], proposal)
    if sheet is not None:
        written.append(sheet)
    used = ", ".join(f"{n}: {len(s)} items" for n, s in signals.items() if n != "pool")
    shown = min(args.show, len(proposal))
    print(
        f"proposed {len(proposal)} of {pool_size} pool items ({used or 'no test or train set'})"
        + (f"; top {shown}:" if shown else ".")
    )
    for rank in range(shown):
        print(f"  {_escape(proposal.explain(rank))}")
    print("wrote " + ", ".join(_escape(p) for p in written))
    return 0


def _add_probe_command(commands: Any) -> None:
    p = commands.add_parser(
        "probe",
        help="run a model over data once; save its Signals (e.g. on a GPU machine)",
        description=__doc__.split("\n\n")[2].replace("``", ""),
    )
    p.add_argument("--data", required=True, metavar="SPEC", help=_DATA_HELP)
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder to write the Signals to (created if needed; checked before the model "
        "runs). Results are written in shards as they come: after a crash or kill, run the "
        "same command again to resume. Under torchrun the processes share the batches",
    )
    _add_model_options(p, required=True)
    _add_data_options(p)
    p.add_argument(
        "--seed", type=_non_negative, default=0, help="seed of the MC-dropout passes (default 0)"
    )
    g = p.add_argument_group("output")
    g.add_argument(
        "--shard-size",
        type=_positive,
        metavar="N",
        help="items per shard written to DIR (rounded up to whole batches): at most this much "
        "work is lost to a kill (default 10000)",
    )
    g.add_argument(
        "--embeddings-dtype",
        choices=["float32", "float16"],
        default="float32",
        help="store the embeddings as float16 to halve their size, at ~3 significant digits "
        "(default float32)",
    )
    p.set_defaults(run=probe_command)


def add_propose_arguments(parser: argparse.ArgumentParser, *, model_required: bool = False) -> None:
    """Add the ``propose`` options to ``parser`` (also used by scripts/propose_hard_examples.py)."""
    sources = parser.add_argument_group(
        "sources",
        "Each SRC is a Signals folder written by `dataperf probe` (or Signals.save), or data "
        "that is probed first with --model: " + _DATA_HELP + ".",
    )
    sources.add_argument(
        "--pool", required=True, metavar="SRC", help="the candidates to choose from (required)"
    )
    sources.add_argument(
        "--test",
        metavar="SRC",
        help="the current test set: its labels calibrate the model's confidence, and proposals "
        "are chosen unlike its items",
    )
    sources.add_argument(
        "--train",
        metavar="SRC",
        help="the training set: defines what typical, labelable data looks like",
    )
    out = parser.add_argument_group("selection and outputs")
    out.add_argument(
        "--k", type=_positive, default=100, help="how many examples to propose (default 100)"
    )
    out.add_argument(
        "--diversity",
        type=_float_at_least_zero,
        default=1.0,
        metavar="X",
        help="how different proposals must be from each other, in units of the typical spacing "
        "between neighbouring examples; 0 takes the plain top k (default 1.0)",
    )
    out.add_argument(
        "--weights",
        type=_component_weights,
        metavar="NAME=W,...",
        help="exponents of the score components hard, labelable, novel (default 1 each), "
        "e.g. hard=2,novel=0.5; 0 ignores a component",
    )
    out.add_argument(
        "--seed",
        type=_non_negative,
        default=0,
        help="seed for subsampling and MC dropout (default 0)",
    )
    out.add_argument(
        "--search",
        choices=["auto", "exact", "approximate"],
        default="auto",
        help="neighbour search behind the scores: exact (equal to a brute force), approximate "
        "(k-means cells: pools of millions on a CPU; needs dataperf[scale]), or auto: by size "
        "and device (default). Ranking runs on --device (default: the GPU when there is one)",
    )
    out.add_argument(
        "--out",
        default="proposals.jsonl",
        metavar="FILE",
        help="JSON-lines file of the proposals: rank, pool index, id (file path for image "
        "folders), prediction, confidence, scores, explanation (default: proposals.jsonl)",
    )
    out.add_argument("--csv", metavar="FILE", help="also write the proposals as CSV")
    out.add_argument(
        "--sheet",
        metavar="FILE.png",
        help="contact sheet of the proposed images; written by default next to --out as "
        "<stem>_sheet.png when the pool is images (an image folder, a .npy image array, or "
        "Signals whose ids are image file paths)",
    )
    out.add_argument("--no-sheet", action="store_true", help="do not write a contact sheet")
    out.add_argument(
        "--sheet-columns",
        type=_positive,
        default=10,
        metavar="N",
        help="images per row of the contact sheet (default 10)",
    )
    out.add_argument(
        "--image-root",
        metavar="DIR",
        help="folder that holds the images of a Signals pool, for the contact sheet: relative "
        "file-path ids are relative to it, absolute ones must lie inside it; no file outside "
        "it is read, symbolic links included (default: the current folder)",
    )
    out.add_argument(
        "--save-signals",
        metavar="DIR",
        help="save the Signals of every probed source to DIR/pool, DIR/test, DIR/train, to "
        "propose again later without the model",
    )
    out.add_argument(
        "--show",
        type=_non_negative,
        default=5,
        metavar="N",
        help="proposals to print with their explanation (default 5)",
    )
    _add_model_options(parser, required=model_required)
    _add_data_options(parser)
    parser.set_defaults(run=propose_command)


def _add_propose_command(commands: Any) -> None:
    p = commands.add_parser(
        "propose",
        help="propose hard, labelable, novel new test examples from a pool",
        description=__doc__.split("\n\n")[3].replace("``", ""),
    )
    add_propose_arguments(p)


# --------------------------------------------------------------------------- bench
# `dataperf bench TASK`: the DataPerf-style tasks of dataperf.bench.tasks.


def _bench_method(spec: str) -> Any:
    """A built-in method name, or the callable named by ``module:function``."""
    from dataperf._specs import callable_attribute, split_spec

    if split_spec(spec) is None:
        return spec  # a built-in name; the task checks it and lists the valid names
    return callable_attribute(spec, "--method")[0]


# the names of dataperf.bench.tasks.TASKS and DATASETS (kept here so --help imports no torch;
# tests/test_cli_safety.py checks that they agree)
_BENCH_TASKS = ("selection", "debugging", "proposal")
_BENCH_DATASETS = ("digits", "fashion-mnist")


def bench_methods(task: str | None, method: Sequence[str] | None) -> tuple[str, list[str]]:
    """The task and the method specs of ``dataperf bench``, from the parsed TASK and --method.

    ``--method`` takes several values, each a name or a comma list (``--method random,loss``),
    and may be repeated. Given before the task (``--method random loss debugging``) it takes
    the task name too: a trailing task name is moved back to TASK (no method is named like a
    task, so this is unambiguous).
    """
    specs = [part.strip() for value in method or () for part in value.split(",")]
    if task is None and specs and specs[-1] in _BENCH_TASKS:
        task = specs.pop()
    if task is None:
        raise InputValueError(
            f"no TASK given; expected one of {', '.join(_BENCH_TASKS)}. Fix: name the task "
            "first, e.g. dataperf bench debugging --method random loss."
        )
    if "" in specs or (method is not None and not specs):
        raise InputValueError(
            f"--method {' '.join(method or ())!r} holds an empty name. Fix: give method names "
            "separated by spaces or commas, e.g. --method random,loss."
        )
    return task, specs


def bench_command(args: argparse.Namespace) -> int:
    from dataperf._files import make_output_folder, os_errors
    from dataperf.bench.tasks import builtin_methods, get_task

    args.task, chosen = bench_methods(args.task, args.method)
    task = get_task(args.task)
    specs = chosen or builtin_methods(args.task)
    methods: dict[str, Any] = {}
    for spec in specs:
        method = _bench_method(spec)
        # module:function is shown by its function name (the whole spec if that name is taken)
        name = spec if isinstance(method, str) else spec.rsplit(":", 1)[1]
        if name in methods:
            name = spec
        if name in methods:
            raise InputValueError(f"--method {spec!r} is given twice; name each method once.")
        methods[name] = method
    out = make_output_folder(args.out, "--out")  # before the long run
    start = time.perf_counter()
    result = task(methods, dataset=args.dataset, seeds=tuple(range(args.seeds)))
    seconds = time.perf_counter() - start
    print(_escape(result.table()))
    with os_errors(f"--out {out}"):
        png = result.plot(out / f"{args.task}.png")
        js = result.to_json(out / f"{args.task}.json")
    print(
        f"\n{args.task} on {args.dataset}, {args.seeds} seed(s): {seconds:.1f} s; "
        f"wrote {_escape(png)}, {_escape(js)}"
    )
    return 0


def _add_bench_command(commands: Any) -> None:
    p = commands.add_parser(
        "bench",
        help="benchmark data-centric methods on a DataPerf-style task (model and test fixed)",
        description=__doc__.split("\n\n")[4].replace("``", ""),
    )
    p.add_argument(
        "task",
        nargs="?",
        choices=_BENCH_TASKS,
        metavar="TASK",
        help="selection (pick a training subset under a budget), debugging (rank training "
        "items to find flipped labels) or proposal (propose useful new test examples from a "
        "planted pool)",
    )
    p.add_argument(
        "--method",
        action="extend",
        nargs="+",
        metavar="NAME_OR_module:function",
        help="methods to compare, separated by spaces or commas (repeatable; default: every "
        "built-in of the task). Name the TASK first, or last after the methods. A built-in "
        "name (selection: random kcenter facility_location el2n knn_shapley; debugging: random "
        "loss self_confidence margin confident_learning knn ensemble; proposal: dataperf random "
        "entropy margin least_confidence bald kcenter badge) or module:function (or "
        "path/to/file.py:function) with the task's signature: selection f(pool, budget, seed) "
        "-> indices; debugging f(signals) -> ranking; proposal f(pool, test, train, k, seed) "
        "-> indices",
    )
    p.add_argument(
        "--dataset",
        choices=_BENCH_DATASETS,
        default="digits",
        help="scikit-learn's digits (always available) or Fashion-MNIST (Debian package "
        "dataset-fashion-mnist) (default: digits)",
    )
    p.add_argument(
        "--seeds",
        type=_positive,
        default=3,
        metavar="N",
        help="run every method with seeds 0..N-1; the table shows mean +- std (default 3)",
    )
    p.add_argument(
        "--out",
        default="runs/bench",
        metavar="DIR",
        help="folder for DIR/<task>.png (plot) and DIR/<task>.json (results; created if "
        "needed) (default: runs/bench)",
    )
    p.set_defaults(run=bench_command)


def run_parsed(args: argparse.Namespace, prog: str) -> int:
    """Run a parsed command. Bad input (a :class:`dataperf.InputError`, whatever the command
    or library code raised it) becomes one line ``prog: message`` and exit code 2; any other
    exception is a bug and keeps its traceback. ``DATAPERF_TRACEBACK=1`` shows the traceback of
    input errors too.

    Ids, paths and class names come from data: what a command prints or warns passes through
    ``escape()``, so escape sequences in them show as text instead of acting. albumentations'
    update check over the network is turned off for this process (a value you set is kept).
    """
    from dataperf._term import EscapingWriter, escape, escaping_showwarning

    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    formatwarning = warnings.formatwarning
    with contextlib.redirect_stdout(EscapingWriter(sys.stdout)), warnings.catch_warnings():
        warnings.showwarning = escaping_showwarning(warnings.showwarning)
        warnings.formatwarning = _one_line_warning(prog)
        try:
            return args.run(args)
        except InputError as err:
            if os.environ.get("DATAPERF_TRACEBACK"):
                raise
            print(f"{prog}: {escape(err)}", file=sys.stderr)
            return 2
        finally:
            warnings.formatwarning = formatwarning


def _one_line_warning(prog: str) -> Any:
    """``warnings.formatwarning`` for the CLI: ``prog: warning: message``, without the file,
    line and source line of the library code that warned (meaningless to a CLI user); a
    category other than UserWarning is named."""

    def format(message: Any, category: Any, filename: str, lineno: int, line: Any = None) -> str:
        kind = "" if category is UserWarning else f" ({category.__name__})"
        return f"{prog}: warning{kind}: {message}\n"

    return format


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dataperf", description="Iterate on data to improve deep-learning models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "demo",
        help="augment real images and sentences, propose hard test examples, offline",
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
    g = p.add_argument_group("proposing hard test examples")
    g.add_argument(
        "--k", type=_positive, default=100, help="test examples to propose (default 100)"
    )
    g.add_argument(
        "--propose-train",
        type=_positive,
        metavar="N",
        help="training images for the model (default: 8000 Fashion-MNIST, 700 digits)",
    )
    g.add_argument(
        "--epochs",
        type=_positive,
        help="training epochs (default: 3 Fashion-MNIST, 15 digits)",
    )
    g.add_argument(
        "--no-propose",
        action="store_true",
        help="skip training a model and proposing hard test examples (~1 minute)",
    )
    p.set_defaults(run=demo)
    _add_probe_command(commands)
    _add_propose_command(commands)
    _add_bench_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # albumentations checks for updates over the network when imported, unless this is set;
    # set it for this process before any command can import it (a user's value is kept).
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    args = build_parser().parse_args(argv)
    return run_parsed(args, f"dataperf {args.command}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
