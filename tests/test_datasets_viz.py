"""Offline real data loaders and image grids."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataperf import datasets
from dataperf._errors import MissingResourceError
from dataperf.viz import image_grid, save_grid, to_display


def test_digits_are_real_uint8_images():
    images, labels = datasets.load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert images.max() == 255 and set(np.unique(labels)) == set(range(10))


@pytest.mark.skipif(datasets.fashion_mnist_dir() is None, reason="dataset-fashion-mnist absent")
def test_fashion_mnist_reads_idx_files():
    images, labels = datasets.load_fashion_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and np.bincount(labels).tolist() == [1000] * 10


def test_fashion_mnist_missing_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "fashion_mnist_dir", lambda: None)
    with pytest.raises(MissingResourceError, match="apt-get install dataset-fashion-mnist"):
        datasets.load_fashion_mnist()
    with pytest.raises(ValueError, match="split must be one of"):
        datasets.load_fashion_mnist("validation")


def test_to_display_handles_layouts_and_ranges():
    hwc = np.zeros((5, 6, 3), np.uint8)
    assert to_display(hwc).shape == (5, 6, 3)
    chw = torch.linspace(-2, 2, 3 * 5 * 6).reshape(3, 5, 6)  # normalised: min-max rescaled
    shown = to_display(chw)
    assert shown.shape == (5, 6, 3) and shown.min() == 0 and shown.max() == 255
    assert to_display(np.full((4, 4), 0.5, np.float32)).max() == 128  # [0, 1] floats scale by 255
    with pytest.raises(ValueError, match="cannot display"):
        to_display(np.zeros((2, 3, 4, 5)))


def test_grid_layout_and_save(tmp_path):
    rows = [[np.zeros((8, 8), np.uint8)] * 3, [np.full((8, 4, 3), 255, np.uint8)]]
    grid = image_grid(rows, cell=10, pad=2)
    assert grid.size == (3 * 10 + 4 * 2, 2 * 10 + 3 * 2)
    path = save_grid(rows, tmp_path / "sub" / "grid.png", cell=10)
    assert path.is_file() and path.stat().st_size > 0
    with pytest.raises(ValueError, match="at least one image"):
        image_grid([])
