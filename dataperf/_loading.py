"""Load data from a command-line spec (private; used by ``dataperf.cli``).

Data specs (:func:`load_data`)
------------------------------
``images/``
    An image folder, either in ImageFolder layout (one subfolder per class; labels are the
    sorted subfolder names' positions, or positions in ``classes``) or flat (images only, no
    labels). File paths become the ``ids`` of the Signals that ``probe`` returns.
``images.npy`` or ``images.npy:labels.npy``
    An (N, ...) array (uint8 is scaled to [0, 1]; floats are used as they are), with optional
    (N,) integer labels.
``package.module:function`` or ``path/to/data.py:function``
    The function is called with no arguments and must return a Dataset (or a DataLoader:
    probe aligns with any sampler).

Errors are :class:`dataperf._specs.SpecError` with the fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dataperf._specs import (
    SpecError,
    SpecNotFoundError,
    call_without_arguments,
    callable_attribute,
    split_spec,
)
from dataperf._validate import describe

__all__ = [
    "IMAGE_EXTENSIONS",
    "ArrayDataset",
    "ImageFiles",
    "check_classes",
    "is_image_path",
    "load_data",
    "parse_classes",
    "read_image",
]

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)


# --------------------------------------------------------------------------- helpers
def is_image_path(path: str | Path) -> bool:
    """Whether ``path`` has an image file extension (see ``IMAGE_EXTENSIONS``)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | Path, *, grayscale: bool = False) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 array, or (H, W) with ``grayscale``.

    Raises :class:`SpecNotFoundError` for a missing file and :class:`SpecError` for a file that
    PIL cannot read.
    """
    return np.asarray(_open_image(path, "L" if grayscale else "RGB"))


def _open_image(path: str | Path, mode: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise SpecNotFoundError(f"image file {path} does not exist.")
    try:
        with Image.open(path) as image:
            return _eight_bit(image, path).convert(mode)
    except Image.DecompressionBombError as err:
        raise SpecError(
            f"cannot read image {path}: {err} PIL refuses it as a possible decompression bomb "
            "(it would use too much memory). Fix: remove or shrink the file, or skip unreadable "
            "images (--skip-unreadable); if you trust it, raise PIL.Image.MAX_IMAGE_PIXELS."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise SpecError(
            f"cannot read image {path}: {err}. Fix: replace or remove the file (expected a "
            f"readable image with one of the extensions {sorted(IMAGE_EXTENSIONS)}), or skip "
            "unreadable images (--skip-unreadable)."
        ) from None


def _eight_bit(image: Any, path: Path) -> Any:
    """``image`` with 8 bits per channel. PIL's ``convert`` clips 16-bit grayscale (``I;16``,
    ``I``) at 255 instead of scaling it, so those are scaled from their 0-65535 range here;
    floating-point images have no range to scale from and are refused."""
    from PIL import Image

    if image.mode == "F":
        raise SpecError(
            f"image {path} holds floating-point pixels (PIL mode 'F'), whose range is unknown. "
            "Fix: pass --transform module:function mapping the PIL image to the model input, "
            "or convert the files to 8- or 16-bit images."
        )
    if not image.mode.startswith("I"):
        return image
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
        raise SpecError(
            f"image {path} holds 32-bit integer pixels outside 0-65535 (PIL mode "
            f"{image.mode!r}). Fix: pass --transform module:function for such images."
        )
    return Image.fromarray(np.round(pixels * (255.0 / 65535.0)).astype(np.uint8), "L")


# --------------------------------------------------------------------------- data
class ImageFiles:
    """A Dataset of image files: ``(tensor, label)`` items, or tensors for a flat folder.

    ``samples`` lists ``(path, label)`` like torchvision's ImageFolder (label -1 in a flat
    folder), so that ``probe`` records the file paths as ids.
    """

    def __init__(
        self,
        samples: list[tuple[str, int]],
        classes: list[str] | None,
        transform: Callable[[Any], Any],
        *,
        grayscale: bool = False,
        labelled: bool | None = None,
    ) -> None:
        self.samples = samples
        self.classes = classes
        self.labelled = classes is not None if labelled is None else labelled
        self.skipped: list[dict[str, str]] = []  # unreadable files left out (skip_unreadable)
        self.class_to_idx = {c: i for i, c in enumerate(classes or [])}
        self.transform = transform
        self.grayscale = grayscale

    @property
    def paths(self) -> list[str]:
        """The image file paths, in item order."""
        return [path for path, _ in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Any:
        path, label = self.samples[index]
        image = self.transform(_open_image(path, "L" if self.grayscale else "RGB"))
        return (image, label) if self.labelled else image


class ArrayDataset:
    """A Dataset over an array of inputs (and optional labels); ``array`` keeps the raw data."""

    def __init__(self, inputs: Any, labels: np.ndarray | None, array: np.ndarray) -> None:
        self.inputs = inputs
        self.labels = labels
        self.array = array
        self.classes: list[str] | None = None

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> Any:
        if self.labels is None:
            return self.inputs[index]
        return self.inputs[index], int(self.labels[index])


def load_data(
    spec: str,
    *,
    image_size: int | None = None,
    grayscale: bool = False,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    transform: str | None = None,
    classes: Sequence[str] | None = None,
    skip_unreadable: bool = False,
) -> Any:
    """Build the Dataset named by a command-line ``spec`` (see the module docstring).

    Parameters
    ----------
    spec : str
        An image folder, ``images.npy`` or ``images.npy:labels.npy``, or ``module:function``.
    image_size : int, optional
        Resize images to ``image_size x image_size`` (folders and image arrays).
    grayscale : bool
        Convert images to one channel.
    mean, std : sequences of float, optional
        Normalise each channel: ``(x - mean) / std`` after scaling to [0, 1]. One value, or one
        per channel. Not with ``transform`` (put the normalisation into the transform).
    transform : str, optional
        ``module:function`` returning a callable applied to each PIL image (after the optional
        grayscale conversion and resize) in place of the default scaling to a [0, 1] tensor.
    classes : sequence of str, optional
        The model's class names, in the order of its outputs. For an ImageFolder layout the
        label of each subfolder is the position of its name in ``classes`` (not its place in
        sorted order); a folder name matches exactly, or ignoring case and punctuation
        (``T-shirt_top`` is ``T-shirt/top``). Elsewhere they only name the classes.
    skip_unreadable : bool
        For image folders: decode every image once before anything runs and leave out those
        that cannot be read (listed in the dataset's ``skipped``), instead of stopping at the
        first one.

    Returns
    -------
    Dataset
        :class:`ImageFiles` for a folder, :class:`ArrayDataset` for ``.npy``, or what the
        function returns.
    """
    if not isinstance(spec, str) or not spec:
        raise SpecError(f"--data must be a non-empty string; got {describe(spec)}.")
    if (mean is None) != (std is None):
        raise SpecError("--mean and --std go together; got only one of them. Fix: pass both.")
    if transform is not None and mean is not None:
        raise SpecError(
            "--mean/--std and --transform cannot be combined: the transform replaces the default "
            "conversion. Fix: normalise inside your transform, or drop --transform."
        )
    if image_size is not None and image_size < 1:
        raise SpecError(f"--image-size must be >= 1; got {image_size}.")
    if classes is not None:
        classes = check_classes(classes)
    path = Path(spec)
    if path.is_dir():
        folder = _image_folder(path, image_size, grayscale, mean, std, transform, classes)
        return _skip_unreadable(folder) if skip_unreadable else folder
    if skip_unreadable:
        raise SpecError(
            f"--skip-unreadable applies to image folders; --data {spec!r} is not one. Fix: drop "
            "--skip-unreadable (a Dataset of your own can leave out what it cannot read)."
        )
    npy = _npy_parts(spec)
    if npy is not None:
        if transform is not None:
            raise SpecError("--transform applies to image folders only, not to .npy data.")
        data = _array_data(*npy, image_size, grayscale, mean, std)
        if classes is not None and data.labels is not None and data.labels.max() >= len(classes):
            raise SpecError(
                f"--data {spec!r} has label {int(data.labels.max())}, but only {len(classes)} "
                "class names were given. Fix: give one name per class (--classes)."
            )
        data.classes = classes
        return data
    parts = split_spec(spec)
    if parts is not None and not path.exists():
        return _dataset_from_function(spec)
    if not path.exists():
        raise SpecNotFoundError(
            f"--data {spec!r}: no such file or folder. Expected an image folder, a .npy file "
            "(optionally images.npy:labels.npy) or module:function returning a Dataset."
        )
    raise SpecError(
        f"--data {spec!r}: unsupported file type {path.suffix or '(no extension)'!r}. Expected "
        "an image folder, a .npy array (images.npy or images.npy:labels.npy) or "
        "module:function returning a Dataset."
    )


def _image_transform(
    image_size: int | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    transform: str | None,
) -> Callable[[Any], Any]:
    user = _load_transform(transform) if transform is not None else None
    return _ImageTransform(image_size, mean, std, user)


class _ImageTransform:
    """PIL image -> resized -> user transform, or a normalised (C, H, W) float tensor."""

    def __init__(self, image_size: int | None, mean: Any, std: Any, user: Any) -> None:
        self.image_size = image_size
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.std = None if std is None else np.asarray(std, dtype=np.float32)
        self.user = user

    def __call__(self, image: Any) -> Any:
        from PIL import Image

        if self.image_size is not None:
            size = (self.image_size, self.image_size)
            image = image.resize(size, Image.Resampling.BILINEAR)
        if self.user is not None:
            return self.user(image)
        array = np.asarray(image, dtype=np.float32) / 255.0
        array = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
        if self.mean is not None:
            array = _normalise(array, self.mean, self.std)
        return torch.from_numpy(np.ascontiguousarray(array))


def _normalise(array: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(array - mean) / std`` per channel of a (C, ...) array."""
    channels = array.shape[0]
    if mean.size not in (1, channels) or std.size not in (1, channels):
        want = "1 value" if channels == 1 else f"1 or {channels} values (one per channel)"
        raise SpecError(
            f"--mean/--std need {want} for images with {channels} channel(s); got {mean.size} "
            f"and {std.size}. Fix: give one value each"
            + ("" if channels == 1 else f", or {channels}")
            + (" (--grayscale makes one channel)." if channels == 1 else ".")
        )
    if np.any(std == 0):
        raise SpecError(f"--std values must be non-zero; got {std.tolist()}.")
    shape = (-1,) + (1,) * (array.ndim - 1)
    return ((array - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32)


def _load_transform(spec: str) -> Callable[[Any], Any]:
    if split_spec(spec) is None:
        raise SpecError(
            f"--transform {spec!r}: expected module:function (or path/to/file.py:function) "
            "whose function returns a callable that maps a PIL image to the model input."
        )
    factory, name = callable_attribute(spec, "--transform")
    made = call_without_arguments(
        factory,
        name,
        spec,
        "--transform",
        "name a function that takes no arguments and returns the transform.",
    )
    if not callable(made):
        raise SpecError(
            f"--transform {spec!r}: {name}() returned {describe(made)}; expected a callable "
            "(PIL image -> model input)."
        )
    return made


def _list_images(folder: Path) -> tuple[list[Path], list[Path]]:
    """(image files, other visible files) directly in ``folder``, sorted."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [p for p in files if is_image_path(p)], [p for p in files if not is_image_path(p)]


def parse_classes(value: str) -> list[str]:
    """Class names from ``--classes``: a file (one name per line, or a JSON list) or a comma
    list."""
    import json

    path = Path(value)
    if path.is_file():
        from dataperf._files import os_errors

        with os_errors(f"--classes {value}"):
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as err:
                raise SpecError(
                    f"--classes {value}: the file is not UTF-8 text ({err}). Fix: save it as "
                    "UTF-8, one class name per line (or a JSON list)."
                ) from None
        if path.suffix.lower() == ".json":
            try:
                names = json.loads(text)
            except json.JSONDecodeError as err:
                raise SpecError(f"--classes {value}: not valid JSON ({err}).") from None
            if not isinstance(names, list):
                raise SpecError(
                    f"--classes {value}: expected a JSON list of class names; got "
                    f"{type(names).__name__}."
                )
        else:
            names = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        names = [name.strip() for name in value.split(",")]
    return check_classes(names, what=f"--classes {value}")


def check_classes(names: Sequence[Any], what: str = "classes") -> list[str]:
    """``names`` as a list of at least two distinct, non-empty strings."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise SpecError(f"{what}: expected a list of class names; got {describe(names)}.")
    names = [str(n) for n in names]
    if len(names) < 2 or any(not n for n in names):
        raise SpecError(
            f"{what}: expected at least two non-empty class names, in the model's output order "
            "(a comma list such as cat,dog,fox, or a file with one name per line); got "
            f"{names[:6]}."
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SpecError(f"{what}: class names must be distinct; repeated: {repeated[:6]}.")
    return names


def _loose(name: str) -> str:
    import re

    return re.sub(r"[^0-9a-z]", "", name.casefold())


def _class_labels(folder: Path, names: list[str], classes: list[str]) -> dict[str, int]:
    """The label of each class subfolder: the position of its name in ``classes``."""
    loose: dict[str, list[int]] = {}
    for i, name in enumerate(classes):
        loose.setdefault(_loose(name), []).append(i)
    found, unknown = {}, []
    for name in names:
        if name in classes:
            found[name] = classes.index(name)
        elif len(loose.get(_loose(name), [])) == 1:
            found[name] = loose[_loose(name)][0]
        else:
            unknown.append(name)
    if unknown:
        raise SpecError(
            f"--data {str(folder)!r}: class folders {unknown[:6]} match none of the --classes "
            f"names {classes[:12]} (matched exactly, or ignoring case and punctuation). Fix: "
            "name every class folder after one of the model's classes, or correct --classes."
        )
    clash = sorted({f for f in names if list(found.values()).count(found[f]) > 1})
    if clash:
        raise SpecError(
            f"--data {str(folder)!r}: folders {clash} match the same --classes name. Fix: "
            "rename them, or give --classes names that tell them apart."
        )
    return found


def _skip_unreadable(data: ImageFiles) -> ImageFiles:
    """``data`` without the images that cannot be decoded; they are listed in ``skipped``."""
    from concurrent.futures import ThreadPoolExecutor

    mode = "L" if data.grayscale else "RGB"

    def problem(path: str) -> str | None:
        try:
            _open_image(path, mode)
        except (SpecError, SpecNotFoundError) as err:
            return str(err)
        return None

    paths = [path for path, _ in data.samples]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        errors = list(pool.map(problem, paths, chunksize=64))
    kept = [s for s, e in zip(data.samples, errors, strict=True) if e is None]
    skipped = [{"path": p, "error": e} for p, e in zip(paths, errors, strict=True) if e]
    if not kept:
        raise SpecError(
            f"none of the {len(paths)} images could be read (first: {skipped[0]['error']})."
        )
    data.samples, data.skipped = kept, skipped
    return data


def _image_folder(
    folder: Path,
    image_size: int | None,
    grayscale: bool,
    mean: Any,
    std: Any,
    transform: str | None,
    given: list[str] | None = None,
) -> ImageFiles:
    top, others = _list_images(folder)
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = {d.name: _images_below(d) for d in subdirs}
    classes = {name: files for name, files in classes.items() if files}
    if top and classes:
        raise SpecError(
            f"--data {str(folder)!r} mixes images at its top level ({len(top)}) with class "
            f"subfolders {sorted(classes)[:6]}. Fix: use either the ImageFolder layout (every "
            "image in a class subfolder) or a flat folder of images."
        )
    if top:
        samples = [(str(p), -1) for p in top]
        names = None
    elif classes:
        names = sorted(classes)
        label = {name: i for i, name in enumerate(names)}
        if given is not None:
            label = _class_labels(folder, names, given)
        samples = [(str(p), label[name]) for name in names for p in classes[name]]
    else:
        found = sorted({p.suffix or p.name for p in others})
        raise SpecError(
            f"--data {str(folder)!r} holds no images (looked for {sorted(IMAGE_EXTENSIONS)} at "
            f"its top level and in class subfolders; found other files: {found[:8] or 'none'}). "
            "Fix: point --data at a folder of images or of class subfolders of images."
        )
    return ImageFiles(
        samples,
        names if given is None else given,
        _image_transform(image_size, mean, std, transform),
        grayscale=grayscale,
        labelled=names is not None,
    )


def _images_below(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and is_image_path(p) and not any(s.startswith(".") for s in p.parts)
    )


def _npy_parts(spec: str) -> tuple[Path, Path | None] | None:
    if spec.lower().endswith(".npy") and ":" in spec:
        left, right = spec.rsplit(":", 1)
        if left.lower().endswith(".npy") and not (len(left) == 1 and left.isalpha()):
            return Path(left), Path(right)
    if spec.lower().endswith(".npy"):
        return Path(spec), None
    return None


def _read_npy(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise SpecNotFoundError(f"--data: the {what} file {path} does not exist.")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise SpecError(
            f"--data: cannot read {path} as a .npy array of numbers ({err}). Fix: save a numeric "
            "array with np.save (object arrays are refused: they need unpickling)."
        ) from None


def _array_data(
    images_path: Path,
    labels_path: Path | None,
    image_size: int | None,
    grayscale: bool,
    mean: Any,
    std: Any,
) -> ArrayDataset:
    array = _read_npy(images_path, "images")
    if array.ndim < 2 or array.dtype.kind not in "uif" or len(array) == 0:
        raise SpecError(
            f"--data {str(images_path)!r}: expected a non-empty (N, ...) numeric array; got "
            f"shape {array.shape} and dtype {array.dtype}."
        )
    labels = None
    if labels_path is not None:
        labels = _read_npy(labels_path, "labels")
        if labels.shape != (len(array),) or labels.dtype.kind not in "iu":
            raise SpecError(
                f"--data: labels {str(labels_path)!r} must be an ({len(array)},) integer array "
                f"(one per item of {images_path.name}); got shape {labels.shape}, dtype "
                f"{labels.dtype}."
            )
    inputs = array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array
    inputs = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
    if inputs.ndim == 3:  # (N, H, W) -> (N, 1, H, W)
        inputs = inputs[:, None]
    if inputs.ndim == 4 and inputs.shape[-1] in (1, 3, 4) and inputs.shape[1] not in (1, 3, 4):
        inputs = inputs.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    if (image_size is not None or grayscale) and inputs.ndim != 4:
        raise SpecError(
            f"--image-size/--grayscale need image arrays (N, H, W) or (N, H, W, C) / (N, C, H, W);"
            f" {images_path.name} has shape {array.shape}."
        )
    if grayscale and inputs.shape[1] >= 3:
        weights = torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)
        inputs = (inputs[:, :3] * weights).sum(dim=1, keepdim=True)
    if image_size is not None:
        inputs = torch.nn.functional.interpolate(
            inputs, size=(image_size, image_size), mode="bilinear", align_corners=False
        )
    if mean is not None:
        normed = _normalise(
            np.moveaxis(inputs.numpy(), 1, 0),
            np.asarray(mean, dtype=np.float32),
            np.asarray(std, dtype=np.float32),
        )
        inputs = torch.from_numpy(np.ascontiguousarray(np.moveaxis(normed, 0, 1)))
    return ArrayDataset(inputs.contiguous(), labels, array)


def _dataset_from_function(spec: str) -> Any:
    factory, name = callable_attribute(spec, "--data")
    data = call_without_arguments(
        factory,
        name,
        spec,
        "--data",
        "name a function that takes no arguments and returns the Dataset.",
    )
    if not (hasattr(data, "__getitem__") and hasattr(data, "__len__")) and not hasattr(
        data, "dataset"
    ):
        raise SpecError(
            f"--data {spec!r}: {name}() returned {describe(data)}; expected a Dataset (with "
            "__getitem__ and __len__) or a DataLoader."
        )
    return data
