"""``AugmentedDataset`` and ``augment_loader``: augmentation without changing the user's code."""

from __future__ import annotations

import copy
import inspect
import operator
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler, get_worker_info

from dataperf._errors import InputTypeError, InputValueError
from dataperf._rng import check_epoch, check_seed
from dataperf._validate import describe
from dataperf.augment.backends import BACKENDS, resolve_backend, target_names

__all__ = [
    "AugmentedDataset",
    "AugmentedLoader",
    "EpochIndex",
    "RepeatedDrawsWarning",
    "augment_loader",
]


class RepeatedDrawsWarning(UserWarning):
    """An ``AugmentedDataset`` served an item again in the same epoch: the draws repeat."""


# Slots of the shared draw tracker: the epoch counted, items served in it, the epoch's first
# index (seen again after a full pass means a second pass with the same draws), warned yet.
_EPOCH, _COUNT, _FIRST, _WARNED = range(4)


class AugmentedDataset(Dataset):
    """A dataset whose items are augmented, with randomness keyed by ``(seed, epoch, index)``.

    Parameters
    ----------
    dataset : map-style ``Dataset`` (``__getitem__`` + ``__len__``) or ``IterableDataset``
        The data to augment. An ``IterableDataset`` gives an iterable ``AugmentedDataset``.
    augment : transform
        A ``torchvision.transforms.v2`` transform, an albumentations transform or ``Compose``,
        a TextAttack ``Augmenter``, a ``dataperf.text`` op, or any callable. A callable with an
        ``rng`` parameter is called ``augment(x, rng=generator)``; any other callable is called
        ``augment(x)`` with torch's CPU generator, ``random`` and ``np.random`` seeded for the
        item and restored afterwards. The backend is chosen here, once.
    seed : int, default 0
        Non-negative base seed.
    field : int or str, default 0
        Which part of an item to augment: a position for tuple/list items, a key for dict
        items; ignored for bare items (an image or a str), where it must stay 0.
    views : int, default 1
        With ``views > 1`` the augmented field holds a list of ``views`` independent
        augmentations of the input (and so does each co-transformed target); the rest of the
        item is unchanged.

    Notes
    -----
    The same item, seed and epoch always give the same output, whatever ``num_workers`` is and
    whichever process computes it; ``set_epoch`` changes the draws and different indices draw
    independently. Global RNG state (torch, NumPy, ``random``) is the same after an item as
    before it. For dict items, albumentations co-transforms the keys its pipeline accepts
    (``mask``, ``masks``, ``bboxes``, ``keypoints``, their label fields, additional targets);
    torchvision co-transforms every ``tv_tensors`` value of a tuple or dict item.

    For an ``IterableDataset`` the index is the item's position in the stream. With ``W > 1``
    DataLoader workers each worker iterates its own copy; the index of the ``p``-th item that
    worker ``w`` yields is ``p * W + w``: every item gets a distinct key, and the keys equal the
    global positions when the dataset shards round-robin by worker (the pattern in torch's
    ``IterableDataset`` documentation). Other sharding schemes are still deterministic for a
    fixed ``num_workers``, but their draws change with ``num_workers``.

    The epoch lives in shared memory, so ``set_epoch`` reaches DataLoader workers that keep their
    own copy of the dataset (``persistent_workers=True``). ``set_epoch`` is also passed on to
    the wrapped dataset when it has one.

    Reusing the dataset for another pass without ``set_epoch`` repeats every draw of the last
    pass: a :class:`RepeatedDrawsWarning` is issued once (once for all DataLoader workers) when
    the first item of an epoch is served again after more than ``len(dataset)`` items. Call
    ``set_epoch(epoch)`` before each pass, or use :func:`augment_loader`, whose loader advances
    the epoch by itself. Calling ``set_epoch`` (even with the same epoch) restarts the count,
    so deliberate repeats stay silent.
    """

    def __new__(cls, dataset: Any = None, *args: Any, **kwargs: Any) -> AugmentedDataset:
        if cls is AugmentedDataset and isinstance(dataset, IterableDataset):
            cls = _AugmentedIterableDataset
        return super().__new__(cls)

    def __init__(
        self, dataset: Any, augment: Any, *, seed: int = 0, field: int | str = 0, views: int = 1
    ) -> None:
        self.backend = resolve_backend(augment)
        _check_dataset(dataset)
        if isinstance(field, bool) or not isinstance(field, (int, str)):
            raise InputTypeError(
                f"field must be an int (position in a tuple item) or a str (key of a dict item); "
                f"got {describe(field)}."
            )
        if isinstance(views, bool) or not isinstance(views, int):
            raise InputTypeError(f"views must be an int >= 1; got {describe(views)}. E.g. views=2.")
        if views < 1:
            raise InputValueError(f"views must be >= 1; got {views}. Use views=1 for one view.")
        self.dataset = dataset
        self.augment = augment
        self.seed = check_seed(seed)
        self.field = field
        self.views = views
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._epoch_view = self._epoch.numpy()  # reads in ~2 us; indexing the tensor ~20 us
        self._draws = torch.zeros(4, dtype=torch.int64).share_memory_()  # see _EPOCH.._WARNED
        self._draws_view = self._draws.numpy()
        self._epoch_calls = 0  # explicit set_epoch calls (AugmentedLoader honours them)

    def __getstate__(self) -> dict:
        # The tensors travel to workers as shared memory; NumPy views would travel as copies.
        state = self.__dict__.copy()
        del state["_epoch_view"], state["_draws_view"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._epoch_view = self._epoch.numpy()
        self._draws_view = self._draws.numpy()

    # ----------------------------------------------------------------- epoch
    @property
    def epoch(self) -> int:
        """The epoch whose draws the next items use."""
        return int(self._epoch_view[0])

    def set_epoch(self, epoch: int) -> None:
        """Use the draws of ``epoch`` from now on (also in persistent DataLoader workers).

        Under :func:`augment_loader` the call takes effect at the loader's next iteration,
        which then uses ``epoch`` (and counts on from it).
        """
        self._use_epoch(check_epoch(epoch))
        self._epoch_calls += 1

    def _use_epoch(self, epoch: int) -> None:
        """Set the epoch (and the wrapped dataset's), restarting the repeated-draws count."""
        self._epoch_view[0] = epoch
        self._draws_view[_COUNT] = 0
        inner = getattr(self.dataset, "set_epoch", None)
        if callable(inner):  # e.g. a streaming dataset that reshuffles per epoch
            inner(epoch)

    # ----------------------------------------------------------------- items
    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, EpochIndex):  # from AugmentedLoader: the epoch travels with it
            epoch, index = index
        else:
            epoch = int(self._epoch_view[0])
        try:
            i = operator.index(index)
        except TypeError:
            raise InputTypeError(
                f"AugmentedDataset keys its randomness by integer index; got index "
                f"{describe(index)}. Index it with ints (a sampler that yields ints)."
            ) from None
        if i < 0:
            i += len(self.dataset)
            if i < 0:
                raise IndexError(f"index {index} is out of range for {len(self.dataset)} items")
        return self._augment_item(self.dataset[i], i, epoch)

    def _augment_item(self, item: Any, index: int, epoch: int) -> Any:
        field = _field(item, self.field, index)
        x = item if field is None else item[field]
        names = target_names(self.backend, self.augment, item, field)
        targets = {name: item[name] for name in names}
        self._note_draw(index, epoch)
        key = (self.seed, epoch, index)
        results = BACKENDS[self.backend](self.augment, x, targets, key, self.views)
        if self.views == 1:
            out, targets = results[0]
        else:
            out = [r[0] for r in results]
            targets = {name: [r[1][name] for r in results] for name in names}
        return out if field is None else _rebuild(item, field, out, targets)

    def _note_draw(self, index: int, epoch: int) -> None:
        """Warn once when a pass repeats the last pass's draws (see the class notes)."""
        draws = self._draws_view
        if draws[_EPOCH] != epoch or draws[_COUNT] == 0:  # a new epoch: count from this item
            draws[_EPOCH], draws[_COUNT], draws[_FIRST] = epoch, 0, index
        draws[_COUNT] += 1
        if index != draws[_FIRST] or draws[_WARNED] or draws[_COUNT] <= self._pass_size():
            return
        draws[_WARNED] = 1
        warnings.warn(
            f"AugmentedDataset: item {index} was served again with epoch {epoch} after a full "
            "pass, so this pass repeats the augmentations of the last one. Fix: call "
            "dataset.set_epoch(epoch) before each epoch, or wrap the DataLoader with "
            "dataperf.augment_loader(loader, augment), which advances the epoch by itself. "
            "(Shown once; silence it with warnings.filterwarnings('ignore', "
            "category=dataperf.RepeatedDrawsWarning).)",
            RepeatedDrawsWarning,
            stacklevel=4,
        )

    def _pass_size(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:
        # Forward attributes such as ``classes`` to the wrapped dataset ("change one line").
        if name.startswith("__") or name == "dataset" or "dataset" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["dataset"], name)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({type(self.dataset).__name__}, backend={self.backend!r}, "
            f"seed={self.seed}, field={self.field!r}, views={self.views}, epoch={self.epoch})"
        )


