"""``probe()``: the one place that runs the user's model (``dataperf.probe``).

The module is ``probing`` so that the function ``dataperf.probe`` is not shadowed by it.

One pass over the data collects softmax probabilities, embeddings from one layer, labels when
the items carry them, image fingerprints, each item's dataset index, and optionally T
Monte-Carlo-dropout passes. Everything after it works on the returned
:class:`~dataperf.signals.Signals`.

The parts, each in its own place:

- the batch plan (``dataperf._batches.BatchPlan``): which dataset items form each *global*
  batch, and a DataLoader over any subset of the batches (to resume, or to split them between
  torch.distributed ranks);
- the embedding tap, the per-batch forward (with the MC-dropout passes) and the collectors
  that turn a batch's outputs into arrays (``dataperf._forward``);
- the sink: :class:`_MemorySink` here keeps the arrays in RAM; ``dataperf._shards.ShardSink``
  writes them to disk in shards, which a rerun resumes from and which are merged at the end;
- here: the checks, the loop that ties the parts (:class:`_Pass`), and the two ways out (in
  memory, or ``out=DIR`` on one process or several).
"""

from __future__ import annotations

import contextlib
import hashlib
import numbers
import os
import shutil
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

import dataperf._shards as _shards
from dataperf._agreement import LABEL_CHECKS, Agreement, check_label_agreement
from dataperf._batches import BatchPlan
from dataperf._errors import InputTypeError, InputValueError
from dataperf._forward import (
    FINGERPRINT_FREQUENCIES,
    Tap,
    collect,
    dropout_layers,
    forward,
    image_fingerprint,
    restore_modes,
    split_batch,
    to_device,
)
from dataperf._store import VERSION, check_output_dir
from dataperf._validate import check_choice, describe, resolve_device
from dataperf.signals import Signals

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "FINGERPRINT_FREQUENCIES",
    "ProbeReport",
    "image_fingerprint",
    "probe",
    "run_probe",
]

_OUTPUTS = ("logits", "probs", "log_probs")
_EMBEDDINGS_DTYPES = ("float32", "float16")
#: Items per shard of ``probe(out=...)`` by default (rounded up to whole batches).
DEFAULT_SHARD_SIZE = 10_000


@dataclass(frozen=True)
class ProbeReport:
    """What :func:`run_probe` did.

    Attributes
    ----------
    batches : int
        Global batches in the data.
    resumed : int
        Batches found already done in ``out`` (not run again).
    complete : bool
        ``out`` already held the finished result for these settings: nothing was run.
    rank, world : int
        This process's torch.distributed rank and the number of ranks (0 and 1 without).
    agreement : Agreement or None
        For labelled data (on rank 0, unless ``label_check="off"``): the model's accuracy on
        the labels (``.accuracy``, ``.n``) and the accuracy under the best renaming of classes.
    """

    batches: int
    resumed: int = 0
    complete: bool = False
    rank: int = 0
    world: int = 1
    agreement: Agreement | None = None


