"""probe() over a DataLoader with any sampler: every row is the dataset item it says it is.

Planted: ``Images`` items carry their own index in the label and in ``samples`` (file-path
ids), and an item's probabilities equal those of probing that item alone. Shuffles are probed
in dataset order, repeated draws once (with a warning), ``drop_last`` losses are counted, and
what cannot be aligned or resumed is refused.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _probe_helpers import Images, Stream, net
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    Sampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

from dataperf import InputError, probe

DATA = Images(37)


class ShuffledBatches(Sampler):
    """A user-defined batch sampler: a new random split into batches of 4 every time."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return -(-self.n // 4)

    def __iter__(self):
        order = torch.randperm(self.n).tolist()
        return iter([order[i : i + 4] for i in range(0, self.n, 4)])


def aligned(signals) -> None:
    """ids, labels and probs of each row belong to the item ``signals.index`` names."""
    index = signals.index
    assert signals.ids.tolist() == [DATA.samples[i][0] for i in index]
    assert np.array_equal(signals.labels, DATA.labels.numpy()[index])
    alone = probe(net(), torch.utils.data.Subset(DATA, index.tolist()), progress=False)
    np.testing.assert_allclose(signals.probs, alone.probs, rtol=1e-6)


LOADERS = {
    "shuffle": lambda: DataLoader(DATA, batch_size=4, shuffle=True),
    "random sampler": lambda: DataLoader(DATA, batch_size=5, sampler=RandomSampler(DATA)),
    "subset random": lambda: DataLoader(
        DATA, batch_size=3, sampler=SubsetRandomSampler(list(range(36, 0, -3)))
    ),
    "batch sampler over random": lambda: DataLoader(
        DATA, batch_sampler=BatchSampler(RandomSampler(DATA), batch_size=6, drop_last=False)
    ),
    "user batch sampler": lambda: DataLoader(DATA, batch_sampler=ShuffledBatches(37)),
}


@pytest.mark.parametrize("name", list(LOADERS))
def test_each_row_is_the_item_its_index_names(name):
    signals = probe(net(), LOADERS[name](), progress=False)
    aligned(signals)
    assert len(set(signals.index.tolist())) == len(signals.index)
    assert np.all(np.diff(signals.index) > 0)  # a shuffle is probed in dataset order


def test_sampling_with_replacement_probes_each_item_once_with_a_warning():
    weights = torch.zeros(37)
    weights[[2, 5, 11]] = 1.0
    loader = DataLoader(DATA, batch_size=4, sampler=WeightedRandomSampler(weights, 30))
    with pytest.warns(UserWarning, match=r"draws 27 items more than once.*3 distinct"):
        signals = probe(net(), loader, progress=False)
    assert signals.index.tolist() == [2, 5, 11] and signals.meta["duplicate_draws"] == 27
    aligned(signals)


def test_a_deterministic_sampler_that_repeats_items_is_deduplicated():
    loader = DataLoader(DATA, batch_sampler=[[4, 1], [1, 9, 4], [0]])
    with pytest.warns(UserWarning, match="draws 2 items more than once"):
        signals = probe(net(), loader, progress=False)
    assert signals.index.tolist() == [4, 1, 9, 0]  # its order, first draws
    aligned(signals)


@pytest.mark.parametrize("shuffle", [False, True])
def test_drop_last_is_counted_and_recorded(shuffle):
    inner = RandomSampler(DATA) if shuffle else torch.utils.data.SequentialSampler(DATA)
    loaders = [
        DataLoader(DATA, batch_size=5, drop_last=True, shuffle=shuffle),
        DataLoader(DATA, batch_sampler=BatchSampler(inner, batch_size=5, drop_last=True)),
    ]
    for loader in loaders:
        with pytest.warns(UserWarning, match="drop_last=True: 2 of the 37 items"):
            signals = probe(net(), loader, progress=False)
        assert len(signals.index) == 35 and signals.meta["not_probed_drop_last"] == 2
        aligned(signals)


def test_a_sampler_that_draws_other_items_each_time_is_refused_with_out(tmp_path):
    weighted = DataLoader(DATA, batch_size=4, sampler=WeightedRandomSampler(torch.ones(37), 37))
    with pytest.warns(UserWarning), pytest.raises(InputError, match="draws other items.*no out="):
        probe(net(), weighted, out=tmp_path / "w", progress=False)
    shuffled = DataLoader(
        DATA, batch_sampler=BatchSampler(RandomSampler(DATA), batch_size=5, drop_last=True)
    )
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="draws other items"):
        probe(net(), shuffled, out=tmp_path / "d", progress=False)


def test_a_shuffle_with_out_equals_the_dataset_probe(tmp_path):
    a = probe(net(), LOADERS["shuffle"](), out=tmp_path / "a", progress=False)
    b = probe(net(), DataLoader(DATA, batch_size=4), progress=False)
    np.testing.assert_array_equal(a.probs, b.probs)
    assert a.ids.tolist() == b.ids.tolist()


def test_a_loader_subclass_that_shuffles_is_refused():
    class Custom(DataLoader):
        pass

    for loader in (
        Custom(DATA, batch_size=4, shuffle=True),
        Custom(DATA, batch_sampler=ShuffledBatches(37)),
        DataLoader(DATA, batch_size=None, shuffle=True),
    ):
        with pytest.raises(InputError, match="cannot tell which dataset item"):
            probe(net(), loader, progress=False)


def test_a_stream_never_takes_ids_from_samples():
    class Shuffled(Stream):
        samples = DATA.samples  # a stream in its own order: positions are not indices

        def __len__(self):
            return 37

        def __iter__(self):
            order = np.random.default_rng(1).permutation(37)
            return (DATA[i] for i in order)

    signals = probe(net(), DataLoader(Shuffled(37), batch_size=4), progress=False)
    assert signals.ids.tolist() == list(range(37))  # positions, not wrong file paths


class SlowFirst(Images):
    """Items 0-9 are slow to read, so that with workers a later batch is ready first."""

    def __getitem__(self, index):
        if index < 10:
            import time

            time.sleep(0.05)
        return super().__getitem__(index)


def test_workers_handing_batches_over_out_of_order_stay_aligned():
    data = SlowFirst(40)
    loader = DataLoader(data, batch_size=10, num_workers=2, in_order=False)
    signals = probe(net(), loader, progress=False)
    assert np.array_equal(signals.labels, data.labels.numpy()[signals.index])
    assert signals.ids.tolist() == [data.samples[i][0] for i in signals.index]


def test_samplers_that_yield_tensors_are_followed():
    order = torch.randperm(37, generator=torch.Generator().manual_seed(2))
    loaders = [
        DataLoader(DATA, batch_size=5, sampler=iter(order)),  # 0-d tensors
        DataLoader(DATA, batch_sampler=[order[i : i + 5] for i in range(0, 37, 5)]),
    ]
    for loader in loaders:
        signals = probe(net(), loader, progress=False)
        assert sorted(signals.index.tolist()) == list(range(37))
        aligned(signals)


def test_a_subset_keeps_file_path_ids_and_class_names():
    split = torch.utils.data.Subset(DATA, [30, 2, 17, 5])
    signals = probe(net(), torch.utils.data.Subset(split, [3, 0, 2]), progress=False)
    assert signals.ids.tolist() == [DATA.samples[i][0] for i in (5, 30, 17)]
    assert signals.meta["classes"] == DATA.classes