class _AugmentedIterableDataset(AugmentedDataset, IterableDataset):
    """The iterable form of ``AugmentedDataset`` (see its notes on indices and workers)."""

    def __iter__(self) -> Iterator[Any]:
        return self._stream(int(self._epoch_view[0]))  # the epoch is fixed when iteration starts

    def _stream(self, epoch: int) -> Iterator[Any]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for position, item in enumerate(self.dataset):
            yield self._augment_item(item, position * workers + worker, epoch)

    def __getitem__(self, index: int) -> Any:
        raise InputTypeError(
            "this AugmentedDataset wraps an IterableDataset, which has no random access; "
            "iterate over it (or over a DataLoader) instead."
        )

    def _pass_size(self) -> int:
        return 1  # stream positions restart only with a new pass

    def __len__(self) -> int:
        if not hasattr(self.dataset, "__len__"):
            raise InputTypeError(f"the wrapped {type(self.dataset).__name__} has no len()")
        return len(self.dataset)


def _check_dataset(dataset: Any) -> None:
    if isinstance(dataset, IterableDataset):
        return
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        raise InputTypeError(
            "dataset must be a map-style torch Dataset (with __getitem__ and __len__) or an "
            f"IterableDataset; got {describe(dataset)}. To wrap a DataLoader use "
            "dataperf.augment_loader(loader, augment)."
        )
    if len(dataset) == 0:
        raise InputValueError(
            f"dataset is empty (len 0): there is nothing to augment. Check the {type(dataset)}"
            " you passed (a wrong path or an over-strict filter?)."
        )


