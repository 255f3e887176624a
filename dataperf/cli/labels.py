"""``dataperf labels``: read people's answers to the proposals, print the yield, save the labels.

The answers are a Label Studio JSON export of the tasks that ``dataperf propose
--label-studio`` wrote, or the CSV of ``--label-csv`` filled in. They are matched to the
proposals (``--proposals``, the JSON lines of ``dataperf propose --out``) by pool id; the yield
and the answers per status are printed, and the labels written as CSV for the next round
(``dataperf propose --labelled``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dataperf._errors import InputValueError
from dataperf._term import escape

HELP = "read the answers to the proposals, print the yield, save the labels"
DESCRIPTION = (
    "dataperf labels reads what people answered to the proposals (a Label Studio JSON export, "
    "or dataperf's CSV filled in), checks that the answers match the proposals, prints the "
    "yield (the share of answered proposals that a person labelled with confidence and the "
    "model got wrong) and writes the labels for the next round of `dataperf propose "
    "--labelled`."
)


def add_parser(commands: Any) -> None:
    """Add ``labels`` to the sub-command parsers ``commands``."""
    p = commands.add_parser("labels", help=HELP, description=DESCRIPTION)
    p.add_argument(
        "answers",
        metavar="ANSWERS",
        help="a Label Studio JSON export (.json) or a CSV with id,label columns (.csv)",
    )
    p.add_argument(
        "--proposals",
        required=True,
        metavar="FILE",
        help="the proposals these answers are for: the JSON lines of dataperf propose --out, "
        "or the file of --save-proposal (.npz; needed for --report)",
    )
    p.add_argument(
        "--classes",
        metavar="NAMES",
        help="every class name (comma list, text file or JSON list), to check the answers "
        "against; default: the classes the proposals predict, so pass --classes when people "
        "may answer a class the model never predicted among these proposals",
    )
    p.add_argument(
        "--out",
        metavar="FILE.csv",
        help="write the labels (id,label,status,votes,agreement) here, for `dataperf propose "
        "--labelled` (default: <ANSWERS stem>_labels.csv next to ANSWERS)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the yield summary as JSON")
    p.add_argument(
        "--report",
        metavar="FILE.html",
        help="write the proposal report with the yield (needs --proposals FILE.npz)",
    )
    p.add_argument(
        "--images",
        metavar="FILE.npy",
        help="the pool images as a .npy array, for the report's thumbnails (an image-folder "
        "pool's ids are its file paths: see --image-root)",
    )
    p.add_argument(
        "--image-root",
        metavar="DIR",
        help="folder holding the images that file-path ids name; no file outside it is read "
        "(default: the current folder)",
    )
    p.set_defaults(run=run)


def _read_proposals(path: str) -> tuple[list[dict[str, Any]], Any]:
    """The proposal records, and the Proposal when ``path`` is a saved one (.npz)."""
    if path.endswith(".npz"):
        from dataperf.propose.proposal import Proposal

        proposal = Proposal.load(path)
        return proposal.records(), proposal
    return _read_jsonl(path), None


def _read_jsonl(path: str) -> list[dict[str, Any]]:
    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if not isinstance(record, dict) or not {"id", "prediction"} <= set(record):
                    raise InputValueError(
                        f"--proposals {path}: line {n} is not a proposal record (it needs id "
                        "and prediction). Fix: pass the JSON lines of dataperf propose --out, "
                        "or the .npz of --save-proposal."
                    )
                records.append(record)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputValueError(
            f"--proposals {path}: cannot read it ({err}). Fix: pass the JSON lines of "
            "dataperf propose --out, or the .npz of --save-proposal."
        ) from None
    if not records:
        raise InputValueError(f"--proposals {path} holds no proposal.")
    return records


def _choices(args: argparse.Namespace, proposal: Any) -> list[str] | None:
    """The class names to check the answers against: --classes, else the saved proposal's."""
    from dataperf._loading import parse_classes
    from dataperf.propose.label_studio import proposal_choices

    if args.classes is not None:
        return [str(c) for c in parse_classes(args.classes)]
    if proposal is not None:
        return proposal_choices(proposal)
    print(
        "note: the answers are not checked against the class names (a renamed class would "
        "count as a model error); pass --classes, or --proposals FILE.npz from "
        "--save-proposal.",
        file=sys.stderr,
    )
    return None


def _rate(entry: dict[str, Any]) -> str:
    if not entry["n"]:
        return "no answered proposal"
    return (
        f"{entry['value']:.0%} ({entry['hits']} of {entry['n']}; 95% interval "
        f"{entry['low']:.0%}-{entry['high']:.0%})"
    )


def run(args: argparse.Namespace) -> int:
    """``dataperf labels``: check the answers, print the yield, write the labels."""
    from dataperf._files import atomic_write_text, os_errors
    from dataperf.propose.labels import read_labels, yield_summary

    records, proposal = _read_proposals(args.proposals)
    if args.report and proposal is None:
        raise InputValueError(
            f"--report needs the whole proposal, but --proposals {args.proposals} is the JSON "
            "lines. Fix: pass the file of dataperf propose --save-proposal FILE.npz."
        )
    labels = read_labels(args.answers)
    proposals = proposal if proposal is not None else records
    summary = yield_summary(labels, proposals, _choices(args, proposal))
    counts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in summary["counts"].items())
    print(f"{sum(summary['counts'].values())} proposals: {counts}")
    agreement = summary["agreement"]
    if agreement["annotations"]:
        print(
            f"{agreement['annotations']} annotations; mean agreement with the majority "
            f"{agreement['mean']:.0%}; {agreement['items_with_disagreement']} item(s) with "
            "disagreement"
        )
    print(f"yield: {_rate(summary['yield'])}")
    for name, entry in summary["per_class"].items():
        print(f"  predicted {escape(name, newlines=False)}: {_rate(entry)}")
    out = (
        Path(args.out)
        if args.out
        else Path(args.answers).with_name(f"{Path(args.answers).stem}_labels.csv")
    )
    with os_errors(f"--out {out}"):
        written = [labels.to_csv(out)]
    if args.json:
        with os_errors(f"--json {args.json}"):
            atomic_write_text(Path(args.json), json.dumps(summary, indent=2) + "\n")
            written.append(Path(args.json))
    if args.report:
        with os_errors(f"--report {args.report}"):
            written.append(
                proposal.to_html(
                    args.report,
                    images=_report_images(args, proposal),
                    image_root=args.image_root,
                    yield_summary=summary,
                )
            )
    print("wrote " + ", ".join(escape(p) for p in written), file=sys.stderr)
    return 0


def _report_images(args: argparse.Namespace, proposal: Any) -> Any:
    """The pool images: the --images array, or the proposals' files when ids are paths."""
    import numpy as np

    if args.images:
        try:
            return np.load(args.images, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            raise InputValueError(
                f"--images {args.images}: cannot read it as a .npy array ({err})."
            ) from None
    if proposal.ids.dtype.kind != "U":
        return None
    from dataperf.viz import confine_paths

    root = Path(args.image_root or Path.cwd())
    try:
        paths = confine_paths(list(proposal.ids), root, what="proposal ids")
    except InputValueError as err:
        print(f"note: the report has no thumbnails: {escape(err)}", file=sys.stderr)
        return None
    if not all(p.is_file() for p in paths):
        print(
            f"note: the report has no thumbnails: ids such as {escape(proposal.ids[0])} are not "
            f"files under {escape(root)}; pass --image-root DIR, the folder they are relative to.",
            file=sys.stderr,
        )
        return None
    return {int(i): str(p) for i, p in zip(proposal.indices, paths, strict=True)}
