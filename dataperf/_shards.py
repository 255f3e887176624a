"""The sharded, resumable output of ``probe(out=DIR)``, and its torch.distributed glue (private).

While a probe runs, ``DIR`` holds::

    .probe-run.json                  the run manifest: model, weights hash, data, settings
    shards/b000000000-000000004.npz  the results of global batches [0, 4), one file per shard

The manifest is written first. Each shard covers whole global batches (the batch order of the
whole data, whatever process computed them) and is written aside and renamed into place, so a
shard file is always complete. At the end the shards are merged into the Signals folder layout
of ``dataperf._store`` in ``DIR`` itself, ``meta.json`` last (the completeness marker), and the
shards are deleted; the manifest stays, so that probing ``DIR`` again with the same settings
just loads it.

Resuming: the same call after a kill reads the manifest, refuses if the model, data or
settings differ (saying what differs), and probes only the batches that no shard covers.
Results do not depend on which process or run computed a batch (MC dropout is seeded by the
global batch index), so a resumed run, or one split between ranks, equals an uninterrupted
one bit for bit on the CPU.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._files import atomic_write_text
from dataperf._store import (
    RUN_FILE,
    V1_ARRAYS,
    ids_files,
    is_signals_dir,
    load_npz,
    make_header,
    write_array,
    write_header,
)

__all__ = [
    "Run",
    "ShardSink",
    "agree",
    "merge",
    "open_run",
    "prepare_run",
    "shard_info",
    "shard_rows",
    "world",
]

SHARDS = "shards"
_SHARD_NAME = re.compile(r"^b(\d{9})-(\d{9})\.npz$")
#: Arrays of a shard and of the merged folder, in file order (``ids`` is handled apart).
_ARRAYS = ("probs", "embeddings", "labels", "mc_probs", "fingerprints", "index")
_OPTIONAL = ("labels", "fingerprints")  # absent from the result if absent from any batch


# --------------------------------------------------------------------------- torch.distributed
def world() -> tuple[int, int]:
    """``(rank, world size)`` of the initialised torch.distributed group, else ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def agree(error: BaseException | None) -> None:
    """Raise on every rank if any rank failed, so that no rank waits forever for another.

    A collective (all-reduce) call: every rank must reach it. A rank's own error is re-raised;
    the others raise a RuntimeError that points to it.
    """
    rank, size = world()
    if size > 1:
        import torch
        import torch.distributed as dist

        on_gpu = dist.get_backend() == "nccl"
        device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else "cpu"
        flag = torch.tensor([0 if error is None else 1], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if error is None and flag.item():
            raise RuntimeError(f"probe failed on another rank (this is rank {rank}); see its error")
    if error is not None:
        raise error


# --------------------------------------------------------------------------- the run manifest
@dataclass(frozen=True)
class Run:
    """What ``DIR`` holds for a probe run: complete, and the batch ranges already done."""

    complete: bool
    done: tuple[tuple[int, int], ...]

    @property
    def done_batches(self) -> int:
        return sum(stop - start for start, stop in self.done)


def _normal(settings: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(settings))


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _compare(folder: Path, settings: Mapping[str, Any]) -> None:
    try:
        recorded = json.loads((folder / RUN_FILE).read_text())
    except (OSError, ValueError) as err:
        raise InputValueError(
            f"{folder / RUN_FILE} cannot be read ({err}). Fix: delete {folder} to start over."
        ) from None
    mine, theirs = _flat(_normal(settings)), _flat(recorded if isinstance(recorded, dict) else {})
    diffs = [
        f"{key}: {_short(mine.get(key))} now, {_short(theirs.get(key))} in the earlier run"
        for key in sorted(set(mine) | set(theirs))
        if mine.get(key) != theirs.get(key)
    ]
    if diffs:
        state = "finished" if is_signals_dir(folder) else "unfinished"
        raise InputValueError(
            f"{folder} holds a {state} probe run with another model, data or settings ("
            + "; ".join(diffs)
            + f"). Fix: pass another output folder (--out), or delete {folder} to probe from "
            "scratch."
        )


def prepare_run(folder: Path, settings: Mapping[str, Any]) -> None:
    """Make ``folder`` a run folder for ``settings`` (rank 0 only), or refuse to.

    A folder whose run has other settings is refused when it holds finished batches (or the
    finished result); one where no batch finished is simply taken over. The folder must
    already have passed ``check_output_dir(folder, probe_run=True)``.
    """
    if (folder / RUN_FILE).is_file():
        if is_signals_dir(folder) or _shards(folder):
            _compare(folder, settings)
            return  # else an earlier run finished no batch: nothing to resume, start afresh
    if is_signals_dir(folder) or (folder / V1_ARRAYS).is_file():
        raise InputValueError(
            f"{folder} holds Signals that no probe(out=...) run wrote (it has no {RUN_FILE}), "
            "so probing there would replace them. Fix: pass another output folder (--out), or "
            f"delete {folder} first."
        )
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / RUN_FILE, json.dumps(_normal(settings), indent=2) + "\n")