def probe(
    model: nn.Module,
    data: Dataset | DataLoader,
    *,
    layer: str | None = None,
    mc_samples: int = 0,
    batch_size: int = 256,
    device: Any = None,
    num_workers: int = 0,
    progress: bool = True,
    outputs: str = "logits",
    autocast: bool = True,
    seed: int = 0,
    fingerprint: bool = True,
    out: str | Path | None = None,
    shard_size: int | None = None,
    embeddings_dtype: str = "float32",
    label_check: str = "warn",
) -> Signals:
    """Run ``model`` once over ``data`` and return its :class:`Signals`.

    Parameters
    ----------
    model : torch.nn.Module
        Returns class scores ``(batch, K)`` (or an object with ``.logits``, or a tuple whose
        first element they are) for a batch of inputs. A TorchScript model (where hooks cannot
        run) should return ``(logits, features)``: the features become the embeddings (with
        logits alone, the logits do, with a warning).
    data : Dataset or DataLoader
        Items are an input, ``(input, label)``, or a dict with ``'input'`` and ``'label'``. A
        Dataset is read in order by a DataLoader with ``batch_size`` and ``num_workers``. A
        DataLoader (e.g. with a tokenizer as collate_fn) keeps its batches, workers and
        collate_fn; its sampler or batch sampler says which dataset item each output is
        (``Signals.index``), so ids, labels and probabilities stay aligned with any sampler.
        A shuffling sampler (``shuffle=True``, ``SubsetRandomSampler``,
        ``WeightedRandomSampler``, a random batch sampler) is probed in dataset order: each
        item it drew, once. Items drawn more than once (sampling with replacement) get one
        row, with a warning and ``meta["duplicate_draws"]``; items that ``drop_last=True``
        leaves out are missing, with a warning and ``meta["not_probed_drop_last"]``. With
        ``out=`` a shuffled probe resumes when a rerun draws the same items (``shuffle=True``,
        ``SubsetRandomSampler``) and is refused when it draws others (replacement, or
        ``drop_last`` over a shuffle). A DataLoader whose order probe cannot follow (a
        subclass with a shuffling sampler) is refused. An IterableDataset is read as it comes
        (``index`` is then the position in the stream, and ``ids`` are positions too).
        A dict input is passed as keyword arguments, ``model(**input)``.
    layer : str, optional
        Where the embeddings come from: the *output* of the module with this name
        (``model.get_submodule(layer)``). Default: the *input* of the last ``nn.Linear`` the
        forward pass calls (the features a classification head sees). Embeddings with more
        than two dimensions are flattened to (N, D).
    mc_samples : int
        T > 0 adds ``mc_probs`` (N, T, K) from T extra passes with only the dropout layers in
        train mode (MC dropout, seeded by ``seed`` and the global batch index); a model
        without dropout is an error.
    batch_size, num_workers : int
        How a Dataset is read (ignored for a DataLoader).
    device : str or torch.device, optional
        Default: CUDA if available, else CPU (under torch.distributed: ``cuda:LOCAL_RANK``).
        The model is moved there for the pass and back to where it was afterwards.
    progress : bool
        Show a progress bar over batches.
    outputs : {"logits", "probs", "log_probs"}
        What the model returns; softmax is applied to logits only. With ``"logits"``, a batch
        whose every row already sums to 1 (probabilities) or exponentiates to 1
        (log-probabilities), within 2%, is refused naming the right value; so is a model with
        one output per item.
    autocast : bool
        On CUDA, run the forward pass under ``torch.autocast`` with bfloat16 (probabilities are
        computed in float32). Ignored on the CPU.
    seed : int
        Seed of the MC-dropout passes.
    fingerprint : bool
        For image inputs, also store :func:`image_fingerprint` (low-frequency Fourier
        magnitudes) as ``Signals.fingerprints``; the sampler uses them to spot near-copies
        (shifted, mirrored, noisier) that the model's features do not.
    out : str or Path, optional
        Write the results to this folder as they are computed, in shards of whole batches,
        then merge them into a Signals folder there and return ``Signals.load(out)``
        (memory-mapped). The folder is checked before the model runs. Run the same call
        again after a crash or ``kill -9``: it probes only the batches no shard holds and
        gives the same Signals as an uninterrupted run. A folder written with another model
        (weights), data or settings is refused, saying what differs; a finished one with the
        same settings is just loaded. Under an initialised torch.distributed process group
        (e.g. ``torchrun``) each rank probes its own contiguous range of batches and rank 0
        merges; the result equals a one-process run. Without ``out`` every rank probes
        everything. The data are recognised by type, length, batch order and file paths, not
        by content.
    shard_size : int, optional
        Items per shard with ``out`` (rounded up to whole batches; default 10,000): at most
        this much work is lost to a kill.
    embeddings_dtype : {"float32", "float16"}
        Data type of the embeddings. float16 halves their size in RAM and on disk at the cost
        of ~3 significant digits (an opt-in trade); values beyond its range are an error.
    label_check : {"warn", "error", "off"}
        For labelled data, check that the labels mean what the model's outputs mean: a
        :class:`LabelMismatchWarning` (or, with ``"error"``, an :class:`InputValueError`) when
        the model's accuracy is near chance (below 2/K; 60% for two classes) or when renaming
        the classes (the optimal assignment on the confusion matrix) would raise it by 30
        points or more, as when class folders sorted by name are not the model's class order.

    Returns
    -------
    Signals
        ``probs`` (N, K), ``embeddings`` (N, D), ``labels`` (N,) when every batch had labels,
        ``mc_probs`` (N, T, K) when asked, ``fingerprints`` (N, F) for images, ``index`` (N,)
        (each item's dataset index), ``ids`` (file paths for a dataset with ``samples`` such
        as torchvision's ImageFolder, else ``index``), ``meta`` (model class, layer,
        ``mc_samples``, ``classes`` when the dataset has them; ``out_of_sample`` is unknown
        so absent).

    The model's train/eval mode is restored afterwards, and the pass runs in inference mode.
    """
    signals, report = run_probe(
        model,
        data,
        layer=layer,
        mc_samples=mc_samples,
        batch_size=batch_size,
        device=device,
        num_workers=num_workers,
        progress=progress,
        outputs=outputs,
        autocast=autocast,
        seed=seed,
        fingerprint=fingerprint,
        out=out,
        shard_size=shard_size,
        embeddings_dtype=embeddings_dtype,
        label_check=label_check,
    )
    if report.complete:
        warnings.warn(
            f"{out} already holds this probe (same model weights, data and settings), so it "
            "was loaded, not run again. Delete the folder to probe again (e.g. when the "
            "contents of the data changed but not its length or file names).",
            stacklevel=2,
        )
    return signals


