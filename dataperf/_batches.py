"""The batch plan of ``probe`` (private): which dataset items form each global batch.

``probe`` numbers the batches of the whole data ``0..B-1`` (the *global* batch order) and can
load any subset of them: the batches a resumed run still needs, or the contiguous range of one
torch.distributed rank. The plan also gives each item's dataset index (``Signals.index``), from
whatever sampler or batch sampler a DataLoader has, so that ids and labels stay aligned.

Three kinds of plan:

- a Dataset: read in order, ``batch_size`` items per batch;
- a plain ``DataLoader`` over a map-style dataset: the batches its ``batch_sampler`` yields,
  listed once, and loaded by a DataLoader with the same settings (workers, collate_fn, ...)
  over the chosen batches. A sampler that shuffles (torch's random samplers, or any sampler
  or batch sampler whose batches differ when listed again) is probed in dataset order: the
  items it drew, each once, in batches of the loader's batch size. Such a run resumes when a
  rerun draws the same items (e.g. ``shuffle=True``, ``SubsetRandomSampler``); one that draws
  other items each time (``WeightedRandomSampler``, ``drop_last`` over a shuffle) is refused
  with ``out=``. Items drawn more than once (sampling with replacement) are probed once,
  with a warning; items that ``drop_last`` leaves out are counted, with a warning;
- anything else (an IterableDataset, ``batch_size=None``, a DataLoader subclass with a
  sequential sampler): iterated as it is; an item's index is its position in the stream, and
  batches before the first one needed are read and skipped.
"""

from __future__ import annotations

import hashlib
import inspect
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

from dataperf._errors import InputTypeError, InputValueError
from dataperf._validate import describe

__all__ = ["BatchPlan"]

_LOADER_SETTINGS = (
    "num_workers", "collate_fn", "pin_memory", "timeout", "worker_init_fn",
    "multiprocessing_context", "generator", "persistent_workers", "pin_memory_device", "in_order",
)  # fmt: skip


