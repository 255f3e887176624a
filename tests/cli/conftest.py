"""Fixtures of the command tests: tiny model files and data on disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _cli_models import feature_net, tiny_net, write_pngs


@pytest.fixture
def files(tmp_path):
    """Tiny model files and data: an ImageFolder test set, a flat pool, .npy arrays."""
    model = tiny_net()
    ts = tmp_path / "model.ts"
    torch.jit.script(feature_net()).save(str(ts))  # forward returns (logits, features)
    weights = tmp_path / "weights.pt"
    torch.save(model.state_dict(), weights)
    test = tmp_path / "test"
    for c, name in enumerate(["cat", "dog", "fox"]):
        write_pngs(test / name, 4, seed=c)
    pool = tmp_path / "pool"
    write_pngs(pool, 12, seed=10)
    rng = np.random.default_rng(3)
    images = tmp_path / "images.npy"
    np.save(images, rng.integers(0, 256, (9, 8, 8, 3), dtype=np.uint8))  # (N, H, W, C)
    labels = tmp_path / "labels.npy"
    np.save(labels, np.arange(9) % 3)
    return {
        "ts": ts,
        "weights": weights,
        "test": test,
        "pool": pool,
        "npy": images,
        "labels": labels,
        "tmp": tmp_path,
    }
