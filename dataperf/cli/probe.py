"""``dataperf probe``: run a model once over data and save what it saw as a Signals folder.

The output folder is checked before anything is loaded; results are written in shards as they
come, a rerun of the same command resumes, and under ``torchrun`` the ranks share the batches
(see :func:`dataperf.probing.run_probe`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from datetime import timedelta
from typing import Any

from dataperf.cli.common import (
    DATA_HELP,
    accuracy_line,
    add_data_options,
    add_model_options,
    check_device,
    load_data_source,
    model_from_args,
    non_negative,
    positive,
    probe_options,
    provenance,
    run_guarded,
)

HELP = "run a model over data once; save its Signals (e.g. on a GPU machine)"
DESCRIPTION = (
    "dataperf probe runs a model once over data (an image folder, a .npy array or a Python "
    "function returning a Dataset) and saves what it saw (probabilities, embeddings, labels, file "
    "paths) as a Signals folder, e.g. on a GPU machine. It writes as it goes: after a crash or a "
    "kill, the same command resumes. Under torchrun (torchrun --nproc_per_node=N -m dataperf "
    "probe ...) the processes share the batches."
)


def add_parser(commands: Any) -> None:
    """Add ``probe`` to the sub-command parsers ``commands``."""
    p = commands.add_parser("probe", help=HELP, description=DESCRIPTION)
    p.add_argument("--data", required=True, metavar="SPEC", help=DATA_HELP)
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder to write the Signals to (created if needed; checked before the model "
        "runs). Results are written in shards as they come: after a crash or kill, run the "
        "same command again to resume. Under torchrun the processes share the batches",
    )
    add_model_options(p, required=True)
    add_data_options(p)
    p.add_argument(
        "--seed", type=non_negative, default=0, help="seed of the MC-dropout passes (default 0)"
    )
    g = p.add_argument_group("output")
    g.add_argument(
        "--shard-size",
        type=positive,
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
    p.set_defaults(run=run)


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


def run(args: argparse.Namespace) -> int:
    """``dataperf probe``: run the model over the data, writing a resumable Signals folder.

    The output folder is checked before anything is loaded; results are written in shards as
    they come, a rerun of the same command resumes, and under ``torchrun`` the ranks share
    the batches (see ``dataperf.probe``).
    """
    from dataperf.probing import run_probe
    from dataperf.signals import check_output_dir

    out = check_output_dir(args.out, probe_run=True)
    check_device(args.device)
    model = model_from_args(args)
    data = load_data_source(args.data, args)
    options = probe_options(model, args)
    options.update(out=out, shard_size=args.shard_size, embeddings_dtype=args.embeddings_dtype)
    with _process_group(args.device):
        meta = provenance(args.data, data, args)
        signals, report = run_guarded(
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
        print(accuracy_line("labels", report.agreement))
    print(f"saved Signals -> {out}/ (use it as --pool/--test/--train of dataperf propose)")
    return 0