def run_probe(
    model: nn.Module,
    data: Dataset | DataLoader,
    *,
    meta: Mapping[str, Any] | None = None,
    **options: Any,
) -> tuple[Signals, ProbeReport]:
    """:func:`probe` (same options), also saying what it did: ``(signals, report)``.

    ``meta`` adds JSON provenance to ``Signals.meta`` (e.g. the CLI's data source); it is not
    part of what identifies a resumable run.
    """
    o = _Options(**options)
    folder = None if o.out is None else check_output_dir(o.out, probe_run=True)
    if not isinstance(model, nn.Module):
        raise InputTypeError(f"model must be a torch.nn.Module; got {describe(model)}.")
    o.check()
    layer, scripted = o.layer, None
    if isinstance(model, torch.jit.ScriptModule):  # hooks cannot run inside TorchScript
        from dataperf._models import ScriptedModel

        if layer is not None:
            raise InputValueError(
                f"layer={layer!r} cannot be used with a TorchScript model: forward hooks do not "
                "run inside TorchScript. Fix: script a forward that returns (logits, features) "
                "(the features become the embeddings), or probe the eager nn.Module."
            )
        model = scripted = ScriptedModel(model)
        layer = ScriptedModel.LAYER
    plan = BatchPlan(data, o.batch_size, o.num_workers)
    device = _device(o.device)
    if o.mc_samples and not dropout_layers(model):
        what = "the TorchScript model" if scripted is not None else type(model).__name__
        raise InputValueError(
            f"mc_samples={o.mc_samples} (--mc-samples) needs dropout layers (MC dropout), but "
            f"{what} has none. Fix: pass mc_samples=0 (--mc-samples 0), or a model with "
            "nn.Dropout."
        )
    job = _Pass(model, layer, device, o, plan, classes=(meta or {}).get("classes"))
    provenance = {"model": type(model).__name__, "mc_samples": o.mc_samples, **(meta or {})}
    if plan.dropped:
        provenance["not_probed_drop_last"] = plan.dropped
    if plan.duplicates:
        provenance["duplicate_draws"] = plan.duplicates
    if folder is None:
        result = _in_memory(job, plan, provenance)
    else:
        result = _to_folder(job, plan, folder, _settings(model, layer, device, o, plan), provenance)
    signals, report = result
    if report.rank == 0:
        agreement = check_label_agreement(
            signals.probs, signals.labels, mode=o.label_check,
            classes=signals.meta.get("classes"), what="the probed data", stacklevel=3,
        )  # fmt: skip
        result = signals, replace(report, agreement=agreement)
    if scripted is not None and scripted.has_features is False:
        warnings.warn(
            "the TorchScript model returns only logits, so its logits serve as embeddings "
            "(weaker novelty and labelability scores). Script a forward that returns "
            "(logits, features) to probe its features.",
            stacklevel=3,
        )
    return result


