"""A small CNN, an image-array Dataset and a fast deterministic trainer for benchmarks."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from dataperf._errors import InputTypeError, InputValueError
from dataperf._validate import (
    check_batch_size,
    check_float,
    check_int,
    check_labels,
    describe,
    resolve_device,
)

__all__ = ["ImageArray", "SmallCNN", "SmallMLP", "train_classifier"]


class SmallCNN(nn.Module):
    """Two conv blocks and a two-layer head; the head's last Linear sees a 128-d embedding.

    Parameters
    ----------
    num_classes : int
        K, the number of outputs (logits).
    in_channels : int
        C of the input ``(B, C, H, W)``.
    image_size : int
        H (= W) of the input; 8 (digits) and 28 (Fashion-MNIST) both work: each max-pool is
        skipped once the feature map is smaller than 2 pixels, and the flattened size is
        computed from ``image_size``.
    width : int
        Channels of the first conv block (the second has ``2 * width``).
    dropout : float
        Dropout before the last Linear (what MC dropout in :func:`dataperf.probe` samples).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 28,
        width: int = 32,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        for name, value in [
            ("num_classes", num_classes),
            ("in_channels", in_channels),
            ("image_size", image_size),
            ("width", width),
        ]:
            check_int(value, name, low=1)
        check_float(dropout, "dropout", low=0.0, high=1.0, high_open=True)
        size = int(image_size)
        layers: list[nn.Module] = []
        channels = int(in_channels)
        for out in (int(width), 2 * int(width)):
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU()]
            if size >= 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            channels = out
        self.features = nn.Sequential(*layers)
        self.image_size = int(image_size)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * size * size, 128),
            nn.ReLU(),
            nn.Dropout(float(dropout)),
            nn.Linear(128, int(num_classes)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for a float batch ``(B, C, image_size, image_size)``."""
        if x.ndim != 4 or x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise InputValueError(
                f"SmallCNN(image_size={self.image_size}) expects input (B, C, "
                f"{self.image_size}, {self.image_size}); got {tuple(x.shape)}. Fix: build it "
                "with image_size matching your images."
            )
        return self.head(self.features(x))


class SmallMLP(nn.Module):
    """A multi-layer perceptron on flattened pixels; its last Linear sees a 64-d embedding.

    ``Flatten -> Linear(C*H*W, hidden) -> ReLU -> Dropout -> Linear(hidden, 64) -> ReLU ->
    Linear(64, num_classes)``: a model of another family than :class:`SmallCNN`, for checking
    that data-centric methods do not depend on one architecture.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 28,
        hidden: int = 256,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        for name, value in [
            ("num_classes", num_classes),
            ("in_channels", in_channels),
            ("image_size", image_size),
            ("hidden", hidden),
        ]:
            check_int(value, name, low=1)
        check_float(dropout, "dropout", low=0.0, high=1.0, high_open=True)
        self.features = nn.Sequential(
            nn.Flatten(),
            nn.Linear(int(in_channels) * int(image_size) ** 2, int(hidden)),
            nn.ReLU(),
            nn.Dropout(float(dropout)),
            nn.Linear(int(hidden), 64),
            nn.ReLU(),
        )
        self.head = nn.Linear(64, int(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for a float batch ``(B, C, H, W)``."""
        return self.head(self.features(x))


def _as_images(images: Any) -> np.ndarray:
    arr = np.asarray(images)
    if arr.dtype.kind not in "uif" or arr.ndim not in (3, 4):
        raise InputValueError(
            "images must be a real array of shape (N, H, W) or (N, H, W, C); got "
            f"{describe(images)}."
        )
    return arr


class ImageArray(Dataset):
    """Images held in a numpy array, as a torch Dataset.

    Parameters
    ----------
    images : (N, H, W) or (N, H, W, C) uint8 or float array
    labels : (N,) int array, optional
        When given, items are ``(image, label)``; otherwise just the image.
    scale : float, optional
        Pixel values are divided by it. Default: 255 for uint8 images; float images need an
        explicit value (e.g. 16 for raw scikit-learn digits, 1 for images already in [0, 1]).

    Items are ``(C, H, W)`` float32 tensors.
    """

    def __init__(self, images: Any, labels: Any = None, *, scale: float | None = None) -> None:
        arr = _as_images(images)
        if scale is None:
            if arr.dtype != np.uint8:
                raise InputValueError(
                    f"images of dtype {arr.dtype} need an explicit scale (pixel values are "
                    "divided by it); got scale=None. Fix: pass scale=16 for raw digits, "
                    "scale=1 for images already in [0, 1]."
                )
            scale = 255.0
        scale = check_float(scale, "scale", low=0.0, low_open=True)
        if labels is not None:
            labels = check_labels(labels, len(arr), None)
        self.images = arr
        self.labels = labels
        self.scale = float(scale)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Any:
        img = self.images[index]
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / np.float32(self.scale))
        x = x.unsqueeze(0) if x.ndim == 2 else x.permute(2, 0, 1)
        if self.labels is None:
            return x
        return x, int(self.labels[index])


def _as_tensor_batch(images: np.ndarray, scale: float) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32) / np.float32(scale))
    return x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()


def train_classifier(
    model: nn.Module,
    images: Any,
    labels: Any,
    *,
    epochs: int = 3,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    scale: float | None = None,
    device: Any = None,
    progress: bool = False,
) -> nn.Module:
    """Train ``model`` with Adam and cross-entropy; deterministic for a seed on the CPU.

    Parameters
    ----------
    model : nn.Module
        Maps ``(B, C, H, W)`` float32 to logits ``(B, K)``. Its parameters are re-initialised
        from ``seed`` (``reset_parameters`` of every submodule) so the result depends on the
        seed only, not on how the model was built.
    images : (N, H, W) or (N, H, W, C) uint8 or float array
        Scaled as in :class:`ImageArray` (uint8 / 255 by default).
    labels : (N,) int array
    epochs, batch_size, lr : training settings.
    seed : int
        Seeds initialisation, shuffling and dropout inside ``torch.random.fork_rng``, so the
        global torch RNG state is unchanged afterwards.
    scale : float, optional
        Divisor of pixel values (required for float images).
    device : str or torch.device, optional
        Default: CUDA if available, else CPU.
    progress : bool
        Show a progress bar over epochs.

    Returns
    -------
    nn.Module
        The same model, trained, in eval mode, on ``device``.
    """
    if not isinstance(model, nn.Module):
        raise InputTypeError(f"model must be a torch.nn.Module; got {describe(model)}.")
    data = ImageArray(images, labels, scale=scale)
    if data.labels is None:
        raise InputValueError("labels are required to train; got None.")
    epochs = check_int(epochs, "epochs", low=1)
    batch_size = check_batch_size(batch_size, allow_none=False)
    lr = check_float(lr, "lr", low=0.0, low_open=True)
    seed = check_int(seed, "seed", low=0)
    device = resolve_device(device)
    x_all = _as_tensor_batch(data.images, data.scale)
    y_all = torch.from_numpy(data.labels)
    n = len(y_all)
    devices = [device.index or 0] if device.type == "cuda" else []
    epoch_iter: Any = range(int(epochs))
    if progress:
        from dataperf._progress import progress as _progress

        epoch_iter = _progress(epoch_iter, desc="train", unit="epoch")
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for module in model.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
        model.to(device)
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        loss_fn = nn.CrossEntropyLoss()
        shuffler = torch.Generator().manual_seed(seed)
        for _ in epoch_iter:
            order = torch.randperm(n, generator=shuffler)
            for start in range(0, n, int(batch_size)):
                idx = order[start : start + int(batch_size)]
                xb, yb = x_all[idx].to(device), y_all[idx].to(device)
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                optimizer.step()
    model.eval()
    return model
