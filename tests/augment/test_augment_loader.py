"""augment_loader / AugmentedLoader: settings carried over, epochs that advance by themselves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _spawn_helpers import ListDataset
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    get_worker_info,
)
from torch.utils.data._utils.collate import default_collate, default_convert
from torchvision.transforms import v2

from dataperf import AugmentedDataset, AugmentedLoader, augment_loader

N = 8


class Stream(IterableDataset):
    """Yields ``(image, index)``; worker ``w`` of ``W`` yields items ``w::W`` (round robin)."""

    def __init__(self, images) -> None:
        self.images = images

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for i in range(worker, len(self.images), workers):
            yield self.images[i], i


def tensor_images(n: int = N, size: int = 32) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return list(torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=gen))


def pipeline():
    return v2.Compose(
        [
            v2.RandomResizedCrop(24, scale=(0.3, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.4, contrast=0.4),
        ]
    )


def pairs(n: int = N) -> ListDataset:
    return ListDataset(zip(tensor_images(n), range(n)))


def worker_init(worker_id: int) -> None:
    pass


def count_collate(batch):
    return {"batch": default_collate(batch), "size": len(batch)}


def run(loader) -> tuple[dict[int, torch.Tensor], list[int]]:
    """One iteration: augmented images by item index, and the order of the indices."""
    images, order = {}, []
    for batch_images, labels in loader:
        for image, label in zip(batch_images, labels.tolist()):
            images[label] = image
            order.append(label)
    return images, order


def expected_epoch(base, epoch: int, *, seed: int = 0, indices=None) -> dict[int, torch.Tensor]:
    fresh = AugmentedDataset(base, pipeline(), seed=seed)
    fresh.set_epoch(epoch)
    indices = range(len(base)) if indices is None else indices
    return {i: fresh[i][0] for i in indices}


def assert_images_equal(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for i in got:
        assert torch.equal(got[i], expected[i]), f"item {i} differs"


def assert_all_differ(a: dict, b: dict) -> None:
    for i in a:
        assert not torch.equal(a[i], b[i]), f"item {i} got the same augmentation twice"


# --------------------------------------------------------------------------- settings
def test_every_setting_is_carried_over():
    base_ds = pairs()
    gen = torch.Generator().manual_seed(0)
    loader = DataLoader(
        base_ds, batch_size=3, shuffle=True, num_workers=2, collate_fn=count_collate,
        pin_memory=True, drop_last=True, timeout=5.0, worker_init_fn=worker_init,
        multiprocessing_context="fork", generator=gen, prefetch_factor=3,
        persistent_workers=True, pin_memory_device="cpu", in_order=False,
    )  # fmt: skip
    new = augment_loader(loader, pipeline(), seed=4, field=0, views=2)
    assert isinstance(new, AugmentedLoader) and isinstance(new, DataLoader)
    assert isinstance(new.dataset, AugmentedDataset) and new.dataset.dataset is base_ds
    assert (new.dataset.seed, new.dataset.field, new.dataset.views) == (4, 0, 2)
    assert new.batch_size == 3
    assert new.drop_last is True
    assert new.sampler is loader.sampler and isinstance(new.sampler, RandomSampler)
    assert new.sampler.generator is gen
    assert new.num_workers == 2
    assert new.collate_fn is count_collate
    assert new.pin_memory is True
    assert new.timeout == 5.0
    assert new.worker_init_fn is worker_init
    assert new.multiprocessing_context is loader.multiprocessing_context
    assert new.multiprocessing_context.get_start_method() == "fork"
    assert new.generator is gen
    assert new.prefetch_factor == 3
    assert new.persistent_workers is True
    assert new.pin_memory_device == loader.pin_memory_device
    assert new.in_order is False
    assert new.epoch == 0


def test_defaults_are_carried_over():
    loader = DataLoader(pairs(), batch_size=2)
    new = augment_loader(loader, pipeline())
    for name in ("batch_size", "drop_last", "num_workers", "collate_fn", "pin_memory", "timeout",
                 "worker_init_fn", "multiprocessing_context", "generator", "prefetch_factor",
                 "persistent_workers", "pin_memory_device", "in_order"):  # fmt: skip
        assert getattr(new, name) == getattr(loader, name), name
    assert isinstance(new.sampler, SequentialSampler)
    _, order = run(new)
    assert order == list(range(N))


def test_batch_size_drop_last_and_collate_fn_act():
    base = pairs(10)
    loader = DataLoader(base, batch_size=3, drop_last=True, collate_fn=count_collate)
    batches = list(augment_loader(loader, pipeline()))
    assert [b["size"] for b in batches] == [3, 3, 3]
    images, labels = batches[0]["batch"]
    assert images.shape == (3, 3, 24, 24) and labels.tolist() == [0, 1, 2]
    expected = expected_epoch(base, 0, indices=range(3))
    assert all(torch.equal(images[i], expected[i]) for i in range(3))


@pytest.mark.parametrize("how", ["shuffle", "sampler"])
def test_random_sampler_with_generator_gives_the_same_order_as_the_original(how):
    base = pairs()

    def make(seed: int) -> DataLoader:
        gen = torch.Generator().manual_seed(seed)
        if how == "shuffle":
            return DataLoader(base, batch_size=3, shuffle=True, generator=gen)
        return DataLoader(base, batch_size=3, sampler=RandomSampler(base, generator=gen))

    original, new = make(7), augment_loader(make(7), pipeline())
    assert new.sampler is not original.sampler  # a different loader, built the same way
    for epoch in range(2):
        got, order = run(new)
        want = [int(i) for _, labels in original for i in labels]
        assert order == want and order != list(range(N))
        assert_images_equal(got, expected_epoch(base, epoch))


def test_user_batch_sampler_is_carried_over():
    base = pairs()
    batches = [[0, 3], [5, 1, 2], [7], [4, 6]]
    loader = DataLoader(base, batch_sampler=batches)
    new = augment_loader(loader, pipeline())
    assert new.batch_sampler is batches
    assert new.batch_size is None
    got = [labels.tolist() for _, labels in new]
    assert got == batches


def test_batch_sampler_object_is_carried_over():
    base = pairs(7)
    batch_sampler = BatchSampler(SequentialSampler(base), batch_size=3, drop_last=True)
    new = augment_loader(DataLoader(base, batch_sampler=batch_sampler), pipeline())
    assert new.batch_sampler is batch_sampler
    images, order = run(new)
    assert order == list(range(6))
    assert_images_equal(images, expected_epoch(base, 0, indices=range(6)))


def test_batch_size_none_gives_unbatched_items():
    base = pairs()
    loader = DataLoader(base, batch_size=None, shuffle=True, generator=torch.Generator())
    new = augment_loader(loader, pipeline())
    assert new.batch_size is None and new.batch_sampler is None
    assert new.sampler is loader.sampler
    assert new.collate_fn is default_convert
    items = list(new)
    assert len(items) == N
    expected = expected_epoch(base, 0)
    for image, label in items:
        assert isinstance(label, int) and image.shape == (3, 24, 24)
        assert torch.equal(image, expected[label])


def test_numpy_items_are_collated_as_before():
    rng = np.random.default_rng(0)
    base = ListDataset((rng.random((4,), dtype=np.float32), i) for i in range(N))
    loader = DataLoader(base, batch_size=4)
    new = augment_loader(loader, lambda x, rng: x + rng.random(dtype=np.float32))
    values, labels = next(iter(new))
    assert isinstance(values, torch.Tensor) and values.shape == (4, 4)
    assert labels.tolist() == [0, 1, 2, 3]


# --------------------------------------------------------------------------- epochs
def test_epoch_advances_at_every_iteration():
    base = pairs()
    loader = augment_loader(DataLoader(base, batch_size=3), pipeline(), seed=3)
    assert loader.epoch == 0
    runs = []
    for epoch in range(3):
        images, _ = run(loader)
        assert loader.epoch == epoch + 1
        assert loader.dataset.epoch == epoch
        assert_images_equal(images, expected_epoch(base, epoch, seed=3))
        runs.append(images)
    assert_all_differ(runs[0], runs[1])
    assert_all_differ(runs[1], runs[2])


def test_persistent_workers_see_the_new_epoch():
    base = pairs()
    loader = augment_loader(
        DataLoader(base, batch_size=2, num_workers=2, persistent_workers=True), pipeline()
    )
    try:
        runs = [run(loader)[0] for _ in range(3)]
    finally:
        del loader  # shuts the workers down
    for epoch, images in enumerate(runs):
        assert_images_equal(images, expected_epoch(base, epoch))
    assert_all_differ(runs[0], runs[1])


def test_distributed_sampler_follows_the_epoch():
    base = pairs(16)
    sampler = DistributedSampler(base, num_replicas=2, rank=0, shuffle=True, seed=0)
    loader = augment_loader(DataLoader(base, batch_size=4, sampler=sampler), pipeline())
    assert loader.sampler is sampler
    orders = []
    for epoch in range(2):
        images, order = run(loader)
        assert sampler.epoch == epoch
        reference = DistributedSampler(base, num_replicas=2, rank=0, shuffle=True, seed=0)
        reference.set_epoch(epoch)
        assert order == list(reference)
        assert_images_equal(images, expected_epoch(base, epoch, indices=order))
        orders.append(order)
    assert len(orders[0]) == 8 and orders[0] != orders[1]


def test_distributed_sampler_inside_a_batch_sampler_follows_the_epoch():
    base = pairs(16)
    sampler = DistributedSampler(base, num_replicas=2, rank=1, shuffle=True, seed=1)
    batch_sampler = BatchSampler(sampler, batch_size=3, drop_last=False)
    loader = augment_loader(DataLoader(base, batch_sampler=batch_sampler), pipeline())
    for epoch in range(2):
        _, order = run(loader)
        assert sampler.epoch == epoch
        reference = DistributedSampler(base, num_replicas=2, rank=1, shuffle=True, seed=1)
        reference.set_epoch(epoch)
        assert order == list(reference)


def test_the_usual_sampler_set_epoch_call_also_sets_the_augmentation_epoch():
    # Distributed training code calls sampler.set_epoch(e) itself (e.g. resuming at epoch 5):
    # the loader must follow it, not overwrite it with its own count.
    base = pairs(16)
    sampler = DistributedSampler(base, num_replicas=2, rank=0, shuffle=True, seed=0)
    loader = augment_loader(DataLoader(base, batch_size=4, sampler=sampler), pipeline())
    for epoch in (5, 6, 9):
        sampler.set_epoch(epoch)
        images, order = run(loader)
        assert sampler.epoch == epoch and loader.epoch == epoch + 1
        reference = DistributedSampler(base, num_replicas=2, rank=0, shuffle=True, seed=0)
        reference.set_epoch(epoch)
        assert order == list(reference)
        assert_images_equal(images, expected_epoch(base, epoch, indices=order))
    _, order = run(loader)  # no call: the loader counts on from the last epoch
    assert sampler.epoch == 10


def test_set_epoch_on_the_loader():
    base = pairs(16)
    sampler = DistributedSampler(base, num_replicas=2, rank=0, shuffle=True)
    loader = augment_loader(DataLoader(base, batch_size=4, sampler=sampler), pipeline())
    loader.set_epoch(5)
    assert loader.epoch == 5
    images, order = run(loader)
    assert sampler.epoch == 5 and loader.epoch == 6
    assert_images_equal(images, expected_epoch(base, 5, indices=order))
    images, order = run(loader)
    assert sampler.epoch == 6
    assert_images_equal(images, expected_epoch(base, 6, indices=order))
    loader.set_epoch(np.int64(0))
    assert loader.epoch == 0 and type(loader.epoch) is int


def test_set_epoch_rejects_bad_values():
    loader = augment_loader(DataLoader(pairs(), batch_size=4), pipeline())
    with pytest.raises(ValueError, match=r"epoch must be .*got -1"):
        loader.set_epoch(-1)
    with pytest.raises(TypeError, match=r"epoch must be a non-negative int; got float"):
        loader.set_epoch(1.0)
    assert loader.epoch == 0


def test_an_unfinished_iteration_keeps_its_epoch():
    base = pairs()
    loader = augment_loader(DataLoader(base, batch_size=2), pipeline())
    first = iter(loader)  # epoch 0
    next(first)
    next(iter(loader))  # a peek: epoch 1
    images, labels = next(first)
    expected = expected_epoch(base, 0, indices=labels.tolist())
    assert all(torch.equal(im, expected[i]) for im, i in zip(images, labels.tolist()))


# --------------------------------------------------------------------------- iterable datasets
def test_iterable_dataset_loader():
    images = tensor_images()
    loader = DataLoader(Stream(images), batch_size=3, drop_last=True)
    new = augment_loader(loader, pipeline(), seed=2)
    assert (new.batch_size, new.drop_last) == (3, True)
    mapped = ListDataset(zip(images, range(N)))
    for epoch in range(2):
        got, order = run(new)
        assert order == list(range(6))
        assert_images_equal(got, expected_epoch(mapped, epoch, seed=2, indices=range(6)))


def test_iterable_dataset_loader_with_persistent_workers():
    images = tensor_images()
    loader = DataLoader(Stream(images), batch_size=2, num_workers=2, persistent_workers=True)
    new = augment_loader(loader, pipeline())
    mapped = ListDataset(zip(images, range(N)))
    try:
        runs = [run(new) for _ in range(2)]
    finally:
        del new
    for epoch, (got, order) in enumerate(runs):
        assert sorted(order) == list(range(N))
        assert_images_equal(got, expected_epoch(mapped, epoch))


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "not_a_loader", [pairs(), [1, 2, 3], None], ids=["dataset", "list", "None"]
)
def test_non_dataloader_is_a_type_error(not_a_loader):
    with pytest.raises(
        TypeError,
        match=r"loader must be a torch\.utils\.data\.DataLoader; got .*"
        r"use dataperf\.AugmentedDataset\(dataset, augment\)",
    ):
        augment_loader(not_a_loader, pipeline())
