"""Module-level models, datasets and process entry points for the probe-at-scale tests.

Everything here is importable by name, so that a ``dataperf probe`` subprocess (``--model
_probe_helpers:net --data _probe_helpers:slow_pool``) and processes spawned by
torch.multiprocessing can use it. pyproject.toml's ``pythonpath = ["tests"]`` puts this folder
on ``sys.path`` for every test folder; the CLI tests pass it on through ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, IterableDataset


class Net(nn.Module):
    """Flatten -> Linear(3 * 8 * 8, 16) -> ReLU -> Dropout -> Linear(16, 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU())
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.body(x)))


def net(seed: int = 0) -> Net:
    """A seeded Net (a ``module:function`` model spec)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return Net()


def other_net() -> Net:
    """A Net with other weights (a resume with it must be refused)."""
    return net(seed=1)


class Images(Dataset):
    """``n`` items ``((3, 8, 8) float image, label)``; ``samples`` gives file-path-like ids.

    Reading an item sleeps ``delay`` seconds, so that a subprocess can be killed mid-run.
    """

    classes = ["cat", "dog", "fox"]

    def __init__(self, n: int = 37, delay: float = 0.0) -> None:
        gen = torch.Generator().manual_seed(7)
        self.images = torch.rand(n, 3, 8, 8, generator=gen)
        self.labels = torch.arange(n) % 3
        self.samples = [(f"/data/{self.classes[i % 3]}/img_{i:04d}.png", i % 3) for i in range(n)]
        self.delay = delay

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if self.delay:
            time.sleep(self.delay)
        return self.images[index], int(self.labels[index])


class Stream(IterableDataset):
    """The items of ``Images(n)`` as a stream (no random access, no length)."""

    def __init__(self, n: int = 37) -> None:
        self.images = Images(n)

    def __iter__(self):
        return (self.images[i] for i in range(len(self.images)))


def slow_pool() -> Images:
    """60 images read at ~0.01 s each (a ``--data module:function`` spec)."""
    return Images(60, delay=0.01)


def probe_images(out: str | None, **options):
    """The probe that the resume and distributed tests repeat: 37 items in batches of 4."""
    from dataperf.probing import run_probe

    settings = dict(batch_size=4, mc_samples=2, shard_size=8, progress=False, out=out)
    settings.update(options)
    return run_probe(net(), Images(37), **settings)


def dist_probe(rank: int, world: int, init: str, outs: list[str]) -> None:
    """One rank of gloo probe runs into each of ``outs`` (for
    ``torch.multiprocessing.start_processes``); one thread, as in the reference run."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        for out in outs:
            signals, report = probe_images(out)
            assert len(signals) == 37 and (report.rank, report.world) == (rank, world)
    finally:
        dist.destroy_process_group()


#: Every per-item field of Signals.
FIELDS = ("probs", "embeddings", "labels", "mc_probs", "fingerprints", "index", "ids")


def assert_identical(a, b) -> None:
    """Bit for bit: every array (same dtype and shape), the ids and the meta."""
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype or x.dtype.kind == y.dtype.kind == "U", name
            assert x.shape == y.shape and np.array_equal(x, y), name
    dump = lambda m: json.dumps(m, default=str, sort_keys=True)  # noqa: E731
    assert dump(a.meta) == dump(b.meta)
