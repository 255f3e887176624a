"""Module-level datasets and transforms for tests whose DataLoader workers are spawned.

A spawned worker unpickles the dataset, so everything in it must be importable by name in a
fresh interpreter: no lambdas, no classes defined inside test functions. pyproject.toml's
``pythonpath = ["tests"]`` puts this folder on ``sys.path``, which spawned workers inherit.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2


class ListDataset(Dataset):
    """A map-style Dataset over a list (a plain list is not a ``Dataset`` subclass)."""

    def __init__(self, items) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


class TensorImages(Dataset):
    """``n`` items ``(uint8 (3, size, size) tensor, index)``; the images differ by index."""

    def __init__(self, n: int = 8, size: int = 32) -> None:
        gen = torch.Generator().manual_seed(1234)
        self.images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=gen)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(index)


#: A torchvision v2 pipeline at module level (picklable, importable in a spawned child).
TV_PIPELINE = v2.Compose(
    [
        v2.RandomResizedCrop(24, scale=(0.3, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=0.4, contrast=0.4),
    ]
)


def global_rng_noise(x: torch.Tensor) -> torch.Tensor:
    """A plain callable that draws from all three global RNGs (torch, NumPy, ``random``)."""
    legacy = float(np.random.rand())  # noqa: NPY002 (the global generator, on purpose)
    shift = float(torch.rand(()).item()) + legacy + random.random()
    return x.float() + shift