def _field(item: Any, field: int | str, index: int) -> int | str | None:
    """Where the input is in ``item``: a key, a non-negative position, or None (bare item)."""
    if isinstance(item, Mapping):
        if field not in item:
            raise InputValueError(
                f"item {index} is a dict with keys {list(item)}; field={field!r} is not one of "
                "them. Fix: pass field=<the key of the input to augment>, e.g. field='image'."
            )
        return field
    if isinstance(item, (tuple, list)):
        if not isinstance(field, int) or not -len(item) <= field < len(item):
            raise InputValueError(
                f"item {index} is a {type(item).__name__} of length {len(item)}; field={field!r} "
                f"is not a position in it. Fix: pass field=<position of the input>, "
                f"0 to {len(item) - 1}."
            )
        return field + len(item) if field < 0 else field
    if field != 0:
        raise InputValueError(
            f"item {index} is a bare {describe(item)}, not a tuple or dict, so field={field!r} "
            "does not apply. Fix: leave field=0 for datasets whose items are the input itself."
        )
    return None


def _rebuild(item: Any, field: int | str, x: Any, targets: dict) -> Any:
    """``item`` with ``x`` at ``field`` and ``targets`` at their keys, of the item's own type."""
    if isinstance(item, Mapping):
        out = copy.copy(item) if isinstance(item, dict) else dict(item)
        out.update(targets)
        out[field] = x
        return out
    parts = list(item)
    for position, value in targets.items():
        parts[position] = value
    parts[field] = x
    if isinstance(item, list):
        return parts
    return type(item)(*parts) if hasattr(item, "_fields") else type(item)(parts)


# --------------------------------------------------------------------------- loaders
class EpochIndex(NamedTuple):
    """An index that carries the epoch it was drawn in (what ``AugmentedLoader`` samples)."""

    epoch: int
    index: int


class _EpochKeyed(Sampler):
    """Wraps the loader's index sampler so its indices carry the epoch of their iteration.

    ``__iter__`` reads the epoch when the DataLoader iterator is created (not lazily), so an
    unfinished iterator keeps its epoch when another one is started, and persistent workers
    need no shared state.
    """

    def __init__(self, sampler: Any, *, batched: bool) -> None:
        self.sampler = sampler
        self.batched = batched
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[Any]:
        return self._keys(self.epoch)

    def _keys(self, epoch: int) -> Iterator[Any]:
        for key in self.sampler:
            yield [EpochIndex(epoch, i) for i in key] if self.batched else EpochIndex(epoch, key)


if not isinstance(getattr(DataLoader, "_index_sampler", None), property):  # pragma: no cover
    raise ImportError(
        f"dataperf's AugmentedLoader needs DataLoader._index_sampler, which torch "
        f"{torch.__version__} does not have; install a torch version dataperf supports (<2.15)."
    )


