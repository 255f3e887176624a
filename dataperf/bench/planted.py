"""Planted candidate pools: which items are useful new test examples is known in advance.

A pool mixes five kinds of candidate images:

- ``clean``: real, unseen items with their true label (labelable and novel; useful when the
  model gets them wrong);
- ``blend``: ``alpha * a + (1 - alpha) * b`` of two items of *different* classes with
  ``alpha ~ U(0.35, 0.65)`` (a person cannot say which class: unlabelable);
- ``noise``: uniform or blurred Gaussian noise with random contrast (unlabelable);
- ``ood``: images from another domain, e.g. digits among clothes (unlabelable for the task);
- ``copy``: near-copies of the existing test set, a 1-pixel shift plus small Gaussian noise
  (labelable but not novel);

and, on request, three more kinds a person cannot label:

- ``mosaic``: the four quadrants of four different items;
- ``blur``: an item under a heavy Gaussian blur (radius 3.5 px at 28 x 28, scaled with size);
- ``crop``: a small corner-to-centre patch (a quarter of the side) blown up to full size.

A sampler that proposes new hard test examples should pick misclassified ``clean`` items and
nothing else; :func:`useful_mask` and :func:`precision_at_k` score it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._validate import check_int, check_labels, describe

__all__ = ["KINDS", "PlantedPool", "make_planted_pool", "precision_at_k", "upscale", "useful_mask"]

KINDS = ("clean", "blend", "noise", "ood", "copy", "mosaic", "blur", "crop")
_KIND_SEED = {kind: i for i, kind in enumerate(KINDS)}


@dataclass(frozen=True, eq=False)
class PlantedPool:
    """A candidate pool whose composition is known.

    Attributes
    ----------
    images : (N, H, W) uint8 array
    labels : (N,) int64 array
        True label of ``clean`` and ``copy`` items (``copy`` items get -1 when the test labels
        were not given); -1 for the unlabelable kinds (``blend``, ``noise``, ``ood``).
    kind : (N,) str array
        One of ``KINDS`` per item.
    source : (N,) int64 array
        Position in the array the item came from: ``images`` for clean and blend (the first
        of the two blended items), ``test_images`` for copy, ``ood_images`` for ood; -1 for
        noise.
    """

    images: np.ndarray
    labels: np.ndarray
    kind: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def counts(self) -> dict[str, int]:
        """Number of items of each kind, ``{kind: count}`` for every kind in ``KINDS``."""
        return {k: int(np.sum(self.kind == k)) for k in KINDS}


# ----------------------------------------------------------------------------------- checks


def _check_images(x: Any, name: str, hw: tuple[int, int] | None = None) -> np.ndarray:
    what = f"{name} must be a non-empty uint8 array of shape (N, H, W) with values 0-255; got "
    fix = "Fix: convert with np.clip(x, 0, 255).astype(np.uint8) (grayscale)."
    arr = np.asarray(x) if x is not None else None
    if arr is None or arr.dtype != np.uint8:
        raise InputTypeError(f"{what}{describe(x)}. {fix}")
    if arr.ndim != 3 or len(arr) == 0:
        raise InputValueError(f"{what}{describe(x)}. {fix}")
    if hw is not None and arr.shape[1:] != hw:
        raise InputValueError(
            f"{name} must have the same image size as images, {hw}; got {arr.shape[1:]}. Fix: "
            "resize them first, e.g. dataperf.bench.upscale(x, size)."
        )
    return arr


# ----------------------------------------------------------------------------------- helpers


def upscale(images: Any, size: int) -> np.ndarray:
    """Resize (N, h, w) images to (N, size, size) uint8 with PIL's bilinear filter.

    Float input is rescaled to 0-255 by its maximum (e.g. raw digits with values 0-16);
    uint8 input is used as it is. Works for shrinking too.

    Parameters
    ----------
    images : (N, h, w) uint8 or float array
    size : int
        Target height and width.

    Returns
    -------
    (N, size, size) uint8 array
    """
    from PIL import Image

    arr = np.asarray(images)
    if arr.ndim != 3 or arr.dtype.kind not in "uif":
        error = InputTypeError if arr.dtype.kind not in "uif" else InputValueError
        raise error(f"images must be a real (N, h, w) array; got {describe(images)}.")
    size = check_int(size, "size", low=1)
    if arr.dtype != np.uint8:
        top = float(arr.max()) if arr.size else 0.0
        arr = np.clip(np.round(arr.astype(np.float64) * (255.0 / (top or 1.0))), 0, 255)
        arr = arr.astype(np.uint8)
    out = np.empty((len(arr), int(size), int(size)), dtype=np.uint8)
    for i, img in enumerate(arr):
        pil = Image.fromarray(img).resize((int(size), int(size)), Image.Resampling.BILINEAR)
        out[i] = np.asarray(pil)
    return out


def _blur(img: np.ndarray, radius: float) -> np.ndarray:
    from PIL import Image, ImageFilter

    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return np.asarray(pil.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float64)


def _make_noise(n: int, hw: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Half uniform noise, half blurred Gaussian noise, each with random mean and contrast."""
    out = np.empty((n, *hw), dtype=np.uint8)
    for i in range(n):
        contrast = rng.uniform(0.2, 1.0)
        mean = rng.uniform(40, 215)
        if rng.random() < 0.5:
            img = mean + contrast * 127.5 * rng.uniform(-1, 1, size=hw)
        else:
            raw = 127.5 + 60.0 * rng.standard_normal(hw)
            smooth = _blur(raw, rng.uniform(0.7, max(1.0, hw[0] / 10)))
            std = smooth.std() or 1.0
            img = mean + contrast * 80.0 * (smooth - smooth.mean()) / std
        out[i] = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return out


