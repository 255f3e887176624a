"""Real data that works offline: scikit-learn's digits, Fashion-MNIST, WordNet sentences.

Nothing here downloads. Fashion-MNIST is read from Debian's ``dataset-fashion-mnist`` package
(or ``$DATAPERF_FASHION_MNIST_DIR``); WordNet sentences from Debian's ``wordnet-base``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from dataperf._errors import InputValueError, MissingResourceError

__all__ = [
    "FASHION_MNIST_CLASSES",
    "fashion_mnist_dir",
    "load_digits",
    "load_fashion_mnist",
    "wordnet_sentences",
]

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits as images.

    Returns
    -------
    images : (1797, 8, 8) uint8 array, values 0-255
    labels : (1797,) int64 array, classes 0-9
    """
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return images, bunch.target.astype(np.int64)


def fashion_mnist_dir() -> Path | None:
    """The folder holding the Fashion-MNIST IDX files, or None when it is not installed."""
    candidates = [os.environ.get("DATAPERF_FASHION_MNIST_DIR"), "/usr/share/datasets/fashion-mnist"]
    for folder in filter(None, candidates):
        if all((Path(folder) / name).is_file() for name in _FASHION_FILES["test"]):
            return Path(folder)
    return None


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    zero, dtype_code, ndim = data[0:2], data[2], data[3]
    if zero != b"\x00\x00" or dtype_code != 0x08:
        raise InputValueError(f"{path} is not an IDX file of unsigned bytes (header {data[:4]!r})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    # a writable copy: torch.from_numpy warns on (and cannot protect) read-only buffers
    return np.frombuffer(bytearray(data), dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (Zalando, MIT licence) from Debian's ``dataset-fashion-mnist`` package.

    Parameters
    ----------
    split : {"train", "test"}
        60,000 training or 10,000 test images.

    Returns
    -------
    images : (N, 28, 28) uint8 array
    labels : (N,) int64 array, classes 0-9 named in ``FASHION_MNIST_CLASSES``
    """
    if split not in _FASHION_FILES:
        raise InputValueError(f"split must be one of {sorted(_FASHION_FILES)}; got {split!r}")
    folder = fashion_mnist_dir()
    if folder is None:
        raise MissingResourceError(
            "Fashion-MNIST is not installed. Install Debian's package: "
            "`apt-get install dataset-fashion-mnist` (files land in "
            "/usr/share/datasets/fashion-mnist), or set DATAPERF_FASHION_MNIST_DIR to a folder "
            "with the four *-ubyte.gz files. scikit-learn's digits work without it "
            "(dataperf.datasets.load_digits)."
        )
    image_file, label_file = _FASHION_FILES[split]
    images = _read_idx(folder / image_file)
    labels = _read_idx(folder / label_file).astype(np.int64)
    return images, labels


def wordnet_sentences(
    n: int | None = None, *, seed: int = 0, min_words: int = 6, max_words: int = 30
) -> list[str]:
    """Real English sentences: WordNet's usage examples and definitions (see ``dataperf.text``)."""
    from dataperf._wordnet import wordnet_sentences as _sentences

    return _sentences(n, seed=seed, min_words=min_words, max_words=max_words)