class BatchPlan:
    """Which dataset items form each global batch of ``data``, and loaders over any of them.

    Attributes
    ----------
    dataset : the underlying dataset.
    count : int or None
        B, the number of global batches (None: unknown until iterated).
    batch_size : int
        Items per batch (the first batch's size for a batch sampler; 1 when unknown).
    addressable : bool
        Whether any batch can be loaded on its own (False: the data is iterated in order).
    """

    def __init__(self, data: Any, batch_size: int, num_workers: int) -> None:
        self.dropped = 0  # items that drop_last left out
        self.duplicates = 0  # repeated draws of an item, probed once
        self.reproducible = True  # a rerun lists the same items (so ``out=`` can resume)
        self.drawn = 0
        self._starts: np.ndarray | None = None  # (B + 1,) offsets into _items
        self._items: np.ndarray | None = None  # flat dataset indices
        if isinstance(data, DataLoader):
            self._from_loader(data)
            return
        if not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
            raise InputTypeError(f"data must be a Dataset or a DataLoader; got {describe(data)}.")
        self.dataset, self.loader, self.addressable = data, None, True
        self.batch_size, self.n = batch_size, len(data)
        self.count = -(-self.n // batch_size)
        # Its own generator: iterating a DataLoader otherwise draws from torch's global RNG.
        self.settings = {
            "num_workers": num_workers,
            "generator": torch.Generator().manual_seed(0),
        }
        self.order = f"sequential, {batch_size} per batch"

    def _from_loader(self, loader: DataLoader) -> None:
        self.dataset, self.loader = loader.dataset, loader
        self.batch_size = loader.batch_size or 1
        self.n = _length(loader.dataset)
        plain = (
            type(loader) is DataLoader
            and loader.batch_sampler is not None
            and not isinstance(loader.dataset, IterableDataset)  # its sampler never ends
        )
        batches = _list_batches(loader) if plain and self.n is not None else None
        if batches is None:
            self._as_stream(loader)
            return
        batches, self.order = self._settle(loader, batches)
        sizes = np.array([len(b) for b in batches], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(sizes)])
        self._items = np.fromiter((i for b in batches for i in b), np.int64, int(sizes.sum()))
        self.addressable, self.count = True, len(batches)
        self.batch_size = int(sizes[0]) if len(sizes) else self.batch_size
        parameters = inspect.signature(DataLoader).parameters
        self.settings = {k: getattr(loader, k) for k in _LOADER_SETTINGS if k in parameters}
        if "in_order" in self.settings:  # batches are paired with their indices by position
            self.settings["in_order"] = True
        if loader.num_workers:
            self.settings["prefetch_factor"] = loader.prefetch_factor
        drop_last = loader.drop_last or getattr(loader.batch_sampler, "drop_last", False) is True
        inner = getattr(loader.batch_sampler, "sampler", loader.sampler)
        sampled = _length(inner)
        if drop_last and sampled is not None and sampled > self.drawn:
            self.dropped = sampled - self.drawn
            warnings.warn(
                f"the DataLoader has drop_last=True: {self.dropped} of the {sampled} items its "
                "sampler draws are not probed (they are missing from the Signals; "
                "meta['not_probed_drop_last'] records the count). Fix: drop_last=False.",
                stacklevel=5,
            )

    def _as_stream(self, loader: DataLoader) -> None:
        """A loader whose batches probe cannot list: iterated as it is, if its order is the
        dataset's order (or an IterableDataset's own stream), else refused."""
        batch_sampler = loader.batch_sampler
        sequential = isinstance(loader.sampler, SequentialSampler) and (
            batch_sampler is None
            or (
                type(batch_sampler) is BatchSampler
                and isinstance(batch_sampler.sampler, SequentialSampler)
            )
        )
        if getattr(loader, "in_order", True) is False and loader.num_workers > 0:
            sequential = False  # workers may hand batches over out of order
        if not isinstance(loader.dataset, IterableDataset) and not sequential:
            what = type(batch_sampler if batch_sampler is not None else loader.sampler).__name__
            raise InputValueError(
                f"data is a {type(loader).__name__} with a {what} that probe cannot follow "
                "(a DataLoader subclass, batches of non-integer indices, batch_size=None "
                "with a non-sequential sampler, or in_order=False with workers), so it cannot "
                "tell which dataset item each output belongs to. Fix: pass a plain torch "
                "DataLoader with batch_size set, or the Dataset itself (probe reads it in order)."
            )
        self.addressable, self.settings = False, {}
        self.count = _length(loader)
        self.order = f"as iterated, {type(loader).__name__}"

    def _settle(self, loader: DataLoader, batches: list[list[int]]) -> tuple[list, str]:
        """The batches to probe and their ``order`` label, from the batches the loader's
        batch sampler gave once.

        A sampler that gives the same batches each time is followed as it is. One that
        shuffles (a random sampler, or batches that differ when listed again) is probed in
        dataset order instead, so that the run is reproducible and resumable; the order of
        the items changes no output. Repeated draws of an item (sampling with replacement)
        are probed once, with a warning.
        """
        flat = [i for b in batches for i in b]
        self.drawn = len(flat)
        again = None if _is_sequential(loader) else _list_batches(loader)
        if _is_random(loader) or (again is not None and again != batches):
            unique = np.unique(np.asarray(flat, dtype=np.int64))
            distinct = len(unique)
            self.reproducible = np.array_equal(
                unique, np.unique(np.asarray([i for b in again or [] for i in b], dtype=np.int64))
            )
            size = len(batches[0]) if batches else 1
            batches = [unique[i : i + size].tolist() for i in range(0, len(unique), size)]
            label = "sampled items in dataset order"
        else:
            kept: set[int] = set()  # a deterministic sampler may still repeat items
            batches = [[i for i in b if not (i in kept or kept.add(i))] for b in batches]
            batches = [b for b in batches if b]
            distinct = len(kept)
            label = "batch sampler"
        self.duplicates = self.drawn - distinct
        if self.duplicates:
            warnings.warn(
                f"the DataLoader's sampler draws {self.duplicates} items more than once (e.g. "
                "sampling with replacement); probe gives each dataset item one row, so "
                f"{distinct} distinct items are probed (meta['duplicate_draws'] records the "
                "count). Fix: a sampler without replacement, or pass the Dataset.",
                stacklevel=6,
            )
        parts = [np.asarray(b, dtype=np.int64) for b in batches]
        items = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        starts = np.cumsum([0] + [len(b) for b in parts], dtype=np.int64)
        digest = hashlib.blake2b(items.tobytes() + starts.tobytes(), digest_size=12)
        return batches, f"{label} {digest.hexdigest()}"

    def describe_sampler(self) -> str:
        """The sampler and batch sampler, in words (for messages)."""
        if self.loader is None:
            return "no sampler"
        inner = getattr(self.loader.batch_sampler, "sampler", self.loader.sampler)
        return f"{type(self.loader.batch_sampler).__name__} over {type(inner).__name__}"

    def items(self, batch: int) -> np.ndarray:
        """(B_b,) int64 dataset indices of global batch ``batch`` (addressable plans)."""
        if self._items is None:
            start = batch * self.batch_size
            return np.arange(start, min(start + self.batch_size, self.n), dtype=np.int64)
        return self._items[self._starts[batch] : self._starts[batch + 1]]

    def describe(self) -> dict[str, Any]:
        """What identifies the data and its batches in a run manifest."""
        kind = type(self.dataset)
        return {
            "type": f"{kind.__module__}.{kind.__qualname__}",
            "length": self.n,
            "batches": self.count,
            "batch_size": self.batch_size,
            "order": self.order,
            "ids": _ids_digest(self.dataset, self.n),
        }

    def batches(self, todo: Sequence[int]) -> Iterator[tuple[int, Any, np.ndarray | None]]:
        """``(global batch index, batch, dataset indices)`` for the batches ``todo`` (in
        increasing order). A plan that is not addressable gives None indices and reads (and
        skips) the batches before ``todo[0]``; ``todo`` must then run to its end."""
        if not todo:
            return
        if not self.addressable:
            for number, batch in enumerate(self.loader):
                if number >= todo[0]:
                    yield number, batch, None
            return
        loader = DataLoader(self.dataset, batch_sampler=_Batches(self, todo), **self.settings)
        yield from ((b, batch, self.items(b)) for b, batch in zip(todo, loader, strict=True))

    def ids_of(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """Indices -> ids: the file paths of a dataset with ``samples`` (such as torchvision's
        ImageFolder), else None (the ids are the indices). A stream's indices are positions,
        not dataset indices (an IterableDataset may order its items as it likes), so its ids
        are never looked up in ``samples``."""
        if isinstance(self.dataset, IterableDataset):
            return None
        samples = _samples(self.dataset, self.n)
        if samples is None:
            return None
        return lambda index: np.array([str(samples[i][0]) for i in index.tolist()], dtype=str)


class _Batches:
    """A batch sampler over the chosen global batches of a plan."""

    def __init__(self, plan: BatchPlan, todo: Sequence[int]) -> None:
        self.plan, self.todo = plan, list(todo)

    def __len__(self) -> int:
        return len(self.todo)

    def __iter__(self) -> Iterator[list[int]]:
        return (self.plan.items(b).tolist() for b in self.todo)


def _length(x: Any) -> int | None:
    try:
        return len(x)
    except TypeError:
        return None


def _is_random(loader: DataLoader) -> bool:
    """Whether the loader draws from one of torch's random samplers."""
    random = (RandomSampler, SubsetRandomSampler, WeightedRandomSampler)
    inner = getattr(loader.batch_sampler, "sampler", None)
    return isinstance(loader.sampler, random) or isinstance(inner, random)


def _is_sequential(loader: DataLoader) -> bool:
    """Whether the loader's batches are torch's BatchSampler over a SequentialSampler."""
    batch_sampler = loader.batch_sampler
    return type(batch_sampler) is BatchSampler and type(batch_sampler.sampler) is SequentialSampler


def _list_batches(loader: DataLoader) -> list[list[int]] | None:
    """The batch sampler's batches as lists of ints (from ints, NumPy integers or integer
    0-d tensors), or None when they are not integer indices."""
    batches = [list(b) for b in loader.batch_sampler]
    if all(_is_index(i) for b in batches for i in b):
        return [[int(i) for i in b] for b in batches]
    return None


def _is_index(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.ndim == 0 and not value.is_floating_point() and not value.is_complex()
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _samples(dataset: Any, n: int | None) -> list | None:
    """``dataset.samples`` (``(path, label)`` tuples, one per item), looked up through
    ``torch.utils.data.Subset`` wrappers (e.g. a train/validation split of an ImageFolder)."""
    if isinstance(dataset, Subset):
        inner = _samples(dataset.dataset, _length(dataset.dataset))
        indices = list(dataset.indices)
        if inner is None or len(indices) != n:
            return None
        return [inner[int(i)] for i in indices]
    samples = getattr(dataset, "samples", None)
    if isinstance(samples, list) and samples and len(samples) == n:
        if isinstance(samples[0], tuple):
            return samples
    return None


def _ids_digest(dataset: Any, n: int | None) -> str | None:
    samples = _samples(dataset, n)
    if samples is None:
        return None
    digest = hashlib.blake2b(digest_size=12)
    for sample in samples:
        digest.update(str(sample[0]).encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()
