#!/usr/bin/env python
"""Propose hard new test examples in one job: probe pool, test (and train) data with a model,
then pick the examples that are hard for it, labelable by a person and unlike the test set.

Run it where the model runs fast (a GPU machine), e.g.::

    python scripts/propose_hard_examples.py --model model.ts --pool unlabelled/ \\
        --test test/ --train train/ --k 100 --out runs/proposals.jsonl --workers 8

It writes the proposals (JSON lines, optionally CSV), a contact sheet of the proposed images,
and the Signals of every probed source (by default next to --out, in <stem>_signals/), so that
``dataperf propose`` can re-rank them later anywhere, without the model or a GPU. It is the
``dataperf propose`` command with --model required; see ``dataperf propose --help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

try:
    from dataperf import cli
except ImportError:  # run from a source checkout without installing dataperf
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dataperf import cli

PROG = "propose_hard_examples.py"


def build_parser() -> argparse.ArgumentParser:
    """The ``dataperf propose`` options, with --model required."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog="Signals are saved to <out stem>_signals/ unless --save-signals says where.",
    )
    cli.add_propose_arguments(parser, model_required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.save_signals is None:
        out = Path(args.out)
        args.save_signals = str(out.with_name(f"{out.stem}_signals"))
    return cli.run_parsed(args, PROG)


if __name__ == "__main__":
    sys.exit(main())