class AugmentedLoader(DataLoader):
    """A ``DataLoader`` over an ``AugmentedDataset`` whose epoch advances at every iteration.

    Each ``iter(loader)`` uses the next epoch (0, 1, 2, ...) for the augmentation draws and
    passes it to the sampler's ``set_epoch`` when it has one (``DistributedSampler``).
    ``loader.set_epoch(e)`` makes the next iteration use epoch ``e``; so do the usual
    distributed-training call ``sampler.set_epoch(e)`` on the loader's sampler and
    ``loader.dataset.set_epoch(e)``. Later iterations count on from ``e``. Calls that ask for
    different epochs before the same iteration raise ``ValueError`` rather than one being
    ignored. For map-style
    datasets every index carries the epoch of its iteration (an ``EpochIndex``), so an iterator
    keeps its epoch even when another one is started before it ends; note that every
    ``iter(loader)`` counts as an epoch. For an ``IterableDataset`` the epoch is read when the
    dataset's iteration starts.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_epoch = 0
        # DataLoader's iterators ask ``_index_sampler`` for indices; ours carry the epoch.
        self._keys = None
        if not isinstance(self.dataset, IterableDataset):
            self._keys = _EpochKeyed(super()._index_sampler, batched=self._auto_collation)
        samplers = (self.sampler, getattr(self.batch_sampler, "sampler", None))
        self._epoch_sampler = next((s for s in samplers if hasattr(s, "set_epoch")), None)
        self._told = getattr(self._epoch_sampler, "epoch", None)
        self._asked: int | None = None  # from loader.set_epoch
        self._dataset_calls = self.dataset._epoch_calls

    @property
    def _index_sampler(self) -> Any:
        return self._keys if self._keys is not None else super()._index_sampler

    @property
    def epoch(self) -> int:
        """The epoch the next iteration will use."""
        return self._next_epoch

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use ``epoch``; later iterations count on from it."""
        self._next_epoch = self._asked = check_epoch(epoch)

    def _requested_epoch(self) -> int:
        """The epoch of the next iteration: the one explicitly asked for since the last
        iteration (by ``loader.set_epoch``, ``sampler.set_epoch`` or
        ``loader.dataset.set_epoch``), else the next in the count."""
        asked = {}
        if self._asked is not None:
            asked["loader.set_epoch"] = self._asked
        sampler = self._epoch_sampler
        if sampler is not None and getattr(sampler, "epoch", self._told) != self._told:
            asked["loader.sampler.set_epoch"] = check_epoch(sampler.epoch)
        if self.dataset._epoch_calls != self._dataset_calls:
            asked["loader.dataset.set_epoch"] = self.dataset.epoch
        if len(set(asked.values())) > 1:
            calls = ", ".join(f"{call}({epoch})" for call, epoch in asked.items())
            raise InputValueError(
                f"conflicting epochs asked for the next iteration: {calls}. Fix: call one of "
                "them (loader.set_epoch(epoch) is enough: it also sets the sampler's and the "
                "dataset's epoch)."
            )
        return next(iter(asked.values()), self._next_epoch)

    def __iter__(self):
        epoch = self._requested_epoch()
        sampler = self._epoch_sampler
        if sampler is not None:
            sampler.set_epoch(epoch)
            self._told = epoch
        if self._keys is not None:
            self._keys.epoch = epoch
        self.dataset._use_epoch(epoch)  # iterable datasets read it; ``loader.dataset[i]`` agrees
        self._asked, self._dataset_calls = None, self.dataset._epoch_calls
        self._next_epoch = epoch + 1
        return super().__iter__()


_BATCHING = {"self", "dataset", "batch_size", "shuffle", "sampler", "batch_sampler", "drop_last"}


def augment_loader(
    loader: DataLoader, augment: Any, *, seed: int = 0, field: int | str = 0, views: int = 1
) -> AugmentedLoader:
    """A new DataLoader like ``loader`` whose items are augmented (see ``AugmentedDataset``).

    Every setting of ``loader`` that this torch's ``DataLoader`` accepts is carried over:
    batch size or batch sampler, sampler (so shuffling and its generator), collate_fn,
    num_workers, pin_memory, drop_last, timeout, worker_init_fn, multiprocessing_context,
    generator, prefetch_factor, persistent_workers, pin_memory_device, in_order. The epoch
    advances by itself at every iteration (``AugmentedLoader``).

    Examples
    --------
    >>> loader = augment_loader(loader, v2.Compose([v2.RandomResizedCrop(224)]), seed=0)
    """
    if not isinstance(loader, DataLoader):
        raise InputTypeError(
            f"loader must be a torch.utils.data.DataLoader; got {describe(loader)}. To wrap a "
            "Dataset, use dataperf.AugmentedDataset(dataset, augment)."
        )
    dataset = AugmentedDataset(loader.dataset, augment, seed=seed, field=field, views=views)
    params = inspect.signature(DataLoader.__init__).parameters
    kwargs = {n: getattr(loader, n) for n in params if n not in _BATCHING and hasattr(loader, n)}
    if isinstance(loader.dataset, IterableDataset):
        kwargs.update(batch_size=loader.batch_size, drop_last=loader.drop_last)
    elif loader.batch_size is not None:
        kwargs.update(batch_size=loader.batch_size, drop_last=loader.drop_last)
        kwargs["sampler"] = loader.sampler
    elif loader.batch_sampler is not None:
        kwargs["batch_sampler"] = loader.batch_sampler
    else:
        kwargs.update(batch_size=None, sampler=loader.sampler)
    return AugmentedLoader(dataset, **kwargs)
