"""The batch plan of ``probe`` (private): which dataset items form each global batch.

``probe`` numbers the batches of the whole data ``0..B-1`` (the *global* batch order) and can
load any subset of them: the batches a resumed run still needs, or the contiguous range of one
torch.distributed rank. The plan also gives each item's dataset index (``Signals.index``), from
whatever sampler or batch sampler a DataLoader has, so that ids and labels stay aligned.

Three kinds of plan:

- a Dataset: read in order, ``batch_size`` items per batch;
- a plain ``DataLoader`` over a map-style dataset: the batches its ``batch_sampler`` yields
  (any sampler but a shuffling ``RandomSampler``, which is refused), listed once, and loaded
  by a DataLoader with the same settings (workers, collate_fn, ...) over the chosen batches;
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
from torch.utils.data import DataLoader, IterableDataset, RandomSampler, SequentialSampler

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
        self.dropped = 0
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
        if isinstance(loader.sampler, RandomSampler):
            raise InputValueError(
                "data is a DataLoader that shuffles; probe reads every item once in a fixed "
                "order (shuffling gains nothing and cannot be resumed). Fix: build it with "
                "shuffle=False."
            )
        self.dataset, self.loader = loader.dataset, loader
        self.batch_size = loader.batch_size or 1
        self.n = _length(loader.dataset)
        plain = type(loader) is DataLoader and loader.batch_sampler is not None
        batches = _list_batches(loader) if plain and self.n is not None else None
        if batches is None:
            sequential = isinstance(loader.sampler, SequentialSampler)
            if not isinstance(loader.dataset, IterableDataset) and not sequential:
                raise InputValueError(
                    f"data is a {type(loader).__name__} with a {type(loader.sampler).__name__} "
                    "and no batch sampler that probe can follow, so it cannot tell which item "
                    "each output belongs to. Fix: pass a plain DataLoader with batch_size set, "
                    "or the Dataset itself."
                )
            self.addressable, self.settings = False, {}
            self.count = _length(loader)
            self.order = f"as iterated, {type(loader).__name__}"
            return
        sizes = np.array([len(b) for b in batches], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(sizes)])
        self._items = np.fromiter((i for b in batches for i in b), np.int64, int(sizes.sum()))
        self.addressable, self.count = True, len(batches)
        self.batch_size = int(sizes[0]) if len(sizes) else self.batch_size
        digest = hashlib.blake2b(self._items.tobytes() + self._starts.tobytes(), digest_size=12)
        self.order = f"batch sampler {digest.hexdigest()}"
        parameters = inspect.signature(DataLoader).parameters
        self.settings = {k: getattr(loader, k) for k in _LOADER_SETTINGS if k in parameters}
        if loader.num_workers:
            self.settings["prefetch_factor"] = loader.prefetch_factor
        sampled = _length(loader.sampler)
        if loader.drop_last and sampled is not None and sampled > len(self._items):
            self.dropped = sampled - len(self._items)
            warnings.warn(
                f"the DataLoader has drop_last=True: its last {self.dropped} items are not "
                "probed (they are missing from the Signals). Fix: drop_last=False.",
                stacklevel=4,
            )

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
        ImageFolder), else None (the ids are the indices)."""
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


def _list_batches(loader: DataLoader) -> list[list[int]] | None:
    """The batch sampler's batches, or None when they are not integer indices."""
    batches = [list(b) for b in loader.batch_sampler]
    if all(isinstance(i, (int, np.integer)) for b in batches for i in b):
        return batches
    return None


def _samples(dataset: Any, n: int | None) -> list | None:
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