def _shift_one_pixel(img: np.ndarray, direction: int) -> np.ndarray:
    """Shift by one pixel (0: right, 1: left, 2: down, 3: up), filling with the edge."""
    axis, step = [(1, 1), (1, -1), (0, 1), (0, -1)][direction]
    pad = [(0, 0), (0, 0)]
    pad[axis] = (1, 0) if step == 1 else (0, 1)
    padded = np.pad(img, pad, mode="edge")
    sl = [slice(None), slice(None)]
    sl[axis] = slice(0, -1) if step == 1 else slice(1, None)
    return padded[tuple(sl)]


def _choose(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """``k`` positions in ``range(n)``: without replacement when possible."""
    return rng.choice(n, size=k, replace=k > n).astype(np.int64)


# ----------------------------------------------------------------------------------- builder


def make_planted_pool(
    images: Any,
    labels: Any,
    test_images: Any,
    *,
    test_labels: Any = None,
    ood_images: Any = None,
    n_clean: int = 2000,
    n_blend: int = 250,
    n_noise: int = 250,
    n_ood: int = 250,
    n_copy: int = 250,
    n_mosaic: int = 0,
    n_blur: int = 0,
    n_crop: int = 0,
    seed: int = 0,
) -> PlantedPool:
    """Build a shuffled pool of clean, blend, noise, ood and copy items.

    Parameters
    ----------
    images : (N, H, W) uint8 array
        Real items the model has not seen (the source of clean items and of blends).
    labels : (N,) int array
        Their true labels.
    test_images : (M, H, W) uint8 array
        The existing test set, the source of near-copies.
    test_labels : (M,) int array, optional
        Their labels, given to copy items (else copies get -1).
    ood_images : (L, H, W) uint8 array, optional
        Images from another domain, already at size (H, W) (see :func:`upscale`). Required
        when ``n_ood > 0``.
    n_clean, n_blend, n_noise, n_ood, n_copy, n_mosaic, n_blur, n_crop : int
        How many of each kind (see the module docstring). Clean items are distinct
        (``n_clean <= N``); the two halves of a blend, the quadrants of a mosaic and the
        sources of blurs and crops are drawn from all of ``images`` and may also appear as
        clean items.
    seed : int
        Each kind draws from its own ``np.random.default_rng([seed, kind])``, so changing one
        count does not change the other kinds' items; the final order is shuffled from it too.

    Returns
    -------
    PlantedPool
    """
    imgs = _check_images(images, "images")
    hw = imgs.shape[1:]
    lab = check_labels(labels, len(imgs), None)
    test = _check_images(test_images, "test_images", hw)
    test_lab = None
    if test_labels is not None:
        test_lab = check_labels(test_labels, len(test), None, "test_labels")
    counts = {
        "clean": check_int(n_clean, "n_clean", low=0),
        "blend": check_int(n_blend, "n_blend", low=0),
        "noise": check_int(n_noise, "n_noise", low=0),
        "ood": check_int(n_ood, "n_ood", low=0),
        "copy": check_int(n_copy, "n_copy", low=0),
        "mosaic": check_int(n_mosaic, "n_mosaic", low=0),
        "blur": check_int(n_blur, "n_blur", low=0),
        "crop": check_int(n_crop, "n_crop", low=0),
    }
    if counts["clean"] > len(imgs):
        raise InputValueError(
            f"n_clean must be <= len(images) (clean items are distinct); got n_clean="
            f"{counts['clean']} and {len(imgs)} images. Fix: lower n_clean or pass more images."
        )
    if counts["blend"] and len(np.unique(lab)) < 2:
        raise InputValueError(
            "blends mix two items of different classes, but labels has a single class. Fix: "
            "pass images of at least two classes, or n_blend=0."
        )
    ood = None
    if counts["ood"]:
        if ood_images is None:
            raise InputValueError(
                f"n_ood={counts['ood']} needs ood_images; got None. Fix: pass ood_images (e.g. "
                "dataperf.bench.upscale(digits, 28)) or n_ood=0."
            )
        ood = _check_images(ood_images, "ood_images", hw)
    if sum(counts.values()) == 0:
        raise InputValueError("the pool would be empty: every n_* count is 0. Fix: raise n_clean.")
    seed = check_int(seed, "seed", low=0)

    def rng(kind: str) -> np.random.Generator:
        return np.random.default_rng([int(seed), _KIND_SEED[kind]])

    parts: list[tuple[np.ndarray, np.ndarray, str, np.ndarray]] = []

    r = rng("clean")
    idx = r.choice(len(imgs), size=counts["clean"], replace=False).astype(np.int64)
    parts.append((imgs[idx], lab[idx], "clean", idx))

    r = rng("blend")
    a = _choose(r, len(imgs), counts["blend"])
    b = _choose(r, len(imgs), counts["blend"])
    same = lab[a] == lab[b]
    while same.any():  # redraw partners of the same class (terminates: >= 2 classes)
        b[same] = r.integers(0, len(imgs), size=int(same.sum()))
        same = lab[a] == lab[b]
    alpha = r.uniform(0.35, 0.65, size=counts["blend"])[:, None, None]
    mixed = alpha * imgs[a].astype(np.float64) + (1 - alpha) * imgs[b].astype(np.float64)
    blends = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    parts.append((blends, np.full(len(a), -1, np.int64), "blend", a))

    noise = _make_noise(counts["noise"], hw, rng("noise"))
    parts.append((noise, np.full(len(noise), -1, np.int64), "noise", np.full(len(noise), -1)))

    if ood is not None:
        idx = _choose(rng("ood"), len(ood), counts["ood"])
        parts.append((ood[idx], np.full(len(idx), -1, np.int64), "ood", idx))

    r = rng("copy")
    idx = _choose(r, len(test), counts["copy"])
    directions = r.integers(0, 4, size=len(idx))
    copies = np.empty((len(idx), *hw), dtype=np.uint8)
    for i, (j, d) in enumerate(zip(idx, directions)):
        shifted = _shift_one_pixel(test[j].astype(np.float64), int(d))
        noisy = shifted + r.normal(0.0, 4.0, size=hw)
        copies[i] = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    copy_labels = test_lab[idx] if test_lab is not None else np.full(len(idx), -1, np.int64)
    parts.append((copies, copy_labels, "copy", idx))

    parts += _hard_to_label(imgs, counts, rng)

    all_images = np.concatenate([p[0] for p in parts]).astype(np.uint8)
    all_labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
    all_kind = np.concatenate([np.full(len(p[0]), p[2], dtype="<U6") for p in parts])
    all_source = np.concatenate([p[3] for p in parts]).astype(np.int64)
    order = np.random.default_rng([int(seed), len(KINDS)]).permutation(len(all_images))
    return PlantedPool(
        images=all_images[order],
        labels=all_labels[order],
        kind=all_kind[order],
        source=all_source[order],
    )


def _hard_to_label(
    imgs: np.ndarray, counts: dict[str, int], rng: Any
) -> list[tuple[np.ndarray, np.ndarray, str, np.ndarray]]:
    """The optional ``mosaic``, ``blur`` and ``crop`` kinds (source: the first item used)."""
    from PIL import Image, ImageFilter

    h, w = imgs.shape[1:]
    parts = []
    if counts["mosaic"]:
        r = rng("mosaic")
        idx = np.stack([_choose(r, len(imgs), counts["mosaic"]) for _ in range(4)], axis=1)
        out = imgs[idx[:, 0]].copy()
        out[:, : h // 2, w // 2 :] = imgs[idx[:, 1], : h // 2, w // 2 :]
        out[:, h // 2 :, : w // 2] = imgs[idx[:, 2], h // 2 :, : w // 2]
        out[:, h // 2 :, w // 2 :] = imgs[idx[:, 3], h // 2 :, w // 2 :]
        parts.append((out, np.full(len(out), -1, np.int64), "mosaic", idx[:, 0]))
    if counts["blur"]:
        idx = _choose(rng("blur"), len(imgs), counts["blur"])
        blur = ImageFilter.GaussianBlur(3.5 * h / 28)
        out = np.stack([np.asarray(Image.fromarray(imgs[i]).filter(blur)) for i in idx])
        parts.append((out, np.full(len(out), -1, np.int64), "blur", idx))
    if counts["crop"]:
        r = rng("crop")
        idx = _choose(r, len(imgs), counts["crop"])
        side = max(2, h // 4)
        corners = r.integers(h // 7, h - side - h // 7 + 1, size=(len(idx), 2))
        out = np.stack(
            [
                np.asarray(
                    Image.fromarray(imgs[i, y : y + side, x : x + side]).resize(
                        (w, h), Image.Resampling.BILINEAR
                    )
                )
                for i, (y, x) in zip(idx, corners)
            ]
        )
        parts.append((out, np.full(len(out), -1, np.int64), "crop", idx))
    return parts


# ----------------------------------------------------------------------------------- metrics


def useful_mask(pool: PlantedPool, predictions: Any) -> np.ndarray:
    """Which pool items are useful new test examples: clean and misclassified.

    Parameters
    ----------
    pool : PlantedPool
    predictions : (N,) int array
        The model's predicted class per pool item (e.g. ``signals.probs.argmax(1)``).

    Returns
    -------
    (N,) bool array
        True where the item is ``clean`` (labelable, not a near-copy) and
        ``predictions != pool.labels``.
    """
    if not isinstance(pool, PlantedPool):
        raise InputTypeError(f"pool must be a PlantedPool; got {describe(pool)}.")
    pred = np.asarray(predictions)
    if pred.shape != (len(pool),) or pred.dtype.kind not in "iu":
        raise (InputTypeError if pred.dtype.kind not in "iu" else InputValueError)(
            f"predictions must be an int array of shape ({len(pool)},) (one class per pool "
            f"item); got {describe(predictions)}. Fix: pass probs.argmax(1)."
        )
    return (pool.kind == "clean") & (pred.astype(np.int64) != pool.labels)


def precision_at_k(indices: Any, useful: Any) -> float:
    """Fraction of the selected items that are useful.

    Parameters
    ----------
    indices : (k,) int array
        Selected pool positions, distinct, ``k >= 1``.
    useful : (N,) bool array
        From :func:`useful_mask`.

    Returns
    -------
    float
        ``useful[indices].mean()``.
    """
    mask = np.asarray(useful)
    if mask.ndim != 1 or mask.dtype != bool:
        error = InputTypeError if mask.dtype != bool else InputValueError
        raise error(f"useful must be a (N,) bool array; got {describe(useful)}.")
    idx = np.asarray(indices)
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
        raise (InputTypeError if idx.dtype.kind not in "iu" else InputValueError)(
            f"indices must be a non-empty (k,) int array of pool positions; got "
            f"{describe(indices)}."
        )
    if idx.min() < 0 or idx.max() >= len(mask):
        raise InputValueError(
            f"indices must lie in [0, {len(mask)}); got values from {idx.min()} to {idx.max()}."
        )
    if len(np.unique(idx)) != len(idx):
        raise InputValueError(
            f"indices must be distinct (a pick counted twice inflates precision); got "
            f"{len(idx) - len(np.unique(idx))} repeats."
        )
    return float(mask[idx].mean())
