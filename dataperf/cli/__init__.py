"""The ``dataperf`` command: files in, files out.

One module per command, each with ``add_parser(commands)``, ``run(args)`` and its own ``HELP``
and ``DESCRIPTION``:

- :mod:`dataperf.cli.demo`: the library's main jobs on real data available offline (the
  computations are in :mod:`dataperf.demo`; the command prints and writes).
- :mod:`dataperf.cli.probe`: run a model once over data; save its Signals (resumable, torchrun).
- :mod:`dataperf.cli.propose`: propose hard, labelable, novel new test examples from a pool.
- :mod:`dataperf.cli.labels`: read people's answers to the proposals, print the yield.
- :mod:`dataperf.cli.bench`: compare data-centric methods on a DataPerf-style task.

:mod:`dataperf.cli.common` holds what they share: argument types, the model and data option
groups, loading, probing and the mapping of bad input to one-line errors. This module builds the
parser and runs a parsed command (:func:`run_parsed`): bad input (an
:class:`~dataperf._errors.InputError`) is one line and exit code 2, a bug keeps its traceback.

The parser and ``--help`` import no numpy or torch: commands import what they need when they run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from dataperf._errors import InputError
from dataperf.cli import bench, demo, labels, probe, propose
from dataperf.cli.bench import bench_methods
from dataperf.cli.propose import add_propose_arguments

__all__ = ["add_propose_arguments", "bench_methods", "build_parser", "main", "run_parsed"]

COMMANDS = (demo, probe, propose, labels, bench)
"""The command modules, in the order ``dataperf --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``dataperf`` parser: one sub-command per module of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="dataperf", description="Iterate on data to improve deep-learning models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


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


def main(argv: Sequence[str] | None = None) -> int:
    # albumentations checks for updates over the network when imported, unless this is set;
    # set it for this process before any command can import it (a user's value is kept).
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    args = build_parser().parse_args(argv)
    return run_parsed(args, f"dataperf {args.command}")