def open_run(folder: Path, settings: Mapping[str, Any]) -> Run:
    """Check the manifest against ``settings`` and list what is done."""
    _compare(folder, settings)
    return Run(complete=is_signals_dir(folder), done=tuple(r for r, _ in _shards(folder)))


def _shards(folder: Path) -> list[tuple[tuple[int, int], Path]]:
    """``((start, stop), path)`` of each finished shard, by start."""
    shards = folder / SHARDS
    if not shards.is_dir():
        return []
    found = []
    for path in shards.iterdir():
        match = _SHARD_NAME.match(path.name)
        if match:
            found.append(((int(match[1]), int(match[2])), path))
    return sorted(found)


def shard_rows(folder: Path, ranges: tuple[tuple[int, int], ...]) -> int:
    """The number of items in the shards of ``ranges``."""
    paths = dict(_shards(folder))
    total = 0
    for r in ranges:
        with load_npz(paths[r]) as data:
            total += len(data["index"])
    return total


def shard_info(folder: Path) -> tuple[str, int]:
    """``(layer, K)``: the embedding layer and the number of classes of the shards."""
    shards = _shards(folder)
    if not shards:
        raise InputValueError(f"{folder} holds no shards: nothing was probed (is the data empty?)")
    with load_npz(shards[0][1]) as data:
        return str(data["layer"]), int(data["probs"].shape[1])


# --------------------------------------------------------------------------- the sink
class ShardSink:
    """Collects per-batch arrays and writes them as shards of ``batches`` consecutive batches.

    ``add`` takes the batches in increasing global order; a gap (the next batch is not the
    one after the last) closes the current shard. ``flush`` writes what is pending: call it
    at the end and after an error, so that finished batches are kept.
    """

    def __init__(self, folder: Path, batches: int) -> None:
        self.folder = folder / SHARDS
        self.folder.mkdir(parents=True, exist_ok=True)
        self.batches = batches
        self.pending: list[tuple[int, dict[str, np.ndarray | None]]] = []
        self.layer = ""

    def add(self, batch: int, arrays: dict[str, np.ndarray | None], layer: str) -> None:
        if self.pending and batch != self.pending[-1][0] + 1:
            self.flush()
        self.pending.append((batch, arrays))
        self.layer = layer
        if len(self.pending) >= self.batches:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        start, stop = self.pending[0][0], self.pending[-1][0] + 1
        parts = [arrays for _, arrays in self.pending]
        merged = {"layer": np.array(self.layer)}
        for name in (*_ARRAYS, "ids"):
            values = [p[name] for p in parts]
            if all(v is not None for v in values):
                merged[name] = np.concatenate(values)
        tmp = self.folder / f".tmp-{os.getpid()}-{secrets.token_hex(4)}.npz"
        try:
            with open(tmp, "wb") as f:
                np.savez(f, **merged)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.folder / f"b{start:09d}-{stop:09d}.npz")
        finally:
            tmp.unlink(missing_ok=True)
        self.pending = []


