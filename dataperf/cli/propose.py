"""``dataperf propose``: propose hard, labelable, novel new test examples from a pool.

Each of ``--pool``, ``--test`` and ``--train`` is a saved Signals folder or data, probed first
with ``--model``; :class:`dataperf.propose.sampler.HardnessSampler` ranks the pool and the
proposals are written as JSON lines (optionally CSV) with a contact sheet when the pool is images.
:func:`add_propose_arguments` is also the parser of scripts/propose_hard_examples.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dataperf._errors import InputValueError
from dataperf._term import escape
from dataperf.cli.common import (
    DATA_HELP,
    accuracy_line,
    add_data_options,
    add_model_options,
    check_device,
    class_names,
    float_at_least_zero,
    load_data_source,
    model_from_args,
    non_negative,
    positive,
    probe_data,
)

HELP = "propose hard, labelable, novel new test examples from a pool"
DESCRIPTION = (
    "dataperf propose proposes hard new test examples from a pool of candidates: hard for the "
    "model, labelable by a person, and unlike the current test set. Each of --pool, --test and "
    "--train is a saved Signals folder or data (probed first with --model)."
)


def add_parser(commands: Any) -> None:
    """Add ``propose`` to the sub-command parsers ``commands``."""
    add_propose_arguments(commands.add_parser("propose", help=HELP, description=DESCRIPTION))


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


def add_propose_arguments(parser: argparse.ArgumentParser, *, model_required: bool = False) -> None:
    """Add the ``propose`` options to ``parser`` (also used by scripts/propose_hard_examples.py)."""
    sources = parser.add_argument_group(
        "sources",
        "Each SRC is a Signals folder written by `dataperf probe` (or Signals.save), or data "
        "that is probed first with --model: " + DATA_HELP + ".",
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
        "--k", type=positive, default=100, help="how many examples to propose (default 100)"
    )
    out.add_argument(
        "--diversity",
        type=float_at_least_zero,
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
        type=non_negative,
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
        "--report",
        metavar="FILE.html",
        help="write one self-contained HTML page: the proposals (thumbnails, scores, the "
        "explanation) in a sortable, filterable table, and why every other candidate was not "
        "proposed (the buckets, with examples)",
    )
    out.add_argument(
        "--save-proposal",
        metavar="FILE.npz",
        help="save the whole proposal (every candidate's scores and bucket), for `dataperf "
        "labels --proposals FILE.npz --report` after labelling",
    )
    out.add_argument(
        "--sheet-columns",
        type=positive,
        default=10,
        metavar="N",
        help="images per row of the contact sheet (default 10)",
    )
    out.add_argument(
        "--images",
        metavar="FILE.npy",
        help="the pool's images as a .npy array (N, H, W[, C]), in pool order, when --pool is a "
        "saved Signals folder of array data: for the contact sheet, the report and the "
        "labelling exports",
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
        type=non_negative,
        default=5,
        metavar="N",
        help="proposals to print with their explanation (default 5)",
    )
    labelling = parser.add_argument_group(
        "labelling",
        "Hand the proposals to people and fold their answers back: export for Label Studio "
        "(or a CSV), then `dataperf labels` prints the yield, and --labelled grows the test "
        "set in the next round.",
    )
    labelling.add_argument(
        "--label-studio",
        metavar="FILE.json",
        help="write Label Studio tasks (image, pool id, rank, bucket, the model's prediction as "
        "a pre-annotation and the explanation) and the labelling config <stem>_config.xml "
        "(the class names and 'cannot tell'); pools given as arrays export their images to "
        "<stem>_images/",
    )
    labelling.add_argument(
        "--label-csv",
        metavar="FILE.csv",
        help="write id,image,label rows with label empty, for any other labelling tool: fill "
        "in a class name or 'cannot tell'",
    )
    labelling.add_argument(
        "--blind",
        action="store_true",
        help="export no prediction, pre-annotation or explanation (they anchor annotators)",
    )
    labelling.add_argument(
        "--url-prefix",
        metavar="URL",
        help="prefix of each image reference, followed by the image's path under --image-root "
        "(default for Label Studio: /data/local-files/?d= , its local file serving with "
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=<image root>; for the CSV: none)",
    )
    labelling.add_argument(
        "--labelled",
        action="append",
        metavar="FILE",
        help="answers of an earlier round (a Label Studio JSON export, or a CSV with id,label "
        "such as `dataperf labels --out`); repeatable. Items labelled with confidence join "
        "the test set; every answered item (labelled or 'cannot tell') is never proposed again",
    )
    add_model_options(parser, required=model_required)
    add_data_options(parser)
    parser.set_defaults(run=run)


def is_signals_dir(source: str) -> bool:
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
    data_sources = [n for n, src in sources.items() if not is_signals_dir(src)]
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
    model = model_from_args(args) if data_sources else None
    resolved = {
        name: load_data_source(src, args) if name in data_sources else Signals.load(src)
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

    classes = class_names(args)
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
        print(accuracy_line(f"--{name} {spec}", agreement), file=sys.stderr)
    return signals


def _image_source(args: argparse.Namespace, pool: Any) -> Any:
    """Where the pool's images come from: the pool data itself, or ``--images`` for a saved
    Signals pool. Checked before proposing, so that a labelling export that cannot find
    the images fails before anything is written."""
    import numpy as np

    from dataperf._loading import ArrayDataset
    from dataperf.signals import Signals

    if args.images:
        try:
            array = np.load(args.images, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            raise InputValueError(
                f"--images {args.images}: cannot read it as .npy ({err})."
            ) from None
        if len(array) != len(pool) or array.ndim not in (3, 4):
            raise InputValueError(
                f"--images {args.images} holds an array of shape {array.shape}; expected "
                f"{len(pool)} images (N, H, W[, C]), one per pool item, in pool order."
            )
        return ArrayDataset(array, None, array)
    wants_export = args.label_studio or args.label_csv
    if wants_export and isinstance(pool, Signals) and pool.ids.dtype.kind != "U":
        raise InputValueError(
            f"--pool {args.pool} is a Signals folder whose ids are positions, not image files, "
            "so the labelling export has no images to show. Fix: pass --images FILE.npy (the "
            "pool's images, in pool order), or give the pool as data (--pool images.npy "
            "--model ...)."
        )
    return pool


def _write_report(args: argparse.Namespace, pool: Any, signals: Any, proposal: Any) -> Path:
    """The HTML report, with the images the contact sheet would show."""
    from dataperf._files import os_errors
    from dataperf._loading import ImageFiles

    root = args.image_root
    if isinstance(pool, ImageFiles):  # your own folder: every file in it may be shown
        root = Path(args.pool).resolve()
        images: Any = [str(Path(p).resolve()) for p in pool.paths]
    else:
        images = _sheet_images(pool, signals, proposal, args.image_root, explicit=False)
    if images is None and proposal.ids.dtype.kind == "U":
        print("note: the report has no thumbnails (see the contact sheet note).", file=sys.stderr)
    with os_errors(f"--report {args.report}"):
        return proposal.to_html(args.report, images=images, image_root=root)


def _fold_back(files: list[str], signals: dict[str, Any]) -> tuple[Any, list[Any]]:
    """The test set grown by the answers in ``files``, and every answered pool id."""
    from dataperf.propose.label_studio import class_choices
    from dataperf.propose.labels import answered_ids, grow_test_set, plain_ids, read_labels

    pool, test = signals["pool"], signals.get("test")
    named = [s.meta["classes"] for s in signals.values() if isinstance(s.meta.get("classes"), list)]
    choices = class_choices(named[0] if named else None, pool.num_classes)
    exclude: list[Any] = []
    for path in files:
        labels = read_labels(path)
        before = 0 if test is None else len(test)
        # the grown test set lives in this run only: give test and pool items text ids that
        # cannot clash when both are dataset positions
        clash = test is not None and (
            (test.ids.dtype.kind == "U") != (pool.ids.dtype.kind == "U")
            or bool(set(plain_ids(test.ids)) & set(labels.ids))
        )
        test = grow_test_set(
            test, pool, labels, choices, prefixes=("test:", "pool:") if clash else None
        )
        exclude += answered_ids(labels)
        print(
            f"--labelled {path}: {(0 if test is None else len(test)) - before} labelled item(s) "
            f"join the test set; {len(answered_ids(labels))} answered item(s) will not be "
            "proposed again",
            file=sys.stderr,
        )
    return test, exclude


def _write_labelling(args: argparse.Namespace, pool: Any, proposal: Any) -> list[Path]:
    """The Label Studio tasks + config and the CSV to fill, when asked for."""
    from dataperf._files import os_errors
    from dataperf._loading import ArrayDataset, ImageFiles
    from dataperf.propose.label_studio import LOCAL_FILES, export_csv, export_label_studio
    from dataperf.signals import Signals

    if not (args.label_studio or args.label_csv):
        return []
    images, root = None, args.image_root  # file-path ids are relative to the image root
    if isinstance(pool, ArrayDataset):
        images = pool.array if pool.array.ndim in (3, 4) else None
    elif not isinstance(pool, (ImageFiles, Signals)):
        images = pool  # a Dataset from module:function: its items hold the images
    written = []
    if args.label_studio:
        prefix = LOCAL_FILES if args.url_prefix is None else args.url_prefix
        with os_errors(f"--label-studio {args.label_studio}"):
            written += export_label_studio(
                proposal,
                args.label_studio,
                images=images,
                image_root=root,
                url_prefix=prefix,
                blind=args.blind,
            )
    if args.label_csv:
        with os_errors(f"--label-csv {args.label_csv}"):
            written.append(
                export_csv(
                    proposal,
                    args.label_csv,
                    images=images,
                    image_root=root,
                    url_prefix=args.url_prefix or "",
                )
            )
    return written


def run(args: argparse.Namespace) -> int:
    """``dataperf propose``: pick k hard, labelable, novel pool items and write them out."""
    from dataperf._files import os_errors
    from dataperf.propose.sampler import HardnessSampler
    from dataperf.signals import Signals

    check_device(args.device)
    sampler = HardnessSampler(
        args.k,
        weights=args.weights,
        diversity=args.diversity,
        seed=args.seed,
        search=args.search,
        device=args.device,
    )
    resolved, model = _resolve_sources(args)
    image_source = _image_source(args, resolved["pool"])
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
        signals[name] = probe_data(model, value, name, getattr(args, name), args)
        if args.save_signals:
            with os_errors(f"--save-signals {args.save_signals}"):
                folder = signals[name].save(Path(args.save_signals) / name)
            print(f"saved {name} Signals -> {folder}/", file=sys.stderr)
    exclude = None
    if args.labelled:
        signals["test"], exclude = _fold_back(args.labelled, signals)
    proposal = sampler.propose(
        signals["pool"], test=signals.get("test"), train=signals.get("train"), exclude=exclude
    )
    with os_errors(f"--out {args.out}"):
        written = [proposal.to_jsonl(args.out)]
    if args.csv:
        with os_errors(f"--csv {args.csv}"):
            written.append(proposal.to_csv(args.csv))
    sheet = _write_sheet(args, image_source, signals["pool"], proposal)
    if sheet is not None:
        written.append(sheet)
    written += _write_labelling(args, image_source, proposal)
    if args.report:
        written.append(_write_report(args, image_source, signals["pool"], proposal))
    if args.save_proposal:
        with os_errors(f"--save-proposal {args.save_proposal}"):
            written.append(proposal.save(args.save_proposal))
    used = ", ".join(f"{n}: {len(s)} items" for n, s in signals.items() if n != "pool")
    shown = min(args.show, len(proposal))
    print(
        f"proposed {len(proposal)} of {pool_size} pool items ({used or 'no test or train set'})"
        + (f"; top {shown}:" if shown else ".")
    )
    for rank in range(shown):
        print(f"  {escape(proposal.explain(rank))}")
    print("wrote " + ", ".join(escape(p) for p in written))
    return 0