@dataclass
class _Options:
    """probe's keyword options, checked."""

    layer: str | None = None
    mc_samples: int = 0
    batch_size: int = 256
    device: Any = None
    num_workers: int = 0
    progress: bool = True
    outputs: str = "logits"
    autocast: bool = True
    seed: int = 0
    fingerprint: bool = True
    out: str | Path | None = None
    shard_size: int | None = None
    embeddings_dtype: str = "float32"
    label_check: str = "warn"

    def check(self) -> None:
        check_choice(self.label_check, "label_check", LABEL_CHECKS)
        if self.outputs not in _OUTPUTS:
            raise InputValueError(f"outputs must be one of {list(_OUTPUTS)}; got {self.outputs!r}.")
        _count(self.mc_samples, "mc_samples", 0)
        _count(self.batch_size, "batch_size", 1)
        if self.shard_size is not None:
            _count(self.shard_size, "shard_size", 1)
        if str(self.embeddings_dtype) not in _EMBEDDINGS_DTYPES:
            raise InputValueError(
                f"embeddings_dtype must be one of {list(_EMBEDDINGS_DTYPES)}; got "
                f"{self.embeddings_dtype!r}."
            )


def _count(value: Any, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be an int >= {low}; got {describe(value)}.")
    if value < low:
        raise InputValueError(f"{name} must be >= {low}; got {value}.")


def _device(device: Any) -> torch.device:
    """The device to probe on; under torch.distributed, CUDA means ``cuda:LOCAL_RANK``."""
    rank, size = _shards.world()
    resolved = resolve_device(device)
    if size > 1 and resolved.type == "cuda" and resolved.index is None:
        local = int(os.environ.get("LOCAL_RANK", rank % max(1, torch.cuda.device_count())))
        return torch.device("cuda", local)
    return resolved


# --------------------------------------------------------------------------- the loop
class _Pass:
    """Runs chosen global batches through the model and hands each batch's arrays to a sink."""

    def __init__(
        self,
        model: nn.Module,
        layer: str | None,
        device: Any,
        o: _Options,
        plan: Any,
        classes: Sequence[str] | None = None,
    ) -> None:
        self.model, self.layer, self.device, self.o, self.plan = model, layer, device, o, plan
        self.classes = classes  # class names given by the caller: one per model output

    def run(self, todo: Sequence[int], sink: Any, position: int = 0) -> int:
        """Probe the batches ``todo`` into ``sink``; return the number of batches seen (the
        last global batch index + 1). ``position`` is the first item's stream position for a
        plan that is not addressable."""
        model, o, seen = self.model, self.o, 0
        dropouts = dropout_layers(model)
        home = next((p.device for p in model.parameters()), self.device)
        use_amp = o.autocast and self.device.type == "cuda"
        amp = torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else contextlib.nullcontext()
        ids_of = self.plan.ids_of()
        total = len(todo) if self.plan.addressable else None
        tap = None
        try:
            model.to(self.device)
            tap = Tap(model, self.layer)
            with restore_modes(model), torch.inference_mode(), amp:
                model.eval()
                for b, batch, index in _progress(self.plan.batches(todo), total, o.progress):
                    x, y = split_batch(batch, b)
                    x = to_device(x, self.device)
                    outputs = forward(
                        model, tap, x, b, outputs=o.outputs, mc_samples=o.mc_samples,
                        dropouts=dropouts, seed=o.seed,
                    )  # fmt: skip
                    self._check_classes(outputs[0].shape[1])
                    if index is None:  # a stream: positions
                        index = np.arange(position, position + len(outputs[0]))
                        position += len(index)
                    arrays = collect(
                        b, x, y, index, outputs, ids_of=ids_of, fingerprint=o.fingerprint,
                        embeddings_dtype=np.dtype(str(o.embeddings_dtype)),
                    )  # fmt: skip
                    sink.add(b, arrays, tap.layer)
                    seen = b + 1
        finally:
            if tap is not None:
                self.layer = tap.layer
                tap.close()
            model.to(home)
        return seen

    def _check_classes(self, k: int) -> None:
        if self.classes is not None and len(self.classes) != k:
            raise InputValueError(
                f"{len(self.classes)} class names were given ({_shown(self.classes)}), but "
                f"the model has {k} outputs. Fix: give one name per model output, in the "
                "model's order (--classes)."
            )


def _shown(names: Sequence[str]) -> str:
    return ", ".join(map(repr, names[:6])) + (", ..." if len(names) > 6 else "")


def _progress(batches: Iterable, total: int | None, enabled: bool) -> Iterable:
    if not enabled or _shards.world()[0] != 0:
        return batches
    from dataperf._progress import progress

    return progress(batches, total=total, desc="probe", unit="batch")


def _meta(provenance: Mapping[str, Any], layer: str | None, dataset: Any, k: int) -> dict:
    meta = {"model": provenance["model"], "layer": layer}
    meta.update(provenance)
    while isinstance(dataset, Subset) and not hasattr(dataset, "classes"):
        dataset = dataset.dataset  # a split of an ImageFolder keeps its class names
    classes = getattr(dataset, "classes", None)
    if isinstance(classes, (list, tuple)) and len(classes) == k and "classes" not in meta:
        meta["classes"] = [str(c) for c in classes]
    return meta


# --------------------------------------------------------------------------- in memory
class _MemorySink:
    """Keeps each batch's arrays in RAM; :meth:`arrays` joins them (an array missing from
    any batch, such as labels, is None)."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray | None]] = []

    def add(self, batch: int, arrays: dict[str, np.ndarray | None], layer: str) -> None:
        self.parts.append(arrays)

    def arrays(self) -> dict[str, np.ndarray | None]:
        joined = {}
        for name in self.parts[0]:
            values = [part[name] for part in self.parts]
            joined[name] = None if any(v is None for v in values) else np.concatenate(values)
        return joined


def _in_memory(job: _Pass, plan: BatchPlan, provenance: dict) -> tuple[Signals, ProbeReport]:
    sink, seen = _MemorySink(), 0
    todo = range(plan.count) if plan.addressable else range(0, sys.maxsize)
    if plan.count != 0:
        seen = job.run(todo, sink)
    if not sink.parts:
        raise InputValueError("data is empty: probe needs at least one item")
    arrays = sink.arrays()
    meta = _meta(provenance, job.layer, plan.dataset, arrays["probs"].shape[1])
    return Signals(**arrays, meta=meta), ProbeReport(batches=seen)


# --------------------------------------------------------------------------- to a folder
def _settings(model: nn.Module, layer: Any, device: Any, o: _Options, plan: Any) -> dict:
    """What identifies a run in its manifest: everything that changes the results."""
    kind = type(model)
    return {
        "run_format": 1,
        "signals_version": VERSION,
        "model": f"{kind.__module__}.{kind.__qualname__}",
        "weights": _weights_digest(model),
        "data": plan.describe(),
        "layer": layer,
        "mc_samples": o.mc_samples,
        "seed": o.seed if o.mc_samples else None,
        "outputs": o.outputs,
        "fingerprint": o.fingerprint,
        "embeddings_dtype": str(o.embeddings_dtype),
        "device": device.type,
        "autocast": bool(o.autocast and device.type == "cuda"),
    }


def _weights_digest(model: nn.Module) -> str:
    """A hash of the bytes of every parameter and buffer in ``model.state_dict()``."""
    digest = hashlib.blake2b(digest_size=16)
    for name, value in model.state_dict().items():
        if not isinstance(value, torch.Tensor):
            digest.update(repr((name, value)).encode())
            continue
        flat = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name} {flat.dtype} {tuple(value.shape)}\n".encode())
        try:
            digest.update(flat.view(torch.uint8).numpy())
        except (RuntimeError, TypeError):  # e.g. quantized tensors
            digest.update(repr(value).encode())
    return digest.hexdigest()


def _to_folder(
    job: _Pass, plan: BatchPlan, folder: Path, settings: dict, provenance: dict
) -> tuple[Signals, ProbeReport]:
    rank, size = _shards.world()
    if not plan.reproducible:
        raise InputValueError(
            "out= makes probe resumable, but the DataLoader's sampler draws other items each "
            f"time it is listed ({plan.describe_sampler()}), so a rerun could not tell which "
            "items are done. Fix: probe the items once into memory (no out=), or pass the "
            "Dataset (or a torch.utils.data.Subset of the indices you want) with out=."
        )
    if size > 1 and not plan.addressable:
        raise InputValueError(
            "under torch.distributed, probe splits the batches between ranks, so it needs data "
            "whose batches can be loaded on their own: a map-style Dataset or a plain "
            f"DataLoader over one; got a stream ({plan.order}). Fix: pass the Dataset, or run "
            "one process."
        )
    if size > 1 and job.device.type == "cuda":
        torch.cuda.set_device(job.device)
    error = None
    if rank == 0:
        try:
            _shards.prepare_run(folder, settings)
        except Exception as err:
            error = err
    _shards.agree(error)
    try:
        run = _shards.open_run(folder, settings)
    except Exception as err:
        error = err
    _shards.agree(error)
    report = ProbeReport(plan.count or 0, run.done_batches, run.complete, rank, size)
    if run.complete:
        if rank == 0:  # a kill between the merge and the removal of the shards
            shutil.rmtree(folder / _shards.SHARDS, ignore_errors=True)
        return Signals.load(folder), report
    per_shard = -(-(job.o.shard_size or DEFAULT_SHARD_SIZE) // max(1, plan.batch_size))
    sink, seen = None, 0
    try:
        todo, position = _todo(plan, run, folder, rank, size)
        sink = _shards.ShardSink(folder, per_shard)
        seen = job.run(todo, sink, position) if todo else 0
        sink.flush()
    except BaseException as err:
        if sink is not None:
            with contextlib.suppress(Exception):
                sink.flush()  # keep the batches that finished
        if not isinstance(err, Exception):
            raise
        error = err
    _shards.agree(error)
    if rank == 0:
        try:
            batches = plan.count if plan.addressable else max(seen, run.done_batches)
            layer, k = _shards.shard_info(folder)
            meta = _meta(provenance, job.layer or layer, plan.dataset, k)
            _shards.merge(folder, batches, meta)
            report = ProbeReport(batches, run.done_batches, False, rank, size)
        except Exception as err:
            error = err
    _shards.agree(error)
    return Signals.load(folder), report


def _todo(
    plan: BatchPlan, run: _shards.Run, folder: Path, rank: int, size: int
) -> tuple[Sequence[int], int]:
    """The global batches this rank still has to probe, and (for a stream) the position of
    the first item of the first one."""
    if not plan.addressable:  # a stream resumes after the finished prefix
        start, prefix = 0, []
        for first, stop in run.done:
            if first == start:
                start = stop
                prefix.append((first, stop))
        return range(start, sys.maxsize), _shards.shard_rows(folder, tuple(prefix))
    done = np.zeros(plan.count, dtype=bool)
    for first, stop in run.done:
        done[first:stop] = True
    mine = range(rank * plan.count // size, (rank + 1) * plan.count // size)
    return [b for b in mine if not done[b]], 0