# --------------------------------------------------------------------------- the merge
def _cover(folder: Path, batches: int | None) -> list[Path]:
    """The shard files that cover batches ``[0, batches)`` exactly once, in order."""
    shards = _shards(folder)
    position = 0
    for (start, stop), path in shards:
        if start != position:
            what = "overlap" if start < position else f"miss batches [{position}, {start})"
            raise InputValueError(
                f"the shards in {folder / SHARDS} {what} (at {path.name}); was the folder "
                f"written by two runs at once? Fix: delete {folder} and probe again."
            )
        position = stop
    if not shards or (batches is not None and position != batches):
        raise InputValueError(
            f"the shards in {folder / SHARDS} cover batches [0, {position}) of {batches}; "
            "the probe is not finished. Fix: run the same probe again to finish it."
        )
    return [path for _, path in shards]


def merge(folder: Path, batches: int | None, meta: Mapping[str, Any]) -> None:
    """Merge the shards into the Signals folder layout in ``folder`` (``meta.json`` last), then
    delete them. Memory stays bounded: arrays are copied shard by shard into mapped files."""
    paths = _cover(folder, batches)
    rows, kinds = [], []
    present = set(_ARRAYS) | {"ids"}
    for path in paths:
        with load_npz(path) as data:
            rows.append(len(data["index"]))
            present &= set(data.files)
            kinds.append(data["ids"].dtype.kind)
    missing = {"probs", "embeddings", "index", "ids"} - present
    if missing or len({kind in "iu" for kind in kinds}) > 1:
        raise InputValueError(
            f"the shards in {folder / SHARDS} are damaged (missing {sorted(missing)}, or mixed "
            f"integer and string ids). Fix: delete {folder} and probe again."
        )
    names = [n for n in _ARRAYS if n in present]
    for name in names:
        _merge_array(folder, paths, name, sum(rows))
    ids_kind = _merge_ids(folder, paths, sum(rows), strings=kinds[0] == "U")
    write_header(folder, make_header(names, ids_kind, [], meta))
    shutil.rmtree(folder / SHARDS, ignore_errors=True)


def _aside(folder: Path, name: str) -> Path:
    return folder / f".{name}.npy.merge"


def _publish(folder: Path, name: str) -> None:
    """fsync the file written aside for ``name`` and rename it to ``<name>.npy``."""
    with open(_aside(folder, name), "rb+") as f:
        os.fsync(f.fileno())
    os.replace(_aside(folder, name), folder / f"{name}.npy")


def _merge_array(folder: Path, paths: list[Path], name: str, n: int) -> None:
    """Concatenate one array of every shard into ``folder/<name>.npy``."""
    with load_npz(paths[0]) as data:
        first = data[name]
    shape = (n, *first.shape[1:])
    out = np.lib.format.open_memmap(_aside(folder, name), "w+", first.dtype, shape)
    position = 0
    for path in paths:
        with load_npz(path) as data:
            part = data[name]
        out[position : position + len(part)] = part
        position += len(part)
    out.flush()
    del out
    _publish(folder, name)


def _merge_ids(folder: Path, paths: list[Path], n: int, *, strings: bool) -> str:
    """Write the ids of every shard (integers, or strings as ``PathIds`` files)."""
    if not strings:
        _merge_array(folder, paths, "ids", n)
        return "int"
    table: dict[str, int] = {}
    width = 1
    for path in paths:  # pass 1: the folder table and the longest name
        with load_npz(path) as data:
            _, files = ids_files(data["ids"])
        for f in files["ids_folders"].tolist():
            table.setdefault(f, len(table))
        width = max(width, files["ids_name"].dtype.itemsize)
    codes = np.lib.format.open_memmap(_aside(folder, "ids_folder"), "w+", np.int32, (n,))
    names = np.lib.format.open_memmap(_aside(folder, "ids_name"), "w+", f"S{width}", (n,))
    position = 0
    for path in paths:  # pass 2: codes and names
        with load_npz(path) as data:
            _, files = ids_files(data["ids"])
        remap = np.array([table[f] for f in files["ids_folders"].tolist()], dtype=np.int32)
        stop = position + len(files["ids_folder"])
        codes[position:stop] = remap[files["ids_folder"]]
        names[position:stop] = files["ids_name"]
        position = stop
    codes.flush()
    names.flush()
    del codes, names
    write_array(_aside(folder, "ids_folders"), np.array(list(table), dtype=str))
    for name in ("ids_folder", "ids_name", "ids_folders"):
        _publish(folder, name)
    return "paths"
