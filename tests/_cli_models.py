"""Tiny models, datasets and transforms that the CLI tests name in ``--model`` / ``--data`` specs.

Inputs are 3 x 8 x 8 images; there are 3 classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn


class TinyNet(nn.Module):
    """Flatten -> Linear(192, 16) -> ReLU -> Dropout -> Linear(16, 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU())
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


class WideNet(TinyNet):
    """Like TinyNet with 32 hidden units: its weights do not fit TinyNet."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 32), nn.ReLU())
        self.head = nn.Linear(32, 3)


class FeatureNet(TinyNet):
    """TinyNet whose forward returns ``(logits, features)``, as a TorchScript export should."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)
        return self.head(self.dropout(features)), features


def feature_net() -> FeatureNet:
    """A seeded FeatureNet with TinyNet's weights."""
    model = FeatureNet()
    model.load_state_dict(tiny_net().state_dict())
    return model


class NeedsWidth(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, 3)


def tiny_net() -> TinyNet:
    """A seeded TinyNet (a ``module:function`` model spec)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return TinyNet()


def not_a_model() -> int:
    return 3


def to_tensor():
    """A ``--transform`` factory: PIL image -> (3, 8, 8) float tensor in [0, 1]."""

    def convert(image):
        array = np.asarray(image.convert("RGB").resize((8, 8)), dtype=np.float32) / 255.0
        return torch.from_numpy(array).permute(2, 0, 1).contiguous()

    return convert


def tensor_pool():
    """A ``--data module:function`` Dataset of 10 random (3, 8, 8) images with labels."""
    g = torch.Generator().manual_seed(1)
    return torch.utils.data.TensorDataset(
        torch.rand(10, 3, 8, 8, generator=g), torch.arange(10) % 3
    )


def write_pngs(folder: Path, n: int, seed: int, *, size: int = 8) -> list[Path]:
    """Write ``n`` random RGB PNGs of ``size`` px into ``folder``; return their paths."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"img_{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths
