"""Epoch calls that would be ignored take effect or raise; repeated draws across passes warn."""

from __future__ import annotations

import warnings

import pytest
import torch
from _spawn_helpers import ListDataset
from torch.utils.data import DataLoader, Dataset, DistributedSampler, IterableDataset

from dataperf import AugmentedDataset, RepeatedDrawsWarning, augment_loader


def noise(x, *, rng):
    return x + float(rng.random())


def items(n: int = 6) -> ListDataset:
    return ListDataset((torch.zeros(2), i) for i in range(n))


def epoch_of(ds: AugmentedDataset, epoch: int, index: int) -> torch.Tensor:
    fresh = AugmentedDataset(ds.dataset, noise, seed=ds.seed)
    fresh.set_epoch(epoch)
    return fresh[index][0]


def first_batch(loader) -> tuple[torch.Tensor, list[int]]:
    images, labels = next(iter(loader))
    return images, labels.tolist()


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_dataset_set_epoch_takes_effect(workers):
    base = items()
    loader = augment_loader(DataLoader(base, batch_size=6, num_workers=workers), noise, seed=1)
    list(loader)  # epoch 0
    loader.dataset.set_epoch(7)  # the call a training script makes on the dataset
    images, labels = first_batch(loader)
    assert loader.dataset.epoch == 7 and loader.epoch == 8
    for image, i in zip(images, labels):
        assert torch.equal(image, epoch_of(loader.dataset, 7, i))
    images, labels = first_batch(loader)  # no call: the count goes on from 7
    assert torch.equal(images[0], epoch_of(loader.dataset, 8, labels[0]))


def test_repeating_the_same_dataset_epoch_is_honoured():
    loader = augment_loader(DataLoader(items(), batch_size=6), noise)
    loader.dataset.set_epoch(0)
    a, _ = first_batch(loader)
    loader.dataset.set_epoch(0)  # the same value again: still an explicit request
    b, _ = first_batch(loader)
    assert torch.equal(a, b)


def test_conflicting_epoch_calls_raise_instead_of_one_being_ignored():
    base = items(8)
    sampler = DistributedSampler(base, num_replicas=2, rank=0, shuffle=False)
    loader = augment_loader(DataLoader(base, batch_size=4, sampler=sampler), noise)
    loader.set_epoch(3)
    loader.dataset.set_epoch(5)
    with pytest.raises(ValueError, match=r"loader.set_epoch\(3\).*loader.dataset.set_epoch\(5\)"):
        iter(loader)
    sampler.set_epoch(4)
    loader.set_epoch(4)
    loader.dataset.set_epoch(4)  # agreeing calls are fine
    first_batch(loader)
    assert sampler.epoch == 4 and loader.dataset.epoch == 4


class EpochAware(Dataset):
    """A dataset with its own ``set_epoch`` (e.g. one that reshuffles per epoch)."""

    def __init__(self) -> None:
        self.epochs: list[int] = []

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index):
        return torch.zeros(2), index

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)


def test_set_epoch_reaches_the_wrapped_dataset():
    inner = EpochAware()
    ds = AugmentedDataset(inner, noise)
    ds.set_epoch(3)
    assert inner.epochs == [3]
    loader = augment_loader(DataLoader(inner, batch_size=4), noise)
    list(loader)
    list(loader)
    assert inner.epochs[-2:] == [0, 1]


def passes(ds, n_passes: int, **loader_options) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(n_passes):
            list(DataLoader(ds, batch_size=3, **loader_options))
    return [w for w in caught if issubclass(w.category, RepeatedDrawsWarning)]


def test_reuse_without_set_epoch_warns_once():
    ds = AugmentedDataset(items(), noise)
    assert passes(ds, 1) == []
    caught = passes(ds, 3)
    assert len(caught) == 1  # once, not once per pass
    message = str(caught[0].message)
    assert "set_epoch(epoch)" in message and "augment_loader" in message


def test_shuffled_reuse_warns():
    ds = AugmentedDataset(items(), noise)
    assert len(passes(ds, 2, shuffle=True)) == 1


def test_set_epoch_between_passes_or_augment_loader_is_silent():
    ds = AugmentedDataset(items(), noise)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RepeatedDrawsWarning)
        for epoch in range(3):
            ds.set_epoch(epoch)
            list(DataLoader(ds, batch_size=3, shuffle=True))
        ds.set_epoch(0)  # the same epoch again, on purpose
        list(DataLoader(ds, batch_size=3))
        loader = augment_loader(DataLoader(items(), batch_size=3, shuffle=True), noise)
        for _ in range(3):
            list(loader)
        fresh = AugmentedDataset(items(), noise)
        fresh[0]  # a warm-up item, then a full pass: not a repeat of a pass
        [fresh[i] for i in range(len(fresh))]


def test_reuse_warns_once_across_workers():
    # Each worker holds a copy of the dataset: the tracker lives in shared memory.
    ds = AugmentedDataset(items(8), noise)
    assert len(passes(ds, 3, num_workers=2)) + len(passes(ds, 1)) <= 1
    fresh = AugmentedDataset(items(8), noise)
    passes(fresh, 3, num_workers=2)  # warnings raised in workers go to their stderr
    assert fresh._draws_view[3] == 1  # the shared "warned" flag was set by a worker


class Stream(IterableDataset):
    def __iter__(self):
        for i in range(5):
            yield torch.zeros(2), i


def test_iterable_reuse_warns():
    ds = AugmentedDataset(Stream(), noise)
    assert passes(ds, 1) == []
    assert len(passes(ds, 1)) == 1
